"""Scores of a path-finding model on fresh boards: exact, shortest and valid paths, segments, Q-halt precision."""

from dataclasses import dataclass

import numpy as np

from ..boardpath import score_paths
from .inference import BatchPredictions, _ratio


@dataclass
class PathMetrics:
    """Rates are None when there is nothing to divide by."""

    num_boards: int
    act_exact_rate: float | None  # the ACT board equals the canonical answer
    act_shortest_rate: float | None  # the ACT board marks a shortest path (any one): "solved"
    act_valid_rate: float | None  # the ACT board marks an S→E path, shortest or not
    mean_act_segments: float | None
    budget_shortest_rate: float | None  # after the fixed budget of segments
    q_halted: int
    q_halt_precision: float | None  # of the boards the Q head halted, the share solved
    mean_path_length: float | None  # steps of the shortest path, over the boards

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def compute_path_metrics(boards: np.ndarray, answers: np.ndarray, predictions: BatchPredictions,
                         size: int) -> PathMetrics:
    act = predictions.act_predictions.numpy()
    valid, shortest = score_paths(boards, act, size)
    _, budget_shortest = score_paths(boards, predictions.budget_predictions.numpy(), size)
    halted = predictions.halted_by_q.numpy()
    count = len(boards)
    lengths = (answers != boards).sum(axis=1) + 1
    return PathMetrics(
        num_boards=count,
        act_exact_rate=_ratio((act == answers).all(axis=1).sum(), count),
        act_shortest_rate=_ratio(shortest.sum(), count),
        act_valid_rate=_ratio(valid.sum(), count),
        mean_act_segments=_ratio(predictions.act_segments.numpy().sum(), count),
        budget_shortest_rate=_ratio(budget_shortest.sum(), count),
        q_halted=int(halted.sum()),
        q_halt_precision=_ratio((halted & shortest).sum(), halted.sum()),
        mean_path_length=_ratio(lengths.sum(), count),
    )


def format_path_report(summary: dict, m: PathMetrics) -> str:
    def percent(value):
        return "n/a" if value is None else f"{100 * value:.2f}%"

    return "\n".join([
        f"Checkpoint: {summary['checkpoint']}",
        f"Boards: {summary['source']}",
        f"Device: {summary['device']} ({summary['precision']})",
        f"Scored: {m.num_boards} boards, shortest path {m.mean_path_length:.1f} steps on average",
        f"ACT halting (at most {summary['act_max_segments']} segments):",
        f"  shortest path    {percent(m.act_shortest_rate)}  (solved: a shortest S-E path, any of them)",
        f"  exact path       {percent(m.act_exact_rate)}  (the canonical shortest path)",
        f"  valid path       {percent(m.act_valid_rate)}  (an S-E path, shortest or not)",
        f"  mean segments    {m.mean_act_segments:.2f}",
        f"  halted by Q      {m.q_halted} / {m.num_boards}; solved when halted by Q: {percent(m.q_halt_precision)}",
        f"Fixed budget ({summary['budget_segments']} segments): shortest path {percent(m.budget_shortest_rate)}",
        f"Speed: {summary['puzzles_per_second']:.1f} boards/s ({summary['seconds']:.2f} s)",
    ])  # fmt: skip
