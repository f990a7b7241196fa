"""Run HRM-ACT segments on a batch of puzzles with the original's halting rule, and score the result.

Pure tensor functions: the command-line tools (`infer`, `evaluate`) pick the device and
precision, call these, and print. A "segment" is one forward pass of the model from the
hidden states the previous segment returned; segments are numbered from 1.
"""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..modeling import HiddenStates, HRMACTInner
from ..modeling.act import inference_halts


def initial_hidden_states(model: HRMACTInner) -> HiddenStates:
    """The model's frozen starting states as [1, 1, H]: they broadcast over any batch, as in the original's infer."""
    states = model.initial_hidden_states
    hidden = states.high_level.shape[-1]
    return HiddenStates(high_level=states.high_level.view(1, 1, hidden), low_level=states.low_level.view(1, 1, hidden))


def predicted_board(puzzles: torch.Tensor, logits: torch.Tensor, editable: torch.Tensor | None = None) -> torch.Tensor:
    """The argmax token where `editable` [B, L] (default: Sudoku's blanks), the input elsewhere (givens kept)."""
    editable = puzzles == 0 if editable is None else editable
    return torch.where(editable, logits.argmax(dim=-1), puzzles)


@dataclass
class SegmentStep:
    segment: int  # 1-based
    predictions: torch.Tensor  # [B, 81] long, givens kept
    q_halt: torch.Tensor  # [B] float32 logits
    q_continue: torch.Tensor  # [B] float32 logits
    halts: torch.Tensor  # [B] bool, inference_halts of this segment
    # With run_segments(cycles=True): the board the output head reads after each high-level cycle of the segment,
    # [B, L] each; the last is `predictions`. (Reading the low-level state says nothing: the head is not trained
    # on it, and on the shipped models it decodes to no better than an empty board.)
    cycle_predictions: list[torch.Tensor] | None = None


def run_segments(
    model: HRMACTInner,
    puzzles: torch.Tensor,
    num_segments: int,
    autocast_dtype: torch.dtype | None = None,
    editable: Callable[[torch.Tensor], torch.Tensor] | None = None,
    cycles: bool = False,
) -> Iterator[SegmentStep]:
    """Yield one SegmentStep per segment, each forward starting from the hidden states of the previous one.

    editable(inputs) -> [B, L] bool: the positions the model fills in (a task's `loss_mask`; default: Sudoku's
    blanks); the others keep their input. With the fixed think time option, `halts` is true at its last segment.
    cycles: also record the board after each high-level cycle (SegmentStep.cycle_predictions), to show the
    reasoning inside a segment.
    """
    hidden_states = initial_hidden_states(model)
    mask = editable(puzzles) if editable is not None else None
    cycle_states: list[torch.Tensor] = []
    hook = None
    if cycles:  # the high level's output after each of its updates, read as the output head reads the last one
        hook = model.high_level_reasoner.register_forward_hook(lambda module, args, out: cycle_states.append(out))
    try:
        yield from _segments(model, puzzles, num_segments, autocast_dtype, hidden_states, mask, cycle_states)
    finally:
        if hook is not None:
            hook.remove()


