"""`python -m src.hrm.train` run as a user runs it: outputs, resume, Ctrl-C, and one-line errors for bad input."""

import json
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu"]  # fmt: skip
SWIFT_LINE = re.compile(
    r"^Output \[\d+\.\d{4} \d\.\d{4}\] \| Q-ACT \[\d+\.\d{4} \d\.\d{4}\] \| Puzzles \[\d+\] \| Curriculum Level \[\d\]$"
)


def train(*args, timeout=300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "src.hrm.train", *map(str, args)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def steps_logged(out_dir):
    return [json.loads(line)["step"] for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def assert_one_line_error(result, *words):
    """The whole of stderr is one line saying "error:" and naming the problem."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "error: " in lines[0] and all(word in lines[0] for word in words), result.stderr


def test_train_then_resume(tmp_path):
    out = tmp_path / "run"
    first = train("--out-dir", out, "--max-steps", 3, "--checkpoint-every", 2, "--log-format", "swift", *TINY)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    lines = first.stdout.splitlines()
    assert [line for line in lines if line.startswith("Step ")] == ["Step 1", "Step 2", "Step 3"]
    assert sum(bool(SWIFT_LINE.match(line)) for line in lines) == 3, first.stdout
    assert "Puzzles [8]" in lines[lines.index("Step 1") + 1]  # the initial batch
    assert sorted(p.name for p in out.glob("checkpoint-*")) == [
        "checkpoint-1.safetensors", "checkpoint-2.safetensors",
        "checkpoint-3.safetensors", "checkpoint-3.state.safetensors",
    ]  # fmt: skip
    assert steps_logged(out) == [1, 2, 3]

    resumed = train("--out-dir", out, "--resume", "--max-steps", 5, "--log-format", "jsonl", "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(line) for line in resumed.stdout.splitlines() if line.startswith("{")]
    assert [r["step"] for r in records] == [4, 5]
    assert steps_logged(out) == [1, 2, 3, 4, 5]
    assert (out / "checkpoint-5.state.safetensors").is_file()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_saves_a_final_checkpoint(tmp_path, stop):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "src.hrm.train", "--out-dir", str(out), "--log-format", "none", *TINY]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (out / "metrics.jsonl").exists() and len(steps_logged(out)) >= 3:
                break
            time.sleep(0.2)
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    last = steps_logged(out)[-1]
    assert last >= 3 and (out / f"checkpoint-{last}.state.safetensors").is_file()


@pytest.mark.parametrize(
    "args,words",
    [
        (["--batch-size", "0"], ["--batch-size", "positive"]),
        (["--graduation-threshold", "1.5"], ["--graduation-threshold"]),
        (["--hidden-size", "30", "--num-heads", "4"], ["--hidden-size", "heads"]),
        (["--optimizer", "sgd"], ["--optimizer"]),
    ],
)
def test_bad_flags_are_argparse_errors(tmp_path, args, words):
    result = train("--out-dir", tmp_path / "run", "--max-steps", 1, *args)
    assert result.returncode == 2
    assert_one_line_error(result, *words)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").glob("checkpoint-*"))


@pytest.mark.slow  # over 10 s on 2 cores
def test_bad_resume_directories_give_one_line(tmp_path):
    missing = train("--out-dir", tmp_path / "nothing", "--resume")
    assert missing.returncode == 2
    assert_one_line_error(missing, "nothing")

    out = tmp_path / "run"
    assert train("--out-dir", out, "--max-steps", 1, "--log-format", "none", *TINY).returncode == 0
    again = train("--out-dir", out, "--max-steps", 2, "--log-format", "none", *TINY)
    assert again.returncode == 2
    assert_one_line_error(again, "--resume")

    changed = train("--out-dir", out, "--resume", "--max-steps", 2, "--hidden-size", "64")
    assert changed.returncode == 2
    assert_one_line_error(changed, "--hidden-size", "64", "32")

    (out / "checkpoint-1.safetensors").write_bytes(b"not a safetensors file")
    corrupt = train("--out-dir", out, "--resume", "--max-steps", 2)
    assert corrupt.returncode == 2
    assert_one_line_error(corrupt, "checkpoint-1.safetensors")


def rated_csv(path, count=24):
    from src.hrm.sudoku import generate_batch
    from src.hrm.sudoku.files import write_puzzle_csv

    puzzles, solutions = generate_batch([3] * count, seed=1, workers=1)
    write_puzzle_csv(path, puzzles, solutions, range(count), "generated-hard")
    return path


@pytest.mark.slow  # over 10 s on 2 cores
def test_dataset_task_trains_resumes_and_reports_epochs(tmp_path):
    data, out = rated_csv(tmp_path / "train.csv"), tmp_path / "run"
    first = train("--task", "sudoku-dataset", "--data", data, "--min-rating", 4, "--out-dir", out, "--max-steps", 2,
                  "--log-format", "swift", *TINY)
    assert first.returncode == 0, first.stderr
    assert "task sudoku-dataset" in first.stdout and "| Epoch [" in first.stdout
    resumed = train("--out-dir", out, "--resume", "--max-epochs", 1, "--log-format", "jsonl", "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(line) for line in resumed.stdout.splitlines() if line.startswith("{")]
    assert records[0]["step"] == 3 and records[-1]["epoch"] >= 1 > records[-2]["epoch"]
    changed = train("--out-dir", out, "--resume", "--task", "sudoku", "--max-steps", 50)
    assert changed.returncode == 2
    assert_one_line_error(changed, "--task sudoku", "sudoku-dataset")


@pytest.mark.parametrize(
    "args,words",
    [
        (["--task", "sudoku-dataset"], ["needs --data"]),
        (["--data", "x.csv"], ["--data applies to --task sudoku-dataset"]),
        (["--max-epochs", "2"], ["--max-epochs", "dataset"]),
        (["--task", "sudoku-dataset", "--data", "missing.csv"], ["missing.csv", "not found"]),
        (["--task", "sudoku-dataset", "--data", "{bad}"], ["bad.csv:3:", "80 characters"]),
        (["--task", "sudoku-dataset", "--data", "{good}", "--max-rating", "2", "--min-rating", "3"], ["above"]),
        (["--task", "sudoku-dataset", "--data", "{good}", "--train-size", "99"], ["--train-size 99", "24 rows"]),
    ],
)
def test_bad_dataset_settings_are_one_line_and_leave_no_run(tmp_path, args, words):
    good = rated_csv(tmp_path / "good.csv")
    lines = good.read_text().splitlines()
    question = lines[2].split(",")[1]
    (tmp_path / "bad.csv").write_text("\n".join([*lines[:2], lines[2].replace(question, question[:80]), *lines[3:]]))
    args = [a.format(good=good, bad=tmp_path / "bad.csv") for a in args]
    result = train("--out-dir", tmp_path / "run", "--max-steps", 1, *args, *TINY)
    assert result.returncode == 2
    assert_one_line_error(result, *words)
    assert not (tmp_path / "run").exists()


def test_a_variant_sets_the_size_and_explicit_flags_override_it(tmp_path):
    from src.hrm.checkpoint import load_model

    out = tmp_path / "run"
    result = train("--variant", "tiny", "--num-layers", "1", "--out-dir", out, "--max-steps", 1, "--log-format", "none",
                   "--batch-size", "8", "--workers", "1", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    config = load_model(out / "checkpoint-1.safetensors").config
    assert (config.transformers.hidden_size, config.transformers.num_heads) == (128, 4)  # tiny's
    assert config.transformers.num_layers == 1 and config.act.halt_max_steps == 8  # the flag, tiny's limit
    again = train("--out-dir", out, "--resume", "--variant", "micro", "--max-steps", 2)
    assert again.returncode == 2
    assert_one_line_error(again, "--variant", "keeps its model")
