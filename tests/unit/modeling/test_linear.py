"""Linear layer: y = x·Wᵀ (+ b) against float64 matmuls, init scale, and MLX-style bf16 promotion."""

import pytest
import torch

from src.hrm.modeling.linear import Linear


def test_output_equals_float64_matmul():
    torch.manual_seed(0)
    layer = Linear(24, 40)
    x = torch.randn(3, 7, 24)
    expected = x.double() @ layer.weight.double().T
    y = layer(x)
    assert y.dtype == torch.float32
    assert y.shape == (3, 7, 40)
    torch.testing.assert_close(y.double(), expected, rtol=1e-5, atol=1e-5)


def test_weight_layout_is_out_by_in():
    # PyTorch holds the transpose of the original's [in, out] weight.
    layer = Linear(24, 40)
    assert layer.weight.shape == (40, 24)
    assert layer.bias is None


def test_bias_starts_at_zero_and_is_added():
    torch.manual_seed(1)
    layer = Linear(8, 5, bias=True)
    assert layer.bias.shape == (5,)
    assert torch.equal(layer.bias, torch.zeros(5))
    with torch.no_grad():
        layer.bias.copy_(torch.arange(5.0))
    x = torch.randn(4, 8)
    expected = x.double() @ layer.weight.double().T + torch.arange(5.0, dtype=torch.float64)
    torch.testing.assert_close(layer(x).double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("in_dim", [256, 1024])
def test_init_std_is_inverse_sqrt_fan_in(in_dim):
    torch.manual_seed(2)
    layer = Linear(in_dim, 1024)
    weight = layer.weight.double()
    assert layer.weight.dtype == torch.float32
    assert weight.std().item() == pytest.approx(in_dim**-0.5, rel=0.02)
    assert abs(weight.mean().item()) < 0.01 * in_dim**-0.5


def test_bf16_weights_promote_to_float32_like_mlx():
    # The Q head is held in bf16; MLX computes bf16·fp32 in fp32, so the output must be the float32
    # product with the exact bf16 weight values, not a bf16 computation.
    torch.manual_seed(3)
    layer = Linear(64, 2, bias=True)
    with torch.no_grad():
        layer.weight.normal_()
        layer.bias.copy_(torch.tensor([-5.0, 0.3]))
    layer.to(torch.bfloat16)
    x = torch.randn(16, 64)

    y = layer(x)
    assert y.dtype == torch.float32
    expected = x.double() @ layer.weight.double().T + layer.bias.double()
    torch.testing.assert_close(y.double(), expected, rtol=1e-5, atol=1e-5)

    # A bf16 computation would be far off: this is what the test rules out.
    in_bf16 = (x.bfloat16() @ layer.weight.T + layer.bias).double()
    assert (in_bf16 - expected).abs().max().item() > 1e-3
