"""Validity-preserving Sudoku transformations: the symmetries a dataset is augmented with.

A transformation is a digit relabelling and a cell permutation built from: an optional
transpose, a permutation of the three bands and of the three stacks, and permutations of
the rows inside each band and of the columns inside each stack. Each maps valid grids to
valid grids and uniquely solvable puzzles to uniquely solvable puzzles (the solution maps
along), so one puzzle stands for up to 9!·2·6⁸ ≈ 1.2·10¹² training rows.

Transformations are drawn from counter-based keys (one uint64 per row), so row i of an
augmented stream depends only on (seed, i), never on how the stream was cut into batches;
with a fixed number of copies per puzzle (train --num-aug), copy j of puzzle i on (seed, i, j).
"""

from dataclasses import dataclass

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_DRAWS = 9 + 3 + 3 + 9 + 9 + 1  # digits, bands, stacks, rows in bands, columns in stacks, transpose


@dataclass
class Transform:
    """A batch of transformations: new cell j of row n is digit_map[n, old[n, cells[n, j]]]."""

    digit_map: np.ndarray  # int8 [N, 10], digit_map[:, 0] == 0 (empty stays empty)
    cells: np.ndarray  # int64 [N, 81], the old cell each new cell comes from

    def apply(self, grids) -> np.ndarray:
        """Transformed grids [N, cells] int8 (puzzles or solutions; 0 stays 0)."""
        grids = np.asarray(grids).reshape(-1, self.cells.shape[1])
        moved = np.take_along_axis(grids.astype(np.int64), self.cells, axis=1)
        return np.take_along_axis(self.digit_map.astype(np.int8), moved, axis=1)

    def inverse(self) -> "Transform":
        """The transformations that map the transformed grids back: inverse().apply(apply(g)) == g."""
        rows = np.arange(len(self.cells))[:, None]
        cells = np.empty_like(self.cells)
        cells[rows, self.cells] = np.arange(self.cells.shape[1])
        digit_map = np.empty_like(self.digit_map)
        digit_map[rows, self.digit_map.astype(np.int64)] = np.arange(10, dtype=np.int8)
        return Transform(digit_map=digit_map, cells=cells)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_keys(seed: int, indices) -> np.ndarray:
    """One uint64 key per stream index: a hash of (seed, index)."""
    indices = np.asarray(indices, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _splitmix64(_splitmix64(np.full(indices.shape, seed & (2**64 - 1), dtype=np.uint64)) ^ indices)


def copy_keys(seed: int, rows, copies) -> np.ndarray:
    """One uint64 key per (row, copy): a hash of (seed, row, copy), so copy j of row i is the same transformation
    in every epoch and for any number of copies."""
    copies = np.asarray(copies, dtype=np.uint64)
    return _splitmix64(row_keys(seed, rows) ^ _splitmix64(copies))


def identity(count: int) -> Transform:
    """`count` transformations that change nothing."""
    return Transform(
        digit_map=np.tile(np.arange(10, dtype=np.int8), (count, 1)), cells=np.tile(np.arange(81), (count, 1))
    )


def random_transforms(keys) -> Transform:
    """One uniformly drawn transformation per uint64 key (the same key always gives the same one)."""
    keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
    with np.errstate(over="ignore"):
        draws = _splitmix64(keys[:, None] + np.arange(1, _DRAWS + 1, dtype=np.uint64) * _GOLDEN)  # [N, 34]
    # A random permutation of k items is the argsort of k random keys (ties have probability ~2^-64).
    digits = np.argsort(draws[:, 0:9], axis=1) + 1
    bands = np.argsort(draws[:, 9:12], axis=1)
    stacks = np.argsort(draws[:, 12:15], axis=1)
    rows_in_bands = np.argsort(draws[:, 15:24].reshape(-1, 3, 3), axis=2)
    columns_in_stacks = np.argsort(draws[:, 24:33].reshape(-1, 3, 3), axis=2)
    transpose = (draws[:, 33] >> np.uint64(63)).astype(bool)

    count = len(keys)
    digit_map = np.zeros((count, 10), dtype=np.int8)
    digit_map[:, 1:] = digits
    # New row 3b + i is old row 3·bands[b] + rows_in_bands[b][i]; columns likewise.
    row_map = (3 * bands[:, :, None] + np.take_along_axis(rows_in_bands, bands[:, :, None], axis=1)).reshape(count, 9)
    column_map = (3 * stacks[:, :, None] + np.take_along_axis(columns_in_stacks, stacks[:, :, None], axis=1))
    column_map = column_map.reshape(count, 9)
    straight = row_map[:, :, None] * 9 + column_map[:, None, :]  # [N, 9, 9]: new (r, c) <- old (row_map r, column_map c)
    cells = np.where(transpose[:, None, None], straight.transpose(0, 2, 1), straight).reshape(count, 81)
    return Transform(digit_map=digit_map, cells=cells)
