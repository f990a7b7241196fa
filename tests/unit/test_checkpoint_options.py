"""The model options beyond the original in checkpoints: each round-trips through save_model/load_model, a bad value
in the metadata is one CheckpointError line, the default model's metadata does not mention them, and export_swift
refuses what the original cannot express."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from test_checkpoint import _metadata, assert_same_forward, assert_same_state, error_of, make_model, tiny_config

from src.hrm.checkpoint import load_model, save_model

OPTIONS = {  # an option on: (model config fields, transformers fields)
    "learned positions": ({"pos_encoding": "learned"}, {}),
    "rope and learned positions": ({"pos_encoding": "rope+learned"}, {}),
    "learned positions and puzzle embeddings": ({"pos_encoding": "rope+learned", "puzzle_embeddings": 3}, {}),
    "2-D rotary tables": ({"pos_encoding": "rope2d"}, {}),
    "2-D rotary tables and puzzle embeddings": ({"pos_encoding": "rope2d", "puzzle_embeddings": 3}, {}),
    "dropout": ({}, {"dropout": 0.25}),
    "learned initial states": ({"learned_initial_states": True}, {}),
    "depths": ({}, {"high_layers": 1, "low_layers": 3}),
    "all": ({"pos_encoding": "learned", "learned_initial_states": True}, {"dropout": 0.1, "low_layers": 1}),
}


def option_config(name: str):
    model_fields, transformer_fields = OPTIONS[name]
    config = tiny_config(**model_fields)
    for field, value in transformer_fields.items():
        setattr(config.transformers, field, value)
    return config


def saved(model, path):
    save_model(model, path)
    return path


@pytest.mark.parametrize("name", OPTIONS)
def test_every_option_round_trips(tmp_path, name):
    model = make_model(option_config(name))
    trained = {"learned initial states", "all"}
    if name in trained:
        with torch.no_grad():  # trained states are not the drawn ones
            model.initial_hidden_states_params.high_level.add_(0.5)
    path = saved(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert loaded.config == model.config
    assert json.loads(_metadata(path)["config"]) == model.config.to_dict()
    assert_same_state(model, loaded)
    assert_same_forward(model.eval(), loaded.eval())
    assert [n for n, p in loaded.named_parameters() if p.requires_grad] == [
        n for n, p in model.named_parameters() if p.requires_grad
    ]
    assert loaded.initial_hidden_states_params.high_level.requires_grad == (name in trained)
    assert ("rotary_emb.cos" in loaded.state_dict()) == loaded.config.rotary


def test_the_default_models_metadata_does_not_mention_the_options(tmp_path):
    path = saved(make_model(tiny_config()), tmp_path / "m.safetensors")
    config = json.loads(_metadata(path)["config"])
    named = {"pos_encoding", "learned_initial_states", "puzzle_embeddings"} & set(config)
    named |= {"dropout", "high_layers", "low_layers"} & set(config["transformers"])
    assert not named


@pytest.mark.parametrize("shipped", ["hrm-act-sudoku", "hrm-act-sudoku-hard", "hrm-act-boardpath"])
def test_the_shipped_checkpoints_load_with_every_option_off(shipped):
    model = load_model(f"checkpoints/{shipped}.safetensors")
    config = model.config
    assert (config.pos_encoding, config.learned_initial_states, config.transformers.dropout) == ("rope", False, 0.0)
    assert config.transformers.depths == (4, 4) and model.position_embedding is None


def rewrite_config(path, **changes):
    """The file at `path` with its metadata's config changed: model fields, or transformers.FIELD."""
    metadata = _metadata(path)
    config = json.loads(metadata["config"])
    for where, value in changes.items():
        owner, key = (config["transformers"], where[len("transformers_") :]) if where.startswith("transformers_") else (
            config, where)  # fmt: skip
        owner[key] = value
    save_file(load_file(str(path)), str(path), metadata={**metadata, "config": json.dumps(config)})


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("pos_encoding", "alibi", "pos_encoding 'alibi' is not one of rope, learned, rope+learned, rope2d"),
        ("pos_encoding", 1, "pos_encoding 1 is not one of"),
        ("pos_encoding", None, "pos_encoding None is not one of"),
        ("transformers_dropout", 1, "dropout 1 is not a probability from 0 to below 1"),
        ("transformers_dropout", -0.1, "dropout -0.1 is not a probability"),
        ("transformers_dropout", "0.1", "dropout '0.1' is not a probability"),
        ("transformers_dropout", True, "dropout True is not a probability"),
        ("learned_initial_states", 1, "learned_initial_states 1 is not true or false"),
        ("learned_initial_states", "yes", "learned_initial_states 'yes' is not true or false"),
        ("transformers_high_layers", 0, "high_layers 0 is not a positive integer"),
        ("transformers_low_layers", 1.5, "low_layers 1.5 is not a positive integer"),
        ("transformers_low_layers", True, "low_layers True is not a positive integer"),
        ("transformers_high_layers", 10**9, "high_layers 1000000000, but the file holds blocks for 2"),
        ("transformers_low_layers", 3, "low_layers 3, but the file holds blocks for 2"),
    ],
)
def test_a_bad_option_value_is_one_line(tmp_path, field, value, message):
    path = saved(make_model(tiny_config()), tmp_path / "m.safetensors")
    rewrite_config(path, **{field: value})
    assert message in error_of(path)


