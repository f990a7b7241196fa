"""The model config a checkpoint carries, checked before any model is built.

A native checkpoint states its config in its metadata; an MLX Swift file states none, so its config is
inferred from the tensor shapes. Either way `check_config` refuses sizes no model can be built from, so
that a corrupt or hostile header costs nothing. `checkpoint` re-exports CheckpointError and the limits.
"""

import json
import math
import re
from pathlib import Path

import torch

from .modeling import HRMACTModelConfig, TransformerConfig
from .modeling.hrm import ACTIVATION_DTYPES, POS_ENCODINGS
from .modeling.swiglu import intermediate_size

_SWIFT_BLOCK = re.compile(r"^(?:high|low)LevelReasoner\.blocks\.(\d+)\.")
_ANY_BLOCK = re.compile(r"^(?:high|low)(?:_level_r|LevelR)easoner\.blocks\.(\d+)\.")
# A model attends over all its positions at once; far beyond any board this project trains on (81, 100).
MAX_SEQ_LEN = 1 << 16
# Puzzle-embedding rows (a training set's puzzles): Sudoku-Extreme's 3.8 million fit many times over.
MAX_PUZZLE_EMBEDDINGS = 1 << 31


# Defined here, where the first checks raise it; `checkpoint` re-exports it.
class CheckpointError(ValueError):
    """A checkpoint or training-state file that cannot be used; the message is one line naming the problem."""


def config_from_metadata(path: Path, metadata: dict) -> HRMACTModelConfig:
    """The config a native checkpoint states in its metadata, parsed but not yet checked."""
    if "config" not in metadata:
        raise CheckpointError(f"{path}: hrm-act checkpoint without a model config in its metadata")
    try:
        return HRMACTModelConfig.from_dict(json.loads(metadata["config"]))
    except (ValueError, TypeError, AttributeError, RecursionError) as err:  # RecursionError: JSON nested too deep
        raise CheckpointError(f"{path}: invalid model config in metadata ({_line(str(err))})") from None


