"""The hard-puzzle checkpoint (docs/model-card-hard.md): the default model in bf16, and it solves mined puzzles of
the held-out test set on a CPU-only machine through `evaluate`, with no wrong board halted on."""

import json
import pathlib
import subprocess
import sys

import pytest
from safetensors import safe_open

from src.hrm.checkpoint import load_model
from src.hrm.sudoku import count_solutions_batch
from src.hrm.sudoku.files import read_puzzle_file

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "checkpoints" / "hrm-act-sudoku-hard.safetensors"
TEST_SET = REPO / "data" / "sudoku-mined-test.csv"


def test_hard_checkpoint_is_the_default_model_in_bf16():
    assert CHECKPOINT.stat().st_size <= 15 * 2**20
    with safe_open(str(CHECKPOINT), framework="pt") as handle:
        assert {handle.get_slice(key).get_dtype() for key in handle.keys()} == {"BF16"}
    model = load_model(CHECKPOINT)
    assert sum(p.numel() for p in model.parameters()) == 6_822_146
    assert model.config.to_dict() == type(model.config)().to_dict()


def test_the_test_set_is_2000_unique_puzzles_in_two_rating_buckets():
    puzzles = read_puzzle_file(TEST_SET)
    assert len(puzzles.puzzles) == 2000
    assert ((puzzles.ratings >= 10) & (puzzles.ratings <= 49)).sum() == 1000 and (puzzles.ratings >= 50).sum() == 1000
    assert (count_solutions_batch(puzzles.puzzles, 2) == 1).all()  # each has exactly one solution
    assert len({p.tobytes() for p in puzzles.solutions}) == 2000  # one puzzle per solution grid


@pytest.mark.slow  # over 10 s on 2 cores
def test_evaluate_solves_most_of_a_sample_of_the_mined_test_set():
    command = [sys.executable, "-m", "src.hrm.evaluate", str(CHECKPOINT), "--data", str(TEST_SET), "--limit", "24",
               "--rating-buckets", "10,50", "--device", "cpu", "--json"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["num_puzzles"] == 24
    # 86% of the 10-49 bucket on the whole set (the model card); the first 24 rows are all of that bucket.
    assert report["act_solved"] >= 16
    assert report["q_halted_solved"] == report["q_halted"]
