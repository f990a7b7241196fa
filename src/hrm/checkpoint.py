"""Model checkpoints and training state as safetensors files.

Native format: one `.safetensors` file keyed by the PyTorch state_dict names (parameters and the
rotary tables), with the model config as JSON in its metadata, so it loads without restating the
config. MLX Swift format: what the original's `train` writes (camelCase keys, Linear weights
[in, out], no config). `load_model` tells the two apart by the metadata and the key names, takes the
config from `checkpoint_config` (which also checks it), then checks every tensor against the model.
Every file is written atomically; nothing is ever pickled.
"""

import json
import warnings
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as serialize
from torch import nn

from .checkpoint_config import (  # CheckpointError and the limits are re-exported: callers import them from here
    MAX_PUZZLE_EMBEDDINGS,  # noqa: F401
    MAX_SEQ_LEN,  # noqa: F401
    CheckpointError,
    _line,
    check_config,
    config_from_metadata,
    infer_swift_config,
)
from .file_io import write_bytes_atomically
from .modeling import HRMACTInner, HRMACTModelConfig
from .modeling.linear import Linear

FORMAT = "hrm-act"
FORMAT_VERSION = "1"
TRAINING_STATE_FORMAT = "hrm-act-training-state"
TRAINING_STATE_VERSION = "1"
_RESERVED_METADATA = ("format", "format_version", "config")

_ROTARY = ("rotary_emb.cos", "rotary_emb.sin")
_INITIAL_STATES = ("initial_hidden_states_params.high_level", "initial_hidden_states_params.low_level")

# PyTorch name -> Swift property name, one dotted path component at a time; components not listed
# (weight, bias, embeddings, blocks, mlp, cos, sin, block indices) are spelled the same in both.
_SWIFT_NAMES = {
    "cls_token": "clsToken",
    "input_embedding": "inputEmbedding",
    "output_head": "outputHead",
    "q_act_head": "qACTHead",
    "rotary_emb": "rotaryEmb",
    "high_level_reasoner": "highLevelReasoner",
    "low_level_reasoner": "lowLevelReasoner",
    "initial_hidden_states_params": "initialHiddenStatesParams",
    "self_attn": "selfAttn",
    "qkv_proj": "qkvProj",
    "out_proj": "outProj",
    "gate_up_proj": "gateUpProj",
    "down_proj": "downProj",
    "high_level": "highLevel",
    "low_level": "lowLevel",
}
_TORCH_TOP_LEVEL = {
    "cls_token", "input_embedding", "output_head", "q_act_head", "rotary_emb",
    "high_level_reasoner", "low_level_reasoner", "initial_hidden_states_params",
}  # fmt: skip
_SWIFT_TOP_LEVEL = {_SWIFT_NAMES[name] for name in _TORCH_TOP_LEVEL}


# ---------------------------------------------------------------------------------------------
# Public API


def save_model(model: HRMACTInner, path, dtype: torch.dtype | None = None, metadata: dict | None = None) -> None:
    """Write `model` as a native checkpoint (config in the metadata).

    dtype=torch.bfloat16 stores the float32 tensors in bf16 (half the size); None keeps every dtype.
    """
    model = _unwrap(model)
    extra = dict(metadata or {})
    for key, value in extra.items():
        if key in _RESERVED_METADATA:
            raise ValueError(f"metadata key {key!r} is reserved for the checkpoint format")
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"checkpoint metadata must map strings to strings; {key!r} has a {type(value).__name__}")
    if dtype is not None and not dtype.is_floating_point:
        raise ValueError(f"checkpoint dtype must be a floating-point dtype, got {dtype}")

    tensors = {}
    for name, tensor in model.state_dict().items():
        # Only float32 weights are cast: the bf16 Q head is already what the model defines, and the rotary tables
        # are computed, not trained (the original's are bf16, the 2-D ones float32): stored as they are.
        if dtype is not None and tensor.dtype == torch.float32 and name not in _ROTARY:
            tensor = tensor.to(dtype)
        tensors[name] = tensor
    extra.update(format=FORMAT, format_version=FORMAT_VERSION, config=json.dumps(model.config.to_dict()))
    _atomic_save_file(tensors, Path(path), extra)


