"""Tasks: what the model sees and how it is scored. `TASKS` maps each --task name to its class."""

import dataclasses
import json
import typing

from ..checkpoint import CheckpointError, read_metadata
from .base import Case, RowSource, Shard, Task, TaskError
from .boardpath import BoardpathTask
from .maze import MazeTask
from .sudoku import SudokuTask
from .sudoku_dataset import SudokuDatasetTask

TASKS: dict[str, type[Task]] = {task.name: task for task in (SudokuTask, SudokuDatasetTask, BoardpathTask, MazeTask)}
DEFAULT_TASK = SudokuTask.name


def default_settings(name: str) -> dict:
    """A task's settings with every default, as TrainConfig.task holds them."""
    return {"name": name, **dataclasses.asdict(TASKS[name].Config())}


def build_task(settings: dict | None) -> Task:
    """A task from its settings ({"name": ..., **config}); None (a checkpoint made before tasks): the original's."""
    settings = dict(settings or {"name": DEFAULT_TASK})
    name = settings.pop("name", DEFAULT_TASK)
    if not isinstance(name, str) or name not in TASKS:
        raise TaskError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    task_class = TASKS[name]
    try:
        _check_types(task_class.Config, settings)
        config = task_class.Config.from_dict(settings)
    except (TypeError, ValueError) as err:
        raise TaskError(f"invalid settings for task {name}: {err}") from None
    return task_class(config)


def _check_types(config_class, settings: dict) -> None:
    """Settings read from a file have the types their config declares (JSON does not tell 4 from 4.0, and a value
    of another type would fail later, deep in the task, with a TypeError)."""
    hints = typing.get_type_hints(config_class)
    for key, value in settings.items():
        if key not in hints:
            raise ValueError(f"unknown setting {key!r}")
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise TypeError(f"{key} must be an object, got {value!r}")
            _check_types(kind, value)
            continue
        allowed = typing.get_args(kind) or (kind,)
        fits = isinstance(value, allowed + ((int,) if float in allowed else ())) and (
            bool in allowed or not isinstance(value, bool)
        )
        if not fits:
            names = " or ".join("None" if t is type(None) else t.__name__ for t in allowed)
            raise TypeError(f"{key} must be {names}, got {value!r}")
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise ValueError(f"{key} {value} does not fit in 64 bits")


def task_from_metadata(metadata: dict[str, str]) -> Task:
    """The task recorded in a checkpoint's metadata (the `task` entry), or the original's when there is none."""
    if "task" not in metadata:
        return build_task(None)
    try:
        settings = json.loads(metadata["task"])
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deep
        raise TaskError("the checkpoint's task metadata is not valid JSON") from None
    if not isinstance(settings, dict | None):
        raise TaskError(f"the checkpoint's task metadata is a JSON {type(settings).__name__}, not an object")
    return build_task(settings)



def ensemble_paths(checkpoint: str, ensemble: str | None, task: Task) -> list[str]:
    """The checkpoint and those of --ensemble (comma-separated), each checked to solve the same task as `task`
    (the checkpoint's); a bad entry is a ValueError naming it."""
    if ensemble is None:
        return [checkpoint]
    others = [part.strip() for part in ensemble.split(",")]
    if not all(others):
        raise ValueError(f"--ensemble must be comma-separated checkpoint files, got {ensemble!r}")
    for path in others:
        try:
            other = task_from_metadata(read_metadata(path))
        except CheckpointError as err:  # its message names the file
            raise ValueError(f"--ensemble {err}") from None
        except ValueError as err:
            raise ValueError(f"--ensemble {path}: {err}") from None
        if other.describe() != task.describe():
            raise ValueError(f"--ensemble {path}: a {other.describe()} checkpoint; {checkpoint} is a {task.describe()}"
                             " checkpoint, and only views of one task can be pooled")  # fmt: skip
    return [checkpoint, *others]

__all__ = [
    "DEFAULT_TASK", "TASKS", "Case", "RowSource", "Shard", "Task", "TaskError", "build_task", "default_settings",
    "ensemble_paths", "task_from_metadata",
]
