"""Halting schedules in tiny CPU runs: they train, resume exactly, really limit the segments, are saved with the run,
and bad values or combinations are one line."""

import dataclasses

import pytest
import torch
from test_train import metrics, run_steps, tiny_config, without_timing
from test_train_options import TINY
from training_runs import train_exit_code

from src.hrm.checkpoint import load_model, load_training_state, training_state_path
from src.hrm.train import main
from src.hrm.training.config import Autocast
from src.hrm.training.halt_schedule import MaxStepsSchedule
from src.hrm.training.loop import compiled_segment_loss, train_step
from src.hrm.training.run import new_run

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def scheduled(exploration=None, max_steps=None, **kwargs):
    return dataclasses.replace(
        tiny_config(**kwargs), halt_exploration_schedule=exploration, halt_max_steps_schedule=max_steps
    )


def same_weights(a, b, step):
    a = load_model(a / f"checkpoint-{step}.safetensors").state_dict()
    b = load_model(b / f"checkpoint-{step}.safetensors").state_dict()
    return all(torch.equal(a[name], b[name]) for name in a)


def test_a_constant_exploration_schedule_is_the_default_run(tmp_path):
    """The schedule's tensor takes the place of the config's number in the same float32 comparison: same run."""
    run_steps(tiny_config(halt_max_steps=4), tmp_path / "plain", max_steps=6)
    run_steps(scheduled("0.1:0.1:3", halt_max_steps=4), tmp_path / "scheduled", max_steps=6)
    records = metrics(tmp_path / "scheduled")
    assert [r.pop("halt_exploration") for r in records] == [pytest.approx(0.1, abs=1e-15)] * 6
    assert without_timing(records) == without_timing(metrics(tmp_path / "plain"))
    assert same_weights(tmp_path / "plain", tmp_path / "scheduled", 6)


@pytest.mark.parametrize("exploration, max_steps", [("0.9:0.0:6", None), (None, "1:6")])
def test_each_schedule_trains_and_a_resumed_run_is_the_uninterrupted_one(tmp_path, exploration, max_steps):
    config = scheduled(exploration, max_steps, halt_max_steps=4, lr=3e-3)
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_steps(config, straight, max_steps=9, checkpoint_every=4)
    run_steps(config, split, max_steps=5, checkpoint_every=4)
    run_steps(None, split, max_steps=9, checkpoint_every=4, resume=True)
    records = metrics(straight)
    assert without_timing(metrics(split)) == without_timing(records)
    assert same_weights(straight, split, 9)
    key = "halt_exploration" if exploration else "halt_max_steps"
    values = [r[key] for r in records]
    assert values[0] > values[-1] if exploration else values[0] < values[-1]  # it moved
    assert sum(r["halted"] for r in records) >= 8  # rows came and went
    _, meta = load_training_state(training_state_path(split / "checkpoint-9.safetensors"))
    saved = meta["config"]
    assert (saved["halt_exploration_schedule"], saved["halt_max_steps_schedule"]) == (exploration, max_steps)


def test_the_scheduled_limit_halts_the_rows_that_reach_it(tmp_path):
    """Exploration 1: every row wants at least 2 segments and most many more, so the limit decides: no carried row
    is past the step's limit, every row that reached it halted, and rows run up to it."""
    config = scheduled(None, "2:8", halt_max_steps=6)
    config.model.act.halt_exploration_probability = 1.0
    run = new_run(config, CPU, workers=1)
    schedule, reached, forced = MaxStepsSchedule.parse("2:8"), set(), set()
    try:
        for done in range(12):
            limit = schedule.at(done, 6)
            before = run.carry.segments.clone()
            train_step(run, Autocast("cpu", None))
            after = run.carry.segments
            assert int(after.max()) <= limit, done
            past = before + 1 > limit
            assert (after[past] == 0).all(), done  # halted: a fresh row at segment 0
            if past.any():
                forced.add(limit)
            if int(after.max()) == limit:
                reached.add(limit)
    finally:
        run.close()
    # The limit grew from 2 to 6; rows ran up to it, early and late, and it halted them below the model's 6.
    assert {2, 6} <= reached and 3 in forced


@pytest.mark.slow  # over 10 s on 2 cores
def test_a_compiled_step_takes_the_changing_values_without_compiling_again():
    """The values reach the compiled loss as tensors: one graph for every step, and each step's limit holds."""
    import torch._dynamo

    config = scheduled("0.5:0.1:4", "2:4", halt_max_steps=6)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled, eager = new_run(config, CPU, workers=1), new_run(config, CPU, workers=1)
    loss_fn, autocast = compiled_segment_loss("default"), Autocast("cpu", None)
    try:
        first = train_step(compiled, autocast, loss_fn)[0]
        assert float(first) == pytest.approx(float(train_step(eager, autocast)[0]), rel=1e-4)  # the same step
        for done, limit in enumerate([3, 4, 5, 6, 6, 6], start=1):  # 2 + 4·min(k, 4) // 4
            train_step(compiled, autocast, loss_fn)
            assert int(compiled.carry.segments.max()) <= limit, done
    finally:
        compiled.close()
        eager.close()
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    assert torch._dynamo.utils.counters["frames"]["ok"] == 1


def test_the_schedules_are_saved_with_the_run_and_kept_on_resume(tmp_path, capsys):
    out = tmp_path / "run"
    flags = ["--halt-exploration-schedule", "0.5:0.1:4", "--halt-max-steps-schedule", "2:4", "--halt-max-steps", "4"]
    assert main([*TINY, "--out-dir", str(out), "--max-steps", "2", *flags]) == 0
    _, meta = load_training_state(training_state_path(out / "checkpoint-2.safetensors"))
    assert (meta["config"]["halt_exploration_schedule"], meta["config"]["halt_max_steps_schedule"]) == (
        "0.5:0.1:4", "2:4"
    )
    assert [r["halt_max_steps"] for r in metrics(out)] == [2, 2]
    assert main([*TINY, "--out-dir", str(out), "--max-steps", "3", "--resume"]) == 0
    assert [r["halt_max_steps"] for r in metrics(out)] == [2, 2, 3]
    assert main([*TINY, "--out-dir", str(out), "--max-steps", "4", "--resume", "--halt-max-steps-schedule", "3:4"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --halt-max-steps-schedule 3:4 differs from the resumed run's 2:4; a run keeps its settings"
    ]


@pytest.mark.parametrize("extra, message", [
    (["--halt-exploration-schedule", "0.5:2:10"], "START and END are probabilities between 0 and 1"),
    (["--halt-max-steps-schedule", "4"], "expected START:STEPS"),
    (["--halt-max-steps-schedule", "16:100"], "starts at 16, which is not below --halt-max-steps 16"),
    (["--halt-max-steps-schedule", "2:100", "--fixed-segments", "3"], "--fixed-segments turns it off"),
    (["--halt-exploration-schedule", "0.5:0:9", "--fixed-segments", "3"], "--fixed-segments turns it off"),
    (["--halt-exploration-schedule", "0.5:0:9", "--halt-exploration", "0.2"], "drop --halt-exploration"),
])  # fmt: skip
def test_bad_schedules_are_one_line(tmp_path, capsys, extra, message):
    assert train_exit_code([*TINY, "--out-dir", str(tmp_path / "run"), "--max-steps", "1", *extra]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line
    assert not (tmp_path / "run").exists()