def export_swift(model: HRMACTInner, path) -> None:
    """Write `model` in the layout the original MLX Swift program loads (section 4 of the reference)."""
    model = _unwrap(model)
    config = model.config
    # Dropout changes nothing at inference, trained initial states are saved where the original reads its own, and
    # bf16 activations only round what the original computes in float32. Without the continue value the model halts
    # where q_halt > 0, and the original would compare q_halt with the untrained continue logit instead.
    beyond = [
        what
        for what, used in (
            ("puzzle embeddings", config.puzzle_embeddings),
            ("learned positions", config.learned_positions),
            ("2-D rotary tables", config.grid_side is not None),
            ("reasoners of different depths", len(set(config.transformers.depths)) > 1),
            ("halting without a continue value", not config.act.q_continue),
        )
        if used
    ]
    if beyond:
        raise ValueError(f"the original program has no {' or '.join(beyond)}; such a model cannot be exported for it")
    skeleton = _skeleton(model.config)
    dtypes = {name: tensor.dtype for name, tensor in skeleton.state_dict().items()}
    linear_weights = _linear_weight_names(skeleton)
    tensors = {}
    for name, tensor in model.state_dict().items():
        # The model's own dtypes: float32 except the bf16 Q head and rotary tables, whatever `model` was cast to.
        tensor = tensor.detach().to(dtypes[name])
        tensors[_to_swift(name)] = tensor.t() if name in linear_weights else tensor  # MLX Linear is [in, out]
    _atomic_save_file(tensors, Path(path), {"format": "mlx"})  # what MLX itself writes


def load_model(path, device: str | torch.device = "cpu") -> HRMACTInner:
    """Load a native or MLX Swift checkpoint (detected automatically), fully validated, onto `device`."""
    path = Path(path)
    metadata, tensors = _read(path)
    kind = metadata.get("format")
    if kind == FORMAT:
        _check_version(path, metadata, FORMAT_VERSION)
        config, swift, context = config_from_metadata(path, metadata), False, ""
    elif kind == TRAINING_STATE_FORMAT:
        raise CheckpointError(f"{path}: this is a training-state file, not a model checkpoint")
    elif any(key.split(".")[0] in _SWIFT_TOP_LEVEL for key in tensors):
        config, swift = infer_swift_config(path, tensors), True
        t = config.transformers
        context = (
            f" (MLX Swift checkpoint; config inferred from its shapes: hidden {t.hidden_size}, {t.num_layers} layers,"
            f" {t.num_heads} heads, vocab {config.vocab_size}, seq_len {config.seq_len};"
            " the rest at the original's defaults)"
        )
    elif any(key.split(".")[0] in _TORCH_TOP_LEVEL for key in tensors):
        raise CheckpointError(
            f"{path}: has PyTorch parameter names but no hrm-act metadata, so its model config is unknown;"
            " write checkpoints with save_model"
        )
    else:
        raise CheckpointError(
            f"{path}: unsupported format (metadata format {kind!r}, keys {_some(sorted(tensors)) or 'none'});"
            " expected an hrm-act or MLX Swift HRM-ACT checkpoint"
        )

    check_config(path, config, tensors, context)
    try:
        skeleton = _skeleton(config)
    except Exception as err:  # e.g. a config whose sizes do not fit together
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__  # torch may add a C++ trace
        raise CheckpointError(f"{path}: cannot build a model from its config ({reason}){context}") from None
    state = _collect_state(path, tensors, skeleton, swift, context)
    # Nothing is allocated until every entry has been checked; strict loading is a last guard.
    model = skeleton.to_empty(device=device)
    model.load_state_dict(state, strict=True)
    return model


def save_training_state(path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write the tensors (optimizer moments, carried batch, RNG states as uint8) and JSON `meta` atomically."""
    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"training state {name!r} is a {type(tensor).__name__}, not a tensor")
    try:
        meta_json = json.dumps(meta)
    except (TypeError, ValueError) as err:
        raise TypeError(f"training-state meta must be JSON-serialisable: {err}") from None
    metadata = {"format": TRAINING_STATE_FORMAT, "format_version": TRAINING_STATE_VERSION, "meta": meta_json}
    _atomic_save_file(tensors, Path(path), metadata)


def load_training_state(path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by `save_training_state`: (tensors on the CPU, meta)."""
    path = Path(path)
    metadata, tensors = _read(path)
    kind = metadata.get("format")
    if kind != TRAINING_STATE_FORMAT:
        raise CheckpointError(f"{path}: not a training-state file (metadata format {kind!r})")
    _check_version(path, metadata, TRAINING_STATE_VERSION)
    try:
        meta = json.loads(metadata["meta"])
    except (KeyError, ValueError, RecursionError):
        raise CheckpointError(f"{path}: training-state metadata is missing or not valid JSON") from None
    return tensors, meta


def training_state_path(model_path) -> Path:
    """The training-state file next to a checkpoint: checkpoint-250.safetensors -> checkpoint-250.state.safetensors."""
    model_path = Path(model_path)
    name = model_path.name
    stem = name[: -len(".safetensors")] if name.endswith(".safetensors") else name
    return model_path.with_name(f"{stem}.state.safetensors")


# ---------------------------------------------------------------------------------------------
# Reading and validation


def read_metadata(path) -> dict[str, str]:
    """A checkpoint's metadata (config, step, task, ...) without reading its tensors."""
    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as file:
            return dict(file.metadata() or {})
    except Exception as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path}: not a readable safetensors file ({reason})") from None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: file not found")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            tensors = {key: file.get_tensor(key) for key in file.keys()}
    except Exception as err:  # whatever the parser trips on, the file is not a usable safetensors file
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path}: not a readable safetensors file ({reason})") from None
    return metadata, tensors


