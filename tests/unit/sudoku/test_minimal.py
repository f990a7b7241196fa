"""Minimal few-given puzzles: each checked with the plain-Python counter (unique, its solution, every given
needed), the givens and rating ranges, one grid per puzzle, the same output for any number of threads."""

import numpy as np
import pytest
from test_reference import reference_solve

from src.hrm.sudoku import rate_difficulty
from src.hrm.sudoku.minimal import mine_minimal

FEW = dict(num=6, min_givens=20, max_givens=23, seed=3, steps=300, target_rating=20)


@pytest.fixture(scope="module")
def mined():
    return mine_minimal(**FEW, workers=1)


def test_each_puzzle_is_unique_minimal_in_range_and_rated(mined):
    puzzles, solutions, ratings, sources = mined
    assert len(puzzles) == FEW["num"] and puzzles.dtype == solutions.dtype == np.int8
    for puzzle, solution, rating, source in zip(puzzles, solutions, ratings, sources):
        count, found = reference_solve(puzzle)
        assert count == 1 and found.tolist() == solution.tolist()
        given = np.flatnonzero(puzzle)
        assert FEW["min_givens"] - 3 <= len(given) <= FEW["max_givens"]  # a chain may go below its target
        assert source == f"minimal-{len(given)}"
        for cell in given:  # minimal: without any one given there are several solutions
            fewer = puzzle.copy()
            fewer[cell] = 0
            assert reference_solve(fewer)[0] == 2, cell
        assert rate_difficulty(puzzle) == rating
    assert len({s.tobytes() for s in solutions}) == len(solutions)  # one puzzle per solution grid


def test_the_output_depends_on_the_arguments_not_the_threads(mined):
    again = mine_minimal(**FEW, workers=2)
    for a, b in zip(mined, again):
        assert np.array_equal(a, b)
    other = mine_minimal(**{**FEW, "seed": 4}, workers=1)
    assert not np.array_equal(other[0], mined[0])


def test_a_rating_range_is_kept_and_bad_ranges_are_refused():
    puzzles, _, ratings, _ = mine_minimal(num=3, min_givens=21, max_givens=24, min_rating=4, max_rating=30,
                                          seed=5, steps=300, workers=1)
    assert len(puzzles) == 3 and ((4 <= ratings) & (ratings <= 30)).all()
    with pytest.raises(ValueError, match="no 16-given Sudoku"):
        mine_minimal(num=1, min_givens=16, max_givens=20)
    with pytest.raises(ValueError, match="min_rating"):
        mine_minimal(num=1, min_rating=9, max_rating=3)
