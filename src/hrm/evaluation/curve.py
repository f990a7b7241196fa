"""The test-time compute curve: solve rate against the number of views K and against the segments spent.

One point per K: the puzzles solved with K views (of every checkpoint), the segments their views
ran per puzzle, and the wall time; per difficulty or rating bucket too. `measure_views` measures
one point (`evaluate --views K` reports it alone); `evaluate --views-curve` measures one per K and
writes them with `write_curve` as one JSON file and one PNG.
"""

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..file_io import save_figure, write_text_atomically
from .scaling import ViewRun, run_views, stop_rule
from .views import Q_RULES, Choice

if TYPE_CHECKING:  # evaluation sits below tasks: a task is handed in, never imported
    from ..tasks import Task


def measure_views(task: "Task", models, inputs: np.ndarray, targets: np.ndarray, groups: np.ndarray, names: list[str],
                  views: int, *, seed: int, batch_size: int, device, max_segments: int | None = None,
                  autocast_dtype=None, agree: int | None = None) -> dict:  # fmt: skip
    """Solve `views` views of every puzzle with every checkpoint (`run_views`), timed, scored by the task
    (is_correct against targets): the numbers of summarize_run."""
    start = time.perf_counter()
    run = run_views(models, inputs, views, task.view_rules(seed), batch_size, device, max_segments, autocast_dtype,
                    agree)  # fmt: skip
    seconds = time.perf_counter() - start
    choice = run.choose()
    summary = summarize_run(views, run, choice, task.is_correct(inputs, targets, choice.answers), groups, names,
                            seconds)  # fmt: skip
    # With no checker: what the Q head alone would have chosen among the same views.
    summary["q_selection"] = {rule: float(task.is_correct(inputs, targets, run.choose_by_q(rule)).mean())
                              for rule in Q_RULES} if len(inputs) else {}  # fmt: skip
    return summary


def summarize_run(views: int, run: ViewRun, choice: Choice, solved: np.ndarray, groups: np.ndarray,
                  names: list[str], seconds: float) -> dict:  # fmt: skip
    """The numbers of one run of K views: solve rate, how the answers were chosen, segments and time per puzzle;
    per group for each of `names` (groups: each puzzle's group name)."""
    count = len(solved)
    per_group = {}
    for name in names:
        rows = groups == name
        if rows.any():
            per_group[name] = {"puzzles": int(rows.sum()), "solve_rate": float(solved[rows].mean()),
                               "mean_segments": float(run.spent[rows].mean())}  # fmt: skip
    return {
        "views": views,
        "checkpoints": run.candidates.shape[1] // views,
        "solve_rate": float(solved.mean()) if count else None,
        "accepted": int(choice.accepted.sum()),
        "accepted_but_wrong": int((choice.accepted & ~solved).sum()),
        "mean_agreeing": float(choice.agreeing.mean()) if count else None,
        "mean_segments": float(run.spent.mean()) if count else None,
        "stopped_early": int((run.stopped_at > 0).sum()),
        "seconds": seconds,
        "puzzles_per_second": count / max(seconds, 1e-9),
        "per_group": per_group,
    }


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def format_views(v: dict) -> str:
    """The --views lines of evaluate's report: beside the model alone, how answers were chosen, the cost."""
    views = f"{v['views']} view{'s' if v['views'] > 1 else ''}"
    ensemble = f" of {v['checkpoints']} checkpoints" if v["checkpoints"] > 1 else ""
    stop = f"; {stop_rule(v['early_stop'])}: {v['stopped_early']} puzzles stopped early" if v["early_stop"] else ""
    lines = [
        f"With {views}{ensemble}: solve rate {percent(v['solve_rate'])} (the model alone:"
        f" {percent(v['solve_rate_alone'])}); the checker accepted {v['accepted']} answers, of which"
        f" {v['accepted_but_wrong']} wrong; {v['mean_agreeing']:.1f} views agreed on the answer on average",
        f"  {v['mean_segments']:.1f} segments per puzzle (all views){stop}; {v['puzzles_per_second']:.2f} puzzles/s",
    ]
    if v["per_group"]:
        lines.append("  " + ", ".join(f"{name} {percent(g['solve_rate'])}" for name, g in v["per_group"].items()))
    if v.get("q_selection"):
        rules = ", ".join(f"{rule} {percent(rate)}" for rule, rate in v["q_selection"].items())
        lines.append(f"  without the checker, chosen by the Q head: {rules}")
    return "\n".join(lines)


