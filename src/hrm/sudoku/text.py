"""Puzzle text: parsing the usual 81-character and grid layouts, and printing boards."""

import numpy as np

from .solver import as_cells

_EMPTY = "0."
_SEPARATORS = "|-+"
_UNIT_KINDS = ("row", "column", "box")


def _unit_cells(kind: str, index: int) -> list[int]:
    if kind == "row":
        return [index * 9 + c for c in range(9)]
    if kind == "column":
        return [r * 9 + index for r in range(9)]
    top, left = 3 * (index // 3), 3 * (index % 3)
    return [(top + i) * 9 + left + j for i in range(3) for j in range(3)]


def find_conflict(grid) -> str | None:
    """Describe the first digit repeated in a row, column or box (units numbered from 1), or None."""
    cells = as_cells(grid)
    for kind in _UNIT_KINDS:
        for index in range(9):
            values = [int(cells[i]) for i in _unit_cells(kind, index) if cells[i]]
            for digit in sorted(set(values)):
                times = values.count(digit)
                if times > 1:
                    how_often = "twice" if times == 2 else f"{times} times"
                    return f"digit {digit} appears {how_often} in {kind} {index + 1}"
    return None


def _where(text: str, position: int) -> str:
    where = f"position {position + 1}"
    if "\n" in text:
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        where += f" (line {line}, column {column})"
    return where


def parse_puzzle(text: str) -> np.ndarray:
    """An int8 [9, 9] grid from 81 cells: digits, with 0 or '.' for an empty cell.

    Whitespace and the grid separators '|', '-', '+' are ignored, so the board picture of
    board_to_string parses too. ValueError, with a one-line message, for another character,
    a cell count other than 81, or a digit repeated in a row, column or box.
    """
    cells = []
    for position, char in enumerate(text):
        if char in "123456789":
            cells.append(int(char))
        elif char in _EMPTY:
            cells.append(0)
        elif not (char.isspace() or char in _SEPARATORS):
            raise ValueError(
                f"invalid character {char!r} at {_where(text, position)}: "
                "expected a digit 1-9, or 0 or '.' for an empty cell"
            )
    if len(cells) != 81:
        raise ValueError(f"a puzzle needs 81 cells, found {len(cells)}")
    grid = np.array(cells, dtype=np.int8).reshape(9, 9)
    conflict = find_conflict(grid)
    if conflict:
        raise ValueError(f"invalid puzzle: {conflict}")
    return grid


def format_puzzle(grid) -> str:
    """The 81-character row-major string, '0' for an empty cell."""
    return "".join(str(int(v)) for v in as_cells(grid))


def board_to_string(grid) -> str:
    """The original's board picture: boxes framed by +-------+ lines, '.' for an empty cell."""
    cells = as_cells(grid).reshape(9, 9)
    separator = "+-------+-------+-------+"
    lines = [separator]
    for r in range(9):
        groups = [" ".join(str(int(v)) if v else "." for v in cells[r, 3 * k:3 * k + 3]) for k in range(3)]
        lines.append("| " + " | ".join(groups) + " |")
        if r % 3 == 2:
            lines.append(separator)
    return "\n".join(lines)


def validate_solution(puzzle, candidate) -> bool:
    """True if candidate is a complete valid grid that keeps every given of puzzle."""
    givens = as_cells(puzzle)
    cells = np.asarray(candidate).reshape(-1)
    if cells.size != 81:
        return False
    cells = cells.astype(np.int64)
    if cells.min() < 1 or cells.max() > 9:
        return False
    if np.any((givens != 0) & (cells != givens)):
        return False
    full = set(range(1, 10))
    return all(
        {int(cells[i]) for i in _unit_cells(kind, index)} == full for kind in _UNIT_KINDS for index in range(9)
    )
