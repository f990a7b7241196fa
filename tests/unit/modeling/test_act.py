"""The step API: the trainer's segment loss and `infer`'s halting, reproduced one `step` at a time."""

import numpy as np
import torch

from src.hrm.evaluation.inference import predict_with_act
from src.hrm.modeling import HRMACT, ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.sudoku import generate_batch
from src.hrm.training.loss import exploration_draws, segment_loss

from halting_reference import reference_training_halt


def tiny(halt_max_steps=4, q_bias=None, fixed_segments=None) -> HRMACTInner:
    torch.manual_seed(0)
    model = HRMACTInner(HRMACTModelConfig(
        act=ACTConfig(halt_max_steps=halt_max_steps, fixed_segments=fixed_segments),
        transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64),
    ))  # fmt: skip
    if q_bias is not None:
        with torch.no_grad():
            model.q_act_head.weight.normal_(0, 0.3)
            model.q_act_head.bias.copy_(torch.tensor(q_bias))
    return model


def puzzles(n=16, seed=0):
    return torch.as_tensor(generate_batch([2] * n, seed=seed, workers=1)[0].astype(np.int64))


def test_training_steps_halt_and_predict_as_the_segment_loss():
    """Same draws, same model: step() gives the segment loss's logits and halts, segment after segment, and both
    halt each row where the original's rule, written out row by row, says."""
    inner = tiny(q_bias=(0.0, 0.0))
    model = HRMACT(inner).train()
    inputs = puzzles()
    carry = model.initial_carry(inputs)
    hidden, segments = inner.initial_hidden_states, torch.zeros(16, dtype=torch.long)
    hidden = type(hidden)(hidden.high_level.expand(16, 82, 32), hidden.low_level.expand(16, 82, 32))
    for _ in range(5):
        step_generator, loss_generator = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        carry, out = model.step(carry, inputs, step_generator)
        draws = exploration_draws(inner, 16, "cpu", loss_generator)
        result = segment_loss(inner, hidden, inputs, inputs, segments, *draws)
        assert torch.equal(out.halted, result.is_halted)
        with torch.no_grad():
            q = inner(hidden, inputs)
        act = inner.config.act
        for k in range(16):
            want, _ = reference_training_halt(
                act.halt_max_steps, act.fixed_segments, act.halt_exploration_probability, float(q.q_act_halt[k]),
                float(q.q_act_continue[k]), int(segments[k]) + 1, float(draws[0][k]), int(draws[1][k]))  # fmt: skip
            assert bool(out.halted[k]) == want, k
        assert torch.allclose(carry.hidden_states.high_level, result.hidden_states.high_level)
        # The loop's own bookkeeping: halted rows restart from the initial states at segment 0.
        restart = result.is_halted
        initial = inner.initial_hidden_states
        hidden = type(hidden)(
            torch.where(restart[:, None, None], initial.high_level, result.hidden_states.high_level),
            torch.where(restart[:, None, None], initial.low_level, result.hidden_states.low_level),
        )
        segments = torch.where(restart, 0, segments + 1)
    assert bool(out.all_halted) == bool(out.halted.all())


def test_eval_steps_halt_where_infer_halts():
    inner = tiny(halt_max_steps=6, q_bias=(0.0, 0.4)).eval()
    inputs = puzzles(32, seed=1)
    expected = predict_with_act(inner, inputs, act_max_steps=6, budget=6)
    model = HRMACT(inner).eval()
    carry = model.initial_carry(inputs)
    halted_at = torch.zeros(32, dtype=torch.long)
    with torch.no_grad():
        for segment in range(1, 7):
            carry, out = model.step(carry, inputs)
            halted_at = torch.where((halted_at == 0) & out.halted, segment, halted_at)
            if out.all_halted:
                break
    assert halted_at.tolist() == expected.act_segments.tolist()
    # Rows halt at different segments, all by the Q head; rows that reach the limit are
    # test_halting_reference.py's test_in_eval_mode_rows_the_q_head_never_halts_stop_exactly_at_the_limit.
    assert 1 < len(set(halted_at.tolist()))


def test_fixed_think_time_in_both_modes():
    model = HRMACT(tiny(fixed_segments=3))
    inputs = puzzles(4)
    for mode in (model.train, model.eval):
        mode()
        carry = model.initial_carry(inputs)
        flags = []
        for _ in range(6):
            carry, out = model.step(carry, inputs, torch.Generator().manual_seed(0))
            flags.append(bool(out.all_halted))
        assert flags == [False, False, True, False, False, True]
