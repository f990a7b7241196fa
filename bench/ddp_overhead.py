"""What data-parallel training costs: ms/step of the default run plainly and under torchrun --nproc-per-node 1,
and the all-reduce volume per step with what it implies for 2, 4 and 8 GPUs.

One command times both: it runs itself once as a plain process and once under torchrun with one rank (the same
default run, seed and device: the difference is the wrapper, the gradient bucket and the shared step values),
each a fresh process (the same `train_step` and lagged reading as `train`, compiled and bf16 on CUDA as `train`'s
defaults; median over the timed steps after a warm-up). The estimate for N GPUs assumes a ring all-reduce, in
which every GPU sends and receives 2(N-1)/N of the bucket, at `--link-gbps` per GPU and direction (default 450
GB/s: NVLink 4 of an H100 SXM, 18 links of 25 GB/s); it is a lower bound (NCCL reaches a fraction of the link's
peak on a 27 MB message) and assumes nothing overlaps the all-reduce, which is issued after backward.

    python bench/ddp_overhead.py [--steps 200] [--warmup 30] [--repeats 1] [--compile auto|on|off]   # a GPU
    python bench/ddp_overhead.py --tiny                                                               # the CPU
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from src.hrm.modeling import ACTConfig, HRMACTModelConfig, TransformerConfig  # noqa: E402
from src.hrm.train_args import COMPILE_CHOICES  # noqa: E402
from src.hrm.training.config import Autocast, TrainConfig  # noqa: E402
from src.hrm.training.distributed import start_ranks  # noqa: E402
from src.hrm.training.loop import METRICS, compiled_segment_loss, step_values, train_step  # noqa: E402
from src.hrm.training.loss import segment_loss  # noqa: E402
from src.hrm.training.run import new_run  # noqa: E402

GPU_COUNTS = (2, 4, 8)


def tiny_config() -> TrainConfig:
    model = HRMACTModelConfig(
        transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64),
        act=ACTConfig(),
    )
    return TrainConfig(model=model, batch_size=8)


def child(args) -> dict:
    """Time the default run's steps in this process (plain, or one rank of torchrun's)."""
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    ranks = start_ranks(device)
    if ranks is not None:
        device = ranks.device
    if args.tiny:
        torch.set_num_threads(1)
    config = tiny_config() if args.tiny else TrainConfig()
    run = new_run(config, device, None if ranks is None else ranks.host_workers(None), ranks)
    if ranks is not None:
        ranks.join(run)
    compiled = args.compile == "on" or (args.compile == "auto" and device.type == "cuda")
    loss_fn = compiled_segment_loss(COMPILE_CHOICES["on"]) if compiled else segment_loss
    autocast = Autocast(device.type, torch.bfloat16 if device.type == "cuda" else None)
    names = step_values(run.rows, run.ranks)
    pending = []

    def one_step() -> None:
        run.rows.refill()
        pending.append(train_step(run, autocast, loss_fn))
        run.step += 1
        while len(pending) > 1:  # step i-1's values, read while step i runs, as `train` reads them
            values = dict(zip(names, pending.pop(0).tolist()))
            run.rows.observe(run.step - 1, values)
            if run.ranks is not None:
                run.ranks.observe(run.rows, values)

    try:
        for _ in range(args.warmup):
            one_step()
        times = []
        for _ in range(args.steps):
            began = time.perf_counter()
            one_step()
            times.append(time.perf_counter() - began)
        bucket_ms = None
        if run.ranks is not None:  # the gradient bucket alone: flatten, all-reduce (one rank), copy back
            parameters = [p for p in run.model.parameters() if p.requires_grad]
            for p in parameters:
                p.grad = torch.zeros_like(p)
            _synchronize(device)
            began = time.perf_counter()
            for _ in range(20):
                run.ranks.average_gradients(parameters)
            _synchronize(device)
            bucket_ms = 1000 * (time.perf_counter() - began) / 20
            run.optimizer.zero_grad(set_to_none=True)
    finally:
        run.close()
    trainable = [p for p in run.model.parameters() if p.requires_grad]
    result = {
        "ms_per_step": 1000 * statistics.median(times),
        "bucket_ms": bucket_ms,
        "gradient_values": sum(p.numel() for p in trainable),
        "gradient_bytes": 4 * sum(p.numel() for p in trainable),  # the bucket is float32, whatever the dtypes
        "shared_values": len(METRICS) + len(run.rows.counter_names) + 1,  # share_step's: values, counters, vote
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "compiled": compiled,
        "precision": "bf16" if device.type == "cuda" else "fp32",
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "batch": config.batch_size,
    }
    if ranks is not None:
        ranks.close()
    return result


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def launch(args, under_torchrun: bool) -> dict:
    """Run this script's child in a fresh process, plainly or as the one rank of torchrun; its result."""
    script = [str(Path(__file__).resolve()), "--child", "--steps", str(args.steps), "--warmup", str(args.warmup),
              "--compile", args.compile, *(["--tiny"] if args.tiny else [])]  # fmt: skip
    if under_torchrun:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1", *script]
    else:
        command = [sys.executable, *script]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{' '.join(command[1:3])}... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1, help="plain and torchrun runs, alternated (median taken)")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto", help="auto: on with CUDA")
    parser.add_argument("--tiny", action="store_true", help="a tiny model on the CPU (gloo), to check the script")
    parser.add_argument("--link-gbps", type=float, default=450.0, help="GB/s per GPU and direction for the estimate")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args)
        if int(os.environ.get("RANK", "0")) == 0:
            print(json.dumps(result), flush=True)
        return

    plain, wrapped = [], []
    for _ in range(args.repeats):
        plain.append(launch(args, under_torchrun=False))
        wrapped.append(launch(args, under_torchrun=True))
    first = wrapped[0]
    plain_ms = statistics.median(r["ms_per_step"] for r in plain)
    wrapped_ms = statistics.median(r["ms_per_step"] for r in wrapped)
    what = "tiny model" if args.tiny else "default model"
    print(f"device {first['device']}, torch {torch.__version__}, {what} ({first['parameters']:,} parameters),"
          f" batch {first['batch']}, {'compiled' if first['compiled'] else 'eager'}, {first['precision']},"
          f" {args.steps} timed steps after {args.warmup}, {args.repeats} run(s) each")  # fmt: skip
    print(f"{'mode':<32}{'ms/step':>9}")
    print(f"{'plain python':<32}{plain_ms:>9.3f}")
    print(f"{'torchrun --nproc-per-node 1':<32}{wrapped_ms:>9.3f}")
    print(f"overhead: {100 * (wrapped_ms - plain_ms) / plain_ms:+.1f}% (goal: at most 3%);"
          f" the gradient bucket alone (flatten, all-reduce, copy back): {first['bucket_ms']:.3f} ms")
    size = first["gradient_bytes"]
    print(f"all-reduce per step: gradients {size / 1e6:.1f} MB ({first['gradient_values']:,} float32 values),"
          f" plus {first['shared_values']} float64 step values")
    print(f"estimate at {args.link_gbps:g} GB/s per GPU and direction (ring all-reduce: 2(N-1)/N of the bytes"
          " each way), a lower bound:")
    for gpus in GPU_COUNTS:
        ms = 1000 * 2 * (gpus - 1) / gpus * size / (args.link_gbps * 1e9)
        print(f"  {gpus} GPUs: {1000 * ms:.1f} µs per step, {100 * ms / plain_ms:.2f}% of the step")


if __name__ == "__main__":
    main()