def _segments(model, puzzles, num_segments, autocast_dtype, hidden_states, mask, cycle_states):
    """run_segments' loop; `cycle_states` is filled by its hook (or stays empty)."""
    autocast = (
        torch.autocast(device_type=puzzles.device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    for segment in range(1, num_segments + 1):
        cycle_states.clear()
        with torch.inference_mode(), autocast:
            output = model(hidden_states, puzzles)
            offset = cycle_states[0].shape[1] - output.output.shape[1] if cycle_states else 0  # CLS and prefix
            read = [predicted_board(puzzles, model.output_head(z[:, offset:]), mask) for z in cycle_states[:-1]]
        hidden_states = output.hidden_states
        q_halt, q_continue = output.q_act_halt.float(), output.q_act_continue.float()
        halts = inference_halts(model.config.act, q_halt, q_continue, segment)
        predictions = predicted_board(puzzles, output.output, mask)
        yield SegmentStep(
            segment=segment,
            predictions=predictions,
            q_halt=q_halt,
            q_continue=q_continue,
            halts=halts,
            cycle_predictions=[*read, predictions] if cycle_states else None,
        )


@dataclass
class BatchPredictions:
    """What one evaluation run records per row (all CPU tensors)."""

    act_segments: torch.Tensor  # [B] long: segment at which the row halts under ACT (1-based)
    halted_by_q: torch.Tensor  # [B] bool: the Q head asked to halt within the ACT limit
    act_predictions: torch.Tensor  # [B, 81] long: the board at the ACT halting segment
    budget_predictions: torch.Tensor  # [B, 81] long: the board after the fixed budget of segments

    def select(self, rows) -> "BatchPredictions":
        """The records of some rows (a boolean mask or indices)."""
        rows = torch.as_tensor(rows)
        return BatchPredictions(
            self.act_segments[rows], self.halted_by_q[rows], self.act_predictions[rows], self.budget_predictions[rows]
        )


def predict_with_act(
    model: HRMACTInner,
    puzzles: torch.Tensor,
    act_max_steps: int,
    budget: int,
    autocast_dtype: torch.dtype | None = None,
    editable: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> BatchPredictions:
    """Run max(act_max_steps, budget) segments on a batch, recording each row's ACT halt and its budget board.

    A row halts under ACT at its first segment whose Q head says halt, or at act_max_steps
    when it never does (the original's infer loop). The batch keeps running after a row
    halts so that the fixed-budget board is available too; rows never interact, so this
    does not change any row's result. Once every row has halted and the budget's segment
    is past, nothing is left to record and the batch stops.
    """
    if act_max_steps < 1 or budget < 1:
        raise ValueError("act_max_steps and budget must be at least 1")
    batch = puzzles.shape[0]
    decided = torch.zeros(batch, dtype=torch.bool, device=puzzles.device)
    act_segments = torch.zeros(batch, dtype=torch.long, device=puzzles.device)
    halted_by_q = torch.zeros(batch, dtype=torch.bool, device=puzzles.device)
    act_predictions = torch.zeros_like(puzzles, dtype=torch.long)
    budget_predictions = None
    for step in run_segments(model, puzzles, max(act_max_steps, budget), autocast_dtype, editable):
        if step.segment <= act_max_steps:
            newly = ~decided & (step.halts | (step.segment == act_max_steps))
            act_predictions[newly] = step.predictions[newly]
            act_segments[newly] = step.segment
            halted_by_q |= newly & step.halts
            decided |= newly
        if step.segment == budget:
            budget_predictions = step.predictions
        if step.segment >= budget and step.segment < act_max_steps and bool(decided.all()):
            break
    return BatchPredictions(
        act_segments=act_segments.cpu(),
        halted_by_q=halted_by_q.cpu(),
        act_predictions=act_predictions.cpu(),
        budget_predictions=budget_predictions.cpu(),
    )


def evaluate_puzzles(
    model: HRMACTInner,
    puzzles: np.ndarray,
    act_max_steps: int,
    budget: int,
    batch_size: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    on_batch: Callable[[int], None] | None = None,
    editable: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> BatchPredictions:
    """predict_with_act over [N, L] rows in batches of batch_size on `device`; on_batch(rows) after each."""
    parts = []
    for start in range(0, len(puzzles), batch_size):
        chunk = torch.as_tensor(np.asarray(puzzles[start : start + batch_size], dtype=np.int64), device=device)
        parts.append(predict_with_act(model, chunk, act_max_steps, budget, autocast_dtype, editable))
        if on_batch is not None:
            on_batch(len(chunk))
    if not parts:
        empty = torch.zeros((0, np.shape(puzzles)[1] if np.ndim(puzzles) == 2 else 81), dtype=torch.long)
        return BatchPredictions(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.bool), empty, empty)
    return BatchPredictions(
        act_segments=torch.cat([p.act_segments for p in parts]),
        halted_by_q=torch.cat([p.halted_by_q for p in parts]),
        act_predictions=torch.cat([p.act_predictions for p in parts]),
        budget_predictions=torch.cat([p.budget_predictions for p in parts]),
    )


@dataclass
class Metrics:
    """Scores of one set of puzzles; rates are None when there is nothing to divide by."""

    num_puzzles: int
    act_solved: int  # rows whose ACT board equals the solution
    act_solve_rate: float | None
    act_cell_accuracy: float | None  # correct blanks / blanks, ACT boards
    mean_act_segments: float | None
    budget_solved: int
    budget_solve_rate: float | None
    budget_cell_accuracy: float | None
    q_halted: int  # rows the Q head halted within the ACT limit
    q_halted_solved: int
    q_halt_precision: float | None  # q_halted_solved / q_halted

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


def compute_metrics(puzzles: np.ndarray, solutions: np.ndarray, predictions: BatchPredictions) -> Metrics:
    """Score [N, 81] boards against solutions: whole-board solves and accuracy over the blank cells only."""
    puzzles = np.asarray(puzzles)
    solutions = np.asarray(solutions, dtype=np.int64)
    blanks = puzzles == 0
    act = predictions.act_predictions.numpy()
    budget = predictions.budget_predictions.numpy()
    act_solved_rows = (act == solutions).all(axis=1)
    budget_solved_rows = (budget == solutions).all(axis=1)
    halted = predictions.halted_by_q.numpy()
    count = len(puzzles)
    return Metrics(
        num_puzzles=count,
        act_solved=int(act_solved_rows.sum()),
        act_solve_rate=_ratio(act_solved_rows.sum(), count),
        act_cell_accuracy=_ratio(((act == solutions) & blanks).sum(), blanks.sum()),
        mean_act_segments=_ratio(predictions.act_segments.numpy().sum(), count),
        budget_solved=int(budget_solved_rows.sum()),
        budget_solve_rate=_ratio(budget_solved_rows.sum(), count),
        budget_cell_accuracy=_ratio(((budget == solutions) & blanks).sum(), blanks.sum()),
        q_halted=int(halted.sum()),
        q_halted_solved=int((halted & act_solved_rows).sum()),
        q_halt_precision=_ratio((halted & act_solved_rows).sum(), halted.sum()),
    )
