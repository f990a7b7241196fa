"""make_dataset as a command: the file it writes read back and checked, and every kind of bad input refused."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from src.hrm.make_dataset import main
from src.hrm.sudoku import count_solutions_batch, mining, rate_difficulty
from src.hrm.sudoku.files import read_puzzle_file

REPO = pathlib.Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "src.hrm.make_dataset"]


def make_dataset(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_writes_rated_puzzles_that_read_back(tmp_path):
    out = tmp_path / "hard.csv"
    result = make_dataset("--out", out, "--num", 25, "--min-rating", 20, "--max-rating", 40, "--seed", 3,
                          "--workers", 2)
    assert result.returncode == 0, result.stderr
    assert "25 puzzles" in result.stdout and len(result.stdout.splitlines()) == 1
    data = read_puzzle_file(out)  # checks every row's solution against its puzzle and the Sudoku rules
    assert len(data) == 25 and data.has_solution.all()
    assert (count_solutions_batch(data.puzzles) == 1).all()
    assert data.ratings.tolist() == [rate_difficulty(p) for p in data.puzzles]
    assert ((data.ratings >= 20) & (data.ratings <= 40)).all()
    assert set(data.sources) <= {"generated-extreme", "mined-extreme"} and "mined-extreme" in set(data.sources)
    assert out.read_text().splitlines()[0] == "source,question,answer,rating"
    assert "." in out.read_text().splitlines()[1].split(",")[1]


def test_same_seed_same_file_for_any_worker_count(tmp_path):
    for workers in (1, 2):
        result = make_dataset("--out", tmp_path / f"{workers}.csv", "--num", 30, "--difficulty", "hard",
                              "--min-rating", 2, "--seed", 9, "--workers", workers)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "1.csv").read_bytes() == (tmp_path / "2.csv").read_bytes()
    data = read_puzzle_file(tmp_path / "1.csv")
    assert set(data.sources) <= {"generated-hard", "mined-hard"} and (data.ratings >= 2).all()


@pytest.mark.parametrize("args, words", [
    (("--num", 0), "argument --num: must be a positive integer"),
    (("--num", "many"), "argument --num: invalid positive_int value"),
    (("--num", 5, "--min-rating", 10, "--max-rating", 8), "--max-rating 8 is below --min-rating 10"),
    (("--num", 5, "--min-rating", -1), "argument --min-rating: must be >= 0"),
    (("--num", 5, "--max-rating", -4), "argument --max-rating: must be >= 0"),
    (("--num", 5, "--difficulty", "brutal"), "unknown difficulty 'brutal'"),
    (("--num", 5, "--workers", 0), "argument --workers: must be a positive integer"),
    (("--num", 5, "--frobnicate"), "unrecognized arguments"),
])  # fmt: skip
def test_bad_flags_give_one_line_and_no_file(tmp_path, args, words):
    out = tmp_path / "out.csv"
    result = make_dataset("--out", out, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "make_dataset: error: " in result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_output_paths_give_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    cases = [(tmp_path / "missing" / "out.csv", "does not exist"), (tmp_path, "is a folder, not a regular file"),
             (tmp_path / "file" / "out.csv", "does not exist")]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((locked / "out.csv", "not writable"))
    for out, words in cases:
        result = make_dataset("--out", out, "--num", 3)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and words in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["file"] + (["locked"] if len(cases) == 4 else []))


def as_a_terminal_would_start_it() -> None:
    """In the child, before exec: Ctrl-C delivered and handled as from a shell in the foreground. The test runner's
    process may carry an ignored or blocked SIGINT from what ran before in it, and a child inherits both."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def test_interrupted_run_leaves_no_file(tmp_path):
    # The kernels compiled first (a fresh clone has no numba cache), so that the interrupt lands in the mining.
    subprocess.run([*COMMAND, "--out", str(tmp_path / "warm.csv"), "--num", "2", "--min-rating", "30"], cwd=REPO,
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    (tmp_path / "warm.csv").unlink()
    out = tmp_path / "big.csv"
    process = subprocess.Popen([sys.executable, "-X", "faulthandler", *COMMAND[1:], "--out", str(out), "--num",
                                "1000000", "--min-rating", "30"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=as_a_terminal_would_start_it)
    try:
        time.sleep(3)
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler prints where every thread is
            _, stderr = process.communicate(timeout=30)
            pytest.fail(f"make_dataset did not stop on Ctrl-C within 60 s; its threads:\n{stderr[-4000:]}")
    finally:
        process.kill()  # never leave a miner running behind a failed test
        process.wait()
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_range_is_an_error(tmp_path, monkeypatch, capsys):
    # main() in this process, so that the search gives up after 8 chains instead of 1,000.
    monkeypatch.setattr(mining, "GIVE_UP_CHAINS", 8)
    # Very easy puzzles keep 46 to 50 clues, and singles solve them all: no search reaches a rating of 40.
    code = main(["--out", str(tmp_path / "x.csv"), "--num", "1", "--difficulty", "very-easy", "--min-rating", "40"])
    stderr = capsys.readouterr().err
    assert code == 2 and "out of reach" in stderr and stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
