"""The model options beyond the original (learned positions, dropout, learned initial states, per-level depths),
each against a direct computation, and each off by default without a trace in the model or its config."""

import copy
import dataclasses
import json
import math

import pytest
import torch
from test_hrm import BATCH, TOKENS, expected_counts, float64_weights, random_inputs, random_states, ref_forward

from src.hrm.checkpoint import load_model, save_model
from src.hrm.modeling import HRMACT, HiddenStates, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.training.optimizer import build_optimizer

HIDDEN = 32


def config_with(cycles=(2, 2), **options) -> HRMACTModelConfig:
    """The tiny model of test_hrm with options: model fields, or transformers fields (dropout, high/low_layers)."""
    transformer_fields = {f.name for f in dataclasses.fields(TransformerConfig)}
    transformers = {"num_layers": 2, "hidden_size": HIDDEN, "num_heads": 2, "expansion": 12.0}
    transformers.update((k, v) for k, v in options.items() if k in transformer_fields)
    model = {k: v for k, v in options.items() if k not in transformer_fields}
    return HRMACTModelConfig(
        high_level_cycles=cycles[0], low_level_cycles=cycles[1], transformers=TransformerConfig(**transformers), **model
    )


def build(config: HRMACTModelConfig, seed: int = 0) -> HRMACTInner:
    torch.manual_seed(seed)
    model = HRMACTInner(config)
    with torch.no_grad():  # a Q head that reads the CLS state (it starts at zero), drawn the same for every option
        generator = torch.Generator().manual_seed(seed + 1)
        model.q_act_head.weight.copy_(torch.randn(model.q_act_head.weight.shape, generator=generator) * 0.5)
    return model


def run(model: HRMACTInner, states=None, inputs=None):
    states = states or HiddenStates(*random_states(HIDDEN))
    return model(states, random_inputs() if inputs is None else inputs)


def weighted_sum(out) -> torch.Tensor:
    """A loss that every output entry reaches with its own weight."""
    generator = torch.Generator().manual_seed(9)
    weights = torch.randn(out.output.shape, generator=generator)
    return (out.output * weights).sum() + (out.q_act_halt - 2 * out.q_act_continue).sum()


def shared_weights_equal(a: HRMACTInner, b: HRMACTInner) -> bool:
    """The tensors both models have are equal: an option's own tensors drew nothing the others draw."""
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[name], sb[name]) for name in sa.keys() & sb.keys())


def test_every_option_is_off_by_default_and_left_out_of_the_config():
    config = HRMACTModelConfig()
    assert (config.pos_encoding, config.learned_initial_states) == ("rope", False)
    t = config.transformers
    assert (t.dropout, t.high_layers, t.low_layers, t.depths) == (0.0, None, None, (4, 4))
    model = build(config_with())
    assert model.position_embedding is None and model.rotary_emb is not None
    assert all(isinstance(block.dropout, torch.nn.Identity) for block in model.high_level_reasoner.blocks)
    assert not model.initial_hidden_states_params.high_level.requires_grad
    assert not any(name.startswith("position_embedding") for name in model.state_dict())


@pytest.mark.parametrize(
    "options, saved",
    [
        ({"pos_encoding": "learned"}, {"pos_encoding": "learned"}),
        ({"pos_encoding": "rope+learned"}, {"pos_encoding": "rope+learned"}),
        ({"pos_encoding": "rope2d"}, {"pos_encoding": "rope2d"}),
        ({"learned_initial_states": True}, {"learned_initial_states": True}),
        ({"dropout": 0.1}, {"transformers": {"dropout": 0.1}}),
        ({"high_layers": 1, "low_layers": 3}, {"transformers": {"high_layers": 1, "low_layers": 3}}),
        ({"low_layers": 3}, {"transformers": {"low_layers": 3}}),
    ],
)
def test_an_option_that_is_on_travels_in_the_config_and_the_others_stay_out(options, saved):
    config = config_with(**options)
    data = config.to_dict()
    plain = config_with().to_dict()
    for key, value in saved.items():
        if isinstance(value, dict):
            assert {k: data[key][k] for k in value} == value and set(data[key]) == set(plain[key]) | set(value)
        else:
            assert data[key] == value
    assert set(data) == set(plain) | {k for k, v in saved.items() if not isinstance(v, dict)}
    assert HRMACTModelConfig.from_dict(json.loads(json.dumps(data))) == config


# ---------------------------------------------------------------------------------------------
# Learned positions
# ---------------------------------------------------------------------------------------------


