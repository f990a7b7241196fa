"""bench/options_ab.py --tiny as the lead runs it on a GPU: variants trained and scored, a failing one recorded in
one line without stopping the others, the figure written, and a second command keeping what the first did."""

import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def bench(out, *variants) -> subprocess.CompletedProcess:
    argv = [sys.executable, "bench/options_ab.py", "--tiny", "--minutes", "0.02", "--extreme", "4", "--mined", "2",
            "--out", str(out), *(f"--variant={v}" for v in variants)]  # fmt: skip
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.slow  # over 10 s on 2 cores
def test_variants_are_trained_scored_and_kept(tmp_path):
    out = tmp_path / "ab"
    bench(out, "default:", "bad:--no-such-flag 3", "curriculum:--halt-max-steps-schedule 2:5 --halt-max-steps 4")
    results = json.loads((out / "results.json").read_text())
    assert results["baseline"] == "default" and results["extreme"]["num"] == 4
    default, bad, curriculum = results["variants"]
    assert bad["status"] == "failed" and bad["error"].endswith("unrecognized arguments: --no-such-flag 3 (see --help)")
    for record in (default, curriculum):
        assert record["status"] == "ok" and record["steps"] >= 1 and record["stage"] == 0
        assert record["extreme"]["num_puzzles"] == 4 and record["mined"]["num_puzzles"] == 4
        assert set(record["mined"]["per_rating"]) == {"10-49", "50+"}
        assert 0 <= record["extreme"]["act_solve_rate"] <= 1
    assert curriculum["flags"] == ["--halt-max-steps-schedule", "2:5", "--halt-max-steps", "4"]
    records = [json.loads(line) for line in (out / "curriculum" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["halt_max_steps"] == 2
    assert (out / "accuracy.png").stat().st_size > 0

    again = bench(out, "default:", "curriculum:--halt-max-steps-schedule 2:5 --halt-max-steps 4")
    assert "default: kept" in again.stdout and "curriculum: kept" in again.stdout
    assert json.loads((out / "results.json").read_text())["variants"] == [default, curriculum]
