"""What the square path tasks share (path-finding boards, mazes): mark a shortest path from start to end.

A subclass names its engine's scorer (`score`: (boards, predictions, size) -> (valid, shortest)), its path
token and GIF palette, and how a changed cell reads without colour; scoring, the views and the checker, the
words of an outcome, the wrong cells and the frames follow from those, once for both tasks.
"""

from abc import abstractmethod
from collections.abc import Callable
from functools import partial
from typing import ClassVar

import numpy as np

from ..boardpath.views import SQUARE_SYMMETRIES, board_views
from ..evaluation.views import ViewRules
from ..file_io import FileTooLarge, NotARegularFile, read_text
from ..frames import BoardPalette, board_frame
from .base import ANSI_CHANGED, ANSI_RESET, Task


class PathBoards(Task):
    score: ClassVar[Callable]  # the engine's score_paths(boards, predictions, size) -> (valid [N], shortest [N])
    path: ClassVar[int]  # the token that marks the path
    palette: ClassVar[BoardPalette]  # the tokens drawn in a GIF frame
    marks: ClassVar[dict[str, str]]  # a changed cell's character -> its mark without colour (on, off the path)
    noun: ClassVar[str]  # "board", "maze": what the messages call one

    def scores(self, boards, predictions) -> tuple[np.ndarray, np.ndarray]:
        return type(self).score(boards, predictions, self.side)

    def is_correct(self, inputs, targets, predictions) -> np.ndarray:
        return self.scores(inputs, predictions)[1]

    def describe(self) -> str:
        return f"{self.name} {self.side}x{self.side}"

    def view_rules(self, seed: int = 0) -> ViewRules:
        """The 8 symmetries of the square; the checker accepts a simple path from start to end over open cells,
        the board kept (not necessarily shortest: it tests the rules, it does not search), and among accepted
        paths the shortest one a view wrote wins."""
        return ViewRules(partial(board_views, size=self.side), self.accepts, self.loss_mask, SQUARE_SYMMETRIES,
                         cost=self.path_length)

    def path_length(self, candidates: np.ndarray) -> np.ndarray:
        """[N] the cells each candidate marks as path."""
        return (np.asarray(candidates) == self.path).sum(axis=1)

    def accepts(self, boards: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return self.scores(boards, candidates)[0]

    def read_board(self, file: str, parse: Callable[[str], tuple[np.ndarray, int]], limit: int) -> np.ndarray:
        """infer's --board FILE, parsed; any problem (unreadable, too large, not a board, another size) is a
        ValueError naming the file."""
        try:
            board, found = parse(read_text(file, limit=limit))
        except (NotARegularFile, FileTooLarge) as err:
            raise ValueError(f"--board {err}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"--board {file}: cannot read it ({type(err).__name__})") from None
        except ValueError as err:
            raise ValueError(f"--board {file}: {err}") from None
        if found != self.side:
            raise ValueError(f"--board {file}: a {found}x{found} {self.noun}; this model solves"
                             f" {self.side}x{self.side} {self.noun}s")  # fmt: skip
        return board

    def demo_board(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """A board typed in the demo (rows in the legend `. # S E`, or its N² cells on one line): (board, canonical
        answer); ValueError (one line) for a bad board, another size, or an end that cannot be reached."""
        size = self.side
        if "\n" not in text.strip() and len(text.strip()) == size * size:
            line = text.strip()
            text = "\n".join(line[r * size : (r + 1) * size] for r in range(size))
        board, found, answer = self.parse_demo_board(text)
        if found != size:
            raise ValueError(f"a {found}x{found} {self.noun}; this model solves {size}x{size} {self.noun}s")
        if answer is None:
            raise ValueError("E cannot be reached from S")
        return board, answer

    @abstractmethod
    def parse_demo_board(self, text: str) -> tuple[np.ndarray, int, np.ndarray | None]:
        """(board, side, canonical answer or None when the end is unreachable, or the side is not the model's)
        from rows in the demo's legend; ValueError (one line) for text that is not a board."""

    def outcome(self, inputs, answer, board) -> tuple[str, bool]:
        valid, shortest = self.scores(np.asarray(inputs)[None], np.asarray(board)[None])
        words = "a shortest path" if shortest[0] else "a path, not the shortest" if valid[0] else "not a path"
        return words, bool(shortest[0])

    def segment_fields(self, inputs, answer, board) -> dict:
        valid, shortest = self.scores(np.asarray(inputs)[None], np.asarray(board)[None])
        return {"valid_path": bool(valid[0]), "shortest_path": bool(shortest[0]),
                "exact": bool((np.asarray(board) == answer).all())}  # fmt: skip

    def mark_changes(self, picture, changed, color) -> str:
        """Colour on a terminal, else `+` (now on the path) or `,` (now off it)."""
        lines = [list(line) for line in picture.split("\n")]
        for r, c in zip(*np.nonzero(np.asarray(changed, dtype=bool).reshape(self.side, self.side))):
            char = lines[r][c]
            lines[r][c] = f"{ANSI_CHANGED}{char}{ANSI_RESET}" if color else self.marks.get(char, char)
        return "\n".join("".join(line) for line in lines)

    def wrong_cells(self, inputs, answer, boards) -> np.ndarray:
        """Path cells off every shortest path: not the canonical path's, on a board that marks no shortest one."""
        boards = np.asarray(boards)
        if answer is None:
            return np.zeros(boards.shape, dtype=bool)
        _, shortest = self.scores(np.repeat(np.asarray(inputs)[None], len(boards), 0), boards)
        return (boards == self.path) & (boards != answer) & ~shortest[:, None]

    def frame(self, inputs, answer, board, changed, caption):
        right = ~self.wrong_cells(inputs, answer, np.asarray(board)[None])[0]
        return board_frame(inputs, board, right, changed, self.side, caption, self.palette)
