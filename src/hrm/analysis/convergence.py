"""Hierarchical convergence: every low- and high-level update of a checkpoint, recorded, and what they show.

The HRM paper's section on hierarchical convergence looks at two things: the forward
residuals ‖z_t − z_{t−1}‖ of each level over the updates (the low level settles within a
high-level cycle and is kicked again when the high level moves), and the participation
ratio (effective dimensionality) of each level's states, which in a trained model is far
higher for the high level than for the low one. `record_updates` taps the two reasoners
with forward hooks, so the model code stays as it is.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from ..evaluation.inference import initial_hidden_states, predicted_board
from ..modeling import HRMACTInner


@dataclass
class Recording:
    """What one run of segments did, on the CPU as float32 numpy arrays."""

    levels: list[str] = field(default_factory=list)  # "low" or "high", one per update in call order
    segments: list[int] = field(default_factory=list)  # 1-based segment of each update
    residuals: list[float] = field(default_factory=list)  # mean over rows of ‖z_t − z_{t−1}‖ / ‖z_{t−1}‖
    final_high: list[np.ndarray] = field(default_factory=list)  # per segment: [B, L + 1, H] high-level state
    final_low: list[np.ndarray] = field(default_factory=list)
    predictions: list[np.ndarray] = field(default_factory=list)  # per segment: [B, L]
    q_halt: list[np.ndarray] = field(default_factory=list)  # per segment: [B] sigmoid
    q_continue: list[np.ndarray] = field(default_factory=list)


def relative_residual(new: torch.Tensor, old: torch.Tensor) -> float:
    """Mean over rows of ‖new − old‖ / ‖old‖ (Frobenius norms over positions and features)."""
    difference = (new.float() - old.float()).flatten(1).norm(dim=1)
    return float((difference / old.float().flatten(1).norm(dim=1).clamp_min(1e-12)).mean())


@torch.inference_mode()
def record_updates(model: HRMACTInner, inputs: torch.Tensor, num_segments: int, editable=None) -> Recording:
    """Run `num_segments` segments (no halting) on inputs [B, L] and record every reasoner update."""
    recording = Recording()
    state = {"segment": 0, "low": None, "high": None}

    def hook(level):
        def record(module, args, output):
            previous = args[0]  # the level's own state before the update
            recording.levels.append(level)
            recording.segments.append(state["segment"])
            recording.residuals.append(relative_residual(output, previous.expand_as(output)))

        return record

    handles = [
        model.low_level_reasoner.register_forward_hook(hook("low")),
        model.high_level_reasoner.register_forward_hook(hook("high")),
    ]
    try:
        hidden = initial_hidden_states(model)
        for segment in range(1, num_segments + 1):
            state["segment"] = segment
            output = model(hidden, inputs)
            hidden = output.hidden_states
            mask = editable(inputs) if editable is not None else None
            recording.final_high.append(hidden.high_level.float().cpu().numpy())
            recording.final_low.append(hidden.low_level.float().cpu().numpy())
            recording.predictions.append(predicted_board(inputs, output.output, mask).cpu().numpy())
            recording.q_halt.append(torch.sigmoid(output.q_act_halt.float()).cpu().numpy())
            recording.q_continue.append(torch.sigmoid(output.q_act_continue.float()).cpu().numpy())
    finally:
        for handle in handles:
            handle.remove()
    return recording


def participation_ratio(vectors: np.ndarray) -> float:
    """(Σλ)² / Σλ² of the covariance of the rows of `vectors` [N, D]: the effective number of dimensions used.

    Computed from the traces, tr(C)² / tr(C²), which equals the eigenvalue form without an eigendecomposition.
    """
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    gram = x.T @ x / max(len(x) - 1, 1)
    return float(np.trace(gram) ** 2 / np.sum(gram * gram))


def state_vectors(states: np.ndarray, limit: int = 20000, seed: int = 0) -> np.ndarray:
    """The per-position state vectors [B·(L+1), H] of a level, subsampled to at most `limit` rows."""
    flat = states.reshape(-1, states.shape[-1])
    if len(flat) > limit:
        flat = flat[np.random.default_rng(seed).choice(len(flat), limit, replace=False)]
    return flat


def summarize(recording: Recording, targets: np.ndarray, filled: np.ndarray, correct) -> dict:
    """Every number of a recording as JSON-ready data.

    filled [B, L] bool: the positions the model fills in (the cell accuracy counts those);
    correct(predictions [B, L]) -> [B] bool: whether a row is solved.
    """
    per_segment = [
        {
            "segment": k + 1,
            "solve_rate": float(np.mean(correct(prediction))),
            "cell_accuracy": float((prediction == targets)[filled].mean()),
            "q_halt": float(recording.q_halt[k].mean()),
            "q_continue": float(recording.q_continue[k].mean()),
        }
        for k, prediction in enumerate(recording.predictions)
    ]
    return {
        "updates": [
            {"index": i, "segment": s, "level": level, "residual": r}
            for i, (level, s, r) in enumerate(zip(recording.levels, recording.segments, recording.residuals))
        ],
        "per_segment": per_segment,
        "participation_ratio": {
            "high": participation_ratio(state_vectors(recording.final_high[-1])),
            "low": participation_ratio(state_vectors(recording.final_low[-1])),
        },
    }
