"""The hard-puzzle checkpoint (docs/model-card-hard.md): the default model in bf16, and it solves mined puzzles of
the held-out test set on a CPU-only machine through `evaluate`, with no wrong board halted on."""

import pathlib

import numpy as np
import pytest
from shipped_checkpoints import assert_default_model_in_bf16, evaluate_on_cpu

from src.hrm.sudoku import count_solutions_batch
from src.hrm.sudoku.files import read_puzzle_file

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "checkpoints" / "hrm-act-sudoku-hard.safetensors"
TEST_SET = REPO / "data" / "sudoku-mined-test.csv"
FEW_GIVENS_SET = REPO / "data" / "sudoku-few-givens-test.csv"


def test_hard_checkpoint_is_the_default_model_in_bf16():
    assert_default_model_in_bf16(CHECKPOINT)


def test_the_test_set_is_2000_unique_puzzles_in_two_rating_buckets():
    puzzles = read_puzzle_file(TEST_SET)
    assert len(puzzles.puzzles) == 2000
    assert ((puzzles.ratings >= 10) & (puzzles.ratings <= 49)).sum() == 1000 and (puzzles.ratings >= 50).sum() == 1000
    assert (count_solutions_batch(puzzles.puzzles, 2) == 1).all()  # each has exactly one solution
    assert len({p.tobytes() for p in puzzles.solutions}) == 2000  # one puzzle per solution grid


def test_the_few_givens_set_is_1000_minimal_puzzles_like_published_collections():
    """recipes/few_givens_test_set.sh: minimal, 19-23 givens, one per grid, the stated counts per rating bucket,
    and no grid shared with the mined test set."""
    found = read_puzzle_file(FEW_GIVENS_SET)
    puzzles, ratings = found.puzzles, found.ratings
    givens = (puzzles != 0).sum(1)
    assert len(puzzles) == 1000 and givens.min() >= 19 and givens.max() <= 23
    assert [int(((low <= ratings) & (ratings < high)).sum()) for low, high in
            ((0, 1), (1, 10), (10, 20), (20, 50), (50, 10**9))] == [100, 200, 250, 187, 263]
    assert (count_solutions_batch(puzzles, 2) == 1).all()
    rows, cells = np.nonzero(puzzles)  # minimal: each given blanked on its own leaves several solutions
    fewer = puzzles[rows].copy()
    fewer[np.arange(len(rows)), cells] = 0
    assert (count_solutions_batch(fewer, 2) == 2).all()
    grids = {s.tobytes() for s in found.solutions}
    assert len(grids) == 1000 and not grids & {s.tobytes() for s in read_puzzle_file(TEST_SET).solutions}


@pytest.mark.slow  # over 10 s on 2 cores
def test_evaluate_solves_most_of_a_sample_of_the_mined_test_set():
    report = evaluate_on_cpu(CHECKPOINT, TEST_SET, "--limit", "12", "--rating-buckets", "10,50")
    assert report["num_puzzles"] == 12
    # 86% of the 10-49 bucket on the whole set (the model card); the first 12 rows are all of that bucket (11 solved
    # on one CPU: the bound leaves room for float32 differences between machines).
    assert report["act_solved"] >= 8
    assert report["q_halted_solved"] == report["q_halted"]
