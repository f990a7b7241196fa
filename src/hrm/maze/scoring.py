"""Scoring predicted paths over a batch: exact match with the file's path (the original's metric) and any shortest path."""

import numpy as np
from numba import njit

from .bfs import PATH_LONGER, PATH_OK, check_path, distances_from, find_cell, mark_canonical_path
from .tokens import GOAL, START


def exact_match(answers, predictions) -> np.ndarray:
    """Per row: every cell equals the answer's (bool [N])."""
    answers, predictions = np.asarray(answers), np.asarray(predictions)
    return (answers.reshape(len(answers), -1) == predictions.reshape(len(predictions), -1)).all(1)


@njit(cache=True, nogil=True)
def check_paths(mazes, predictions, size):
    """check_path's code for each row (int8 [N])."""
    codes = np.empty(mazes.shape[0], np.int8)
    distance, queue = np.empty(size * size, np.int64), np.empty(size * size, np.int64)
    for i in range(mazes.shape[0]):
        codes[i] = check_path(mazes[i], predictions[i], size, distance, queue)
    return codes


def score_paths(mazes, predictions, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row (valid [N] bool, shortest [N] bool): valid, a simple S->G chain through open cells with the maze
    kept; shortest, valid and as long as the BFS distance."""
    mazes = np.ascontiguousarray(mazes, dtype=np.int8).reshape(-1, size * size)
    predictions = np.ascontiguousarray(predictions, dtype=np.int8).reshape(-1, size * size)
    codes = check_paths(mazes, predictions, size)
    return codes <= PATH_LONGER, codes == PATH_OK


@njit(cache=True, nogil=True)
def _solve(mazes, size, answers, steps):
    distance, queue = np.empty(size * size, np.int64), np.empty(size * size, np.int64)
    for i in range(mazes.shape[0]):
        start, goal = find_cell(mazes[i], START), find_cell(mazes[i], GOAL)
        distances_from(mazes[i], size, start, distance, queue)
        steps[i] = distance[goal]
        if distance[goal] >= 0:
            mark_canonical_path(mazes[i], size, goal, distance, answers[i])
        else:
            answers[i] = mazes[i]


def solve_mazes(mazes, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(answers int8 [N, size²] with the canonical shortest path marked, steps int64 [N], -1 where G is unreachable).

    Each maze must hold one S and one G."""
    mazes = np.ascontiguousarray(mazes, dtype=np.int8).reshape(-1, size * size)
    answers, steps = np.empty_like(mazes), np.empty(len(mazes), np.int64)
    _solve(mazes, size, answers, steps)
    return answers, steps
