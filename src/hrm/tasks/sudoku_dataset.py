"""Sudoku from a dataset file (the Sudoku-Extreme CSV layout, or the project's own puzzle files), augmented.

Each epoch visits every row once in a seeded shuffled order; row i of the stream gets its
own seeded transformation (digit relabelling, transpose, band/stack and row/column
permutations), so a resumed run sees exactly the rows an uninterrupted one would.
`--num-aug K` (seed 000, the HRM paper's augmented data sets) fixes K transformed copies of each row
instead: an epoch visits all K·N of them, copy j of row i always transformed the same way.
`--train-size N` keeps a seeded subset of N rows, as the HRM paper's 1,000 examples.
"""

import argparse
import hashlib
from dataclasses import dataclass

import numpy as np

from ..cli_types import non_negative_int, positive_int
from ..hub import resolve_hub_path
from ..sudoku import count_solutions_batch, solve_batch
from ..sudoku.augment import copy_keys, random_transforms, row_keys
from ..sudoku.files import PuzzleFileError, PuzzleSet, read_puzzle_file
from .base import Shard, StreamRows, TaskError
from .sudoku import SudokuBoards

# Entries of a --num-aug epoch, K·N: its shuffled order is an int64 array (512 MiB at this size).
MAX_EPOCH_ENTRIES = 2**26


@dataclass
class SudokuDatasetConfig:
    data: str = ""  # a file, or hf://<owner>/<dataset>[/<file>]
    min_rating: int | None = None
    max_rating: int | None = None
    train_size: int | None = None  # a seeded subset of the (filtered) rows; None: all
    augment: bool = True
    # Rows carry their puzzle's id, its index in the training rows + 1 (all its augmentations share it), and the
    # model gets a learned embedding per id (train --puzzle-embeddings; see docs/architecture.md).
    puzzle_ids: bool = False
    # Not in the original: K fixed augmented copies of each row per epoch (seed 000's --num-aug); None: every row
    # drawn gets a fresh transformation.
    num_aug: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "SudokuDatasetConfig":
        return cls(**data)


