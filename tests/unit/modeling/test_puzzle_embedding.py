"""Puzzle embeddings: the sequence they make (CLS, the puzzle's vector, the cells), the blank fallback, the checks on
ids from outside, the gradient the trainer takes, and the step API's ids."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from src.hrm.modeling import HRMACT, HiddenStates, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.modeling.rotary import RotaryPositionEmbedding

HIDDEN, IDS, BATCH = 32, 7, 4


def config(puzzle_embeddings: int = IDS) -> HRMACTModelConfig:
    transformers = TransformerConfig(num_layers=1, hidden_size=HIDDEN, num_heads=2, intermediate_size=64)
    return HRMACTModelConfig(transformers=transformers, puzzle_embeddings=puzzle_embeddings)


def model_with_table(seed: int = 0) -> HRMACTInner:
    """A model whose table rows differ (a fresh table is all zeros) and whose Q head reads its input."""
    torch.manual_seed(seed)
    model = HRMACTInner(config())
    with torch.no_grad():
        model.puzzle_embedding.weights.normal_(0, 0.5)
        model.q_act_head.weight.normal_(0, 0.3)
    return model


def states(model: HRMACTInner, batch: int = BATCH) -> HiddenStates:
    generator = torch.Generator().manual_seed(1)
    shape = (batch, model.config.positions, HIDDEN)
    return HiddenStates(torch.randn(shape, generator=generator), torch.randn(shape, generator=generator))


def inputs(batch: int = BATCH, seed: int = 2) -> torch.Tensor:
    return torch.randint(0, 10, (batch, 81), generator=torch.Generator().manual_seed(seed))


def test_off_by_default_and_the_other_weights_are_drawn_as_without_it():
    assert HRMACTModelConfig().puzzle_embeddings == 0
    assert "puzzle_embeddings" not in HRMACTModelConfig().to_dict()
    torch.manual_seed(0)
    off = HRMACTInner(config(0))
    torch.manual_seed(0)
    on = HRMACTInner(config())
    assert off.puzzle_embedding is None and off.config.positions == 82 and on.config.positions == 83
    assert "puzzle_embedding.weights" not in off.state_dict()
    for name, tensor in off.state_dict().items():
        if not name.startswith("rotary_emb"):
            assert torch.equal(on.state_dict()[name], tensor), name
    # The table starts at zero and is no AdamW parameter (the trainer updates it by sign-SGD).
    table = on.puzzle_embedding.weights
    assert table.shape == (IDS, HIDDEN) and not table.any() and not table.requires_grad
    # The rotary tables cover the extra position: the first 82 rows are the model's without it.
    assert on.rotary_emb.cos.shape[0] == 83 and torch.equal(on.rotary_emb.cos[:82], off.rotary_emb.cos)


def test_the_sequence_is_cls_then_the_puzzle_vector_then_the_cells():
    """Against the forward built by hand in float64 from the model's weights: CLS at 0 (read by the Q head), the
    puzzle's table row at 1, the cells from 2 (read by the output head), rotary tables over 83 positions."""
    model = copy.deepcopy(model_with_table()).double()
    ids = torch.tensor([3, 0, 6, 3])
    hidden, tokens = states(model), inputs()
    z_high, z_low = hidden.high_level.double(), hidden.low_level.double()
    out = model(HiddenStates(z_high, z_low), tokens, ids)

    rotary = RotaryPositionEmbedding(HIDDEN // 2, 83, 10000.0)
    cos, sin = rotary.cos.double(), rotary.sin.double()
    cls = model.cls_token.expand(BATCH, 1, HIDDEN)
    x = torch.cat([cls, model.puzzle_embedding.weights[ids][:, None], model.input_embedding.embeddings[tokens]], 1)
    x = x * math.sqrt(HIDDEN)
    for cycle in range(1, 5):
        z_low = model.low_level_reasoner(z_low, z_high + x, cos, sin)
        if cycle % 2 == 0:
            z_high = model.high_level_reasoner(z_high, z_low, cos, sin)
    torch.testing.assert_close(out.output, z_high[:, 2:] @ model.output_head.weight.T)
    q = (z_high[:, 0] @ model.q_act_head.weight.T + model.q_act_head.bias).float()
    torch.testing.assert_close(out.q_act_halt, q[:, 0])
    torch.testing.assert_close(out.q_act_continue, q[:, 1])
    torch.testing.assert_close(out.hidden_states.high_level, z_high)
    assert out.output.shape == (BATCH, 81, 10)


def test_a_rows_id_changes_that_row_and_no_other():
    model = model_with_table()
    hidden, tokens = states(model), inputs()
    with torch.no_grad():
        before = model(hidden, tokens, torch.tensor([1, 2, 3, 4]))
        after = model(hidden, tokens, torch.tensor([1, 5, 3, 4]))
    for field in ("output", "q_act_halt", "q_act_continue"):
        a, b = getattr(before, field), getattr(after, field)
        assert torch.equal(a[[0, 2, 3]], b[[0, 2, 3]]), field
        assert not torch.equal(a[1], b[1]), field


def test_without_ids_every_row_gets_the_blank_id_zero():
    model = model_with_table().eval()
    hidden, tokens = states(model), inputs()
    with torch.no_grad():
        blank = model(hidden, tokens, torch.zeros(BATCH, dtype=torch.long))
        fallback = model(hidden, tokens)  # what infer and evaluate do: they know no ids
        given = model(hidden, tokens, puzzle_vectors=model.puzzle_embedding.weights[[0] * BATCH][:, None])
    assert torch.equal(blank.output, fallback.output) and torch.equal(blank.q_act_halt, fallback.q_act_halt)
    assert torch.equal(blank.output, given.output)


@pytest.mark.parametrize(
    "ids, message",
    [
        (torch.tensor([0, 7, 1, 2]), "puzzle id 7 is out of range: this model knows ids 0..6"),
        (torch.tensor([0, 1, -1, 2]), "puzzle id -1 is out of range"),
        (torch.tensor([0, 1]), r"puzzle ids must be an integer tensor of shape \[4\]"),
        (torch.tensor([0.0, 1.0, 2.0, 3.0]), r"puzzle ids must be an integer tensor of shape \[4\], got torch.float32"),
    ],
)
def test_ids_from_outside_are_checked_in_one_line(ids, message):
    model = model_with_table()
    with pytest.raises(ValueError, match=message) as caught:
        model(states(model), inputs(), ids)
    assert "\n" not in str(caught.value)


def test_a_model_without_the_table_refuses_ids():
    torch.manual_seed(0)
    model = HRMACTInner(config(0))
    with pytest.raises(ValueError, match="this model has no puzzle embeddings"):
        model(states(model), inputs(), torch.zeros(BATCH, dtype=torch.long))


def test_the_looked_up_rows_take_the_tables_gradient():
    """The trainer gives the rows it looked up as a leaf: summed per id, their gradient is the gradient a dense
    table would get, and no other row of the table would get any."""
    model = model_with_table()
    ids = torch.tensor([2, 5, 2, 0])
    hidden, tokens = states(model), inputs()
    vectors = model.puzzle_embedding(ids).detach().requires_grad_()
    model(hidden, tokens, puzzle_vectors=vectors).output.square().mean().backward()

    dense = model.puzzle_embedding.weights.detach().clone().requires_grad_()
    reference = copy.deepcopy(model)
    reference.puzzle_embedding.forward = lambda i: F.embedding(i, dense)[:, None]
    reference(hidden, tokens, puzzle_vectors=None, puzzle_ids=ids).output.square().mean().backward()
    summed = torch.zeros_like(dense).index_add_(0, ids, vectors.grad[:, 0])
    torch.testing.assert_close(summed, dense.grad)
    assert dense.grad[[1, 3, 4, 6]].abs().sum() == 0 and dense.grad[[0, 2, 5]].abs().sum(1).min() > 0


def test_the_step_api_keeps_each_rows_id_until_it_restarts():
    model = HRMACT(model_with_table()).train()
    tokens = inputs()
    carry = model.initial_carry(tokens)
    assert carry.puzzle_ids.tolist() == [0] * BATCH
    assert carry.hidden_states.high_level.shape == (BATCH, 83, HIDDEN)
    generator = torch.Generator().manual_seed(0)
    carry, _ = model.step(carry, tokens, generator, puzzle_ids=torch.tensor([1, 2, 3, 4]))
    assert carry.puzzle_ids.tolist() == [1, 2, 3, 4]
    carry.halted = torch.tensor([False, True, False, True])
    carry, _ = model.step(carry, tokens, generator, puzzle_ids=torch.tensor([5, 6, 5, 6]))
    assert carry.puzzle_ids.tolist() == [1, 6, 3, 6]
    carry.halted = torch.tensor([True, False, False, False])
    carry, _ = model.step(carry, tokens, generator)  # no ids: a restarted row is the blank puzzle
    assert carry.puzzle_ids.tolist() == [0, 6, 3, 6]
