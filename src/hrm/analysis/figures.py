"""The analysis figures: forward residuals, participation ratios, per-segment accuracy and Q, prediction grids."""

import numpy as np
from PIL import Image

from ..file_io import atomic_write, save_figure


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_residuals(summaries: dict[str, dict], path, segments: int = 4) -> None:
    """‖z_t − z_{t−1}‖/‖z_{t−1}‖ of both levels over the updates of the first `segments` segments, one panel per model."""
    plt = _figure()
    figure, axes = plt.subplots(1, len(summaries), figsize=(6 * len(summaries), 4.2), sharey=True, squeeze=False)
    for axis, (name, summary) in zip(axes[0], summaries.items()):
        updates = [u for u in summary["updates"] if u["segment"] <= segments]
        for level, colour in (("low", "tab:blue"), ("high", "tab:red")):
            points = [(u["index"], u["residual"]) for u in updates if u["level"] == level]
            axis.plot(*zip(*points), "o-" if level == "high" else ".-", color=colour, label=f"{level} level",
                      markersize=6 if level == "high" else 4)
        boundaries = [u["index"] - 0.5 for a, u in zip(updates, updates[1:]) if u["segment"] != a["segment"]]
        for x in boundaries:
            axis.axvline(x, color="grey", alpha=0.4, linestyle=":")
        axis.set_yscale("log")
        axis.set_title(name)
        axis.set_xlabel(f"update (segments 1-{segments}, dotted lines between segments)")
        axis.grid(alpha=0.3)
        axis.legend()
    axes[0][0].set_ylabel("forward residual  ||z_t - z_(t-1)|| / ||z_(t-1)||")
    save_figure(figure, path)


def plot_participation(summaries: dict[str, dict], path) -> None:
    """Participation ratio of the high- and low-level states, per model."""
    plt = _figure()
    figure, axis = plt.subplots(figsize=(5.5, 4))
    names = list(summaries)
    x = np.arange(len(names))
    for offset, level, colour in ((-0.18, "high", "tab:red"), (0.18, "low", "tab:blue")):
        values = [summaries[n]["participation_ratio"][level] for n in names]
        bars = axis.bar(x + offset, values, width=0.34, color=colour, label=f"{level} level")
        axis.bar_label(bars, fmt="%.1f", fontsize=8)
    axis.set_xticks(x, names)
    axis.set_ylabel("participation ratio (effective dimensions)")
    axis.legend()
    axis.grid(alpha=0.3, axis="y")
    save_figure(figure, path)


def plot_segments(summaries: dict[str, dict], path) -> None:
    """Solve rate, accuracy of the filled cells and mean Q values after each segment."""
    plt = _figure()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, summary), style in zip(summaries.items(), ("-", "--")):
        rows = summary["per_segment"]
        k = [r["segment"] for r in rows]
        left.plot(k, [r["solve_rate"] for r in rows], style, color="tab:green", label=f"solved ({name})")
        left.plot(k, [r["cell_accuracy"] for r in rows], style, color="tab:blue", label=f"cells ({name})")
        right.plot(k, [r["q_halt"] for r in rows], style, color="tab:red", label=f"Q halt ({name})")
        right.plot(k, [r["q_continue"] for r in rows], style, color="tab:purple", label=f"Q continue ({name})")
    left.set_ylabel("rate")
    right.set_ylabel("mean sigmoid")
    for axis in (left, right):
        axis.set_xlabel("segment")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    save_figure(figure, path)


def prediction_grid(frames: list[Image.Image], path, columns: int = 4) -> None:
    """Frames (one per puzzle) tiled into one PNG."""
    width, height = frames[0].size
    rows = -(-len(frames) // columns)
    grid = Image.new("RGB", (columns * width, rows * height), (255, 255, 255))
    for i, frame in enumerate(frames):
        grid.paste(frame, ((i % columns) * width, (i // columns) * height))
    with atomic_write(path, binary=True) as file:
        grid.save(file, format="PNG")
