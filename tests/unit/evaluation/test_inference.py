import numpy as np
import pytest
import torch

from src.hrm.modeling import ACTConfig, HiddenStates, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.modeling.act import inference_halts
from src.hrm.evaluation.inference import (
    BatchPredictions,
    compute_metrics,
    evaluate_puzzles,
    predict_with_act,
)

HIDDEN = 32
MAX_STEPS = 8


def tiny_model(q_bias=(-2.0, 0.0), q_weight_std=0.5, seed=0) -> HRMACTInner:
    """A random tiny model whose Q head varies from segment to segment, so rows halt at different segments."""
    torch.manual_seed(seed)
    config = HRMACTModelConfig(
        transformers=TransformerConfig(num_layers=1, hidden_size=HIDDEN, num_heads=2),
        act=ACTConfig(halt_max_steps=MAX_STEPS),
    )
    model = HRMACTInner(config).eval()
    with torch.no_grad():
        model.q_act_head.weight.copy_(torch.randn(2, HIDDEN) * q_weight_std)
        model.q_act_head.bias.copy_(torch.tensor(q_bias))
        model.output_head.weight[0].zero_()  # predict digits rather than class 0, so boards differ between rows
    return model


def random_puzzles(rows: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    digits = torch.randint(1, 10, (rows, 81), generator=generator)
    blank = torch.rand((rows, 81), generator=generator) < 0.6
    return torch.where(blank, torch.zeros_like(digits), digits)


def one_row_reference(model, row: torch.Tensor, act_max_steps: int, budget: int):
    """An explicit segment loop for one puzzle, written without the library.

    Returns (halt segment, halted by Q, ACT board, budget board).
    """
    init = model.initial_hidden_states
    hidden = HiddenStates(init.high_level.view(1, 1, HIDDEN), init.low_level.view(1, 1, HIDDEN))
    halt_segment, halted, act_board, budget_board = None, False, None, None
    with torch.no_grad():
        for segment in range(1, max(act_max_steps, budget) + 1):
            out = model(hidden, row[None])
            hidden = out.hidden_states
            board = row.clone()
            blanks = row == 0
            board[blanks] = out.output[0].argmax(-1)[blanks]
            wants_halt = out.q_act_halt.item() > out.q_act_continue.item()
            if halt_segment is None and segment <= act_max_steps and (wants_halt or segment == act_max_steps):
                halt_segment, halted, act_board = segment, wants_halt, board
            if segment == budget:
                budget_board = board
    return halt_segment, halted, act_board, budget_board


def test_act_halting_matches_a_per_row_loop():
    model = tiny_model()
    puzzles = random_puzzles(24)
    result = predict_with_act(model, puzzles, act_max_steps=MAX_STEPS, budget=MAX_STEPS)
    for i in range(len(puzzles)):
        segment, halted, act_board, budget_board = one_row_reference(model, puzzles[i], MAX_STEPS, MAX_STEPS)
        assert result.act_segments[i].item() == segment, f"row {i}"
        assert result.halted_by_q[i].item() == halted, f"row {i}"
        torch.testing.assert_close(result.act_predictions[i], act_board, rtol=0, atol=0)
        torch.testing.assert_close(result.budget_predictions[i], budget_board, rtol=0, atol=0)
    # The check is only meaningful if rows really halt at different segments, some never by Q.
    assert len(set(result.act_segments.tolist())) >= 3
    assert result.halted_by_q.any() and not result.halted_by_q.all()
    # ...and if the boards change between segments, so that taking the wrong segment's board would show.
    assert (result.act_predictions != result.budget_predictions).any()
    assert (result.act_predictions[puzzles == 0] != 0).float().mean() > 0.9


@pytest.mark.parametrize("act_max_steps,budget", [(3, 6), (5, 2)])
def test_budget_board_is_the_board_after_n_segments(act_max_steps, budget):
    model = tiny_model()
    puzzles = random_puzzles(6)
    result = predict_with_act(model, puzzles, act_max_steps=act_max_steps, budget=budget)
    init = model.initial_hidden_states
    hidden = HiddenStates(init.high_level.expand(6, 82, HIDDEN), init.low_level.expand(6, 82, HIDDEN))
    with torch.no_grad():
        for _ in range(budget):
            out = model(hidden, puzzles)
            hidden = out.hidden_states
    expected = torch.where(puzzles == 0, out.output.argmax(-1), puzzles)
    torch.testing.assert_close(result.budget_predictions, expected, rtol=0, atol=0)
    assert result.act_segments.max().item() <= act_max_steps


def test_positive_halt_bias_halts_every_row_at_segment_one():
    model = tiny_model(q_bias=(5.0, -5.0), q_weight_std=0.0)
    puzzles = random_puzzles(5)
    result = predict_with_act(model, puzzles, act_max_steps=MAX_STEPS, budget=1)
    assert result.act_segments.tolist() == [1] * 5
    assert result.halted_by_q.all()
    torch.testing.assert_close(result.act_predictions, result.budget_predictions, rtol=0, atol=0)


def test_a_batch_stops_once_every_row_has_halted_and_the_budget_is_past():
    model = tiny_model(q_bias=(5.0, -5.0), q_weight_std=0.0)
    puzzles, calls = random_puzzles(3), []
    hook = model.register_forward_hook(lambda module, args, out: calls.append(1))
    try:
        early = predict_with_act(model, puzzles, act_max_steps=MAX_STEPS, budget=2)
    finally:
        hook.remove()
    assert len(calls) == 2 and early.act_segments.tolist() == [1] * 3
    full = predict_with_act(model, puzzles, act_max_steps=MAX_STEPS, budget=MAX_STEPS)
    two = predict_with_act(model, puzzles, act_max_steps=2, budget=2)  # runs its 2 segments: nothing to stop
    torch.testing.assert_close(early.act_predictions, full.act_predictions, rtol=0, atol=0)
    torch.testing.assert_close(early.budget_predictions, two.budget_predictions, rtol=0, atol=0)


def test_untrained_q_head_never_halts():
    # The original's initial Q head (zero weights, bias [-5, -5]) gives halt == continue: never strictly greater.
    model = tiny_model(q_bias=(-5.0, -5.0), q_weight_std=0.0)
    result = predict_with_act(model, random_puzzles(4), act_max_steps=3, budget=3)
    assert result.act_segments.tolist() == [3] * 4
    assert not result.halted_by_q.any()


def test_inference_halts_compares_sigmoids():
    q_halt = torch.tensor([1.0, 0.0, -2.0, 20.0])
    q_continue = torch.tensor([0.0, 0.0, -3.0, 18.0])
    # The last pair saturates to sigmoid 1.0 == 1.0 in float32, so (as in the original's infer) no halt.
    assert inference_halts(ACTConfig(), q_halt, q_continue, 1).tolist() == [True, False, True, False]


def test_evaluate_puzzles_batches_like_one_big_batch():
    model = tiny_model()
    puzzles = random_puzzles(12)
    seen = []
    batched = evaluate_puzzles(
        model, puzzles.numpy().astype(np.int8), MAX_STEPS, 4, 5, torch.device("cpu"), on_batch=seen.append
    )
    whole = predict_with_act(model, puzzles, MAX_STEPS, 4)
    assert seen == [5, 5, 2]
    for field in ("act_segments", "halted_by_q", "act_predictions", "budget_predictions"):
        torch.testing.assert_close(getattr(batched, field), getattr(whole, field), rtol=0, atol=0)


def test_metrics_against_a_hand_computation():
    solution = np.arange(81) % 9 + 1
    solutions = np.tile(solution, (3, 1))
    puzzles = solutions.copy()
    puzzles[0, :10] = 0  # 10 blanks
    puzzles[1, :20] = 0  # 20 blanks
    puzzles[2, :30] = 0  # 30 blanks
    act = solutions.copy()
    act[1, :5] = 0  # 15 of 20 blanks right
    act[2, 0] = solution[0] % 9 + 1  # 29 of 30 blanks right
    predictions = BatchPredictions(
        act_segments=torch.tensor([2, 16, 5]),
        halted_by_q=torch.tensor([True, False, True]),
        act_predictions=torch.as_tensor(act),
        budget_predictions=torch.as_tensor(solutions.copy()),
    )
    metrics = compute_metrics(puzzles, solutions, predictions)
    assert metrics.num_puzzles == 3
    assert metrics.act_solved == 1
    assert metrics.act_solve_rate == pytest.approx(1 / 3)
    assert metrics.act_cell_accuracy == pytest.approx((10 + 15 + 29) / 60)
    assert metrics.mean_act_segments == pytest.approx(23 / 3)
    assert metrics.budget_solved == 3 and metrics.budget_solve_rate == 1.0 and metrics.budget_cell_accuracy == 1.0
    assert metrics.q_halted == 2 and metrics.q_halted_solved == 1
    assert metrics.q_halt_precision == pytest.approx(0.5)


def test_metrics_of_nothing_are_none():
    empty = torch.zeros((0, 81), dtype=torch.long)
    predictions = BatchPredictions(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.bool), empty, empty)
    metrics = compute_metrics(np.zeros((0, 81), np.int8), np.zeros((0, 81), np.int8), predictions)
    assert metrics.num_puzzles == 0 and metrics.act_solve_rate is None and metrics.q_halt_precision is None


