"""The bitmask solver against the independent plain-Python counter."""

import itertools

import numpy as np
import pytest
from test_reference import WIKIPEDIA_PUZZLE, WIKIPEDIA_SOLUTION, digits, reference_count, reference_solve

from src.hrm.sudoku import (
    count_solutions,
    count_solutions_batch,
    generate_batch,
    rate_difficulty,
    solve,
    solve_batch,
)

FAMOUS = {
    "ai_escargot": "1....7.9..3..2...8..96..5....53..9...1..8...26....4...3......1..4......7..7...3..",
    "inkala_2010": "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4..",
    "platinum_blonde": ".......12........3..23..4....18....5.6..7.8.......9.....85.....9...4.5..47...6...",
    "golden_nugget": ".......39.....1..5..3.5.8....8.9...6.7...2...1..4.......9.8..5..2....6..4..7.....",
    "easter_monster": "1.......2.9.4...5...6...7...5.9.3.......7.......85..4.7.....6...3...9.8...2.....1",
    "clue17": "..............3.85..1.2.......5.7.....4...1...9.......5......73..2.1........4...9",
}

# A plain-Python search with the engine's rules, on a list of 81 candidate sets rather than digit planes,
# to count guesses independently. Propagation applies, to a fixed point: naked singles, hidden singles in
# every row, column and box, and the permutation rule on each band (rows x boxes) and stack (bands x
# columns) per digit. These rules only ever remove candidates, so every order of applying them reaches
# the same fixed point, and the engine's order need not be copied; where the engine sees an open cell,
# this sees a cell of two or more candidates. Branching copies the engine's choices: the two-candidate
# cell with the most open cells in its row, column and box (the first in reading order on a tie; failing
# one, the first cell with the fewest candidates), the digit with the most candidate places in the
# cell's row, box and column-inside-its-band first (the lowest on a tie), then the others in increasing
# order. Every tentative placement is a guess.
_ROWS = [[9 * r + c for c in range(9)] for r in range(9)]
_COLS = [[9 * r + c for r in range(9)] for c in range(9)]
_BOXES = [[9 * (3 * (b // 3) + i) + 3 * (b % 3) + j for i in range(3) for j in range(3)] for b in range(9)]
_UNITS = _ROWS + _COLS + _BOXES
_PEERS = [sorted({j for unit in _UNITS if i in unit for j in unit} - {i}) for i in range(81)]
# Three-cell segments [block][i][j]: in band b, row i of the band x box j; in stack s, band i x column j.
_BAND_SEGMENTS = [[[_ROWS[3 * b + i][3 * j : 3 * j + 3] for j in range(3)] for i in range(3)] for b in range(3)]
_STACK_SEGMENTS = [[[_COLS[3 * s + j][3 * i : 3 * i + 3] for j in range(3)] for i in range(3)] for s in range(3)]
_PERMUTATIONS = [{(i, p[i]) for i in range(3)} for p in itertools.permutations(range(3))]


def _propagate(cand: list[int]) -> bool:
    """Apply the rules to `cand` (bit d: digit d + 1 possible) until nothing changes; False on a contradiction."""
    while True:
        changed = False
        for i in range(81):
            if cand[i] == 0:
                return False
            if cand[i] & (cand[i] - 1) == 0:  # one candidate: no peer may keep it
                for j in _PEERS[i]:
                    if cand[j] & cand[i]:
                        cand[j] &= ~cand[i]
                        changed = True
        for unit in _UNITS:
            for bit in (1 << d for d in range(9)):
                where = [i for i in unit if cand[i] & bit]
                if not where:
                    return False
                if len(where) == 1 and cand[where[0]] != bit:
                    cand[where[0]] = bit
                    changed = True
        for segments in _BAND_SEGMENTS + _STACK_SEGMENTS:
            for bit in (1 << d for d in range(9)):
                pattern = {(i, j) for i in range(3) for j in range(3) if any(cand[k] & bit for k in segments[i][j])}
                allowed = set().union(*(p for p in _PERMUTATIONS if p <= pattern))
                if not allowed:
                    return False
                for i, j in pattern - allowed:
                    for k in segments[i][j]:
                        cand[k] &= ~bit
                    changed = True
        if not changed:
            return True


def _choose_cell(cand: list[int]) -> int | None:
    sizes = [bin(v).count("1") for v in cand]
    open_cells = [i for i in range(81) if sizes[i] > 1]
    if not open_cells:
        return None
    best, best_score = None, -1
    for i in open_cells:
        if sizes[i] == 2:
            r, c = divmod(i, 9)
            seen = set(_ROWS[r]) | set(_COLS[c]) | set(_BOXES[3 * (r // 3) + c // 3])
            score = sum(sizes[j] > 1 for j in seen)
            if score > best_score:
                best, best_score = i, score
    return best if best is not None else min(open_cells, key=lambda i: sizes[i])


def _digit_order(cand: list[int], i: int) -> list[int]:
    r, c = divmod(i, 9)
    band = set(range(27 * (r // 3), 27 * (r // 3) + 27))
    near = set(_ROWS[r]) | set(_BOXES[3 * (r // 3) + c // 3]) | (set(_COLS[c]) & band)
    digits = [d for d in range(9) if cand[i] >> d & 1]
    places = [sum(cand[j] >> d & 1 for j in near) for d in digits]
    first = digits[places.index(max(places))]
    return [first] + [d for d in digits if d != first]


def python_guesses(grid, limit: int = 2) -> tuple[int, int]:
    """(solutions counted up to `limit`, guesses made), searching as described above."""
    found = {"solutions": 0, "guesses": 0}

    def search(cand: list[int]) -> None:
        if not _propagate(cand):
            return
        cell = _choose_cell(cand)
        if cell is None:
            found["solutions"] += 1
            return
        for d in _digit_order(cand, cell):
            if found["solutions"] >= limit:
                return
            found["guesses"] += 1
            child = list(cand)
            child[cell] = 1 << d
            search(child)

    search([(1 << 9) - 1 if v == 0 else 1 << (int(v) - 1) for v in np.asarray(grid).reshape(81)])
    return found["solutions"], found["guesses"]


# A 28-clue puzzle: clearing its given at index 10 (the 9 in row 2) leaves exactly two solutions.
UNIQUE = "006000080490000000003004009000065820804302060070089000001700630000006000700900402"


@pytest.mark.parametrize("name", sorted(FAMOUS))
def test_famous_hard_puzzles_match_the_reference(name):
    puzzle = digits(FAMOUS[name])
    count, expected = reference_solve(puzzle)
    assert count == 1
    assert count_solutions(puzzle) == 1
    np.testing.assert_array_equal(solve(puzzle), expected)
    assert rate_difficulty(puzzle) == python_guesses(puzzle)[1]


def test_solve_keeps_the_shape_and_gives_int8():
    grid = digits(WIKIPEDIA_PUZZLE).reshape(9, 9)
    solution = solve(grid)
    assert solution.shape == (9, 9) and solution.dtype == np.int8
    assert "".join(map(str, solution.reshape(-1))) == WIKIPEDIA_SOLUTION
    assert solve(grid.reshape(81)).shape == (81,)


def test_removing_one_clue_can_give_exactly_two_solutions():
    puzzle = digits(UNIQUE)
    assert reference_count(puzzle) == 1 and count_solutions(puzzle) == 1
    opened = puzzle.copy()
    opened[10] = 0
    assert reference_count(opened, limit=3) == 2
    assert count_solutions(opened, limit=2) == 2
    assert count_solutions(opened, limit=10) == 2


def test_contradictory_givens_have_no_solution():
    clash = digits(WIKIPEDIA_PUZZLE)
    clash[2] = 3  # a second 3 in row 1
    assert count_solutions(clash) == 0 and solve(clash) is None
    # No two givens clash, yet row 1's digits 1..8 and a 9 below leave the top-right cell no digit.
    dead_end = np.zeros(81, dtype=np.int64)
    dead_end[:8] = np.arange(1, 9)
    dead_end[9 * 4 + 8] = 9
    assert reference_count(dead_end) == 0
    assert count_solutions(dead_end) == 0 and solve(dead_end) is None


def test_limits_and_trivial_grids():
    assert count_solutions(np.zeros(81, dtype=np.int8)) == 2
    assert count_solutions(np.zeros((9, 9), dtype=np.int8), limit=7) == 7
    full = digits(WIKIPEDIA_SOLUTION)
    assert count_solutions(full) == 1 and rate_difficulty(full) == 0
    np.testing.assert_array_equal(solve(full), full)
    assert rate_difficulty(digits(WIKIPEDIA_PUZZLE)) == 0  # singles alone solve it
    assert rate_difficulty(digits(FAMOUS["platinum_blonde"])) > 10


def test_guess_counts_match_the_python_search_with_several_solutions_or_none():
    """Partial grids: a search that stops at the second solution, or proves there is none, counts alike."""
    rng = np.random.default_rng(1)
    _, solutions = generate_batch([1] * 16, seed=5, workers=1)
    grids = []
    for solution in solutions:
        grid = solution.astype(np.int64).copy()
        grid[rng.random(81) < rng.uniform(0.5, 0.85)] = 0
        if rng.random() < 0.3:
            grid[rng.integers(81)] = rng.integers(1, 10)
        grids.append(grid)
    found = [python_guesses(grid) for grid in grids]
    assert {count for count, _ in found} == {0, 1, 2} and max(g for _, g in found) > 0
    assert [count_solutions(grid) for grid in grids] == [count for count, _ in found]
    assert [rate_difficulty(grid) for grid in grids] == [guesses for _, guesses in found]


def test_bad_grids_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        solve(np.zeros(80))
    with pytest.raises(ValueError, match="0 \\(empty\\) or the digits 1..9"):
        count_solutions(np.full(81, 10))


def test_random_partial_grids_match_the_reference_count():
    """Many solutions, one or none: blank random cells of full grids, add a random wrong digit to some."""
    rng = np.random.default_rng(0)
    _, solutions = generate_batch([1] * 40, seed=3, workers=1)
    grids = []
    for solution in solutions:
        grid = solution.astype(np.int64).copy()
        grid[rng.random(81) < rng.uniform(0.35, 0.8)] = 0
        if rng.random() < 0.3:
            grid[rng.integers(81)] = rng.integers(1, 10)
        grids.append(grid)
    expected = [reference_count(g, limit=2) for g in grids]
    assert set(expected) == {0, 1, 2}
    assert [count_solutions(g) for g in grids] == expected
    np.testing.assert_array_equal(count_solutions_batch(np.array(grids)), expected)
    for grid, solution, count in zip(grids, solve_batch(np.array(grids)), expected):
        if count:
            assert reference_count(solution, limit=1) == 1 and np.all(solution[grid > 0] == grid[grid > 0])
        else:
            assert not solution.any()
