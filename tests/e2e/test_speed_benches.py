"""The speed benches on the CPU with a tiny model: time to quality (scores every checkpoint, resumes, plots),
start-up (phases that add up), and the throughput bench's FLOP count against the block passes a step does."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
# The kernels this process's numba cache holds (src/hrm/numba_cache.py): a child given its own HOME would
# otherwise compile them all again, tens of seconds each time.
NUMBA_CACHE = {key: os.environ[key] for key in ("NUMBA_CACHE_DIR",) if key in os.environ}
sys.path.insert(0, str(REPO / "bench"))

from train_throughput import step_flops  # noqa: E402

from src.hrm.modeling import HRMACTModelConfig  # noqa: E402

TINY = "--device cpu --hidden-size 32 --num-heads 2 --num-layers 1 --intermediate-size 64 --batch-size 8 --workers 1"


def bench(script, home, *argv) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(home), **NUMBA_CACHE}
    result = subprocess.run([sys.executable, f"bench/{script}", *argv], cwd=REPO, capture_output=True, text=True,
                            timeout=600, env=env)  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.slow  # over 10 s on 2 cores
def test_time_to_quality_scores_each_checkpoint_and_goes_on_where_it_stopped(tmp_path):
    out = tmp_path / "ttq"
    flags = ["--out", str(out), "--every", "4", "--extreme", "6", "--run", f"a:{TINY} --compile off --max-steps 9"]
    bench("time_to_quality.py", tmp_path, "--minutes", "1", *flags)
    first = json.loads((out / "a" / "quality.json").read_text())
    steps = [p["step"] for p in first["points"]]
    assert steps == [1, 4, 8, 9]  # step 1, every 4th, and the last
    minutes = [p["minutes"] for p in first["points"]]
    assert minutes == sorted(minutes) and all(0 <= p["solve_rate"] <= 1 and p["stage"] == 0 for p in first["points"])
    assert first["target"] == 0.8 and first["minutes_to_target"] is None  # a tiny model solves no extreme puzzle
    assert (out / "quality.png").stat().st_size > 0
    # The same command again resumes the run; the points already scored are kept as they were.
    flags[-1] = flags[-1].replace("--max-steps 9", "--max-steps 13")
    again = bench("time_to_quality.py", tmp_path, "--minutes", "1", *flags)
    assert "resuming" in again.stdout
    second = json.loads((out / "a" / "quality.json").read_text())
    assert second["points"][:4] == first["points"] and [p["step"] for p in second["points"][4:]] == [12, 13]


@pytest.mark.slow  # over 10 s on 2 cores
def test_time_to_quality_stops_a_run_at_its_target_and_does_not_train_it_again(tmp_path):
    """Scored while it trains: with a target every checkpoint meets, the run is stopped (a clean stop that saves)
    long before its step limit, and the same command again finds it at the target without starting it."""
    out = tmp_path / "ttq"
    flags = ["--out", str(out), "--every", "2", "--extreme", "4", "--target", "0", "--poll", "0.2",
             "--run", f"a:{TINY} --compile off --max-steps 100000"]  # fmt: skip
    result = bench("time_to_quality.py", tmp_path, "--minutes", "5", *flags)
    assert "a: at the target; stopping the run" in result.stdout
    record = json.loads((out / "a" / "quality.json").read_text())
    assert record["minutes_to_target"] == record["points"][0]["minutes"] and record["steps_to_target"] == 1
    last = max(int(line.split('"step": ')[1].split(",")[0]) for line in (out / "a" / "metrics.jsonl").open())
    assert last < 100000 and (out / "a" / f"checkpoint-{last}.safetensors").is_file()  # saved where it stopped
    again = bench("time_to_quality.py", tmp_path, "--minutes", "5", *flags)
    assert "a: at the target already" in again.stdout and "resuming" not in again.stdout


def test_startup_splits_the_seconds_into_phases_that_add_up(tmp_path):
    result = bench("startup.py", tmp_path, "--runs", "1", "--cache", str(tmp_path / "cache"), "--flags", f"{TINY} --compile off")
    header, row = result.stdout.splitlines()[1:3]
    assert header.split()[:3] == ["run", "python", "imports"]
    values = [float(v) for v in row.split()[2:]]  # after "cold 1"
    python, imports, cuda, run, step, to_step, after, exit = values
    assert cuda == 0.0 and min(values) >= 0
    # Six numbers printed to 0.1 s, each off by up to 0.05: the printed sum may miss the sum of the printed parts
    # by up to 0.3 (22.4 against 22.2 was seen).
    assert to_step == pytest.approx(python + imports + cuda + run + step, abs=0.3 + 1e-6)


def test_the_flop_count_follows_the_block_passes_of_a_step():
    """In block evaluations of 4 blocks deep levels: a forward runs 4 low-level and 2 high-level passes (24 blocks),
    a step two forwards and the backward of the last low and high pass at twice a forward (16): 64. Without the
    continue value the target's forward goes: 40."""
    default = HRMACTModelConfig()
    no_continue = HRMACTModelConfig.from_dict({**default.to_dict(), "act": {"q_continue": False}})
    assert step_flops(default, 512) / step_flops(no_continue, 512) == pytest.approx(64 / 40)
    # A high level of 1 block: 2 * (4*4 + 2*1) + 2 * (4 + 1) = 46.
    shallow = HRMACTModelConfig.from_dict({**default.to_dict(), "transformers": {"high_layers": 1}})
    assert step_flops(shallow, 512) / step_flops(default, 512) == pytest.approx(46 / 64)


@pytest.mark.slow  # over 10 s on 2 cores
def test_the_multi_gpu_bench_times_each_count_and_draws_both_curves(tmp_path):
    """On CPU processes (gloo) with a tiny model, as it runs on GPUs: one and two ranks timed, the speed-up against
    one rank, and the curves of two ranks against one with twice the rows."""
    plot, numbers = tmp_path / "curve.png", tmp_path / "numbers.json"
    bench("multi_gpu.py", tmp_path, "--tiny", "--gpus", "1,2", "--steps", "12", "--curve", "--curve-steps", "10",
          "--plot", str(plot), "--json", str(numbers))  # fmt: skip
    results = json.loads(numbers.read_text())
    one, two = results["throughput"]
    assert (one["gpus"], two["gpus"], one["steps"], two["steps"]) == (1, 2, 12, 12)
    for r in (one, two):  # rows/s: every rank's 8 carried rows, per second of a median step
        assert r["rows_per_second"] == pytest.approx(r["gpus"] * 8 * 1000 / r["ms_per_step"])
    assert one["speed_up"] == 1.0 and two["speed_up"] == pytest.approx(two["rows_per_second"] / one["rows_per_second"])
    assert set(results["curve"]["last_stage_at"]) == {"2 GPUs x 8 rows", "1 GPU x 16 rows"}
    assert plot.stat().st_size > 0
