"""An independent plain-Python Sudoku solution counter, used to check the engine, and its own checks.

Deliberately simple: the digits used per row, column and box, and backtracking on the
empty cell with the fewest candidates. Nothing is shared with the engine.
"""

import numpy as np

WIKIPEDIA_PUZZLE = (
    "530070000600195000098000060800060003400803001700020006060000280000419005000080079"
)
WIKIPEDIA_SOLUTION = (
    "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
)


def _box(r: int, c: int) -> int:
    return 3 * (r // 3) + c // 3


# The free digits for each set of used digits (bit d set: digit d used).
_OPTIONS = [[d for d in range(1, 10) if not (used >> d) & 1] for used in range(1 << 10)]


def reference_solve(grid, limit: int = 2) -> tuple[int, np.ndarray | None]:
    """(number of solutions counting up to `limit`, the first solution found as int [81] or None)."""
    cells = [int(v) for v in np.asarray(grid).reshape(81)]
    rows, cols, boxes = [0] * 9, [0] * 9, [0] * 9  # bit d set: digit d used
    for i, v in enumerate(cells):
        if v:
            r, c = divmod(i, 9)
            bit = 1 << v
            if (rows[r] | cols[c] | boxes[_box(r, c)]) & bit:
                return 0, None
            rows[r] |= bit
            cols[c] |= bit
            boxes[_box(r, c)] |= bit
    empty = [i for i in range(81) if cells[i] == 0]
    first: list[np.ndarray] = []

    def count(limit: int) -> int:
        best, best_options = None, None
        for i in empty:
            if cells[i] == 0:
                r, c = divmod(i, 9)
                options = _OPTIONS[rows[r] | cols[c] | boxes[_box(r, c)]]
                if best is None or len(options) < len(best_options):
                    best, best_options = i, options
                    if len(options) <= 1:
                        break
        if best is None:
            if not first:
                first.append(np.array(cells))
            return 1
        r, c = divmod(best, 9)
        b = _box(r, c)
        found = 0
        for d in best_options:
            bit = 1 << d
            cells[best] = d
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
            found += count(limit - found)
            rows[r] &= ~bit
            cols[c] &= ~bit
            boxes[b] &= ~bit
            cells[best] = 0
            if found >= limit:
                break
        return found

    found = count(limit)
    return found, (first[0] if first else None)


def reference_count(grid, limit: int = 2) -> int:
    """Number of solutions of an 81-cell grid, counting stops at `limit`."""
    return reference_solve(grid, limit)[0]


def digits(text: str) -> np.ndarray:
    """An 81-character string ('.' or '0' for empty) as int [81]; test inputs only."""
    return np.array([0 if ch in ".0" else int(ch) for ch in text], dtype=np.int64)


def is_valid_grid(cells) -> bool:
    cells = np.asarray(cells).reshape(9, 9)
    full = set(range(1, 10))
    boxes = [cells[3 * (b // 3):3 * (b // 3) + 3, 3 * (b % 3):3 * (b % 3) + 3].reshape(-1) for b in range(9)]
    return all(set(unit.tolist()) == full for unit in [*cells, *cells.T, *boxes])


def test_reference_counter_on_a_known_puzzle():
    puzzle = digits(WIKIPEDIA_PUZZLE)
    assert reference_count(puzzle) == 1
    assert "".join(map(str, reference_solve(puzzle)[1])) == WIKIPEDIA_SOLUTION
    assert is_valid_grid(digits(WIKIPEDIA_SOLUTION))


def test_reference_counter_counts_several_solutions_and_contradictions():
    assert reference_count(np.zeros(81), limit=3) == 3
    solution = digits(WIKIPEDIA_SOLUTION)
    assert reference_count(solution) == 1
    clash = digits(WIKIPEDIA_PUZZLE)
    clash[1] = 5  # a second 5 in row 1
    assert reference_count(clash) == 0
