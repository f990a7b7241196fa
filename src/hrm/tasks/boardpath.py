"""The path-finding board task (seed 002): mark the shortest S→E path on a board of floor and walls.

Rows are (board, answer) as N² tokens (`. # S E *` = 1..5); the loss counts the floor cells
only (walls, S and E are given, as Sudoku's givens), and a prediction is right when it
marks a shortest path, whichever one (`score_paths`); training targets are the canonical
path. Boards come from the seeded generator, row i of the stream from (seed, i).
"""

import argparse
import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..boardpath import (
    END,
    FLOOR,
    PATH,
    START,
    VOCAB_SIZE,
    WALL,
    board_to_string,
    generate_boards,
    parse_board,
    score_paths,
    solve_board,
)
from ..checkpoint import MAX_SEQ_LEN
from ..cli_types import fraction, non_negative_int, positive_int
from ..evaluation.paths import compute_path_metrics, format_path_report
from ..evaluation.report import check_row_count
from ..frames import BoardPalette
from .base import Case, EvaluationReport, EvaluationRows, Shard, StreamRows, TaskError
from .path_boards import PathBoards

TRAIN_STREAM, EVALUATION_STREAM = 1, 2  # evaluation boards never repeat training boards of the same seed
MAX_BOARD_FILE = 1 << 20  # a board file is a few hundred characters; more is not a board
PALETTE = BoardPalette(wall=WALL, start=START, end=END, path=PATH)


@dataclass
class BoardpathConfig:
    board_size: int = 10
    wall_prob: float = 0.3
    min_path: int = 0  # keep boards whose shortest path has at least this many steps

    @classmethod
    def from_dict(cls, data: dict) -> "BoardpathConfig":
        return cls(**data)


class BoardpathTask(PathBoards):
    name = "boardpath"
    Config = BoardpathConfig
    FLAGS = {"board_size": "board_size", "wall_prob": "wall_prob", "min_path": "min_path"}
    vocab_size = VOCAB_SIZE
    score, path, palette = staticmethod(score_paths), PATH, PALETTE
    marks, noun = {"*": "+", ".": ","}, "board"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        defaults = BoardpathConfig()
        group = parser.add_argument_group("--task boardpath (fixed for a run)")
        group.add_argument("--board-size", type=positive_int, help=f"N of the N×N board (default: {defaults.board_size})")
        group.add_argument("--wall-prob", type=fraction, help=f"probability of a wall (default: {defaults.wall_prob})")
        cls.shared_flag(group, parser, "--min-path", type=non_negative_int,
                         help="boardpath: keep boards whose shortest path has at least this many steps (default: any)")

    def __init__(self, config: BoardpathConfig):
        super().__init__(config)
        if config.board_size < 2:
            raise TaskError(f"--board-size must be at least 2, got {config.board_size}")
        if not 0 <= config.wall_prob < 1:
            raise TaskError(f"--wall-prob must be in [0, 1), got {config.wall_prob}")
        if config.board_size**2 > MAX_SEQ_LEN:  # the model attends over every cell at once
            raise TaskError(f"--board-size must be at most {math.isqrt(MAX_SEQ_LEN)}, got {config.board_size}")
        self.seq_len = config.board_size**2
        self.side = config.board_size

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

    def format_row(self, row) -> str:
        return board_to_string(row, self.config.board_size)

    def parse_demo_board(self, text: str):
        board, size = parse_board(text)  # the demo's legend is the board's own
        return board, size, solve_board(board, size) if size == self.side else None

    def make_case(self, difficulty, text, file, seed) -> Case:
        """A board from --board FILE, or board `seed` of the evaluation stream (a random one without a seed)."""
        if difficulty is not None or text is not None:
            raise ValueError(f"a {self.name} checkpoint solves boards: give --board FILE or --seed S, not a Sudoku")
        titles, keys = ("Board:", "Shortest path (BFS):"), ("board", "answer")
        if file is None:
            seed = seed if seed is not None else int(np.random.default_rng().integers(2**63))
            boards, answers = self.boards(1, seed)
            return Case(boards[0], answers[0], titles, keys)
        board = self.read_board(file, parse_board, MAX_BOARD_FILE)
        answer = solve_board(board, self.side)
        if answer is None:
            raise ValueError(f"--board {file}: E cannot be reached from S")
        return Case(board, answer, titles, keys, from_user=True)

    def evaluation_rows(self, args) -> EvaluationRows:
        """--num fresh boards of the evaluation stream from --seed (never the training boards of that seed), of
        this checkpoint's settings, --min-path overriding its shortest-path floor."""
        for flag, given in (("--difficulty", args.difficulty), ("--data", args.file), ("--limit", args.limit),
                            ("--min-rating", args.min_rating), ("--max-rating", args.max_rating)):
            if given is not None:
                raise ValueError(f"{flag} is for Sudoku checkpoints; a {self.name} checkpoint is scored on --num boards")
        check_row_count(args.num, "boards")
        task = self if args.min_path is None else type(self)(replace(self.config, min_path=args.min_path))
        boards, answers = task.boards(args.num, args.seed, workers=args.workers)
        c = task.config
        source = (f"generated: {args.num} boards {c.board_size}x{c.board_size}, wall probability {c.wall_prob},"
                  f" shortest path >= {max(c.min_path, 1)} steps, seed {args.seed}")  # fmt: skip
        return EvaluationRows(boards, answers, source, np.full(len(boards), "all"), [])

    def evaluation_report(self, rows, predictions) -> EvaluationReport:
        metrics = compute_path_metrics(rows.inputs, rows.targets, predictions, self.scores)
        return EvaluationReport(metrics.act_shortest_rate, metrics.to_dict(),
                                lambda summary: format_path_report(summary, metrics))

    def sample_rows(self, count, seed, difficulty=None):
        return self.boards(count, seed)


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
