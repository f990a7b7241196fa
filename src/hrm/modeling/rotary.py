"""Rotary position embedding: the original's 1-D tables computed in bfloat16, or 2-D tables over a square grid.

The original computes its tables in bfloat16, positions included. bfloat16 holds the whole numbers exactly only up
to 256, so a sequence longer than that shares tables between neighbouring positions (of a 30×30 maze's 901
positions, 419 read the same as the one before). The 2-D tables (an option, `--pos-encoding rope2d`) rotate half of
each head's pairs by a cell's row and half by its column, computed in float32: a cell's neighbours sit at the same
offsets whatever the grid's side, so a model trained on small grids runs on large ones.
"""

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary_pos_emb(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, T, heads, head_dim]; cos/sin: [T, 1, head_dim], broadcast over heads."""
    return x * cos + rotate_half(x) * sin


class RotaryTables(nn.Module):
    """Frozen cos/sin tables of shape [positions, 1, dim], buffers `cos` and `sin`, applied to queries and keys."""

    def __init__(self, cos: torch.Tensor, sin: torch.Tensor):
        super().__init__()
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_rotary_pos_emb(x, self.cos, self.sin)


class RotaryPositionEmbedding(RotaryTables):
    """The original's 1-D tables, [max_length, 1, dim].

    Every step (base, exponents, positions, outer product, cos/sin) runs in `dtype` (bfloat16 by
    default), so the tables hold exactly the original's bf16 values, not rounded float32 values.
    """

    def __init__(self, dim: int, max_length: int, base: float, dtype: torch.dtype = torch.bfloat16):
        exponents = torch.arange(0, dim, 2, dtype=dtype) / torch.tensor(dim, dtype=dtype)
        inv_freq = torch.tensor(1.0, dtype=dtype) / torch.pow(torch.tensor(base, dtype=dtype), exponents)
        positions = torch.arange(max_length, dtype=dtype)
        freqs = torch.outer(positions, inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        super().__init__(emb.cos()[:, None, :], emb.sin()[:, None, :])


class GridRotaryEmbedding(RotaryTables):
    """2-D tables [prefix + side², 1, dim] in float32: the first `prefix` positions (CLS, puzzle) at row and column
    0, cell (r, c) of the row-major grid at (r + 1, c + 1). Pairs 0 .. dim/4 - 1 turn with the row, the others with
    the column, each axis over the frequencies of a dim/2 head (so a rotation stays unique)."""

    def __init__(self, dim: int, prefix: int, side: int, base: float):
        if dim % 4:
            raise ValueError(f"2-D rotary tables need a head size divisible by 4, got {dim}")
        inv_freq = 1.0 / base ** (torch.arange(0, dim // 2, 2, dtype=torch.float64) / (dim // 2))
        cell = torch.arange(side * side)
        rows = torch.cat([torch.zeros(prefix), 1 + cell // side]).double()
        cols = torch.cat([torch.zeros(prefix), 1 + cell % side]).double()
        freqs = torch.cat([torch.outer(rows, inv_freq), torch.outer(cols, inv_freq)], dim=-1)
        emb = torch.cat([freqs, freqs], dim=-1)
        super().__init__(emb.cos().float()[:, None, :], emb.sin().float()[:, None, :])
