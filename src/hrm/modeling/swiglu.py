"""SwiGLU feed-forward with a fused gate-and-up projection."""

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear


def find_multiple(n: int, k: int) -> int:
    """Round n up to a multiple of k."""
    return n if n % k == 0 else n + k - n % k


def intermediate_size(dim: int, expansion: float) -> int:
    """The SwiGLU width as the reference describes it: int(expansion·dim·2/3) rounded up to 256 (682 → 768).

    The Swift source writes `(-(a / -b)) * b`, the Python round-up idiom; Swift's `/` truncates toward
    zero, so the compiled original rounds *down* (682 → 512). `TransformerConfig.intermediate_size`
    reproduces that width exactly (docs/fidelity.md).
    """
    return find_multiple(int(expansion * dim * 2 / 3), 256)


class SwiGLU(nn.Module):
    def __init__(self, dim: int, expansion: float, inter: int | None = None):
        super().__init__()
        inter = intermediate_size(dim, expansion) if inter is None else inter
        self.gate_up_proj = Linear(dim, inter * 2)
        self.down_proj = Linear(inter, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The original splits gate first, then up.
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)
