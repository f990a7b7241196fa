"""Tasks by name and from checkpoint metadata; checkpoints made before tasks existed are the original's task."""

import json
from pathlib import Path

import pytest
import torch

from src.hrm.checkpoint import read_metadata
from src.hrm.tasks import TASKS, TaskError, build_task, default_settings, task_from_metadata
from src.hrm.tasks.sudoku import SudokuTask

SHIPPED = Path(__file__).parents[3] / "checkpoints" / "hrm-act-sudoku.safetensors"


def test_every_task_round_trips_through_its_settings():
    for name, task_class in TASKS.items():
        settings = default_settings(name)
        if name == "sudoku-dataset":
            settings["data"] = "some.csv"
        task = build_task(settings)
        assert isinstance(task, task_class) and task.settings() == settings
        assert build_task(json.loads(json.dumps(task.settings()))).config == task.config


def test_a_checkpoint_without_a_task_is_the_original_sudoku():
    assert "task" not in read_metadata(SHIPPED)  # trained before tasks existed
    task = task_from_metadata(read_metadata(SHIPPED))
    assert isinstance(task, SudokuTask) and task.config == SudokuTask.Config()
    assert (task.vocab_size, task.seq_len) == (10, 81)


def test_unknown_tasks_and_bad_settings_are_one_line_errors():
    with pytest.raises(TaskError, match="unknown task 'tetris'; known: sudoku, sudoku-dataset, boardpath, maze"):
        build_task({"name": "tetris"})
    with pytest.raises(TaskError, match="invalid settings for task sudoku-dataset"):
        build_task({"name": "sudoku-dataset", "data": "x.csv", "colour": "red"})
    with pytest.raises(TaskError, match="invalid settings for task sudoku"):
        build_task({"name": "sudoku", "curriculum": {"window": 0}})
    with pytest.raises(TaskError, match="not valid JSON"):
        task_from_metadata({"task": "{"})


def test_sudoku_loss_counts_the_blanks_only():
    inputs = torch.tensor([[0, 5, 0, 9]])
    assert SudokuTask(SudokuTask.Config()).loss_mask(inputs).tolist() == [[True, False, True, False]]
