"""The checkpoints a demo server holds: one per task, each with a lock so that one model call runs at a time.

Requests run on the server's worker threads; a model's forward passes are serialised by its lock, so
two solves never interleave on one model (and a CPU is not split between them anyway).
"""

import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checkpoint import load_model, read_metadata
from ..evaluation.views import ViewRules
from ..tasks import task_from_metadata
from .trace import Problem, solve

SHIPPED = [Path(__file__).resolve().parents[3] / "checkpoints" / name
           for name in ("hrm-act-sudoku.safetensors", "hrm-act-boardpath.safetensors", "hrm-act-maze.safetensors")]


@dataclass
class LoadedModel:
    name: str  # the checkpoint's file name, shown on the page (the client never names files)
    model: torch.nn.Module
    task: object  # the checkpoint's Task
    device: torch.device
    rules: ViewRules  # the task's views and checker
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def max_segments(self) -> int:
        act = self.model.config.act
        return act.fixed_segments or act.halt_max_steps

    @property
    def size(self) -> int:
        return self.task.side

    def solve(self, problem: Problem, views: int, no_halt: bool = False, gone=None) -> dict:
        """The trace of one solve (`trace.solve`), the model's lock held throughout. `gone()`, asked once the lock
        is held: the client has left, so the solve is skipped (ClientGone) rather than run for no one, which would
        hold up every request queued behind it."""
        with self.lock:
            if gone is not None and gone():
                raise ClientGone
            return solve(self.model, self.rules, problem, views, self.max_segments, self.device, no_halt)


class ClientGone(Exception):
    """The client of a queued solve disconnected before its turn."""


# The puzzles the page knows how to ask for and draw (static/app.js), by task family.
FAMILIES = ("sudoku", "boardpath", "maze")


def task_kind(task) -> str:
    """The demo's name for what a checkpoint solves: `sudoku` (generated or dataset-trained), `boardpath` or
    `maze`."""
    if task.family not in FAMILIES:
        raise ValueError(f"task {task.name} is not one the demo shows ({', '.join(FAMILIES)})")
    return task.family


def load_models(paths, device: torch.device) -> dict[str, LoadedModel]:
    """Each checkpoint by the kind of task it solves; ValueError (one line) for an unreadable checkpoint, a task
    the demo cannot show, or two checkpoints of one kind."""
    models = {}
    for path in map(Path, paths):
        task = task_from_metadata(read_metadata(path))
        try:
            kind = task_kind(task)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        if kind in models:
            raise ValueError(f"two {kind} checkpoints ({models[kind].name}, {path.name}): give one per task")
        models[kind] = LoadedModel(path.name, load_model(path, device=device).eval(), task, device, task.view_rules())
    return models
