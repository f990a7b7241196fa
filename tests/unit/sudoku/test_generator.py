"""The generator: the original algorithm step for step, seeding, clue statistics, uniqueness."""

import numpy as np
import pytest
from test_reference import is_valid_grid, reference_count

from src.hrm.sudoku import Difficulty, generate_batch, generate_sudoku

_MASK = (1 << 64) - 1
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    return z ^ (z >> 31)


class SplitMix:
    """splitmix64 as documented in the engine's prng module, written out in plain Python."""

    def __init__(self, seed: int, stream: int, index: int):
        h = _mix64((seed + _GOLDEN) & _MASK)
        h = _mix64(h ^ ((stream * _MIX1 + _GOLDEN) & _MASK))
        self.state = _mix64((h + index * _GOLDEN) & _MASK)

    def below(self, n: int) -> int:
        self.state = (self.state + _GOLDEN) & _MASK
        return _mix64(self.state) % n

    def shuffled(self, values) -> list:
        values = list(values)
        for i in range(len(values) - 1, 0, -1):
            j = self.below(i + 1)
            values[i], values[j] = values[j], values[i]
        return values


def original_generate(difficulty: Difficulty, seed: int, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The original generator, recursive fill and removal loop as described, on the plain-Python counter."""
    rng = SplitMix(seed, 0, index)
    grid = [0] * 81

    def allowed(cell: int, d: int) -> bool:
        r, c = divmod(cell, 9)
        top, left = 3 * (r // 3), 3 * (c // 3)
        return (
            all(grid[r * 9 + k] != d for k in range(9))
            and all(grid[k * 9 + c] != d for k in range(9))
            and all(grid[(top + i) * 9 + left + j] != d for i in range(3) for j in range(3))
        )

    def fill(cell: int) -> bool:
        if cell == 81:
            return True
        for d in rng.shuffled(range(1, 10)):
            if allowed(cell, d):
                grid[cell] = d
                if fill(cell + 1):
                    return True
                grid[cell] = 0
        return False

    assert fill(0)
    solution = list(grid)
    puzzle = list(grid)
    cells = rng.shuffled(range(81))
    lower, upper = difficulty.clue_range
    clues, i = 81, 0

    def try_blank(cell: int) -> int:
        value, puzzle[cell] = puzzle[cell], 0
        if reference_count(puzzle, limit=2) == 1:
            return 1
        puzzle[cell] = value
        return 0

    while clues > upper and i < 81:
        clues -= try_blank(cells[i])
        i += 1
    while clues > lower and i < 81:
        clues -= try_blank(cells[i])
        i += 1
    return np.array(puzzle).reshape(9, 9), np.array(solution).reshape(9, 9)


def check_puzzles(puzzles, solutions, difficulties) -> np.ndarray:
    """Each puzzle has exactly one solution (plain-Python counter), keeps its solution's digits, has
    a clue count in its range (extreme ones stop where no clue can go, above 17); returns the clue counts."""
    clue_counts = []
    for puzzle, solution, difficulty in zip(puzzles, solutions, difficulties):
        puzzle = np.asarray(puzzle).reshape(81)
        solution = np.asarray(solution).reshape(81)
        lower, upper = Difficulty(difficulty).clue_range
        clues = int(np.count_nonzero(puzzle))
        assert lower <= clues <= (upper if difficulty != Difficulty.EXTREME else 32)
        assert reference_count(puzzle, limit=2) == 1
        assert is_valid_grid(solution)
        assert np.all(puzzle[puzzle > 0] == solution[puzzle > 0])
        clue_counts.append(clues)
    return np.array(clue_counts)


@pytest.mark.parametrize(
    "difficulty, seed",
    [
        (Difficulty.VERY_EASY, 1),
        (Difficulty.EASY, 2),
        (Difficulty.MEDIUM, 3),
        (Difficulty.HARD, 4),
        (Difficulty.EXTREME, 5),
    ],
)
def test_matches_the_original_algorithm_on_the_same_random_stream(difficulty, seed):
    puzzle, solution = generate_sudoku(difficulty, seed)
    expected_puzzle, expected_solution = original_generate(difficulty, seed)
    np.testing.assert_array_equal(solution, expected_solution)
    np.testing.assert_array_equal(puzzle, expected_puzzle)


def test_generate_batch_rows_are_stream_indices():
    puzzles, solutions = generate_batch([Difficulty.EASY, Difficulty.HARD], seed=9, workers=1)
    expected_puzzle, expected_solution = original_generate(Difficulty.HARD, 9, index=1)
    np.testing.assert_array_equal(puzzles[1].reshape(9, 9), expected_puzzle)
    np.testing.assert_array_equal(solutions[1].reshape(9, 9), expected_solution)


def test_output_types_and_seeding():
    puzzle, solution = generate_sudoku(Difficulty.MEDIUM, 123)
    assert puzzle.shape == solution.shape == (9, 9)
    assert puzzle.dtype == solution.dtype == np.int8
    check_puzzles([puzzle], [solution], [Difficulty.MEDIUM])
    again, _ = generate_sudoku(Difficulty.MEDIUM, 123)
    np.testing.assert_array_equal(puzzle, again)
    other, _ = generate_sudoku(Difficulty.MEDIUM, 124)
    assert not np.array_equal(puzzle, other)
    from_generator = generate_sudoku("medium", np.random.default_rng(5))[0]
    np.testing.assert_array_equal(from_generator, generate_sudoku(Difficulty.MEDIUM, np.random.default_rng(5))[0])
    unseeded, unseeded_solution = generate_sudoku(Difficulty.EASY)
    check_puzzles([unseeded], [unseeded_solution], [Difficulty.EASY])
    first, first_solution = generate_batch([Difficulty.MEDIUM], seed=123)
    np.testing.assert_array_equal(first[0], puzzle.reshape(81))
    np.testing.assert_array_equal(first_solution[0], solution.reshape(81))
    np.testing.assert_array_equal(generate_batch(["medium"], seed=123)[0], first)
    with pytest.raises(ValueError, match="0..4"):
        generate_batch([5], seed=1)
    with pytest.raises(ValueError, match="very-easy, easy, medium, hard, extreme"):
        generate_batch(["impossible"], seed=1)


def test_generate_batch_does_not_depend_on_the_worker_count():
    difficulties = [int(d) for d in Difficulty] * 12
    one = generate_batch(difficulties, seed=77, workers=1)
    two = generate_batch(difficulties, seed=77, workers=2)
    default = generate_batch(np.array(difficulties), seed=77)
    for a, b, c in zip(one, two, default):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert one[0].shape == (60, 81) and one[0].dtype == np.int8
    check_puzzles(*one, difficulties)


def test_clue_count_statistics_follow_the_original():
    """300 puzzles of each difficulty, every one checked with the plain-Python counter."""
    n = 300
    for difficulty in Difficulty:
        puzzles, solutions = generate_batch([difficulty] * n, seed=int(difficulty) + 100)
        clues = check_puzzles(puzzles, solutions, [difficulty] * n)
        lower, upper = difficulty.clue_range
        if difficulty == Difficulty.EXTREME:
            # Minimal puzzles: the lower bound 17 is out of reach, removal stops when no clue can go.
            assert np.mean((clues >= 21) & (clues <= 29)) > 0.95
            assert 23 <= clues.mean() <= 26
        else:
            assert np.mean(clues == lower) > 0.95
            assert clues.max() <= upper
        # The filled grids are random: every digit shows up in the top-left cell.
        assert set(solutions[:, 0].tolist()) == set(range(1, 10))
