"""Minimal puzzles with few givens, like the published hard collections (17 to 23 givens), found by a descent.

A puzzle is minimal when every given is needed: blanking any one leaves several solutions.
One pass over the givens in random order, blanking each that keeps the solution unique,
makes any unique puzzle minimal (a given kept in the pass is still needed later, since
fewer givens cannot restore uniqueness). Minimal puzzles made this way from a full grid
have 22-27 givens; published collections have 17-25. So a chain walks down: from its
minimal puzzle it adds the solution digit of one or two random empty cells, makes the
result minimal again in a fresh random order, and keeps it if it has no more givens than
before (equal counts are kept too, so the walk can cross plateaus). It stops when it
reaches its target count, drawn per chain uniformly from [min_givens, max_givens], or after
`steps` tries; it yields its puzzle if the count is in range then (a chain that stopped
short yields nothing), rated by `rate_difficulty`'s guess count.

Chain i draws from its own splitmix64 stream (seed, MINIMAL_STREAM, i) and the puzzles are
taken in chain order, so the output depends only on the arguments, not on the threads. Each
chain has its own solution grid: one puzzle per grid, as a test set should have.
"""

import math

import numba
import numpy as np
from numba import njit, prange

from .generator import _PARALLEL_LOCK, blank_keeps_unique, fill_grid
from .mining import rate_into
from .prng import base_seed, below, next_u64, shuffle, stream_state
from .solver import workspace

MINIMAL_STREAM = 20  # streams 0-12 are taken by the generator, the supply and the mining chains
DEFAULT_STEPS = 2_000  # tries per chain before it gives up on its targets
TOP_TARGET_RATING = 100  # the chains' rating targets are drawn log-uniformly from 0..this


@njit(cache=True, nogil=True)
def make_minimal(puzzle, state, ws, scratch, guesses):
    """Blank, in a random order, every given of the unique puzzle whose removal keeps it unique; returns the givens."""
    cells = np.arange(81)
    shuffle(cells, state)
    givens = 0
    for cell in cells:
        if puzzle[cell] != 0:
            if blank_keeps_unique(puzzle, cell, puzzle[cell], ws, scratch, guesses):
                puzzle[cell] = 0
            else:
                givens += 1
    return givens


@njit(cache=True, nogil=True)
def add_and_minimize(trial, puzzle, solution, state, ws, scratch, guesses):
    """trial = puzzle with the solution digits of one or two random empty cells added, made minimal again; its
    givens."""
    trial[:] = puzzle
    for _ in range(1 + below(state, 2)):
        cell = below(state, 81)
        while trial[cell] != 0:
            cell = below(state, 81)
        trial[cell] = solution[cell]
    return make_minimal(trial, state, ws, scratch, guesses)


@njit(cache=True, nogil=True)
def minimal_chain(target, target_rating, steps, state, ws, puzzle, solution):
    """One chain's minimal puzzle (written to puzzle, its grid to solution): walked down towards `target` givens,
    then, at most that many, up towards `target_rating`; returns (givens, rating)."""
    scratch = np.empty(81, dtype=np.int8)
    guesses = np.zeros(1, dtype=np.int64)
    trial = np.empty(81, dtype=np.int8)
    solution[:] = 0
    fill_grid(solution, state)
    puzzle[:] = solution
    givens = make_minimal(puzzle, state, ws, scratch, guesses)
    step = 0
    while step < steps // 2 and givens > target:  # half the tries to go down, the rest to climb
        step += 1
        found = add_and_minimize(trial, puzzle, solution, state, ws, scratch, guesses)
        if found <= givens:
            puzzle[:] = trial
            givens = found
    target = max(target, givens)  # a chain that stopped short climbs at the count it reached
    rate_into(puzzle, ws, scratch, guesses)
    rating = guesses[0]
    best = puzzle.copy()
    best_givens, best_rating = givens, rating
    # A climb on the plateau of counts, annealed as the mining chains are (a greedy one stalls far below 50).
    temperature = max(1.0, target_rating / 25)
    while step < steps and givens <= target and best_rating < target_rating:
        step += 1
        found = add_and_minimize(trial, puzzle, solution, state, ws, scratch, guesses)
        if found > target:
            continue
        rate_into(trial, ws, scratch, guesses)
        uniform = np.float64(next_u64(state) >> np.uint64(11)) * 2.0**-53
        if guesses[0] >= rating or uniform < math.exp((guesses[0] - rating) / temperature):
            puzzle[:] = trial
            givens, rating = found, guesses[0]
            if rating > best_rating:
                best[:] = puzzle
                best_givens, best_rating = givens, rating
    puzzle[:] = best
    givens, rating = best_givens, best_rating
    return givens, rating