def check_config(path: Path, config: HRMACTModelConfig, tensors: dict[str, torch.Tensor], context: str) -> None:
    """Refuse a config that no model can be built from, before building anything: a corrupt or hostile header
    must not make the loader build a billion layers (slow even on the meta device) or rotary tables of a billion
    positions, nor load a model that computes with a negative epsilon."""
    t, act = config.transformers, config.act
    counts = {
        "seq_len": config.seq_len, "vocab_size": config.vocab_size, "high_level_cycles": config.high_level_cycles,
        "low_level_cycles": config.low_level_cycles, "num_layers": t.num_layers, "hidden_size": t.hidden_size,
        "num_heads": t.num_heads, "intermediate_size": t.intermediate_size, "halt_max_steps": act.halt_max_steps,
        "fixed_segments": act.fixed_segments, "high_layers": t.high_layers, "low_layers": t.low_layers,
    }  # fmt: skip
    optional = ("intermediate_size", "fixed_segments", "high_layers", "low_layers")
    problems = [
        f"{name} {value!r} is not a positive integer"
        for name, value in counts.items()
        if not (value is None and name in optional) and (type(value) is not int or value < 1)  # bool is no count
    ]
    for name, value in (("expansion", t.expansion), ("norm_epsilon", t.norm_epsilon), ("rope_theta", t.rope_theta)):
        if type(value) not in (int, float) or not 0 < value < math.inf:
            problems.append(f"{name} {value!r} is not a positive number")
    probability = act.halt_exploration_probability
    if type(probability) not in (int, float) or not 0 <= probability <= 1:
        problems.append(f"halt_exploration_probability {probability!r} is not between 0 and 1")
    rows = config.puzzle_embeddings
    if type(rows) is not int or not 0 <= rows <= MAX_PUZZLE_EMBEDDINGS:
        problems.append(f"puzzle_embeddings {rows!r} is not a table size from 0 to {MAX_PUZZLE_EMBEDDINGS}")
    if type(config.pos_encoding) is not str or config.pos_encoding not in POS_ENCODINGS:
        problems.append(f"pos_encoding {config.pos_encoding!r} is not one of {', '.join(POS_ENCODINGS)}")
    elif config.pos_encoding == "rope2d" and all(type(n) is int for n in (config.seq_len, t.hidden_size, t.num_heads)) \
            and t.num_heads > 0 and (problem := config.grid_problem()) is not None:
        problems.append(f"pos_encoding rope2d {problem}")
    if type(t.dropout) not in (int, float) or not 0 <= t.dropout < 1:
        problems.append(f"dropout {t.dropout!r} is not a probability from 0 to below 1")
    if type(config.learned_initial_states) is not bool:
        problems.append(f"learned_initial_states {config.learned_initial_states!r} is not true or false")
    if type(act.q_continue) is not bool:
        problems.append(f"q_continue {act.q_continue!r} is not true or false")
    if type(config.activation_dtype) is not str or config.activation_dtype not in ACTIVATION_DTYPES:
        problems.append(f"activation_dtype {config.activation_dtype!r} is not one of {', '.join(ACTIVATION_DTYPES)}")
    if not problems:
        blocks = len({int(match.group(1)) for key in tensors if (match := _ANY_BLOCK.match(key))})
        if t.hidden_size % t.num_heads or (t.hidden_size // t.num_heads) % 2:
            problems.append(f"hidden_size {t.hidden_size} does not split into {t.num_heads} heads of even size")
        # A bound on what gets built; which blocks are missing, the key check names.
        for name, depth in (("high_layers", t.high_layers), ("low_layers", t.low_layers), ("num_layers", t.num_layers)):
            if depth is not None and depth > blocks:
                problems.append(f"{name} {depth}, but the file holds blocks for {blocks}")
        if config.seq_len > MAX_SEQ_LEN:
            problems.append(f"seq_len {config.seq_len} is above {MAX_SEQ_LEN} positions")
    if problems:
        raise CheckpointError(f"{path}: invalid model config ({'; '.join(problems)}){context}")


def infer_swift_config(path: Path, tensors: dict[str, torch.Tensor]) -> HRMACTModelConfig:
    """Shapes give hidden size, layers, vocab, seq_len and head size; the rest are the original's defaults.

    Keys absent from the file fall back to the defaults too: the shape check that follows then
    names them, instead of this function failing on the first one.
    """
    defaults = HRMACTModelConfig()
    hidden = defaults.transformers.hidden_size
    cls_token, embeddings, cos = (tensors.get(k) for k in ("clsToken", "inputEmbedding.embeddings", "rotaryEmb.cos"))
    if cls_token is not None and cls_token.dim() == 1:
        hidden = cls_token.shape[0]
    elif embeddings is not None and embeddings.dim() == 2:
        hidden = embeddings.shape[1]
    vocab = embeddings.shape[0] if embeddings is not None and embeddings.dim() == 2 else defaults.vocab_size
    indices = [int(match.group(1)) for key in tensors if (match := _SWIFT_BLOCK.match(key))]
    layers = max(indices) + 1 if indices else defaults.transformers.num_layers

    seq_len, heads = defaults.seq_len, defaults.transformers.num_heads
    if cos is not None and cos.dim() == 3 and cos.shape[0] > 1:
        seq_len = cos.shape[0] - 1  # the table covers the CLS token too
        head_dim = cos.shape[2]
        if head_dim > 0 and hidden % head_dim == 0:
            heads = hidden // head_dim
    if hidden < 1 or hidden % heads:
        raise CheckpointError(f"{path}: hidden size {hidden} is not divisible by {heads} attention heads")

    # The SwiGLU width is read off the file: the compiled original rounds it down (512 for the
    # defaults) where the reference rounds up (768); both kinds of file load.
    gate_up = tensors.get("highLevelReasoner.blocks.0.mlp.gateUpProj.weight")
    inter = None
    if gate_up is not None and gate_up.dim() == 2 and gate_up.shape[1] % 2 == 0:
        width = gate_up.shape[1] // 2
        if width != intermediate_size(hidden, defaults.transformers.expansion):
            inter = width

    # Cycles, expansion, norm epsilon, rope theta and the ACT settings: the original's defaults.
    transformers = TransformerConfig(num_layers=layers, hidden_size=hidden, num_heads=heads, intermediate_size=inter)
    return HRMACTModelConfig(seq_len=seq_len, vocab_size=vocab, transformers=transformers)


def _line(text: str) -> str:
    """`text` with a newline or other control character (a file may put them in its key names) escaped."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