def _check_version(path: Path, metadata: dict, supported: str) -> None:
    version = metadata.get("format_version")
    if version != supported:
        raise CheckpointError(
            f"{path}: unsupported {metadata.get('format')} format version {version!r}"
            f" (this code reads version {supported})"
        )


def _collect_state(
    path: Path, tensors: dict[str, torch.Tensor], skeleton: HRMACTInner, swift: bool, context: str
) -> dict[str, torch.Tensor]:
    """Check every key, shape and dtype against the `skeleton` model, then return its state_dict."""
    expected = skeleton.state_dict()
    linear_weights = _linear_weight_names(skeleton) if swift else set()
    file_names = {(_to_swift(name) if swift else name): name for name in expected}

    missing_states = [key for key, name in file_names.items() if name in _INITIAL_STATES and key not in tensors]
    if missing_states:
        raise CheckpointError(
            f"{path}: the initial hidden states ({', '.join(missing_states)}) are missing; they are random draws"
            " fixed when the model was created and cannot be recomputed"
        )
    # The rotary tables are frozen functions of the config: a file may leave them out.
    missing = [key for key, name in file_names.items() if key not in tensors and name not in _ROTARY]
    unexpected = sorted(key for key in tensors if key not in file_names)
    wrong = []
    for key, name in file_names.items():
        if key not in tensors:
            continue
        found = tensors[key]
        want = tuple(expected[name].shape)
        want = want[::-1] if name in linear_weights else want
        if tuple(found.shape) != want:
            wrong.append(f"{key} has shape {list(found.shape)}, expected {list(want)}")
        elif not found.is_floating_point():
            wrong.append(f"{key} has dtype {found.dtype}, expected a floating-point tensor")
    problems = []
    if missing:
        problems.append(f"missing {_count(missing, 'key')}: {_some(missing)}")
    if unexpected:
        problems.append(f"unexpected {_count(unexpected, 'key')}: {_some(unexpected)}")
    if wrong:
        problems.append(_some(wrong, separator="; "))
    if problems:
        raise CheckpointError(f"{path}: " + "; ".join(problems) + context)

    state = {}
    for key, name in file_names.items():
        if key in tensors:
            tensor = tensors[key].t() if name in linear_weights else tensors[key]
            # Float32 master weights (and the bf16 Q head), whatever precision the file stored.
            state[name] = tensor.to(expected[name].dtype).contiguous()
    recomputed = _rotary_tables(skeleton.config) if skeleton.rotary_emb is not None else {}
    for name in recomputed:
        if name not in state:
            state[name] = recomputed[name]
        elif not torch.equal(state[name], recomputed[name]):
            # The original's loader overwrites its freshly computed tables with the stored ones, so the
            # stored tables are what its forward used; keep them, but say that the arithmetic differed.
            differing = int((state[name] != recomputed[name]).sum())
            warnings.warn(
                f"{path}: stored {name} differs from the table computed for this config in {differing} of"
                f" {state[name].numel()} entries; using the stored table",
                stacklevel=3,
            )
    return state


def _rotary_tables(config: HRMACTModelConfig) -> dict[str, torch.Tensor]:
    rotary = config.rotary_tables()
    return {"rotary_emb.cos": rotary.cos, "rotary_emb.sin": rotary.sin}


# ---------------------------------------------------------------------------------------------
# Helpers


def _skeleton(config: HRMACTModelConfig) -> HRMACTInner:
    """The model's names, shapes and dtypes on the meta device: no memory, no draws from the global RNG."""
    with torch.device("meta"):
        return HRMACTInner(config)


def _linear_weight_names(model: nn.Module) -> set[str]:
    return {f"{name}.weight" for name, module in model.named_modules() if isinstance(module, Linear)}


def _to_swift(name: str) -> str:
    return ".".join(_SWIFT_NAMES.get(part, part) for part in name.split("."))


def _unwrap(model: nn.Module) -> HRMACTInner:
    model = getattr(model, "_orig_mod", model)  # a torch.compile wrapper prefixes every name otherwise
    if not isinstance(model, HRMACTInner):
        raise TypeError(f"expected an HRMACTInner model, got {type(model).__name__}")
    return model


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'s' if len(items) != 1 else ''}"


def _some(items, limit: int = 4, separator: str = ", ") -> str:
    """The first few items and how many more, so that one line stays readable."""
    shown = separator.join(_line(item) for item in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _atomic_save_file(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """Write a safetensors file whole or not at all (file_io.atomic_write): a crash leaves the previous file or
    the complete new one. We serialise to bytes ourselves (rather than `save_file`) so that the file gets the
    usual permissions and is fsynced through the descriptor that wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = serialize({name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}, metadata)
    write_bytes_atomically(path, data)
