"""Time to quality: GPU minutes from a fresh start until a fixed set of generated extreme puzzles is solved at a target
rate (default 80%), for runs in different speed modes, and their learning curves on one plot.

Each run `NAME:FLAGS` is a real `python -m src.hrm.train` process (seed 42, the default task, then FLAGS) into
OUT/NAME that keeps a checkpoint every --every steps. Every checkpoint is then scored under ACT halting, as
`evaluate` scores it, on --extreme generated extreme puzzles of seed --eval-seed (the same puzzles for every run
and checkpoint), and placed at the run's training minutes at that step (`elapsed` in metrics.jsonl: compiling,
puzzle waiting and checkpoint saving included). Checkpoints are scored while the run trains (about a second of
GPU time each, in this process), and a run that reaches the target is stopped there with Ctrl-C's clean stop (it
saves and exits) unless --keep-going. Giving the same command again resumes each run not yet at its target for
another --minutes (a GPU lease is shorter than a run) and scores only the new checkpoints.

    python bench/time_to_quality.py --minutes 8 --out runs/ttq --run default: \\
        --run fastest:"--compile cudagraphs --activation-dtype bfloat16 --no-q-continue"
    python bench/time_to_quality.py --out runs/ttq --plot-only --run default: --run fastest:   # the plot again

Writes OUT/NAME/quality.json (per checkpoint: step, minutes, stage, solve rate; the first minutes at the target)
and OUT/quality.png: the solve rate, the training accuracy and the curriculum stage against training minutes.
"""

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from options_ab import REPO, parse_variant, scores  # noqa: E402  (the same scoring as the options bench)

from src.hrm.checkpoint import load_model  # noqa: E402
from src.hrm.file_io import save_figure  # noqa: E402
from src.hrm.plot_metrics import read_metrics, rolling_mean  # noqa: E402
from src.hrm.sudoku import Difficulty, generate_batch  # noqa: E402
from src.hrm.training.run import checkpoint_steps  # noqa: E402


def train(name: str, flags: list[str], args, score) -> dict:
    """Start the run, or resume it, for --minutes more, scoring its checkpoints as they come (`score()` scores the new
    ones and returns the quality record); stops it at the target unless --keep-going. Exits with the trainer's error
    line if it fails."""
    run_dir = args.out / name
    resume = bool(checkpoint_steps(run_dir))
    if resume and not args.keep_going and (record := score())["minutes_to_target"] is not None:
        print(f"{name}: at the target already", flush=True)
        return record
    command = [sys.executable, "-m", "src.hrm.train", "--out-dir", str(run_dir), "--max-minutes", str(args.minutes),
               "--checkpoint-every", str(args.every), "--keep-checkpoints", "all", "--log-format", "none"]
    # On resume the run keeps its settings; FLAGS go along for the run flags among them (limits, device, compile).
    command += ["--seed", str(args.seed), *flags, *(["--resume"] if resume else [])]
    print(f"{name}: {'resuming' if resume else 'starting'} for {args.minutes} min", flush=True)
    log_path = args.out / f"{name}.log"  # the trainer's output, for its error line
    with open(log_path, "w") as log:
        trainer = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        stopping, scored = False, set()
        try:
            while trainer.poll() is None:
                time.sleep(args.poll)
                if (steps := set(checkpoint_steps(run_dir))) <= scored:
                    continue  # no new checkpoint: nothing to score (and metrics.jsonl may still be empty)
                scored = steps
                if score()["minutes_to_target"] is not None and not (stopping or args.keep_going):
                    print(f"{name}: at the target; stopping the run", flush=True)
                    trainer.send_signal(signal.SIGINT)  # the trainer's clean stop: it saves this step and exits
                    stopping = True
        finally:
            if trainer.poll() is None:  # this process is failing: leave no trainer running on its own
                trainer.kill()
                trainer.wait()
    if trainer.returncode != 0:
        lines = [line for line in log_path.read_text().splitlines() if line.strip()]
        raise SystemExit(f"error: {name}: {lines[-1] if lines else f'exit code {trainer.returncode}'}")
    return score()