def injected_embedding(model: HRMACTInner, inputs: torch.Tensor) -> torch.Tensor:
    """The input embedding x the model adds to the low level's injection, read from a forward with zero states."""
    seen = []
    handle = model.low_level_reasoner.register_forward_hook(lambda module, args, output: seen.append(args[1]))
    try:
        zeros = torch.zeros(BATCH, TOKENS, HIDDEN)
        model(HiddenStates(zeros, zeros), inputs)
    finally:
        handle.remove()
    return seen[0]  # the first low-level update: injection = z_high + x with z_high = 0


def test_learned_positions_are_added_to_the_embedding_and_scaled_as_the_papers_code_does():
    model = build(config_with(pos_encoding="rope+learned"))
    table = model.position_embedding.embeddings
    assert table.shape == (TOKENS, HIDDEN) and table.requires_grad
    inputs = random_inputs()
    w = float64_weights(model)
    tokens = torch.cat([w["cls_token"].expand(BATCH, 1, HIDDEN), w["input_embedding.embeddings"][inputs]], dim=1)
    expected = (tokens + w["position_embedding.embeddings"]) / math.sqrt(2) * math.sqrt(HIDDEN)
    torch.testing.assert_close(injected_embedding(model, inputs).double(), expected, rtol=1e-6, atol=1e-6)
    # Without the table the model embeds as the original: √H times the token vectors.
    plain = build(config_with())
    torch.testing.assert_close(injected_embedding(plain, inputs).double(), tokens * math.sqrt(HIDDEN))


def test_the_table_is_drawn_like_the_token_embedding_after_every_other_tensor():
    torch.manual_seed(0)
    wide = HRMACTInner(config_with(pos_encoding="learned", hidden_size=1024, num_heads=8, num_layers=1,
                                   intermediate_size=64))  # fmt: skip
    table = wide.position_embedding.embeddings.double()
    assert table.std().item() == pytest.approx(1024**-0.5, rel=0.02)
    assert table.abs().max().item() <= 2 * 1024**-0.5 / 0.879626 * (1 + 1e-6)  # truncated at 2 compensated stds
    assert shared_weights_equal(build(config_with(pos_encoding="rope+learned")), build(config_with()))


def test_the_table_receives_gradient_and_zeroing_it_changes_the_output():
    model = build(config_with(pos_encoding="learned"))
    states = HiddenStates(*random_states(HIDDEN))
    out = run(model, states)
    weighted_sum(out).backward()
    grad = model.position_embedding.embeddings.grad
    assert grad is not None and grad.abs().min(dim=-1).values.gt(0).all()  # every position's row
    with torch.no_grad():
        model.position_embedding.embeddings.zero_()
    assert (run(model, states).output - out.output).abs().max().item() > 1e-2


def test_learned_positions_alone_have_no_rotary_tables_and_only_the_table_tells_positions_apart():
    model = build(config_with(pos_encoding="learned"))
    assert model.rotary_emb is None and not any(name.startswith("rotary_emb") for name in model.state_dict())
    states, inputs = HiddenStates(*random_states(HIDDEN)), random_inputs()
    cells = torch.randperm(81, generator=torch.Generator().manual_seed(3))
    order = torch.cat([torch.zeros(1, dtype=torch.long), cells + 1])  # the CLS token stays first

    def permuted(m):
        moved = HiddenStates(states.high_level[:, order], states.low_level[:, order])
        return m(moved, inputs[:, cells]).output, m(states, inputs).output[:, cells]

    # Attention without positions is permutation-equivariant: with a zero table, permuting the cells permutes the
    # outputs. With the table (or with RoPE), the model knows where each cell is.
    with torch.no_grad():
        learned = permuted(model)
        model.position_embedding.embeddings.zero_()
        blind = permuted(model)
    torch.testing.assert_close(*blind, rtol=1e-4, atol=1e-4)
    assert (learned[0] - learned[1]).abs().max().item() > 1e-2
    rope = permuted(build(config_with()))
    assert (rope[0] - rope[1]).abs().max().item() > 1e-2


def test_rope_and_learned_together_differ_from_each_alone():
    both = build(config_with(pos_encoding="rope+learned"))
    rope, learned = build(config_with()), build(config_with(pos_encoding="learned"))
    assert shared_weights_equal(both, rope) and shared_weights_equal(both, learned)
    learned.position_embedding.load_state_dict(both.position_embedding.state_dict())
    states = HiddenStates(*random_states(HIDDEN))
    outputs = {name: run(m, states).output for name, m in (("both", both), ("rope", rope), ("learned", learned))}
    assert (outputs["both"] - outputs["rope"]).abs().max().item() > 1e-2
    assert (outputs["both"] - outputs["learned"]).abs().max().item() > 1e-2


