"""Puzzle embeddings in training: ids travel with the rows, only the table rows of trained puzzles move, the table
round-trips through a checkpoint, resume equals the run that did not stop, evaluation falls back to the blank id,
and the flags that do not fit are one-line errors."""

import numpy as np
import pytest
import torch
from test_train import CPU, metrics, without_timing
from test_train_dataset import dataset_config
from test_train_options import TINY
from training_runs import one_line_error, run_steps, straight_and_resumed, write_dataset

from src.hrm.checkpoint import load_model, load_training_state, training_state_path
from src.hrm.evaluation.inference import predict_with_act
from src.hrm.sudoku import generate_batch
from src.hrm.tasks import TaskError, build_task
from src.hrm.train import main
from src.hrm.training.config import RunOptions
from src.hrm.training.loop import train
from src.hrm.training.run import new_run


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def data(tmp_path):
    return write_dataset(tmp_path, 24)


def config_with_ids(data, **settings):
    return dataset_config(data, train_size=20, puzzle_ids=True, **settings)


def test_rows_carry_their_puzzles_id_and_the_table_gets_a_row_per_training_puzzle(tmp_path, data):
    config = config_with_ids(data, augment=False)
    run = new_run(config, CPU, workers=1)
    try:
        assert run.model.config.puzzle_embeddings == 21  # the 20 training rows and the blank
        assert run.carry.high_level.shape == (8, 83, 32)
        puzzles, _ = build_task(config.task).load(config.seed)
        for _ in range(6):  # rows halt and are replaced: each keeps the id of the puzzle it holds
            ids = run.carry.puzzle_ids
            assert bool((ids >= 1).all()) and bool((ids <= 20).all())
            assert np.array_equal(run.carry.inputs.numpy(), puzzles[ids.numpy() - 1])
            train(run, RunOptions(out_dir=tmp_path, max_steps=run.step + 1, log_format="none", checkpoint_every=100))
    finally:
        run.close()


def test_the_table_trains_only_on_its_puzzles_rows_and_round_trips_through_a_checkpoint(tmp_path, data):
    run = new_run(config_with_ids(data), CPU, workers=1)
    used = set()
    try:
        for _ in range(6):
            used |= set(run.carry.puzzle_ids.tolist())
            train(run, RunOptions(out_dir=tmp_path, max_steps=run.step + 1, log_format="none", checkpoint_every=100))
    finally:
        run.close()
    table = run.model.puzzle_embedding.weights
    assert 0 not in used and not table[0].any()  # the blank: no training row carries it
    assert all(bool(table[i].any()) == (i in used) for i in range(21))  # sign-SGD moves the rows a step used only
    assert table.abs().amax().item() <= 6 * 1e-2 + 1e-7  # by at most lr per step
    loaded = load_model(tmp_path / "checkpoint-6.safetensors")
    assert torch.equal(loaded.puzzle_embedding.weights, table)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in run.model.state_dict().items())
    state, meta = load_training_state(training_state_path(tmp_path / "checkpoint-6.safetensors"))
    assert torch.equal(state["carry.puzzle_ids"], run.carry.puzzle_ids) and "queue.ids" in state
    assert meta["config"]["puzzle_emb_lr"] == 1e-2 and meta["config"]["model"]["puzzle_embeddings"] == 21


def test_resume_equals_the_run_that_did_not_stop(tmp_path, data):
    config = config_with_ids(data)
    config.puzzle_emb_lr, config.puzzle_emb_weight_decay = 3e-2, 0.5
    straight, split = straight_and_resumed(config, tmp_path, steps=10, stop=5)
    assert without_timing(metrics(split)) == without_timing(metrics(straight))
    a, _ = load_training_state(training_state_path(straight / "checkpoint-10.safetensors"))
    b, _ = load_training_state(training_state_path(split / "checkpoint-10.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x, y = (load_model(d / "checkpoint-10.safetensors").state_dict() for d in (straight, split))
    assert all(torch.equal(x[k], y[k]) for k in x)


def test_evaluation_of_puzzles_from_elsewhere_uses_the_blank_id(tmp_path, data):
    run_steps(config_with_ids(data), tmp_path, max_steps=2)
    model = load_model(tmp_path / "checkpoint-2.safetensors").eval()
    with torch.no_grad():  # a table row that is not the blank's must not be what infer and evaluate use
        model.puzzle_embedding.weights[1:] += 1.0
    puzzles = torch.as_tensor(generate_batch([2] * 5, seed=3, workers=1)[0].astype(np.int64))
    fallback = predict_with_act(model, puzzles, act_max_steps=2, budget=2)
    with torch.no_grad():
        model.puzzle_embedding.weights[1:] = 5.0
    assert torch.equal(predict_with_act(model, puzzles, act_max_steps=2, budget=2).budget_predictions,
                       fallback.budget_predictions)  # fmt: skip
    assert main_evaluate(tmp_path / "checkpoint-2.safetensors", data) == 0


def main_evaluate(checkpoint, data):
    from src.hrm.evaluate import main as evaluate

    return evaluate([str(checkpoint), "--data", str(data), "--device", "cpu", "--json"])


def test_the_cli_trains_and_refuses_what_does_not_fit(tmp_path, data, capsys):
    out = tmp_path / "run"
    dataset = ["--task", "sudoku-dataset", "--data", str(data)]
    assert main(["--out-dir", str(out), "--max-steps", "2", *TINY, *dataset, "--puzzle-embeddings"]) == 0
    assert load_model(out / "checkpoint-2.safetensors").config.puzzle_embeddings == 25

    fresh = ["--out-dir", str(tmp_path / "other"), "--max-steps", "1", *TINY]
    assert "--puzzle-embeddings applies to --task sudoku-dataset, not sudoku" in one_line_error(capsys, 
        [*fresh, "--puzzle-embeddings"])
    assert "--puzzle-embeddings applies to --task sudoku-dataset, not boardpath" in one_line_error(capsys, 
        [*fresh, "--task", "boardpath", "--puzzle-embeddings"])
    assert "--puzzle-emb-lr applies with --puzzle-embeddings" in one_line_error(capsys, 
        [*fresh, *dataset, "--puzzle-emb-lr", "0.1"])
    assert "--puzzle-emb-weight-decay applies with --puzzle-embeddings" in one_line_error(capsys, 
        [*fresh, "--puzzle-emb-weight-decay", "0.5"])
    assert "must be at most 1" in one_line_error(capsys, 
        [*fresh, *dataset, "--puzzle-embeddings", "--puzzle-emb-lr", "4", "--puzzle-emb-weight-decay", "0.5"])
    resumed = ["--out-dir", str(out), "--resume", "--max-steps", "3", *TINY]
    assert "--puzzle-emb-lr 0.5 differs from the resumed run's 0.01" in one_line_error(capsys, 
        [*resumed, "--puzzle-emb-lr", "0.5"])
    assert main([*resumed, "--puzzle-embeddings"]) == 0  # the same setting as the run's


def test_several_ranks_are_refused_until_their_updates_are_combined(data, monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 2)
    with pytest.raises(TaskError, match="--puzzle-embeddings trains in one process for now, not under torchrun"):
        new_run(config_with_ids(data), CPU, workers=1)
