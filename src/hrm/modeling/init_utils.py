"""Truncated normal initialisation, as the original's `truncNormalInit`."""

import math

import torch


def trunc_normal_init(shape, std: float, lower: float = -2.0, upper: float = 2.0, generator=None) -> torch.Tensor:
    """Float32 draws from a normal truncated to [lower, upper] standard deviations.

    The scale is compensated so that the *truncated* distribution has standard deviation `std`
    (a plain normal clipped at ±2σ would have about 0.88·std).
    """
    if std == 0:
        return torch.zeros(shape, dtype=torch.float32)
    sqrt2 = math.sqrt(2.0)
    a = math.erf(lower / sqrt2)
    b = math.erf(upper / sqrt2)
    z = (b - a) / 2
    c = (2 * math.pi) ** -0.5
    pdf_u = c * math.exp(-0.5 * lower**2)
    pdf_l = c * math.exp(-0.5 * upper**2)
    comp_std = std / math.sqrt(1 - (upper * pdf_u - lower * pdf_l) / z - ((pdf_u - pdf_l) / z) ** 2)

    # Inverse-CDF sampling: a uniform draw in [erf(lower/√2), erf(upper/√2)] maps into [lower, upper].
    u = torch.empty(shape, dtype=torch.float32).uniform_(a, b, generator=generator)
    x = torch.erfinv(u) * (sqrt2 * comp_std)
    return x.clamp_(lower * comp_std, upper * comp_std)
