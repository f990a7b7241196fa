"""Plot solve rate against puzzle rating, one line per `evaluate --json` report, as a PNG.

    python -m src.hrm.evaluate CKPT --data data/sudoku-mined-test.csv --rating-buckets 10,12,16,20,30,50,60,80 \
        --json > hard.json
    python -m src.hrm.plot_ratings base.json hard.json --label shipped --label hard --out ratings.png

Each report's `per_rating` buckets (lower edges from `--rating-buckets`) become points at the
bucket's lower edge, ACT solve rate on the y axis; the marker size follows the bucket's puzzle
count, and buckets with fewer puzzles than --min-count are left out (their rate is noise).
Bad input: one line on stderr, exit 2.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .cli_types import OneLineParser, output_file, positive_int
from .file_io import save_figure


@dataclass
class RatingCurve:
    label: str
    lower_edges: list[int]  # each bucket's lowest rating
    solve_rates: list[float]  # ACT solve rate per bucket
    counts: list[int]  # puzzles per bucket


def read_report(path, label: str | None = None, min_count: int = 1) -> RatingCurve:
    """The rating buckets of one `evaluate --json` report, sorted by rating."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"{path}: {err.strerror or err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not an evaluate --json report ({str(err).splitlines()[0]})") from None
    buckets = report.get("per_rating") if isinstance(report, dict) else None
    if not isinstance(buckets, dict) or not buckets:
        raise ValueError(f"{path}: has no per_rating buckets (evaluate a rated --data file with --json)")
    rows = []
    for name, bucket in buckets.items():
        lower = name.split("-")[0].rstrip("+")
        if not lower.isdigit() or not isinstance(bucket, dict) or "act_solve_rate" not in bucket:
            raise ValueError(f"{path}: bucket {name!r} is not an evaluate rating bucket")
        if bucket["num_puzzles"] >= min_count:
            rows.append((int(lower), float(bucket["act_solve_rate"]), int(bucket["num_puzzles"])))
    if not rows:
        raise ValueError(f"{path}: no bucket holds --min-count {min_count} puzzles")
    rows.sort()
    return RatingCurve(label or Path(report.get("checkpoint", path.stem)).stem,
                       [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def plot_ratings(curves: list[RatingCurve], out, title: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    largest = max(max(c.counts) for c in curves)
    for curve in curves:
        sizes = [12 + 120 * n / largest for n in curve.counts]
        (line,) = ax.plot(curve.lower_edges, [100 * r for r in curve.solve_rates], label=curve.label)
        ax.scatter(curve.lower_edges, [100 * r for r in curve.solve_rates], s=sizes, color=line.get_color())
    ax.set_xscale("symlog", linthresh=10)  # ratings run from 0 to hundreds: linear to 10, logarithmic above
    edges = sorted({edge for curve in curves for edge in curve.lower_edges})
    ax.set_xticks(edges, [str(edge) for edge in edges], minor=False)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("rating (the solver's guesses; bucket's lowest rating)")
    ax.set_ylabel("solved under ACT halting (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "Solve rate against rating (marker size: puzzles in the bucket)")
    save_figure(fig, out)


def main(argv=None) -> int:
    parser = OneLineParser(prog="python -m src.hrm.plot_ratings", description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", help="evaluate --json outputs of rated --data files")
    parser.add_argument("--label", action="append", help="a line's name, once per report (default: checkpoint name)")
    parser.add_argument("--out", required=True, type=output_file, help="PNG to write")
    parser.add_argument("--min-count", type=positive_int, default=20, help="leave out smaller buckets (default 20)")
    parser.add_argument("--title", help="figure title")
    args = parser.parse_args(argv)
    if args.label is not None and len(args.label) != len(args.reports):
        parser.error(f"{len(args.label)} --label for {len(args.reports)} reports; give one per report or none")
    try:
        labels = args.label or [None] * len(args.reports)
        curves = [read_report(path, label, args.min_count) for path, label in zip(args.reports, labels)]
        plot_ratings(curves, args.out, args.title)
    except ValueError as err:
        print(f"plot_ratings: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"plot_ratings: error: cannot write {args.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
