"""Read and write maze files in the published Maze-Hard layout (sapientinc/maze-30x30-hard-1k).

A CSV with a header naming `question` (required), `answer`, `source` and `rating` columns; a grid is
size² characters, `#` wall, space open, `S` start, `G` goal, and in an answer `o` on the path cells
between S and G. Every row needs one S, one G reachable from S; an answer, when given, must be the
question with a shortest S->G path marked. Errors are one line naming the file and line.
`hf://owner/dataset[/file]` downloads through huggingface_hub, once, to its cache.
"""

import csv
import io
import math
import os
from dataclasses import dataclass

import numpy as np

from ..file_io import NotARegularFile, bounded_lines, open_regular, write_text_atomically
from ..hub import resolve_hub_path
from .bfs import PATH_BAD_CELL, PATH_BROKEN, PATH_CHANGED, PATH_LONGER, PATH_OK
from .scoring import check_paths, solve_mazes
from .tokens import GOAL, PATH, START, text_to_tokens, tokens_to_text

HF_DATASET = "hf://sapientinc/maze-30x30-hard-1k"
_COLUMNS = ("source", "question", "answer", "rating")


class MazeFileError(ValueError):
    """A maze file that cannot be read; the message is one line naming the file and line."""


@dataclass
class MazeSet:
    size: int
    questions: np.ndarray  # int8 [N, size²]
    answers: np.ndarray  # int8 [N, size²], the question itself where no answer was given
    has_answer: np.ndarray  # bool [N]
    steps: np.ndarray  # int64 [N], shortest S->G path in steps (BFS)
    line_numbers: np.ndarray  # int64 [N], 1-based line of each row
    ratings: np.ndarray | None = None  # int64 [N] from a `rating` column
    sources: np.ndarray | None = None  # str [N] from a `source` column

    def __len__(self) -> int:
        return len(self.questions)

    def solved_answers(self) -> np.ndarray:
        """The answers, the solver's canonical shortest path where a row gave none."""
        if self.has_answer.all():
            return self.answers
        answers = self.answers.copy()
        answers[~self.has_answer] = solve_mazes(self.questions[~self.has_answer], self.size)[0]
        return answers


def resolve_maze_path(data: str, default_file: str = "train.csv") -> str:
    """A local path: the file itself, or hf://owner/dataset[/file] downloaded once to the Hugging Face cache."""
    return resolve_hub_path(data, default_file, MazeFileError, HF_DATASET)


def read_maze_file(data: str | os.PathLike, limit: int | None = None, default_file: str = "train.csv") -> MazeSet:
    """Read up to `limit` rows of a maze CSV (a path, or hf://...)."""
    path = resolve_maze_path(os.fspath(data), default_file)
    if not os.path.exists(path):
        raise MazeFileError(f"maze file not found: {path}")
    if os.path.isdir(path):
        raise MazeFileError(f"maze file is a directory: {path}")
    try:
        with open_regular(path) as handle:  # a device or pipe would be read without end
            return parse_maze_csv(bounded_lines(handle, str(path), MazeFileError), limit=limit, source=str(path))
    except NotARegularFile as err:
        raise MazeFileError(f"maze file {err}") from None
    except UnicodeDecodeError:
        raise MazeFileError(f"{path}: not a text file (it is not valid UTF-8)") from None


def parse_maze_csv(handle, limit: int | None = None, source: str = "<input>") -> MazeSet:
    """Parse CSV text (a file or any iterable of lines); the first bad row is reported with its line."""
    reader = csv.reader(handle)
    header = next(reader, None)
    names = [name.strip().lower() for name in header or []]
    if "question" not in names:
        raise MazeFileError(f"{source}:1: expected a CSV header with a 'question' column, e.g. "
                            f"{','.join(_COLUMNS)}")
    index = {name: names.index(name) for name in _COLUMNS if name in names}
    questions, answers, has_answer, ratings, origins, lines = [], [], [], [], [], []
    size = None
    try:
        for fields in reader:
            if limit is not None and len(questions) >= limit:
                break
            where = f"{source}:{reader.line_num}"
            if not fields:
                continue
            if len(fields) != len(names):
                raise MazeFileError(f"{where}: expected {len(names)} CSV fields like the header, found {len(fields)}")
            question = fields[index["question"]]
            if size is None:
                size = math.isqrt(len(question))
                if size < 2 or size * size != len(question):
                    raise MazeFileError(f"{where}: the question has {len(question)} characters, not a square grid")
            questions.append(_grid(question, size, where, "question"))
            answer = fields[index["answer"]] if "answer" in index else ""
            has_answer.append(bool(answer))
            answers.append(_grid(answer, size, where, "answer") if answer else questions[-1])
            if "rating" in index:
                text = fields[index["rating"]].strip()
                if not (text.isascii() and text.isdigit()):
                    raise MazeFileError(f"{where}: the rating {text!r} is not a non-negative whole number")
                ratings.append(int(text))
            if "source" in index:
                origins.append(fields[index["source"]])
            lines.append(reader.line_num)
    except csv.Error as err:
        raise MazeFileError(f"{source}:{reader.line_num}: not a CSV line ({err})") from None
    size = size or 2
    questions = np.array(questions, dtype=np.int8).reshape(-1, size * size)
    answers = np.array(answers, dtype=np.int8).reshape(-1, size * size)
    lines = np.array(lines, dtype=np.int64)
    steps = _check_rows(questions, answers, np.array(has_answer, bool), lines, size, source)
    return MazeSet(size, questions, answers, np.array(has_answer, bool), steps, lines,
                   np.array(ratings, np.int64) if "rating" in index else None,
                   np.array(origins, dtype=object) if "source" in index else None)


