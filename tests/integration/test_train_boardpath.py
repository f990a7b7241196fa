"""Training on path-finding boards: the same trainer, exact resume, the fixed think time option."""

import pytest
import torch
from test_train import CPU, metrics, tiny_config, without_timing
from training_runs import run_steps, straight_and_resumed

from src.hrm.boardpath import FLOOR, PATH, generate_boards
from src.hrm.tasks import TaskError, build_task
from src.hrm.training.run import new_run


def boardpath_config(size=6, fixed_segments=None, **settings):
    config = tiny_config(batch=8, lr=3e-3, halt_max_steps=3)
    config.task = {"name": "boardpath", "board_size": size, "wall_prob": 0.3, "min_path": 0, **settings}
    config.model.seq_len, config.model.vocab_size = size * size, 6
    config.model.act.fixed_segments = fixed_segments
    return config


def test_the_rows_are_the_training_stream_of_boards(tmp_path):
    run = run_steps(boardpath_config(), tmp_path, max_steps=1)
    boards, answers = generate_boards(8, 6, 0.3, 0, seed=0, stream=1, workers=1)  # tiny_config's seed 0
    assert (run.rows.queue.inputs[0, :8].numpy() == boards).all()
    assert (run.rows.queue.targets[0, :8].numpy() == answers).all()
    task = build_task(run.config.task)
    mask = task.loss_mask(torch.as_tensor(boards))
    assert (mask.numpy() == (boards == FLOOR)).all() and (answers[~mask.numpy()] != PATH).all()


def test_resume_is_bit_identical(tmp_path):
    config = boardpath_config()
    straight, split = straight_and_resumed(config, tmp_path, steps=9, stop=5)
    assert without_timing(metrics(split)) == without_timing(metrics(straight))
    assert sum(r["halted"] for r in metrics(straight)) > 0


def test_fixed_think_time_halts_every_row_after_exactly_that_many_segments(tmp_path):
    run_steps(boardpath_config(fixed_segments=2), tmp_path, max_steps=6)
    assert [r["halted"] for r in metrics(tmp_path)] == [0, 8, 0, 8, 0, 8]


def test_settings_that_keep_no_board_are_one_error():
    with pytest.raises(TaskError, match="shortest path of at least 40 steps"):
        new_run(boardpath_config(size=4, min_path=40), CPU, workers=1)
