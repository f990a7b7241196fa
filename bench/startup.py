"""Start-up time of `train`: a first run with an empty compile cache, then a second run of the same configuration.

Each run is a real `python -m src.hrm.train --max-steps 1` process (the default task and model unless --flags
says otherwise) into a fresh folder, with `--compile-cache` pointed at one folder made empty at the start. It
prints, per run, the seconds from launching the process to the end of its first step (the step's `elapsed`
in metrics.jsonl, compiling included, plus what came before the loop: imports, building the model, the first
puzzles) and the whole process's wall-clock time (also saving the step-1 checkpoint and exiting).

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


def one_run(flags: list[str], cache: Path, out_dir: Path) -> dict:
    """One `train --max-steps 1` process: seconds to the end of its first step, and in all."""
    command = [sys.executable, "-m", "src.hrm.train", "--out-dir", str(out_dir), "--max-steps", "1",
               "--log-format", "none", "--compile-cache", str(cache), *flags]  # fmt: skip
    launched = time.monotonic()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    total = time.monotonic() - launched
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise SystemExit(f"error: train exited with {done.returncode}: {lines[-1] if lines else ''}")
    first = json.loads((out_dir / "metrics.jsonl").read_text().splitlines()[0])
    return {"step_1_elapsed_s": first["elapsed"], "process_s": total}


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
    print(f"train --max-steps 1 {shlex.join(args.flags)}; compile cache {cache}")
    print(f"{'run':<8}{'step 1 elapsed s':>18}{'process s':>11}")
    try:
        for k in range(args.runs):
            r = one_run(args.flags, cache, work / f"run{k}")
            label = ("cold" if k == 0 and not args.keep_cache else "warm") + f" {k + 1}"
            print(f"{label:<8}{r['step_1_elapsed_s']:>18.1f}{r['process_s']:>11.1f}", flush=True)
    finally:
        for k in range(args.runs):
            shutil.rmtree(work / f"run{k}", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