def test_the_table_covers_the_puzzle_embedding_position():
    model = build(config_with(pos_encoding="rope+learned", puzzle_embeddings=4))
    assert model.position_embedding.embeddings.shape == (TOKENS + 1, HIDDEN)
    states = HiddenStates(torch.zeros(BATCH, TOKENS + 1, HIDDEN), torch.zeros(BATCH, TOKENS + 1, HIDDEN))
    out = model(states, random_inputs(), torch.tensor([1, 3]))
    assert out.output.shape == (BATCH, 81, 10) and out.hidden_states.high_level.shape == (BATCH, TOKENS + 1, HIDDEN)


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------


def test_dropout_is_identical_in_eval_mode_and_draws_masks_in_training_mode():
    dropped, plain = build(config_with(dropout=0.3)), build(config_with())
    assert shared_weights_equal(dropped, plain) and dropped.state_dict().keys() == plain.state_dict().keys()
    states = HiddenStates(*random_states(HIDDEN))
    dropped.eval(), plain.eval()
    rng = torch.get_rng_state()
    assert torch.equal(run(dropped, states).output, run(plain, states).output)
    assert torch.equal(torch.get_rng_state(), rng)  # no draws in evaluation
    dropped.train(), plain.train()
    first, second = run(dropped, states).output, run(dropped, states).output
    reference = run(plain, states).output
    assert (first - reference).abs().max().item() > 1e-2 and (first - second).abs().max().item() > 1e-2
    torch.manual_seed(5)
    again = run(dropped, states).output
    torch.manual_seed(5)
    assert torch.equal(run(dropped, states).output, again)  # the masks come from torch's generator


def test_zero_dropout_is_the_original_block_in_both_modes_and_draws_nothing():
    model = build(config_with(dropout=0.0))
    assert model.config == config_with() and "dropout" not in model.config.to_dict()["transformers"]
    states = HiddenStates(*random_states(HIDDEN))
    rng = torch.get_rng_state()
    training = run(model, states).output
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.equal(run(model.eval(), states).output, training)


def test_dropout_acts_on_both_branches_before_the_residual_add():
    model = build(config_with(dropout=0.5))
    block, cos, sin = model.high_level_reasoner.blocks[0], model.rotary_emb.cos, model.rotary_emb.sin
    calls = []
    block.dropout.register_forward_hook(lambda module, args, output: calls.append(args[0]))
    x = torch.randn(BATCH, TOKENS, HIDDEN)
    block(x, cos, sin)
    assert len(calls) == 2
    torch.testing.assert_close(calls[0], block.self_attn(x, cos, sin))  # the attention branch, before the add


# ---------------------------------------------------------------------------------------------
# Learned initial states
# ---------------------------------------------------------------------------------------------


def segment(model: HRMACTInner, restart: torch.Tensor):
    """A training segment as the trainer runs it: rows on their first segment restart from the initial states."""
    carried = HiddenStates(*random_states(HIDDEN))
    states = model.restart(carried, restart) if model.config.learned_initial_states else carried
    return model(states, random_inputs())


def test_learned_initial_states_receive_gradient_and_move_while_the_default_ones_do_not():
    for learned in (True, False):
        model = build(config_with(learned_initial_states=learned))
        params = model.initial_hidden_states_params
        before = [params.high_level.detach().clone(), params.low_level.detach().clone()]
        optimizer = build_optimizer("mlx-adamw", model.parameters(), lr=1e-2)
        weighted_sum(segment(model, torch.tensor([True, False]))).backward()
        optimizer.step()
        for param, start in zip((params.high_level, params.low_level), before):
            assert param.requires_grad == learned
            if learned:
                assert param.grad is not None and param.grad.abs().min() > 0
                assert (param.detach() - start).abs().min() > 1e-3  # lr-sized steps
            else:
                assert param.grad is None and torch.equal(param.detach(), start)


