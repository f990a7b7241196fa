"""The Sudoku dataset task: loading (errors name file and line), rating filters, subsets, epochs, augmentation."""

import sys

import numpy as np
import pytest
import torch

from src.hrm.sudoku import count_solutions_batch, generate_batch, rate_difficulty
from src.hrm.sudoku.augment import random_transforms, row_keys
from src.hrm.sudoku.files import write_puzzle_csv
from src.hrm.tasks import TaskError, build_task
from src.hrm.tasks.sudoku_dataset import DatasetStream, SudokuDatasetConfig, SudokuDatasetTask, load_puzzles

PUZZLES, SOLUTIONS = generate_batch([2] * 10 + [4] * 20, seed=5, workers=1)
RATINGS = np.array([rate_difficulty(p) for p in PUZZLES])


def rated_csv(tmp_path, name="data.csv"):
    path = tmp_path / name
    write_puzzle_csv(path, PUZZLES, SOLUTIONS, RATINGS, "generated")
    return path


def task(path, **settings) -> SudokuDatasetTask:
    return build_task({"name": "sudoku-dataset", "data": str(path), **settings})


def test_loads_every_row_with_its_solution(tmp_path):
    puzzles, solutions = task(rated_csv(tmp_path)).load(seed=0)
    assert (puzzles == PUZZLES).all() and (solutions == SOLUTIONS).all()


def test_rating_filters_keep_exactly_the_rows_in_range(tmp_path):
    low, high = int(np.median(RATINGS)), int(RATINGS.max())
    puzzles, _ = task(rated_csv(tmp_path), min_rating=low, max_rating=high).load(seed=0)
    expected = PUZZLES[(RATINGS >= low) & (RATINGS <= high)]
    assert len(puzzles) == len(expected) > 0 and (puzzles == expected).all()
    with pytest.raises(TaskError, match=r"no row is rated within \[1000, None\]"):
        task(rated_csv(tmp_path), min_rating=1000).load(seed=0)
    with pytest.raises(TaskError, match="is above --max-rating"):
        task(rated_csv(tmp_path), min_rating=5, max_rating=4)


