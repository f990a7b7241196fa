"""The path-finding board task (seed 002): mark the shortest S→E path on a board of floor and walls.

Rows are (board, answer) as N² tokens (`. # S E *` = 1..5); the loss counts the floor cells
only (walls, S and E are given, as Sudoku's givens), and a prediction is right when it
marks a shortest path, whichever one (`score_paths`); training targets are the canonical
path. Boards come from the seeded generator, row i of the stream from (seed, i).
"""

import argparse
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..boardpath import FLOOR, VOCAB_SIZE, board_to_string, generate_boards, score_paths
from ..checkpoint import MAX_SEQ_LEN
from ..cli_types import fraction, non_negative_int, positive_int
from .base import Shard, StreamRows, Task, TaskError

TRAIN_STREAM, EVALUATION_STREAM = 1, 2  # evaluation boards never repeat training boards of the same seed


@dataclass
class BoardpathConfig:
    board_size: int = 10
    wall_prob: float = 0.3
    min_path: int = 0  # keep boards whose shortest path has at least this many steps

    @classmethod
    def from_dict(cls, data: dict) -> "BoardpathConfig":
        return cls(**data)


class BoardpathTask(Task):
    name = "boardpath"
    Config = BoardpathConfig
    FLAGS = {"board_size": "board_size", "wall_prob": "wall_prob", "min_path": "min_path"}
    vocab_size = VOCAB_SIZE

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        defaults = BoardpathConfig()
        group = parser.add_argument_group("--task boardpath (fixed for a run)")
        group.add_argument("--board-size", type=positive_int, help=f"N of the N×N board (default: {defaults.board_size})")
        group.add_argument("--wall-prob", type=fraction, help=f"probability of a wall (default: {defaults.wall_prob})")
        group.add_argument("--min-path", type=non_negative_int,
                           help="keep boards whose shortest path has at least this many steps (default: any)")

    def __init__(self, config: BoardpathConfig):
        super().__init__(config)
        if config.board_size < 2:
            raise TaskError(f"--board-size must be at least 2, got {config.board_size}")
        if not 0 <= config.wall_prob < 1:
            raise TaskError(f"--wall-prob must be in [0, 1), got {config.wall_prob}")
        if config.board_size**2 > MAX_SEQ_LEN:  # the model attends over every cell at once
            raise TaskError(f"--board-size must be at most {math.isqrt(MAX_SEQ_LEN)}, got {config.board_size}")
        self.seq_len = config.board_size**2

    def boards(self, count: int, seed: int, stream: int = EVALUATION_STREAM, start: int = 0, workers=None):
        """Boards and their canonical answers, int8 [count, N²], from a seeded stream."""
        c = self.config
        try:
            return generate_boards(count, c.board_size, c.wall_prob, c.min_path, seed, stream, start, workers)
        except ValueError as err:
            raise TaskError(str(err)) from None

    def rows(self, seed, batch_size, device, workers, meta=None, shard=Shard()) -> "GeneratedBoardRows":
        self.boards(1, seed, TRAIN_STREAM)  # settings that keep no board fail here, in one line
        taken = 0 if meta is None else meta["taken"]
        return GeneratedBoardRows(self, shard.seed(seed), batch_size, device, workers, taken)

    def loss_mask(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs == FLOOR  # walls, S and E are given

    def is_correct(self, inputs, targets, predictions) -> np.ndarray:
        return score_paths(inputs, predictions, self.config.board_size)[1]

    def format_row(self, row) -> str:
        return board_to_string(row, self.config.board_size)


class GeneratedBoardRows(StreamRows):
    """Board i of the training stream (seed, TRAIN_STREAM)."""

    def __init__(self, task: BoardpathTask, seed: int, batch_size: int, device, workers, taken: int):
        super().__init__(task.seq_len, batch_size, device)
        self.task, self.seed, self.workers, self.taken = task, seed, workers, taken

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        boards = self.task.boards(n, self.seed, TRAIN_STREAM, self.taken, self.workers)
        self.taken += n
        return boards

    def meta(self) -> dict:
        return {"taken": self.taken}
