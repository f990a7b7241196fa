"""Path-finding boards: numba kernels that generate boards with one shortest path, and score predicted paths.

A board is N×N cells of floor `.`, wall `#`, start `S` and end `E`; its answer marks the
cells of a shortest S→E path (moving up, down, left, right; S and E excluded) with `*`.
Walls are drawn independently with probability `wall_prob`; S and E are two distinct
random cells, made floor. A board is kept only if E is reachable at least `min_path` steps
away. Board i of a stream depends only on (seed, stream, i).

Where several shortest paths exist (most boards with long paths), the answer is the
*canonical* one: walking back from E, always step to the first neighbour, in the order up,
down, left, right, that is one step closer to S. Training targets are canonical; scoring
accepts any shortest path (`score_paths`), so a model is not marked wrong for a right path.
"""

import numba
import numpy as np
from numba import njit, prange

from ..sudoku.generator import _PARALLEL_LOCK
from ..sudoku.prng import base_seed, below, next_u64, stream_state

# Tokens: 0 is never used (kept free, as Sudoku's 0 is "empty"), so a board of zeros is not a board.
FLOOR, WALL, START, END, PATH = 1, 2, 3, 4, 5
VOCAB_SIZE = 6
GLYPHS = "?.#SE*"  # token -> character
MAX_ATTEMPTS = 1_000_000  # boards tried per kept board before giving up (settings that keep none)


@njit(cache=True, nogil=True, inline="always")
def neighbour(cell, k, size):
    """The k-th neighbour of a cell (0 up, 1 down, 2 left, 3 right), or -1 off the board."""
    r, c = cell // size, cell % size
    if k == 0:
        r -= 1
    elif k == 1:
        r += 1
    elif k == 2:
        c -= 1
    else:
        c += 1
    if r < 0 or r >= size or c < 0 or c >= size:
        return -1
    return r * size + c


@njit(cache=True, nogil=True)
def distances_from(board, size, start, distance, queue, wall=WALL):
    """BFS from `start` over cells that are not `wall`: steps to each cell, -1 where unreachable. Shared with the
    maze engine, whose wall token differs."""
    for c in range(size * size):
        distance[c] = -1
    distance[start] = 0
    head, tail = 0, 1
    queue[0] = start
    while head < tail:
        cell = queue[head]
        head += 1
        for k in range(4):
            other = neighbour(cell, k, size)
            if other >= 0 and board[other] != wall and distance[other] < 0:
                distance[other] = distance[cell] + 1
                queue[tail] = other
                tail += 1


@njit(cache=True, nogil=True)
def mark_canonical_path(board, size, end, distance, answer, path=PATH):
    """answer = board with the canonical shortest path to `end` marked `path` (distances from S given): from the end
    back, always the first neighbour (up, down, left, right) one step closer to S."""
    for c in range(size * size):
        answer[c] = board[c]
    cell = end
    while distance[cell] > 1:
        for k in range(4):
            other = neighbour(cell, k, size)
            if other >= 0 and distance[other] == distance[cell] - 1:
                cell = other
                break
        answer[cell] = path


@njit(cache=True, nogil=True)
def generate_into(size, wall_prob, min_path, state, board, answer, distance, queue):
    """One board and its answer into int8 [size²] arrays; returns the attempts it took (0: gave up)."""
    cells = size * size
    threshold = np.uint64(min(max(wall_prob, 0.0), 1.0) * 18446744073709551615.0)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        for c in range(cells):
            board[c] = WALL if next_u64(state) < threshold else FLOOR
        start = below(state, cells)
        end = below(state, cells - 1)
        if end >= start:
            end += 1
        board[start] = START
        board[end] = END
        distances_from(board, size, start, distance, queue)
        if distance[end] >= max(min_path, 1):
            mark_canonical_path(board, size, end, distance, answer)
            return attempt
    return 0




@njit(cache=True, nogil=True, parallel=True)
def generate_parallel(size, wall_prob, min_path, base, stream, start, boards, answers, attempts):
    for i in prange(boards.shape[0]):
        state = stream_state(base, stream, start + i)
        scratch = np.empty((2, size * size), np.int64)
        attempts[i] = generate_into(size, wall_prob, min_path, state, boards[i], answers[i], scratch[0], scratch[1])


