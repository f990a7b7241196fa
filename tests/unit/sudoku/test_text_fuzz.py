"""Fuzzing `parse_puzzle`: any text gives the grid an independent reading finds, or a one-line ValueError."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from src.hrm.sudoku import parse_puzzle

PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
NOISE = st.sampled_from(list("0123456789.|-+ \t\n\r,;:#xX\x00\x85\u00a0\u2028\u200b\u0663\uff15\u00b2") + ["\ud800"])


def independent_reading(text: str):
    """The grid the documented rules give (digits, '0'/'.' empty, whitespace and | - + ignored), or None."""
    cells = []
    for char in text:
        if char in "0.":
            cells.append(0)
        elif char in "123456789":
            cells.append(ord(char) - ord("0"))
        elif not (char.isspace() or char in "|-+"):
            return None
    if len(cells) != 81:
        return None
    grid = np.array(cells).reshape(9, 9)
    boxes = grid.reshape(3, 3, 3, 3).transpose(0, 2, 1, 3).reshape(9, 9)
    for unit in [*grid, *grid.T, *boxes]:
        givens = unit[unit > 0]
        if len(set(givens.tolist())) != len(givens):
            return None
    return grid


def check(text: str) -> None:
    expected = independent_reading(text)
    try:
        grid = parse_puzzle(text)
    except ValueError as err:
        assert type(err) is ValueError and str(err) and "\n" not in str(err), repr(err)
        assert expected is None, f"refused a valid puzzle: {err}"
        return
    assert expected is not None, "accepted text the rules refuse"
    assert grid.dtype == np.int8 and grid.shape == (9, 9) and np.array_equal(grid, expected)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text(text):
    check(text)


@settings(max_examples=400, deadline=None)
@given(
    layout=st.sampled_from(["flat", "rows", "spaced"]),
    edits=st.lists(st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 200), NOISE), max_size=4),
    relabel=st.permutations("123456789"),
)
def test_near_valid_puzzles(layout, edits, relabel):
    """A valid puzzle (digits relabelled, in a few layouts) with a few characters inserted, deleted or replaced."""
    text = PUZZLE.translate(str.maketrans("123456789", "".join(relabel)))
    if layout == "rows":
        text = "\n".join(text[9 * r : 9 * r + 9] for r in range(9))
    elif layout == "spaced":
        text = "\n".join("| " + " ".join(text[9 * r : 9 * r + 9]) + " |" for r in range(9))
    for kind, position, char in edits:
        position %= len(text) + 1
        if kind == "insert":
            text = text[:position] + char + text[position:]
        elif kind == "delete":
            text = text[:position] + text[position + 1 :]
        else:
            text = text[:position] + char + text[position + 1 :]
    check(text)
