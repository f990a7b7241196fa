"""HRM-ACT inner model against an independent float64 re-implementation of the original's forward."""

import copy
import dataclasses
import json
import math

import pytest
import torch

from src.hrm.modeling import ACTConfig, HiddenStates, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.modeling.hrm import InitialHiddenStates

BATCH = 2
TOKENS = 82


def tiny_config(high_cycles: int = 2, low_cycles: int = 2) -> HRMACTModelConfig:
    # Expansion 12 gives an intermediate size of 256 under either rounding of findMultiple.
    return HRMACTModelConfig(
        high_level_cycles=high_cycles,
        low_level_cycles=low_cycles,
        transformers=TransformerConfig(num_layers=2, hidden_size=32, num_heads=2, expansion=12.0),
    )


def tiny_model(config: HRMACTModelConfig, seed: int = 0) -> HRMACTInner:
    torch.manual_seed(seed)
    model = HRMACTInner(config)
    # A non-zero Q head, so the halt/continue outputs depend on the CLS state (the init is all zeros).
    with torch.no_grad():
        model.q_act_head.weight.copy_(torch.randn(model.q_act_head.weight.shape) * 0.5)
        model.q_act_head.bias.copy_(torch.tensor([-0.5, 0.25]))
    return model


def random_states(hidden: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(BATCH, TOKENS, hidden, generator=generator),
        torch.randn(BATCH, TOKENS, hidden, generator=generator),
    )


def random_inputs(seed: int = 2) -> torch.Tensor:
    return torch.randint(0, 10, (BATCH, 81), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------
# Independent float64 re-implementation, written from the reference description (section 2-3).
# It reads the model's weights by name and nothing else.
# ---------------------------------------------------------------------------------------------


def ref_rms_norm(x, eps):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps)


def ref_rotate(x, cos, sin):
    """x: [B, T, hd]; pairs (i, i + hd/2) rotated as complex numbers by the table's angle."""
    half = x.shape[-1] // 2
    z = torch.complex(x[..., :half], x[..., half:]) * torch.complex(cos[:, :half], sin[:, :half])
    return torch.cat([z.real, z.imag], dim=-1)


def ref_attention(x, qkv_weight, out_weight, num_heads, cos, sin):
    hidden = x.shape[-1]
    head_dim = hidden // num_heads
    qkv = x @ qkv_weight.T  # [B, T, 3H]: q heads, then k heads, then v heads
    heads = []
    for h in range(num_heads):
        q = ref_rotate(qkv[..., h * head_dim : (h + 1) * head_dim], cos, sin)
        k = ref_rotate(qkv[..., hidden + h * head_dim : hidden + (h + 1) * head_dim], cos, sin)
        v = qkv[..., 2 * hidden + h * head_dim : 2 * hidden + (h + 1) * head_dim]
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(head_dim), dim=-1)
        heads.append(weights @ v)
    return torch.cat(heads, dim=-1) @ out_weight.T


def ref_swiglu(x, gate_up_weight, down_weight):
    inter = down_weight.shape[1]
    gate = x @ gate_up_weight[:inter].T
    up = x @ gate_up_weight[inter:].T
    return (gate * torch.sigmoid(gate) * up) @ down_weight.T


def ref_reasoner(w, prefix, config, hidden_state, injection):
    t = config.transformers
    x = hidden_state + injection
    cos, sin = w["rotary_emb.cos"][:, 0], w["rotary_emb.sin"][:, 0]
    for i in range(t.num_layers):
        p = f"{prefix}.blocks.{i}."
        qkv_weight, out_weight = w[p + "self_attn.qkv_proj.weight"], w[p + "self_attn.out_proj.weight"]
        attn = ref_attention(x, qkv_weight, out_weight, t.num_heads, cos, sin)
        x = ref_rms_norm(x + attn, t.norm_epsilon)
        mlp = ref_swiglu(x, w[p + "mlp.gate_up_proj.weight"], w[p + "mlp.down_proj.weight"])
        x = ref_rms_norm(x + mlp, t.norm_epsilon)
    return x


