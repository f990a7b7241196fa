"""Puzzles of a chosen rating, found by a local search around generated puzzles.

The rating is `rate_difficulty`: the guesses our solver makes to find the solution and prove
it unique. It is not tdoku's rating (the `rating` column of Sudoku-Extreme is a count from
tdoku's solver, which propagates and branches differently). Our solver branches on
two-candidate cells and must try both digits to prove uniqueness, so ratings are almost
always even.

The original's extreme generator rarely makes hard puzzles (half need no guess, 0.7% need 20
or more, none of 30,000 needed 100), so filtering it cannot feed hard training. A chain here
starts from a generated puzzle and keeps it when it is already in range (source
`generated-<difficulty>`). Otherwise it walks the puzzle's neighbourhood with the solution
grid fixed: remove a clue, add a cell's solution digit, or move a clue (remove one, add
another), in the ratio 1 : 1 : 3. A step that keeps the solution unique is kept if the
rating does not fall, or falls by delta with probability exp(-delta / T), T =
max(1, min_rating / 25) (a cooler walk gets stuck below high targets, a hotter one wanders
at low ones). The clue count stays within the difficulty's clue range. A chain emits a
puzzle the first time it is in range (source `mined-<difficulty>`) and gives up after
PATIENCE steps without a new best rating. It may go on to yield up to `per_chain` puzzles,
each in range and MIN_DISTANCE cells away from the chain's earlier ones, looking for each
for at most as many steps as its first one took: the climb to a high rating is paid once for
several puzzles, and an easy range stays what filtering the generator gives.

Each chain draws from its own splitmix64 stream (seed, MINING_STREAM + difficulty, chain),
and the puzzles are taken in chain order, so the output depends only on the arguments, not
on the number of threads or on how the chains are handed out. Chains run in Python threads
(the kernels release the GIL), each thread taking the next few chains as soon as it is free:
chains differ a hundredfold in length, and a numba prange over batches of chains waits at the
end of each batch for its longest one (on 16 cores, at rating 100, half the cores idled).
"""

import math
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numba
import numpy as np
from numba import njit

from .difficulty import Difficulty
from .generator import generate_into
from .prng import base_seed, below, next_u64, stream_state
from .solver import load, search, workspace

MINING_STREAM = 8  # + difficulty; streams 0 (generate_batch) and 1..5 (the supply) are taken
PATIENCE = 10_000  # steps without a new best rating before a chain gives up
MIN_DISTANCE = 8  # cells in which two puzzles of one chain must differ (a clue move changes two)
NO_MAX = 1 << 40  # max_rating when there is none
GIVE_UP_CHAINS = 1_000  # chains without a single puzzle in range before the range is declared out of reach


@njit(cache=True, nogil=True)
def rate_into(puzzle, ws, scratch, guesses):
    """Solutions of an 81-cell puzzle counted up to 2; guesses[0] becomes its rating (as rate_difficulty)."""
    board, stack, branch = ws
    guesses[0] = 0
    if not load(puzzle, board):
        return 0
    return search(board, stack, branch, 2, scratch, guesses)


@njit(cache=True, nogil=True)
def height(rating, max_rating):
    """What a chain climbs: the rating, reflected above max_rating so that overshooting counts as falling short."""
    return rating if rating <= max_rating else 2 * max_rating - rating


@njit(cache=True, nogil=True)
def random_cell(puzzle, state, filled):
    """A uniformly random cell holding a clue (filled) or empty; the caller makes sure one exists."""
    cell = below(state, 81)
    while (puzzle[cell] != 0) != filled:
        cell = below(state, 81)
    return cell


@njit(cache=True, nogil=True)
def far_from(puzzles, count, puzzle):
    """True if the puzzle differs from each of puzzles[:count] in at least MIN_DISTANCE cells."""
    for e in range(count):
        differ = 0
        for k in range(81):
            differ += puzzles[e, k] != puzzle[k]
        if differ < MIN_DISTANCE:
            return False
    return True