def format_point(p: dict) -> str:
    """One row of the curve's table: K, solve rate, segments per puzzle, puzzles per second."""
    return (f"  {p['views']:>5}  {percent(p['solve_rate']):>8}  {p['mean_segments']:>8.1f}"
            f"  {p['puzzles_per_second']:>9.2f}")


def format_curve(curve: dict) -> str:
    """The curve as a table, then the speed with 8 views when it was measured."""
    lines = [f"Test-time compute curve ({curve['num_puzzles']} puzzles, {stop_rule(curve['early_stop'])}):",
             "  views     solve  segments  puzzles/s", *map(format_point, curve["points"])]  # fmt: skip
    for p in curve["points"]:
        if p["per_group"]:
            lines.append(f"  K={p['views']}: " + ", ".join(
                f"{name} {percent(g['solve_rate'])} in {g['mean_segments']:.1f} segments"
                for name, g in p["per_group"].items()))  # fmt: skip
    eight = [p for p in curve["points"] if p["views"] == 8]
    if eight:
        lines.append(f"Puzzles per second with 8 views: {eight[0]['puzzles_per_second']:.2f} ({curve['device']},"
                     f" {curve['precision']})")  # fmt: skip
    return "\n".join(lines)


def write_curve(curve: dict, folder) -> tuple[Path, Path]:
    """curve.json and curve.png in `folder` (which exists); their paths."""
    folder = Path(folder)
    data, picture = folder / "curve.json", folder / "curve.png"
    write_text_atomically(data, json.dumps(curve, indent=2) + "\n")
    plot_curve(curve, picture)
    return data, picture


def plot_curve(curve: dict, path) -> None:
    """Two panels: solve rate against K (log scale) and against mean segments per puzzle; one line for all the
    puzzles and one per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    points = curve["points"]
    series = {"all": [(p["views"], p["mean_segments"], p["solve_rate"]) for p in points]}
    names = [name for name in points[0]["per_group"]] if len(points[0]["per_group"]) > 1 else []
    for name in names:
        series[name] = [(p["views"], p["per_group"][name]["mean_segments"], p["per_group"][name]["solve_rate"])
                        for p in points if name in p["per_group"]]  # fmt: skip
    figure, (by_views, by_segments) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, values in series.items():
        views, segments, rates = zip(*values)
        style = dict(marker="o", linewidth=2.2 if name == "all" else 1.2, color="black" if name == "all" else None)
        by_views.plot(views, [100 * r for r in rates], label=name, **style)
        by_segments.plot(segments, [100 * r for r in rates], label=name, **style)
    by_views.set_xscale("log", base=2)
    by_views.set_xticks([p["views"] for p in points], [str(p["views"]) for p in points])
    by_views.set_xlabel("views K" + (f" (× {points[0]['checkpoints']} checkpoints)" if points[0]["checkpoints"] > 1
                                     else ""))  # fmt: skip
    by_segments.set_xscale("log", base=2)
    by_segments.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    by_segments.set_xlabel("segments spent per puzzle (all views)")
    for axes in (by_views, by_segments):
        axes.set_ylabel("solved (%)")
        axes.grid(True, alpha=0.3)
    by_segments.legend(fontsize=8)
    checkpoints = ", ".join(Path(c).name for c in curve["checkpoints"])
    figure.suptitle(f"{checkpoints}: {curve['num_puzzles']} puzzles, {stop_rule(curve['early_stop'])}", fontsize=10)
    save_figure(figure, path)
