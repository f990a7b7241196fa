"""Training on a dataset file: exact resume, epochs in the metrics, the task in the checkpoint, a changed file refused."""

import json

import numpy as np
import pytest
import torch
from test_train import CPU, metrics, tiny_config, without_timing
from training_runs import run_steps, straight_and_resumed, write_dataset

from src.hrm.checkpoint import CheckpointError, load_training_state, read_metadata, training_state_path
from src.hrm.sudoku import generate_batch
from src.hrm.sudoku.files import write_puzzle_csv
from src.hrm.tasks import TaskError, task_from_metadata
from src.hrm.training.run import resume_run


@pytest.fixture
def data(tmp_path):
    return write_dataset(tmp_path, 24)


def dataset_config(path, **settings):
    config = tiny_config(batch=8, lr=3e-3, halt_max_steps=2)
    config.task = {"name": "sudoku-dataset", "data": str(path), "min_rating": None, "max_rating": None,
                   "train_size": None, "augment": True, **settings}
    return config


def test_resume_of_a_dataset_run_is_bit_identical(tmp_path, data):
    config = dataset_config(data, train_size=20)
    straight, split = straight_and_resumed(config, tmp_path, steps=10, stop=5)
    assert without_timing(metrics(split)) == without_timing(metrics(straight))
    a, _ = load_training_state(training_state_path(straight / "checkpoint-10.safetensors"))
    b, _ = load_training_state(training_state_path(split / "checkpoint-10.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_epochs_are_reported_and_limit_the_run(tmp_path, data):
    run = run_steps(dataset_config(data), tmp_path, max_epochs=2)
    records = metrics(tmp_path)
    # Rows drawn so far over the 24 rows of the file; the run stops at the first step that completes epoch 2.
    assert [r["epoch"] for r in records] == [pytest.approx(r["puzzles"] / 24, abs=1e-6) for r in records]
    assert records[-1]["epoch"] >= 2 > records[-2]["epoch"]
    assert "stage" not in records[-1]
    assert run.rows.rows_consumed() == records[-1]["puzzles"]


def test_the_checkpoint_records_its_task(tmp_path, data):
    run_steps(dataset_config(data, min_rating=3), tmp_path, max_steps=1)
    metadata = read_metadata(tmp_path / "checkpoint-1.safetensors")
    assert json.loads(metadata["task"])["min_rating"] == 3
    task = task_from_metadata(metadata)
    assert task.name == "sudoku-dataset" and task.config.data == str(data) and task.config.min_rating == 3


def test_a_changed_data_file_is_refused_on_resume(tmp_path, data):
    run_steps(dataset_config(data), tmp_path / "run", max_steps=2)
    puzzles, solutions = generate_batch([3] * 24, seed=9, workers=1)
    write_puzzle_csv(data, puzzles, solutions, np.arange(24), "generated-hard")
    with pytest.raises(TaskError, match="its rows differ from those the run started with"):
        resume_run(tmp_path / "run", CPU, workers=1)


def test_a_missing_data_file_is_one_error_on_resume(tmp_path, data):
    run_steps(dataset_config(data), tmp_path / "run", max_steps=1)
    data.unlink()
    with pytest.raises((TaskError, CheckpointError), match="puzzle file not found"):
        resume_run(tmp_path / "run", CPU, workers=1)
