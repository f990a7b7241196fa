"""`train`'s run folder as a user meets it: retention flags, a folder that cannot be used, a folder in use."""

import os
import pathlib
import subprocess
import sys

from src.hrm.training.folder import lock_run_folder

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu", "--log-format", "none"]  # fmt: skip


def train(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "src.hrm.train", *map(str, args)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def names(out):
    return sorted((p.name for p in out.glob("checkpoint-*")), key=lambda n: (int(n.split("-")[1].split(".")[0]), n))


def test_retention_keeps_the_newest_and_the_multiples_and_may_change_on_resume(tmp_path):
    out = tmp_path / "run"
    first = train("--out-dir", out, "--max-steps", 9, "--checkpoint-every", 1, "--keep-checkpoints", 2,
                  "--keep-every", 4, *TINY)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert names(out) == ["checkpoint-4.safetensors", "checkpoint-8.safetensors",
                          "checkpoint-9.safetensors", "checkpoint-9.state.safetensors"]  # fmt: skip
    resumed = train("--out-dir", out, "--resume", "--max-steps", 11, "--checkpoint-every", 1,
                    "--keep-checkpoints", "all", "--log-format", "none", "--device", "cpu")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert names(out) == [f"checkpoint-{s}.safetensors" for s in (4, 8, 9, 10, 11)] + ["checkpoint-11.state.safetensors"]


def test_a_folder_that_cannot_be_created_or_is_in_use_is_one_line(tmp_path):
    impossible = train("--out-dir", "/proc/hrm-run", "--max-steps", 1, *TINY)
    assert impossible.returncode == 2
    assert impossible.stderr == "error: /proc/hrm-run: cannot create the run folder (No such file or directory)\n"

    out = tmp_path / "run"
    held = lock_run_folder(out)  # this process plays the first trainer
    try:
        second = train("--out-dir", out, "--max-steps", 1, *TINY)
    finally:
        held.close()
    assert second.returncode == 2
    assert second.stderr == f"error: {out}: in use by another trainer (process {os.getpid()})\n"
    assert not list(out.glob("checkpoint-*"))