def ref_forward(w, config, z_high, z_low, inputs, detach_early=True, cycles=None, cls_first=True):
    """Returns (logits [B,81,V], q_halt [B], q_continue [B], z_high, z_low), all float64.

    `detach_early`, `cycles` and `cls_first` exist to build wrong variants that the tests must reject.
    """
    hidden = config.transformers.hidden_size
    cls = w["cls_token"].expand(inputs.shape[0], 1, hidden)
    cells = w["input_embedding.embeddings"][inputs]
    x = torch.cat([cls, cells] if cls_first else [cells, cls], dim=1) * math.sqrt(hidden)
    if cycles is None:
        cycles = range(1, config.high_level_cycles * config.low_level_cycles)
    for cycle in cycles:
        z_low = ref_reasoner(w, "low_level_reasoner", config, z_low, z_high + x)
        if cycle % config.low_level_cycles == 0:
            z_high = ref_reasoner(w, "high_level_reasoner", config, z_high, z_low)
    if detach_early:
        z_low, z_high = z_low.detach(), z_high.detach()
    z_low = ref_reasoner(w, "low_level_reasoner", config, z_low, z_high + x)
    z_high = ref_reasoner(w, "high_level_reasoner", config, z_high, z_low)
    cls_state, cell_states = (z_high[:, 0], z_high[:, 1:]) if cls_first else (z_high[:, -1], z_high[:, :-1])
    logits = cell_states @ w["output_head.weight"].T
    q = cls_state @ w["q_act_head.weight"].T + w["q_act_head.bias"]
    return logits, q[:, 0], q[:, 1], z_high, z_low


def float64_weights(model, requires_grad=False):
    return {
        name: tensor.detach().double().clone().requires_grad_(requires_grad and tensor.is_floating_point())
        for name, tensor in model.state_dict().items()
    }


