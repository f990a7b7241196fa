import numpy as np
import pytest

from src.hrm.sudoku.files import PuzzleFileError, parse_puzzle_lines, read_puzzle_file, write_puzzle_csv

# A classic puzzle and its unique solution.
PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
OTHER = "..9748...7.........2.1.9.....7...24..64.1.59..98...3.....8.3.2.........6...2759.."


def cells(text: str) -> list[int]:
    return [0 if char in ".0" else int(char) for char in text]


def test_plain_lines_with_comments_and_blanks(tmp_path):
    path = tmp_path / "puzzles.txt"
    path.write_text(f"# two puzzles\n\n{PUZZLE}\n   \n{OTHER.replace('.', '0')}\n")
    result = read_puzzle_file(path)
    assert result.puzzles.dtype == np.int8
    assert result.puzzles.tolist() == [cells(PUZZLE), cells(OTHER)]
    assert result.line_numbers.tolist() == [3, 5]
    assert result.has_solution.tolist() == [False, False]
    assert not result.solutions.any()


def test_plain_lines_with_and_without_solutions():
    result = parse_puzzle_lines([f"{PUZZLE},{SOLUTION}\n", f"{OTHER}\n"])
    assert result.has_solution.tolist() == [True, False]
    assert result.solutions[0].tolist() == cells(SOLUTION)
    assert result.solutions[1].tolist() == [0] * 81


def test_csv_layout_is_detected_by_its_header(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text(f"source,question,answer,rating\nabc,{PUZZLE},{SOLUTION},12\ndef,{PUZZLE},{SOLUTION},3\n")
    result = read_puzzle_file(path)
    assert len(result) == 2
    assert result.puzzles[1].tolist() == cells(PUZZLE)
    assert result.solutions[0].tolist() == cells(SOLUTION)
    assert result.has_solution.all()
    assert result.line_numbers.tolist() == [2, 3]


def test_csv_columns_in_any_order():
    result = parse_puzzle_lines(["answer,question\n", f"{SOLUTION},{PUZZLE}\n"])
    assert result.puzzles[0].tolist() == cells(PUZZLE) and result.solutions[0].tolist() == cells(SOLUTION)


def test_limit_takes_the_first_n():
    result = parse_puzzle_lines([PUZZLE, OTHER, PUZZLE], limit=2)
    assert result.puzzles.tolist() == [cells(PUZZLE), cells(OTHER)]


def test_empty_input_gives_an_empty_set():
    result = parse_puzzle_lines(["# nothing\n", "\n"])
    assert len(result) == 0 and result.puzzles.shape == (0, 81)


def _wrong_digit(text: str, index: int) -> str:
    return text[:index] + str(int(text[index]) % 9 + 1) + text[index + 1 :]


@pytest.mark.parametrize(
    "lines,message",
    [
        ([PUZZLE, "# ok", PUZZLE[:-1]], "<input>:3: the puzzle has 80 characters, expected 81"),
        ([PUZZLE[:10] + "x" + PUZZLE[11:]], "<input>:1: the puzzle contains 'x' at cell 11"),
        ([f"{PUZZLE},{SOLUTION},{SOLUTION}"], "<input>:1: expected '<81 cells>'"),
        ([f"{PUZZLE},{SOLUTION[:-1]}."], "the solution contains '.' at cell 81"),
        ([f"{PUZZLE},{_wrong_digit(SOLUTION, 0)}"], "disagrees with the puzzle's given 5 at row 1, column 1"),
        # Cell 2 is blank in the puzzle, so changing it keeps the givens but breaks row 1.
        ([f"{PUZZLE},{_wrong_digit(SOLUTION, 2)}"], "not a valid Sudoku (row 1 repeats a digit)"),
        (["source,question,answer", f"a,{PUZZLE}"], "<input>:2: expected 3 CSV fields"),
    ],
)
def test_malformed_lines_name_the_line(lines, message):
    with pytest.raises(PuzzleFileError) as error:
        parse_puzzle_lines(lines)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(PuzzleFileError, match="puzzle file not found"):
        read_puzzle_file(tmp_path / "nope.txt")
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(PuzzleFileError, match="not a text file"):
        read_puzzle_file(binary)


def test_rated_csv_round_trip(tmp_path):
    """write_puzzle_csv writes the Sudoku-Extreme layout; reading it back gives the rows, ratings and sources."""
    path = tmp_path / "rated.csv"
    puzzles = np.array([cells(PUZZLE), cells(OTHER)])
    solutions = np.array([cells(SOLUTION), [0] * 81])
    write_puzzle_csv(path, puzzles[:1], solutions[:1], [17], "generated-extreme")
    assert path.read_text().splitlines() == ["source,question,answer,rating", f"generated-extreme,{PUZZLE},{SOLUTION},17"]
    result = read_puzzle_file(path)
    assert result.ratings.tolist() == [17] and result.sources.tolist() == ["generated-extreme"]
    assert [p.name for p in tmp_path.iterdir()] == ["rated.csv"]  # no temporary file left behind


def test_a_bad_rating_names_the_line():
    with pytest.raises(PuzzleFileError, match=r"<input>:3: the rating '1.5' is not a non-negative whole number"):
        parse_puzzle_lines(["source,question,answer,rating", f"a,{PUZZLE},{SOLUTION},2", f"a,{PUZZLE},{SOLUTION},1.5"])


def test_the_first_bad_row_in_file_order_is_reported():
    """Rows are checked all at once; the error still names the earliest bad line."""
    lines = [f"{PUZZLE},{SOLUTION}"] * 5 + [f"{PUZZLE},{_wrong_digit(SOLUTION, 2)}", PUZZLE[:-1], PUZZLE[:3] + "é" + PUZZLE[4:]]
    with pytest.raises(PuzzleFileError, match=r"<input>:6: the solution is not a valid Sudoku"):
        parse_puzzle_lines(lines)
    with pytest.raises(PuzzleFileError, match=r"<input>:1: the puzzle contains 'é' at cell 4"):
        parse_puzzle_lines(lines[-1:] + lines[:5])
