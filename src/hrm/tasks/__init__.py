"""Tasks: what the model sees and how it is scored. `TASKS` maps each --task name to its class."""

import dataclasses
import json

from .base import RowSource, Task, TaskError
from .boardpath import BoardpathTask
from .sudoku import SudokuTask
from .sudoku_dataset import SudokuDatasetTask

TASKS: dict[str, type[Task]] = {task.name: task for task in (SudokuTask, SudokuDatasetTask, BoardpathTask)}
DEFAULT_TASK = SudokuTask.name


def default_settings(name: str) -> dict:
    """A task's settings with every default, as TrainConfig.task holds them."""
    return {"name": name, **dataclasses.asdict(TASKS[name].Config())}


def build_task(settings: dict | None) -> Task:
    """A task from its settings ({"name": ..., **config}); None (a checkpoint made before tasks): the original's."""
    settings = dict(settings or {"name": DEFAULT_TASK})
    name = settings.pop("name", DEFAULT_TASK)
    if name not in TASKS:
        raise TaskError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    task_class = TASKS[name]
    try:
        config = task_class.Config.from_dict(settings)
    except (TypeError, ValueError) as err:
        raise TaskError(f"invalid settings for task {name}: {err}") from None
    return task_class(config)


def task_from_metadata(metadata: dict[str, str]) -> Task:
    """The task recorded in a checkpoint's metadata (the `task` entry), or the original's when there is none."""
    if "task" not in metadata:
        return build_task(None)
    try:
        return build_task(json.loads(metadata["task"]))
    except json.JSONDecodeError:
        raise TaskError("the checkpoint's task metadata is not valid JSON") from None


__all__ = ["DEFAULT_TASK", "TASKS", "RowSource", "Task", "TaskError", "build_task", "default_settings", "task_from_metadata"]
