"""Training on several GPUs against one: throughput in rows/s per GPU count, and the loss curves at one global batch.

Every run is a real `train` process: a plain `python -m src.hrm.train` for one GPU, `torchrun --standalone
--nproc-per-node N -m src.hrm.train` for N, each into a fresh folder, the default run otherwise (seed 42,
compiled, bf16). NVLink multicast stays off in every child (NCCL_NVLS_ENABLE=0 and its kin are set unless
already set).

Throughput (the default): for each count in --gpus, --steps steps at the default per-rank batch, from
--start-stage (default 4, the last curriculum stage, where extreme puzzles must be generated for every rank).
From metrics.jsonl: the median ms/step over the steps after the first third (compiling is over by then), rows/s
(the carried rows each step, all ranks', per second), new puzzles per second, and the share of the time spent
waiting for puzzles; then the speed-up of each count over one GPU.

Curves (--curve): N GPUs at the per-rank batch against one GPU at N times that batch, the same global batch, for
--curve-steps steps from stage 0: the loss (a rolling mean) and the curriculum stage against the step, in one
PNG, with the step at which each run reached the last stage.

    python bench/multi_gpu.py --gpus 1,2 --steps 300                  # throughput on a machine with 2 GPUs
    python bench/multi_gpu.py --curve --gpus 2 --curve-steps 6000 --plot docs/ddp-curve.png
    python bench/multi_gpu.py --tiny --gpus 1,2 --steps 40 --curve --curve-steps 30   # the CPU (gloo): checks it
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from src.hrm.file_io import save_figure  # noqa: E402
from src.hrm.plot_metrics import read_metrics, rolling_mean  # noqa: E402
from src.hrm.tasks.curriculum import LAST_STAGE  # noqa: E402

TINY = ["--device", "cpu", "--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size",
        "64", "--workers", "1", "--compile", "off"]  # fmt: skip
NO_MULTICAST = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


def train(out_dir: Path, gpus: int, flags: list[str], tiny: bool) -> Path:
    """One run of `gpus` processes into out_dir; its metrics file. Exits with the trainer's error line on failure."""
    launcher = [sys.executable, "-m", "src.hrm.train"]
    if gpus > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(gpus),
                    "-m", "src.hrm.train"]  # fmt: skip
    command = [*launcher, "--out-dir", str(out_dir), "--log-format", "none", "--checkpoint-every", "1000000",
               "--keep-checkpoints", "1", *(TINY if tiny else []), *flags]  # fmt: skip
    env = {**NO_MULTICAST, **os.environ}
    if tiny:
        env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise SystemExit(f"error: {gpus} GPU run failed: {lines[-1] if lines else f'exit code {done.returncode}'}")
    return out_dir / "metrics.jsonl"


def throughput(metrics_path: Path, gpus: int, batch: int) -> dict:
    """ms/step, rows/s, new puzzles/s and waiting share over the steps after the first third."""
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    timed = records[len(records) // 3 :]
    steps = [b["elapsed"] - a["elapsed"] for a, b in zip(timed, timed[1:])]
    ms = 1000 * statistics.median(steps)
    seconds = timed[-1]["elapsed"] - timed[0]["elapsed"]
    return {
        "gpus": gpus, "ms_per_step": ms, "rows_per_second": gpus * batch * 1000 / ms,
        "puzzles_per_second": (timed[-1]["puzzles"] - timed[0]["puzzles"]) / seconds,
        "wait_share": statistics.fmean(r["wait_fraction"] for r in timed[1:]), "steps": len(records),
    }  # fmt: skip


def plot_curves(runs: dict[str, Path], out: Path, window: int) -> dict[str, int | None]:
    """Loss and stage against the step, a line per run; the step at which each reached the last stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss, stage) = plt.subplots(1, 2, figsize=(12, 4))
    reached = {}
    for label, path in runs.items():
        m = read_metrics(path)
        last = [int(s) for s, v in zip(m.step, m.values["stage"]) if v >= LAST_STAGE]
        reached[label] = last[0] if last else None
        loss.plot(m.step, rolling_mean(m.values["loss"], window), label=label, linewidth=1.2)
        stage.plot(m.step, m.values["stage"], label=f"{label}: stage {LAST_STAGE} at step {reached[label]}")
    loss.set_ylabel(f"loss ({window}-step mean)")
    stage.set_ylabel("curriculum stage")
    for axis in (loss, stage):
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(figure, out, dpi=100)
    return reached


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", default="1,2", help="GPU counts, comma-separated (default 1,2); --curve: the first >1")
    parser.add_argument("--steps", type=int, default=300, help="steps of each throughput run (default 300)")
    parser.add_argument("--batch-size", type=int, default=512, help="rows per GPU (default 512; --tiny 8)")
    parser.add_argument("--start-stage", type=int, default=LAST_STAGE, help="throughput runs' curriculum stage")
    parser.add_argument("--curve", action="store_true", help="also (or with --no-throughput, only) the loss curves")
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput runs")
    parser.add_argument("--curve-steps", type=int, default=6000, help="steps of each curve run (default 6000)")
    parser.add_argument("--plot", type=Path, default=Path("runs/multi-gpu/curve.png"), help="the curves' PNG")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--tiny", action="store_true", help="a tiny model on CPU processes (gloo), to check the bench")
    args = parser.parse_args()
    counts = [int(n) for n in args.gpus.split(",")]
    batch = 8 if args.tiny and args.batch_size == 512 else args.batch_size
    results = {"throughput": [], "curve": None}
    with tempfile.TemporaryDirectory(prefix="hrm-multi-gpu-") as work:
        if not args.no_throughput:
            print(f"{'GPUs':>5}{'ms/step':>9}{'rows/s':>10}{'puzzles/s':>11}{'wait %':>8}{'speed-up':>10}", flush=True)
            for gpus in counts:
                flags = ["--max-steps", str(args.steps), "--batch-size", str(batch), "--start-stage", str(args.start_stage)]
                r = throughput(train(Path(work) / f"t{gpus}", gpus, flags, args.tiny), gpus, batch)
                base = next((x for x in results["throughput"] if x["gpus"] == 1), r if gpus == 1 else None)
                r["speed_up"] = r["rows_per_second"] / base["rows_per_second"] if base else None
                results["throughput"].append(r)
                speed_up = "-" if r["speed_up"] is None else f"{r['speed_up']:.2f}x"
                print(f"{gpus:>5}{r['ms_per_step']:>9.2f}{r['rows_per_second']:>10.0f}{r['puzzles_per_second']:>11.0f}"
                      f"{100 * r['wait_share']:>8.2f}{speed_up:>10}", flush=True)  # fmt: skip
        if args.curve:
            gpus = next((n for n in counts if n > 1), 2)
            steps = ["--max-steps", str(args.curve_steps)]
            runs = {
                f"{gpus} GPUs x {batch} rows": train(Path(work) / "c-many", gpus, [*steps, "--batch-size", str(batch)],
                                                     args.tiny),
                f"1 GPU x {gpus * batch} rows": train(Path(work) / "c-one", 1, [*steps, "--batch-size",
                                                                                str(gpus * batch)], args.tiny),
            }  # fmt: skip
            reached = plot_curves(runs, args.plot, window=max(1, min(300, args.curve_steps // 20)))
            results["curve"] = {"steps": args.curve_steps, "last_stage_at": reached, "plot": str(args.plot)}
            for label, step in reached.items():
                print(f"{label}: stage {LAST_STAGE} {'not reached' if step is None else f'at step {step}'}")
            print(f"wrote {args.plot}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
