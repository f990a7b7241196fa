"""Fuzzing `load_model` with mutated files: config values, metadata, tensor dtypes and shapes, the raw safetensors
header and its bytes. A file loads as exactly what it holds, or fails with one CheckpointError line; never another
exception, and an absurd size is refused before anything is allocated."""

import json
import struct
import warnings

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from src.hrm.checkpoint import CheckpointError, export_swift, load_model, read_metadata, save_model
from src.hrm.modeling import HRMACTInner, HRMACTModelConfig, TransformerConfig

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CONFIG_FIELDS = [
    ("seq_len",), ("vocab_size",), ("high_level_cycles",), ("low_level_cycles",),
    ("transformers", "num_layers"), ("transformers", "hidden_size"), ("transformers", "num_heads"),
    ("transformers", "expansion"), ("transformers", "norm_epsilon"), ("transformers", "rope_theta"),
    ("transformers", "intermediate_size"), ("act", "halt_max_steps"), ("act", "halt_exploration_probability"),
    ("act", "fixed_segments"), ("puzzle_embeddings",), ("pos_encoding",), ("learned_initial_states",),
    ("transformers", "dropout"), ("transformers", "high_layers"), ("transformers", "low_layers"),
]  # fmt: skip
ABSURD = st.sampled_from([0, -1, 10**9, 10**18, 2**63, 10**30, 1e300, float("inf"), float("nan"), -0.0])
VALUES = (
    st.integers(-2, 260) | ABSURD | st.floats(allow_nan=True) | st.booleans() | st.none() | st.text(max_size=3)
    | st.sampled_from(["rope", "learned", "rope+learned"])
    | st.lists(st.integers(0, 3), max_size=2) | st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=1)
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
DTYPES = [torch.float64, torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.int64, torch.int8, torch.uint8,
          torch.bool, torch.complex64]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    torch.manual_seed(0)
    config = HRMACTModelConfig(transformers=TransformerConfig(num_layers=2, hidden_size=32, num_heads=2,
                                                              intermediate_size=64))  # fmt: skip
    model = HRMACTInner(config)
    save_model(model, folder / "native.safetensors", metadata={"step": "1"})
    export_swift(model, folder / "swift.safetensors")
    return folder


