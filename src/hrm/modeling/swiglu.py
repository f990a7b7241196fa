"""SwiGLU feed-forward with a fused gate-and-up projection."""

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear


def find_multiple(n: int, k: int) -> int:
    """Round n up to a multiple of k."""
    return n if n % k == 0 else n + k - n % k


class SwiGLU(nn.Module):
    def __init__(self, dim: int, expansion: float):
        super().__init__()
        inter = find_multiple(int(expansion * dim * 2 / 3), 256)
        self.gate_up_proj = Linear(dim, inter * 2)
        self.down_proj = Linear(inter, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The original splits gate first, then up.
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)
