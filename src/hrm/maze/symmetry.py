"""The 8 symmetries of the square as views of [..., size²] grids, with their inverses.

View k rotates by k quarter turns (k mod 4), then transposes when k >= 4. Paths, walls and
distances are unchanged by each, so a view of a maze has the view of its answer as an answer.
"""

import numpy as np

VIEWS = 8


def view(grids, k: int, size: int) -> np.ndarray:
    """View k of grids [..., size²] (a numpy view where numpy can; reshape copies otherwise)."""
    square = np.asarray(grids).reshape(*np.shape(grids)[:-1], size, size)
    turned = np.rot90(square, k % 4, axes=(-2, -1))
    if k >= 4:
        turned = np.swapaxes(turned, -1, -2)
    return turned.reshape(*np.shape(grids)[:-1], size * size)


def inverse(k: int) -> int:
    """The view that undoes view k: turns undo by the opposite turn; a transposed turn undoes itself."""
    if not 0 <= k < VIEWS:
        raise ValueError(f"view must be in 0..7, got {k}")
    return (4 - k) % 4 if k < 4 else k
