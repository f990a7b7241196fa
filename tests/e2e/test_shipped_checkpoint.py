"""The trained checkpoint in checkpoints/ works on a CPU-only machine, through the commands the README gives."""

import json
import pathlib
import re
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from src.hrm.checkpoint import load_model

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "checkpoints" / "hrm-act-sudoku.safetensors"


def run(tool: str, *args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", f"src.hrm.{tool}", *map(str, args)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_checkpoint_is_the_default_model_in_bf16_without_training_state():
    assert CHECKPOINT.stat().st_size <= 15 * 2**20
    with safe_open(str(CHECKPOINT), framework="pt") as handle:
        dtypes = {handle.get_slice(key).get_dtype() for key in handle.keys()}
        keys = list(handle.keys())
    assert dtypes == {"BF16"}
    assert not any("optimizer" in key or "exp_avg" in key for key in keys)
    model = load_model(CHECKPOINT)
    assert sum(p.numel() for p in model.parameters()) == 6_822_146
    assert model.config.to_dict() == type(model.config)().to_dict()


def test_readme_main_command_solves_a_medium_puzzle():
    result = run("infer", CHECKPOINT.relative_to(REPO), "medium", "--seed", 3, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "Segment 1" in result.stdout
    scores = re.findall(r"^\((\d+) / (\d+)\)$", result.stdout, flags=re.MULTILINE)
    correct, blanks = scores[-1]
    assert correct == blanks
    assert "Halting." in result.stdout


@pytest.mark.slow  # over 10 s on 2 cores
def test_evaluate_on_cpu_solves_easy_and_medium_puzzles():
    result = run("evaluate", CHECKPOINT, "--difficulty", "easy,medium", "--num", 8, "--seed", 2026,
                 "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["num_puzzles"] == 16
    # The model solves 99.7% / 99.9% of these difficulties (docs/model-card.md); allow one miss.
    assert report["act_solved"] >= 15
    assert report["q_halt_precision"] >= 0.9


def test_given_puzzle_is_solved_validly():
    puzzle = "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3.."
    result = run("infer", CHECKPOINT, "--puzzle", puzzle, "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    final = report["segments"][-1]["board"]
    assert all(p in ".0" or p == f for p, f in zip(puzzle, final))
    assert report["solved"] is True


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_checkpoint_loads_on_cuda():
    assert next(load_model(CHECKPOINT, device="cuda").parameters()).is_cuda
