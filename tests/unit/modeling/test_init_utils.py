"""Truncated-normal init against the distribution it claims to sample, computed independently."""

import math

import numpy as np
import pytest
import torch

from src.hrm.modeling.init_utils import trunc_normal_init

N_DRAWS = 1_000_000


def truncated_standard_normal_std(lower: float = -2.0, upper: float = 2.0, points: int = 200_001) -> float:
    """Std of N(0, 1) truncated to [lower, upper], by trapezoidal integration (no closed form, no scipy)."""
    x = np.linspace(lower, upper, points)
    density = np.exp(-0.5 * x**2)
    h = x[1] - x[0]

    def integrate(f):
        return h * (f.sum() - 0.5 * (f[0] + f[-1]))

    mass = integrate(density)
    mean = integrate(x * density) / mass
    return math.sqrt(integrate((x - mean) ** 2 * density) / mass)


def truncated_normal_cdf(x: float, half_width: float = 2.0) -> float:
    """CDF of N(0, 1) truncated to [-half_width, half_width]."""
    phi = lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))  # noqa: E731
    return (phi(x) - phi(-half_width)) / (phi(half_width) - phi(-half_width))


def test_integration_helper_matches_known_value():
    # The truncated std at ±2σ is a textbook 0.8796; guards the helper the other tests rely on.
    assert truncated_standard_normal_std() == pytest.approx(0.879626, abs=1e-6)


@pytest.mark.parametrize("std", [0.02, 256**-0.5, 1.0, 3.0])
def test_statistics_of_a_million_draws(std):
    generator = torch.Generator().manual_seed(1234)
    x = trunc_normal_init((N_DRAWS,), std=std, generator=generator)
    assert x.dtype == torch.float32
    assert x.shape == (N_DRAWS,)

    x64 = x.double()
    # The compensation makes the *truncated* distribution have the requested std.
    assert x64.std().item() == pytest.approx(std, rel=0.01)
    assert abs(x64.mean().item()) < 5e-3 * std  # standard error is std/1000

    # Bounds: clipped at ±2·compStd, where compStd = std / (std of the unit truncated normal).
    comp_std = std / truncated_standard_normal_std()
    largest = x64.abs().max().item()
    assert largest <= 2 * comp_std * (1 + 1e-6)
    assert largest >= 2 * comp_std * (1 - 1e-4)  # a million draws reach the edge; pins compStd to 1e-4


def test_shape_of_the_distribution_is_a_truncated_normal():
    # A rescaled uniform or a clipped (uncompensated) normal would pass a std check but not this one.
    std = 0.5
    comp_std = std / truncated_standard_normal_std()
    x = trunc_normal_init((N_DRAWS,), std=std, generator=torch.Generator().manual_seed(7)).double()
    for z in (-1.5, -1.0, -0.5, 0.0, 0.25, 1.0, 1.9):
        empirical = (x <= z * comp_std).double().mean().item()
        assert empirical == pytest.approx(truncated_normal_cdf(z), abs=2.5e-3), z


def test_zero_std_gives_zeros():
    x = trunc_normal_init((3, 5), std=0.0)
    assert x.dtype == torch.float32
    assert x.shape == (3, 5)
    assert torch.equal(x, torch.zeros(3, 5))


def test_multi_dimensional_shape_and_generator_reproducibility():
    a = trunc_normal_init((4, 6, 2), std=0.1, generator=torch.Generator().manual_seed(3))
    b = trunc_normal_init((4, 6, 2), std=0.1, generator=torch.Generator().manual_seed(3))
    c = trunc_normal_init((4, 6, 2), std=0.1, generator=torch.Generator().manual_seed(4))
    assert a.shape == (4, 6, 2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
