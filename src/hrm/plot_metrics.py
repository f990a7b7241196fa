"""Plot a training run's curves: loss, accuracy and curriculum stage (or epoch) over steps, as a PNG.

    python -m src.hrm.plot_metrics runs/main/metrics.jsonl
    python -m src.hrm.plot_metrics runs/main/metrics.jsonl --out docs/training-curve.png --window 300
    python -m src.hrm.plot_metrics runs/maze/leg1/metrics.jsonl runs/maze/leg2/metrics.jsonl ...

Several files are legs of one training, each started from the one before (`--init-from`): drawn one after
another, steps, minutes and rows drawn counted on from the leg before, each new leg marked.

Reads the `metrics.jsonl` that `python -m src.hrm.train` writes (one JSON object per step).
Per-step values are noisy (each step sees a different mix of puzzles), so the curves are
rolling means over --window steps, the raw values faint behind them. Bad input: one line on
stderr, exit 2.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cli_types import OneLineParser, output_file
from .file_io import save_figure
from .tasks.curriculum import CurriculumConfig
from .training.report import NOT_JSON, metrics_lines

SERIES = ("loss", "output_loss", "q_act_loss", "accuracy", "q_act_accuracy")
# How far a run is: the curriculum stage (generated Sudoku), the epoch (a dataset), else the rows drawn so far.
PROGRESS = ("stage", "epoch", "puzzles")


@dataclass
class RunMetrics:
    """One array per series, all aligned on `step` (sorted, duplicates from resumed runs resolved to the last)."""

    step: np.ndarray
    values: dict[str, np.ndarray]  # SERIES and the run's progress series
    elapsed: np.ndarray | None  # seconds since the run began, when every record has it
    progress: str = "stage"  # which of PROGRESS the run records
    legs: tuple[int, ...] = ()  # with several legs, the step where each leg after the first begins


def read_metrics(path) -> RunMetrics:
    """Parse a metrics.jsonl; a torn last line (a run killed while writing) is skipped, other bad lines are errors."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such metrics file")
    records = {}
    progress = None
    for number, _, record, last in metrics_lines(path):
        if record is NOT_JSON:
            if last:
                continue
            raise ValueError(f"{path}:{number}: not a JSON object")
        if progress is None and isinstance(record, dict):
            progress = next((key for key in PROGRESS if key in record), "stage, epoch or puzzles")
        missing = [key for key in ("step", *SERIES, progress) if not isinstance(record, dict) or key not in record]
        if missing:
            raise ValueError(f"{path}:{number}: record lacks {', '.join(missing)}")
        records[int(record["step"])] = record
    if not records:
        raise ValueError(f"{path}: holds no metrics records")
    steps = sorted(records)
    ordered = [records[step] for step in steps]
    optional = [key for key in ("solved", "puzzles") if all(key in r for r in ordered)]  # rows solved: path tasks
    values = {key: np.array([float(r[key]) for r in ordered]) for key in dict.fromkeys((*SERIES, progress, *optional))}
    elapsed = None
    if all("elapsed" in r for r in ordered):
        elapsed = np.array([float(r["elapsed"]) for r in ordered])
    return RunMetrics(np.array(steps), values, elapsed, progress)


