"""Sparse sign-SGD against the formula written out in float64, row by row."""

import pytest
import torch

from src.hrm.training.sign_sgd import SparseSignSGD


def test_only_the_rows_a_step_used_move_by_the_sign_of_their_summed_gradient():
    lr, wd = 0.01, 0.1
    table = torch.randn(10, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = table.clone()
    ids = torch.tensor([3, 7, 3, 0, 9])
    grad = torch.tensor([
        [1.0, -2.0, 0.0, 0.5],
        [-1.0, 0.0, 3.0, -0.25],
        [-3.0, 2.0, 0.0, 0.5],  # with row 0 of the batch (id 3 too): sums -2, 0, 0, 1
        [0.0, 0.0, 0.0, 0.0],  # id 0: no gradient, weight decay only
        [2.0, 2.0, -2.0, -2.0],
    ], dtype=torch.float64)[:, None]  # [B, 1, D], as the model's vectors are shaped  # fmt: skip
    SparseSignSGD(table, lr, wd).step(ids, grad)

    summed = {3: [-2.0, 0.0, 0.0, 1.0], 7: [-1.0, 0.0, 3.0, -0.25], 0: [0.0] * 4, 9: [2.0, 2.0, -2.0, -2.0]}
    for row in range(10):
        if row not in summed:
            assert torch.equal(table[row], before[row]), row  # untouched: no weight decay either
            continue
        sign = [(g > 0) - (g < 0) for g in summed[row]]
        expected = [b * (1 - lr * wd) - lr * s for b, s in zip(before[row].tolist(), sign)]
        assert table[row].tolist() == pytest.approx(expected, abs=1e-15, rel=0), row


def test_float32_table_matches_the_float64_formula():
    table = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    ids, grad = torch.tensor([1, 4, 1]), torch.randn(3, 3, generator=torch.Generator().manual_seed(2))
    expected = table.double().clone()
    for row in (1, 4):
        g = grad[ids == row].double().sum(0)
        expected[row] = expected[row] * (1 - 1e-2 * 0.1) - 1e-2 * torch.sign(g)
    SparseSignSGD(table, 1e-2, 0.1).step(ids, grad)
    torch.testing.assert_close(table.double(), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("lr, wd", [(0.0, 0.1), (-1.0, 0.1), (float("nan"), 0.1), (1e-2, -0.1), (1e-2, float("inf")),
                                    (2.0, 1.0)])  # fmt: skip
def test_bad_settings_are_refused(lr, wd):
    with pytest.raises(ValueError, match="invalid sign-SGD settings"):
        SparseSignSGD(torch.zeros(2, 2), lr, wd)