def score_checkpoints(name: str, args, puzzles, solutions, device) -> dict:
    """Score the run's checkpoints not scored yet; its quality record, written atomically."""
    run_dir = args.out / name
    path = run_dir / "quality.json"
    record = json.loads(path.read_text()) if path.is_file() else {"points": []}
    done = {p["step"] for p in record["points"]}
    metrics = read_metrics(run_dir / "metrics.jsonl")
    at = {int(s): i for i, s in enumerate(metrics.step)}
    for step, file in sorted(checkpoint_steps(run_dir).items()):
        if step in done or step not in at:
            continue
        model = load_model(file, device).eval()
        result = scores(model, puzzles, solutions, device)
        i = at[step]
        record["points"].append({
            "step": step, "minutes": round(float(metrics.elapsed[i]) / 60, 3),
            "stage": int(metrics.values["stage"][i]) if metrics.progress == "stage" else None,
            "solve_rate": result["act_solve_rate"], "q_halt_precision": result["q_halt_precision"],
        })  # fmt: skip
        print(f"  {name} step {step}: {record['points'][-1]['minutes']:.2f} min, extreme "
              f"{100 * result['act_solve_rate']:.1f}%", flush=True)
    record["points"].sort(key=lambda p: p["step"])
    reached = [p for p in record["points"] if p["solve_rate"] >= args.target]
    record.update(target=args.target, minutes_to_target=reached[0]["minutes"] if reached else None,
                  steps_to_target=reached[0]["step"] if reached else None)  # fmt: skip
    tmp = path.with_name(".quality.json.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return record


def plot(names: list[str], args) -> Path:
    """Extreme solve rate, training accuracy and stage against training minutes, a line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rate, accuracy, stage) = plt.subplots(1, 3, figsize=(15, 4))
    for name in names:
        run_dir = args.out / name
        if not (run_dir / "quality.json").is_file():
            continue
        record = json.loads((run_dir / "quality.json").read_text())
        minutes = [p["minutes"] for p in record["points"]]
        reached = record.get("minutes_to_target")
        label = f"{name}: {args.target:.0%} at {reached:.1f} min" if reached else f"{name}: {args.target:.0%} not reached"
        (line,) = rate.plot(minutes, [100 * p["solve_rate"] for p in record["points"]], marker="o", markersize=3,
                            label=label)  # fmt: skip
        metrics = read_metrics(run_dir / "metrics.jsonl")
        accuracy.plot(metrics.elapsed / 60, rolling_mean(metrics.values["accuracy"], 300), color=line.get_color(),
                      label=name)  # fmt: skip
        if metrics.progress == "stage":
            stage.plot(metrics.elapsed / 60, metrics.values["stage"], color=line.get_color(), label=name)
    rate.axhline(100 * args.target, color="grey", linewidth=0.8, linestyle="--")
    rate.set_ylabel(f"solved, {args.extreme} generated extreme puzzles (%)")
    accuracy.set_ylabel("training cell accuracy (300-step mean)")
    stage.set_ylabel("curriculum stage")
    for axis in (rate, accuracy, stage):
        axis.set_xlabel("training minutes (compiling included)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="lower right")
    out = args.out / "quality.png"
    save_figure(figure, out, dpi=100)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=parse_variant, action="append", required=True, metavar="NAME:FLAGS",
                        help="a run and its train flags (repeat)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("runs/ttq"))
    parser.add_argument("--minutes", type=float, default=8.0, help="each run's --max-minutes this time (default 8)")
    parser.add_argument("--every", type=int, default=1500, help="checkpoint period in steps (default 1500)")
    parser.add_argument("--target", type=float, default=0.8, help="the solve rate to reach (default 0.8)")
    parser.add_argument("--extreme", type=int, default=1000, help="generated extreme puzzles (default 1000)")
    parser.add_argument("--eval-seed", type=int, default=5, help="their seed (default 5)")
    parser.add_argument("--seed", type=int, default=42, help="every run's --seed (default 42)")
    parser.add_argument("--keep-going", action="store_true", help="train the full --minutes past the target")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between looks for new checkpoints (default 5)")
    parser.add_argument("--plot-only", action="store_true", help="redraw OUT/quality.png from the saved records")
    args = parser.parse_args()
    if not 0 <= args.target <= 1 or args.poll <= 0 or args.every < 1 or args.minutes <= 0:
        parser.error("--target must lie in [0, 1]; --poll, --every and --minutes must be positive")
    names = [name for name, _ in args.run]
    if not args.plot_only:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        puzzles, solutions = generate_batch([Difficulty.EXTREME] * args.extreme, seed=args.eval_seed)
        puzzles, solutions = np.asarray(puzzles), np.asarray(solutions)
        args.out.mkdir(parents=True, exist_ok=True)
        for name, flags in args.run:
            started = time.monotonic()
            record = train(name, flags, args, lambda name=name: score_checkpoints(name, args, puzzles, solutions, device))
            reached = record["minutes_to_target"]
            print(f"{name}: {'not yet at' if reached is None else f'{reached:.2f} min to'} {args.target:.0%}"
                  f" ({(time.monotonic() - started) / 60:.1f} min of this command)", flush=True)
    print(f"wrote {plot(names, args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