@njit(cache=True, nogil=True)
def mine_chain(lower, upper, min_rating, max_rating, temperature, state, ws, puzzles, solution, ratings, searched):
    """One chain: puzzles[:n] (rated in range, n <= len(ratings)) around one generated puzzle; returns n.

    solution [81] receives the chain's solution grid; searched[i] is False where puzzle i is the generated one.
    """
    puzzle = np.empty(81, dtype=np.int8)
    scratch = np.empty(81, dtype=np.int8)
    guesses = np.zeros(1, dtype=np.int64)
    generate_into(lower, upper, state, puzzle, solution, ws)
    rate_into(puzzle, ws, scratch, guesses)
    rating = guesses[0]
    emitted = 0
    # After its first puzzle a chain looks for each next one for at most as many steps as the first took:
    # a chain that climbed long into a hard region gives more, a generated puzzle in range ends its chain.
    allowance = NO_MAX
    if min_rating <= rating <= max_rating:
        puzzles[0] = puzzle
        ratings[0] = rating
        searched[0] = False
        emitted = 1
        allowance = 0
    clues = 0
    for k in range(81):
        clues += puzzle[k] != 0
    h = height(rating, max_rating)
    best = h
    stall = 0
    steps = 0
    since = 0  # steps since the last emission
    while emitted < len(ratings) and stall < PATIENCE and since < allowance:
        stall += 1
        steps += 1
        since += 1
        kind = below(state, 5)  # 0: remove a clue, 1: add one, 2-4: move one
        if (kind == 0 and clues <= lower) or (kind == 1 and clues >= upper):
            continue
        removed = random_cell(puzzle, state, True) if kind != 1 else -1
        added = random_cell(puzzle, state, False) if kind != 0 else -1
        if removed >= 0:
            puzzle[removed] = 0
        if added >= 0:
            puzzle[added] = solution[added]
        unique = rate_into(puzzle, ws, scratch, guesses) == 1
        h_new = height(guesses[0], max_rating)
        keep = unique and h_new >= h
        if unique and not keep:
            uniform = np.float64(next_u64(state) >> np.uint64(11)) * 2.0**-53
            keep = uniform < math.exp((h_new - h) / temperature)
        if not keep:
            if removed >= 0:
                puzzle[removed] = solution[removed]
            if added >= 0:
                puzzle[added] = 0
            continue
        if added < 0:
            clues -= 1
        elif removed < 0:
            clues += 1
        h = h_new
        if h > best:
            best = h
            stall = 0
        rating = guesses[0]
        if min_rating <= rating <= max_rating and far_from(puzzles, emitted, puzzle):
            puzzles[emitted] = puzzle
            ratings[emitted] = rating
            searched[emitted] = True
            if emitted == 0:
                allowance = steps
            emitted += 1
            since = 0
    return emitted


@njit(cache=True, nogil=True)
def mine_chains(lower, upper, min_rating, max_rating, temperature, base, stream, start,
                puzzles, solutions, ratings, searched, counts):
    """Chains start .. start + len(counts) - 1 in turn, sharing one workspace; chain i writes row i of each output."""
    ws = workspace()
    for i in range(len(counts)):
        counts[i] = mine_chain(lower, upper, min_rating, max_rating, temperature, stream_state(base, stream, start + i),
                               ws, puzzles[i], solutions[i], ratings[i], searched[i])


def run_chains(difficulty: Difficulty, min_rating: int, max_rating: int, per_chain: int, base, start: int, count: int):
    """Chains start .. start + count - 1 on the calling thread.

    Returns puzzles [C, K, 81], solutions [C, 81], ratings [C, K], searched [C, K], counts [C] (K = per_chain)
    and the seconds spent.
    """
    started = time.perf_counter()
    puzzles = np.zeros((count, per_chain, 81), dtype=np.int8)
    solutions = np.zeros((count, 81), dtype=np.int8)
    ratings = np.zeros((count, per_chain), dtype=np.int64)
    searched = np.zeros((count, per_chain), dtype=np.bool_)
    counts = np.zeros(count, dtype=np.int64)
    lower, upper = difficulty.clue_range
    temperature = max(1.0, min_rating / 25)
    mine_chains(lower, upper, min_rating, max_rating, temperature, base, MINING_STREAM + int(difficulty), start,
                puzzles, solutions, ratings, searched, counts)
    return puzzles, solutions, ratings, searched, counts, time.perf_counter() - started