def join_legs(legs: list[RunMetrics]) -> RunMetrics:
    """Legs of one training as one run: each leg's steps (and minutes, and rows drawn) go on from the leg before. The
    progress series is the curriculum stage when every leg has one, else the rows drawn."""
    if len(legs) == 1:
        return legs[0]
    progress = "stage" if all(leg.progress == "stage" for leg in legs) else "puzzles"
    if any(progress not in leg.values for leg in legs):
        raise ValueError("the legs record no common progress (rows drawn or stage)")
    shared = set.intersection(*(set(leg.values) for leg in legs))
    steps, values, elapsed, starts = [], {key: [] for key in shared}, [], []
    step_offset, time_offset, rows_offset = 0, 0.0, 0.0
    for leg in legs:
        if steps:
            starts.append(step_offset + int(leg.step[0]))
        steps.append(leg.step + step_offset)
        for key in shared:
            values[key].append(leg.values[key] + (rows_offset if key == "puzzles" else 0))
        if leg.elapsed is not None:
            elapsed.append(leg.elapsed + time_offset)
            time_offset = elapsed[-1][-1]
        step_offset = int(steps[-1][-1])
        rows_offset = values["puzzles"][-1][-1] if "puzzles" in shared else 0.0
    joined = {key: np.concatenate(parts) for key, parts in values.items()}
    time = np.concatenate(elapsed) if all(leg.elapsed is not None for leg in legs) else None
    return RunMetrics(np.concatenate(steps), joined, time, progress, tuple(starts))


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` values at each point (fewer at the start), like the curriculum's window."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    sums = np.cumsum(np.concatenate([[0.0], values.astype(np.float64)]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def graduations(metrics: RunMetrics) -> list[tuple[int, int]]:
    """(step, new stage) wherever the stage rises (none for a run without a curriculum)."""
    if metrics.progress != "stage":
        return []
    stage = metrics.values["stage"]
    rises = np.nonzero(np.diff(stage) > 0)[0] + 1
    return [(int(metrics.step[i]), int(stage[i])) for i in rises]


def plot(metrics: RunMetrics, out_path, window: int, title: str | None = None) -> None:
    """Write the three-panel figure to `out_path` atomically (a half-written PNG never replaces a good one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    step = metrics.step
    figure, (loss_axis, accuracy_axis, stage_axis) = plt.subplots(
        3, 1, figsize=(10, 9), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.3]}
    )
    for key, label, color in (
        ("loss", "total loss", "black"),
        ("output_loss", "output loss", "tab:blue"),
        ("q_act_loss", "Q-ACT loss", "tab:orange"),
    ):
        loss_axis.plot(step, metrics.values[key], color=color, alpha=0.12, linewidth=0.5)
        loss_axis.plot(step, rolling_mean(metrics.values[key], window), color=color, label=label, linewidth=1.4)
    loss_axis.set_ylabel("loss")
    loss_axis.set_yscale("log")
    loss_axis.legend(loc="upper right")

    threshold = CurriculumConfig().threshold
    for key, label, color in (
        ("accuracy", "cell accuracy (givens counted)", "tab:green"),
        ("q_act_accuracy", "Q-halt accuracy", "tab:purple"),
        ("solved", "rows solved", "tab:brown"),
    ):
        if key not in metrics.values:
            continue
        accuracy_axis.plot(step, metrics.values[key], color=color, alpha=0.12, linewidth=0.5)
        accuracy_axis.plot(step, rolling_mean(metrics.values[key], window), color=color, label=label, linewidth=1.4)
    if metrics.progress == "stage":
        accuracy_axis.axhline(
            threshold, color="grey", linestyle=":", linewidth=1, label=f"graduation threshold {threshold}"
        )
    accuracy_axis.set_ylabel(f"accuracy ({window}-step mean)")
    accuracy_axis.legend(loc="lower right")

    if metrics.progress == "stage":
        stage_axis.step(step, metrics.values["stage"], where="post", color="tab:red")
        stage_axis.set_yticks(range(int(metrics.values["stage"].max()) + 1))
    else:
        stage_axis.plot(step, metrics.values[metrics.progress], color="tab:red")
    stage_axis.set_ylabel({"puzzles": "rows drawn"}.get(metrics.progress, metrics.progress))
    stage_axis.set_xlabel("step")
    for graduation_step, stage in graduations(metrics):
        for axis in (loss_axis, accuracy_axis, stage_axis):
            axis.axvline(graduation_step, color="tab:red", alpha=0.25, linewidth=0.8)
        stage_axis.annotate(f"{graduation_step}", (graduation_step, stage), textcoords="offset points",
                            xytext=(3, -10), fontsize=7)
    for number, leg_step in enumerate(metrics.legs, start=2):
        for axis in (loss_axis, accuracy_axis, stage_axis):
            axis.axvline(leg_step, color="black", linestyle="--", alpha=0.5, linewidth=0.8)
        loss_axis.annotate(f"leg {number}", (leg_step, 1), xycoords=("data", "axes fraction"),
                           textcoords="offset points", xytext=(3, -12), fontsize=8)
    for axis in (loss_axis, accuracy_axis, stage_axis):
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    save_figure(figure, out_path)


def summary(metrics: RunMetrics, window: int) -> str:
    last = {key: rolling_mean(metrics.values[key], window)[-1] for key in SERIES}
    now = metrics.values[metrics.progress][-1]
    where = {"stage": f"stage {int(now)}", "epoch": f"epoch {now:.2f}"}.get(metrics.progress, f"{int(now):,} rows drawn")
    parts = [f"{len(metrics.step)} steps (last {int(metrics.step[-1])})"]
    if metrics.legs:
        parts.append(f"{len(metrics.legs) + 1} legs")
    if metrics.elapsed is not None:
        parts.append(f"{metrics.elapsed[-1] / 60:.1f} min")
    parts.append(f"final {window}-step means: loss {last['loss']:.4f}, accuracy {last['accuracy']:.4f}, "
                 f"Q accuracy {last['q_act_accuracy']:.4f}, {where}")
    stages = ", ".join(f"stage {stage} at step {s}" for s, stage in graduations(metrics))
    return "; ".join(parts) + (f"\ngraduations: {stages}" if stages else "")


def main(argv=None) -> int:
    parser = OneLineParser(prog="python -m src.hrm.plot_metrics", description=__doc__.split("\n\n")[0])
    parser.add_argument("metrics", nargs="+", help="a run's metrics.jsonl; several: legs of one training, in order")
    parser.add_argument("--out", type=output_file, help="PNG to write (default: next to the metrics file, training-curve.png)")
    parser.add_argument("--window", type=int, default=300, help="rolling-mean window in steps (default 300)")
    parser.add_argument("--title", help="figure title")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.metrics[-1]).with_name("training-curve.png")
    try:
        if args.window < 1:
            raise ValueError(f"--window must be at least 1, got {args.window}")
        if not out.parent.is_dir():
            raise ValueError(f"{out.parent}: no such directory for --out")
        metrics = join_legs([read_metrics(path) for path in args.metrics])
    except (ValueError, OSError) as error:
        print(f"plot_metrics: error: {error}", file=sys.stderr)
        return 2
    plot(metrics, out, args.window, args.title)
    print(summary(metrics, args.window))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
