"""The bitmask solver against the independent plain-Python counter."""

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

# A 28-clue puzzle: clearing its given at index 10 (the 9 in row 2) leaves exactly two solutions.
UNIQUE = "006000080490000000003004009000065820804302060070089000001700630000006000700900402"


@pytest.mark.parametrize("name", sorted(FAMOUS))
def test_famous_hard_puzzles_match_the_reference(name):
    puzzle = digits(FAMOUS[name])
    count, expected = reference_solve(puzzle)
    assert count == 1
    assert count_solutions(puzzle) == 1
    np.testing.assert_array_equal(solve(puzzle), expected)
    assert rate_difficulty(puzzle) >= 0


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
