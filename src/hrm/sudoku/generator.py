"""Puzzle generation, following the original algorithm step for step.

1. Fill an empty grid by backtracking over the cells in row-major order, trying the
   digits 1..9 in a fresh random order each time a cell is entered.
2. Shuffle the 81 cell indices and walk them while clues > upper bound: blank the cell and
   keep the blank only if the puzzle still has exactly one solution. Then, while clues >
   lower bound, continue through the remaining cells the same way.

Only the uniqueness test differs from the original's first-empty-cell counter: with the
full solution known, "exactly one solution" is the same as "no solution with the blanked
cell holding another digit", which the bitmask solver answers with a single search. The
decisions, and so the output distribution, are the original's.
"""

import threading

import numba
import numpy as np
from numba import njit, prange

from .difficulty import Difficulty
from .prng import base_seed, shuffle, stream_state
from .solver import load, search, workspace

CLUE_RANGES = np.array([d.clue_range for d in Difficulty], dtype=np.int64)  # [5, 2] lower, upper
# numba's workqueue threading layer must not be entered from two threads at once.
_PARALLEL_LOCK = threading.Lock()


@njit(cache=True, nogil=True)
def fill_grid(grid, state):
    """A random complete grid by row-major backtracking with a fresh digit order per cell entry."""
    rows = np.zeros(9, dtype=np.int32)
    cols = np.zeros(9, dtype=np.int32)
    boxes = np.zeros(9, dtype=np.int32)
    order = np.empty((81, 9), dtype=np.int8)
    tried = np.zeros(81, dtype=np.int32)
    for k in range(9):
        order[0, k] = k + 1
    shuffle(order[0], state)
    cell = 0
    while cell < 81:
        r, c = cell // 9, cell % 9
        b = 3 * (r // 3) + c // 3
        placed = False
        while tried[cell] < 9:
            d = order[cell, tried[cell]]
            tried[cell] += 1
            bit = 1 << (d - 1)
            if not (rows[r] | cols[c] | boxes[b]) & bit:
                grid[cell] = d
                rows[r] |= bit
                cols[c] |= bit
                boxes[b] |= bit
                placed = True
                break
        if placed:
            cell += 1
            if cell < 81:
                for k in range(9):
                    order[cell, k] = k + 1
                shuffle(order[cell], state)
                tried[cell] = 0
        else:
            # Every digit failed here: step back and take the previous cell's digit away.
            cell -= 1
            bit = 1 << (grid[cell] - 1)
            r, c = cell // 9, cell % 9
            b = 3 * (r // 3) + c // 3
            rows[r] &= ~bit
            cols[c] &= ~bit
            boxes[b] &= ~bit
            grid[cell] = 0


@njit(cache=True, nogil=True)
def blank_keeps_unique(puzzle, cell, value, ws, solution_scratch, guesses):
    """True if the uniquely solvable puzzle, with `cell` (holding `value`) blanked, still has one solution."""
    board, stack, branch = ws
    puzzle[cell] = 0
    load(puzzle, board)
    board[3 * (value - 1) + cell // 27] &= ~(np.int64(1) << (cell % 27))
    unique = search(board, stack, branch, 1, solution_scratch, guesses) == 0
    puzzle[cell] = value
    return unique


@njit(cache=True, nogil=True)
def remove_clues(puzzle, cells, i, clues, target, ws, scratch, guesses):
    """Walk cells[i:] while clues > target, blanking each cell that keeps the solution unique; returns (i, clues)."""
    while clues > target and i < 81:
        cell = cells[i]
        if blank_keeps_unique(puzzle, cell, puzzle[cell], ws, scratch, guesses):
            puzzle[cell] = 0
            clues -= 1
        i += 1
    return i, clues


@njit(cache=True, nogil=True)
def generate_into(lower, upper, state, puzzle, solution, ws):
    """One puzzle with its solution, written to the int8 [81] arrays puzzle and solution."""
    solution[:] = 0
    fill_grid(solution, state)
    puzzle[:] = solution
    cells = np.arange(81)
    shuffle(cells, state)
    scratch = np.empty(81, dtype=np.int8)
    guesses = np.zeros(1, dtype=np.int64)
    # The original's two phases: down to the upper bound, then on through the remaining cells to the lower one.
    i, clues = remove_clues(puzzle, cells, 0, 81, upper, ws, scratch, guesses)
    remove_clues(puzzle, cells, i, clues, lower, ws, scratch, guesses)


@njit(cache=True, nogil=True)
def generate_serial(difficulties, base, stream, start, puzzles, solutions):
    """Puzzle i of the rows is puzzle start + i of `stream` under seed `base`."""
    ws = workspace()
    for i in range(len(difficulties)):
        lower, upper = CLUE_RANGES[difficulties[i], 0], CLUE_RANGES[difficulties[i], 1]
        generate_into(lower, upper, stream_state(base, stream, start + i), puzzles[i], solutions[i], ws)


@njit(cache=True, nogil=True, parallel=True)
def generate_parallel(difficulties, base, stream, start, puzzles, solutions):
    """generate_serial spread over numba's threads; the output does not depend on their number."""
    for i in prange(len(difficulties)):
        lower, upper = CLUE_RANGES[difficulties[i], 0], CLUE_RANGES[difficulties[i], 1]
        generate_into(lower, upper, stream_state(base, stream, start + i), puzzles[i], solutions[i], workspace())


def difficulty_codes(difficulties) -> np.ndarray:
    """int64 [N] Difficulty values from Difficulty members, their ints or their command-line words."""
    values = np.asarray(difficulties).reshape(-1)
    if values.dtype.kind not in "iu":
        values = np.array(
            [Difficulty.from_name(v) if isinstance(v, str) else Difficulty(v) for v in values.tolist()], dtype=np.int64
        )
    if values.size and (values.min() < 0 or values.max() >= len(Difficulty)):
        raise ValueError(f"difficulty values must be 0..{len(Difficulty) - 1}, got {sorted(set(values.tolist()))}")
    return values.astype(np.int64)


def generate_stream(difficulties, seed, stream: int, start: int, workers: int | None = None):
    """Puzzles start .. start + N - 1 of a seeded stream: (puzzles [N, 81] int8, solutions [N, 81] int8)."""
    codes = difficulty_codes(difficulties)
    puzzles = np.zeros((len(codes), 81), dtype=np.int8)
    solutions = np.zeros((len(codes), 81), dtype=np.int8)
    base = base_seed(seed)
    cores = numba.config.NUMBA_NUM_THREADS
    threads = cores if workers is None else max(1, min(int(workers), cores))
    if threads == 1 or len(codes) < 2:
        generate_serial(codes, base, stream, start, puzzles, solutions)
        return puzzles, solutions
    with _PARALLEL_LOCK:
        previous_threads = numba.get_num_threads()
        # Puzzle costs vary: small chunks handed out dynamically keep every thread busy to the end.
        previous_chunk = numba.set_parallel_chunksize(max(1, len(codes) // (threads * 16)))
        numba.set_num_threads(threads)
        try:
            generate_parallel(codes, base, stream, start, puzzles, solutions)
        finally:
            numba.set_num_threads(previous_threads)
            numba.set_parallel_chunksize(previous_chunk)
    return puzzles, solutions


def generate_batch(difficulties, seed: int, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Puzzles [N, 81] int8 and solutions [N, 81] int8; puzzle i depends only on (seed, i, difficulties[i]).

    `workers` threads (None: all cores); the result is the same for any number of workers.
    """
    return generate_stream(difficulties, seed, 0, 0, workers)


def generate_sudoku(difficulty, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """One (puzzle, solution) pair as int8 [9, 9] arrays, 0 for an empty cell.

    rng: an int seed (the same puzzle as generate_batch([difficulty], seed)[0]), a
    numpy Generator (one 64-bit draw seeds the puzzle), or None for a fresh random one.
    """
    if rng is None or isinstance(rng, np.random.Generator):
        generator = rng if rng is not None else np.random.default_rng()
        seed = int(generator.integers(0, 2**64, dtype=np.uint64))
    else:
        seed = int(rng)
    puzzles, solutions = generate_stream([difficulty], seed, 0, 0, workers=1)
    return puzzles[0].reshape(9, 9), solutions[0].reshape(9, 9)
