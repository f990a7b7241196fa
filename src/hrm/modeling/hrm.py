"""HRM-ACT inner model: two recurrent transformer reasoners with a 1-step gradient and a Q-learning halt head."""

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .attention import Attention
from .embedding import Embedding
from .init_utils import trunc_normal_init
from .linear import Linear
from .puzzle_embedding import PUZZLE_POSITIONS, PuzzleEmbedding
from .rmsnorm import rms_norm
from .rotary import GridRotaryEmbedding, RotaryPositionEmbedding, RotaryTables
from .swiglu import SwiGLU


@dataclass
class TransformerConfig:
    num_layers: int = 4
    hidden_size: int = 256
    num_heads: int = 4
    expansion: float = 4.0
    norm_epsilon: float = 1e-5
    rope_theta: float = 10000.0
    # None: the reference's width (768 for the defaults). 512 reproduces the compiled Swift program.
    intermediate_size: int | None = None
    # Not in the original (seeds 000, 002): dropout on the attention and MLP branches before the residual add, in
    # training mode only. 0: none, the original's block.
    dropout: float = 0.0
    # Not in the original (seed 000): blocks of the high- and low-level reasoners where they differ. None: num_layers.
    high_layers: int | None = None
    low_layers: int | None = None

    @property
    def depths(self) -> tuple[int, int]:
        """Blocks of the (high-level, low-level) reasoners."""
        return tuple(self.num_layers if n is None else n for n in (self.high_layers, self.low_layers))


@dataclass
class ACTConfig:
    halt_max_steps: int = 16
    halt_exploration_probability: float = 0.1
    # Not in the original: the seeds' fixed think time. Every row runs exactly this many segments in
    # training and inference, and the Q head's halt decisions are ignored. None: ACT halting.
    fixed_segments: int | None = None
    # Not in the original (the Tiny Recursive Model's choice): False drops the "continue" Q value, its loss and the
    # second forward that makes its target; the continue logit reads 0, so a row halts where sigmoid(q_halt) > 0.5.
    q_continue: bool = True


