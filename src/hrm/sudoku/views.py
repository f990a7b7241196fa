"""Sudoku's test-time views and checker: digit relabellings with cell permutations, and the rules of the grid.

A view of a puzzle is the puzzle under one of the validity-preserving transformations of
`augment.py`; view 0 is the identity, so one view is the puzzle as given. The checker tests the
rules (givens kept, every row, column and box a permutation of 1-9) and never searches.
"""

import numpy as np

from .augment import Transform, identity, random_transforms, row_keys

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


def sudoku_accepts(puzzles: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """[N] bool: the candidate keeps the givens and every unit holds 1-9 once (a check of the rules, no search)."""
    puzzles, candidates = np.asarray(puzzles).reshape(-1, 81), np.asarray(candidates).reshape(-1, 81)
    kept = ((puzzles == 0) | (candidates == puzzles)).all(axis=1)
    digits = candidates.astype(np.int64)
    in_range = ((digits >= 1) & (digits <= 9)).all(axis=1)
    masks = np.bitwise_or.reduce(np.left_shift(1, np.clip(digits, 1, 9) - 1)[:, _UNITS], axis=2)
    return kept & in_range & (masks == 0x1FF).all(axis=1)
