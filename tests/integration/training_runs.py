"""What the tiny training tests share: a run trained step by step on the CPU (straight, or stopped and resumed), a
small dataset file, and the train command's exit code and one-line errors."""

from pathlib import Path

import numpy as np
import pytest
import torch

from src.hrm.sudoku import generate_batch
from src.hrm.sudoku.files import write_puzzle_csv
from src.hrm.train import main
from src.hrm.training.config import RunOptions
from src.hrm.training.loop import train
from src.hrm.training.run import new_run, resume_run

CPU = torch.device("cpu")

# Recorded floats (losses, accuracies, weight sums) are bit-identical on the machine that recorded them; another
# CPU's vector units round in other places, and the difference grows over a run's steps. Counters are exact.
RECORDED_FLOAT_TOLERANCE = {"rel": 1e-5, "abs": 1e-6}
TIMING = ("wait_fraction", "puzzles_per_second", "elapsed")


def count_fraction_tolerance(total: int, flips: int = 1) -> dict:
    """For a recorded fraction of `total` cells or rows (an accuracy): another CPU may rank a logit pair within
    rounding of a tie the other way, moving a cell (measured: one cell of 1,296 at one step of 40). Allow `flips`
    of them; what such a fraction feeds (halting, the curriculum's stage) is compared exactly."""
    return {"rel": RECORDED_FLOAT_TOLERANCE["rel"], "abs": flips / total}


def assert_records_match(found: list[dict], expected: list[dict], tolerance=RECORDED_FLOAT_TOLERANCE) -> None:
    """metrics.jsonl records, step by step and key by key: ints and bools exactly, floats within `tolerance`;
    timing keys are not compared."""
    assert len(found) == len(expected), (len(found), len(expected))
    for want, got in zip(expected, found):
        want = {k: v for k, v in want.items() if k not in TIMING}
        got = {k: v for k, v in got.items() if k not in TIMING}
        assert got.keys() == want.keys(), (want.get("step"), sorted(got.keys() ^ want.keys()))
        for key, value in want.items():
            if isinstance(value, float) and not isinstance(got[key], bool):
                assert got[key] == pytest.approx(value, **tolerance), (want.get("step"), key, got[key], value)
            else:
                assert got[key] == value and type(got[key]) is type(value), (want.get("step"), key, got[key], value)


def run_steps(config, out_dir, resume=False, **limits):
    """A fresh run of `config` (or the one in out_dir, resumed) trained to the RunOptions `limits`, checkpointing
    every 4 steps; returned closed."""
    run = resume_run(out_dir, CPU, workers=1) if resume else new_run(config, CPU, workers=1)
    try:
        train(run, RunOptions(out_dir=out_dir, checkpoint_every=4, log_format="none", **limits))
    finally:
        run.close()
    return run


def write_dataset(folder: Path, count: int) -> Path:
    """train.csv in `folder`: `count` generated hard puzzles, rated 0, 1, 2, ..."""
    puzzles, solutions = generate_batch([3] * count, seed=8, workers=1)
    path = folder / "train.csv"
    write_puzzle_csv(path, puzzles, solutions, np.arange(count), "generated-hard")
    return path


def straight_and_resumed(config, folder: Path, steps: int, stop: int) -> tuple[Path, Path]:
    """The same run twice, to `steps`: straight through, and stopped at `stop` then resumed; their folders."""
    straight, split = folder / "straight", folder / "split"
    run_steps(config, straight, max_steps=steps)
    run_steps(config, split, max_steps=stop)
    run_steps(None, split, resume=True, max_steps=steps)
    return straight, split


def train_exit_code(argv) -> int:
    """`python -m src.hrm.train argv`'s exit code, argparse's errors (SystemExit) included."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def one_line_error(capsys, argv, code=2) -> str:
    """Train with argv, which must exit with `code` and print one line on stderr; that line."""
    capsys.readouterr()
    assert train_exit_code(argv) == code
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err
