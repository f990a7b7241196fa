"""Flags checked where they act, not only by their exit code: precision in training, evaluation and inference,
the mining chain's share of a solution grid, a path-finding evaluation's shortest path, and the task flags (the
curriculum's, --augment, the board's and the maze's) in the rows their Task draws."""

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


def fresh_task(argv):
    """The Task a fresh run of these train flags builds, as train builds it (one Task, its config complete)."""
    from src.hrm.train_args import fresh_run_config, parse_args

    config, task = fresh_run_config(parse_args(["--out-dir", "unused", *argv]))
    assert task.settings() == config.task
    return task


def test_the_sudoku_curriculum_flags_reach_its_curriculum():
    import torch

    task = fresh_task(["--curriculum-window", "7", "--graduation-min-steps", "9", "--graduation-threshold", "0.5"])
    rows = task.rows(0, 8, torch.device("cpu"), 1)
    try:
        assert rows.curriculum.window.numel() == 7 and rows.curriculum.config.min_steps == 9
        assert rows.curriculum.config.threshold == 0.5
    finally:
        rows.close()
    assert fresh_task(["--curriculum-window", "7"]).config.curriculum.min_steps == 7  # the original waits a window


def test_augment_off_gives_the_files_rows_as_they_are(tmp_path):
    import torch

    from src.hrm.sudoku import generate_batch
    from src.hrm.sudoku.files import write_puzzle_csv

    puzzles, solutions = generate_batch([2] * 6, seed=3, workers=1)
    write_puzzle_csv(tmp_path / "train.csv", puzzles, solutions, [0] * 6, "test")
    seen = {}
    for flag in ("--augment", "--no-augment"):
        task = fresh_task(["--task", "sudoku-dataset", "--data", str(tmp_path / "train.csv"), flag])
        rows = task.rows(0, 6, torch.device("cpu"), 1)
        seen[flag] = {row.tobytes() for row in rows.take(6)[0]}
    originals = {row.tobytes() for row in puzzles}
    assert seen["--no-augment"] == originals and seen["--augment"] != originals


def test_the_board_flags_reach_the_generated_boards():
    from src.hrm.boardpath import WALL

    task = fresh_task(["--task", "boardpath", "--board-size", "7", "--wall-prob", "0.0"])
    boards, _ = task.boards(20, 1)
    assert task.seq_len == 49 and boards.shape == (20, 49) and not (boards == WALL).any()


def test_the_maze_flags_reach_the_generated_mazes():
    from src.hrm.maze import WALL

    task = fresh_task(["--task", "maze", "--maze-size", "9", "--wall-min", "0.0", "--wall-max", "0.0",
                       "--min-path", "4"])  # fmt: skip
    mazes, answers = task.mazes(20, 1)
    assert task.seq_len == 81 and not (mazes == WALL).any() and ((answers != mazes).sum(1) + 1 >= 4).all()
    walled = fresh_task(["--task", "maze", "--maze-size", "9", "--wall-min", "0.5", "--wall-max", "0.5",
                         "--min-path", "0"]).mazes(200, 1)[0]  # fmt: skip
    assert (walled == WALL).mean() == pytest.approx(0.5, abs=0.05)
    assert fresh_task(["--task", "maze"]).config.min_path == 111  # Maze-Hard's filter is the 30x30 default
    assert fresh_task(["--task", "maze", "--maze-size", "9"]).config.min_path == 0
    staged = fresh_task(["--task", "maze", "--maze-size", "9", "--min-path", "6", "--path-curriculum", "2,4"])
    assert staged.stages == [(9, 1, 2), (9, 3, 4), (9, 6, None)]
    regions = fresh_task(["--task", "maze", "--maze-size", "9", "--min-path", "6", "--region-curriculum", "4,6"])
    assert regions.stages == [(4, 0, None), (6, 0, None), (9, 6, None)]
