"""Resume under a compile mode on the GPU: a run stopped and resumed must go on as the uninterrupted run does.

Trains a small model three times with `python -m src.hrm.train --compile MODE` on CUDA: straight for --steps
steps, the same again (how far two identical runs drift apart on this GPU: the attention backward may sum in
any order), and stopped at half the steps then resumed to the end. It compares the resumed run's losses after
the stop and its final weights with the straight run's, and passes when they differ by no more than twice what
the two straight runs do (or a float32 rounding when those agree exactly).

    python bench/gpu_resume_check.py [--compile cudagraphs] [--steps 60]

Exits 0 with the differences when the check passes, 1 otherwise.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--hidden-size", "128", "--num-heads", "2", "--num-layers", "2", "--batch-size", "128", "--device", "cuda",
         "--log-format", "none", "--seed", "3", "--halt-max-steps", "4"]  # fmt: skip


def train(out_dir: Path, steps: int, mode: str, resume: bool = False) -> None:
    command = [sys.executable, "-m", "src.hrm.train", "--out-dir", str(out_dir), "--max-steps", str(steps),
               "--compile", mode, "--checkpoint-every", str(steps), *SMALL, *(["--resume"] if resume else [])]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise SystemExit(f"error: train {'--resume ' if resume else ''}failed: {lines[-1] if lines else ''}")


def losses(out_dir: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {r["step"]: r["loss"] for r in records}


def weights_difference(a: Path, b: Path, step: int) -> float:
    first, second = (load_file(str(d / f"checkpoint-{step}.safetensors")) for d in (a, b))
    return max(float((first[k].float() - second[k].float()).abs().max()) for k in first)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compile", default="cudagraphs", choices=("off", "on", "cudagraphs"))
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("error: this check needs a CUDA GPU")
    steps, half = args.steps, args.steps // 2
    with tempfile.TemporaryDirectory() as work:
        straight, again, resumed = (Path(work) / name for name in ("straight", "again", "resumed"))
        for what, folder, until, resume in (("straight", straight, steps, False), ("again", again, steps, False),
                                            ("stopped", resumed, half, False), ("resumed", resumed, steps, True)):
            began = time.monotonic()
            train(folder, until, args.compile, resume)
            print(f"  {what}: to step {until} in {time.monotonic() - began:.0f} s", flush=True)
        a, b, c = losses(straight), losses(again), losses(resumed)
        after = range(half + 1, steps + 1)
        noise = max(abs(a[s] - b[s]) for s in after)
        drift = max(abs(a[s] - c[s]) for s in after)
        noise_w, drift_w = weights_difference(straight, again, steps), weights_difference(straight, resumed, steps)
    print(f"--compile {args.compile}, {steps} steps, resumed at {half}")
    print(f"  loss after the stop: resumed vs straight {drift:.3g}; two straight runs {noise:.3g}")
    print(f"  final weights (max |difference|): resumed vs straight {drift_w:.3g}; two straight runs {noise_w:.3g}")
    tolerance = 1e-6
    if drift <= max(2 * noise, tolerance) and drift_w <= max(2 * noise_w, tolerance):
        print("passed: the resumed run goes on as the uninterrupted one, within the GPU's run-to-run difference")
        return 0
    print("FAILED: the resumed run differs from the straight run by more than twice what two straight runs do")
    return 1


if __name__ == "__main__":
    sys.exit(main())