@njit(cache=True, nogil=True, parallel=True)
def minimal_chains(min_givens, max_givens, min_rating, top_rating, steps, base, start, puzzles, solutions, givens, ratings):
    """Chains start .. start + len(givens) - 1, spread over numba's threads; chain i writes row i of each output."""
    for i in prange(len(givens)):
        state = stream_state(base, MINIMAL_STREAM, start + i)
        target = min_givens + below(state, max_givens - min_givens + 1)
        # Log-uniform over min_rating..top_rating: from 0, as many chains aim at ratings 1-3 as at 30-100.
        uniform = np.float64(next_u64(state) >> np.uint64(11)) * 2.0**-53
        target_rating = min_rating + int((top_rating - min_rating + 1) ** uniform) - 1
        givens[i], ratings[i] = minimal_chain(target, target_rating, steps, state, workspace(), puzzles[i],
                                              solutions[i])


def mine_minimal(num: int, min_givens: int = 17, max_givens: int = 23, seed: int = 0, min_rating: int = 0,
                 max_rating: int | None = None, steps: int = DEFAULT_STEPS, target_rating: int = TOP_TARGET_RATING,
                 workers: int | None = None, progress=None):
    """`num` minimal puzzles with min_givens..max_givens givens, rated in [min_rating, max_rating], one per grid.

    Returns (puzzles int8 [N, 81], solutions int8 [N, 81], ratings int64 [N], sources str [N], the source
    `minimal-<givens>`). `workers` threads (None: all cores); the output is the same for any number.
    progress(n) is called with the number of new puzzles as they come. ValueError for invalid arguments, or when
    the first 1,000 chains give nothing in range.
    """
    num, min_givens, max_givens, steps = int(num), int(min_givens), int(max_givens), int(steps)
    top = (1 << 40) if max_rating is None else int(max_rating)
    if num < 0:
        raise ValueError(f"the number of puzzles must not be negative, got {num}")
    if not 17 <= min_givens <= max_givens <= 80:
        raise ValueError(f"givens must satisfy 17 <= min <= max <= 80 (no 16-given Sudoku exists), "
                         f"got {min_givens}..{max_givens}")
    if steps < 0 or min_rating < 0 or top < min_rating:
        raise ValueError(f"need steps >= 0 and 0 <= min_rating <= max_rating, got {steps}, {min_rating}..{top}")
    cores = numba.config.NUMBA_NUM_THREADS
    threads = cores if workers is None else max(1, min(int(workers), cores))
    base = base_seed(seed)
    kept_puzzles, kept_solutions, kept_ratings, kept_givens = [], [], [], []
    start, batch = 0, 8 * threads
    while len(kept_puzzles) < num:
        puzzles = np.zeros((batch, 81), dtype=np.int8)
        solutions = np.zeros((batch, 81), dtype=np.int8)
        givens = np.zeros(batch, dtype=np.int64)
        ratings = np.zeros(batch, dtype=np.int64)
        with _PARALLEL_LOCK:
            previous = numba.get_num_threads()
            previous_chunk = numba.set_parallel_chunksize(1)  # chains differ tenfold in length: hand out one at a time
            numba.set_num_threads(threads)
            try:
                minimal_chains(min_givens, max_givens, min_rating, max(target_rating, min_rating), steps, base, start,
                               puzzles, solutions, givens, ratings)
            finally:
                numba.set_num_threads(previous)
                numba.set_parallel_chunksize(previous_chunk)
        before = len(kept_puzzles)
        keep = (givens <= max_givens) & (ratings >= min_rating) & (ratings <= top)
        for i in np.flatnonzero(keep)[: num - before]:
            kept_puzzles.append(puzzles[i])
            kept_solutions.append(solutions[i])
            kept_ratings.append(ratings[i])
            kept_givens.append(givens[i])
        start += batch
        if start >= 1000 and not kept_puzzles:
            raise ValueError(f"no minimal puzzle with {min_givens}..{max_givens} givens rated {min_rating}..{top} "
                             f"in the first {start} chains: the range is out of reach")
        if progress is not None and len(kept_puzzles) > before:
            progress(len(kept_puzzles) - before)
    if not kept_puzzles:
        empty = np.zeros((0, 81), dtype=np.int8)
        return empty, empty.copy(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=str)
    sources = np.array([f"minimal-{g}" for g in kept_givens])
    return np.stack(kept_puzzles), np.stack(kept_solutions), np.array(kept_ratings, dtype=np.int64), sources