def _grid(text: str, size: int, where: str, what: str) -> np.ndarray:
    if len(text) != size * size:
        raise MazeFileError(f"{where}: the {what} has {len(text)} characters, expected {size * size}"
                            f" ({size}x{size} like the first row)")
    try:
        tokens = text_to_tokens(text)
    except ValueError as err:
        raise MazeFileError(f"{where}: the {what}'s {err}") from None
    if what == "question" and (tokens == PATH).any():
        raise MazeFileError(f"{where}: the question marks path cells 'o'; only an answer may")
    return tokens


_PROBLEM = {PATH_LONGER: "a path, but not a shortest one", PATH_BROKEN: "not one simple S-to-G path",
            PATH_BAD_CELL: "not the question with path cells marked", PATH_CHANGED: "not the question's maze"}


def _check_rows(questions, answers, has_answer, lines, size, source) -> np.ndarray:
    for token, name in ((START, "S"), (GOAL, "G")):
        counts = (questions == token).sum(1)
        if (counts != 1).any():
            row = int(np.flatnonzero(counts != 1)[0])
            raise MazeFileError(f"{source}:{lines[row]}: a maze needs exactly one {name}, this one has {counts[row]}")
    _, steps = solve_mazes(questions, size)
    if (steps < 0).any():
        row = int(np.flatnonzero(steps < 0)[0])
        raise MazeFileError(f"{source}:{lines[row]}: G cannot be reached from S")
    codes = check_paths(questions, answers, size)
    bad = has_answer & (codes != PATH_OK)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        marked = int((answers[row] == PATH).sum()) + 1
        extra = f" ({marked} steps, the shortest is {steps[row]})" if codes[row] == PATH_LONGER else ""
        raise MazeFileError(f"{source}:{lines[row]}: the answer is {_PROBLEM[int(codes[row])]}{extra}")
    return steps



def parse_maze_text(text: str) -> tuple[np.ndarray, int]:
    """One maze from a text file: `size` lines of `size` characters (`#`, space, `S`, `G`), or the layout's one
    line of size² characters. (int8 [size²], size); ValueError naming the problem: not square, an unknown
    character, not one S and one G. Spaces are open cells, so none is stripped but the line ends'."""
    lines = [line.rstrip("\r\n") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) == 1:
        size = math.isqrt(len(lines[0]))
        if size < 2 or size * size != len(lines[0]):
            raise ValueError(f"one line of {len(lines[0])} characters is not a square maze")
        lines = [lines[0][r * size:(r + 1) * size] for r in range(size)]
    size = len(lines)
    widths = sorted({len(line) for line in lines})
    if size < 2 or widths != [size]:
        raise ValueError(f"a maze must be square: {size} lines of widths {widths} (spaces are open cells: keep"
                         " trailing ones)")  # fmt: skip
    try:
        tokens = np.concatenate([text_to_tokens(line) for line in lines])
    except ValueError as err:
        row = next(r for r, line in enumerate(lines, start=1) if any(ch not in "# SGo" for ch in line))
        raise ValueError(f"line {row}, {err}") from None
    if (tokens == PATH).any():
        raise ValueError("a maze to solve marks no path cells 'o'")
    for token, name in ((START, "S"), (GOAL, "G")):
        if (tokens == token).sum() != 1:
            raise ValueError(f"a maze needs exactly one {name}, this one has {(tokens == token).sum()}")
    return tokens.astype(np.int8), size

def write_maze_csv(path: str | os.PathLike, questions, answers, ratings, sources) -> None:
    """Write `source,question,answer,rating` rows atomically (the file appears complete or not at all).

    questions and answers: int tokens [N, size²]; ratings: int [N]; sources: one string or one per row.
    """
    questions, answers = np.asarray(questions), np.asarray(answers)
    sources = [sources] * len(questions) if isinstance(sources, str) else list(sources)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_COLUMNS)
    for question, answer, rating, origin in zip(questions, answers, ratings, sources):
        writer.writerow((origin, tokens_to_text(question), tokens_to_text(answer), int(rating)))
    write_text_atomically(path, buffer.getvalue())
