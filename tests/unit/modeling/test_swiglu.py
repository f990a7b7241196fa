"""SwiGLU: the original's intermediate size, gate-first split, and the output formula in float64."""

import pytest
import torch

from src.hrm.modeling.swiglu import SwiGLU, find_multiple


def swift_find_multiple(a: int, b: int) -> int:
    """The original's `(-(a / -b)) * b` with Swift's Int division, which truncates toward zero.

    The expression is the Python ceil idiom `-(a // -b) * b`, but Python's // floors while Swift's /
    truncates, so in the original it rounds *down* to a multiple: Int(4·256·2/3) = 682 → 512.
    """
    truncated_quotient = int(a / -b)  # int() truncates toward zero, like Swift's Int division
    return -truncated_quotient * b


def test_swift_division_helper():
    # Swift: 7 / -2 == -3, -7 / 2 == -3 (truncation), unlike Python's floor division.
    assert swift_find_multiple(682, 256) == 512
    assert swift_find_multiple(768, 256) == 768
    assert swift_find_multiple(85, 256) == 0


def test_find_multiple_rounds_up_as_the_reference_describes():
    # Reference, section 2: int(4·256·2/3) = 682 → 768.
    for b in (1, 7, 256):
        for a in range(1, 2000):
            m = find_multiple(a, b)
            assert m % b == 0 and a <= m < a + b


# (dim, expansion) -> findMultiple(int(expansion·dim·2/3), 256) rounded up, the reference's width.
@pytest.mark.parametrize(
    "dim, expansion, inter", [(256, 4.0, 768), (384, 4.0, 1024), (32, 12.0, 256), (48, 8.0, 256), (576, 4.0, 1536)]
)
def test_intermediate_size(dim, expansion, inter):
    mlp = SwiGLU(dim, expansion)
    assert mlp.gate_up_proj.weight.shape == (2 * inter, dim)
    assert mlp.down_proj.weight.shape == (dim, inter)


def test_explicit_width_reproduces_the_compiled_swift_program():
    # The Swift source's findMultiple truncates (Swift's `/`), giving 512 for the defaults.
    inter = swift_find_multiple(int(4.0 * 256 * 2 / 3), 256)
    mlp = SwiGLU(256, 4.0, inter)
    assert inter == 512
    assert mlp.gate_up_proj.weight.shape == (1024, 256)
    assert mlp.down_proj.weight.shape == (256, 512)


def reference(x, gate_weight, up_weight, down_weight):
    """down(silu(x·Gᵀ) ⊙ x·Uᵀ) in float64, silu written out as v·sigmoid(v)."""
    gate = x @ gate_weight.T
    up = x @ up_weight.T
    return (gate / (1 + torch.exp(-gate)) * up) @ down_weight.T


def test_output_matches_float64_formula_with_gate_first():
    torch.manual_seed(0)
    dim = 32
    mlp = SwiGLU(dim, 12.0)  # intermediate 256 under either rounding
    inter = mlp.down_proj.weight.shape[1]
    # Distinguishable halves: gate rows strongly negative-shifted, up rows positive-shifted.
    gate_weight = torch.randn(inter, dim, dtype=torch.float64) * 0.3 - 0.2
    up_weight = torch.randn(inter, dim, dtype=torch.float64) * 0.3 + 0.2
    with torch.no_grad():
        mlp.gate_up_proj.weight.copy_(torch.cat([gate_weight, up_weight]))
    down_weight = mlp.down_proj.weight.detach().double()
    x = torch.randn(2, 82, dim)

    out = mlp(x)
    assert out.dtype == torch.float32 and out.shape == (2, 82, dim)
    expected = reference(x.double(), gate_weight, up_weight, down_weight)
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-4)

    # The swapped split (up first) gives a clearly different output, so this test can tell them apart.
    swapped = reference(x.double(), up_weight, gate_weight, down_weight)
    assert (swapped - expected).abs().max().item() > 0.1
