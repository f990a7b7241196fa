"""Test-time views: choosing one answer among a puzzle's views, by the task's checker or by the Q head.

A *view* of a row is the row under a validity-preserving transformation, given by the task's
`view_rules` (Sudoku: digit relabelling with a cell permutation, `src/hrm/sudoku/views.py`;
square boards: the 8 symmetries of the square, `src/hrm/boardpath/views.py`). The model solves
every view; each prediction is mapped back to the original frame, and `choose_answers` picks one
per row:

1. a candidate the task's checker accepts wins (Sudoku: givens kept and every row, column
   and box a permutation of 1-9; boards: a simple S→E path over floor cells). The checker
   tests the rules; it never searches, so the answer is always one the model wrote;
2. among several accepted candidates, the one of lowest cost where the task gives one (path
   tasks: the path's length, so a shorter path one view wrote beats a longer one another view
   wrote; the answers are compared, nothing is searched), then the most frequent, then the one
   with the highest halting confidence;
3. with none accepted, the per-cell vote, reported as unsolved.

For a task with no checker, `choose_by_q` picks by the Q head alone: the view that halted first
(`halt-first`), or the one most sure it should halt (`q-margin`: the highest q_halt - q_continue
at its last segment). evaluate reports both beside the checker's choice.

View 0 is always the identity, so one view is the model alone. Running the views (of one
checkpoint or several, with early stop) is `scaling.py`.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..sudoku.augment import Transform


@dataclass
class ViewRules:
    """How a task's rows are seen through its symmetries at test time, and the checker that accepts an answer."""

    transforms: Callable[[int, int], Transform]  # (rows, views) -> the views of each row, identity first
    accepts: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (inputs [N, L], candidates [N, L]) -> [N] bool
    editable: Callable[[torch.Tensor], torch.Tensor]  # inputs -> [B, L] bool: the cells the model fills in
    max_views: int  # how many distinct views a row has at most (the flags' bound)
    cost: Callable[[np.ndarray], np.ndarray] | None = None  # candidates [N, L] -> [N]: lower wins among accepted


@dataclass
class Choice:
    answers: np.ndarray  # [N, L] the chosen board per row
    accepted: np.ndarray  # [N] bool: the checker accepted it (else it is the per-cell vote: unsolved)
    winning_view: np.ndarray  # [N] the view whose answer won (-1 for a vote)
    agreeing: np.ndarray  # [N] how many views gave the winning answer


def choose_answers(candidates: np.ndarray, accepted: np.ndarray, confidence: np.ndarray,
                   cost: np.ndarray | None = None) -> Choice:  # fmt: skip
    """Pick one answer per row from candidates [N, K, L] (in the original frame) with accepted [N, K], halting
    confidence [N, K] and the task's cost [N, K] (None: all alike): an accepted one, the cheapest, the most
    frequent, then the most confident; else the per-cell vote."""
    count, views, length = candidates.shape
    cost = np.zeros((count, views)) if cost is None else cost
    answers = np.empty((count, length), dtype=candidates.dtype)
    winning, agreeing = np.full(count, -1), np.zeros(count, dtype=np.int64)
    for row in range(count):
        keys = [candidates[row, k].tobytes() for k in range(views)]
        ok = [k for k in range(views) if accepted[row, k]]
        if ok:
            frequency = {key: keys.count(key) for key in set(keys[k] for k in ok)}
            best = max(ok, key=lambda k: (-cost[row, k], frequency[keys[k]], confidence[row, k], -k))
            answers[row], winning[row], agreeing[row] = candidates[row, best], best, frequency[keys[best]]
            continue
        # No accepted candidate: the most common token of each cell (ties to the smallest token).
        votes = np.apply_along_axis(np.bincount, 0, candidates[row].astype(np.int64), minlength=16)
        answers[row] = votes.argmax(axis=0)
        agreeing[row] = max(keys.count(key) for key in set(keys))
    return Choice(answers, winning >= 0, winning, agreeing)


Q_RULES = ("halt-first", "q-margin")


def choose_by_q(candidates: np.ndarray, halted_by_q: np.ndarray, segments: np.ndarray, q_margin: np.ndarray,
                rule: str) -> np.ndarray:
    """[N, L] one answer per row of candidates [N, K, L], by the Q head alone. halt-first: among the views the Q
    head halted, the earliest (ties: the highest margin); q-margin: the highest q_halt - q_continue at each view's
    last segment. Views that never halted come last in halt-first; remaining ties go to the first view."""
    if rule not in Q_RULES:
        raise ValueError(f"a Q selection rule is one of {', '.join(Q_RULES)}, got {rule!r}")
    count, views = halted_by_q.shape
    margin = q_margin.astype(np.float64)
    if rule == "q-margin":
        keys = (-margin,)
    else:  # earliest halt first: a view that did not halt sorts after every one that did
        keys = (-margin, np.where(halted_by_q, segments, np.iinfo(np.int64).max), ~halted_by_q)
    order = np.lexsort((np.broadcast_to(np.arange(views), (count, views)), *keys), axis=1)
    return candidates[np.arange(count), order[:, 0]]
