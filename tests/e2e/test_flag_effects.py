"""Flags checked where they act, not only by their exit code: precision in training, evaluation and inference,
the mining chain's share of a solution grid, and a path-finding evaluation's shortest path."""

import json
import pathlib

import numpy as np
import pytest

from src.hrm import evaluate, infer, make_dataset, train
from src.hrm.sudoku.files import read_puzzle_file

REPO = pathlib.Path(__file__).resolve().parents[2]
SUDOKU = str(REPO / "checkpoints/hrm-act-sudoku.safetensors")
BOARDPATH = str(REPO / "checkpoints/hrm-act-boardpath.safetensors")
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu", "--log-format", "none", "--max-steps", "2"]  # fmt: skip


def losses(out) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_train_precision_bf16_autocasts_the_steps_and_fp32_is_the_cpu_default(tmp_path):
    runs = {}
    for name, extra in (("default", []), ("fp32", ["--precision", "fp32"]), ("bf16", ["--precision", "bf16"])):
        assert train.main([*TINY, *extra, "--out-dir", str(tmp_path / name)]) == 0
        runs[name] = losses(tmp_path / name)
    assert runs["default"] == runs["fp32"]  # the same process and machine: bit for bit
    assert runs["bf16"] != runs["fp32"]  # bfloat16 matmuls round differently...
    assert runs["bf16"] == pytest.approx(runs["fp32"], rel=0.05)  # ...but compute the same loss


def json_out(capsys, main, args) -> dict:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_and_infer_precision_reach_the_model(capsys):
    """bf16 autocast changes the Q logits in their last bits; fp32 on the CPU is the default."""
    base = [SUDOKU, "--device", "cpu", "--difficulty", "hard", "--num", "4", "--segments", "2"]
    reports = {p: json_out(capsys, evaluate.main, [*base, "--precision", p]) for p in ("auto", "fp32", "bf16")}
    assert [reports[p]["precision"] for p in ("auto", "fp32", "bf16")] == ["fp32", "fp32", "bf16 autocast"]
    runs = {p: json_out(capsys, infer.main, [SUDOKU, "hard", "--seed", "3", "--device", "cpu", "--precision", p])
            for p in ("auto", "fp32", "bf16")}  # fmt: skip
    q = {p: [s["q_halt"] for s in r["segments"]] for p, r in runs.items()}
    assert [runs[p]["precision"] for p in ("auto", "fp32", "bf16")] == ["fp32", "fp32", "bf16"]
    assert q["auto"] == q["fp32"] and q["bf16"] != q["fp32"][: len(q["bf16"])]


def test_make_dataset_per_chain_bounds_how_many_puzzles_share_a_solution_grid(tmp_path):
    shared = {}
    for per_chain in (1, 4):
        out = tmp_path / f"{per_chain}.csv"
        args = ["--num", "16", "--min-rating", "5", "--seed", "3", "--workers", "2", "--per-chain", str(per_chain)]
        assert make_dataset.main([*args, "--out", str(out)]) == 0
        _, counts = np.unique(read_puzzle_file(out).solutions, axis=0, return_counts=True)
        shared[per_chain] = counts.max()
        assert counts.max() <= per_chain
    assert shared[1] == 1 and shared[4] > 1  # the flag is what keeps grids apart


def test_evaluate_min_path_draws_only_boards_whose_shortest_path_is_that_long():
    from src.hrm.boardpath import PATH
    from src.hrm.checkpoint import read_metadata
    from src.hrm.tasks import task_from_metadata

    task = task_from_metadata(read_metadata(BOARDPATH))
    lengths = {}
    for min_path in (0, 14):
        args = evaluate.parse_args([BOARDPATH, "--num", "12", "--seed", "1", "--min-path", str(min_path)])
        answers = task.evaluation_rows(args).targets
        lengths[min_path] = (np.asarray(answers) == PATH).sum(axis=1) + 1  # steps: the path's cells and one
    assert lengths[14].min() >= 14 > lengths[0].min()
