"""Token embedding table with truncated-normal initialisation."""

import torch
from torch import nn

from .init_utils import trunc_normal_init


class Embedding(nn.Module):
    def __init__(self, vocab_size: int, dim: int, init_std: float):
        super().__init__()
        self.embeddings = nn.Parameter(trunc_normal_init((vocab_size, dim), std=init_std))

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.embeddings[indices]
