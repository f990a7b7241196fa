"""Sudoku augmentation: every transformation keeps the number of solutions and maps the answer along."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_reference import WIKIPEDIA_PUZZLE, WIKIPEDIA_SOLUTION, digits, is_valid_grid, reference_solve

from src.hrm.sudoku import generate_batch
from src.hrm.sudoku.augment import identity, random_transforms, row_keys

PUZZLES, SOLUTIONS = generate_batch([1, 2, 3, 4, 4, 4], seed=11, workers=1)
# Two solutions: the Wikipedia puzzle with its givens of digit 5 and 3 in rows 1-2 dropped (checked below).
AMBIGUOUS = digits(WIKIPEDIA_PUZZLE)
AMBIGUOUS[[0, 1, 9]] = 0
KEYS = st.integers(min_value=0, max_value=2**64 - 1)


def test_ambiguous_fixture_has_several_solutions():
    assert reference_solve(AMBIGUOUS, limit=10)[0] >= 2


@settings(max_examples=60, deadline=None)
@given(key=KEYS, row=st.integers(0, len(PUZZLES) - 1))
def test_an_augmented_puzzle_has_one_solution_and_it_is_the_transformed_answer(key, row):
    transform = random_transforms([key])
    puzzle, solution = transform.apply(PUZZLES[row])[0], transform.apply(SOLUTIONS[row])[0]
    count, found = reference_solve(puzzle, limit=2)  # the plain-Python counter, nothing shared with the engine
    assert count == 1
    assert found.tolist() == solution.tolist()
    assert is_valid_grid(solution)
    assert ((puzzle == 0) == (PUZZLES[row][transform.cells[0]] == 0)).all()  # blanks move with their cells


@settings(max_examples=25, deadline=None)
@given(key=KEYS)
def test_the_number_of_solutions_is_kept(key):
    transform = random_transforms([key])
    assert reference_solve(transform.apply(AMBIGUOUS)[0], limit=10)[0] == reference_solve(AMBIGUOUS, limit=10)[0]


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(KEYS, min_size=1, max_size=8))
def test_inverse_undoes_the_transformation(keys):
    transform = random_transforms(keys)
    grids = np.repeat(digits(WIKIPEDIA_SOLUTION)[None], len(keys), axis=0)
    assert (transform.inverse().apply(transform.apply(grids)) == grids).all()


def test_the_same_key_gives_the_same_transformation_in_any_batch():
    keys = row_keys(5, np.arange(100))
    whole = random_transforms(keys)
    parts = [random_transforms(keys[i : i + 7]) for i in range(0, 100, 7)]
    assert (np.concatenate([p.cells for p in parts]) == whole.cells).all()
    assert (np.concatenate([p.digit_map for p in parts]) == whole.digit_map).all()
    assert not (row_keys(6, np.arange(100)) == keys).any()


def test_transformations_cover_the_group():
    """Over many draws: every digit goes everywhere, transposes happen half the time, every row lands everywhere."""
    transform = random_transforms(row_keys(0, np.arange(4000)))
    assert transform.digit_map[:, 0].max() == 0
    for digit in range(1, 10):
        assert set(transform.digit_map[:, digit].tolist()) == set(range(1, 10))
    grid = np.arange(81).reshape(9, 9)
    # Where old cell 0 (row 0, column 0) ends up: any cell of the grid.
    destination = (transform.cells == 0).argmax(axis=1)
    assert set(destination.tolist()) == set(range(81))
    # A transpose maps old row 0 into a column: its cells share a new column, not a new row.
    old_row_zero = np.isin(transform.cells, grid[0])
    columns_hit = np.array([len(set(np.flatnonzero(r) % 9)) for r in old_row_zero])
    assert 0.45 < (columns_hit == 1).mean() < 0.55


def test_identity_changes_nothing():
    assert (identity(len(PUZZLES)).apply(PUZZLES) == PUZZLES).all()