def test_select_takes_the_same_rows_of_every_field():
    predictions = BatchPredictions(
        act_segments=torch.tensor([1, 2, 3]),
        halted_by_q=torch.tensor([True, False, True]),
        act_predictions=torch.arange(3 * 81).view(3, 81),
        budget_predictions=-torch.arange(3 * 81).view(3, 81),
    )
    chosen = predictions.select(np.array([True, False, True]))
    assert chosen.act_segments.tolist() == [1, 3] and chosen.halted_by_q.tolist() == [True, True]
    assert chosen.act_predictions[:, 0].tolist() == [0, 162] and chosen.budget_predictions[:, 0].tolist() == [0, -162]


def test_the_board_after_each_high_level_cycle_is_the_output_of_a_model_that_stops_at_that_cycle():
    """A segment's updates run low, low, high, low, low, high (2 cycles of 2 low steps): the board read after
    cycle 1 is what the same weights give with one high-level cycle, and after the last cycle the segment's own."""
    import copy
    import dataclasses

    from src.hrm.evaluation.inference import run_segments

    torch.manual_seed(0)
    model = HRMACTInner(HRMACTModelConfig(
        high_level_cycles=3, low_level_cycles=2,
        transformers=TransformerConfig(num_layers=1, hidden_size=HIDDEN, num_heads=2),
    )).eval()  # fmt: skip
    puzzles = torch.as_tensor(np.random.default_rng(0).integers(0, 10, (4, 81)))
    steps = list(run_segments(model, puzzles, 1, cycles=True))
    assert len(steps[0].cycle_predictions) == 3
    assert torch.equal(steps[0].cycle_predictions[-1], steps[0].predictions)
    for cycles in (1, 2):
        stopped = copy.deepcopy(model)
        stopped.config = dataclasses.replace(model.config, high_level_cycles=cycles)
        (want,) = run_segments(stopped, puzzles, 1)
        assert torch.equal(steps[0].cycle_predictions[cycles - 1], want.predictions)
    assert steps[0].cycle_predictions[0].ne(steps[0].predictions).any()  # the cycles do differ
    # Without cycles=True nothing extra is read, and the model keeps no hook.
    (plain,) = run_segments(model, puzzles, 1)
    assert plain.cycle_predictions is None and not model.high_level_reasoner._forward_hooks
