"""The speed options beyond the original: bfloat16 activations against the float64 reference, and the model without the
continue Q value (no second forward, the halt rule against 0, the loss by a direct formula)."""

import math

import pytest
import torch
from test_hrm import float64_weights, random_inputs, random_states, ref_forward, tiny_config, tiny_model

from src.hrm.checkpoint import load_model, save_model
from src.hrm.modeling import HRMACT, ACTConfig, HiddenStates, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.modeling.act import inference_halts, training_halts
from src.hrm.training.loss import sudoku_loss


def with_options(config: HRMACTModelConfig, activation_dtype="float32", q_continue=True) -> HRMACTModelConfig:
    config = HRMACTModelConfig.from_dict(config.to_dict())
    config.activation_dtype, config.act.q_continue = activation_dtype, q_continue
    return config


def test_both_options_are_off_by_default_and_left_out_of_the_config():
    config = HRMACTModelConfig()
    assert (config.activation_dtype, config.act.q_continue) == ("float32", True)
    saved = config.to_dict()
    assert "activation_dtype" not in saved and "q_continue" not in saved["act"]
    on = with_options(config, "bfloat16", False).to_dict()
    assert (on["activation_dtype"], on["act"]["q_continue"]) == ("bfloat16", False)
    assert HRMACTModelConfig.from_dict(on) == with_options(config, "bfloat16", False)


def test_bf16_activations_follow_the_float64_reference_within_bf16_rounding():
    config = with_options(tiny_config(), "bfloat16")
    model = tiny_model(config)
    high, low = random_states(config.transformers.hidden_size)
    inputs = random_inputs()
    out = model(HiddenStates(high, low), inputs)
    assert out.hidden_states.high_level.dtype == out.hidden_states.low_level.dtype == torch.bfloat16
    assert out.output.dtype == torch.bfloat16
    logits, q_halt, _, z_high, z_low = ref_forward(float64_weights(model), config, high.double(), low.double(), inputs)
    # bf16 keeps 8 bits (a relative rounding of 0.4%), and the twelve block passes of a segment compound it: about
    # 4% in all here, against ~140% between two different models.
    for got, want in ((out.hidden_states.high_level, z_high), (out.hidden_states.low_level, z_low), (out.output, logits)):
        assert float((got.detach().double() - want).norm() / want.norm()) < 0.06
    # ...and it is not the float32 model: the option changes the numbers.
    float32 = tiny_model(tiny_config())(HiddenStates(high, low), inputs)
    assert float((float32.hidden_states.high_level.double() - z_high).abs().mean()) < 1e-5
    assert not torch.equal(float32.hidden_states.high_level, out.hidden_states.high_level.float())


def test_bf16_activations_take_gradients_to_every_trained_parameter():
    model = tiny_model(with_options(tiny_config(), "bfloat16"))
    high, low = random_states(model.config.transformers.hidden_size)
    out = model(HiddenStates(high, low), random_inputs())
    (out.output.float().square().sum() + out.q_act_halt.sum() + out.q_act_continue.sum()).backward()
    trained = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trained and all(model.get_parameter(name).grad is not None for name in trained)
    assert all(model.get_parameter(name).dtype != torch.bfloat16 or name.startswith("q_act_head") for name in trained)


def loss_model(q_continue: bool) -> HRMACTInner:
    torch.manual_seed(0)
    config = HRMACTModelConfig(
        transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2),
        act=ACTConfig(halt_exploration_probability=0.0, q_continue=q_continue),
    )
    model = HRMACTInner(config)
    with torch.no_grad():  # a Q head whose halt logit straddles 0 across rows
        model.q_act_head.weight.copy_(torch.randn(2, 32) * 0.5)
        model.q_act_head.bias.copy_(torch.tensor([0.1, 4.0]))
    return model


def rows(model, count=12):
    g = torch.Generator().manual_seed(3)
    targets = torch.randint(1, 10, (count, 81), generator=g)
    inputs = torch.where(torch.rand(count, 81, generator=g) < 0.4, torch.zeros_like(targets), targets)
    hidden = HiddenStates(torch.randn(count, 82, 32, generator=g), torch.randn(count, 82, 32, generator=g))
    return hidden, inputs, targets, torch.arange(count) % 5


