"""Rotary tables against a step-by-step bf16 recomputation, and the rotation against complex numbers."""

import numpy as np
import pytest
import torch

from src.hrm.modeling.rotary import GridRotaryEmbedding, RotaryPositionEmbedding, apply_rotary_pos_emb, rotate_half


def round_to_bf16(values) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), returned as float32."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def bf16_tables(dim: int, length: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """The original's table construction with every intermediate rounded to bf16 (each op in float32)."""
    base_b = round_to_bf16(f32(base))
    exponents = round_to_bf16(round_to_bf16(np.arange(0, dim, 2, dtype=np.float32)) / np.float32(dim))
    powers = round_to_bf16(f32(np.power(base_b.astype(np.float64), exponents.astype(np.float64))))
    inv_freq = round_to_bf16(np.float32(1.0) / powers)
    positions = round_to_bf16(np.arange(length, dtype=np.float32))
    freqs = round_to_bf16(np.outer(positions, inv_freq))  # products of two bf16 values are exact in float32
    emb = np.concatenate([freqs, freqs], axis=-1)
    return round_to_bf16(f32(np.cos(emb.astype(np.float64)))), round_to_bf16(f32(np.sin(emb.astype(np.float64))))


def test_bf16_rounding_helper_matches_torch():
    values = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * 100
    expected = torch.from_numpy(values).bfloat16().float().numpy()
    assert np.array_equal(round_to_bf16(values), expected)
    assert round_to_bf16(f32(10000.0))[()] == 9984.0  # the base the original actually uses


@pytest.mark.parametrize("dim, length", [(64, 82), (16, 82), (32, 10)])
def test_tables_equal_step_by_step_bf16_computation(dim, length):
    rope = RotaryPositionEmbedding(dim, length, 10000.0)
    assert rope.cos.dtype == torch.bfloat16 and rope.sin.dtype == torch.bfloat16
    assert rope.cos.shape == (length, 1, dim) and rope.sin.shape == (length, 1, dim)
    cos, sin = bf16_tables(dim, length, 10000.0)
    assert np.array_equal(rope.cos[:, 0, :].float().numpy(), cos)
    assert np.array_equal(rope.sin[:, 0, :].float().numpy(), sin)


def test_tables_are_not_rounded_float_tables():
    # bf16 arithmetic (base 9984, rounded exponents and angles) moves many entries: the original's
    # tables are not cos/sin computed precisely and then rounded.
    dim, length = 64, 82
    rope = RotaryPositionEmbedding(dim, length, 10000.0)
    inv_freq = 1.0 / 10000.0 ** (np.arange(0, dim, 2) / dim)
    angles = np.outer(np.arange(length), inv_freq)
    angles = np.concatenate([angles, angles], axis=-1)
    precise_cos = round_to_bf16(f32(np.cos(angles)))
    precise_sin = round_to_bf16(f32(np.sin(angles)))
    differing = (rope.cos[:, 0, :].float().numpy() != precise_cos).sum()
    differing += (rope.sin[:, 0, :].float().numpy() != precise_sin).sum()
    assert differing > 100
    # Position 0 is still the identity rotation.
    assert torch.equal(rope.cos[0].float(), torch.ones(1, dim))
    assert torch.equal(rope.sin[0].float(), torch.zeros(1, dim))


def test_tables_are_buffers_not_trainable_parameters():
    rope = RotaryPositionEmbedding(16, 82, 10000.0)
    assert list(rope.parameters()) == []
    assert set(rope.state_dict()) == {"cos", "sin"}  # saved with the model, as in the original


def test_rotate_half():
    x = torch.arange(8.0).reshape(1, 8)
    assert rotate_half(x).tolist() == [[-4.0, -5.0, -6.0, -7.0, 0.0, 1.0, 2.0, 3.0]]


