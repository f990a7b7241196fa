"""Data-parallel training under torchrun: two gloo processes on the CPU train a tiny model as one run.

The ranks hold the same weights, which are not those of one process alone (they share gradients); only rank 0
writes the model checkpoints, metrics and console; a resumed two-rank run is the uninterrupted one; a time limit
stops both ranks after the same step; a run resumes only with its number of ranks; one rank under torchrun is the
one-process run, bit for bit.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu", "--seed", "3", "--checkpoint-every", "3"]  # fmt: skip
TIMING = ("wait_fraction", "puzzles_per_second", "elapsed")


def start(out: Path, ranks: int | None, keep: Path | None = None, *extra) -> subprocess.Popen:
    """The trainer to step 6 (or as `extra` says): plain python (`ranks` None), or torchrun with that many ranks."""
    args = ["--out-dir", str(out), "--max-steps", "6", "--log-format", "jsonl", *TINY, *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread per process on a small machine, and alike in every run
    if ranks is None:
        command = [sys.executable, "-m", "src.hrm.train", *args]
    else:
        keep.mkdir(parents=True, exist_ok=True)
        env["KEEP_WEIGHTS"] = str(keep)
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
                   str(WORKER), *args]  # fmt: skip
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def records(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path) if path.suffix == ".pt" else load_file(path)


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two ranks for 6 steps; the same stopped at step 3 and resumed; two ranks stopped by time; one plain process;
    one rank under torchrun."""
    root = tmp_path_factory.mktemp("ddp")
    started = {
        "whole": start(root / "whole", 2, root / "keep-whole"),
        "cut": start(root / "cut", 2, root / "keep-cut", "--max-steps", "3"),
        "timed": start(root / "timed", 2, root / "keep-timed", "--max-steps", "100000", "--max-minutes", "0.03"),
        "alone": start(root / "alone", None),
        "one": start(root / "one", 1, root / "keep-one"),
    }
    done = {name: finish(process) for name, process in started.items()}
    done["resumed"] = finish(start(root / "cut", 2, root / "keep-cut", "--resume"))
    return root, done


@pytest.mark.slow  # over 10 s on 2 cores
def test_both_ranks_hold_the_same_weights_and_not_those_of_one_process(runs):
    root, _ = runs
    rank0, rank1 = weights(root / "keep-whole" / "rank0.pt"), weights(root / "keep-whole" / "rank1.pt")
    assert same(rank0, rank1)
    saved = weights(root / "whole" / "checkpoint-6.safetensors")
    assert same({k: rank0[k] for k in saved}, saved)
    # Rank 0 draws the rows one process draws; without the other rank's gradients it would end where that one does.
    alone = weights(root / "alone" / "checkpoint-6.safetensors")
    assert not any(torch.equal(alone[k], saved[k]) for k in alone if k.endswith("weight") and "norm" not in k)


def test_only_rank_0_writes_the_model_the_metrics_and_the_console(runs):
    root, done = runs
    assert sorted(p.name for p in (root / "whole").iterdir()) == [
        ".lock", "checkpoint-1.safetensors", "checkpoint-3.safetensors", "checkpoint-6.rank1.state.safetensors",
        "checkpoint-6.safetensors", "checkpoint-6.state.safetensors", "metrics.jsonl",
    ]  # fmt: skip
    logged = records(root / "whole")
    assert [r["step"] for r in logged] == [1, 2, 3, 4, 5, 6]
    assert logged[0]["puzzles"] == 16  # the run's rows: both ranks' initial batches
    stdout = done["whole"].stdout.splitlines()
    assert sum(line.startswith("training into") for line in stdout) == 1
    assert "batch 8 per rank, 2 ranks" in stdout[0]
    assert [json.loads(line)["step"] for line in stdout if line.startswith("{")] == [1, 2, 3, 4, 5, 6]


def test_a_resumed_two_rank_run_is_the_uninterrupted_one(runs):
    root, done = runs
    assert [json.loads(line)["step"] for line in done["resumed"].stdout.splitlines() if line.startswith("{")] == [
        4, 5, 6
    ]  # fmt: skip
    assert records(root / "cut") == records(root / "whole")
    assert same(weights(root / "cut" / "checkpoint-6.safetensors"), weights(root / "whole" / "checkpoint-6.safetensors"))
    assert same(weights(root / "keep-cut" / "rank1.pt"), weights(root / "keep-whole" / "rank1.pt"))
    for state in ("checkpoint-6.state.safetensors", "checkpoint-6.rank1.state.safetensors"):
        assert same(weights(root / "cut" / state), weights(root / "whole" / state)), state


def test_a_time_limit_that_each_rank_meets_at_its_own_moment_stops_both_after_the_same_step(runs):
    root, _ = runs
    out = root / "timed"
    last = records(out)[-1]["step"]
    assert last > 1 and [r["step"] for r in records(out)] == list(range(1, last + 1))
    for state in (f"checkpoint-{last}.state.safetensors", f"checkpoint-{last}.rank1.state.safetensors"):
        assert (out / state).is_file()  # the final checkpoint, saved by both ranks at the same step
    assert same(weights(root / "keep-timed" / "rank0.pt"), weights(root / "keep-timed" / "rank1.pt"))


def test_a_run_resumes_only_with_its_number_of_ranks(runs, tmp_path):
    root, _ = runs
    shutil.copytree(root / "whole", tmp_path / "run")
    (tmp_path / "run" / ".lock").unlink()
    command = [sys.executable, "-m", "src.hrm.train", "--out-dir", str(tmp_path / "run"), "--resume", "--max-steps", "9"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'run'}: trained by 2 ranks, resumed by 1; a run keeps its number of ranks"
        " (torchrun --nproc-per-node 2)"
    ]
    assert records(tmp_path / "run") == records(root / "whole")  # nothing written


def test_one_rank_under_torchrun_is_the_one_process_run(runs):
    root, _ = runs
    assert records(root / "one") == records(root / "alone")
    for name in ("checkpoint-6.safetensors", "checkpoint-6.state.safetensors"):
        assert same(weights(root / "one" / name), weights(root / "alone" / name)), name


@pytest.mark.slow  # over 10 s on 2 cores
def test_with_dropout_each_rank_draws_its_own_masks_and_resumes_exactly(tmp_path):
    flags = ("--dropout", "0.2")
    finish(start(tmp_path / "whole", 2, tmp_path / "keep-whole", *flags))
    finish(start(tmp_path / "cut", 2, tmp_path / "keep-cut", *flags, "--max-steps", "3"))
    finish(start(tmp_path / "cut", 2, tmp_path / "keep-cut", "--resume"))
    states = [weights(tmp_path / "whole" / f"checkpoint-6{rank}.state.safetensors") for rank in ("", ".rank1")]
    # The generator dropout draws from: after the same number of draws, the ranks' states differ only if their
    # streams do (with one seed for both they drew the same masks).
    assert not torch.equal(states[0]["rng.torch"], states[1]["rng.torch"])
    assert records(tmp_path / "cut") == records(tmp_path / "whole")
    assert same(weights(tmp_path / "cut" / "checkpoint-6.safetensors"), weights(tmp_path / "whole" / "checkpoint-6.safetensors"))
