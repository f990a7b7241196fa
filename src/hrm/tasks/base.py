"""What a task is: what the model sees, where training rows come from, and how a prediction is scored.

The trainer, `infer` and `evaluate` know tasks only through this interface. A task's
settings are plain data (a dataclass) that travels in checkpoint metadata, so a checkpoint
says which task it was trained on and with which settings.
"""

import argparse
import dataclasses
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import torch

from .row_queue import RowQueue


class TaskError(ValueError):
    """A task that cannot be built as asked (bad settings, unreadable data); the message is one line."""


@dataclasses.dataclass(frozen=True)
class Shard:
    """This process's part of a data-parallel run's rows: rank `index` of `count` (one process: 0 of 1).

    Generated rows: every rank draws its own streams, seeded by `seed(run_seed)`. A dataset: rank r takes rows
    r, r + count, r + 2·count, ... of the run's one shuffled stream, so the ranks share each epoch without overlap.
    """

    index: int = 0
    count: int = 1

    def seed(self, seed: int) -> int:
        """The seed of this rank's own streams: the run's for rank 0 (so one process is the run it always was),
        else a 62-bit number drawn from (seed, rank)."""
        if self.index == 0:
            return seed
        return int(np.random.SeedSequence([seed, self.index]).generate_state(1, np.uint64)[0] >> 2)


class RowSource(ABC):
    """A task's endless, resumable stream of training rows, drawn on the device for the carry's halted rows.

    The trainer calls, per step: `refill()` on the host, then inside the step `draw()` and
    `update()` (pure tensor work, no host sync), and one step later `observe()` with the
    values of `metric_names` and `counter_names` as read back.
    """

    metric_names: tuple[str, ...] = ()  # 0-dim device values returned by update(), in this order
    counter_names: tuple[str, ...] = ()  # the [K] device tensor returned by counters(), in this order
    queue: RowQueue  # the device queue the rows go through

    @abstractmethod
    def start(self) -> None:
        """Before the first draw of a fresh run: get the first rows ready."""

    @abstractmethod
    def refill(self) -> float:
        """Host side, before a step: make sure the next draw finds its rows; returns seconds waited."""

    @abstractmethod
    def draw(self, halted: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Fresh (inputs, targets) [B, L] long for the rows where `halted` [B] is true (others: don't care); rows with
        puzzle ids (see Task.num_puzzle_ids): (inputs, targets, ids [B] long)."""

    def update(self, accuracy: torch.Tensor) -> list[torch.Tensor]:
        """After a step, with its accuracy (0-dim): the values of `metric_names` (e.g. a curriculum's stage)."""
        return []

    @abstractmethod
    def counters(self) -> torch.Tensor:
        """Device counters read back one step late (rows consumed per kind), long [len(counter_names)]."""

    @abstractmethod
    def observe(self, step: int, values: dict[str, float]) -> list[str]:
        """The host learns a step's metric and counter values; returns lines to announce (e.g. a graduation)."""

    @abstractmethod
    def rows_consumed(self) -> int:
        """Rows handed to the carry so far, as known to the host."""

    def observe_run(self, consumed: int) -> None:
        """A data-parallel run: the rows every rank has consumed, as read back. Progress (rows_consumed, epochs)
        counts these from now on; refills still go by this rank's own counters."""
        self.queue.run_consumed = consumed

    def record(self, values: dict[str, float]) -> dict:
        """The task's own fields of a step's metrics.jsonl record."""
        return {}

    def epoch(self) -> float | None:
        """Passes over a finite dataset so far (None for an endless generator)."""
        return None

    @abstractmethod
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors to save with a checkpoint (queued rows, counters, curriculum)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...

    @abstractmethod
    def meta(self) -> dict:
        """JSON-ready host state to save with a checkpoint (e.g. how far the generator streams are)."""

    def close(self) -> None:
        """Stop background threads."""


class StreamRows(RowSource):
    """Rows from one endless stream, `take(n)` giving the next n rows, through a one-kind device queue.

    Subclasses say how far the stream is (`meta`, read back by the task's `rows`).
    """

    counter_names = ("consumed",)

    def __init__(self, row_length: int, batch_size: int, device, with_ids: bool = False):
        self.queue = RowQueue(lambda kind, n: self.take(n), 1, row_length, batch_size, device, with_ids=with_ids)
        self.only_kind = torch.ones(1, device=device)

    @abstractmethod
    def take(self, n: int) -> tuple[np.ndarray, ...]:
        """The next n rows of the stream: (inputs, targets) [n, L], and their ids [n] if the rows carry ids."""

    def start(self) -> None:
        self.queue.ensure([0])

    def refill(self) -> float:
        return self.queue.ensure([0])

    def draw(self, halted, generator):
        return self.queue.draw(halted, self.only_kind, generator)

    def counters(self) -> torch.Tensor:
        return self.queue.consumed

    def observe(self, step, values) -> list[str]:
        self.queue.observe([values["consumed"]])
        return []

    def rows_consumed(self) -> int:
        return self.queue.total_consumed()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"queue.{k}": v for k, v in self.queue.state_dict().items()}

    def load_state_dict(self, state) -> None:
        self.queue.load_state_dict({key: state[f"queue.{key}"] for key in self.queue.state_dict()})


class Task(ABC):
    """A task: its vocabulary and row length (the model config follows from them), its rows and its scoring."""

    name: ClassVar[str]
    Config: ClassVar[type]  # a dataclass of the task's settings, with the defaults
    # Train flags of this task: argparse dest -> Config field; `add_arguments` defines them with default None.
    FLAGS: ClassVar[dict[str, str]] = {}

    vocab_size: int
    seq_len: int

    def __init__(self, config):
        self.config = config

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this task's train flags (each with default None: not given)."""

    @classmethod
    def complete_config(cls, config, given: set[str]) -> None:
        """Defaults that follow from other settings of a fresh run; `given` holds the flags the user set."""

    @abstractmethod
    def rows(self, seed: int, batch_size: int, device: torch.device, workers: int | None,
             meta: dict | None = None, shard: Shard = Shard()) -> RowSource:
        """The training stream; `meta` (from RowSource.meta of a checkpoint) continues a saved one; `shard`: this
        rank's part of a data-parallel run."""

    @abstractmethod
    def loss_mask(self, inputs: torch.Tensor) -> torch.Tensor:
        """[B, L] bool: the target positions the output loss counts (pure tensor function, compile-friendly)."""

    def num_puzzle_ids(self, seed: int) -> int:
        """Rows of the model's puzzle-embedding table when the training rows carry puzzle ids (1, 2, ...; 0 is the
        blank id of a puzzle from elsewhere); 0 when they carry none, as generated rows never do."""
        return 0

    def is_correct(self, inputs: np.ndarray, targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        """[N] bool: whether each predicted row counts as solved; by default, equal to the target."""
        return (np.asarray(predictions) == np.asarray(targets)).all(axis=-1)

    @abstractmethod
    def format_row(self, row) -> str:
        """A row (inputs, targets or a prediction) as people read it."""

    def settings(self) -> dict:
        """The task's name and settings as JSON-ready data (checkpoint metadata)."""
        return {"name": self.name, **dataclasses.asdict(self.config)}

    def check_resume(self, meta: dict) -> None:
        """Refuse to continue a run whose rows this task can no longer give (e.g. the dataset file changed)."""
