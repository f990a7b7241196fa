"""Read files of puzzles: one 81-cell puzzle per line (optional `,solution`), or a CSV with question/answer columns.

Plain format: 81 characters per line, digits 1-9 for givens and '.' or '0' for empty
cells, optionally followed by `,` and the 81-digit solution; blank lines and lines
starting with `#` are skipped. CSV format, recognised by its header: any columns, among
them `question` and `answer` (the public Sudoku-Extreme layout is
`source,question,answer,rating`). Errors name the file and line.
"""

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_CELL_CHARS = frozenset("0123456789.")
_SOLUTION_CHARS = frozenset("123456789")
# Cell indices of the 27 units: 9 rows, 9 columns, 9 boxes.
_UNITS = np.array(
    [[r * 9 + c for c in range(9)] for r in range(9)]
    + [[r * 9 + c for r in range(9)] for c in range(9)]
    + [[(3 * (b // 3) + i) * 9 + 3 * (b % 3) + j for i in range(3) for j in range(3)] for b in range(9)]
)


class PuzzleFileError(ValueError):
    """A puzzle file that cannot be read; the message is one line naming the file and line."""


@dataclass
class PuzzleSet:
    puzzles: np.ndarray  # int8 [N, 81], 0 = empty
    solutions: np.ndarray  # int8 [N, 81], all zeros where no solution was given
    has_solution: np.ndarray  # bool [N]
    line_numbers: np.ndarray  # int64 [N], 1-based line of each puzzle in its file

    def __len__(self) -> int:
        return len(self.puzzles)


def read_puzzle_file(path: str | os.PathLike, limit: int | None = None) -> PuzzleSet:
    """Read up to `limit` puzzles from a plain or CSV puzzle file."""
    if not os.path.exists(path):
        raise PuzzleFileError(f"puzzle file not found: {path}")
    if os.path.isdir(path):
        raise PuzzleFileError(f"puzzle file is a directory: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_puzzle_lines(handle, limit=limit, source=str(path))
    except UnicodeDecodeError:
        raise PuzzleFileError(f"{path}: not a text file (it is not valid UTF-8)") from None


def parse_puzzle_lines(lines: Iterable[str], limit: int | None = None, source: str = "<input>") -> PuzzleSet:
    """Parse puzzle lines (plain or CSV, detected from the first non-blank, non-comment line)."""
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    puzzles, solutions, line_numbers = [], [], []
    columns = None  # (question index, answer index, field count) once a CSV header is seen
    first = True
    for number, raw in enumerate(lines, start=1):
        if limit is not None and len(puzzles) >= limit:
            break
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        if first:
            first = False
            header = [field.strip().lower() for field in next(csv.reader([line]))]
            if "question" in header and "answer" in header:
                columns = (header.index("question"), header.index("answer"), len(header))
                continue
        if columns is not None:
            fields = next(csv.reader([line]))
            if len(fields) != columns[2]:
                raise PuzzleFileError(f"{where}: expected {columns[2]} CSV fields like the header, found {len(fields)}")
            question, answer = fields[columns[0]].strip(), fields[columns[1]].strip()
        else:
            fields = line.split(",")
            if len(fields) > 2:
                raise PuzzleFileError(f"{where}: expected '<81 cells>' or '<81 cells>,<81-digit solution>'")
            question = fields[0].strip()
            answer = fields[1].strip() if len(fields) == 2 else ""
        puzzle = _parse_cells(question, where, "puzzle", _CELL_CHARS)
        solution = _parse_cells(answer, where, "solution", _SOLUTION_CHARS) if answer else None
        if solution is not None:
            _check_solution(puzzle, solution, where)
        puzzles.append(puzzle)
        solutions.append(solution)
        line_numbers.append(number)
    has_solution = np.array([s is not None for s in solutions], dtype=bool)
    zeros = np.zeros(81, dtype=np.int8)
    return PuzzleSet(
        puzzles=np.stack(puzzles) if puzzles else np.zeros((0, 81), np.int8),
        solutions=np.stack([zeros if s is None else s for s in solutions]) if puzzles else np.zeros((0, 81), np.int8),
        has_solution=has_solution,
        line_numbers=np.array(line_numbers, dtype=np.int64),
    )


def _parse_cells(text: str, where: str, what: str, allowed: frozenset) -> np.ndarray:
    if len(text) != 81:
        raise PuzzleFileError(f"{where}: the {what} has {len(text)} characters, expected 81")
    bad = next((char for char in text if char not in allowed), None)
    if bad is not None:
        expected = "digits 1-9" if allowed is _SOLUTION_CHARS else "digits 1-9 and '.' or '0' for empty cells"
        cell = text.index(bad) + 1
        raise PuzzleFileError(f"{where}: the {what} contains {bad!r} at cell {cell}; expected {expected}")
    cells = np.frombuffer(text.replace(".", "0").encode("ascii"), dtype=np.uint8) - ord("0")
    return cells.astype(np.int8)


def _check_solution(puzzle: np.ndarray, solution: np.ndarray, where: str) -> None:
    given = puzzle != 0
    if (puzzle[given] != solution[given]).any():
        cell = int(np.flatnonzero(given & (puzzle != solution))[0])
        row, column = cell // 9 + 1, cell % 9 + 1
        raise PuzzleFileError(
            f"{where}: the solution disagrees with the puzzle's given {puzzle[cell]} at row {row}, column {column}"
        )
    bad = np.bitwise_or.reduce(1 << (solution[_UNITS].astype(np.int32) - 1), axis=1) != 0x1FF
    if bad.any():
        unit = int(np.flatnonzero(bad)[0])
        name = ("row", "column", "box")[unit // 9]
        raise PuzzleFileError(f"{where}: the solution is not a valid Sudoku ({name} {unit % 9 + 1} repeats a digit)")
