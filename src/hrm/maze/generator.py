"""Seeded numba generator of hard mazes with BFS ground truth.

A maze follows the instance recipe the original cites (Lehnert et al., 2024): each cell is a wall
with a probability drawn per maze, uniformly in [wall_min, wall_max]; S and G are two distinct open
cells drawn uniformly. The hard filter keeps a maze only if G is at least `min_path` steps from S
(and, for a curriculum's short stages, at most `max_path`); its rating is that distance. Maze i of a
stream depends only on (seed, stream, i).

Drawing G and rejecting it when too close would run one BFS per draw. Instead one BFS from S counts
the k open cells far enough among the n - 1 candidates, and the maze is kept with probability
k / (n - 1) with G uniform among those k: the same distribution as plain rejection, one BFS per maze.

That recipe is one family of mazes. `kinds` adds another: perfect mazes carved by a randomized
depth-first search (a recursive backtracker) on a lattice of cells two apart, at a random offset,
with walls between them; every two open cells are joined by exactly one path, so the shortest path
is unique. S and G are placed and filtered the same way. A model trained on one family does not
solve the other (a random-wall model solves no backtracker maze), so a mix trains for both.
"""

import numba
import numpy as np
from numba import njit, prange

from ..sudoku.generator import _PARALLEL_LOCK
from ..sudoku.prng import base_seed, below, next_u64, stream_state
from .bfs import distances_from, mark_canonical_path
from .tokens import GOAL, OPEN, START, WALL

HARD_MIN_PATH = 111  # Maze-Hard keeps mazes whose shortest path exceeds 110 steps
WALL_MIN, WALL_MAX = 0.3, 0.5
MAX_ATTEMPTS = 1_000_000  # mazes tried per kept maze before giving up (settings that keep none)
_UNIT = 1.0 / 18446744073709551616.0


WALLS, BACKTRACKER = 1, 2  # maze kinds, as bits of the `kinds` mask
KIND_NAMES = {"walls": WALLS, "backtracker": BACKTRACKER}


@njit(cache=True, nogil=True)
def random_walls(size, wall_min, wall_max, state, maze):
    """Every cell a wall with a probability drawn for the maze in [wall_min, wall_max]; returns the open cells."""
    wall_prob = wall_min + (wall_max - wall_min) * (next_u64(state) * _UNIT)
    threshold = np.uint64(min(max(wall_prob, 0.0), 1.0) * 18446744073709551615.0)
    open_cells = 0
    for c in range(size * size):
        if next_u64(state) < threshold:
            maze[c] = WALL
        else:
            maze[c] = OPEN
            open_cells += 1
    return open_cells