# Position encodings: the original's rotary embedding, a learned table of absolute positions, or both (seeds 000, 002);
# rope2d: rotary tables over a square grid's rows and columns (src/hrm/modeling/rotary.py).
POS_ENCODINGS = ("rope", "learned", "rope+learned", "rope2d")
# The dtype of the residual stream and the hidden states between blocks. float32: the original's (matrix products
# follow the run's precision, bf16 autocast on CUDA); bfloat16: every activation, as the HRM paper's code computes.
ACTIVATION_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass
class HRMACTModelConfig:
    """The original's defaults. Plain data: `to_dict`/`from_dict` carry it through checkpoint metadata."""

    seq_len: int = 81
    vocab_size: int = 10
    high_level_cycles: int = 2
    low_level_cycles: int = 2
    transformers: TransformerConfig = field(default_factory=TransformerConfig)
    act: ACTConfig = field(default_factory=ACTConfig)
    # Not in the original: rows of a learned per-puzzle embedding table (ids 0..n-1, 0 = unknown), its vector
    # placed after the CLS token. 0: none, the original's model.
    puzzle_embeddings: int = 0
    # Not in the original: how the model knows positions (POS_ENCODINGS). "rope": the original's.
    pos_encoding: str = "rope"
    # Not in the original (seed 002): the initial states are trained. False: frozen random draws, the original's.
    learned_initial_states: bool = False
    # Not in the original: bfloat16 activations (ACTIVATION_DTYPES), half the memory traffic of the residual stream.
    activation_dtype: str = "float32"

    @property
    def positions(self) -> int:
        """Length of the hidden states: the CLS token, the puzzle embedding if any, the tokens."""
        return 1 + (PUZZLE_POSITIONS if self.puzzle_embeddings else 0) + self.seq_len

    @property
    def rotary(self) -> bool:
        return any(part in ("rope", "rope2d") for part in self.pos_encoding.split("+"))

    def grid_problem(self) -> str | None:
        """What keeps this config from 2-D rotary tables (rope2d), in words after "pos_encoding rope2d"; None: nothing.
        The one statement of the rule: the checkpoint check, train's check and the model all ask it."""
        t = self.transformers
        if math.isqrt(max(self.seq_len, 0)) ** 2 != self.seq_len:
            return f"needs a square grid, not {self.seq_len} cells"
        if (t.hidden_size // t.num_heads) % 4:
            return (f"needs a head size divisible by 4, not {t.hidden_size // t.num_heads} (hidden size"
                    f" {t.hidden_size} over {t.num_heads} heads)")  # fmt: skip
        return None

    @property
    def grid_side(self) -> int | None:
        """The square grid's side with 2-D rotary tables (rope2d); None otherwise."""
        if "rope2d" not in self.pos_encoding.split("+"):
            return None
        problem = self.grid_problem()
        if problem is not None:
            raise ValueError(f"pos_encoding rope2d {problem}")
        return math.isqrt(self.seq_len)

    def rotary_tables(self) -> RotaryTables:
        """The cos/sin tables this config's attention rotates by (rope: the original's; rope2d: the grid's)."""
        t = self.transformers
        head_dim = t.hidden_size // t.num_heads
        side = self.grid_side
        if side is not None:
            return GridRotaryEmbedding(head_dim, self.positions - self.seq_len, side, t.rope_theta)
        return RotaryPositionEmbedding(head_dim, self.positions, t.rope_theta)

    @property
    def learned_positions(self) -> bool:
        return "learned" in self.pos_encoding.split("+")

    def to_dict(self) -> dict:
        """The config as JSON-ready data, without the options that are off: the original's model keeps the original's
        config, in files too, and files written before an option existed read back as they were."""
        data = dataclasses.asdict(self)
        for section, defaults in _OPTIONS_OFF.items():
            owner = data[section] if section else data
            for name, default in defaults.items():
                if owner[name] == default:
                    del owner[name]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "HRMACTModelConfig":
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
        transformers = TransformerConfig(**data.pop("transformers", {}))
        act = ACTConfig(**data.pop("act", {}))
        return cls(transformers=transformers, act=act, **data)


# The options beyond the original, by config section, at their "off" values.
_OPTIONS_OFF = {
    "": {"puzzle_embeddings": 0, "pos_encoding": "rope", "learned_initial_states": False, "activation_dtype": "float32"},
    "transformers": {"dropout": 0.0, "high_layers": None, "low_layers": None},
    "act": {"q_continue": True},
}


@dataclass
class HiddenStates:
    high_level: torch.Tensor
    low_level: torch.Tensor


@dataclass
class HRMACTOutput:
    hidden_states: HiddenStates  # detached
    output: torch.Tensor  # [B, 81, vocab] logits (the token positions only)
    q_act_halt: torch.Tensor  # [B]
    q_act_continue: torch.Tensor  # [B]


class HRMACTBlock(nn.Module):
    """Post-norm transformer block."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.norm_epsilon = config.norm_epsilon
        self.self_attn = Attention(
            config.hidden_size, head_dim=config.hidden_size // config.num_heads, num_heads=config.num_heads
        )
        self.mlp = SwiGLU(config.hidden_size, config.expansion, config.intermediate_size)
        # Without dropout, the identity: the original's block, drawing no random numbers.
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()

    def forward(self, x: torch.Tensor, cos: torch.Tensor | None, sin: torch.Tensor | None) -> torch.Tensor:
        x = rms_norm(x + self.dropout(self.self_attn(x, cos, sin)), self.norm_epsilon)
        return rms_norm(x + self.dropout(self.mlp(x)), self.norm_epsilon)


class HRMACTReasoner(nn.Module):
    def __init__(self, config: TransformerConfig, num_layers: int):
        super().__init__()
        self.blocks = nn.ModuleList(HRMACTBlock(config) for _ in range(num_layers))

    def forward(self, hidden_state, input_injection, cos, sin):
        x = hidden_state + input_injection
        for block in self.blocks:
            x = block(x, cos, sin)
        return x


class InitialHiddenStates(nn.Module):
    """Starting points of both reasoners, saved in checkpoints: frozen random draws (the original's), or `trainable`
    ones (an option) drawn the same way."""

    def __init__(self, hidden_size: int, trainable: bool = False):
        super().__init__()
        self.high_level = nn.Parameter(trunc_normal_init((hidden_size,), std=1.0), requires_grad=trainable)
        self.low_level = nn.Parameter(trunc_normal_init((hidden_size,), std=1.0), requires_grad=trainable)


class HRMACTInner(nn.Module):
    def __init__(self, config: HRMACTModelConfig):
        super().__init__()
        self.config = config
        hidden = config.transformers.hidden_size
        head_dim = hidden // config.transformers.num_heads
        self.cls_token = nn.Parameter(trunc_normal_init((hidden,), std=hidden**-0.5))
        self.input_embedding = Embedding(config.vocab_size, hidden, init_std=hidden**-0.5)
        self.output_head = Linear(hidden, config.vocab_size)
        # The original creates the Q head in bfloat16: zero weights and a -5 bias, so halting starts "off".
        self.q_act_head = Linear(hidden, 2, bias=True)
        with torch.no_grad():
            self.q_act_head.weight.zero_()
            self.q_act_head.bias.fill_(-5.0)
        self.q_act_head.to(torch.bfloat16)
        self.rotary_emb = None  # a model with learned positions only has no rotary tables
        if config.rotary:
            self.rotary_emb = config.rotary_tables()
        high_layers, low_layers = config.transformers.depths
        self.high_level_reasoner = HRMACTReasoner(config.transformers, high_layers)
        self.low_level_reasoner = HRMACTReasoner(config.transformers, low_layers)
        self.initial_hidden_states_params = InitialHiddenStates(hidden, trainable=config.learned_initial_states)
        # Created last and zero: the other parameters draw the same numbers with or without it.
        self.puzzle_embedding = PuzzleEmbedding(config.puzzle_embeddings, hidden) if config.puzzle_embeddings else None
        # Created after everything else, for the same reason: learned absolute positions [positions, H], every
        # position (CLS, puzzle, cells) initialised like the token embedding, as the HRM paper's code does.
        self.position_embedding = (
            Embedding(config.positions, hidden, init_std=hidden**-0.5) if config.learned_positions else None
        )

    @property
    def initial_hidden_states(self) -> HiddenStates:
        params = self.initial_hidden_states_params
        return HiddenStates(high_level=params.high_level, low_level=params.low_level)

    def restart(self, hidden_states: HiddenStates, rows: torch.Tensor) -> HiddenStates:
        """`hidden_states` [B, T, H] with the `rows` [B] bool replaced by the initial states themselves (with learned
        initial states, the path their gradient takes; see `forward`)."""
        initial, rows = self.initial_hidden_states, rows[:, None, None]
        return HiddenStates(
            high_level=torch.where(rows, initial.high_level, hidden_states.high_level),
            low_level=torch.where(rows, initial.low_level, hidden_states.low_level),
        )

    def forward(
        self,
        hidden_states: HiddenStates,
        inputs: torch.Tensor,
        puzzle_ids: torch.Tensor | None = None,
        puzzle_vectors: torch.Tensor | None = None,
    ) -> HRMACTOutput:
        """One segment. With puzzle embeddings: `puzzle_ids` [B] (checked; None: the blank id 0 for every row), or
        the rows already looked up, `puzzle_vectors` [B, 1, H] (the trainer's, which takes their gradient)."""
        config = self.config
        hidden = config.transformers.hidden_size
        cos, sin = (self.rotary_emb.cos, self.rotary_emb.sin) if self.rotary_emb is not None else (None, None)

        # CLS token at position 0, [the puzzle's embedding,] then the 81 cells; scaled by √H.
        cls = self.cls_token.expand(inputs.shape[0], 1, hidden)
        prefix = [cls]
        if self.puzzle_embedding is not None:
            if puzzle_vectors is None:
                ids = self.puzzle_embedding.checked_ids(puzzle_ids, inputs.shape[0], inputs.device)
                puzzle_vectors = self.puzzle_embedding(ids)
            prefix.append(puzzle_vectors)
        elif puzzle_ids is not None or puzzle_vectors is not None:
            raise ValueError("this model has no puzzle embeddings; give no puzzle ids")
        x = torch.cat([*prefix, self.input_embedding(inputs)], dim=1)  # [B, 82 (+1), H]
        if self.position_embedding is not None:
            # Learned absolute positions, added as the HRM paper's code adds them: the sum of two embeddings scaled by
            # 1/√2 has the variance of one.
            x = (x + self.position_embedding.embeddings) * math.sqrt(0.5)
        x = x * math.sqrt(hidden)

        z_high, z_low = hidden_states.high_level, hidden_states.low_level
        if config.activation_dtype != "float32":  # the option: the residual stream in this dtype from here on
            dtype = ACTIVATION_DTYPES[config.activation_dtype]
            x, z_high, z_low = x.to(dtype), z_high.to(dtype), z_low.to(dtype)
        with torch.no_grad():
            for cycle in range(1, config.high_level_cycles * config.low_level_cycles):
                z_low = self.low_level_reasoner(z_low, z_high + x, cos, sin)
                if cycle % config.low_level_cycles == 0:
                    z_high = self.high_level_reasoner(z_high, z_low, cos, sin)

        # 1-step gradient: only the last low- and high-level updates carry gradient.
        z_low, z_high = z_low.detach(), z_high.detach()
        if config.learned_initial_states:
            # The no-gradient cycles would stop every gradient to the initial states. Rows given them as parameters
            # (`restart`: rows on their first segment) take the gradient at the last updates' inputs straight through
            # the cycles, as if these were the identity. Adds zeros: the values do not change.
            start = hidden_states
            z_low = z_low + (start.low_level - start.low_level.detach()).to(z_low.dtype)  # keeps bf16 activations
            z_high = z_high + (start.high_level - start.high_level.detach()).to(z_high.dtype)
        z_low = self.low_level_reasoner(z_low, z_high + x, cos, sin)
        z_high = self.high_level_reasoner(z_high, z_low, cos, sin)

        output = self.output_head(z_high[:, len(prefix) :])  # [B, 81, vocab]
        q = self.q_act_head(z_high[:, 0]).float()  # [B, 2], from the CLS position
        # Without the continue value (an option) its logit reads 0: the halting rules then compare q_halt with 0.
        q_continue = q[:, 1] if config.act.q_continue else torch.zeros_like(q[:, 1])
        return HRMACTOutput(
            hidden_states=HiddenStates(high_level=z_high.detach(), low_level=z_low.detach()),
            output=output,
            q_act_halt=q[:, 0],
            q_act_continue=q_continue,
        )
