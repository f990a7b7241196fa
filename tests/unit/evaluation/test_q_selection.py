"""Choosing among views by the Q head alone (no checker): against a plain loop over the views, and the margins
run_views records against the model's own Q head."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_scaling import CPU, PUZZLES, SUDOKU, tiny_model

from src.hrm.evaluation.inference import initial_hidden_states
from src.hrm.evaluation.scaling import run_views
from src.hrm.evaluation.views import Q_RULES, choose_by_q


def reference_choice(halted, segments, margin, rule) -> int:
    """The view a reader would pick, one puzzle at a time."""
    best = 0
    for k in range(1, len(halted)):
        if rule == "q-margin":
            better = margin[k] > margin[best]
        elif halted[k] != halted[best]:
            better = bool(halted[k])
        elif halted[k] and segments[k] != segments[best]:
            better = segments[k] < segments[best]
        else:
            better = margin[k] > margin[best]
        if better:
            best = k
    return best


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_each_rule_picks_the_view_a_plain_loop_picks(data):
    count, views = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6))
    halted = np.array(data.draw(st.lists(st.booleans(), min_size=count * views, max_size=count * views)))
    segments = np.array(data.draw(st.lists(st.integers(1, 4), min_size=count * views, max_size=count * views)))
    # Few distinct margins, so that ties (which go to the first view) are common.
    margin = np.array(data.draw(st.lists(st.sampled_from([-1.5, 0.0, 0.25, 2.0]), min_size=count * views,
                                         max_size=count * views)), dtype=np.float32)  # fmt: skip
    halted, segments, margin = (a.reshape(count, views) for a in (halted, segments, margin))
    candidates = np.arange(count * views * 3, dtype=np.int64).reshape(count, views, 3)  # each view its own answer
    for rule in Q_RULES:
        chosen = choose_by_q(candidates, halted, segments, margin, rule)
        for row in range(count):
            k = reference_choice(halted[row], segments[row], margin[row], rule)
            assert (chosen[row] == candidates[row, k]).all(), (rule, row, k)


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="halt-first"):
        choose_by_q(np.zeros((1, 1, 1)), np.zeros((1, 1), bool), np.ones((1, 1)), np.zeros((1, 1)), "vote")


def test_the_recorded_margin_is_the_q_head_at_each_views_last_segment():
    model = tiny_model(seed=2)
    run = run_views([model], PUZZLES, 3, SUDOKU, batch_size=6, device=CPU)
    views = SUDOKU.transforms(len(PUZZLES), 3)
    seen = torch.as_tensor(views.apply(np.repeat(PUZZLES, 3, axis=0)).astype(np.int64))
    hidden = initial_hidden_states(model)  # every view runs every segment here: no rows leave the batch
    expected = np.zeros(len(seen), dtype=np.float32)
    with torch.inference_mode():
        for segment in range(1, int(run.segments.max()) + 1):
            out = model(hidden, seen)
            hidden = out.hidden_states
            last = run.segments.reshape(-1) == segment
            expected[last] = (out.q_act_halt.float() - out.q_act_continue.float()).numpy()[last]
    assert len(set(run.segments.reshape(-1).tolist())) > 1
    np.testing.assert_allclose(run.q_margin.reshape(-1), expected, rtol=1e-5, atol=1e-5)
    # One view: both rules give the model alone.
    one = run_views([model], PUZZLES, 1, SUDOKU, batch_size=6, device=CPU)
    for rule in Q_RULES:
        assert (one.choose_by_q(rule) == one.candidates[:, 0]).all()
