"""BFS kernels on a flattened size×size maze: distances, the canonical shortest path, and a path checker.

Moves go up, down, left, right through any cell that is not a wall. Where several shortest paths
exist the canonical one walks back from G, always stepping to the first neighbour (up, down, left,
right) one step closer to S. The grid walk itself is the boardpath engine's, given the maze's tokens.
"""

from numba import njit

from ..boardpath.board import distances_from as grid_distances
from ..boardpath.board import mark_canonical_path as mark_grid_path
from ..boardpath.board import neighbour
from .tokens import GOAL, OPEN, PATH, START, WALL

# Codes of check_path, worst problem first found.
PATH_OK, PATH_LONGER, PATH_BROKEN, PATH_BAD_CELL, PATH_CHANGED = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True)
def distances_from(maze, size, start, distance, queue):
    """BFS from `start` over the maze's non-wall cells: steps to each cell, -1 where unreachable."""
    grid_distances(maze, size, start, distance, queue, WALL)


@njit(cache=True, nogil=True)
def mark_canonical_path(maze, size, goal, distance, answer):
    """answer = maze with the canonical shortest path to `goal` marked `o` (distances from S given)."""
    mark_grid_path(maze, size, goal, distance, answer, PATH)


@njit(cache=True, nogil=True)
def find_cell(maze, token):
    for c in range(maze.shape[0]):
        if maze[c] == token:
            return c
    return -1


@njit(cache=True, nogil=True)
def check_path(maze, prediction, size, distance, queue):
    """One of the PATH_* codes for a prediction of a maze with one S and one G.

    PATH_OK: walls, S and G reproduced, every other cell open or `o`, the `o` cells with S and G a simple
    connected chain (S and G of degree 1, `o` cells of degree 2), as long as the BFS distance S->G.
    A shortest path never touches itself, so the degree rule rejects no shortest path.
    """
    cells = size * size
    marked = 0
    for c in range(cells):
        fixed = maze[c] == WALL or maze[c] == START or maze[c] == GOAL
        if fixed and prediction[c] != maze[c]:
            return PATH_CHANGED
        if not fixed:
            if prediction[c] == PATH:
                marked += 1
            elif prediction[c] != OPEN:
                return PATH_BAD_CELL
    start, goal = find_cell(maze, START), find_cell(maze, GOAL)
    for c in range(cells):
        if prediction[c] == PATH or c == start or c == goal:
            degree = 0
            for k in range(4):
                other = neighbour(c, k, size)
                if other >= 0 and (prediction[other] == PATH or other == start or other == goal):
                    degree += 1
            if degree != (1 if c == start or c == goal else 2):
                return PATH_BROKEN
    # Walk the chain from S: it must take in every marked cell and end at G.
    previous, cell, steps = -1, start, 0
    while cell != goal:
        step = -1
        for k in range(4):
            other = neighbour(cell, k, size)
            if other >= 0 and other != previous and (prediction[other] == PATH or other == goal):
                step = other
                break
        if step < 0:
            return PATH_BROKEN
        previous, cell, steps = cell, step, steps + 1
    if steps != marked + 1:
        return PATH_BROKEN  # a loop of marked cells beside the chain
    distances_from(maze, size, start, distance, queue)
    return PATH_OK if steps == distance[goal] else PATH_LONGER