def check(path) -> None:
    """The property: a model equal to the file's tensors (in the model's dtypes) under the file's config, or one
    CheckpointError line naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stored rotary tables that differ from the config's: a warning
            model = load_model(path)
    except CheckpointError as err:
        message = str(err)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        return
    except Exception as err:  # noqa: BLE001
        pytest.fail(f"{type(err).__name__} instead of a CheckpointError: {str(err)[:300]}")
    tensors, metadata = load_file(str(path)), read_metadata(path)
    if "config" in metadata:
        assert model.config == HRMACTModelConfig.from_dict(json.loads(metadata["config"]))
        for name, tensor in model.state_dict().items():
            if name in tensors:
                assert torch.equal(tensor, tensors[name].to(tensor.dtype)), name
    t = model.config.transformers
    depths = (len(model.high_level_reasoner.blocks), len(model.low_level_reasoner.blocks))
    assert isinstance(t.hidden_size, int) and t.depths == depths


def rewrite(source, target, metadata=None, change=None) -> None:
    """Copy a checkpoint with its metadata replaced and `change(tensors)` applied, through safetensors itself."""
    tensors = load_file(str(source))
    if change is not None:
        change(tensors)
    save_file(tensors, str(target), read_metadata(source) if metadata is None else metadata)


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(CONFIG_FIELDS), VALUES), min_size=1, max_size=3))
@example(edits=[(("transformers", "num_layers"), 10**9)])
@example(edits=[(("transformers", "hidden_size"), 10**9)])
@example(edits=[(("seq_len",), 10**9)])
def test_config_values(files, tmp_path, edits):
    metadata = read_metadata(files / "native.safetensors")
    config = json.loads(metadata["config"])
    for where, value in edits:
        owner = config
        for key in where[:-1]:
            owner = owner[key]
        owner[where[-1]] = value
    path = tmp_path / "m.safetensors"
    # Without its rotary tables the file does not bound seq_len: the loader would have to build them.
    rewrite(files / "native.safetensors", path, {**metadata, "config": json.dumps(config)},
            lambda t: [t.pop(k) for k in ("rotary_emb.cos", "rotary_emb.sin")])  # fmt: skip
    check(path)


@FUZZ
@given(
    key=st.sampled_from(["config", "format", "format_version", "step", "task", "other"]),
    value=st.text(max_size=20) | JSON.map(json.dumps) | st.none(),
)
@example(key="config", value="[" * 10_000 + "]" * 10_000)  # deeper than the JSON parser recurses
@example(key="config", value='{"transformers": 5}')
@example(key="config", value='{"transformers": {"a\\nb": 1}}')  # a keyword argument named with a newline
def test_metadata_entries(files, tmp_path, key, value):
    metadata = read_metadata(files / "native.safetensors")
    if value is None:
        metadata.pop(key, None)
    else:
        metadata[key] = value
    path = tmp_path / "m.safetensors"
    rewrite(files / "native.safetensors", path, metadata)
    check(path)


@FUZZ
@given(
    layout=st.sampled_from(["native", "swift"]),
    data=st.data(),
    action=st.sampled_from(["dtype", "reshape", "slice", "rename", "drop", "add"]),
)
def test_tensor_dtypes_shapes_and_names(files, tmp_path, layout, data, action):
    source = files / f"{layout}.safetensors"
    names = sorted(load_file(str(source)))
    name = data.draw(st.sampled_from(names))

    def change(tensors):
        tensor = tensors[name]
        if action == "dtype":
            tensors[name] = tensor.to(data.draw(st.sampled_from(DTYPES)))
        elif action == "reshape":
            tensors[name] = tensor.reshape(data.draw(st.sampled_from([(-1,), (1, -1), (-1, 1), (tensor.numel(), 1, 1)])))
        elif action == "slice":
            tensors[name] = tensor.reshape(-1)[: data.draw(st.integers(0, tensor.numel()))].clone()
        elif action == "rename":
            new = data.draw(st.sampled_from([name.replace(".0.", ".999999999."), name.replace(".0.", ".00."),
                                             name + "x", "highLevelReasoner.blocks.999999999.mlp.w"]))  # fmt: skip
            tensors[new] = tensors.pop(name)
        elif action == "drop":
            del tensors[name]
        else:
            tensors[data.draw(st.text(min_size=1, max_size=8))] = torch.zeros(data.draw(st.integers(0, 3)))

    path = tmp_path / "m.safetensors"
    rewrite(source, path, change=change)
    check(path)


def test_a_key_named_with_a_newline_stays_on_one_line(files, tmp_path):
    path = tmp_path / "m.safetensors"
    rewrite(files / "native.safetensors", path, change=lambda t: t.update({"x\ny": torch.zeros(1)}))
    with pytest.raises(CheckpointError, match=r"unexpected 1 key: x\\ny$"):
        load_model(path)


def header_and_body(data: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


@FUZZ
@given(
    layout=st.sampled_from(["native", "swift"]),
    data=st.data(),
    field=st.sampled_from(["dtype", "shape", "data_offsets", "entry", "__metadata__"]),
    value=JSON | st.lists(st.integers(-1, 10**12) | ABSURD.filter(lambda v: isinstance(v, int)), max_size=4)
    | st.sampled_from(["F64", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3", "C64", "XX"]),
)
def test_raw_header_fields(files, tmp_path, layout, data, field, value):
    header, body = header_and_body((files / f"{layout}.safetensors").read_bytes())
    if field == "__metadata__":
        header["__metadata__"] = value
    else:
        name = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        if field == "entry":
            header[name] = value
        else:
            header[name][field] = value
    encoded = json.dumps(header).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + body)
    check(path)


@FUZZ
@given(
    layout=st.sampled_from(["native", "swift"]),
    flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 5000),
)
def test_raw_bytes(files, tmp_path, layout, flips, cut):
    data = bytearray((files / f"{layout}.safetensors").read_bytes())
    for position, byte in flips:
        data[position % len(data)] = byte
    path = tmp_path / "m.safetensors"
    path.write_bytes(bytes(data[:cut] if cut is not None else data))
    check(path)
