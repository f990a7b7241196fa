"""Checkpoint files: native and MLX Swift layouts against a hand-written key table, bad files, atomic writes."""

import json
import os
import warnings
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from src.hrm import checkpoint, file_io
from src.hrm.checkpoint import (
    CheckpointError,
    export_swift,
    load_model,
    load_training_state,
    save_model,
    save_training_state,
    training_state_path,
)
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig


def tiny_config(num_heads: int = 4, **overrides) -> HRMACTModelConfig:
    # Hidden 96 with the default expansion 4 gives a SwiGLU width of 256 whether 682-style sizes are
    # rounded up or down to a multiple of 256, so these tests do not hinge on that rounding.
    transformers = TransformerConfig(num_layers=2, hidden_size=96, num_heads=num_heads)
    return HRMACTModelConfig(transformers=transformers, **overrides)


def make_model(config: HRMACTModelConfig, seed: int = 0) -> HRMACTInner:
    """A model whose every tensor is distinctive: the Q head is randomised too (it is created as constants)."""
    torch.manual_seed(seed)
    model = HRMACTInner(config)
    with torch.no_grad():
        model.q_act_head.weight.copy_(torch.randn_like(model.q_act_head.weight, dtype=torch.float32))
        model.q_act_head.bias.copy_(torch.randn(2))
    return model


def assert_same_state(expected: torch.nn.Module, actual: torch.nn.Module):
    expected_state, actual_state = expected.state_dict(), actual.state_dict()
    assert list(expected_state) == list(actual_state)
    for name, tensor in expected_state.items():
        assert actual_state[name].dtype == tensor.dtype, name
        assert torch.equal(actual_state[name], tensor), name


