"""The halting rules against a plain transcription of the original's, row by row; the eval-mode segment limit
reached by rows the Q head never halts; the views' last tie-break; the model flags arriving in the config."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from src.hrm.evaluation.views import choose_answers
from src.hrm.modeling import HRMACT, ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.modeling.act import training_halts
from src.hrm.sudoku import generate_batch
from src.hrm.train_args import config_from_args, parse_args

from halting_reference import reference_training_halt


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(1, 6),
    fixed=st.sampled_from([None, None, None, 1, 3]),
    p=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    schedule=st.booleans(),
    rows=st.lists(st.tuples(st.sampled_from([-1.0, 0.0, 0.5, 2.0]), st.sampled_from([-1.0, 0.0, 0.5]),
                            st.integers(1, 8), st.floats(0, 0.999), st.integers(2, 7)), min_size=1, max_size=12),
)
def test_training_halts_is_the_rule_row_by_row(limit, fixed, p, schedule, rows):
    """Including the edges: a min_halt equal to the segment (exploration holds: strictly more), limit 1,
    the fixed think time, and a halting schedule's values in place of the config's."""
    act = ACTConfig(halt_max_steps=16 if schedule else limit, halt_exploration_probability=0.3 if schedule else p,
                    fixed_segments=fixed)  # fmt: skip
    q_halt, q_continue, segments, explore, min_halt = (torch.tensor(column) for column in zip(*rows))
    extra = (torch.tensor(p), torch.tensor(limit)) if schedule else ()
    halted, last = training_halts(act, q_halt.float(), q_continue.float(), segments, explore.float(), min_halt, *extra)
    for k, row in enumerate(rows):
        want = reference_training_halt(limit, fixed, p, *row)
        assert (bool(halted[k]), bool(last[k])) == want, (row, want)


def tiny(halt_max_steps: int, q_bias) -> HRMACTInner:
    torch.manual_seed(0)
    model = HRMACTInner(HRMACTModelConfig(
        act=ACTConfig(halt_max_steps=halt_max_steps),
        transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64),
    ))  # fmt: skip
    with torch.no_grad():
        model.q_act_head.weight.zero_()  # the Q head says the same for every row and segment: its bias
        model.q_act_head.bias.copy_(torch.tensor(q_bias))
    return model


def test_in_eval_mode_rows_the_q_head_never_halts_stop_exactly_at_the_limit():
    """q_continue > q_halt everywhere: every row runs halt_max_steps segments, halting at the last, not after."""
    inputs = torch.as_tensor(generate_batch([2] * 6, seed=1, workers=1)[0].astype(np.int64))
    for limit in (1, 3, 5):
        model = HRMACT(tiny(limit, (-1.0, 1.0))).eval()
        carry = model.initial_carry(inputs)
        with torch.no_grad():
            for segment in range(1, limit + 1):
                carry, out = model.step(carry, inputs)
                assert bool(out.halted.all()) == (segment == limit), (limit, segment)
        assert carry.segments.tolist() == [limit] * 6
    # And where the Q head says halt, at the first segment.
    model = HRMACT(tiny(5, (1.0, -1.0))).eval()
    with torch.no_grad():
        _, out = model.step(model.initial_carry(inputs), inputs)
    assert bool(out.halted.all())


def test_among_equally_frequent_equally_confident_accepted_answers_the_first_view_wins():
    candidates = np.array([[[1, 2], [3, 4], [5, 6], [3, 4]], [[7, 7], [8, 8], [9, 9], [9, 9]]], dtype=np.int8)
    accepted = np.array([[False, True, True, True], [True, True, False, False]])
    confidence = np.ones((2, 4))
    choice = choose_answers(candidates, accepted, confidence)
    # Row 0: [3, 4] is given twice (views 1 and 3): frequency first. Row 1: views 0 and 1 tie on everything.
    assert choice.winning_view.tolist() == [1, 0] and choice.answers.tolist() == [[3, 4], [7, 7]]
    swapped = choose_answers(candidates[:, [1, 0, 2, 3]], accepted[:, [1, 0, 2, 3]], confidence)
    assert swapped.answers.tolist() == [[3, 4], [8, 8]]  # the first view, whichever answer it holds


def test_each_model_flag_sets_its_own_field():
    """Distinct values for the flags that shape the model and its halting, each found where it acts."""
    argv = ["--hidden-size", "48", "--num-heads", "3", "--num-layers", "2", "--intermediate-size", "96",
            "--high-cycles", "3", "--low-cycles", "5", "--halt-max-steps", "7", "--halt-exploration", "0.25",
            "--batch-size", "9", "--lr", "0.002", "--seed", "11", "--dropout", "0.05"]
    config = config_from_args(parse_args(argv))
    model, t = config.model, config.model.transformers
    assert (t.hidden_size, t.num_heads, t.num_layers, t.intermediate_size) == (48, 3, 2, 96)
    assert (model.high_level_cycles, model.low_level_cycles) == (3, 5)
    assert (model.act.halt_max_steps, model.act.halt_exploration_probability) == (7, 0.25)
    assert (config.batch_size, config.lr, config.seed, t.dropout) == (9, 0.002, 11, 0.05)
    fixed = config_from_args(parse_args(["--fixed-segments", "4", "--high-layers", "1", "--low-layers", "3"]))
    assert fixed.model.act.fixed_segments == 4
    assert (fixed.model.transformers.high_layers, fixed.model.transformers.low_layers) == (1, 3)
