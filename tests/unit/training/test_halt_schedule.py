"""Halting schedules: their values by step against the direct formulas, on the host and on the device alike, and the
training halts under a scheduled limit and probability."""

import pytest
import torch

from src.hrm.modeling import ACTConfig
from src.hrm.modeling.act import training_halts
from src.hrm.training.halt_schedule import ExplorationSchedule, HaltingSchedule, MaxStepsSchedule

STEPS = [0, 1, 2, 3, 7, 99, 100, 101, 250, 10**9]


def test_exploration_goes_linearly_from_start_to_end_then_stays():
    schedule = ExplorationSchedule.parse("0.5:0.1:100")
    for done in STEPS:
        want = 0.5 - 0.4 * min(done, 100) / 100
        assert schedule.at(done) == pytest.approx(want, abs=1e-15), done
        on_device = schedule.at(torch.tensor(done))
        assert on_device.dtype == torch.float64 and float(on_device) == schedule.at(done), done
    assert schedule.at(0) == 0.5 and schedule.at(100) == schedule.at(10**9) == pytest.approx(0.1, abs=1e-15)
    assert ExplorationSchedule.parse("0:1:4").at(1) == 0.25  # it may rise too


def test_the_limit_grows_from_start_to_the_models_limit_in_whole_segments():
    schedule = MaxStepsSchedule.parse("2:10")
    # 2 + 14·min(k, 10) // 10, written out.
    want = {0: 2, 1: 3, 2: 4, 3: 6, 7: 11, 99: 16, 100: 16, 101: 16, 250: 16, 10**9: 16}
    for done in STEPS:
        assert schedule.at(done, 16) == want[done], done
        assert int(schedule.at(torch.tensor(done), 16)) == want[done], done
    assert [MaxStepsSchedule.parse("1:6").at(k, 4) for k in range(8)] == [1, 1, 2, 2, 3, 3, 4, 4]


@pytest.mark.parametrize("text, why", [
    ("0.5:0.1", "expected START:END:STEPS"), ("a:0.1:5", "expected START:END:STEPS"),
    ("0.5:0.1:2.5", "expected START:END:STEPS"), ("1.5:0.1:5", "between 0 and 1"), ("0.5:-0.1:5", "between 0 and 1"),
    ("0.5:0.1:0", "positive"),
])  # fmt: skip
def test_bad_exploration_schedules_say_why(text, why):
    with pytest.raises(ValueError, match=why):
        ExplorationSchedule.parse(text)


@pytest.mark.parametrize("text, why", [
    ("4", "expected START:STEPS"), ("4:5:6", "expected START:STEPS"), ("x:5", "expected START:STEPS"),
    ("0:5", "positive"), ("2:0", "positive"),
])  # fmt: skip
def test_bad_max_steps_schedules_say_why(text, why):
    with pytest.raises(ValueError, match=why):
        MaxStepsSchedule.parse(text)


def test_the_canonical_text_parses_back_to_the_same_schedule():
    for text in ("0.5:0.1:2000", "1:0:3", "0.25:0.25:1"):
        schedule = ExplorationSchedule.parse(text)
        assert ExplorationSchedule.parse(str(schedule)) == schedule
    assert str(ExplorationSchedule.parse("1:0:3")) == "1.0:0.0:3" and str(MaxStepsSchedule.parse("02:7")) == "2:7"


def test_the_run_schedule_counts_steps_on_the_device_and_records_what_each_step_used():
    assert HaltingSchedule.of(None, None, 16, "cpu") is None
    schedule = HaltingSchedule.of("0.5:0.1:4", "2:4", 6, "cpu")
    schedule.start(1)  # one step done: a resumed run's
    for step in range(2, 9):
        probability, limit = schedule.values()
        record = schedule.record(step)
        assert float(probability) == record["halt_exploration"] == 0.5 - 0.4 * min(step - 1, 4) / 4
        assert int(limit) == record["halt_max_steps"] == 2 + 4 * min(step - 1, 4) // 4
        schedule.advance()
    probability, limit = HaltingSchedule.of(None, "2:4", 6, "cpu").values()
    assert probability is None and int(limit) == 2


def test_a_scheduled_limit_halts_every_row_past_it():
    act = ACTConfig(halt_max_steps=16, halt_exploration_probability=0.0)
    next_segments = torch.arange(1, 9)
    never = torch.full((8,), -1.0)  # the Q head always asks to continue
    draws = torch.ones(8), torch.full((8,), 2)
    halted, last = training_halts(act, never, never.abs(), next_segments, *draws, max_steps=torch.tensor(4))
    assert last.tolist() == halted.tolist() == [False] * 4 + [True] * 4  # past 4: the 5th segment and any later
    halted, last = training_halts(act, never, never.abs(), next_segments, *draws)
    assert not halted.any() and not last.any()  # the model's 16


def test_a_scheduled_probability_replaces_the_models():
    act = ACTConfig(halt_max_steps=16, halt_exploration_probability=0.0)
    stop = torch.ones(4)  # the Q head always asks to halt
    next_segments = torch.full((4,), 2)
    explore_draw, min_halt = torch.tensor([0.1, 0.3, 0.5, 0.7]), torch.full((4,), 5)
    halted, _ = training_halts(act, stop, -stop, next_segments, explore_draw, min_halt, torch.tensor(0.4))
    assert halted.tolist() == [False, False, True, True]  # drawn under 0.4: explored, must run past 5 segments
    halted, _ = training_halts(act, stop, -stop, next_segments, explore_draw, min_halt)
    assert halted.all()