class SudokuDatasetTask(SudokuBoards):
    name = "sudoku-dataset"
    Config = SudokuDatasetConfig
    FLAGS = {"data": "data", "min_rating": "min_rating", "max_rating": "max_rating", "train_size": "train_size",
             "augment": "augment", "puzzle_embeddings": "puzzle_ids", "num_aug": "num_aug"}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("--task sudoku-dataset (fixed for a run)")
        cls.shared_flag(
            group, parser, "--data", help="sudoku-dataset: a puzzle file: a source,question,answer,rating CSV"
            " (Sudoku-Extreme), a puzzle file, "
            "or hf://sapientinc/sudoku-extreme (needs huggingface_hub and network, downloaded once)",
        )  # fmt: skip
        group.add_argument("--min-rating", type=non_negative_int, help="keep rows rated at least this")
        group.add_argument("--max-rating", type=non_negative_int, help="keep rows rated at most this")
        group.add_argument("--train-size", type=positive_int, help="train on a seeded subset of this many rows")
        group.add_argument(
            "--augment", action=argparse.BooleanOptionalAction, default=None,
            help="a fresh seeded symmetry of the puzzle for every row drawn (default: on)",
        )  # fmt: skip
        group.add_argument(
            "--num-aug", type=positive_int, metavar="K",
            help="K fixed augmented copies of each row, every epoch the same (an epoch: K times the rows);"
            " default: a fresh symmetry for every row drawn",
        )  # fmt: skip
        group.add_argument(
            "--puzzle-embeddings", action="store_true", default=None,
            help="a learned embedding per training puzzle, trained by sign-SGD (default: off; see --puzzle-emb-lr)",
        )  # fmt: skip

    def __init__(self, config: SudokuDatasetConfig):
        super().__init__(config)
        if not config.data:
            raise TaskError("--task sudoku-dataset needs --data FILE (or hf://sapientinc/sudoku-extreme)")
        if config.min_rating is not None and config.max_rating is not None and config.min_rating > config.max_rating:
            raise TaskError(f"--min-rating {config.min_rating} is above --max-rating {config.max_rating}")
        if config.num_aug is not None and not config.augment:
            raise TaskError(f"--num-aug {config.num_aug} fixes augmented copies of each row; drop --no-augment")
        if config.num_aug is not None and config.num_aug < 1:
            raise TaskError(f"--num-aug must be a positive integer, got {config.num_aug}")
        self._loaded: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # by seed: a file is read and solved once

    def num_puzzle_ids(self, seed: int) -> int:
        return len(self.load(seed)[0]) + 1 if self.config.puzzle_ids else 0

    def load(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The training rows (puzzles, solutions) int8 [N, 81]: read, solved where needed, filtered, subset."""
        if seed not in self._loaded:
            self._loaded[seed] = self._read(seed)
        return self._loaded[seed]

    def _read(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        config = self.config
        rows = load_puzzles(config.data, "train.csv")
        try:
            rows = rows.rated_within(config.min_rating, config.max_rating, config.data)
        except PuzzleFileError as err:
            raise TaskError(str(err)) from None
        if config.train_size is not None:
            if config.train_size > len(rows):
                raise TaskError(f"--train-size {config.train_size} is more than the {len(rows)} rows of {config.data}")
            keep = np.sort(np.random.default_rng([seed, 1]).choice(len(rows), config.train_size, replace=False))
            rows = rows.select(keep)
        return rows.puzzles, rows.solutions

    def rows(self, seed, batch_size, device, workers, meta=None, shard=Shard()) -> "DatasetRows":
        puzzles, solutions = self.load(seed)
        fingerprint = _fingerprint(puzzles, solutions)
        if meta is not None and meta["fingerprint"] != fingerprint:
            raise TaskError(f"{self.config.data}: its rows differ from those the run started with; a run keeps its data")
        taken = 0 if meta is None else meta["taken"]
        copies = self.config.num_aug
        if copies is not None and copies * len(puzzles) > MAX_EPOCH_ENTRIES:
            raise TaskError(
                f"--num-aug {copies} makes an epoch of {copies * len(puzzles):,} entries from {len(puzzles):,} rows,"
                f" over the {MAX_EPOCH_ENTRIES:,} it may hold; lower --num-aug or --train-size"
            )
        stream = DatasetStream(puzzles, solutions, seed, self.config.augment, taken, shard, copies)
        return DatasetRows(stream, fingerprint, batch_size, device, self.config.puzzle_ids)


class DatasetStream:
    """Row i of an endless stream: epoch i // N visits the rows in a seeded order, each with its own symmetry.

    With `copies` K (--num-aug), an epoch visits K·N entries in a seeded order, entry e being copy e // N of row
    e % N, transformed by the key of (seed, row, copy). Rank r of a data-parallel run takes rows r, r + count, ... of
    that one stream (`shard`); `taken` counts its own.
    """

    def __init__(self, puzzles: np.ndarray, solutions: np.ndarray, seed: int, augment: bool, taken: int = 0,
                 shard: Shard = Shard(), copies: int | None = None):
        self.puzzles, self.solutions = puzzles, solutions
        self.seed, self.augment, self.taken, self.shard = seed, augment, int(taken), shard
        self.copies = copies
        self._orders: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        """Entries of an epoch: the rows, or K copies of each."""
        return len(self.puzzles) * (self.copies or 1)

    def order(self, epoch: int) -> np.ndarray:
        """The rows of an epoch in the order they are drawn."""
        if epoch not in self._orders:
            if len(self._orders) > 1:
                self._orders.pop(min(self._orders))
            self._orders[epoch] = np.random.default_rng([self.seed, 2, epoch]).permutation(len(self))
        return self._orders[epoch]

    def rows_at(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(puzzles, solutions) int8 [n, 81] at stream positions `indices`, and their puzzle ids int64 [n]: the
        row's index in the training rows + 1 (0 is the blank id of a puzzle from elsewhere)."""
        epochs, positions = np.divmod(indices, len(self))
        entries = np.empty(len(indices), dtype=np.int64)
        for epoch in np.unique(epochs):
            where = epochs == epoch
            entries[where] = self.order(int(epoch))[positions[where]]
        copy, picked = np.divmod(entries, len(self.puzzles))
        puzzles, solutions = self.puzzles[picked], self.solutions[picked]
        if self.augment:
            keys = row_keys(self.seed, indices) if self.copies is None else copy_keys(self.seed, picked, copy)
            transform = random_transforms(keys)
            puzzles, solutions = transform.apply(puzzles), transform.apply(solutions)
        return puzzles, solutions, picked + 1

    def take(self, kind: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next n rows of this rank (one kind: `kind` is always 0)."""
        indices = np.arange(self.taken, self.taken + n, dtype=np.int64) * self.shard.count + self.shard.index
        self.taken += n
        return self.rows_at(indices)


class DatasetRows(StreamRows):
    def __init__(self, stream: DatasetStream, fingerprint: str, batch_size: int, device, puzzle_ids: bool = False):
        super().__init__(81, batch_size, device, with_ids=puzzle_ids)
        self.stream, self.fingerprint = stream, fingerprint

    def take(self, n: int) -> tuple[np.ndarray, ...]:
        return self.stream.take(0, n)

    def epoch(self) -> float:
        return self.rows_consumed() / len(self.stream)

    def record(self, values) -> dict:
        return {"epoch": round(self.epoch(), 6)}

    def meta(self) -> dict:
        return {"taken": self.stream.taken, "rows": len(self.stream), "fingerprint": self.fingerprint}


def _fingerprint(puzzles: np.ndarray, solutions: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(puzzles).tobytes())
    digest.update(np.ascontiguousarray(solutions).tobytes())
    return digest.hexdigest()


def resolve_data_path(data: str, default_file: str) -> str:
    """A local path for --data: the file itself, or hf://owner/dataset[/file] downloaded once to the HF cache."""
    return resolve_hub_path(data, default_file, TaskError)


def load_puzzles(data: str, default_file: str = "train.csv", limit: int | None = None) -> PuzzleSet:
    """Read a dataset: every row gets its solution (the engine solves rows given without one; a row without
    a unique solution is an error naming its line)."""
    path = resolve_data_path(data, default_file)
    try:
        rows = read_puzzle_file(path, limit=limit)
    except PuzzleFileError as err:
        raise TaskError(str(err)) from None
    if len(rows) == 0:
        raise TaskError(f"{path}: holds no puzzles")
    missing = np.flatnonzero(~rows.has_solution)
    if len(missing):
        counts = count_solutions_batch(rows.puzzles[missing], limit=2)
        if (counts != 1).any():
            bad = int(np.flatnonzero(counts != 1)[0])
            why = "no solution" if counts[bad] == 0 else "several solutions"
            raise TaskError(f"{path}:{rows.line_numbers[missing[bad]]}: the puzzle has {why}; a training row needs one")
        rows.solutions[missing] = solve_batch(rows.puzzles[missing])
        rows.has_solution[missing] = True
    return rows