def test_a_file_whose_tensors_do_not_fit_its_options_is_named(tmp_path):
    path = saved(make_model(option_config("learned positions")), tmp_path / "m.safetensors")
    rewrite_config(path, pos_encoding="rope")  # the table without the option, and no rotary tables (recomputed)
    assert "unexpected 1 key: position_embedding.embeddings" in error_of(path)
    rewrite_config(path, pos_encoding="rope+learned", puzzle_embeddings=0, seq_len=80)
    assert "position_embedding.embeddings has shape [82, 96], expected [81, 96]" in error_of(path)
    path = saved(make_model(option_config("depths")), tmp_path / "d.safetensors")
    rewrite_config(path, transformers_high_layers=None)  # num_layers (2) high-level blocks, the file holds 1
    assert "missing 4 keys: high_level_reasoner.blocks.1." in error_of(path)


def test_2d_tables_need_a_square_grid_and_head_sizes_divisible_by_4(tmp_path):
    path = saved(make_model(option_config("2-D rotary tables")), tmp_path / "m.safetensors")
    rewrite_config(path, seq_len=80)
    assert "pos_encoding rope2d needs a square grid, not 80 cells" in error_of(path)
    path = saved(make_model(option_config("2-D rotary tables")), tmp_path / "h.safetensors")
    rewrite_config(path, transformers_num_heads=16)  # the same weights; heads of 6 dimensions
    assert "pos_encoding rope2d needs a head size divisible by 4, not 6" in error_of(path)


@pytest.mark.parametrize("name", ["learned positions", "rope and learned positions", "2-D rotary tables", "depths",
                                  "all"])  # fmt: skip
def test_export_swift_refuses_what_the_original_cannot_express(tmp_path, name):
    from src.hrm.checkpoint import export_swift

    with pytest.raises(ValueError, match="^the original program has no .*; such a model cannot be exported for it$"):
        export_swift(make_model(option_config(name)), tmp_path / "swift.safetensors")
    assert not (tmp_path / "swift.safetensors").exists()


def test_export_swift_refuses_a_model_that_halts_without_a_continue_value(tmp_path):
    from src.hrm.checkpoint import export_swift

    config = option_config("dropout")
    config.act.q_continue = False
    with pytest.raises(ValueError, match="^the original program has no halting without a continue value; such"):
        export_swift(make_model(config), tmp_path / "swift.safetensors")
    assert not (tmp_path / "swift.safetensors").exists()


def test_export_swift_writes_a_model_trained_with_dropout_or_learned_initial_states(tmp_path):
    """Neither changes what the model computes at inference: the original runs it as trained."""
    from src.hrm.checkpoint import export_swift

    config = option_config("dropout")
    config.learned_initial_states = True
    model = make_model(config)
    with torch.no_grad():
        model.initial_hidden_states_params.low_level.mul_(-1)  # trained
    export_swift(model, tmp_path / "swift.safetensors")
    loaded = load_model(tmp_path / "swift.safetensors")  # the original's model: no option
    assert loaded.config.transformers.dropout == 0 and not loaded.config.learned_initial_states
    assert torch.equal(loaded.initial_hidden_states_params.low_level, model.initial_hidden_states_params.low_level)
    assert_same_forward(model.eval(), loaded.eval())


def test_export_swift_writes_a_model_trained_with_bf16_activations_as_the_float32_model(tmp_path):
    """The original computes in float32: the same weights, without the rounding of the option."""
    from src.hrm.checkpoint import export_swift

    config = option_config("dropout")
    config.activation_dtype = "bfloat16"
    model = make_model(config)
    export_swift(model, tmp_path / "swift.safetensors")
    loaded = load_model(tmp_path / "swift.safetensors")
    assert loaded.config.activation_dtype == "float32"
    assert_same_state(model, loaded)


def test_a_bf16_file_keeps_the_2d_tables_in_float32(tmp_path, recwarn):
    model = make_model(option_config("2-D rotary tables"))
    save_model(model, tmp_path / "half.safetensors", dtype=torch.bfloat16)
    stored = load_file(str(tmp_path / "half.safetensors"))
    assert stored["rotary_emb.cos"].dtype == torch.float32 and stored["output_head.weight"].dtype == torch.bfloat16
    loaded = load_model(tmp_path / "half.safetensors")
    assert torch.equal(loaded.rotary_emb.cos, model.rotary_emb.cos) and not recwarn.list  # no "stored table differs"