def test_rating_filter_needs_a_rating_column(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("".join(f"{''.join(map(str, p))}\n" for p in PUZZLES[:3]))
    with pytest.raises(TaskError, match="need a rating column, and this file has none"):
        task(path, min_rating=1).load(seed=0)


def test_train_size_is_a_seeded_subset(tmp_path):
    path = rated_csv(tmp_path)
    a, _ = task(path, train_size=7).load(seed=3)
    b, _ = task(path, train_size=7).load(seed=3)
    c, _ = task(path, train_size=7).load(seed=4)
    assert len(a) == 7 and (a == b).all() and not (a == c).all()
    assert all(any((row == p).all() for p in PUZZLES) for row in a)  # rows of the file, not new ones
    with pytest.raises(TaskError, match="--train-size 31 is more than the 30 rows"):
        task(path, train_size=31).load(seed=0)


def test_rows_without_solutions_are_solved_and_ambiguous_ones_refused(tmp_path):
    path = tmp_path / "puzzles.txt"
    path.write_text("# no answers\n" + "".join(f"{''.join(map(str, p))}\n" for p in PUZZLES[:4]))
    puzzles, solutions = task(path).load(seed=0)
    assert (solutions == SOLUTIONS[:4]).all()
    several = PUZZLES[0].copy()
    several[np.flatnonzero(several)[:12]] = 0  # twelve givens fewer: more than one solution
    assert count_solutions_batch(several[None], limit=2)[0] == 2
    path.write_text(path.read_text() + "".join(map(str, several)) + "\n")
    with pytest.raises(TaskError, match=r"puzzles.txt:6: the puzzle has several solutions"):
        task(path).load(seed=0)


@pytest.mark.parametrize(
    "row,message",
    [
        ("x,{p},{s},3,extra", "expected 4 CSV fields like the header, found 5"),
        ("x,{p},{s},many", "the rating 'many' is not a non-negative whole number"),
        ("x,{p80},{s},3", "the puzzle has 80 characters, expected 81"),
        ("x,{p},{bad},3", "the solution disagrees with the puzzle's given"),
    ],
)
def test_a_bad_row_is_one_error_naming_file_and_line(tmp_path, row, message):
    path = rated_csv(tmp_path)
    p, s = "".join(map(str, PUZZLES[0])).replace("0", "."), "".join(map(str, SOLUTIONS[0]))
    given = int(np.flatnonzero(PUZZLES[0])[0])
    bad = s[:given] + str(SOLUTIONS[0][given] % 9 + 1) + s[given + 1 :]
    lines = path.read_text().splitlines()
    lines.insert(5, row.format(p=p, s=s, p80=p[:80], bad=bad))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaskError) as error:
        task(path).load(seed=0)
    assert str(error.value).startswith(f"{path}:6: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(TaskError, match="puzzle file not found"):
        task(tmp_path / "nope.csv").load(seed=0)
    (tmp_path / "empty.csv").write_text("source,question,answer,rating\n")
    with pytest.raises(TaskError, match="holds no puzzles"):
        task(tmp_path / "empty.csv").load(seed=0)
    with pytest.raises(TaskError, match="needs --data"):
        build_task({"name": "sudoku-dataset"})


def test_hf_data_without_huggingface_hub_says_how_to_get_the_file(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails, as where it is not installed
    with pytest.raises(TaskError) as error:
        load_puzzles("hf://sapientinc/sudoku-extreme")
    message = str(error.value)
    assert "pip install huggingface_hub" in message and "https://huggingface.co/datasets/sapientinc/sudoku-extreme" in message
    assert "train.csv" in message and "\n" not in message
    with pytest.raises(TaskError, match="expected hf://<owner>/<dataset>"):
        load_puzzles("hf://sapientinc")


def test_each_epoch_visits_every_row_once_in_a_seeded_order():
    stream = DatasetStream(PUZZLES, SOLUTIONS, seed=9, augment=False)
    epochs = [stream.take(0, len(PUZZLES))[0] for _ in range(3)]
    index = {p.tobytes(): i for i, p in enumerate(PUZZLES)}
    orders = [[index[row.tobytes()] for row in epoch] for epoch in epochs]
    assert all(sorted(order) == list(range(len(PUZZLES))) for order in orders)
    assert orders[0] != orders[1] != orders[2]
    again = DatasetStream(PUZZLES, SOLUTIONS, seed=9, augment=False)
    assert [index[r.tobytes()] for r in again.take(0, len(PUZZLES))[0]] == orders[0]


def test_the_stream_does_not_depend_on_how_it_is_cut():
    whole = DatasetStream(PUZZLES, SOLUTIONS, seed=1, augment=True).take(0, 95)
    cut = DatasetStream(PUZZLES, SOLUTIONS, seed=1, augment=True)
    parts = [cut.take(0, n) for n in (1, 30, 7, 57)]
    assert (np.concatenate([p[0] for p in parts]) == whole[0]).all()
    assert (np.concatenate([p[1] for p in parts]) == whole[1]).all()
    resumed = DatasetStream(PUZZLES, SOLUTIONS, seed=1, augment=True, taken=38)
    assert (resumed.take(0, 57)[0] == whole[0][38:]).all()


def test_augmented_rows_are_the_dataset_rows_under_their_own_transformation():
    indices = np.arange(60)
    plain = DatasetStream(PUZZLES, SOLUTIONS, seed=2, augment=False).rows_at(indices)
    augmented = DatasetStream(PUZZLES, SOLUTIONS, seed=2, augment=True).rows_at(indices)
    transform = random_transforms(row_keys(2, indices))
    assert (transform.apply(plain[0]) == augmented[0]).all() and (transform.apply(plain[1]) == augmented[1]).all()
    assert (transform.inverse().apply(augmented[1]) == plain[1]).all()
    assert not (augmented[0] == plain[0]).all()
    # Still puzzles with one solution, which is the augmented answer.
    assert (count_solutions_batch(augmented[0], limit=2) == 1).all()


def test_the_device_queue_hands_out_the_stream_in_order(tmp_path):
    source = task(rated_csv(tmp_path), augment=False).rows(seed=0, batch_size=4, device=torch.device("cpu"), workers=1)
    source.start()
    everyone = torch.ones(4, dtype=torch.bool)
    drawn = [source.draw(everyone, torch.Generator())[0] for _ in range(2)]
    expected = DatasetStream(PUZZLES, SOLUTIONS, seed=0, augment=False).take(0, 8)[0]
    assert (torch.cat(drawn).numpy() == expected).all()
    source.observe(2, {"consumed": 8.0})
    assert source.epoch() == pytest.approx(8 / 30) and source.record({})["epoch"] == pytest.approx(8 / 30, abs=1e-6)