def mine_puzzles(num: int, min_rating: int = 0, max_rating: int | None = None, seed: int = 0,
                 workers: int | None = None, difficulty=Difficulty.EXTREME, per_chain: int = 4, progress=None):
    """`num` distinct uniquely solvable puzzles rated in [min_rating, max_rating] (None: no upper bound).

    Returns (puzzles int8 [N, 81], solutions int8 [N, 81], ratings int64 [N], sources str [N]); a source is
    `generated-<difficulty>` for a generator puzzle already in range, `mined-<difficulty>` for one the search
    found. At most `per_chain` puzzles share a solution grid. `workers` threads (None: all cores); the output
    is the same for any number. progress(n) is called with the number of new puzzles as they come.
    ValueError if the arguments are invalid or the first GIVE_UP_CHAINS chains find nothing in range.
    """
    difficulty = Difficulty.from_name(difficulty) if isinstance(difficulty, str) else Difficulty(difficulty)
    num, min_rating, per_chain = int(num), int(min_rating), int(per_chain)
    top = NO_MAX if max_rating is None else int(max_rating)
    if num < 0:
        raise ValueError(f"the number of puzzles must not be negative, got {num}")
    if min_rating < 0:
        raise ValueError(f"min_rating must not be negative, got {min_rating}")
    if top < min_rating:
        raise ValueError(f"max_rating {top} is below min_rating {min_rating}")
    if per_chain < 1:
        raise ValueError(f"per_chain must be at least 1, got {per_chain}")
    cores = numba.config.NUMBA_NUM_THREADS
    threads = cores if workers is None else max(1, min(int(workers), cores))
    base = base_seed(seed)
    names = (f"generated-{difficulty.cli_name}", f"mined-{difficulty.cli_name}")
    found_puzzles, found_solutions, found_ratings, found_sources = [], [], [], []
    seen = set()
    running = {}  # future -> first chain of its task
    finished = {}  # first chain of a task -> its result, until the chains before it are taken
    submitted = taken = 0  # chains handed out; chains whose puzzles are taken, in order
    busy_seconds = 0.0
    chunk = 1
    pool = ThreadPoolExecutor(threads, thread_name_prefix="mining")
    try:
        while len(found_puzzles) < num:
            while len(running) < 2 * threads:  # a task queued behind each running one: no thread waits for work
                future = pool.submit(run_chains, difficulty, min_rating, top, per_chain, base, submitted, chunk)
                running[future] = submitted
                submitted += chunk
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished[running.pop(future)] = future.result()
            before = len(found_puzzles)
            while taken in finished:
                puzzles, solutions, ratings, searched, counts, seconds = finished.pop(taken)
                busy_seconds += seconds
                for c in range(len(counts)):
                    for k in range(counts[c]):
                        key = puzzles[c, k].tobytes()
                        if key in seen or len(found_puzzles) == num:
                            continue  # two chains on one puzzle: possible in principle (they start from other grids)
                        seen.add(key)
                        found_puzzles.append(puzzles[c, k])
                        found_solutions.append(solutions[c])
                        found_ratings.append(ratings[c, k])
                        found_sources.append(names[int(searched[c, k])])
                    taken += 1
                    if taken == GIVE_UP_CHAINS and not found_puzzles:
                        upper = "" if max_rating is None else f", at most {top}"
                        raise ValueError(f"no puzzle rated at least {min_rating}{upper} in the first {taken} searches"
                                         f" from {difficulty.cli_name} puzzles: the range is out of reach")
            if progress is not None and len(found_puzzles) > before:
                progress(len(found_puzzles) - before)
            # Tasks of about 20 ms: long enough that handing them out costs nothing, short enough to end soon
            # after the last puzzle is found. The task size changes the work done, never the output.
            if taken:
                chunk = int(min(1024, max(1, 0.02 * taken / busy_seconds)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if not found_puzzles:
        empty = np.zeros((0, 81), dtype=np.int8)
        return empty, empty.copy(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=str)
    return (np.stack(found_puzzles), np.stack(found_solutions), np.array(found_ratings, dtype=np.int64),
            np.array(found_sources))
