"""Multi-head attention against an explicit per-head softmax(QKᵀ/√hd)·V in float64 with RoPE."""

import math

import pytest
import torch

from src.hrm.modeling.attention import Attention
from src.hrm.modeling.rotary import RotaryPositionEmbedding


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [T, hd]; rotate the pair (i, i + hd/2) at position t by the table's angle (complex product)."""
    half = x.shape[-1] // 2
    z = torch.complex(x[:, :half], x[:, half:]) * torch.complex(cos[:, :half], sin[:, :half])
    return torch.cat([z.real, z.imag], dim=-1)


def reference_attention(x, qkv_weight, out_weight, num_heads, cos, sin):
    """x: [B, T, H] float64. The qkv output is laid out [q heads | k heads | v heads], hd columns each."""
    batch, tokens, _ = x.shape
    head_dim = qkv_weight.shape[0] // (3 * num_heads)
    out = torch.zeros(batch, tokens, num_heads * head_dim, dtype=torch.float64)
    for b in range(batch):
        for h in range(num_heads):
            rows = lambda k: slice((k * num_heads + h) * head_dim, (k * num_heads + h + 1) * head_dim)  # noqa: E731
            q = rotate_pairs(x[b] @ qkv_weight[rows(0)].T, cos, sin)
            k = rotate_pairs(x[b] @ qkv_weight[rows(1)].T, cos, sin)
            v = x[b] @ qkv_weight[rows(2)].T
            logits = q @ k.T / math.sqrt(head_dim)
            weights = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)
            weights = weights / weights.sum(dim=-1, keepdim=True)
            out[b, :, h * head_dim : (h + 1) * head_dim] = weights @ v
    return out @ out_weight.T


@pytest.mark.parametrize("hidden, heads", [(32, 2), (48, 3)])
def test_matches_explicit_float64_attention(hidden, heads):
    torch.manual_seed(0)
    head_dim = hidden // heads
    rope = RotaryPositionEmbedding(head_dim, 82, 10000.0)
    attention = Attention(hidden, head_dim=head_dim, num_heads=heads)
    assert attention.qkv_proj.weight.shape == (3 * hidden, hidden)
    assert attention.out_proj.weight.shape == (hidden, hidden)
    # Large inputs make the attention sharp and position dependent, so RoPE and head order matter.
    x = torch.randn(2, 82, hidden) * 3

    out = attention(x, rope.cos, rope.sin)
    assert out.dtype == torch.float32 and out.shape == (2, 82, hidden)
    expected = reference_attention(
        x.double(),
        attention.qkv_proj.weight.detach().double(),
        attention.out_proj.weight.detach().double(),
        heads,
        rope.cos[:, 0].double(),
        rope.sin[:, 0].double(),
    )
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-4)

    # Float64 module copy: agreement to double precision.
    out64 = attention.double()(x.double(), rope.cos.double(), rope.sin.double())
    torch.testing.assert_close(out64, expected, rtol=1e-10, atol=1e-10)


def test_rope_and_head_order_change_the_result():
    # The reference distinguishes the alternatives, so the test above can fail on either mistake.
    torch.manual_seed(1)
    hidden, heads = 32, 2
    head_dim = hidden // heads
    rope = RotaryPositionEmbedding(head_dim, 82, 10000.0)
    attention = Attention(hidden, head_dim=head_dim, num_heads=heads)
    x = torch.randn(1, 82, hidden, dtype=torch.float64) * 3
    qkv = attention.qkv_proj.weight.detach().double()
    out_w = attention.out_proj.weight.detach().double()
    cos, sin = rope.cos[:, 0].double(), rope.sin[:, 0].double()
    expected = reference_attention(x, qkv, out_w, heads, cos, sin)

    no_rope = reference_attention(x, qkv, out_w, heads, torch.ones_like(cos), torch.zeros_like(sin))
    assert (no_rope - expected).abs().max().item() > 1e-2
    # Per-head interleaved layout [h0: q k v | h1: q k v] instead of [q heads | k heads | v heads].
    interleaved = qkv.view(heads, 3, head_dim, hidden).transpose(0, 1).reshape(3 * hidden, hidden)
    other_layout = reference_attention(x, interleaved, out_w, heads, cos, sin)
    assert (other_layout - expected).abs().max().item() > 1e-2


def test_no_causal_mask():
    # Changing the last token changes the output at the first position: every token attends to all.
    torch.manual_seed(2)
    hidden, heads = 32, 2
    rope = RotaryPositionEmbedding(hidden // heads, 82, 10000.0)
    attention = Attention(hidden, head_dim=hidden // heads, num_heads=heads)
    x = torch.randn(1, 82, hidden)
    y = x.clone()
    y[0, -1] += 5
    a, b = attention(x, rope.cos, rope.sin), attention(y, rope.cos, rope.sin)
    assert (a[0, 0] - b[0, 0]).abs().max().item() > 1e-4
