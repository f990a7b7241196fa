"""Training-step throughput of the default model: ms/step, puzzle waiting, TFLOP/s, memory, compile time.

Runs the real `train_step` (segment loss with its second forward, backward, optimizer, replacement of
halted rows from the device queue, curriculum) at the last curriculum stage, so extreme puzzles are
in the supply. Eager and compiled are timed in turn; medians over the timed steps after a warm-up.

    python bench/train_throughput.py [--steps 200] [--batch-size 512] [--modes eager,compiled]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.hrm.train import Autocast, TrainConfig, _needed_kinds, compiled_segment_loss, new_run, train_step  # noqa: E402
from src.hrm.utils.curriculum import LAST_STAGE, CurriculumConfig  # noqa: E402
from src.hrm.utils.training import segment_loss  # noqa: E402


def step_flops(config, batch: int) -> float:
    """Matrix-product FLOPs of one step: 2 forwards of every block pass, plus 2× for the backward of the last ones."""
    t = config.transformers
    tokens = batch * (config.seq_len + 1)
    hidden, inter = t.hidden_size, t.intermediate_size or -(int(t.expansion * t.hidden_size * 2 / 3) // -256) * 256
    per_token = 2 * (hidden * 3 * hidden + hidden * hidden + hidden * 2 * inter + inter * hidden)
    attention = 2 * 2 * batch * (config.seq_len + 1) ** 2 * hidden  # QKᵀ and AV over all heads
    block = tokens * per_token + attention
    cycles = config.high_level_cycles * config.low_level_cycles
    passes_per_forward = (cycles + config.high_level_cycles) * t.num_layers
    with_grad = 2 * t.num_layers  # the last low- and high-level update
    return block * (2 * passes_per_forward + 2 * with_grad)


def measure(mode: str, args, device) -> dict:
    config = TrainConfig(batch_size=args.batch_size, curriculum=CurriculumConfig(start_stage=LAST_STAGE))
    run = new_run(config, device)
    autocast = Autocast(device.type, torch.bfloat16 if device.type == "cuda" else None)
    loss_fn = compiled_segment_loss() if mode == "compiled" else segment_loss
    kinds = _needed_kinds(LAST_STAGE)

    def one_step():
        waited = run.queue.ensure(kinds)
        vector = train_step(run.model, run.optimizer, run.carry, run.curriculum, run.queue, run.generator, autocast, loss_fn)
        run.queue.observe(vector[-len(kinds):].tolist())  # a sync per step: the timing then covers the whole step
        return waited

    started = time.perf_counter()
    one_step()
    first_step = time.perf_counter() - started
    for _ in range(args.warmup):
        one_step()
    torch.cuda.reset_peak_memory_stats() if device.type == "cuda" else None
    times, waits = [], []
    for _ in range(args.steps):
        began = time.perf_counter()
        waits.append(one_step())
        times.append(time.perf_counter() - began)
    run.close()
    median = statistics.median(times)
    return {
        "mode": mode,
        "ms_per_step": 1000 * median,
        "wait_share": sum(waits) / sum(times),
        "tflops": step_flops(config.model, args.batch_size) / median / 1e12,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan"),
        "first_step_s": first_step,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--modes", default="eager,compiled")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    print(f"device {name}, torch {torch.__version__}, batch {args.batch_size}, {args.steps} timed steps, stage {LAST_STAGE}")
    print(f"{'mode':<10}{'ms/step':>10}{'wait %':>8}{'TFLOP/s':>9}{'peak GiB':>10}{'first step s':>14}")
    for mode in args.modes.split(","):
        r = measure(mode, args, device)
        print(f"{r['mode']:<10}{r['ms_per_step']:>10.2f}{100 * r['wait_share']:>8.2f}{r['tflops']:>9.1f}"
              f"{r['peak_gib']:>10.2f}{r['first_step_s']:>14.1f}", flush=True)


if __name__ == "__main__":
    main()