def generate_boards(count: int, size: int = 10, wall_prob: float = 0.3, min_path: int = 0, seed: int = 0,
                    stream: int = 0, start: int = 0, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Boards start .. start + count - 1 of a seeded stream: (boards, answers) int8 [count, size²].

    The result does not depend on `workers`. ValueError when the settings keep no board (say, a wall
    probability so high that E is never reachable, or a minimum path longer than any board allows).
    """
    if size < 2:
        raise ValueError(f"board size must be at least 2, got {size}")
    if not 0 <= wall_prob < 1:
        raise ValueError(f"wall probability must be in [0, 1), got {wall_prob}")
    boards = np.zeros((count, size * size), dtype=np.int8)
    answers = np.zeros((count, size * size), dtype=np.int8)
    attempts = np.zeros(count, dtype=np.int64)
    threads = numba.config.NUMBA_NUM_THREADS if workers is None else max(1, min(int(workers),
                                                                                numba.config.NUMBA_NUM_THREADS))
    with _PARALLEL_LOCK:  # numba's workqueue threading layer must not be entered from two threads at once
        previous_threads = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            generate_parallel(size, float(wall_prob), int(min_path), base_seed(seed), stream, start, boards, answers,
                              attempts)
        finally:
            numba.set_num_threads(previous_threads)
    if count and attempts.min() == 0:
        raise ValueError(f"no {size}x{size} board with wall probability {wall_prob} and a shortest path of"
                         f" at least {max(min_path, 1)} steps found in {MAX_ATTEMPTS:,} tries")
    return boards, answers


@njit(cache=True, nogil=True)
def _score_one(board, prediction, size, distance, queue):
    """(valid, shortest) for one prediction: see score_paths."""
    cells = size * size
    start, end, marked = -1, -1, 0
    for c in range(cells):
        if board[c] == START:
            start = c
        elif board[c] == END:
            end = c
        want_fixed = board[c] == WALL or board[c] == START or board[c] == END
        if want_fixed and prediction[c] != board[c]:
            return False, False  # a wall, S or E not reproduced
        if not want_fixed:
            if prediction[c] == PATH:
                marked += 1
            elif prediction[c] != FLOOR:
                return False, False  # a floor cell predicted as something a floor cell cannot be
    # The marked cells with S and E must form a simple path: S and E with one neighbour in the set, every
    # marked cell with two, and all of it connected.
    for c in range(cells):
        on_path = prediction[c] == PATH or c == start or c == end
        if on_path:
            degree = 0
            for k in range(4):
                other = neighbour(c, k, size)
                if other >= 0 and (prediction[other] == PATH or other == start or other == end):
                    degree += 1
            if degree != (1 if c == start or c == end else 2):
                return False, False
    distance_on_path = distance
    for c in range(cells):
        distance_on_path[c] = -1
    distance_on_path[start] = 0
    head, tail, reached = 0, 1, 1
    queue[0] = start
    while head < tail:
        cell = queue[head]
        head += 1
        for k in range(4):
            other = neighbour(cell, k, size)
            if other >= 0 and distance_on_path[other] < 0 and (prediction[other] == PATH or other == end):
                distance_on_path[other] = distance_on_path[cell] + 1
                queue[tail] = other
                tail += 1
                reached += 1
    if reached != marked + 2:
        return False, False  # a second piece (a loop of marked cells) beside the path
    steps = distance_on_path[end]
    distances_from(board, size, start, distance, queue)
    return True, steps == distance[end]


def score_paths(boards, predictions, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row (valid [N] bool, shortest [N] bool).

    Valid: walls, S and E are reproduced, every other cell is floor or `*`, and the `*` cells with S and E
    form a simple path: S and E have one neighbour among them, every `*` cell two, and they are connected.
    Shortest: valid, and as long as the BFS distance from S to E.
    """
    boards = np.ascontiguousarray(boards, dtype=np.int8).reshape(-1, size * size)
    predictions = np.ascontiguousarray(predictions, dtype=np.int8).reshape(-1, size * size)
    valid = np.zeros(len(boards), dtype=bool)
    shortest = np.zeros(len(boards), dtype=bool)
    distance, queue = np.empty(size * size, np.int64), np.empty(size * size, np.int64)
    for i in range(len(boards)):
        valid[i], shortest[i] = _score_one(boards[i], predictions[i], size, distance, queue)
    return valid, shortest


def board_to_string(row, size: int) -> str:
    """A board (or answer, or prediction) in the legend `. # S E *`, one line per row."""
    row = np.asarray(row).reshape(size, size)
    glyphs = np.array(list(GLYPHS))
    return "\n".join("".join(glyphs[np.clip(line, 0, len(GLYPHS) - 1)]) for line in row)


def parse_board(text: str) -> tuple[np.ndarray, int]:
    """A board from its picture (`. # S E`, one line per row, blank lines and spaces ignored): (int8 [N²], N).

    ValueError naming the problem: a ragged or non-square board, an unknown character, not one S and one E.
    """
    lines = ["".join(line.split()) for line in text.strip().splitlines() if line.strip()]
    size = len(lines)
    if size < 2 or any(len(line) != size for line in lines):
        widths = sorted({len(line) for line in lines})
        raise ValueError(f"a board must be square: {size} rows of widths {widths}")
    tokens = {".": FLOOR, "#": WALL, "S": START, "E": END}
    cells = []
    for r, line in enumerate(lines, start=1):
        for c, char in enumerate(line, start=1):
            if char not in tokens:
                raise ValueError(f"row {r}, column {c}: {char!r} is not one of '.', '#', 'S', 'E'")
            cells.append(tokens[char])
    board = np.array(cells, dtype=np.int8)
    for token, name in ((START, "S"), (END, "E")):
        if (board == token).sum() != 1:
            raise ValueError(f"a board needs exactly one {name}, this one has {(board == token).sum()}")
    return board, size


def solve_board(board, size: int) -> np.ndarray | None:
    """The answer of a board (its canonical shortest path marked), or None when E is unreachable."""
    board = np.ascontiguousarray(board, dtype=np.int8).reshape(size * size)
    distance, queue = np.empty(size * size, np.int64), np.empty(size * size, np.int64)
    start, end = int(np.flatnonzero(board == START)[0]), int(np.flatnonzero(board == END)[0])
    distances_from(board, size, start, distance, queue)
    if distance[end] < 0:
        return None
    answer = np.empty_like(board)
    mark_canonical_path(board, size, end, distance, answer)
    return answer