@njit(cache=True, nogil=True)
def backtracker(size, state, maze, stack):
    """A perfect maze: the cells of a lattice two apart (offset 0 or 1 in each direction, drawn), joined by a
    randomized depth-first search that opens the wall between a cell and an unvisited neighbour; returns the open
    cells. `stack` holds size² cells."""
    for c in range(size * size):
        maze[c] = WALL
    top, left = below(state, 2), below(state, 2)
    rows, cols = (size - top + 1) // 2, (size - left + 1) // 2
    first = below(state, rows * cols)
    cell = (top + 2 * (first // cols)) * size + left + 2 * (first % cols)
    maze[cell] = OPEN
    open_cells, depth = 1, 1
    stack[0] = cell
    moves = np.empty(4, np.int64)
    while depth > 0:
        cell = stack[depth - 1]
        row, col = cell // size, cell % size
        count = 0
        if row >= 2 and maze[cell - 2 * size] == WALL:
            moves[count] = -size
            count += 1
        if row + 2 < size and maze[cell + 2 * size] == WALL:
            moves[count] = size
            count += 1
        if col >= 2 and maze[cell - 2] == WALL:
            moves[count] = -1
            count += 1
        if col + 2 < size and maze[cell + 2] == WALL:
            moves[count] = 1
            count += 1
        if count == 0:
            depth -= 1
            continue
        step = moves[below(state, count)]
        maze[cell + step] = OPEN
        maze[cell + 2 * step] = OPEN
        open_cells += 2
        stack[depth] = cell + 2 * step
        depth += 1
    return open_cells


@njit(cache=True, nogil=True)
def generate_into(size, wall_min, wall_max, min_path, max_path, kinds, state, maze, answer, distance, queue):
    """One maze and its answer into int8 [size²] arrays; returns (attempts, steps S->G), attempts 0: gave up.

    `kinds`: a mask of WALLS and BACKTRACKER; with both, each maze draws its kind first (half and half)."""
    cells = size * size
    kind = kinds
    if kinds == WALLS | BACKTRACKER:
        kind = WALLS if below(state, 2) == 0 else BACKTRACKER
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if kind == BACKTRACKER:
            open_cells = backtracker(size, state, maze, queue)
        else:
            open_cells = random_walls(size, wall_min, wall_max, state, maze)
        if open_cells < 2:
            continue
        pick = below(state, open_cells)
        start = -1
        for c in range(cells):
            if maze[c] == OPEN:
                if pick == 0:
                    start = c
                    break
                pick -= 1
        distances_from(maze, size, start, distance, queue)
        low, high = max(min_path, 1), max_path if max_path >= 0 else cells
        far = 0
        for c in range(cells):
            if low <= distance[c] <= high:
                far += 1
        pick = below(state, open_cells - 1)
        if pick >= far:
            continue
        goal = -1
        for c in range(cells):
            if low <= distance[c] <= high:
                if pick == 0:
                    goal = c
                    break
                pick -= 1
        maze[start] = START
        maze[goal] = GOAL
        mark_canonical_path(maze, size, goal, distance, answer)
        return attempt, distance[goal]
    return 0, -1


@njit(cache=True, nogil=True, parallel=True)
def generate_parallel(size, wall_min, wall_max, min_path, max_path, kinds, base, stream, start, mazes, answers,
                      ratings, attempts):  # fmt: skip
    for i in prange(mazes.shape[0]):
        state = stream_state(base, stream, start + i)
        scratch = np.empty((2, size * size), np.int64)
        attempts[i], ratings[i] = generate_into(size, wall_min, wall_max, min_path, max_path, kinds, state, mazes[i],
                                                answers[i], scratch[0], scratch[1])


def generate_mazes(count: int, size: int = 30, min_path: int = HARD_MIN_PATH, wall_min: float = WALL_MIN,
                   wall_max: float = WALL_MAX, seed: int = 0, stream: int = 0, start: int = 0,
                   workers: int | None = None, max_path: int | None = None,
                   kinds: int = WALLS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Mazes start .. start + count - 1 of a seeded stream: (mazes, answers) int8 [count, size²], ratings int64 [count].

    A rating is the shortest path's length in steps, at least `min_path` and at most `max_path` (None: no
    bound). `kinds`: WALLS (the default, whose stream is unchanged by the option), BACKTRACKER, or both
    (`maze_kinds`). The result does not depend on `workers`. ValueError
    when the settings keep no maze (say, a minimum path longer than any maze of that size allows).
    """
    if size < 2:
        raise ValueError(f"maze size must be at least 2, got {size}")
    if not 0 <= wall_min <= wall_max < 1:
        raise ValueError(f"wall probabilities must satisfy 0 <= min <= max < 1, got {wall_min}, {wall_max}")
    if kinds not in (WALLS, BACKTRACKER, WALLS | BACKTRACKER):
        raise ValueError(f"maze kinds must be a mask of WALLS and BACKTRACKER, got {kinds}")
    mazes = np.zeros((count, size * size), dtype=np.int8)
    answers = np.zeros((count, size * size), dtype=np.int8)
    ratings = np.zeros(count, dtype=np.int64)
    attempts = np.zeros(count, dtype=np.int64)
    threads = numba.config.NUMBA_NUM_THREADS if workers is None else max(1, min(int(workers),
                                                                                numba.config.NUMBA_NUM_THREADS))
    with _PARALLEL_LOCK:  # numba's workqueue threading layer must not be entered from two threads at once
        previous_threads = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            generate_parallel(size, float(wall_min), float(wall_max), int(min_path),
                              -1 if max_path is None else int(max_path), int(kinds), base_seed(seed), stream,
                              start, mazes, answers, ratings, attempts)
        finally:
            numba.set_num_threads(previous_threads)
    if count and attempts.min() == 0:
        bound = f"at least {max(min_path, 1)}" + (f" and at most {max_path}" if max_path is not None else "")
        what = "maze" if kinds == BACKTRACKER else f"maze with walls in [{wall_min}, {wall_max}]"
        raise ValueError(f"no {size}x{size} {what} and a shortest path of {bound} steps found in"
                         f" {MAX_ATTEMPTS:,} tries")
    return mazes, answers, ratings


def maze_kinds(text: str) -> int:
    """The mask of comma-separated kind names ("walls", "backtracker"); ValueError naming a bad one."""
    mask = 0
    for name in (part.strip() for part in text.split(",")):
        if name not in KIND_NAMES:
            raise ValueError(f"unknown maze kind {name!r}: choose from {', '.join(KIND_NAMES)}")
        mask |= KIND_NAMES[name]
    return mask
