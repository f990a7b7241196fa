"""What `evaluate` prints for a task scored by `compute_metrics`: the report, the per-group tables, the buckets.

A group is a difficulty, a rating bucket or a givens count: any label per row. Buckets turn a
number per row (a rating, the givens) into labels from increasing lower edges.
"""

import numpy as np

from .inference import BatchPredictions, Metrics, compute_metrics

# Every row, its answer and its prediction are held until the report: far more would exhaust memory, killed by the
# system with no message. A million Sudoku puzzles take about 1 GB.
MAX_ROWS = 1_000_000


def check_row_count(total: int, what: str = "puzzles") -> None:
    """Refuse, in one line, an evaluation of more generated rows than it can hold."""
    if total > MAX_ROWS:
        raise ValueError(f"--num asks for {total:,} {what} in all, more than the {MAX_ROWS:,} an evaluation"
                         " holds in memory; evaluate in parts with different --seed values")  # fmt: skip


def bucket_labels(edges: list[int]) -> list[str]:
    """Bucket names in order: "<5" below the first edge, "10-19" between edges, "100+" from the last."""
    between = [f"{low}" if high == low + 1 else f"{low}-{high - 1}" for low, high in zip(edges, edges[1:])]
    return [f"<{edges[0]}", *between, f"{edges[-1]}+"]


def bucket_names(values: np.ndarray, edges: list[int]) -> np.ndarray:
    """The bucket label of each value."""
    return np.array(bucket_labels(edges), dtype=object)[np.searchsorted(edges, values, side="right")]


def present(names: np.ndarray, labels: list[str]) -> list[str]:
    """The labels some row has, in the labels' order."""
    return [label for label in labels if (names == label).any()]


def metrics_by(inputs: np.ndarray, targets: np.ndarray, predictions: BatchPredictions, names: np.ndarray,
               labels: list[str]) -> dict[str, Metrics]:  # fmt: skip
    """Metrics of the rows named each label, in the labels' order; labels no row has are left out."""
    return {label: compute_metrics(inputs[rows], targets[rows], predictions.select(rows))
            for label in labels if (rows := names == label).any()}  # fmt: skip


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


# The per-group table: header, width, cell.
_COLUMNS = (
    ("difficulty", -10, lambda name, g: name),
    ("puzzles", 7, lambda name, g: str(g.num_puzzles)),
    ("ACT solve", 10, lambda name, g: percent(g.act_solve_rate)),
    ("cells", 8, lambda name, g: percent(g.act_cell_accuracy)),
    ("segments", 8, lambda name, g: f"{g.mean_act_segments:.2f}"),
    ("budget solve", 12, lambda name, g: percent(g.budget_solve_rate)),
    ("Q halted", 8, lambda name, g: str(g.q_halted)),
    ("Q precision", 11, lambda name, g: percent(g.q_halt_precision)),
)


def _table_row(cells) -> str:
    return "  " + " ".join(f"{cell:<{-w}}" if w < 0 else f"{cell:>{w}}" for cell, (_, w, _) in zip(cells, _COLUMNS))


def format_report(summary: dict, metrics: Metrics, by_group: dict[str, Metrics], group_kind: str = "difficulty") -> str:
    """The human-readable report of one evaluation."""
    m, excluded = metrics, summary.get("excluded", [])
    lines = [
        f"Checkpoint: {summary['checkpoint']}",
        f"Puzzles: {summary['source']}",
        f"Device: {summary['device']} ({summary['precision']})",
        f"Scored: {m.num_puzzles} puzzles" + (f", {len(excluded)} excluded" if excluded else ""),
    ]
    lines += [f"  excluded line {item['line']}: {item['reason']}" for item in excluded[:10]]
    if len(excluded) > 10:
        lines.append(f"  ... and {len(excluded) - 10} more")
    lines += [
        f"ACT halting (the first segment where the Q head says halt, at most {summary['act_max_segments']}):",
        f"  solve rate       {percent(m.act_solve_rate)}  ({m.act_solved} / {m.num_puzzles})",
        f"  cell accuracy    {percent(m.act_cell_accuracy)}  (blank cells)",
        f"  mean segments    {m.mean_act_segments:.2f}",
        f"  halted by Q      {m.q_halted} / {m.num_puzzles}; solved when halted by Q: {percent(m.q_halt_precision)}"
        " (Q-halt precision)",
        f"Fixed budget ({summary['budget_segments']} segments):",
        f"  solve rate       {percent(m.budget_solve_rate)}  ({m.budget_solved} / {m.num_puzzles})",
        f"  cell accuracy    {percent(m.budget_cell_accuracy)}  (blank cells)",
        f"Speed: {summary['puzzles_per_second']:.1f} puzzles/s ({summary['seconds']:.2f} s)",
    ]
    if by_group:
        lines.append(format_groups(by_group, group_kind))
    return "\n".join(lines)


def format_groups(by_group: dict[str, Metrics], group_kind: str) -> str:
    """The per-group table: a row per difficulty, rating bucket or givens count."""
    lines = [f"Per {group_kind}:", _table_row([group_kind, *(header for header, _, _ in _COLUMNS[1:])])]
    lines += [_table_row(cell(name, g) for _, _, cell in _COLUMNS) for name, g in by_group.items()]
    return "\n".join(lines)
