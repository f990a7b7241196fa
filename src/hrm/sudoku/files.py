"""Read and write files of puzzles: one 81-cell puzzle per line (optional `,solution`), or a rated CSV.

Plain format: 81 characters per line, digits 1-9 for givens and '.' or '0' for empty
cells, optionally followed by `,` and the 81-digit solution; blank lines and lines
starting with `#` are skipped. CSV format, recognised by its header: any columns, among
them `question` and `answer` (the public Sudoku-Extreme layout is
`source,question,answer,rating`; `write_puzzle_csv` writes that layout). A `rating` column, when
present, is read into `PuzzleSet.ratings`. Errors name the file and line.
"""

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..file_io import NotARegularFile, bounded_lines, open_regular, write_text_atomically

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
    ratings: np.ndarray | None = None  # int64 [N] from a CSV `rating` column; None when the file has none
    sources: np.ndarray | None = None  # str [N] from a CSV `source` column; None when the file has none

    def __len__(self) -> int:
        return len(self.puzzles)

    def select(self, rows) -> "PuzzleSet":
        """The puzzles at `rows` (a boolean mask or indices), every column kept."""
        pick = lambda column: None if column is None else column[rows]  # noqa: E731
        return PuzzleSet(self.puzzles[rows], self.solutions[rows], self.has_solution[rows], self.line_numbers[rows],
                         pick(self.ratings), pick(self.sources))


    def rated_within(self, min_rating: int | None, max_rating: int | None, name: str) -> "PuzzleSet":
        """The rows rated within [min_rating, max_rating]; an error if a bound is given and the file has no ratings
        (`name`: the file as the user named it)."""
        if min_rating is None and max_rating is None:
            return self
        if self.ratings is None:
            raise PuzzleFileError(f"{name}: --min-rating/--max-rating need a rating column, and this file has none")
        keep = np.ones(len(self), dtype=bool)
        if min_rating is not None:
            keep &= self.ratings >= min_rating
        if max_rating is not None:
            keep &= self.ratings <= max_rating
        if not keep.any():
            raise PuzzleFileError(f"{name}: no row is rated within [{min_rating}, {max_rating}]")
        return self.select(keep)


def read_puzzle_file(path: str | os.PathLike, limit: int | None = None) -> PuzzleSet:
    """Read up to `limit` puzzles from a plain or CSV puzzle file."""
    if not os.path.exists(path):
        raise PuzzleFileError(f"puzzle file not found: {path}")
    if os.path.isdir(path):
        raise PuzzleFileError(f"puzzle file is a directory: {path}")
    try:
        with open_regular(path) as handle:  # a device or pipe would be read without end
            return parse_puzzle_lines(bounded_lines(handle, str(path), PuzzleFileError), limit=limit, source=str(path))
    except NotARegularFile as err:
        raise PuzzleFileError(f"puzzle file {err}") from None
    except UnicodeDecodeError:
        raise PuzzleFileError(f"{path}: not a text file (it is not valid UTF-8)") from None


def parse_puzzle_lines(lines: Iterable[str], limit: int | None = None, source: str = "<input>") -> PuzzleSet:
    """Parse puzzle lines (plain or CSV, detected from the first non-blank, non-comment line).

    Lines are split in Python, then checked all at once with numpy (a Sudoku-Extreme file has
    millions of rows); the first bad row, in file order, is reported with its line number.
    """
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    questions, answers, ratings, origins, line_numbers = [], [], [], [], []
    columns = None  # {"question": index, "answer": index, ...} and the field count, once a CSV header is seen
    first = True
    for number, raw in enumerate(lines, start=1):
        if limit is not None and len(questions) >= limit:
            break
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        if first:
            first = False
            header = [field.strip().lower() for field in _csv_fields(line, where)]
            if "question" in header and "answer" in header:
                columns = ({name: header.index(name) for name in _CSV_COLUMNS if name in header}, len(header))
                continue
        if columns is not None:
            fields = _csv_fields(line, where)
            index, count = columns
            if len(fields) != count:
                raise PuzzleFileError(f"{where}: expected {count} CSV fields like the header, found {len(fields)}")
            question, answer = fields[index["question"]].strip(), fields[index["answer"]].strip()
            if "rating" in index:
                ratings.append(_parse_rating(fields[index["rating"]].strip(), where))
            if "source" in index:
                origins.append(fields[index["source"]].strip())
        else:
            fields = line.split(",")
            if len(fields) > 2:
                raise PuzzleFileError(f"{where}: expected '<81 cells>' or '<81 cells>,<81-digit solution>'")
            question = fields[0].strip()
            answer = fields[1].strip() if len(fields) == 2 else ""
        questions.append(question)
        answers.append(answer)
        line_numbers.append(number)
    return _check_rows(questions, answers, line_numbers, source,
                       np.array(ratings, dtype=np.int64) if columns and "rating" in columns[0] else None,
                       np.array(origins, dtype=object) if columns and "source" in columns[0] else None)


