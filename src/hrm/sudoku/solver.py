"""Bitmask Sudoku solver on digit planes: singles, band and stack logic, guided backtracking.

The board is one int64 array. board[3 * d + b] is the plane of digit d + 1 in band b
(rows 3b..3b+2): bit p (0..26, row-major inside the band) is set where the digit may still
stand. board[OPEN + b] marks the open cells of band b. A placed digit keeps its own bit
and loses its row, column and box peers. Behind these 30 masks, the planes as band logic
and as stack logic last saw them let each step skip what has not changed. (One array
rather than several: every array handed to a numba function costs a pair of atomic
reference-count updates, which took a quarter of the time with separate arrays.)

Propagation, to a fixed point:
- band logic: inside a band each digit occupies one cell per row and per box, so its
  row x box incidence must be a permutation matrix; a table keeps the union of the
  permutations still possible (this covers pointing and claiming) and finds hidden
  singles in rows and boxes;
- naked singles: an open cell with one candidate;
- stack logic and column hidden singles, the same reasoning on columns x bands.
When that stalls, the search branches on a two-candidate cell with the most open peers,
trying first the digit whose placement removes the most candidates, and keeps one copy of
the board per level in fixed-size arrays (no allocation).
"""

import numpy as np
from numba import njit

FULL = (1 << 27) - 1
OPEN = 27  # board[OPEN + b]: open cells of band b
BOARD = 30
SEEN_BAND = 30  # board[SEEN_BAND + plane]: the plane as band logic last saw it
SEEN_STACK = 57  # and as stack logic last saw it
MAX_DEPTH = 81


def _permutation_union(pattern: int) -> int:
    """Union of the 3x3 permutation matrices (bit 3i + j) contained in a 9-bit pattern."""
    union = 0
    for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        bits = sum(1 << (3 * i + perm[i]) for i in range(3))
        if pattern & bits == bits:
            union |= bits
    return union


