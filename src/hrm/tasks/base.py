"""What a task is: what the model sees, where training rows come from, how a prediction is scored and shown.

The trainer, `infer`, `evaluate`, `analyze` and the demo know tasks only through this interface.
A task's settings are plain data (a dataclass) that travels in checkpoint metadata, so a checkpoint
says which task it was trained on and with which settings.
"""

import argparse
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch

from ..evaluation.views import ViewRules
from .row_queue import RowQueue

# A changed cell on a terminal: bold yellow, then back to plain.
ANSI_CHANGED, ANSI_RESET = "\x1b[1;33m", "\x1b[0m"


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
    graduation_metric = "accuracy"  # the step's value update() is given: "accuracy" (the original's) or "solved"
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


@dataclasses.dataclass
class Case:
    """One puzzle as `infer` shows it: the model's input row, its answer, and the words around them."""

    inputs: np.ndarray  # int8 [L]
    answer: np.ndarray | None  # int8 [L]: the solution (a Sudoku's unique one, a board's canonical path); None: none
    titles: tuple[str, str]  # the headings printed above the input and above the answer
    keys: tuple[str, str]  # the input's and the answer's names in infer's --json object
    fields: dict = dataclasses.field(default_factory=dict)  # more of that object: where the puzzle came from
    from_user: bool = False  # typed in or read from a file (not generated)


@dataclasses.dataclass
class EvaluationRows:
    """The rows `evaluate` scores, where they came from, and how its views report splits them."""

    inputs: np.ndarray  # int8 [N, L]
    targets: np.ndarray  # int8 [N, L]: the answers
    source: str  # where the rows came from, in words (the report's second line)
    groups: np.ndarray  # [N] each row's group (a difficulty, a rating bucket; one name for all when no groups)
    group_names: list[str]  # the groups the reports list, in order ([]: no per-group rows)
    summary_fields: dict = dataclasses.field(default_factory=dict)  # the summary's task fields after `source`
    details: dict = dataclasses.field(default_factory=dict)  # what the task's report needs to know more


@dataclasses.dataclass
class EvaluationReport:
    """A task's scores of its EvaluationRows, as evaluate prints them."""

    solve_rate: float | None  # one guess under ACT halting: what the views report compares with
    fields: dict  # the JSON object's fields after the summary
    text: Callable[[dict], str]  # the printed report, given the summary (checkpoint, source, device, speed)


class Task(ABC):
    """A task: its vocabulary and row length (the model config follows from them), its rows and its scoring."""

    name: ClassVar[str]
    Config: ClassVar[type]  # a dataclass of the task's settings, with the defaults
    # Train flags of this task: argparse dest -> Config field; `add_arguments` defines them with default None.
    FLAGS: ClassVar[dict[str, str]] = {}

    vocab_size: int
    seq_len: int
    # Model config fields a fresh run of this task takes unless its flags say otherwise (--init-from keeps the
    # checkpoint's); none: the original's model.
    model_defaults: ClassVar[dict] = {}

    def __init__(self, config):
        self.config = config

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this task's train flags (each with default None: not given)."""

    @staticmethod
    def shared_flag(group, parser: argparse.ArgumentParser, flag: str, help: str, **kwargs) -> None:
        """Add a train flag that several tasks take (--data, --min-path): defined by the first task that adds it,
        each later one's `help` appended to it, so the flag is listed once with what it means for each task."""
        action = parser._option_string_actions.get(flag)  # argparse keeps no public lookup
        if action is None:
            group.add_argument(flag, help=help, **kwargs)
        else:
            action.help = f"{action.help}; {help}"

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

    # --- Solving one puzzle and showing it: infer, the demo, the GIFs ---------------------------------------

    side: int  # the board's side: the row is side² cells

    @property
    def family(self) -> str:
        """What the demo offers this task's checkpoints as (one checkpoint per family): every Sudoku task is
        `sudoku`, whichever rows it was trained on."""
        return self.name

    def describe(self) -> str:
        """What a checkpoint of this task solves, for messages; two checkpoints whose descriptions are equal solve
        the same puzzles (so their views can be pooled)."""
        return self.name

    @abstractmethod
    def view_rules(self, seed: int = 0) -> ViewRules:
        """The task's test-time views (random ones drawn from `seed`) and its checker."""

    @abstractmethod
    def make_case(self, difficulty: str | None, text: str | None, file: str | None, seed: int | None) -> Case:
        """The puzzle `infer` is asked for: a generated one (`difficulty`, `seed`; a random seed when None), one
        typed in (`text`, its --puzzle) or one read from a board file (`file`, its --board). ValueError, one line,
        for a request this task cannot take."""

    def row_text(self, row) -> str:
        """A row as the JSON reports write it."""
        return self.format_row(row)

    def cell_text(self, row) -> str:
        """A row as one character per cell, row-major (the demo's boards)."""
        return self.row_text(row).replace("\n", "")

    @abstractmethod
    def outcome(self, inputs: np.ndarray, answer: np.ndarray | None, board: np.ndarray) -> tuple[str, bool]:
        """A predicted board's outcome in words, and whether it solves the puzzle."""

    def segment_fields(self, inputs: np.ndarray, answer: np.ndarray | None, board: np.ndarray) -> dict:
        """The task's own fields of a segment's record in infer's --json (plain values)."""
        return {}

    def final_fields(self, case: Case, board: np.ndarray) -> dict:
        """The outcome fields ending infer's --json object."""
        return {"solved": self.outcome(case.inputs, case.answer, board)[1]}

    def closing_line(self, case: Case, board: np.ndarray) -> str | None:
        """A last line infer prints under the segments, or None."""
        return None

    @abstractmethod
    def mark_changes(self, picture: str, changed: np.ndarray, color: bool) -> str:
        """`format_row`'s picture with the cells of `changed` [L] bool marked: coloured on a terminal, else by a
        character that still reads in a log."""

    @abstractmethod
    def wrong_cells(self, inputs: np.ndarray, answer: np.ndarray | None, boards: np.ndarray) -> np.ndarray:
        """[K, L] bool: the cells of boards [K, L] drawn as wrong (none when there is no answer to compare)."""

    @abstractmethod
    def frame(self, inputs: np.ndarray, answer: np.ndarray | None, board: np.ndarray, changed: np.ndarray,
              caption) -> "PIL.Image.Image":  # noqa: F821
        """One picture of a predicted board (a GIF frame, a tile of analyze's grid): `caption` a frames.Caption,
        `changed` [L] bool outlined."""

    # --- Scoring many puzzles: evaluate, analyze -------------------------------------------------------------

    @abstractmethod
    def evaluation_rows(self, args: argparse.Namespace) -> EvaluationRows:
        """The rows evaluate is asked for by its flags (--difficulty, --data, --num, --seed, --workers, --limit,
        --min-rating, --max-rating, --rating-buckets, --min-path), each checked: a flag this task cannot take, or
        a bad value, is a ValueError naming it in one line."""

    @abstractmethod
    def evaluation_report(self, rows: EvaluationRows, predictions) -> EvaluationReport:
        """The scores of `predictions` (evaluation.inference.BatchPredictions of the rows, ACT and fixed budget)."""

    @abstractmethod
    def sample_rows(self, count: int, seed: int, difficulty: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets) int8 [count, L] of fresh generated rows, deterministic in `seed` (analyze's); a task
        with difficulties draws `difficulty`'s (its hardest when None)."""