def assert_same_forward(expected: HRMACTInner, actual: HRMACTInner):
    inputs = torch.randint(0, 10, (3, 81), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = expected(expected.initial_hidden_states, inputs)
        b = actual(actual.initial_hidden_states, inputs)
    for x, y in [
        (a.output, b.output),
        (a.q_act_halt, b.q_act_halt),
        (a.q_act_continue, b.q_act_continue),
        (a.hidden_states.high_level, b.hidden_states.high_level),
        (a.hidden_states.low_level, b.hidden_states.low_level),
    ]:
        assert torch.equal(x, y)


def swift_table(num_layers: int, hidden: int, inter: int, vocab: int = 10, head_dim: int = 64):
    """Section 4 of the reference, written out by hand: Swift key -> (PyTorch name, Swift shape, dtype, transposed)."""
    f32, bf16 = torch.float32, torch.bfloat16
    table = {
        "clsToken": ("cls_token", [hidden], f32, False),
        "inputEmbedding.embeddings": ("input_embedding.embeddings", [vocab, hidden], f32, False),
        "outputHead.weight": ("output_head.weight", [hidden, vocab], f32, True),
        "qACTHead.weight": ("q_act_head.weight", [hidden, 2], bf16, True),
        "qACTHead.bias": ("q_act_head.bias", [2], bf16, False),
        "rotaryEmb.cos": ("rotary_emb.cos", [82, 1, head_dim], bf16, False),
        "rotaryEmb.sin": ("rotary_emb.sin", [82, 1, head_dim], bf16, False),
        "initialHiddenStatesParams.highLevel": ("initial_hidden_states_params.high_level", [hidden], f32, False),
        "initialHiddenStatesParams.lowLevel": ("initial_hidden_states_params.low_level", [hidden], f32, False),
    }
    for level in ("high", "low"):
        for i in range(num_layers):
            s, t = f"{level}LevelReasoner.blocks.{i}", f"{level}_level_reasoner.blocks.{i}"
            table[f"{s}.selfAttn.qkvProj.weight"] = (f"{t}.self_attn.qkv_proj.weight", [hidden, 3 * hidden], f32, True)
            table[f"{s}.selfAttn.outProj.weight"] = (f"{t}.self_attn.out_proj.weight", [hidden, hidden], f32, True)
            table[f"{s}.mlp.gateUpProj.weight"] = (f"{t}.mlp.gate_up_proj.weight", [hidden, 2 * inter], f32, True)
            table[f"{s}.mlp.downProj.weight"] = (f"{t}.mlp.down_proj.weight", [inter, hidden], f32, True)
    return table


def handmade_swift_tensors(model: HRMACTInner) -> dict:
    """What the original would save for `model`, built from the hand-written table (independent of export_swift)."""
    t = model.config.transformers
    table = swift_table(t.num_layers, t.hidden_size, inter=256, head_dim=t.hidden_size // t.num_heads)
    state = model.state_dict()
    return {
        key: (state[name].t() if transposed else state[name]).to(dtype).contiguous()
        for key, (name, _, dtype, transposed) in table.items()
    }


def write_swift(path, tensors):
    save_file(tensors, str(path), metadata={"format": "mlx"})
    return path


def error_of(path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


# ---------------------------------------------------------------------------------------------
# Native format


def test_native_round_trip_is_bit_identical_and_recovers_the_config(tmp_path):
    config = tiny_config(
        num_heads=2,
        high_level_cycles=1,
        low_level_cycles=3,
        act=ACTConfig(halt_max_steps=8, halt_exploration_probability=0.3),
    )
    config.transformers.rope_theta = 500.0
    model = make_model(config)
    path = tmp_path / "model.safetensors"
    save_model(model, path, metadata={"step": "250", "note": "x"})

    loaded = load_model(path)
    assert loaded.config == config
    assert_same_state(model, loaded)
    assert_same_forward(model, loaded)
    assert not loaded.initial_hidden_states_params.high_level.requires_grad
    assert loaded.cls_token.requires_grad
    with safe_open(str(path), framework="pt") as file:
        metadata = file.metadata()
        keys = set(file.keys())
    assert metadata["format"] == "hrm-act" and metadata["format_version"] == "1"
    assert json.loads(metadata["config"]) == config.to_dict()
    assert metadata["step"] == "250" and metadata["note"] == "x"
    assert keys == set(model.state_dict())  # the rotary tables travel with the weights


def test_loading_draws_nothing_from_the_global_rng(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(make_model(tiny_config()), path)
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    load_model(path)
    assert torch.equal(torch.rand(5), expected)


def test_bf16_save_halves_the_file_and_loads_float32_master_weights(tmp_path):
    model = make_model(tiny_config())
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    save_model(model, full)
    save_model(model, half, dtype=torch.bfloat16)
    assert 0.45 < half.stat().st_size / full.stat().st_size < 0.55

    loaded = load_model(half)
    for name, tensor in model.state_dict().items():
        got = loaded.state_dict()[name]
        assert got.dtype == tensor.dtype, name  # float32 masters, the Q head and rotary tables stay bf16
        assert torch.equal(got, tensor.to(torch.bfloat16).to(tensor.dtype)), name


def test_save_rejects_bad_metadata(tmp_path):
    model = make_model(tiny_config())
    with pytest.raises(ValueError, match="reserved"):
        save_model(model, tmp_path / "m.safetensors", metadata={"config": "{}"})
    with pytest.raises(TypeError, match="step"):
        save_model(model, tmp_path / "m.safetensors", metadata={"step": 250})
    assert not any(tmp_path.iterdir())


def test_compiled_wrapper_is_unwrapped(tmp_path):
    model = make_model(tiny_config())
    wrapper = torch.nn.Module()
    wrapper._orig_mod = model  # what torch.compile's OptimizedModule holds
    save_model(wrapper, tmp_path / "m.safetensors")
    assert_same_state(model, load_model(tmp_path / "m.safetensors"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_load_onto_cuda(tmp_path):
    model = make_model(tiny_config())
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors", device="cuda")
    assert all(t.device.type == "cuda" for t in loaded.state_dict().values())
    assert_same_state(model, loaded.cpu())


def test_puzzle_embeddings_round_trip(tmp_path):
    model = make_model(tiny_config(puzzle_embeddings=6))
    with torch.no_grad():
        model.puzzle_embedding.weights.normal_()  # a trained table is not zero
    path = _saved(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert loaded.config.puzzle_embeddings == 6 and json.loads(_metadata(path)["config"])["puzzle_embeddings"] == 6
    assert_same_state(model, loaded)
    assert not loaded.puzzle_embedding.weights.requires_grad  # still no AdamW parameter
    ids = torch.tensor([0, 5, 2])
    inputs = torch.randint(0, 10, (3, 81), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = model(model.initial_hidden_states, inputs, ids), loaded(loaded.initial_hidden_states, inputs, ids)
    assert torch.equal(a.output, b.output) and torch.equal(a.q_act_halt, b.q_act_halt)
    with pytest.raises(ValueError, match="no puzzle embeddings"):
        export_swift(model, tmp_path / "swift.safetensors")


@pytest.mark.parametrize("value", [-1, True, 2.0, "6", 1 << 40])
def test_a_bad_puzzle_embedding_size_is_one_line(tmp_path, value):
    path = _saved(make_model(tiny_config(puzzle_embeddings=6)), tmp_path / "m.safetensors")
    metadata = _metadata(path)
    config = {**json.loads(metadata["config"]), "puzzle_embeddings": value}
    save_file(load_file(str(path)), str(path), metadata={**metadata, "config": json.dumps(config)})
    assert f"puzzle_embeddings {value!r} is not a table size from 0 to 2147483648" in error_of(path)


def test_a_table_that_does_not_match_the_config_is_named(tmp_path):
    path = _saved(make_model(tiny_config(puzzle_embeddings=6)), tmp_path / "m.safetensors")
    metadata = _metadata(path)
    config = json.loads(metadata["config"])
    larger = json.dumps({**config, "puzzle_embeddings": 9})
    save_file(load_file(str(path)), str(path), metadata={**metadata, "config": larger})
    assert "puzzle_embedding.weights has shape [6, 96], expected [9, 96]" in error_of(path)
    del config["puzzle_embeddings"]  # the table without the option
    save_file(load_file(str(path)), str(path), metadata={**metadata, "config": json.dumps(config)})
    assert "unexpected 1 key: puzzle_embedding.weights" in error_of(path)


# ---------------------------------------------------------------------------------------------
# MLX Swift format


def test_swift_export_matches_the_reference_table_for_the_default_config(tmp_path):
    model = make_model(HRMACTModelConfig())
    path = tmp_path / "swift.safetensors"
    export_swift(model, path)

    # The SwiGLU width is the model's business (tests/unit/modeling); the layout around it is checked here.
    inter = model.high_level_reasoner.blocks[0].mlp.down_proj.weight.shape[1]
    table = swift_table(num_layers=4, hidden=256, inter=inter)
    state = model.state_dict()
    with safe_open(str(path), framework="pt") as file:
        assert file.metadata() == {"format": "mlx"}
        assert set(file.keys()) == set(table)
        for key, (name, shape, dtype, transposed) in table.items():
            tensor = file.get_tensor(key)
            assert list(tensor.shape) == shape and tensor.dtype == dtype, key
            assert torch.equal(tensor, (state[name].t() if transposed else state[name]).to(dtype)), key
        parameters = sum(file.get_tensor(key).numel() for key in table if not key.startswith("rotaryEmb."))
    assert parameters == sum(p.numel() for p in model.parameters())  # every parameter, frozen ones included


def test_swift_export_writes_the_table_dtypes_even_from_a_cast_model(tmp_path):
    model = make_model(tiny_config()).to(torch.bfloat16)
    export_swift(model, tmp_path / "swift.safetensors")
    table = swift_table(2, 96, inter=256, head_dim=24)
    with safe_open(str(tmp_path / "swift.safetensors"), framework="pt") as file:
        assert {key: file.get_tensor(key).dtype for key in file.keys()} == {key: row[2] for key, row in table.items()}


def test_handmade_swift_checkpoint_loads_bit_identical(tmp_path):
    model = make_model(tiny_config(num_heads=2))  # head count is read off the rotary table's width
    path = write_swift(tmp_path / "checkpoint-250.safetensors", handmade_swift_tensors(model))
    loaded = load_model(path)
    assert loaded.config == model.config
    assert_same_state(model, loaded)
    assert_same_forward(model, loaded)


def test_native_to_swift_to_native_round_trip(tmp_path):
    model = make_model(tiny_config())
    export_swift(load_model(_saved(model, tmp_path / "native.safetensors")), tmp_path / "swift.safetensors")
    loaded = load_model(tmp_path / "swift.safetensors")
    assert_same_state(model, loaded)
    assert_same_forward(model, loaded)
    # And back out: the re-exported file is byte-for-byte the first export.
    export_swift(loaded, tmp_path / "again.safetensors")
    assert (tmp_path / "again.safetensors").read_bytes() == (tmp_path / "swift.safetensors").read_bytes()


def _saved(model, path):
    save_model(model, path)
    return path


def test_swift_checkpoint_without_rotary_tables_gets_them_recomputed(tmp_path):
    model = make_model(tiny_config())
    tensors = handmade_swift_tensors(model)
    del tensors["rotaryEmb.cos"], tensors["rotaryEmb.sin"]
    loaded = load_model(write_swift(tmp_path / "swift.safetensors", tensors))
    assert_same_state(model, loaded)  # includes the rotary buffers, recomputed equal to the model's
    assert loaded.rotary_emb.cos.dtype == torch.bfloat16


def test_stored_rotary_tables_are_used_when_they_differ(tmp_path):
    model = make_model(tiny_config())
    tensors = handmade_swift_tensors(model)
    tensors["rotaryEmb.cos"][5, 0, 3] += 0.5
    with pytest.warns(UserWarning, match="rotary_emb.cos differs .* in 1 of"):
        loaded = load_model(write_swift(tmp_path / "swift.safetensors", tensors))
    assert torch.equal(loaded.rotary_emb.cos, tensors["rotaryEmb.cos"])


def test_exact_rotary_tables_raise_no_warning(tmp_path):
    tensors = handmade_swift_tensors(make_model(tiny_config()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(write_swift(tmp_path / "swift.safetensors", tensors))


@pytest.mark.parametrize("swift", [True, False])
def test_missing_initial_hidden_states_are_named(tmp_path, swift):
    model = make_model(tiny_config())
    if swift:
        tensors = handmade_swift_tensors(model)
        del tensors["initialHiddenStatesParams.highLevel"], tensors["initialHiddenStatesParams.lowLevel"]
        path = write_swift(tmp_path / "m.safetensors", tensors)
        names = ["initialHiddenStatesParams.highLevel", "initialHiddenStatesParams.lowLevel"]
    else:
        path = _saved(model, tmp_path / "m.safetensors")
        tensors, metadata = load_file(str(path)), _metadata(path)
        del tensors["initial_hidden_states_params.low_level"]
        save_file(tensors, str(path), metadata=metadata)
        names = ["initial_hidden_states_params.low_level"]
    message = error_of(path)
    assert "initial hidden states" in message and "cannot be recomputed" in message
    assert all(name in message for name in names)


def _metadata(path):
    with safe_open(str(path), framework="pt") as file:
        return file.metadata()


def test_missing_unexpected_and_misshapen_swift_keys_are_named(tmp_path):
    tensors = handmade_swift_tensors(make_model(tiny_config()))
    del tensors["lowLevelReasoner.blocks.1.mlp.downProj.weight"]
    tensors["lowLevelReasoner.blocks.0.mlp.extra.weight"] = torch.zeros(3)
    tensors["outputHead.weight"] = tensors["outputHead.weight"].t().contiguous()  # PyTorch layout by mistake
    message = error_of(write_swift(tmp_path / "m.safetensors", tensors))
    assert "missing 1 key: lowLevelReasoner.blocks.1.mlp.downProj.weight" in message
    assert "unexpected 1 key: lowLevelReasoner.blocks.0.mlp.extra.weight" in message
    assert "outputHead.weight has shape [10, 96], expected [96, 10]" in message
    assert "MLX Swift checkpoint; config inferred from its shapes: hidden 96, 2 layers" in message


def test_many_missing_keys_are_counted(tmp_path):
    tensors = handmade_swift_tensors(make_model(tiny_config()))
    for key in [k for k in tensors if k.startswith("highLevelReasoner.")]:
        del tensors[key]
    message = error_of(write_swift(tmp_path / "m.safetensors", tensors))
    assert "missing 8 keys: highLevelReasoner.blocks.0" in message and "(+4 more)" in message


def test_swift_width_of_the_compiled_original_is_read_off_the_file(tmp_path):
    # The compiled Swift program rounds the SwiGLU width down; a file of that width loads as such.
    tensors = handmade_swift_tensors(make_model(tiny_config()))
    for key in [k for k in tensors if k.endswith("gateUpProj.weight")]:
        tensors[key] = torch.randn(96, 2 * 128)
    for key in [k for k in tensors if k.endswith("downProj.weight")]:
        tensors[key] = torch.randn(128, 96)
    model = load_model(write_swift(tmp_path / "m.safetensors", tensors))
    assert model.config.transformers.intermediate_size == 128
    assert torch.equal(model.low_level_reasoner.blocks[1].mlp.down_proj.weight, tensors["lowLevelReasoner.blocks.1.mlp.downProj.weight"].T)


def test_swift_widths_that_disagree_are_named(tmp_path):
    tensors = handmade_swift_tensors(make_model(tiny_config()))
    for key in [k for k in tensors if k.endswith("gateUpProj.weight")]:
        tensors[key] = torch.zeros(96, 1024)
    message = error_of(write_swift(tmp_path / "m.safetensors", tensors))
    assert "highLevelReasoner.blocks.0.mlp.downProj.weight has shape [256, 96], expected [512, 96]" in message


def test_swift_hidden_size_not_divisible_by_heads(tmp_path):
    tensors = handmade_swift_tensors(make_model(tiny_config()))
    del tensors["rotaryEmb.cos"], tensors["rotaryEmb.sin"]
    tensors["clsToken"] = torch.zeros(30)
    message = error_of(write_swift(tmp_path / "m.safetensors", tensors))
    assert "hidden size 30 is not divisible by 4 attention heads" in message


def test_non_float_tensor_is_named(tmp_path):
    tensors = handmade_swift_tensors(make_model(tiny_config()))
    tensors["clsToken"] = torch.zeros(96, dtype=torch.int64)
    message = error_of(write_swift(tmp_path / "m.safetensors", tensors))
    assert "clsToken has dtype torch.int64, expected a floating-point tensor" in message


def test_native_file_that_does_not_match_its_config(tmp_path):
    path = _saved(make_model(tiny_config()), tmp_path / "m.safetensors")
    metadata = _metadata(path)
    config = json.loads(metadata["config"])
    config["transformers"]["hidden_size"] = 128
    save_file(load_file(str(path)), str(path), metadata={**metadata, "config": json.dumps(config)})
    message = error_of(path)
    assert "cls_token has shape [96], expected [128]" in message and "more)" in message


# ---------------------------------------------------------------------------------------------
# Files that are not checkpoints


def test_files_that_are_not_safetensors(tmp_path):
    assert "file not found" in error_of(tmp_path / "nope.safetensors")
    assert "not a file" in error_of(tmp_path)
    text = tmp_path / "notes.safetensors"
    text.write_text("these are not weights\n" * 10)
    assert "not a readable safetensors file" in error_of(text)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    assert "not a readable safetensors file" in error_of(empty)
    whole = _saved(make_model(tiny_config()), tmp_path / "whole.safetensors").read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(whole[: len(whole) - 100])
    assert "not a readable safetensors file" in error_of(truncated)


def test_unsupported_formats(tmp_path):
    other = tmp_path / "other.safetensors"
    save_file({"encoder.weight": torch.zeros(2)}, str(other), metadata={"format": "pt"})
    assert "unsupported format (metadata format 'pt', keys encoder.weight)" in error_of(other)

    bare = tmp_path / "bare.safetensors"
    save_file(make_model(tiny_config()).state_dict(), str(bare))
    assert "no hrm-act metadata" in error_of(bare)

    path = _saved(make_model(tiny_config()), tmp_path / "m.safetensors")
    tensors, metadata = load_file(str(path)), _metadata(path)
    save_file(tensors, str(path), metadata={**metadata, "format_version": "2"})
    assert "unsupported hrm-act format version '2'" in error_of(path)
    save_file(tensors, str(path), metadata={**metadata, "config": "{not json"})
    assert "invalid model config in metadata" in error_of(path)
    save_file(tensors, str(path), metadata={**metadata, "config": json.dumps({"hidden": 3})})
    assert "invalid model config in metadata" in error_of(path)

    state = tmp_path / "m.state.safetensors"
    save_training_state(state, {}, {"step": 1})
    assert "training-state file, not a model checkpoint" in error_of(state)
    with pytest.raises(CheckpointError, match="not a training-state file"):
        load_training_state(path)


# ---------------------------------------------------------------------------------------------
# Atomic writes


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint-250.safetensors"
    save_model(make_model(tiny_config(), seed=0), path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(checkpoint, "serialize", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        save_model(make_model(tiny_config(), seed=1), path)
    monkeypatch.undo()

    # A crash after the temporary file is fully written, just before the rename.
    monkeypatch.setattr(file_io.os, "replace", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        export_swift(make_model(tiny_config(), seed=1), path)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_write_creates_missing_folders_with_ordinary_permissions(tmp_path):
    path = tmp_path / "run" / "checkpoints" / "m.safetensors"
    save_model(make_model(tiny_config()), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------------------------------------
# Training state


def test_training_state_round_trip(tmp_path):
    carried = torch.randn(4, 82, 96)
    tensors = {
        "optimizer.exp_avg.cls_token": torch.randn(96),
        "optimizer.exp_avg_sq.q_act_head.weight": torch.rand(2, 96).bfloat16(),
        "carry.hidden.high_level": carried[:2],  # views of one buffer are saved as their own data
        "carry.hidden.low_level": carried[2:],
        "carry.segments": torch.tensor([0, 3, 16, 1]),
        "carry.halted": torch.tensor([True, False, False, True]),
        "rng.torch": torch.get_rng_state(),
    }
    meta = {"step": 250, "stage": 2, "window": [0.5, 0.25], "curriculum": {"last_graduation": 0}, "seed": 42}
    path = tmp_path / "checkpoint-250.state.safetensors"
    save_training_state(path, tensors, meta)

    loaded, loaded_meta = load_training_state(path)
    assert loaded_meta == meta
    assert set(loaded) == set(tensors)
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor), name
    assert loaded["rng.torch"].dtype == torch.uint8


def test_training_state_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        save_training_state(tmp_path / "s.safetensors", {}, {"when": object()})
    with pytest.raises(TypeError, match="'x'"):
        save_training_state(tmp_path / "s.safetensors", {"x": [1, 2]}, {})
    assert not any(tmp_path.iterdir())


def test_training_state_path():
    assert training_state_path("runs/a/checkpoint-250.safetensors") == Path("runs/a/checkpoint-250.state.safetensors")
    assert training_state_path("model.bin") == Path("model.bin.state.safetensors")
