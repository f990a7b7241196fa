"""Embedding lookup against explicit indexing, and its init scale."""

import pytest
import torch

from src.hrm.modeling.embedding import Embedding


def test_lookup_equals_row_indexing():
    torch.manual_seed(0)
    embedding = Embedding(10, 16, init_std=16**-0.5)
    indices = torch.randint(0, 10, (3, 81))
    out = embedding(indices)
    assert out.shape == (3, 81, 16)
    assert out.dtype == torch.float32
    table = embedding.embeddings.detach().tolist()
    for b in range(3):
        for s in range(81):
            assert out[b, s].tolist() == table[indices[b, s].item()]


def test_lookup_gradient_accumulates_per_row():
    embedding = Embedding(4, 3, init_std=1.0)
    embedding(torch.tensor([[0, 2, 2, 2]])).sum().backward()
    expected = torch.tensor([[1.0] * 3, [0.0] * 3, [3.0] * 3, [0.0] * 3])
    assert torch.equal(embedding.embeddings.grad, expected)


@pytest.mark.parametrize("std", [256**-0.5, 0.5])
def test_init_std(std):
    torch.manual_seed(1)
    table = Embedding(1000, 1000, init_std=std).embeddings
    assert table.shape == (1000, 1000)
    assert table.dtype == torch.float32
    assert table.double().std().item() == pytest.approx(std, rel=0.01)
    assert table.abs().max().item() <= 2 * std / 0.8796 * (1 + 1e-4)  # truncated at 2·compStd
