"""A trainer killed with SIGKILL at random moments, checkpoint writes included, and resumed each time: every
checkpoint in the folder loads, metrics.jsonl has each step once, and the end is the run that was never killed."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from src.hrm.checkpoint import load_model, load_training_state, training_state_path

REPO = Path(__file__).resolve().parents[2]
STEPS = 40
RUN = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
       "--batch-size", "8", "--workers", "1", "--device", "cpu", "--log-format", "none", "--seed", "3",
       "--max-steps", str(STEPS), "--checkpoint-every", "1", "--keep-every", "10"]  # fmt: skip
TIMING = ("wait_fraction", "puzzles_per_second", "elapsed")


def start(out: Path, *extra) -> subprocess.Popen:
    command = [sys.executable, "-m", "src.hrm.train", "--out-dir", str(out), *RUN, *extra]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def logged_steps(out: Path) -> list[int]:
    path = out / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["step"] for line in lines if line.endswith("}")]


def wait_until(process: subprocess.Popen, ready, timeout: float = 60) -> bool:
    """Poll (every half millisecond, to catch a checkpoint being written) until `ready()` or the process ends."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.0005)
    return False


def writing(out: Path) -> bool:
    """A checkpoint or its training state is being written: its temporary file exists."""
    return any(name.startswith(".checkpoint-") and name.endswith(".tmp") for name in os.listdir(out))


@pytest.mark.slow  # over 10 s on 2 cores
def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_run(tmp_path):
    rng = random.Random(7)
    out, reference = tmp_path / "killed", tmp_path / "reference"
    uninterrupted = start(reference)  # alongside: the same seed never stopped
    kills, during_writes = 0, 0
    for attempt in range(5):
        process = start(out, *(["--resume"] if attempt else []))
        begin = len(logged_steps(out)) if attempt else 0
        # Let it train (the first attempt until its first checkpoint is complete, or there is nothing to resume).
        wait_until(process, lambda: len(logged_steps(out)) >= begin + 2 and any(out.glob("*.state.safetensors")))
        if attempt % 2 == 0:
            caught = wait_until(process, lambda: writing(out), timeout=10)
        else:
            time.sleep(rng.uniform(0, 0.3))
            caught = writing(out)
        if process.poll() is not None:  # it reached the last step first
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills, during_writes = kills + 1, during_writes + caught
    final = start(out, "--resume")
    assert final.wait(timeout=300) == 0, final.stderr.read()
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read()
    assert kills >= 3 and during_writes >= 1, (kills, during_writes)

    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.name for p in reference.iterdir())  # retention included; no temporary file left
    for path in out.glob("checkpoint-*.safetensors"):
        if not path.name.endswith(".state.safetensors"):
            load_model(path)

    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))
    expected = [json.loads(line) for line in (reference / "metrics.jsonl").read_text().splitlines()]
    strip = lambda rs: [{k: v for k, v in r.items() if k not in TIMING} for r in rs]  # noqa: E731
    assert strip(records) == strip(expected)

    last = f"checkpoint-{STEPS}.safetensors"
    weights, reference_weights = load_model(out / last).state_dict(), load_model(reference / last).state_dict()
    assert all(torch.equal(weights[name], reference_weights[name]) for name in reference_weights)
    state, _ = load_training_state(training_state_path(out / last))
    reference_state, _ = load_training_state(training_state_path(reference / last))
    assert state.keys() == reference_state.keys()
    assert all(torch.equal(state[name], reference_state[name]) for name in reference_state)