def rotate_pairs_as_complex(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate each pair (i, i + hd/2) as the complex number x_i + j·x_{i+hd/2} times (cos + j·sin)."""
    half = x.shape[-1] // 2
    out = np.empty_like(x)
    for t in range(x.shape[1]):
        for i in range(half):
            rotation = complex(cos[t, i], sin[t, i])
            assert cos[t, i] == cos[t, i + half] and sin[t, i] == sin[t, i + half]
            z = (x[:, t, :, i] + 1j * x[:, t, :, i + half]) * rotation
            out[:, t, :, i] = z.real
            out[:, t, :, i + half] = z.imag
    return out


def test_apply_equals_complex_rotation_of_half_split_pairs():
    torch.manual_seed(0)
    dim, length, heads = 16, 82, 3
    rope = RotaryPositionEmbedding(dim, length, 10000.0)
    x = torch.randn(2, length, heads, dim, dtype=torch.float64)
    cos, sin = rope.cos.double(), rope.sin.double()
    expected = rotate_pairs_as_complex(x.numpy(), cos[:, 0].numpy(), sin[:, 0].numpy())
    np.testing.assert_allclose(apply_rotary_pos_emb(x, cos, sin).numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rope(x).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_float32_input_with_bf16_tables_computes_in_float32():
    # As in MLX, fp32·bf16 promotes to fp32: the tables' exact bf16 values are used at full precision.
    torch.manual_seed(1)
    dim, length = 16, 82
    rope = RotaryPositionEmbedding(dim, length, 10000.0)
    x = torch.randn(2, length, 2, dim)
    out = apply_rotary_pos_emb(x, rope.cos, rope.sin)
    assert out.dtype == torch.float32
    cos, sin = rope.cos[:, 0].double().numpy(), rope.sin[:, 0].double().numpy()
    expected = rotate_pairs_as_complex(x.double().numpy(), cos, sin)
    np.testing.assert_allclose(out.double().numpy(), expected, rtol=1e-5, atol=1e-5)


def grid_angles(dim: int, prefix: int, side: int, base: float) -> np.ndarray:
    """The 2-D tables' angles in float64, straight from the definition: pair i < dim/4 turns by (row + 1)·θ_i, pair
    dim/4 + i by (column + 1)·θ_i, θ_i = base^(-4i/dim); the prefix positions at row and column 0."""
    theta = base ** (-4.0 * np.arange(dim // 4) / dim)
    angles = np.zeros((prefix + side * side, dim // 2))
    for cell in range(side * side):
        row, col = divmod(cell, side)
        angles[prefix + cell] = np.concatenate([(row + 1) * theta, (col + 1) * theta])
    return np.concatenate([angles, angles], axis=-1)


@pytest.mark.parametrize("dim, prefix, side", [(16, 1, 5), (64, 2, 30), (8, 1, 1)])
def test_grid_tables_turn_by_row_and_column(dim, prefix, side):
    rope = GridRotaryEmbedding(dim, prefix, side, 10000.0)
    angles = grid_angles(dim, prefix, side, 10000.0)
    assert rope.cos.shape == (prefix + side * side, 1, dim) and rope.cos.dtype == torch.float32
    np.testing.assert_allclose(rope.cos[:, 0].numpy(), np.cos(angles), rtol=0, atol=1e-6)
    np.testing.assert_allclose(rope.sin[:, 0].numpy(), np.sin(angles), rtol=0, atol=1e-6)


def test_grid_scores_depend_on_the_offset_between_cells_only():
    # q·k after rotation depends on (row, column) differences alone: a move of both cells by one offset keeps it.
    torch.manual_seed(2)
    dim, side = 16, 6
    rope = GridRotaryEmbedding(dim, 1, side, 10000.0)
    cos, sin = rope.cos.double(), rope.sin.double()
    q, k = torch.randn(dim, dtype=torch.float64), torch.randn(dim, dtype=torch.float64)

    def score(a, b):  # cells (row, column)
        ta, tb = 1 + a[0] * side + a[1], 1 + b[0] * side + b[1]
        rotated_q = apply_rotary_pos_emb(q, cos[ta, 0], sin[ta, 0])
        return (rotated_q @ apply_rotary_pos_emb(k, cos[tb, 0], sin[tb, 0])).item()

    for (a, b), (dr, dc) in [(((0, 0), (1, 2)), (3, 2)), (((2, 3), (2, 4)), (1, -3)), (((5, 1), (4, 0)), (-4, 1))]:
        moved = score((a[0] + dr, a[1] + dc), (b[0] + dr, b[1] + dc))
        assert moved == pytest.approx(score(a, b), abs=1e-5)  # float32 tables
    # a row step and a column step are different offsets
    assert abs(score((1, 1), (1, 2)) - score((1, 1), (2, 1))) > 1e-3


def test_the_original_bf16_tables_repeat_beyond_256_positions_and_the_grid_tables_do_not():
    # bfloat16 holds whole numbers exactly up to 256: of a 30x30 grid's 901 positions, the original's tables give 419
    # the same rotation as the position before them (docs/tasks.md, mazes). The 2-D tables keep every cell apart.
    flat = RotaryPositionEmbedding(64, 901, 10000.0)
    same = [t for t in range(1, 901)
            if torch.equal(flat.cos[t], flat.cos[t - 1]) and torch.equal(flat.sin[t], flat.sin[t - 1])]
    assert len(same) == 419 and same[0] == 257 and all(t > 256 for t in same)
    grid = GridRotaryEmbedding(64, 1, 30, 10000.0)
    tables = torch.cat([grid.cos[1:, 0], grid.sin[1:, 0]], dim=-1)
    assert len(torch.unique(tables, dim=0)) == 900


def test_grid_tables_need_head_sizes_divisible_by_4():
    with pytest.raises(ValueError, match="divisible by 4"):
        GridRotaryEmbedding(6, 1, 3, 10000.0)
