"""What a command does with paths that are not files it may read or replace, sizes past what memory holds and a
damaged run log: one line on stderr and an exit code, nothing replaced, nothing read without end."""

import json
import os
import pathlib
import stat

import pytest

from src.hrm import analyze, evaluate, infer, make_dataset, train
from src.hrm.evaluation.report import MAX_ROWS
from src.hrm.sudoku.files import read_puzzle_file
from src.hrm.tasks.boardpath import MAX_BOARD_FILE

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECKPOINT = str(REPO / "checkpoints/hrm-act-sudoku.safetensors")
BOARDPATH = str(REPO / "checkpoints/hrm-act-boardpath.safetensors")
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu", "--log-format", "none"]  # fmt: skip


def exit_code(main, args) -> int:
    """The command's exit code, whether it returns it or argparse exits with it."""
    try:
        return main(args)
    except SystemExit as stop:
        return stop.code


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("main,args", [
    (make_dataset.main, ["--num", "2", "--out"]),
    (infer.main, [CHECKPOINT, "easy", "--seed", "1", "--device", "cpu", "--gif"]),
    (infer.main, [CHECKPOINT, "easy", "--seed", "1", "--device", "cpu", "--html"]),
], ids=["make_dataset --out", "infer --gif", "infer --html"])  # fmt: skip
def test_a_device_or_a_pipe_as_the_output_is_refused_and_left_alone(tmp_path, capsys, main, args):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for target in ("/dev/null", str(pipe)):
        before = os.stat(target)
        assert exit_code(main, [*args, target]) == 2
        assert "not a regular file" in one_line(capsys)
        after = os.stat(target)
        assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (before.st_ino, stat.S_IFMT(before.st_mode))


@pytest.mark.parametrize("main,args", [
    (make_dataset.main, ["--num", "2", "--out", ""]),
    (train.main, ["--max-steps", "1", *TINY, "--out-dir", ""]),
    (analyze.main, [CHECKPOINT, "--num", "2", "--device", "cpu", "--out", ""]),
    (evaluate.main, [CHECKPOINT, "--difficulty", "easy", "--num", "2", "--views-curve", "1", "--curve-out", ""]),
    (infer.main, [CHECKPOINT, "easy", "--seed", "1", "--gif", ""]),
], ids=["make_dataset --out", "train --out-dir", "analyze --out", "evaluate --curve-out", "infer --gif"])  # fmt: skip
def test_an_empty_output_path_is_refused_not_taken_for_the_current_folder(tmp_path, capsys, monkeypatch, main, args):
    monkeypatch.chdir(tmp_path)
    assert exit_code(main, args) == 2
    assert "empty" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_written_csv_has_the_permissions_of_any_other_file(tmp_path):
    out = tmp_path / "easy.csv"
    assert make_dataset.main(["--num", "3", "--difficulty", "easy", "--seed", "1", "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # 0644 under the usual umask, not mkstemp's 0600
    assert len(read_puzzle_file(out)) == 3


@pytest.mark.parametrize("main,args", [
    (evaluate.main, [CHECKPOINT, "--device", "cpu", "--data", "/dev/zero"]),
    (train.main, ["--max-steps", "1", *TINY, "--task", "sudoku-dataset", "--data", "/dev/zero"]),
    (infer.main, [BOARDPATH, "--device", "cpu", "--board", "/dev/zero"]),
], ids=["evaluate --data", "train --data", "infer --board"])  # fmt: skip
def test_a_device_as_the_input_is_refused_not_read_without_end(tmp_path, capsys, monkeypatch, main, args):
    monkeypatch.chdir(tmp_path)  # a run folder train might make lands here
    assert exit_code(main, [*args, *(["--out-dir", str(tmp_path / "run")] if main is train.main else [])]) == 2
    assert "character device, not a regular file" in one_line(capsys)


def test_a_board_file_far_larger_than_a_board_is_refused(tmp_path, capsys):
    board = tmp_path / "board.txt"
    board.write_text("." * (MAX_BOARD_FILE + 1))
    assert exit_code(infer.main, [BOARDPATH, "--device", "cpu", "--board", str(board)]) == 2
    assert "more than the" in one_line(capsys)


def test_more_generated_puzzles_than_memory_holds_is_one_line_before_any_work(capsys):
    args = [CHECKPOINT, "--device", "cpu", "--difficulty", "easy,hard", "--num", "10000000000000"]
    assert exit_code(evaluate.main, args) == 2
    assert f"more than the {MAX_ROWS:,}" in one_line(capsys)


@pytest.mark.parametrize("flag,value", [("--batch-size", "1000000000"), ("--hidden-size", "1000000")])
def test_a_run_too_large_for_memory_is_one_line_and_leaves_no_run(tmp_path, capsys, flag, value):
    out = tmp_path / "run"
    args = ["--max-steps", "1", *TINY, "--num-heads", "1", flag, value, "--out-dir", str(out)]
    assert exit_code(train.main, args) == 1
    assert "out of memory (asked for" in one_line(capsys)
    assert not any(out.glob("checkpoint-*"))


@pytest.fixture(scope="module")
def two_steps(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    assert train.main(["--out-dir", str(out), "--max-steps", "2", "--checkpoint-every", "1", *TINY]) == 0
    return out


@pytest.mark.parametrize("bad", [b"\xff\xfe not text", b"{garbage", b"[1, 2]"], ids=["not-utf8", "not-json", "no-step"])
def test_resume_stops_at_a_damaged_line_of_the_log_and_names_it(two_steps, tmp_path, capsys, bad):
    out = tmp_path / "run"
    os.makedirs(out)
    for f in two_steps.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    lines = (out / "metrics.jsonl").read_bytes().splitlines()
    damaged = b"\n".join([lines[0], bad, *lines[1:]]) + b"\n"
    (out / "metrics.jsonl").write_bytes(damaged)
    capsys.readouterr()
    assert train.main(["--out-dir", str(out), "--resume", "--max-steps", "3", "--log-format", "none"]) == 1
    assert "metrics.jsonl:2: not a metrics record" in one_line(capsys)
    assert (out / "metrics.jsonl").read_bytes() == damaged  # the history is left for the user to mend
    # Mended, and with a torn last record as a crash leaves it, the run resumes.
    (out / "metrics.jsonl").write_bytes(b"\n".join(lines) + b'\n{"step": 3, "lo')
    assert train.main(["--out-dir", str(out), "--resume", "--max-steps", "3", "--log-format", "none"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
