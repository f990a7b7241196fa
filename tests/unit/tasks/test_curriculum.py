"""The device-side curriculum against a plain-Python re-implementation of the original's rule."""

import numpy as np
import pytest
import torch

from src.hrm.tasks.curriculum import STAGE_PROBABILITIES, Curriculum, CurriculumConfig, reachable_stages


def python_curriculum(accuracies, window, threshold, min_steps, start_stage=0):
    """The original's rule step by step: a list of the last `window` accuracies starting as zeros."""
    recent = [0.0] * window
    stage, since, events = start_stage, 0, []
    for step, accuracy in enumerate(accuracies, start=1):
        recent = recent[1:] + [accuracy]
        since += 1
        if sum(recent) / window >= threshold and since >= min_steps and stage < 4:
            stage += 1
            since = 0
            events.append(step)
    return events, stage


def run_device(curriculum, accuracies):
    events = []
    for step, accuracy in enumerate(accuracies, start=1):
        graduated, _ = curriculum.update(torch.tensor(accuracy))
        if bool(graduated):
            events.append(step)
    return events


def scripted_accuracies(seed=0, steps=900):
    """A rising, noisy accuracy curve in multiples of 1/8 (exact in float32 and float64 alike)."""
    rng = np.random.default_rng(seed)
    ramp = np.clip(np.arange(steps) / 150, 0, 1)
    return [float(x) for x in np.round((ramp * 0.95 + rng.uniform(-0.05, 0.06, steps)) * 8).clip(0, 8) / 8]


@pytest.mark.parametrize("window,threshold,min_steps,start", [(20, 0.85, 30, 0), (16, 0.75, 5, 2), (300, 0.85, 300, 0)])
def test_graduation_steps_match_python_reference(window, threshold, min_steps, start):
    accuracies = scripted_accuracies(steps=1500)
    want_events, want_stage = python_curriculum(accuracies, window, threshold, min_steps, start)
    config = CurriculumConfig(window=window, threshold=threshold, min_steps=min_steps, start_stage=start)
    curriculum = Curriculum(config)
    assert run_device(curriculum, accuracies) == want_events
    assert int(curriculum.stage) == want_stage
    assert want_events, "the scripted curve must graduate at least once for the test to mean something"


def test_window_starts_with_zeros():
    """With perfect accuracy from the first step, the 85% mean of a zero-filled window of 300 takes 255 steps."""
    curriculum = Curriculum(CurriculumConfig(window=300, threshold=0.85, min_steps=0))
    assert run_device(curriculum, [1.0] * 255)[:1] == [255]


def test_min_steps_between_graduations_and_last_stage():
    curriculum = Curriculum(CurriculumConfig(window=1, threshold=0.5, min_steps=3))
    events = run_device(curriculum, [1.0] * 20)
    assert events == [3, 6, 9, 12]  # four graduations reach stage 4, then it stays there
    assert int(curriculum.stage) == 4
    _, ready = curriculum.update(torch.tensor(1.0))
    assert bool(ready)  # the test passes but there is no stage left


def test_probabilities_follow_the_stage_and_state_round_trips():
    """A copy loaded between graduations goes on exactly as the original and as the Python rule.

    The next graduation comes on the first step after the load, which only a copy with the original's
    steps since the last graduation, accuracy window and window position makes.
    """
    config = CurriculumConfig(window=4, threshold=0.75, min_steps=3)
    warm_up, after = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    events, stage = python_curriculum(warm_up + after, window=4, threshold=0.75, min_steps=3)
    assert events == [4, 7, 13] and stage == 3
    a = Curriculum(config)
    assert run_device(a, warm_up) == [4]
    assert int(a.stage) == 1 and int(a.steps_since) == 2  # below the last stage, part-way to the next graduation
    b = Curriculum(config)
    b.load_state_dict({k: v.clone() for k, v in a.state_dict().items()})
    assert torch.equal(b.probabilities(), torch.tensor(STAGE_PROBABILITIES[1]))
    on_a, on_b = run_device(a, after), run_device(b, after)
    assert on_b == on_a == [step - len(warm_up) for step in events[1:]] == [1, 7]
    assert torch.equal(b.probabilities(), torch.tensor(STAGE_PROBABILITIES[3]))
    for name, tensor in a.state_dict().items():
        assert torch.equal(b.state_dict()[name], tensor), name
    with pytest.raises(ValueError, match="window"):
        Curriculum(CurriculumConfig(window=5)).load_state_dict(a.state_dict())


def test_stage_table_rows_sum_to_one_and_reachable_stages():
    for row in STAGE_PROBABILITIES:
        assert sum(row) == pytest.approx(1.0)
    assert list(reachable_stages(0)) == [0, 1]
    assert list(reachable_stages(4)) == [4]
    with pytest.raises(ValueError, match="start stage"):
        CurriculumConfig(start_stage=5)
