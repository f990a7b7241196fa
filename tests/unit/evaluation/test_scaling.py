"""Views of one or several checkpoints solved together, and early stop: against evaluate's own batch loop, and an
oracle model whose answers and halts are set by hand."""

import numpy as np
import torch
from torch import nn

from src.hrm.evaluation.inference import evaluate_puzzles
from src.hrm.evaluation.scaling import run_views
from src.hrm.modeling import ACTConfig, HiddenStates, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.modeling.hrm import HRMACTOutput
from src.hrm.sudoku import generate_batch
from src.hrm.sudoku.views import sudoku_views
from src.hrm.tasks import build_task

CPU = torch.device("cpu")
SUDOKU = build_task(None).view_rules(seed=3)
PUZZLES, SOLUTIONS = generate_batch([2] * 5, seed=4, workers=1)


def tiny_model(hidden=32, seed=0, max_steps=6) -> HRMACTInner:
    """A random tiny model whose Q head varies from segment to segment, so views halt at different segments."""
    torch.manual_seed(seed)
    config = HRMACTModelConfig(transformers=TransformerConfig(num_layers=1, hidden_size=hidden, num_heads=2),
                               act=ACTConfig(halt_max_steps=max_steps))  # fmt: skip
    model = HRMACTInner(config).eval()
    with torch.no_grad():
        model.q_act_head.weight.copy_(torch.randn(2, hidden) * 0.5)
        model.q_act_head.bias.copy_(torch.tensor([-2.0, 0.0]))
        model.output_head.weight[0].zero_()
    return model


class Oracle(nn.Module):
    """A stand-in model that knows the solution of every view: it writes a wrong board (every blank a 1) before
    segment `right_from[puzzle]` and the solution from then on; its Q head never says halt."""

    def __init__(self, views: int, right_from, max_steps=8):
        super().__init__()
        self.config = HRMACTModelConfig(act=ACTConfig(halt_max_steps=max_steps))
        self.initial_hidden_states = HiddenStates(torch.zeros(1), torch.zeros(1))
        transforms = sudoku_views(len(PUZZLES), views, seed=3)  # SUDOKU's views
        seen = transforms.apply(np.repeat(PUZZLES, views, axis=0))
        answers = transforms.apply(np.repeat(SOLUTIONS, views, axis=0))
        starts = np.repeat(right_from, views)
        self.table = {row.tobytes(): (answer, start) for row, answer, start in zip(seen, answers, starts)}

    def forward(self, hidden, inputs):
        segment = hidden.high_level.expand(len(inputs), 1, 1) + 1  # [B, 1, 1], the segments run so far
        looked_up = [self.table[row.astype(np.int8).tobytes()] for row in inputs.numpy()]
        right = torch.tensor([segment[i, 0, 0].item() >= start for i, (_, start) in enumerate(looked_up)])
        answers = torch.as_tensor(np.stack([answer for answer, _ in looked_up]).astype(np.int64))
        boards = torch.where(right[:, None], answers, torch.ones_like(answers))
        never = torch.full((len(inputs),), -5.0)
        return HRMACTOutput(HiddenStates(segment, segment), nn.functional.one_hot(boards, 10).float(), never, -never)


def test_one_view_is_evaluate_itself():
    model = tiny_model()
    run = run_views([model], PUZZLES, 1, SUDOKU, batch_size=3, device=CPU)
    alone = evaluate_puzzles(model, PUZZLES, 6, 6, batch_size=3, device=CPU)
    assert len(set(run.segments[:, 0].tolist())) > 1  # views halt at different segments: the batch shrinks
    assert (run.candidates[:, 0] == alone.act_predictions.numpy()).all()
    assert (run.segments[:, 0] == alone.act_segments.numpy()).all()
    assert (run.halted_by_q[:, 0] == alone.halted_by_q.numpy()).all()
    assert (run.spent == run.segments[:, 0]).all() and not run.stopped_at.any()


def test_views_are_the_model_on_each_transformed_puzzle_mapped_back():
    model = tiny_model(seed=1)
    run = run_views([model], PUZZLES, 4, SUDOKU, batch_size=8, device=CPU, max_segments=3)
    transforms = sudoku_views(len(PUZZLES), 4, seed=3)
    alone = evaluate_puzzles(model, transforms.apply(np.repeat(PUZZLES, 4, axis=0)), 3, 3, batch_size=64, device=CPU)
    mapped = transforms.inverse().apply(alone.act_predictions.numpy()).reshape(len(PUZZLES), 4, 81)
    assert (run.candidates == mapped).all() and run.segments.max() <= 3
    assert (run.segments.reshape(-1) == alone.act_segments.numpy()).all()


def test_an_ensemble_pools_the_views_of_each_checkpoint():
    small, wide = tiny_model(hidden=32, seed=2, max_steps=4), tiny_model(hidden=64, seed=3, max_steps=6)
    both = run_views([small, wide], PUZZLES, 3, SUDOKU, batch_size=6, device=CPU)
    for m, model in enumerate((small, wide)):
        alone = run_views([model], PUZZLES, 3, SUDOKU, batch_size=6, device=CPU)
        assert (both.candidates[:, 3 * m : 3 * m + 3] == alone.candidates).all()
        assert (both.segments[:, 3 * m : 3 * m + 3] == alone.segments).all()
    assert both.segments[:, :3].max() <= 4 < both.segments[:, 3:].max()  # each checkpoint its own limit


def test_early_stop_spends_fewer_segments_on_agreed_puzzles_and_chooses_the_same_answers():
    right_from = np.array([1, 3, 99, 2, 1])  # puzzle 2 is never solved
    oracle = Oracle(4, right_from)
    plain = run_views([oracle], PUZZLES, 4, SUDOKU, batch_size=8, device=CPU)
    early = run_views([oracle], PUZZLES, 4, SUDOKU, batch_size=8, device=CPU, agree=2)
    assert (plain.segments == 8).all()  # the Q head never halts: every view runs to the limit
    assert early.stopped_at.tolist() == [1, 3, 0, 2, 1]
    assert early.spent.tolist() == [4, 12, 32, 8, 4]
    first, second = plain.choose(), early.choose()
    assert (second.answers == first.answers).all()
    assert (second.answers[[0, 1, 3, 4]] == SOLUTIONS[[0, 1, 3, 4]]).all()
    assert second.accepted.tolist() == [True, True, False, True, True]
    assert second.agreeing[[0, 1, 3, 4]].tolist() == [4, 4, 4, 4] and second.winning_view[2] == -1


def test_early_stop_asks_for_every_view_when_there_are_fewer_than_agree():
    oracle = Oracle(1, np.array([2, 2, 2, 2, 2]), max_steps=5)
    # Two candidates (one view of two checkpoints): agree=3 asks for both, reached at segment 2.
    early = run_views([oracle, oracle], PUZZLES, 1, SUDOKU, batch_size=8, device=CPU, agree=3)
    assert early.stopped_at.tolist() == [2] * 5 and early.spent.tolist() == [4] * 5
    one = run_views([oracle], PUZZLES, 1, SUDOKU, batch_size=8, device=CPU, agree=1)
    assert one.stopped_at.tolist() == [2] * 5 and (one.choose().answers == SOLUTIONS).all()
