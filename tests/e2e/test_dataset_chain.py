"""The dataset workflow as a user runs it: make_dataset -> train --task sudoku-dataset -> evaluate --data -> infer."""

import json
import pathlib
import subprocess
import sys

import pytest

from src.hrm.sudoku import count_solutions_batch, rate_difficulty
from src.hrm.sudoku.files import read_puzzle_file

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu"]  # fmt: skip


def command(module: str, *args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", f"src.hrm.{module}", *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{module}: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.slow  # over 10 s on 2 cores
def test_make_dataset_train_evaluate_infer(tmp_path):
    train_csv, test_csv, run = tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "run"
    command("make_dataset", "--out", train_csv, "--num", 40, "--difficulty", "hard", "--seed", 1, "--workers", 1)
    command("make_dataset", "--out", test_csv, "--num", 12, "--difficulty", "extreme", "--seed", 2, "--workers", 1)
    rows = read_puzzle_file(test_csv)
    assert len(rows) == 12 and (count_solutions_batch(rows.puzzles) == 1).all()
    assert rows.ratings.tolist() == [rate_difficulty(p) for p in rows.puzzles]

    command("train", "--task", "sudoku-dataset", "--data", train_csv, "--out-dir", run, "--max-steps", 4,
            "--log-format", "none", *TINY)
    checkpoint = run / "checkpoint-4.safetensors"

    report = json.loads(command("evaluate", checkpoint, "--data", test_csv, "--json", "--device", "cpu").stdout)
    assert report["task"] == "sudoku-dataset" and report["num_puzzles"] == 12
    assert sum(bucket["num_puzzles"] for bucket in report["per_rating"].values()) == 12

    puzzle = "".join(str(v) for v in rows.puzzles[0])
    shown = json.loads(command("infer", checkpoint, "--puzzle", puzzle, "--json", "--device", "cpu").stdout)
    assert shown["task"] == "sudoku-dataset" and shown["puzzle"] == puzzle
    assert shown["solution"] == "".join(str(v) for v in rows.solutions[0])
    assert 1 <= len(shown["segments"]) <= 16
