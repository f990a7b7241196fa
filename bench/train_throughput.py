"""Training-step throughput of every speed mode, side by side: ms/step, puzzle waiting, TFLOP/s, memory, compile time.

Runs the real `train_step` (segment loss with its second forward, backward, optimizer, replacement of
halted rows from the device queue, curriculum) at the last curriculum stage, so extreme puzzles are
in the supply. Each mode is timed in turn; medians over the timed steps after a warm-up. `ms/step`
is the step rate as `train` runs (the host reads each step's counters one step late, so launching
overlaps the GPU's work); `synced` waits for every step before the next, exposing the host's time.
Peak memory covers the whole measurement, compilation included; `first step s` is the first step's
time, compiling included (with what the compile cache already held: see bench/startup.py for a cold
and a warm start).

Modes (the train flags each stands for):
  eager                  --compile off
  compiled               --compile on (the default on CUDA)
  compiled-cudagraphs    --compile cudagraphs (torch.compile's reduce-overhead mode: CUDA graphs)
  compiled-max-autotune  Triton GEMM templates tuned per shape (bench only; minutes of tuning)
  compiled-regional      --compile regional (each reasoner compiled on its own: a shorter compile)
  bf16-activations       --compile cudagraphs --activation-dtype bfloat16
  no-q-continue          --compile cudagraphs --no-q-continue
  fastest                --compile cudagraphs --activation-dtype bfloat16 --no-q-continue
The last three change what is computed (docs/training.md, "Speed", shows their learning curves).
`--profile` adds, per mode, the CUDA kernels that take the most time over 10 steps.

    python bench/train_throughput.py [--steps 200] [--batch-size 512] [--modes eager,compiled,...] [--profile]
        [--data F [--puzzle-embeddings]] [--compile-cache DIR]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.hrm.train_args import COMPILE_CHOICES  # noqa: E402
from src.hrm.tasks import default_settings  # noqa: E402
from src.hrm.tasks.curriculum import LAST_STAGE  # noqa: E402
from src.hrm.training.compile_cache import use_compile_cache  # noqa: E402
from src.hrm.training.config import Autocast, TrainConfig  # noqa: E402
from src.hrm.training.loop import compiled_segment_loss, step_values, train_step  # noqa: E402
from src.hrm.training.loss import segment_loss  # noqa: E402
from src.hrm.training.run import new_run  # noqa: E402


# mode → (torch.compile mode or None for eager, model options); the first three are train's --compile off/on/cudagraphs.
MODE_SETTINGS = {
    "eager": (None, {}),
    "compiled": (COMPILE_CHOICES["on"], {}),
    "compiled-cudagraphs": (COMPILE_CHOICES["cudagraphs"], {}),
    "compiled-max-autotune": ("max-autotune-no-cudagraphs", {}),
    "compiled-regional": (COMPILE_CHOICES["regional"], {}),
    "bf16-activations": (COMPILE_CHOICES["cudagraphs"], {"activation_dtype": "bfloat16"}),
    "no-q-continue": (COMPILE_CHOICES["cudagraphs"], {"q_continue": False}),
    "fastest": (COMPILE_CHOICES["cudagraphs"], {"activation_dtype": "bfloat16", "q_continue": False}),
}
MODES = tuple(MODE_SETTINGS)
DEFAULT_MODES = "eager,compiled,compiled-cudagraphs,compiled-regional,bf16-activations,no-q-continue,fastest"


def step_flops(config, batch: int) -> float:
    """Matrix-product FLOPs of one step: the forward (and, with the continue value, the target's second forward) of
    every block pass, plus 2x for the backward of the last low- and high-level update."""
    t = config.transformers
    tokens = batch * config.positions
    hidden, inter = t.hidden_size, t.intermediate_size or -(int(t.expansion * t.hidden_size * 2 / 3) // -256) * 256
    per_token = 2 * (hidden * 3 * hidden + hidden * hidden + hidden * 2 * inter + inter * hidden)
    attention = 2 * 2 * batch * config.positions**2 * hidden  # QKᵀ and AV over all heads
    block = tokens * per_token + attention
    high, low = t.depths
    cycles = config.high_level_cycles * config.low_level_cycles
    per_forward = cycles * low + config.high_level_cycles * high
    forwards = 2 if config.act.q_continue else 1
    return block * (forwards * per_forward + 2 * (low + high))


def measure(mode: str, args, device) -> dict:
    if args.data is None:  # the default task at its last curriculum stage, where every difficulty is drawn
        task = default_settings("sudoku")
        task["curriculum"]["start_stage"] = LAST_STAGE
    else:
        task = {**default_settings("sudoku-dataset"), "data": args.data, "puzzle_ids": args.puzzle_embeddings}
    config = TrainConfig(batch_size=args.batch_size, task=task)
    compile_mode, model_options = MODE_SETTINGS[mode]
    for name, value in model_options.items():
        owner = config.model.act if name == "q_continue" else config.model
        setattr(owner, name, value)
    run = new_run(config, device)
    autocast = Autocast(device.type, torch.bfloat16 if device.type == "cuda" else None)
    loss_fn = segment_loss
    if compile_mode is not None:
        use_compile_cache(args.compile_cache)
        loss_fn = compiled_segment_loss(compile_mode)
    names = step_values(run.rows)

    pending = []  # the previous step's metrics vector, read one step late as train does

    def one_step(synced: bool = False):
        waited = run.rows.refill()
        vector = train_step(run, autocast, loss_fn)
        pending.append(vector)
        # Reading step i-1's counters while step i is queued keeps the GPU busy (the trainer's pipelining);
        # synced reads the step just launched, so the host's own time per step shows in the timing.
        while len(pending) > (0 if synced else 1):
            run.rows.observe(0, dict(zip(names, pending.pop(0).tolist())))
        return waited

    def timed(steps: int, synced: bool) -> tuple[list[float], list[float]]:
        times, waits = [], []
        for _ in range(steps):
            began = time.perf_counter()
            waits.append(one_step(synced))
            times.append(time.perf_counter() - began)
        return times, waits

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    one_step(synced=True)
    first_step = time.perf_counter() - started
    timed(args.warmup, synced=False)
    times, waits = timed(args.steps, synced=False)
    synced_times, _ = timed(args.steps, synced=True)
    if args.profile and device.type == "cuda":
        print_profile(mode, lambda: one_step(synced=True))
    run.close()
    median = statistics.median(times)
    return {
        "mode": mode,
        "ms_per_step": 1000 * median,
        "synced_ms_per_step": 1000 * statistics.median(synced_times),
        "wait_share": sum(waits) / sum(times),
        "tflops": step_flops(config.model, args.batch_size) / median / 1e12,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None,
        "first_step_s": first_step,
    }


def print_profile(mode: str, one_step, steps: int = 10, top: int = 12) -> None:
    """The kernels with the most CUDA time per step, and the share of matrix products and attention."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            one_step()
        torch.cuda.synchronize()
    events = [e for e in prof.key_averages() if e.device_time_total > 0 and e.device_type.name == "CUDA"]
    total = sum(e.device_time_total for e in events)
    kinds = {"matmul": ("gemm", "cutlass", "sm90", "nvjet", "cublas"), "attention": ("flash", "fmha", "attention")}
    shares = {k: sum(e.device_time_total for e in events if any(w in e.key.lower() for w in words)) / total
              for k, words in kinds.items()}
    print(f"  {mode}: {total / steps / 1000:.2f} ms of kernels per step, {sum(e.count for e in events) // steps}"
          f" launches; matmul {100 * shares['matmul']:.0f}%, attention {100 * shares['attention']:.0f}%")
    for e in sorted(events, key=lambda e: -e.device_time_total)[:top]:
        print(f"    {e.device_time_total / steps / 1000:7.3f} ms {e.count // steps:5d}x  {e.key[:90]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--modes", default=DEFAULT_MODES, help=f"comma-separated, of {', '.join(MODES)}"
                        f" (default: {DEFAULT_MODES})")
    parser.add_argument("--compile-cache", type=Path, help="train's --compile-cache (default: the same as train's)")
    parser.add_argument("--profile", action="store_true", help="also list the kernels that take the most time")
    parser.add_argument("--data", help="time --task sudoku-dataset on this puzzle file instead of the default task")
    parser.add_argument("--puzzle-embeddings", action="store_true", help="with --data: train's --puzzle-embeddings")
    args = parser.parse_args()
    unknown = [mode for mode in args.modes.split(",") if mode not in MODES]
    if unknown:
        parser.error(f"unknown mode {', '.join(unknown)}; choose from {', '.join(MODES)}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    task = f"stage {LAST_STAGE}" if args.data is None else f"sudoku-dataset {args.data}"
    if args.puzzle_embeddings:
        task += ", puzzle embeddings"
    print(f"device {name}, torch {torch.__version__}, batch {args.batch_size}, {args.steps} timed steps, {task}")
    print(f"{'mode':<23}{'ms/step':>9}{'synced':>8}{'wait %':>8}{'TFLOP/s':>9}{'peak GiB':>10}{'first step s':>14}")
    for mode in args.modes.split(","):
        try:
            r = measure(mode, args, device)
        except Exception as error:  # one mode failing (e.g. CUDA graphs) should not hide the others
            print(f"{mode:<23} failed: {type(error).__name__}: {str(error).splitlines()[0][:150]}", flush=True)
            continue
        print(f"{r['mode']:<23}{r['ms_per_step']:>9.2f}{r['synced_ms_per_step']:>8.2f}{100 * r['wait_share']:>8.2f}"
              f"{r['tflops']:>9.1f}"
              f"{'-' if r['peak_gib'] is None else format(r['peak_gib'], '.2f'):>10}{r['first_step_s']:>14.1f}", flush=True)


if __name__ == "__main__":
    main()