def counted_forwards(monkeypatch):
    """Count the model's forwards from here on: the list that grows with each, and the unpatched forward."""
    calls, forward = [], HRMACTInner.forward
    monkeypatch.setattr(HRMACTInner, "forward", lambda self, *a, **k: calls.append(1) or forward(self, *a, **k))
    return calls, forward


def test_without_the_continue_value_one_forward_and_the_halt_loss_alone(monkeypatch):
    model = loss_model(q_continue=False)
    hidden, inputs, targets, segments = rows(model)
    calls, forward = counted_forwards(monkeypatch)
    result = sudoku_loss(model, hidden, inputs, targets, segments)
    assert len(calls) == 1  # no second forward for a target
    with torch.no_grad():
        out = forward(model, hidden, inputs)
    assert torch.equal(out.q_act_continue, torch.zeros_like(out.q_act_continue))
    # The halt half of the original's Q loss, by a direct formula in float64.
    q = out.q_act_halt.double().tolist()
    solved = result.row_solved.tolist()
    bce = [max(x, 0.0) - x * float(y) + math.log1p(math.exp(-abs(x))) for x, y in zip(q, solved)]
    assert float(result.q_act_loss.detach()) == pytest.approx(sum(b / 2 for b in bce) / len(bce), rel=1e-5)
    # Rows halt where the halt logit is above 0 (exploration is off, no row at the limit).
    assert result.is_halted.tolist() == [x > 0 for x in out.q_act_halt.tolist()]
    assert 0 < sum(result.is_halted.tolist()) < len(q)


def test_the_default_still_makes_the_target_with_a_second_forward(monkeypatch):
    model = loss_model(q_continue=True)
    hidden, inputs, targets, segments = rows(model)
    calls, _ = counted_forwards(monkeypatch)
    sudoku_loss(model, hidden, inputs, targets, segments)
    assert len(calls) == 2


def test_the_halt_rules_compare_q_halt_with_zero_without_the_continue_value():
    act = ACTConfig(q_continue=False)
    q_halt = torch.tensor([-1.0, -0.01, 0.01, 2.0])
    zeros = torch.zeros(4)
    assert inference_halts(act, q_halt, zeros, 3).tolist() == [False, False, True, True]
    halted, _ = training_halts(act, q_halt, zeros, torch.full((4,), 3), torch.ones(4), torch.full((4,), 2))
    assert halted.tolist() == [False, False, True, True]
    # The step API halts the same rows at inference.
    model = HRMACT(loss_model(q_continue=False)).eval()
    _, inputs, _, _ = rows(model.inner, 6)
    carry, out = model.step(model.initial_carry(inputs), inputs)
    assert torch.equal(out.q_continue, torch.zeros(6))
    assert out.halted.tolist() == (torch.sigmoid(out.q_halt) > 0.5).tolist()


def test_both_options_round_trip_through_a_checkpoint(tmp_path):
    model = tiny_model(with_options(tiny_config(), "bfloat16", False))
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert (loaded.config.activation_dtype, loaded.config.act.q_continue) == ("bfloat16", False)
    high, low = random_states(model.config.transformers.hidden_size)
    inputs = random_inputs()
    a, b = model(HiddenStates(high, low), inputs), loaded(HiddenStates(high, low), inputs)
    assert torch.equal(a.output, b.output) and torch.equal(a.q_act_continue, torch.zeros_like(b.q_act_continue))


def test_bf16_activations_stay_bf16_with_learned_initial_states():
    """The straight-through term that gives the initial states their gradient must not widen the stream."""
    config = with_options(tiny_config(), "bfloat16")
    config.learned_initial_states = True
    model = tiny_model(config)
    states = model.restart(HiddenStates(*random_states(config.transformers.hidden_size)), torch.ones(2, dtype=torch.bool))
    out = model(states, random_inputs())
    assert out.hidden_states.high_level.dtype == out.hidden_states.low_level.dtype == torch.bfloat16
    out.output.float().sum().backward()
    assert model.initial_hidden_states_params.high_level.grad is not None