def test_restarting_from_the_parameters_changes_no_value():
    model = build(config_with(learned_initial_states=True))
    carried = HiddenStates(*random_states(HIDDEN))
    rows = torch.tensor([True, False])
    initial = model.initial_hidden_states
    copies = HiddenStates(  # what the carry holds for a restarted row: a copy of the initial values
        torch.where(rows[:, None, None], initial.high_level.detach(), carried.high_level),
        torch.where(rows[:, None, None], initial.low_level.detach(), carried.low_level),
    )
    inputs = random_inputs()
    got, want = model(model.restart(carried, rows), inputs), model(copies, inputs)
    for a, b in ((got.output, want.output), (got.q_act_halt, want.q_act_halt),
                 (got.hidden_states.high_level, want.hidden_states.high_level)):  # fmt: skip
        assert torch.equal(a, b)
    # Rows that do not restart send nothing to the initial states.
    weighted_sum(model(model.restart(carried, torch.tensor([False, False])), inputs)).backward()
    assert torch.equal(initial.high_level.grad, torch.zeros(HIDDEN))


def test_with_a_single_cycle_the_gradient_is_the_exact_one():
    """One low- and one high-level update per segment: no cycle runs without gradient, so the straight-through
    gradient of the initial states is the true one, computed here in float64 through the reference forward."""
    config = config_with(cycles=(1, 1), learned_initial_states=True)
    model = copy.deepcopy(build(config)).double()
    carried = HiddenStates(*(s.double() for s in random_states(HIDDEN)))
    rows = torch.tensor([True, False])
    inputs = random_inputs()
    out = model(model.restart(carried, rows), inputs)
    weighted_sum(out).backward()

    w = float64_weights(model, requires_grad=True)
    high, low = (w[f"initial_hidden_states_params.{level}_level"] for level in ("high", "low"))
    keep = rows[:, None, None]
    z_high, z_low = torch.where(keep, high, carried.high_level), torch.where(keep, low, carried.low_level)
    logits, q_halt, q_continue, _, _ = ref_forward(w, config, z_high, z_low, inputs, detach_early=False)
    generator = torch.Generator().manual_seed(9)
    weights = torch.randn(logits.shape, generator=generator).double()
    ((logits * weights).sum() + (q_halt - 2 * q_continue).sum()).backward()
    params = model.initial_hidden_states_params
    torch.testing.assert_close(params.high_level.grad, high.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(params.low_level.grad, low.grad, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Per-level depths
# ---------------------------------------------------------------------------------------------


def counts_by_formula(config: HRMACTModelConfig) -> int:
    """expected_counts of test_hrm (both levels at num_layers), with each level's blocks counted at its own depth."""
    total, in_blocks = expected_counts(config)
    per_block = in_blocks // (2 * config.transformers.num_layers)
    return total - in_blocks + per_block * sum(config.transformers.depths)


@pytest.mark.parametrize("high, low", [(1, 2), (3, 1), (2, None), (None, 5)])
def test_each_level_has_its_own_depth_and_the_parameter_count_follows(high, low):
    config = config_with(high_layers=high, low_layers=low)
    model = build(config)
    assert len(model.high_level_reasoner.blocks) == (high or 2)
    assert len(model.low_level_reasoner.blocks) == (low or 2)
    assert sum(p.numel() for p in model.parameters()) == counts_by_formula(config)
    assert counts_by_formula(config_with()) == expected_counts(config_with())[0]


def test_a_model_with_one_high_and_two_low_blocks_trains_a_step_and_round_trips(tmp_path):
    model = build(config_with(high_layers=1, low_layers=2))
    optimizer = build_optimizer("mlx-adamw", model.parameters(), lr=1e-3)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    weighted_sum(run(model)).backward()
    optimizer.step()
    moved = [name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])]
    assert "high_level_reasoner.blocks.0.mlp.down_proj.weight" in moved
    assert "low_level_reasoner.blocks.1.mlp.down_proj.weight" in moved
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config == model.config
    states = HiddenStates(*random_states(HIDDEN))
    assert torch.equal(run(loaded, states).output, run(model, states).output)


def test_the_step_api_trains_learned_initial_states_from_the_rows_it_restarts():
    model = HRMACT(build(config_with(learned_initial_states=True)))
    inputs = random_inputs()
    carry = model.initial_carry(inputs)
    carry, out = model.step(carry, inputs, torch.Generator().manual_seed(0))  # every row starts
    (out.logits.sum() + out.q_halt.sum()).backward()
    params = model.inner.initial_hidden_states_params
    assert params.high_level.grad.abs().min() > 0 and params.low_level.grad.abs().min() > 0
    params.high_level.grad = params.low_level.grad = None
    carry.halted = torch.zeros_like(carry.halted)  # no row restarts: nothing reaches the states
    _, out = model.step(carry, inputs, torch.Generator().manual_seed(0))
    (out.logits.sum() + out.q_halt.sum()).backward()
    assert torch.equal(params.high_level.grad, torch.zeros(HIDDEN))
