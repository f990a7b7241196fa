"""Each model variant's parameters, training-step time and peak memory on this machine.

Runs the real `train_step` (both forwards, backward, optimizer, row replacement) of the default
Sudoku task at its last curriculum stage, eager, bf16 autocast on CUDA; median over the timed
steps after a warm-up. The batch shrinks for the large variants (given per row) so they fit.

    python bench/variants_bench.py [--steps 20] [--variants micro,tiny,small,base,large,xlarge]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.hrm.modeling.variants import VARIANTS, variant_config  # noqa: E402
from src.hrm.tasks import default_settings  # noqa: E402
from src.hrm.tasks.curriculum import LAST_STAGE  # noqa: E402
from src.hrm.training.config import Autocast, TrainConfig  # noqa: E402
from src.hrm.training.loop import step_values, train_step  # noqa: E402
from src.hrm.training.run import new_run  # noqa: E402

BATCH = {"micro": 512, "tiny": 512, "small": 256, "base": 128, "large": 64, "xlarge": 32}


def measure(name: str, steps: int, device: torch.device) -> dict:
    task = default_settings("sudoku")
    task["curriculum"]["start_stage"] = LAST_STAGE
    config = TrainConfig(model=variant_config(name), task=task, batch_size=BATCH[name])
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    run = new_run(config, device)
    autocast = Autocast(device.type, torch.bfloat16 if device.type == "cuda" else None)
    names = step_values(run.rows)
    try:
        times = []
        for i in range(steps + 3):
            began = time.perf_counter()
            run.rows.refill()
            vector = train_step(run, autocast)
            run.rows.observe(i, dict(zip(names, vector.tolist())))  # a synced read: the step's whole time
            if i >= 3:
                times.append(time.perf_counter() - began)
    finally:
        run.close()
    return {
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "batch": config.batch_size,
        "ms_per_step": 1000 * statistics.median(times),
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    print(f"device {name}, torch {torch.__version__}, eager, {args.steps} timed steps, stage {LAST_STAGE}")
    print(f"{'variant':<9}{'hidden':>7}{'heads':>6}{'blocks':>7}{'segments':>9}{'parameters':>13}{'batch':>7}"
          f"{'ms/step':>9}{'ms/row':>8}{'peak GiB':>9}")
    for variant in args.variants.split(","):
        hidden, heads, blocks, segments = VARIANTS[variant]
        try:
            r = measure(variant, args.steps, device)
        except Exception as error:  # one variant failing (e.g. out of memory) should not hide the others
            print(f"{variant:<9} failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}", flush=True)
            continue
        peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        print(f"{variant:<9}{hidden:>7}{heads:>6}{blocks:>7}{segments:>9}{r['parameters']:>13,}{r['batch']:>7}"
              f"{r['ms_per_step']:>9.1f}{r['ms_per_step'] / r['batch']:>8.3f}{peak:>9}", flush=True)


if __name__ == "__main__":
    main()