ROW_MASK = np.array([0x1FF << (9 * i) for i in range(3)], dtype=np.int64)  # row i of a band
BOX_MASK = np.array([sum(7 << (3 * j + 9 * i) for i in range(3)) for j in range(3)], dtype=np.int64)
COL_MASK = np.array([sum(1 << (c + 9 * i) for i in range(3)) for c in range(9)], dtype=np.int64)
BAND_PEERS = np.array([ROW_MASK[p // 9] | BOX_MASK[(p % 9) // 3] for p in range(27)], dtype=np.int64)
POP9 = np.array([bin(m).count("1") for m in range(512)], dtype=np.int64)
ROW_BOXES = np.array([sum(1 << j for j in range(3) if (v >> (3 * j)) & 7) for v in range(512)], dtype=np.int64)
PERMUTATIONS = np.array([_permutation_union(x) for x in range(512)], dtype=np.int64)
# 9-bit (row i, box j) pattern -> the 27-bit band mask of those three-cell segments.
SEGMENT_CELLS = np.array(
    [sum(7 << (9 * (k // 3) + 3 * (k % 3)) for k in range(9) if (x >> k) & 1) for x in range(512)], dtype=np.int64
)
STACK_COLS = np.array([sum(int(COL_MASK[k]) for k in range(3) if (x >> k) & 1) for x in range(8)], dtype=np.int64)
DEBRUIJN = np.zeros(32, dtype=np.int64)
for _i in range(32):
    DEBRUIJN[(((1 << _i) * 0x077CB531) & 0xFFFFFFFF) >> 27] = _i


@njit(cache=True, nogil=True, inline="always")
def lowest_bit(x):
    """Index of the lowest set bit of a non-zero mask below 2**32."""
    return DEBRUIJN[(((x & -x) * 0x077CB531) & 0xFFFFFFFF) >> 27]


@njit(cache=True, nogil=True, inline="always")
def pop27(x):
    return POP9[x & 511] + POP9[(x >> 9) & 511] + POP9[x >> 18]


@njit(cache=True, nogil=True)
def workspace():
    """The board (with its seen-markers) and the per-level backtracking arrays."""
    board = np.empty(BOARD + 54, dtype=np.int64)  # the board, then the planes as band and stack logic last saw them
    stack = np.empty((MAX_DEPTH, BOARD), dtype=np.int64)  # the board at each branch level
    branch = np.empty((MAX_DEPTH, 3), dtype=np.int64)  # branch cell, untried digits, digit to try first
    return board, stack, branch


@njit(cache=True, nogil=True)
def place(board, d, b, p):
    """Put digit d + 1 at bit p of band b; False if it is no longer a candidate there."""
    bit = np.int64(1) << p
    plane = 3 * d + b
    if not board[plane] & bit:
        return False
    board[plane] = (board[plane] & ~BAND_PEERS[p]) | bit
    col = COL_MASK[p % 9]
    for b2 in range(3):
        if b2 != b:
            board[3 * d + b2] &= ~col
    for e in range(9):
        if e != d:
            board[3 * e + b] &= ~bit
    board[OPEN + b] &= ~bit
    return True


@njit(cache=True, nogil=True)
def load(grid, board):
    """Set up the board for an 81-cell grid of givens; False if two givens clash."""
    for k in range(BOARD):
        board[k] = FULL
    for cell in range(81):
        v = grid[cell]
        if v != 0 and not place(board, v - 1, cell // 27, cell % 27):
            return False
    return True


@njit(cache=True, nogil=True)
def band_logic(board):
    """Permutation and hidden-single reasoning inside each band for planes changed since last time.

    Returns -1 on a contradiction, else the number of digits placed.
    """
    placed = 0
    for plane in range(27):
        w = board[plane]
        if w == board[SEEN_BAND + plane]:
            continue
        d, b = plane // 3, plane % 3
        pattern = ROW_BOXES[w & 511] | (ROW_BOXES[(w >> 9) & 511] << 3) | (ROW_BOXES[w >> 18] << 6)
        allowed = PERMUTATIONS[pattern]
        if allowed == 0:
            return -1
        if allowed != pattern:
            w &= SEGMENT_CELLS[allowed]
            board[plane] = w
        for k in range(6):
            x = w & (ROW_MASK[k] if k < 3 else BOX_MASK[k - 3])
            if x & (x - 1) == 0 and x & board[OPEN + b]:
                if not place(board, d, b, lowest_bit(x)):
                    return -1
                placed += 1
                w = board[plane]
        board[SEEN_BAND + plane] = w
    return placed


@njit(cache=True, nogil=True)
def naked_singles(board):
    """Place every open cell with a single candidate; -1 if an open cell has none, else the number placed."""
    placed = 0
    for b in range(3):
        u = board[OPEN + b]
        once = 0
        twice = 0
        for e in range(9):
            x = board[3 * e + b] & u
            twice |= once & x
            once |= x
        if u & ~once:
            return -1
        single = once & ~twice & u
        while single:
            p = lowest_bit(single)
            single &= single - 1
            bit = np.int64(1) << p
            for e in range(9):
                if board[3 * e + b] & bit:
                    if not place(board, e, b, p):
                        return -1
                    placed += 1
                    break
    return placed


@njit(cache=True, nogil=True)
def stack_logic(board):
    """Column hidden singles and the permutation reasoning on columns x bands of each stack.

    Returns -1 on a contradiction, else the number of changes made.
    """
    changed = 0
    for d in range(9):
        w0 = board[3 * d]
        w1 = board[3 * d + 1]
        w2 = board[3 * d + 2]
        seen = SEEN_STACK + 3 * d
        if w0 == board[seen] and w1 == board[seen + 1] and w2 == board[seen + 2]:
            continue
        once = w0 & 511
        twice = 0
        for v in ((w0 >> 9) & 511, w0 >> 18, w1 & 511, (w1 >> 9) & 511, w1 >> 18, w2 & 511, (w2 >> 9) & 511, w2 >> 18):
            twice |= once & v
            once |= v
        if once != 511:
            return -1
        single = once & ~twice
        single |= (single << 9) | (single << 18)
        for b in range(3):
            hits = single & board[3 * d + b] & board[OPEN + b]
            while hits:
                p = lowest_bit(hits)
                hits &= hits - 1
                if not place(board, d, b, p):
                    return -1
                changed += 1
        w0 = board[3 * d]
        w1 = board[3 * d + 1]
        w2 = board[3 * d + 2]
        c0 = (w0 | (w0 >> 9) | (w0 >> 18)) & 511
        c1 = (w1 | (w1 >> 9) | (w1 >> 18)) & 511
        c2 = (w2 | (w2 >> 9) | (w2 >> 18)) & 511
        for s in range(3):
            pattern = ((c0 >> (3 * s)) & 7) | (((c1 >> (3 * s)) & 7) << 3) | (((c2 >> (3 * s)) & 7) << 6)
            allowed = PERMUTATIONS[pattern]
            if allowed == 0:
                return -1
            if allowed != pattern:
                changed += 1
                for b in range(3):
                    board[3 * d + b] &= ~BOX_MASK[s] | (STACK_COLS[(allowed >> (3 * b)) & 7] << (3 * s))
        for b in range(3):
            board[SEEN_STACK + 3 * d + b] = board[3 * d + b]
    return changed


@njit(cache=True, nogil=True)
def propagate(board):
    """Band logic and naked singles to a fixed point, then stack logic, until nothing changes.

    False on a contradiction.
    """
    while True:
        while True:
            placed = band_logic(board)
            if placed < 0:
                return False
            naked = naked_singles(board)
            if naked < 0:
                return False
            if placed == 0 and naked == 0:
                break
        changed = stack_logic(board)
        if changed < 0:
            return False
        if changed == 0:
            return True


@njit(cache=True, nogil=True)
def choose_cell(board):
    """The open cell to branch on: two candidates and the most open peers; -1 when the grid is full."""
    best = -1
    best_score = -1
    for b in range(3):
        u = board[OPEN + b]
        once = 0
        twice = 0
        thrice = 0
        for e in range(9):
            x = board[3 * e + b] & u
            thrice |= twice & x
            twice |= once & x
            once |= x
        pairs = twice & ~thrice & u
        while pairs:
            p = lowest_bit(pairs)
            pairs &= pairs - 1
            col = COL_MASK[p % 9]
            score = pop27(u & (BAND_PEERS[p] | col))
            for b2 in range(3):
                if b2 != b:
                    score += pop27(board[OPEN + b2] & col)
            if score > best_score:
                best_score = score
                best = b * 27 + p
    if best >= 0 or (board[OPEN] | board[OPEN + 1] | board[OPEN + 2]) == 0:
        return best
    # No two-candidate cell: fall back to the fewest candidates.
    best_n = 10
    for b in range(3):
        u = board[OPEN + b]
        while u:
            p = lowest_bit(u)
            u &= u - 1
            n = 0
            for e in range(9):
                n += (board[3 * e + b] >> p) & 1
            if n < best_n:
                best_n = n
                best = b * 27 + p
    return best


@njit(cache=True, nogil=True)
def search(board, stack, branch, limit, solution, guesses):
    """Count solutions up to `limit` from a loaded board.

    The first solution goes to `solution`; guesses[0] counts the tentative placements.
    """
    for k in range(27):
        board[SEEN_BAND + k] = -1
        board[SEEN_STACK + k] = -1
    count = 0
    depth = 0
    ok = propagate(board)
    while True:
        if ok:
            cell = choose_cell(board)
            if cell < 0:
                if count == 0:
                    for plane in range(27):
                        w = board[plane]
                        while w:
                            solution[(plane % 3) * 27 + lowest_bit(w)] = plane // 3 + 1
                            w &= w - 1
                count += 1
                if count >= limit:
                    return count
            else:
                b, p = cell // 27, cell % 27
                # Try first the digit with the most other places among the cell's peers: its
                # placement removes the most candidates, so a wrong guess fails soonest.
                peers = BAND_PEERS[p] | COL_MASK[p % 9]
                digits = 0
                first = -1
                most = -1
                for e in range(9):
                    if (board[3 * e + b] >> p) & 1:
                        digits |= 1 << e
                        places = pop27(board[3 * e + b] & peers)
                        if places > most:
                            most = places
                            first = e
                for k in range(BOARD):
                    stack[depth, k] = board[k]
                branch[depth, 0] = cell
                branch[depth, 1] = digits
                branch[depth, 2] = first
                depth += 1
        while depth > 0 and branch[depth - 1, 1] == 0:
            depth -= 1
        if depth == 0:
            return count
        digits = branch[depth - 1, 1]
        digit = branch[depth - 1, 2] if (digits >> branch[depth - 1, 2]) & 1 else lowest_bit(digits)
        branch[depth - 1, 1] = digits & ~(1 << digit)
        # The saved board is a fixed point: only what the guess changes needs another look.
        for k in range(BOARD):
            board[k] = stack[depth - 1, k]
        for k in range(27):
            board[SEEN_BAND + k] = board[k]
            board[SEEN_STACK + k] = board[k]
        cell = branch[depth - 1, 0]
        guesses[0] += 1
        ok = place(board, digit, cell // 27, cell % 27) and propagate(board)


@njit(cache=True, nogil=True)
def count_into(grid, limit, solution, guesses):
    """Count the solutions of an 81-cell grid up to `limit`; the first solution is written to `solution`."""
    board, stack, branch = workspace()
    if not load(grid, board):
        return 0
    return search(board, stack, branch, limit, solution, guesses)


@njit(cache=True, nogil=True)
def count_many(grids, limit, solutions, counts, guesses):
    """count_into for each row of grids [N, 81], sharing one workspace."""
    board, stack, branch = workspace()
    for i in range(grids.shape[0]):
        counts[i] = 0
        if load(grids[i], board):
            counts[i] = search(board, stack, branch, limit, solutions[i], guesses[i:i + 1])


def as_cells(grid) -> np.ndarray:
    """A [9, 9] or [81] integer grid as an int8 [81] array; ValueError for another shape or a value outside 0..9."""
    cells = np.asarray(grid)
    if cells.shape not in ((9, 9), (81,)):
        raise ValueError(f"a Sudoku grid must have shape (9, 9) or (81,), got {cells.shape}")
    if cells.size and (cells.min() < 0 or cells.max() > 9):
        raise ValueError("grid values must be 0 (empty) or the digits 1..9")
    return np.ascontiguousarray(cells.reshape(81), dtype=np.int8)


def _as_rows(puzzles) -> np.ndarray:
    rows = np.asarray(puzzles)
    if rows.ndim == 3:
        rows = rows.reshape(rows.shape[0], 81)
    if rows.ndim != 2 or rows.shape[1] != 81:
        raise ValueError(f"puzzles must have shape (N, 81) or (N, 9, 9), got {rows.shape}")
    if rows.size and (rows.min() < 0 or rows.max() > 9):
        raise ValueError("grid values must be 0 (empty) or the digits 1..9")
    return np.ascontiguousarray(rows, dtype=np.int8)


def solve(grid) -> np.ndarray | None:
    """A solution of the grid (same shape, int8), or None if it has none."""
    cells = as_cells(grid)
    solution = np.zeros(81, dtype=np.int8)
    if count_into(cells, 1, solution, np.zeros(1, dtype=np.int64)) == 0:
        return None
    return solution.reshape(np.shape(grid))


def count_solutions(grid, limit: int = 2) -> int:
    """The number of solutions, counting stops at `limit` (0 for contradictory givens)."""
    solution = np.zeros(81, dtype=np.int8)
    return int(count_into(as_cells(grid), max(int(limit), 1), solution, np.zeros(1, dtype=np.int64)))


def rate_difficulty(grid) -> int:
    """Guesses (tentative placements beyond singles) the solver makes to find the solution and prove it unique.

    0 means singles alone solve the puzzle; the hardest known puzzles need tens to hundreds.
    """
    guesses = np.zeros(1, dtype=np.int64)
    count_into(as_cells(grid), 2, np.zeros(81, dtype=np.int8), guesses)
    return int(guesses[0])


def solve_batch(puzzles) -> np.ndarray:
    """Solutions [N, 81] int8 for puzzles [N, 81] (or [N, 9, 9]); a row of zeros where a puzzle has none."""
    rows = _as_rows(puzzles)
    solutions = np.zeros_like(rows)
    counts = np.zeros(len(rows), dtype=np.int64)
    count_many(rows, 1, solutions, counts, np.zeros(len(rows), dtype=np.int64))
    solutions[counts == 0] = 0
    return solutions


def count_solutions_batch(puzzles, limit: int = 2) -> np.ndarray:
    """count_solutions for each row of puzzles [N, 81]; int64 [N]."""
    rows = _as_rows(puzzles)
    counts = np.zeros(len(rows), dtype=np.int64)
    count_many(rows, max(int(limit), 1), np.zeros_like(rows), counts, np.zeros(len(rows), dtype=np.int64))
    return counts
