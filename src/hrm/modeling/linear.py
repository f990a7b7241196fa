"""Linear layer with the original's truncated-normal LeCun initialisation."""

import torch
import torch.nn.functional as F
from torch import nn

from .init_utils import trunc_normal_init


class Linear(nn.Module):
    """y = x·Wᵀ (+ b). The original stores W as [in, out]; we hold PyTorch's [out, in] (checkpoint I/O transposes)."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(trunc_normal_init((out_dim, in_dim), std=in_dim**-0.5))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Casting to the input's dtype reproduces MLX's promotion for the bf16 Q head (bf16·fp32 → fp32);
        # for float32 weights on float32 inputs it is a no-op, and autocast overrides it on CUDA.
        weight = self.weight.to(x.dtype)
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, weight, bias)
