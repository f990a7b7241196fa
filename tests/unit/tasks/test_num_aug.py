"""--num-aug K: K fixed augmented copies of each dataset row per epoch, the same copies every epoch, each mapping back
to its row; refused without augmentation and for other tasks."""

import numpy as np
import pytest

from src.hrm.sudoku import generate_batch
from src.hrm.sudoku.augment import copy_keys, random_transforms
from src.hrm.sudoku.files import write_puzzle_csv
from src.hrm.tasks import TaskError, build_task
from src.hrm.tasks.sudoku_dataset import DatasetStream

PUZZLES, SOLUTIONS = generate_batch([2] * 6, seed=11, workers=1)
ROWS, K, SEED = len(PUZZLES), 3, 4


def epoch(stream: DatasetStream, e: int):
    indices = np.arange(e * len(stream), (e + 1) * len(stream))
    return stream.rows_at(indices)


def copies_by_row(puzzles, solutions, ids) -> dict[int, list[bytes]]:
    found = {}
    for puzzle, solution, row in zip(puzzles, solutions, ids - 1):
        found.setdefault(int(row), []).append(puzzle.tobytes() + solution.tobytes())
    return found


def test_each_row_appears_k_times_an_epoch_as_its_k_fixed_copies():
    stream = DatasetStream(PUZZLES, SOLUTIONS, SEED, augment=True, copies=K)
    assert len(stream) == K * ROWS
    first, second = epoch(stream, 0), epoch(stream, 1)
    assert not (first[2] == second[2]).all()  # each epoch in its own order
    for puzzles, solutions, ids in (first, second):
        found = copies_by_row(puzzles, solutions, ids)
        assert sorted(found) == list(range(ROWS))
        for row, grids in found.items():
            # Copy j of row i: the transformation keyed by (seed, i, j), the same in both epochs.
            transforms = random_transforms(copy_keys(SEED, np.full(K, row), np.arange(K)))
            expected = [p.tobytes() + s.tobytes() for p, s in zip(
                transforms.apply(np.repeat(PUZZLES[row : row + 1], K, 0)),
                transforms.apply(np.repeat(SOLUTIONS[row : row + 1], K, 0)),
            )]  # fmt: skip
            assert len(set(expected)) == K, row  # K different views
            assert sorted(grids) == sorted(expected), row


def test_the_inverse_of_each_copys_transformation_gives_back_its_row():
    stream = DatasetStream(PUZZLES, SOLUTIONS, SEED, augment=True, copies=K)
    indices = np.arange(2 * len(stream))
    epochs, positions = np.divmod(indices, len(stream))
    entries = np.array([stream.order(int(e))[p] for e, p in zip(epochs, positions)])
    copy, row = np.divmod(entries, ROWS)
    puzzles, solutions, ids = stream.rows_at(indices)
    assert (ids - 1 == row).all()
    back = random_transforms(copy_keys(SEED, row, copy)).inverse()
    assert (back.apply(puzzles) == PUZZLES[row]).all() and (back.apply(solutions) == SOLUTIONS[row]).all()
    assert not (puzzles == PUZZLES[row]).all()  # they were transformed


def test_a_copy_is_the_same_whatever_the_number_of_copies_and_where_the_stream_is_cut():
    few = DatasetStream(PUZZLES, SOLUTIONS, SEED, augment=True, copies=2)
    many = DatasetStream(PUZZLES, SOLUTIONS, SEED, augment=True, copies=5)
    a, b = copies_by_row(*epoch(few, 0)), copies_by_row(*epoch(many, 0))
    assert all(set(a[row]) <= set(b[row]) for row in range(ROWS))
    whole = few.take(0, 3 * len(few))
    cut = DatasetStream(PUZZLES, SOLUTIONS, SEED, augment=True, copies=2)
    parts = [cut.take(0, n) for n in (5, 1, 13, 3 * len(few) - 19)]
    for got, want in zip((np.concatenate(p) for p in zip(*parts)), whole):
        assert (got == want).all()


def test_num_aug_needs_augmentation_and_a_dataset(tmp_path):
    path = tmp_path / "data.csv"
    write_puzzle_csv(path, PUZZLES, SOLUTIONS, np.zeros(ROWS, dtype=int), "generated")
    with pytest.raises(TaskError, match="--num-aug 4 fixes augmented copies of each row; drop --no-augment"):
        build_task({"name": "sudoku-dataset", "data": str(path), "augment": False, "num_aug": 4})
    with pytest.raises(TaskError, match="unknown setting 'num_aug'"):
        build_task({"name": "sudoku", "num_aug": 4})
    task = build_task({"name": "sudoku-dataset", "data": str(path), "num_aug": 2**26 // ROWS + 1})
    with pytest.raises(TaskError, match="lower --num-aug or --train-size"):
        task.rows(0, 8, "cpu", 1)
