"""Parameter-free RMS normalisation."""

import torch


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """x·rsqrt(mean(x²) + eps) over the last axis, computed in float32 and cast back to x's dtype."""
    input_dtype = x.dtype
    x = x.float()
    x = x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + eps)
    return x.to(input_dtype)