_CSV_COLUMNS = ("source", "question", "answer", "rating")
_DIGIT_VALUE = np.full(256, -1, dtype=np.int16)  # byte -> cell value, -1 for a character that is not allowed
_DIGIT_VALUE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_DIGIT_VALUE[ord(".")] = 0


def _cell_array(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 81 characters as int16 [N, 81] cell values (-1 for a bad character), and which rows are 81 long."""
    fits = np.array([len(text) == 81 for text in texts], dtype=bool)
    joined = "".join(text if ok else "." * 81 for text, ok in zip(texts, fits))
    data = np.frombuffer(joined.encode("utf-8", "replace"), dtype=np.uint8)
    if len(data) != 81 * len(texts):  # a non-ASCII character: fall back to row by row
        values = np.stack([_DIGIT_VALUE[np.frombuffer(t.encode("ascii", "replace"), np.uint8)] if ok
                           else np.zeros(81, np.int16) for t, ok in zip(texts, fits)])
        return values, fits
    return _DIGIT_VALUE[data].reshape(len(texts), 81), fits


def _check_rows(questions, answers, line_numbers, source, ratings, origins) -> PuzzleSet:
    count = len(questions)
    if count == 0:
        empty = np.zeros((0, 81), np.int8)
        return PuzzleSet(empty, empty.copy(), np.zeros(0, bool), np.zeros(0, np.int64), ratings, origins)
    has_solution = np.array([bool(a) for a in answers], dtype=bool)
    puzzle_values, puzzle_fits = _cell_array(questions)
    solution_values, solution_fits = _cell_array([a if a else "1" * 81 for a in answers])
    bad = ~puzzle_fits | (puzzle_values < 0).any(1)
    bad |= ~solution_fits | (solution_values < 1).any(1)
    puzzles, solutions = puzzle_values.astype(np.int8), solution_values.astype(np.int8)
    given = puzzles > 0
    checked = has_solution & ~bad
    bad |= checked & ((puzzles != solutions) & given).any(1)
    digit_sets = np.bitwise_or.reduce(1 << (solutions[:, _UNITS].astype(np.int32) - 1).clip(0, 8), axis=2)
    bad |= checked & (digit_sets != 0x1FF).any(1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        where = f"{source}:{line_numbers[row]}"
        puzzle = _parse_cells(questions[row], where, "puzzle", _CELL_CHARS)
        if answers[row]:
            _check_solution(puzzle, _parse_cells(answers[row], where, "solution", _SOLUTION_CHARS), where)
        raise AssertionError(f"{where}: row flagged as bad but passes the row-by-row checks")  # unreachable
    solutions[~has_solution] = 0
    return PuzzleSet(puzzles, solutions, has_solution, np.array(line_numbers, dtype=np.int64), ratings, origins)


def _csv_fields(line: str, where: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except csv.Error as err:  # a field beyond the csv module's size limit
        raise PuzzleFileError(f"{where}: not a CSV line ({err})") from None


def _parse_rating(text: str, where: str) -> int:
    if not (text.isascii() and text.isdigit()):  # isdigit alone takes '²', which int() refuses
        raise PuzzleFileError(f"{where}: the rating {text!r} is not a non-negative whole number")
    return int(text)


def write_puzzle_csv(path: str | os.PathLike, puzzles, solutions, ratings, sources) -> None:
    """Write `source,question,answer,rating` rows (blanks as '.'), atomically: the file appears complete or not at all.

    puzzles and solutions: int [N, 81]; ratings: int [N]; sources: one string or one per row.
    """
    puzzles, solutions = np.asarray(puzzles).reshape(-1, 81), np.asarray(solutions).reshape(-1, 81)
    sources = [sources] * len(puzzles) if isinstance(sources, str) else list(sources)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    glyphs = np.frombuffer(b".123456789", dtype=np.uint8)
    for puzzle, solution, rating, origin in zip(puzzles, solutions, ratings, sources):
        question = glyphs[puzzle.astype(np.int64)].tobytes().decode("ascii")
        answer = glyphs[solution.astype(np.int64)].tobytes().decode("ascii")
        writer.writerow((origin, question, answer, int(rating)))
    write_text_atomically(path, buffer.getvalue())


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
