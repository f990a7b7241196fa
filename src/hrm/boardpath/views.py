"""Test-time views of a square board: the 8 symmetries of the square, tokens unchanged.

The symmetries keep every shortest path a shortest path, so a board's views are the same problem
seen turned or mirrored; the maze task uses them too.
"""

import numpy as np

from ..sudoku.augment import Transform

SQUARE_SYMMETRIES = 8


def square_symmetries(size: int) -> np.ndarray:
    """The 8 symmetries of an N×N board as cell permutations [8, N²]: new cell j comes from old cell perm[j]."""
    grid = np.arange(size * size).reshape(size, size)
    rotations = [np.rot90(grid, k) for k in range(4)]
    return np.stack([g.reshape(-1) for g in rotations + [np.fliplr(g) for g in rotations]])


def board_views(count: int, views: int, size: int) -> Transform:
    """Up to 8 views per board (the symmetries of the square, identity first), row-major; tokens unchanged."""
    if views > SQUARE_SYMMETRIES:
        raise ValueError(f"a square board has 8 symmetries; --views {views} asks for more")
    cells = np.tile(square_symmetries(size)[:views], (count, 1))
    return Transform(digit_map=np.tile(np.arange(10, dtype=np.int8), (count * views, 1)), cells=cells)
