"""Named model sizes: hidden size, heads, blocks per level and the ACT segment limit.

`micro`, `small`, `base`, `large` and `xlarge` follow the table of a Keras HRM port (seed 003),
which gives the same depth to both levels; `tiny` is ours, a model for the CPU. Without a
variant the model is the original's (hidden 256, 4 heads, 4 blocks, 16 segments), which is
none of these. Parameter counts in docs/architecture.md are this code's, for Sudoku's
vocabulary and length.
"""

from .hrm import ACTConfig, HRMACTModelConfig, TransformerConfig

VARIANTS = {  # name: (hidden size, heads, blocks per level, halt_max_steps)
    "micro": (256, 4, 2, 4),
    "tiny": (128, 4, 2, 8),
    "small": (512, 8, 6, 8),
    "base": (768, 12, 8, 10),
    "large": (1024, 16, 12, 12),
    "xlarge": (1536, 24, 16, 16),
}


def variant_config(name: str, seq_len: int = 81, vocab_size: int = 10) -> HRMACTModelConfig:
    """The model config of a variant (ValueError naming the known ones for another name)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    hidden, heads, layers, max_steps = VARIANTS[name]
    return HRMACTModelConfig(
        seq_len=seq_len,
        vocab_size=vocab_size,
        transformers=TransformerConfig(num_layers=layers, hidden_size=hidden, num_heads=heads),
        act=ACTConfig(halt_max_steps=max_steps),
    )
