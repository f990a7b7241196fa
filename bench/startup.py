"""Start-up time of `train`: a first run with an empty compile cache, then a second run of the same configuration,
with where the seconds go.

Each run is a real `train --max-steps 1` (the default task and model unless --flags says otherwise) into a fresh
folder, in a fresh process, with `--compile-cache` pointed at one folder made empty at the start. The process
runs `src.hrm.train.main` under a thin wrapper that notes the time at each phase, so the table splits the
seconds from launching the process to the end of its first step:
  python      launching the interpreter, until the wrapper's first line
  imports     torch and the project
  cuda        initialising CUDA (the first use of the GPU; 0 on the CPU)
  run         the rest until the loop starts: the model, the puzzle supply and the first rows, the optimizer
  step 1      the first step, compiling included (metrics.jsonl's `elapsed` at step 1)
  to step 1   the sum: what a user waits for the first step
  after       saving the step-1 checkpoint and stopping the puzzle supply, until `main` returns
  exit        the interpreter's shutdown (atexit handlers, worker pools, freeing the GPU)

    python bench/startup.py [--runs 2] [--flags "--compile cudagraphs"] [--cache DIR] [--keep-cache]
"""

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Runs train's main with timestamps (wall-clock seconds) at each phase, printed as one JSON line at the end.
WRAPPER = """
import time
marks = {"started": time.time()}
import json, sys
import torch
import src.hrm.train as train_cli
marks["imported"] = time.time()
if torch.cuda.is_available() and "cpu" not in sys.argv[1:]:
    torch.cuda.init()
    torch.zeros(1, device="cuda")
marks["cuda"] = time.time()
loop_train = train_cli.train
def timed_train(run, options):
    marks["loop"] = time.time()
    return loop_train(run, options)
train_cli.train = timed_train
code = train_cli.main(sys.argv[1:])
marks["exited"] = time.time()
print(json.dumps({"code": code, **marks}))
"""
PHASES = ("python", "imports", "cuda", "run", "step 1", "to step 1", "after", "exit")


def one_run(flags: list[str], cache: Path, out_dir: Path) -> dict:
    """One `train --max-steps 1` process: the seconds of each phase (PHASES)."""
    command = [sys.executable, "-c", WRAPPER, "--out-dir", str(out_dir), "--max-steps", "1", "--log-format", "none",
               "--compile-cache", str(cache), *flags]  # fmt: skip
    launched = time.time()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    ended = time.time()
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines or json.loads(lines[-1])["code"] != 0:
        errors = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise SystemExit(f"error: train failed: {errors[-1] if errors else f'exit code {done.returncode}'}")
    marks = json.loads(lines[-1])
    step_1 = json.loads((out_dir / "metrics.jsonl").read_text().splitlines()[0])["elapsed"]
    phases = {
        "python": marks["started"] - launched, "imports": marks["imported"] - marks["started"],
        "cuda": marks["cuda"] - marks["imported"], "run": marks["loop"] - marks["cuda"], "step 1": step_1,
    }  # fmt: skip
    phases["to step 1"] = sum(phases.values())
    phases["after"] = marks["exited"] - launched - phases["to step 1"]
    phases["exit"] = ended - marks["exited"]
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="runs in a row on one cache (default 2: cold, warm)")
    parser.add_argument("--flags", type=shlex.split, default=[], help="train flags of every run")
    parser.add_argument("--cache", type=Path, help="the compile cache folder (default: a temporary one)")
    parser.add_argument("--keep-cache", action="store_true", help="do not empty --cache first")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hrm-startup-"))
    cache = args.cache or work / "cache"
    if cache.exists() and not args.keep_cache:
        shutil.rmtree(cache)
    print(f"train --max-steps 1 {shlex.join(args.flags)}; compile cache {cache}; seconds")
    print(f"{'run':<8}" + "".join(f"{phase:>11}" for phase in PHASES))
    try:
        for k in range(args.runs):
            phases = one_run(args.flags, cache, work / f"run{k}")
            label = ("cold" if k == 0 and not args.keep_cache else "warm") + f" {k + 1}"
            print(f"{label:<8}" + "".join(f"{phases[phase]:>11.1f}" for phase in PHASES), flush=True)
    finally:
        for k in range(args.runs):
            shutil.rmtree(work / f"run{k}", ignore_errors=True)
        if args.cache is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