# ---------------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("high_cycles, low_cycles", [(2, 2), (3, 2), (2, 3), (2, 1)])
def test_forward_matches_float64_reference(high_cycles, low_cycles):
    config = tiny_config(high_cycles, low_cycles)
    model = tiny_model(config)
    z_high, z_low = random_states(32)
    inputs = random_inputs()
    ref_logits, ref_halt, ref_continue, ref_high, ref_low = ref_forward(
        float64_weights(model), config, z_high.double(), z_low.double(), inputs
    )

    # Float64 copy: differences only from RMSNorm's float32 round trip (the original casts to float32).
    out64 = copy.deepcopy(model).double()(HiddenStates(z_high.double(), z_low.double()), inputs)
    for got, want in [
        (out64.output, ref_logits),
        (out64.q_act_halt, ref_halt),
        (out64.q_act_continue, ref_continue),
        (out64.hidden_states.high_level, ref_high),
        (out64.hidden_states.low_level, ref_low),
    ]:
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)  # the Q outputs are float32 always

    # The float32 model itself, including the bf16 Q head promoted to float32.
    out = model(HiddenStates(z_high, z_low), inputs)
    assert out.output.dtype == torch.float32 and out.output.shape == (BATCH, 81, 10)
    assert out.q_act_halt.dtype == torch.float32 and out.q_act_halt.shape == (BATCH,)
    assert out.q_act_continue.dtype == torch.float32 and out.q_act_continue.shape == (BATCH,)
    assert out.hidden_states.high_level.shape == (BATCH, TOKENS, 32)
    assert out.hidden_states.low_level.shape == (BATCH, TOKENS, 32)
    torch.testing.assert_close(out.output.double(), ref_logits, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(out.q_act_halt.double(), ref_halt, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(out.q_act_continue.double(), ref_continue, rtol=1e-3, atol=1e-3)

    # One cycle fewer changes the result well beyond the tolerance: the schedule is really checked.
    short_logits = ref_forward(
        float64_weights(model), config, z_high.double(), z_low.double(), inputs,
        cycles=range(1, high_cycles * low_cycles - 1),
    )[0]
    assert (short_logits - ref_logits).abs().max().item() > 1e-2


def test_cls_position_and_embedding_scale_are_checked():
    # Variants of the reference that a wrong port would match instead: the forward test above
    # tells them apart from the original's computation.
    config = tiny_config()
    model = tiny_model(config)
    z_high, z_low = random_states(32)
    inputs = random_inputs()
    out = model(HiddenStates(z_high, z_low), inputs)
    w = float64_weights(model)
    args = (config, z_high.double(), z_low.double(), inputs)

    cls_last = ref_forward(w, *args, cls_first=False)
    assert (cls_last[0] - out.output.double()).abs().max().item() > 1e-2
    assert (cls_last[1] - out.q_act_halt.double()).abs().max().item() > 1e-3

    embeddings = "input_embedding.embeddings"
    w_half_scale = {**w, "cls_token": w["cls_token"] / 2, embeddings: w[embeddings] / 2}
    half_scale = ref_forward(w_half_scale, *args)[0]
    assert (half_scale - out.output.double()).abs().max().item() > 1e-2


def test_hidden_state_shapes_broadcast():
    config = tiny_config()
    model = tiny_model(config)
    inputs = random_inputs()
    generator = torch.Generator().manual_seed(5)
    high, low = torch.randn(1, 1, 32, generator=generator), torch.randn(1, 1, 32, generator=generator)

    def run(h, l):
        return model(HiddenStates(h, l), inputs)

    full = run(high.expand(BATCH, TOKENS, 32).contiguous(), low.expand(BATCH, TOKENS, 32).contiguous())
    for h, l in [(high, low), (high.expand(BATCH, 1, 32), low.expand(BATCH, 1, 32))]:
        out = run(h, l)
        torch.testing.assert_close(out.output, full.output, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(out.q_act_halt, full.q_act_halt, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(out.hidden_states.high_level, full.hidden_states.high_level, rtol=1e-6, atol=1e-6)
        assert out.hidden_states.high_level.shape == (BATCH, TOKENS, 32)
        assert out.hidden_states.low_level.shape == (BATCH, TOKENS, 32)

    # Per-row [B, 1, H] states: each row evolves from its own vector.
    per_row = torch.randn(BATCH, 1, 32, generator=generator), torch.randn(BATCH, 1, 32, generator=generator)
    out = run(*per_row)
    ref = ref_forward(float64_weights(model), config, per_row[0].double(), per_row[1].double(), inputs)[0]
    torch.testing.assert_close(out.output.double(), ref, rtol=1e-3, atol=1e-3)

    # The inference start: the initial [H] vectors reshaped to [1, 1, H].
    initial = model.initial_hidden_states
    out = run(initial.high_level[None, None], initial.low_level[None, None])
    ref = ref_forward(
        float64_weights(model), config, initial.high_level.double().expand(BATCH, TOKENS, 32),
        initial.low_level.double().expand(BATCH, TOKENS, 32), inputs,
    )[0]
    torch.testing.assert_close(out.output.double(), ref, rtol=1e-3, atol=1e-3)


def test_returned_hidden_states_are_detached():
    model = tiny_model(tiny_config())
    z_high, z_low = random_states(32)
    out = model(HiddenStates(z_high, z_low), random_inputs())
    assert out.output.requires_grad  # the heads do carry gradient
    for state in (out.hidden_states.high_level, out.hidden_states.low_level):
        assert not state.requires_grad and state.grad_fn is None


# ---------------------------------------------------------------------------------------------
# 1-step gradient
# ---------------------------------------------------------------------------------------------


def segment_loss(logits, q_halt, q_continue, seed=9):
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(logits.shape, generator=generator, dtype=torch.float64)
    q_weights = torch.randn(2, q_halt.shape[0], generator=generator, dtype=torch.float64)
    return (logits * weights).sum() + (q_halt * q_weights[0]).sum() + (q_continue * q_weights[1]).sum()


@pytest.mark.parametrize("high_cycles, low_cycles", [(2, 2), (3, 2)])
def test_gradient_flows_only_through_the_last_updates(high_cycles, low_cycles):
    config = tiny_config(high_cycles, low_cycles)
    model64 = copy.deepcopy(tiny_model(config)).double()
    z_high, z_low = (s.double().requires_grad_(True) for s in random_states(32))
    inputs = random_inputs()

    out = model64(HiddenStates(z_high, z_low), inputs)
    segment_loss(out.output, out.q_act_halt, out.q_act_continue).backward()

    def reference_grads(detach_early):
        w = float64_weights(model64, requires_grad=True)
        logits, q_halt, q_continue, _, _ = ref_forward(w, config, z_high.detach(), z_low.detach(), inputs, detach_early)
        segment_loss(logits, q_halt, q_continue).backward()
        return w

    one_step = reference_grads(detach_early=True)
    full = reference_grads(detach_early=False)
    trainable = {name: p for name, p in model64.named_parameters() if p.requires_grad}
    def relative_error(got, want):
        return ((got - want).abs().max() / want.abs().max()).item()

    through_all_cycles = 0.0
    for name, param in trainable.items():
        assert param.grad is not None, name
        # The model's RMSNorm runs in float32 even in a float64 copy (as the original casts), hence 1e-5.
        assert relative_error(param.grad, one_step[name].grad) < 1e-5, name
        through_all_cycles = max(through_all_cycles, relative_error(full[name].grad, one_step[name].grad))
    # Backpropagating through every cycle would give clearly different gradients.
    assert through_all_cycles > 1e-2

    # The carried hidden states receive no gradient (the original stops it before the last update).
    assert z_high.grad is None and z_low.grad is None
    # Frozen parameters get none either.
    assert model64.initial_hidden_states_params.high_level.grad is None
    assert model64.initial_hidden_states_params.low_level.grad is None


# ---------------------------------------------------------------------------------------------
# Parameters and initialisation
# ---------------------------------------------------------------------------------------------


def expected_counts(config: HRMACTModelConfig) -> tuple[int, int]:
    """(total, in blocks): the width is int(expansion·H·2/3) rounded up to 256 unless the config names it."""
    hidden, vocab = config.transformers.hidden_size, config.vocab_size
    inter = config.transformers.intermediate_size or -(int(config.transformers.expansion * hidden * 2 / 3) // -256) * 256
    block = hidden * 3 * hidden + hidden * hidden + hidden * 2 * inter + inter * hidden
    blocks = 2 * config.transformers.num_layers * block
    heads_and_embeddings = hidden + vocab * hidden + hidden * vocab + hidden * 2 + 2
    return blocks + heads_and_embeddings + 2 * hidden, blocks


def test_parameter_count_of_default_config():
    torch.manual_seed(0)
    model = HRMACTInner(HRMACTModelConfig())
    total, in_blocks = expected_counts(model.config)
    assert (total, in_blocks) == (6_822_146, 6_815_744)
    assert sum(p.numel() for p in model.parameters()) == total  # rotary tables excluded: they are buffers
    blocks = [m for name, m in model.named_modules() if name.endswith("_reasoner")]
    assert sum(p.numel() for m in blocks for p in m.parameters()) == in_blocks


def test_parameter_count_with_the_compiled_swift_width():
    torch.manual_seed(0)
    config = HRMACTModelConfig()
    config.transformers.intermediate_size = 512
    model = HRMACTInner(config)
    total, in_blocks = expected_counts(config)
    assert (total, in_blocks) == (5_249_282, 5_242_880)
    assert sum(p.numel() for p in model.parameters()) == total


def test_parameter_count_outside_the_mlp():
    # Everything but the SwiGLU layers, which is the same whatever the intermediate size.
    torch.manual_seed(0)
    model = HRMACTInner(HRMACTModelConfig())
    non_mlp = sum(p.numel() for name, p in model.named_parameters() if ".mlp." not in name)
    assert non_mlp == 8 * (256 * 768 + 256 * 256) + 256 + 2560 + 2560 + 514 + 512


def test_parameter_names_shapes_and_dtypes():
    model = tiny_model(tiny_config())
    state = model.state_dict()
    h, hd = 32, 16
    assert state["cls_token"].shape == (h,)
    assert state["input_embedding.embeddings"].shape == (10, h)
    assert state["output_head.weight"].shape == (10, h)
    assert state["q_act_head.weight"].shape == (2, h) and state["q_act_head.weight"].dtype == torch.bfloat16
    assert state["q_act_head.bias"].shape == (2,) and state["q_act_head.bias"].dtype == torch.bfloat16
    for table in ("rotary_emb.cos", "rotary_emb.sin"):
        assert state[table].shape == (TOKENS, 1, hd) and state[table].dtype == torch.bfloat16
    for level in ("high", "low"):
        assert state[f"initial_hidden_states_params.{level}_level"].shape == (h,)
        for i in range(2):
            prefix = f"{level}_level_reasoner.blocks.{i}."
            assert state[prefix + "self_attn.qkv_proj.weight"].shape == (3 * h, h)
            assert state[prefix + "self_attn.out_proj.weight"].shape == (h, h)
            assert state[prefix + "mlp.gate_up_proj.weight"].shape == (512, h)
            assert state[prefix + "mlp.down_proj.weight"].shape == (h, 256)
    float32_names = [n for n in state if not n.startswith(("q_act_head", "rotary_emb"))]
    assert all(state[n].dtype == torch.float32 for n in float32_names)
    assert "rotary_emb.cos" not in dict(model.named_parameters())


def test_q_head_starts_at_zero_weight_and_minus_five_bias():
    torch.manual_seed(0)
    model = HRMACTInner(tiny_config())
    assert model.q_act_head.weight.dtype == torch.bfloat16
    assert torch.equal(model.q_act_head.weight.float(), torch.zeros(2, 32))
    assert torch.equal(model.q_act_head.bias.float(), torch.tensor([-5.0, -5.0]))
    z_high, z_low = random_states(32)
    out = model(HiddenStates(z_high, z_low), random_inputs())
    assert torch.equal(out.q_act_halt, torch.full((BATCH,), -5.0))
    assert torch.equal(out.q_act_continue, torch.full((BATCH,), -5.0))


def test_init_scales_follow_the_original():
    torch.manual_seed(0)
    model = HRMACTInner(HRMACTModelConfig())  # hidden 256
    emb = model.input_embedding.embeddings.double()
    assert emb.std().item() == pytest.approx(256**-0.5, rel=0.1)
    qkv = model.high_level_reasoner.blocks[0].self_attn.qkv_proj.weight.double()
    assert qkv.std().item() == pytest.approx(256**-0.5, rel=0.01)
    down = model.low_level_reasoner.blocks[3].mlp.down_proj.weight
    assert down.double().std().item() == pytest.approx(down.shape[1] ** -0.5, rel=0.02)


def test_initial_hidden_states_are_frozen_truncated_unit_normals():
    model = tiny_model(tiny_config())
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert not any(name.startswith("initial_hidden_states_params") for name in trainable)
    assert "q_act_head.weight" in trainable and "cls_token" in trainable
    initial = model.initial_hidden_states
    assert initial.high_level is model.initial_hidden_states_params.high_level
    assert initial.low_level is model.initial_hidden_states_params.low_level
    assert not initial.high_level.requires_grad and not initial.low_level.requires_grad
    assert "initial_hidden_states_params.high_level" in model.state_dict()  # saved, as in the original

    torch.manual_seed(0)
    wide = InitialHiddenStates(200_000)
    for vector in (wide.high_level, wide.low_level):
        assert vector.dtype == torch.float32
        assert vector.double().std().item() == pytest.approx(1.0, rel=0.01)
        assert vector.abs().max().item() <= 2 / 0.879626 * (1 + 1e-6)  # clipped at 2·compStd
    assert not torch.equal(wide.high_level, wide.low_level)


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


def test_default_config_matches_the_original():
    config = HRMACTModelConfig()
    assert config.to_dict() == {
        "seq_len": 81,
        "vocab_size": 10,
        "high_level_cycles": 2,
        "low_level_cycles": 2,
        "transformers": {
            "num_layers": 4,
            "hidden_size": 256,
            "num_heads": 4,
            "expansion": 4.0,
            "norm_epsilon": 1e-5,
            "rope_theta": 10000.0,
            "intermediate_size": None,
        },
        "act": {"halt_max_steps": 16, "halt_exploration_probability": 0.1, "fixed_segments": None},
    }


def test_config_round_trips_through_json():
    config = HRMACTModelConfig(
        high_level_cycles=3,
        transformers=TransformerConfig(num_layers=1, hidden_size=64, num_heads=2, expansion=2.5),
        act=ACTConfig(halt_max_steps=8, halt_exploration_probability=0.25),
    )
    restored = HRMACTModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config
    assert isinstance(restored.transformers, TransformerConfig) and isinstance(restored.act, ACTConfig)
    # The dataclass tree, less the options beyond the original while they are off (the original's model, the
    # original's config); on, they travel like any other field (tests/unit/modeling/test_hrm_options.py).
    data = config.to_dict()
    options_off = {"dropout": 0.0, "high_layers": None, "low_layers": None}
    assert dataclasses.asdict(restored) == {
        **data, "transformers": {**data["transformers"], **options_off}, "act": {**data["act"], "q_continue": True},
        "puzzle_embeddings": 0, "pos_encoding": "rope", "learned_initial_states": False, "activation_dtype": "float32",
    }  # fmt: skip
    with_table = dataclasses.replace(config, puzzle_embeddings=5)
    assert with_table.to_dict() == {**data, "puzzle_embeddings": 5}
    assert HRMACTModelConfig.from_dict(json.loads(json.dumps(with_table.to_dict()))) == with_table
    # Missing fields take the defaults.
    assert HRMACTModelConfig.from_dict({"seq_len": 81}) == HRMACTModelConfig()


def test_config_rejects_unknown_fields_by_name():
    with pytest.raises(ValueError, match="hidden_units"):
        HRMACTModelConfig.from_dict({**HRMACTModelConfig().to_dict(), "hidden_units": 3})
    nested = HRMACTModelConfig().to_dict()
    nested["transformers"]["num_blocks"] = 2
    with pytest.raises((ValueError, TypeError), match="num_blocks"):
        HRMACTModelConfig.from_dict(nested)


# ---------------------------------------------------------------------------------------------
# Device
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_forward_matches_cpu():
    config = tiny_config()
    model = tiny_model(config)
    z_high, z_low = random_states(32)
    inputs = random_inputs()
    cpu = model(HiddenStates(z_high, z_low), inputs)
    gpu_model = copy.deepcopy(model).to("cuda")
    gpu = gpu_model(HiddenStates(z_high.cuda(), z_low.cuda()), inputs.cuda())
    torch.testing.assert_close(gpu.output.cpu(), cpu.output, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(gpu.q_act_halt.cpu(), cpu.q_act_halt, rtol=1e-3, atol=1e-3)
