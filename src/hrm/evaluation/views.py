"""Test-time views: a puzzle seen through the task's own symmetries, and the checker that picks an answer.

A *view* of a row is the row under a validity-preserving transformation (Sudoku: digit
relabelling with a cell permutation from `src/hrm/sudoku/augment.py`; path-finding boards:
the 8 symmetries of the square). The model solves every view; each prediction is mapped back
to the original frame, and `choose_answers` picks one per row:

1. a candidate the task's checker accepts wins (Sudoku: givens kept and every row, column
   and box a permutation of 1-9; boards: a simple S→E path over floor cells). The checker
   tests the rules; it never searches, so the answer is always one the model wrote;
2. among several accepted candidates, the most frequent, then the one with the highest
   halting confidence;
3. with none accepted, the per-cell vote, reported as unsolved.

For a task with no checker, `choose_by_q` picks by the Q head alone: the view that halted first
(`halt-first`), or the one most sure it should halt (`q-margin`: the highest q_halt - q_continue
at its last segment). evaluate reports both beside the checker's choice.

View 0 is always the identity, so one view is the model alone. Running the views (of one
checkpoint or several, with early stop) is `scaling.py`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from ..boardpath import score_paths
from ..sudoku.augment import Transform, identity, random_transforms, row_keys
from ..tasks import Task
from ..tasks.sudoku import SudokuBoards

MAX_VIEWS = 1024  # a bound for the command-line flags: each view is a row of the batch

# Cell indices of the 27 units of a Sudoku: 9 rows, 9 columns, 9 boxes.
_UNITS = np.array(
    [[r * 9 + c for c in range(9)] for r in range(9)]
    + [[r * 9 + c for r in range(9)] for c in range(9)]
    + [[(3 * (b // 3) + i) * 9 + 3 * (b % 3) + j for i in range(3) for j in range(3)] for b in range(9)]
)


def sudoku_views(count: int, views: int, seed: int = 0) -> Transform:
    """`views` transformations per row for `count` rows, row-major ([row 0 view 0, row 0 view 1, ...]); view 0 is
    the identity. View k of row n depends on (seed, n, k) only, so the views of a smaller K are among a larger K's."""
    index = (np.arange(count, dtype=np.uint64)[:, None] << np.uint64(32)) | np.arange(views, dtype=np.uint64)
    drawn = random_transforms(row_keys(seed, index.reshape(-1)))
    plain = identity(count * views)
    first = (np.arange(count * views) % views == 0)[:, None]
    return Transform(digit_map=np.where(first, plain.digit_map, drawn.digit_map),
                     cells=np.where(first, plain.cells, drawn.cells))


def square_symmetries(size: int) -> np.ndarray:
    """The 8 symmetries of an N×N board as cell permutations [8, N²]: new cell j comes from old cell perm[j]."""
    grid = np.arange(size * size).reshape(size, size)
    rotations = [np.rot90(grid, k) for k in range(4)]
    return np.stack([g.reshape(-1) for g in rotations + [np.fliplr(g) for g in rotations]])


def board_views(count: int, views: int, size: int) -> Transform:
    """Up to 8 views per board (the symmetries of the square, identity first), row-major; tokens unchanged."""
    if views > 8:
        raise ValueError(f"a square board has 8 symmetries; --views {views} asks for more")
    cells = np.tile(square_symmetries(size)[:views], (count, 1))
    return Transform(digit_map=np.tile(np.arange(10, dtype=np.int8), (count * views, 1)), cells=cells)


def sudoku_accepts(puzzles: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """[N] bool: the candidate keeps the givens and every unit holds 1-9 once (a check of the rules, no search)."""
    puzzles, candidates = np.asarray(puzzles).reshape(-1, 81), np.asarray(candidates).reshape(-1, 81)
    kept = ((puzzles == 0) | (candidates == puzzles)).all(axis=1)
    digits = candidates.astype(np.int64)
    in_range = ((digits >= 1) & (digits <= 9)).all(axis=1)
    masks = np.bitwise_or.reduce(np.left_shift(1, np.clip(digits, 1, 9) - 1)[:, _UNITS], axis=2)
    return kept & in_range & (masks == 0x1FF).all(axis=1)


def board_accepts(boards: np.ndarray, candidates: np.ndarray, size: int) -> np.ndarray:
    """[N] bool: the candidate marks a simple S→E path over floor cells, walls, S and E kept (not necessarily
    shortest: the checker tests the rules, it does not search)."""
    return score_paths(boards, candidates, size)[0]


@dataclass
class ViewRules:
    """How a task's rows are viewed and checked."""

    transforms: Callable[[int, int], Transform]  # (rows, views) -> the views of each row, identity first
    accepts: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (inputs [N, L], candidates [N, L]) -> [N] bool
    editable: Callable[[torch.Tensor], torch.Tensor]  # inputs -> [B, L] bool: the cells the model fills in
    max_views: int  # how many distinct views a row has at most (the flags' bound)


def view_rules(task: Task, seed: int = 0) -> ViewRules:
    """The views and the checker of a Sudoku task (symmetries drawn from `seed`) or a path-finding one."""
    if isinstance(task, SudokuBoards):
        return ViewRules(partial(sudoku_views, seed=seed), sudoku_accepts, task.loss_mask, MAX_VIEWS)
    size = task.config.board_size
    return ViewRules(partial(board_views, size=size), partial(board_accepts, size=size), task.loss_mask, 8)


@dataclass
class Choice:
    answers: np.ndarray  # [N, L] the chosen board per row
    accepted: np.ndarray  # [N] bool: the checker accepted it (else it is the per-cell vote: unsolved)
    winning_view: np.ndarray  # [N] the view whose answer won (-1 for a vote)
    agreeing: np.ndarray  # [N] how many views gave the winning answer


def choose_answers(candidates: np.ndarray, accepted: np.ndarray, confidence: np.ndarray) -> Choice:
    """Pick one answer per row from candidates [N, K, L] (in the original frame) with accepted [N, K] and halting
    confidence [N, K]: an accepted one, the most frequent, then the most confident; else the per-cell vote."""
    count, views, length = candidates.shape
    answers = np.empty((count, length), dtype=candidates.dtype)
    winning, agreeing = np.full(count, -1), np.zeros(count, dtype=np.int64)
    for row in range(count):
        keys = [candidates[row, k].tobytes() for k in range(views)]
        ok = [k for k in range(views) if accepted[row, k]]
        if ok:
            frequency = {key: keys.count(key) for key in set(keys[k] for k in ok)}
            best = max(ok, key=lambda k: (frequency[keys[k]], confidence[row, k], -k))
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
