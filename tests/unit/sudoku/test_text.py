"""Puzzle text I/O, validation and difficulty names."""

import numpy as np
import pytest
from test_reference import WIKIPEDIA_PUZZLE, WIKIPEDIA_SOLUTION, digits

from src.hrm.sudoku import (
    Difficulty,
    board_to_string,
    format_puzzle,
    parse_puzzle,
    validate_solution,
)

BOARD = """\
+-------+-------+-------+
| 5 3 . | . 7 . | . . . |
| 6 . . | 1 9 5 | . . . |
| . 9 8 | . . . | . 6 . |
+-------+-------+-------+
| 8 . . | . 6 . | . . 3 |
| 4 . . | 8 . 3 | . . 1 |
| 7 . . | . 2 . | . . 6 |
+-------+-------+-------+
| . 6 . | . . . | 2 8 . |
| . . . | 4 1 9 | . . 5 |
| . . . | . 8 . | . 7 9 |
+-------+-------+-------+"""


def test_board_picture_is_the_originals():
    assert board_to_string(digits(WIKIPEDIA_PUZZLE)) == BOARD


def test_parse_accepts_the_common_layouts():
    expected = digits(WIKIPEDIA_PUZZLE).reshape(9, 9)
    dotted = WIKIPEDIA_PUZZLE.replace("0", ".")
    rows = "\n".join(dotted[9 * r:9 * r + 9] for r in range(9))
    spaced = "\n".join(" ".join(WIKIPEDIA_PUZZLE[9 * r:9 * r + 9]) for r in range(9)) + "\n"
    for text in (WIKIPEDIA_PUZZLE, dotted, rows, spaced, BOARD, "  " + BOARD + "\n\n"):
        grid = parse_puzzle(text)
        assert grid.dtype == np.int8 and grid.shape == (9, 9)
        np.testing.assert_array_equal(grid, expected)
    assert format_puzzle(parse_puzzle(BOARD)) == WIKIPEDIA_PUZZLE
    assert format_puzzle(digits(WIKIPEDIA_SOLUTION).reshape(9, 9)) == WIKIPEDIA_SOLUTION


@pytest.mark.parametrize(
    "text, message",
    [
        (WIKIPEDIA_PUZZLE[:80], "a puzzle needs 81 cells, found 80"),
        (WIKIPEDIA_PUZZLE + "1", "a puzzle needs 81 cells, found 82"),
        ("", "found 0"),
        (WIKIPEDIA_PUZZLE[:11] + "x" + WIKIPEDIA_PUZZLE[12:], "invalid character 'x' at position 12:"),
        (BOARD.replace("| 4 . .", "| 4 a ."), r"invalid character 'a' at position \d+ \(line 7, column 5\)"),
        ("5" + WIKIPEDIA_PUZZLE[1:4] + "5" + WIKIPEDIA_PUZZLE[5:], "digit 5 appears twice in row 1"),
        (WIKIPEDIA_PUZZLE[:18] + "7" + WIKIPEDIA_PUZZLE[19:], "digit 7 appears twice in column 1"),
        (WIKIPEDIA_PUZZLE[:11] + "3" + WIKIPEDIA_PUZZLE[12:], "digit 3 appears twice in box 1"),
    ],
)
def test_malformed_text_says_what_and_where(text, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_puzzle(text)
    assert "\n" not in str(error.value)


def test_validate_solution():
    puzzle, solution = digits(WIKIPEDIA_PUZZLE), digits(WIKIPEDIA_SOLUTION)
    assert validate_solution(puzzle, solution)
    assert validate_solution(puzzle.reshape(9, 9), solution.reshape(9, 9))
    assert not validate_solution(puzzle, puzzle)  # incomplete
    swapped = solution.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # still digits 1..9, but rows and boxes break and a given changes
    assert not validate_solution(np.zeros(81), swapped)
    relabelled = (solution % 9) + 1  # a valid grid that disagrees with the givens
    assert validate_solution(np.zeros(81), relabelled)
    assert not validate_solution(puzzle, relabelled)
    assert not validate_solution(puzzle, solution[:80])


def test_difficulty_names_and_ranges():
    assert [int(d) for d in Difficulty] == [0, 1, 2, 3, 4]
    assert Difficulty.EXTREME.clue_range == (17, 27)
    assert [d.clue_range for d in Difficulty] == [(46, 50), (40, 45), (32, 39), (28, 31), (17, 27)]
    assert [d.cli_name for d in Difficulty] == ["very-easy", "easy", "medium", "hard", "extreme"]
    for d in Difficulty:
        assert Difficulty.from_name(d.cli_name) is d
    with pytest.raises(ValueError, match="very-easy, easy, medium, hard, extreme"):
        Difficulty.from_name("impossible")
