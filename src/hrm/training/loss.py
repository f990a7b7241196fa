"""The loss of one segment (the original's `sudokuLoss`): masked cross-entropy plus the Q-learning halt loss.

Written without any host-device synchronisation (no `.item()`, no branching on tensor
values, no data-dependent shapes), so a whole training step can be captured by
torch.compile or a CUDA graph.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..modeling import HiddenStates, HRMACTInner
from ..modeling.act import exploration_draws as act_exploration_draws
from ..modeling.act import training_halts


@dataclass
class SegmentLoss:
    loss: torch.Tensor  # 0-dim, output_loss + q_act_loss, with gradient
    output_loss: torch.Tensor  # 0-dim, mean cross-entropy over empty cells
    q_act_loss: torch.Tensor  # 0-dim
    is_halted: torch.Tensor  # [B] bool, rows that stop after this segment
    output_accuracy: torch.Tensor  # 0-dim, the original's avgOutputFullAccuracy (givens count as correct)
    q_act_halt_accuracy: torch.Tensor  # 0-dim, how often (q_halt >= 0) predicts a solved row
    hidden_states: HiddenStates  # detached, from the first forward
    row_solved: torch.Tensor  # [B] bool, every blank predicted right: the Q-halt target


def sudoku_loss(
    model: HRMACTInner,
    hidden_states: HiddenStates,
    board_inputs: torch.Tensor,
    board_targets: torch.Tensor,
    segments: torch.Tensor,
    generator: torch.Generator | None = None,
) -> SegmentLoss:
    """One segment for every row: the loss to minimise, which rows halt, and the logged accuracies.

    board_inputs [B, 81] (0 = empty), board_targets [B, 81] digits, segments [B] segments already run.
    Random draws (halting exploration) come from `generator`, on the inputs' device.
    """
    explore_draw, min_halt_draw = exploration_draws(model, board_inputs.shape[0], board_inputs.device, generator)
    return segment_loss(model, hidden_states, board_inputs, board_targets, segments, explore_draw, min_halt_draw)


def exploration_draws(model: HRMACTInner, batch: int, device, generator: torch.Generator | None = None):
    """The exploration's random draws (see src/hrm/modeling/act.py) for a model's ACT settings."""
    return act_exploration_draws(model.config.act, batch, device, generator)


def segment_loss(
    model: HRMACTInner,
    hidden_states: HiddenStates,
    board_inputs: torch.Tensor,
    board_targets: torch.Tensor,
    segments: torch.Tensor,
    explore_draw: torch.Tensor,
    min_halt_draw: torch.Tensor,
    loss_mask: torch.Tensor | None = None,
    puzzle_vectors: torch.Tensor | None = None,
    exploration_probability: torch.Tensor | None = None,
    max_steps: torch.Tensor | None = None,
    copy_noise: HiddenStates | None = None,
    copies: int = 1,
) -> SegmentLoss:
    """`sudoku_loss` with its random draws given: free of generators, so torch.compile takes it whole.

    loss_mask [B, L] bool: the positions the output loss counts (the task's; None: Sudoku's blanks). The
    others count as correct in the accuracy, as the original counts the givens. puzzle_vectors [B, 1, H]:
    a model with puzzle embeddings, the rows' table rows (the trainer reads their gradient).
    exploration_probability, max_steps: 0-dim tensors, a halting schedule's values (see `training_halts`).

    copies > 1 (winner-take-all, an option; --latent-copies): the B rows come as B/copies groups of `copies`
    consecutive rows on one puzzle, each copy with its own latent states. Copies after the first start a puzzle
    from the initial states plus `copy_noise` (HiddenStates [B, T, H]). The loss, its gradient and the metrics are
    those of each group's lowest-loss copy only, the winner; a group halts where its winner does.
    """
    act = model.config.act
    if model.config.learned_initial_states:
        # Rows on their first segment carry copies of the initial states; the states themselves (the same values)
        # take those rows' gradient to them (see HRMACTInner.forward).
        hidden_states = model.restart(hidden_states, segments == 0)
    if copies > 1:
        hidden_states = _perturb_fresh_copies(hidden_states, segments, copy_noise, copies)
    output = model(hidden_states, board_inputs, puzzle_vectors=puzzle_vectors)

    # Float32 whatever the autocast dtype: the loss and the accuracies are reductions over many cells.
    logits = output.output.float()  # [B, L, vocab]
    counted = board_inputs == 0 if loss_mask is None else loss_mask
    cell_loss = F.cross_entropy(logits.flatten(0, 1), board_targets.flatten(), reduction="none").view_as(board_targets)
    cell_correct = (logits.argmax(dim=-1) == board_targets) | ~counted
    row_solved = cell_correct.all(dim=-1)

    q_halt, q_continue = output.q_act_halt.float(), output.q_act_continue.float()
    next_segments = segments + 1
    is_halted, is_last = training_halts(
        act, q_halt, q_continue, next_segments, explore_draw, min_halt_draw, exploration_probability, max_steps
    )

    halt_loss = F.binary_cross_entropy_with_logits(q_halt, row_solved.float(), reduction="none")
    continue_loss = None
    if act.q_continue:
        # Q-learning target for "continue": the value of the next segment, seen from this segment's states.
        with torch.no_grad():
            following = model(output.hidden_states, board_inputs, puzzle_vectors=puzzle_vectors)
            next_halt, next_continue = following.q_act_halt.float(), following.q_act_continue.float()
            q_continue_target = torch.sigmoid(torch.where(is_last, next_halt, torch.maximum(next_halt, next_continue)))
        continue_loss = F.binary_cross_entropy_with_logits(q_continue, q_continue_target, reduction="none")
    # Without the continue value (an option) no second forward; the halt loss keeps its weight of one half.
    row_q_loss = (halt_loss + continue_loss) / 2 if continue_loss is not None else halt_loss / 2

    if copies > 1:  # from here on, each group's winner only
        row_loss = (cell_loss * counted).sum(-1) / counted.sum(-1).clamp_min(1) + row_q_loss
        winners = torch.arange(0, row_loss.shape[0], copies, device=row_loss.device)
        winners = winners + row_loss.detach().view(-1, copies).argmin(dim=1)
        is_halted = is_halted[winners].repeat_interleave(copies)  # the group halts (and restarts) with its winner
        cell_loss, counted, cell_correct, row_solved = cell_loss[winners], counted[winners], cell_correct[winners], \
            row_solved[winners]  # fmt: skip
        q_halt, row_q_loss = q_halt[winners], row_q_loss[winners]

    output_loss = (cell_loss * counted).sum() / counted.sum()
    output_accuracy = cell_correct.float().mean()
    q_act_loss = row_q_loss.mean()

    return SegmentLoss(
        loss=output_loss + q_act_loss,
        output_loss=output_loss,
        q_act_loss=q_act_loss,
        is_halted=is_halted,
        output_accuracy=output_accuracy,
        q_act_halt_accuracy=((q_halt >= 0) == row_solved).float().mean(),
        hidden_states=output.hidden_states,
        row_solved=row_solved,
    )


def _perturb_fresh_copies(hidden: HiddenStates, segments: torch.Tensor, noise: HiddenStates, copies: int):
    """Copies after the first of each group, on their first segment, start from the initial states plus noise."""
    copy = torch.arange(segments.shape[0], device=segments.device) % copies
    fresh = ((segments == 0) & (copy > 0))[:, None, None]
    return HiddenStates(hidden.high_level + noise.high_level * fresh, hidden.low_level + noise.low_level * fresh)
