"""Token embedding table with truncated-normal initialisation."""

import torch
import torch.nn.functional as F
from torch import nn

from .init_utils import trunc_normal_init


class Embedding(nn.Module):
    def __init__(self, vocab_size: int, dim: int, init_std: float):
        super().__init__()
        self.embeddings = nn.Parameter(trunc_normal_init((vocab_size, dim), std=init_std))

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        # F.embedding, not `embeddings[indices]`: the same lookup, but indexing's backward (index_put_ with
        # accumulation) serialises the ~42k gradients landing on 10 rows, about 18 ms per step on an H100.
        return F.embedding(indices, self.embeddings)
