"""Fuzzing the puzzle-file loaders: any text (plain lines or a CSV) gives the rows an independent reading finds,
or one PuzzleFileError line naming the file and the line; never another exception, never a wrong row."""

import csv
import io

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from src.hrm.sudoku.files import PuzzleFileError, parse_puzzle_lines, read_puzzle_file

PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
NOISE = st.sampled_from(list('0123456789.,"# \t\r\x00\x85\u2028\u00e9\u0663\u00b2') + ["\ud800", "\n"])
SOURCE = "fuzz.csv"


def solution_ok(puzzle: str, solution: str) -> bool:
    grid = np.array([int(c) for c in solution]).reshape(9, 9)
    boxes = grid.reshape(3, 3, 3, 3).transpose(0, 2, 1, 3).reshape(9, 9)
    units_ok = all(sorted(unit.tolist()) == list(range(1, 10)) for unit in [*grid, *grid.T, *boxes])
    return units_ok and all(p in ".0" or p == s for p, s in zip(puzzle, solution))


def cells_ok(text: str, allowed: str) -> bool:
    return len(text) == 81 and all(char in allowed for char in text)


def independent_reading(text: str):
    """(puzzle, solution or "", rating or None, line number) per row as the format describes it, or None if a row
    is bad. Lines are what a text file gives (universal newlines)."""
    try:
        return _rows(text)
    except csv.Error:  # a field beyond the csv module's size limit: not a line of this format
        return None


def _rows(text: str):
    rows, header = [], None
    for number, raw in enumerate(io.StringIO(text, newline=None), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if header is None:
            fields = [f.strip().lower() for f in next(csv.reader([line]))]
            header = fields if "question" in fields and "answer" in fields else []
            if header:
                continue
        if header:
            fields = next(csv.reader([line]))
            if len(fields) != len(header):
                return None
            pick = lambda name: fields[header.index(name)].strip() if name in header else None  # noqa: E731
            puzzle, solution, rating = pick("question"), pick("answer"), pick("rating")
            if rating is not None and not (rating.isascii() and rating.isdigit()):
                return None
            rating = None if rating is None else int(rating)
        else:
            fields = line.split(",")
            if len(fields) > 2:
                return None
            puzzle, solution, rating = fields[0].strip(), (fields[1].strip() if len(fields) == 2 else ""), None
        if not cells_ok(puzzle, "0123456789."):
            return None
        if solution and not (cells_ok(solution, "123456789") and solution_ok(puzzle, solution)):
            return None
        rows.append((puzzle, solution, rating, number))
    return rows


def check(text: str, result_or_error) -> None:
    expected = independent_reading(text)
    if isinstance(result_or_error, Exception):
        err = result_or_error
        assert type(err) is PuzzleFileError, repr(err)
        assert str(err).startswith(SOURCE) and "\n" not in str(err), repr(err)
        assert expected is None, f"refused a good file: {err}"
        return
    result = result_or_error
    assert expected is not None, "accepted a bad row"
    assert len(result) == len(expected)
    digits = lambda s: [0 if c in ".0" else int(c) for c in s]  # noqa: E731
    for i, (puzzle, solution, rating, number) in enumerate(expected):
        assert result.puzzles[i].tolist() == digits(puzzle) and result.line_numbers[i] == number
        assert bool(result.has_solution[i]) == bool(solution)
        assert result.solutions[i].tolist() == (digits(solution) if solution else [0] * 81)
        if result.ratings is not None:
            assert result.ratings[i] == rating


def parsed(text: str):
    try:
        return parse_puzzle_lines(io.StringIO(text, newline=None), source=SOURCE)
    except Exception as err:  # noqa: BLE001 - the property is about which exceptions come out
        return err


def mutate(text: str, edits) -> str:
    for kind, position, char in edits:
        position %= len(text) + 1
        if kind == "insert":
            text = text[:position] + char + text[position:]
        elif kind == "delete":
            text = text[:position] + text[position + 1 :]
        else:
            text = text[:position] + char + text[position + 1 :]
    return text


EDITS = st.lists(st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 2000), NOISE), max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("x" * 200_000)  # a field beyond the csv module's limit, in the line that may be a header
@example(f"question,answer\n{PUZZLE},{'1' * 200_000}\n")
def test_any_text(text):
    check(text, parsed(text))


@settings(max_examples=300, deadline=None)
@given(
    relabels=st.lists(st.permutations("123456789"), min_size=1, max_size=4),
    solved=st.lists(st.booleans(), min_size=4, max_size=4),
    dots=st.booleans(),
    edits=EDITS,
)
def test_near_valid_plain_files(relabels, solved, dots, edits):
    lines = ["# puzzles", ""]
    for relabel, with_solution in zip(relabels, solved):
        table = str.maketrans("123456789", "".join(relabel))
        puzzle = PUZZLE.translate(table).replace(".", "." if dots else "0")
        lines.append(f"{puzzle},{SOLUTION.translate(table)}" if with_solution else puzzle)
    text = mutate("\n".join(lines) + "\n", edits)
    check(text, parsed(text))


@settings(max_examples=300, deadline=None)
@given(
    columns=st.permutations(["source", "question", "answer", "rating"]),
    relabels=st.lists(st.permutations("123456789"), min_size=1, max_size=4),
    ratings=st.lists(st.integers(0, 10**6) | st.text(max_size=4), min_size=4, max_size=4),
    edits=EDITS,
)
def test_near_valid_csv_files(columns, relabels, ratings, edits):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for relabel, rating in zip(relabels, ratings):
        table = str.maketrans("123456789", "".join(relabel))
        values = {"source": "fuzz", "question": PUZZLE.translate(table), "answer": SOLUTION.translate(table),
                  "rating": rating}  # fmt: skip
        writer.writerow([values[c] for c in columns])
    text = mutate(buffer.getvalue(), edits)
    check(text, parsed(text))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.builds(lambda t: (PUZZLE + "," + SOLUTION + "\n" + t).encode(), st.text()))
def test_any_bytes_in_a_file(tmp_path, data):
    path = tmp_path / SOURCE
    path.write_bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    try:
        result = read_puzzle_file(path)
    except Exception as err:  # noqa: BLE001
        assert type(err) is PuzzleFileError and "\n" not in str(err), repr(err)
        if text is None:
            assert "not valid UTF-8" in str(err)
            return
        result = PuzzleFileError(str(err).replace(str(path), SOURCE, 1))
    assert text is not None, "read a file that is not UTF-8"
    check(text, result)
