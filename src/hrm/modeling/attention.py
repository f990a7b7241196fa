"""Multi-head self-attention (no mask) with rotary embeddings on queries and keys."""

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear
from .rotary import apply_rotary_pos_emb


class Attention(nn.Module):
    def __init__(self, hidden_size: int, head_dim: int, num_heads: int):
        super().__init__()
        self.head_dim = head_dim
        self.num_heads = num_heads
        self.qkv_proj = Linear(hidden_size, 3 * num_heads * head_dim)
        self.out_proj = Linear(num_heads * head_dim, hidden_size)

    def forward(self, x: torch.Tensor, cos: torch.Tensor | None, sin: torch.Tensor | None) -> torch.Tensor:
        """cos/sin: the rotary tables; None for a model with learned positions only (an option)."""
        batch, tokens, _ = x.shape
        qkv = self.qkv_proj(x).view(batch, tokens, 3 * self.num_heads, self.head_dim)
        query, key, value = qkv.split(self.num_heads, dim=2)  # each [B, T, nh, hd]
        if cos is not None:
            query = apply_rotary_pos_emb(query, cos, sin)
            key = apply_rotary_pos_emb(key, cos, sin)
        # SDPA wants [B, nh, T, hd]; its default scale is 1/√hd like the original's, and its
        # softmax accumulates in float32 (the original computes softmax in float32 too).
        out = F.scaled_dot_product_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2))
        return self.out_proj(out.transpose(1, 2).reshape(batch, tokens, self.num_heads * self.head_dim))
