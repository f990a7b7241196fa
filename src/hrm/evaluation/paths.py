"""Scores of a path-finding model (boards, mazes): exact, shortest and valid paths, segments, Q-halt precision.

The task hands over its scorer, `score(boards, predictions) -> (valid [N], shortest [N])`, so one set of
metrics and one report serve every grid task.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .inference import BatchPredictions, _ratio
from .report import bucket_labels, bucket_names, percent


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


Scorer = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def compute_path_metrics(boards: np.ndarray, answers: np.ndarray, predictions: BatchPredictions,
                         score: Scorer) -> PathMetrics:  # fmt: skip
    act = predictions.act_predictions.numpy()
    valid, shortest = score(boards, act)
    _, budget_shortest = score(boards, predictions.budget_predictions.numpy())
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


def metrics_by_length(boards, answers, predictions: BatchPredictions, score: Scorer,
                      edges: list[int]) -> dict[str, PathMetrics]:  # fmt: skip
    """The metrics of the rows in each bucket of shortest-path length (lower edges `edges`), in order."""
    lengths = (np.asarray(answers) != np.asarray(boards)).sum(axis=1) + 1
    names = bucket_names(lengths, edges)
    return {label: compute_path_metrics(boards[rows], answers[rows], predictions.select(rows), score)
            for label in bucket_labels(edges) if (rows := names == label).any()}  # fmt: skip


def format_path_report(summary: dict, m: PathMetrics, ends: str = "S-E", by_length: dict | None = None,
                       noun: str = "boards") -> str:
    lines = [
        f"Checkpoint: {summary['checkpoint']}",
        f"{noun.capitalize()}: {summary['source']}",
        f"Device: {summary['device']} ({summary['precision']})",
        f"Scored: {m.num_boards} {noun}, shortest path {m.mean_path_length:.1f} steps on average",
        f"ACT halting (at most {summary['act_max_segments']} segments):",
        f"  shortest path    {percent(m.act_shortest_rate)}  (solved: a shortest {ends} path, any of them)",
        f"  exact path       {percent(m.act_exact_rate)}  (the canonical shortest path)",
        f"  valid path       {percent(m.act_valid_rate)}  (an {ends} path, shortest or not)",
        f"  mean segments    {m.mean_act_segments:.2f}",
        f"  halted by Q      {m.q_halted} / {m.num_boards}; solved when halted by Q: {percent(m.q_halt_precision)}",
        f"Fixed budget ({summary['budget_segments']} segments): shortest path {percent(m.budget_shortest_rate)}",
        f"Speed: {summary['puzzles_per_second']:.1f} {noun}/s ({summary['seconds']:.2f} s)",
    ]  # fmt: skip
    if by_length:
        lines += ["Per shortest-path length (steps):",
                  f"  {'steps':<10} {noun:>7} {'shortest':>9} {'exact':>8} {'valid':>8} {'segments':>8}"
                  f" {'Q precision':>11}"]  # fmt: skip
        lines += [f"  {name:<10} {g.num_boards:>7} {percent(g.act_shortest_rate):>9} {percent(g.act_exact_rate):>8}"
                  f" {percent(g.act_valid_rate):>8} {g.mean_act_segments:>8.2f} {percent(g.q_halt_precision):>11}"
                  for name, g in by_length.items()]  # fmt: skip
    return "\n".join(lines)
