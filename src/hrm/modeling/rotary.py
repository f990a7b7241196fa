"""Rotary position embedding with tables computed in bfloat16, as the original does."""

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary_pos_emb(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, T, heads, head_dim]; cos/sin: [T, 1, head_dim], broadcast over heads."""
    return x * cos + rotate_half(x) * sin


class RotaryPositionEmbedding(nn.Module):
    """Frozen cos/sin tables of shape [max_length, 1, dim].

    Every step (base, exponents, positions, outer product, cos/sin) runs in `dtype` (bfloat16 by
    default), so the tables hold exactly the original's bf16 values, not rounded float32 values.
    """

    def __init__(self, dim: int, max_length: int, base: float, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        exponents = torch.arange(0, dim, 2, dtype=dtype) / torch.tensor(dim, dtype=dtype)
        inv_freq = torch.tensor(1.0, dtype=dtype) / torch.pow(torch.tensor(base, dtype=dtype), exponents)
        positions = torch.arange(max_length, dtype=dtype)
        freqs = torch.outer(positions, inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        self.register_buffer("cos", emb.cos()[:, None, :])
        self.register_buffer("sin", emb.sin()[:, None, :])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_rotary_pos_emb(x, self.cos, self.sin)
