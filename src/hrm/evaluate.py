"""Score a checkpoint on many puzzles, batched, under ACT halting and at a fixed budget of segments.

    python -m src.hrm.evaluate CHECKPOINT --difficulty hard --num 1000 --seed 0
    python -m src.hrm.evaluate CHECKPOINT --difficulty easy,medium,hard,extreme --num 250
    python -m src.hrm.evaluate CHECKPOINT --data test.csv --limit 10000 --json
    python -m src.hrm.evaluate CHECKPOINT --data hard.csv --min-rating 10 --rating-buckets 10,20,50,100
    python -m src.hrm.evaluate BOARDPATH_CHECKPOINT --num 1000 [--min-path 20]
    python -m src.hrm.evaluate CHECKPOINT --difficulty hard --views 8 [--ensemble OTHER,...] [--early-stop 1]
    python -m src.hrm.evaluate CHECKPOINT --difficulty hard,extreme --views-curve 1,2,4,8,16,32 --curve-out DIR

Puzzles come either from the generator (deterministic in --seed) or from a file: one
puzzle per line with an optional `,solution`, or a CSV with question/answer columns (the
Sudoku-Extreme layout `source,question,answer,rating`; hf://sapientinc/sudoku-extreme reads
its test.csv). When the file has ratings, the report has a row per rating bucket; a file's puzzles are also
reported per givens count. Test-time
scaling (views, several checkpoints, early stop, the compute curve): docs/inference.md.
Bad input: one line on stderr, exit 2.
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from functools import partial

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import load_model, read_metadata
from .cli_errors import allocation_failures_as_one_line
from .cli_types import OneLineParser, output_folder, pick_device
from .evaluation.boardpath import compute_path_metrics, format_path_report
from .evaluation.curve import format_curve, format_point, format_views, measure_views, write_curve
from .evaluation.inference import Metrics, compute_metrics, evaluate_puzzles
from .evaluation.scaling import ensemble_paths
from .evaluation.views import ViewRules, view_rules
from .sudoku import Difficulty, count_solutions_batch, generate_batch, solve_batch
from .sudoku.files import PuzzleSet, read_puzzle_file
from .tasks import task_from_metadata
from .tasks.sudoku import SudokuBoards
from .tasks.sudoku_dataset import filter_by_rating, resolve_data_path

DEFAULT_BUCKETS = (0, 1, 10, 20, 50, 100)  # rating edges: 0, 1-9, 10-19, 20-49, 50-99, 100+
GIVENS_BUCKETS = [0, *range(17, 25), 28, 32]  # givens: each of 17..23, 24-27, 28-31, 32+ (16 or fewer: 0-16)
# Every puzzle, its answer and its prediction are held until the report: far more would exhaust memory, killed by
# the system with no message. A million Sudoku puzzles take about 1 GB.
MAX_GENERATED = 1_000_000


def parse_args(argv=None) -> argparse.Namespace:
    difficulties = ", ".join(d.cli_name for d in Difficulty)
    parser = OneLineParser(prog="python -m src.hrm.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="model checkpoint (.safetensors, native or MLX Swift)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--difficulty", help=f"generate puzzles of these comma-separated difficulties: {difficulties}")
    source.add_argument(
        "--data", "--file", dest="file",
        help="puzzle file: 81 cells per line with optional ',solution', a question/answer CSV with an optional"
        " rating column, or hf://sapientinc/sudoku-extreme (its test.csv; needs huggingface_hub)",
    )  # fmt: skip
    parser.add_argument("--num", type=int, default=100, help="puzzles to generate per difficulty (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="threads for puzzle generation (default: all cores)")
    parser.add_argument("--limit", type=int, default=None, help="take only the first N puzzles of --data")
    parser.add_argument("--min-rating", type=int, default=None, help="score only rows of --data rated at least this")
    parser.add_argument("--max-rating", type=int, default=None, help="score only rows of --data rated at most this")
    parser.add_argument(
        "--rating-buckets", default=",".join(map(str, DEFAULT_BUCKETS)),
        help="lower edges of the rating buckets reported for a rated --data file (default: 0,1,10,20,50,100)",
    )  # fmt: skip
    parser.add_argument("--min-path", type=int, default=None,
                        help="boardpath: score boards whose shortest path has at least this many steps")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--segments", type=int, default=None, help="fixed budget of segments (default: halt_max_steps)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default="auto", help="auto: bf16 autocast on CUDA, fp32 on CPU"
    )
    parser.add_argument("--max-segments", type=int, default=None,
                        help="segments a puzzle (each view) may run at most under ACT halting"
                        " (default: halt_max_steps)")  # fmt: skip
    parser.add_argument(
        "--views", type=int, default=1,
        help="also solve K views of each puzzle (its symmetries) and keep the answer the rule checker accepts;"
        " 1: the model alone (default). Boards have 8 views at most",
    )  # fmt: skip
    parser.add_argument("--ensemble", metavar="CKPT,CKPT",
                        help="also solve the views with these checkpoints of the same task, all answers pooled")
    parser.add_argument("--early-stop", type=int, default=None, metavar="A",
                        help="stop a puzzle's views once A of them (all, when fewer) agree on an accepted answer")
    parser.add_argument("--views-curve", metavar="K,K,...",
                        help="measure solve rate against K views and segments spent, e.g. 1,2,4,8,16,32 (needs"
                        " --curve-out)")  # fmt: skip
    parser.add_argument("--curve-out", metavar="DIR", type=output_folder, help="folder for the curve's curve.json and curve.png")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def check_args(args) -> list[Difficulty]:
    """Validate the numeric flags and the puzzle source; the difficulties to generate (empty for --file)."""
    for flag, value in (("--num", args.num), ("--batch-size", args.batch_size), ("--segments", args.segments)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be at least 1, got {value}")
    if args.limit is not None and args.limit < 0:
        raise ValueError(f"--limit must not be negative, got {args.limit}")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.file is None and args.difficulty is None:
        raise ValueError("give the puzzles: --difficulty (with --num and --seed) or --data")
    if args.file is not None:
        parse_buckets(args.rating_buckets)
        return []
    for flag, value in (("--limit", args.limit), ("--min-rating", args.min_rating), ("--max-rating", args.max_rating)):
        if value is not None:
            raise ValueError(f"{flag} applies to --data; with --difficulty, --num sets how many puzzles")
    names = [name for name in args.difficulty.split(",") if name.strip()]
    if not names:
        raise ValueError("--difficulty is empty")
    difficulties = [Difficulty.from_name(name) for name in names]
    if len(set(difficulties)) != len(difficulties):
        raise ValueError(f"--difficulty names a difficulty twice: {args.difficulty}")
    check_generated_count(args.num * len(difficulties))
    return difficulties


def check_generated_count(total: int) -> None:
    if total > MAX_GENERATED:
        raise ValueError(f"--num asks for {total:,} puzzles in all, more than the {MAX_GENERATED:,} an evaluation"
                         " holds in memory; evaluate in parts with different --seed values")  # fmt: skip


def check_scaling(args, rules: ViewRules) -> list[int]:
    """Validate --views, --max-segments, --early-stop and the curve's flags; the K of each curve point (or [])."""
    for flag, value in (("--max-segments", args.max_segments), ("--early-stop", args.early_stop)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be at least 1, got {value}")
    if not 1 <= args.views <= rules.max_views:
        if rules.max_views == 8 and args.views > 8:
            raise ValueError(f"a square board has 8 symmetries; --views {args.views} asks for more")
        raise ValueError(f"--views must be between 1 and {rules.max_views}, got {args.views}")
    if args.views_curve is None:
        if args.curve_out is not None:
            raise ValueError("--curve-out is where --views-curve writes; give --views-curve too")
        return []
    try:
        ks = [int(part) for part in args.views_curve.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--views-curve must be comma-separated numbers of views, got {args.views_curve!r}") from None
    if not ks or ks != sorted(set(ks)) or ks[0] < 1 or ks[-1] > rules.max_views:
        raise ValueError(f"--views-curve must be increasing numbers of views from 1 to {rules.max_views},"
                         f" got {args.views_curve!r}")  # fmt: skip
    if args.curve_out is None:
        raise ValueError("--views-curve needs --curve-out DIR for its JSON and PNG")
    if os.path.exists(args.curve_out) and not os.path.isdir(args.curve_out):
        raise ValueError(f"--curve-out {args.curve_out}: not a folder")
    return ks


def make_folder(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--curve-out {path}: cannot make the folder ({err.strerror or err})") from None


def parse_buckets(text: str) -> list[int]:
    """Rating bucket edges from "0,10,50": increasing non-negative integers."""
    try:
        edges = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--rating-buckets must be comma-separated whole numbers, got {text!r}") from None
    if not edges or min(edges) < 0 or edges != sorted(set(edges)):
        raise ValueError(f"--rating-buckets must be increasing non-negative numbers, got {text!r}")
    return edges


def bucket_labels(edges: list[int]) -> list[str]:
    """Bucket names in order: "<5" below the first edge, "10-19" between edges, "100+" from the last."""
    between = [f"{low}" if high == low + 1 else f"{low}-{high - 1}" for low, high in zip(edges, edges[1:])]
    return [f"<{edges[0]}", *between, f"{edges[-1]}+"]


def bucket_names(ratings: np.ndarray, edges: list[int]) -> np.ndarray:
    """The bucket label of each rating."""
    return np.array(bucket_labels(edges), dtype=object)[np.searchsorted(edges, ratings, side="right")]


def solve_missing(puzzles: np.ndarray, solutions: np.ndarray, has_solution: np.ndarray) -> list[str | None]:
    """Fill in the solutions a file did not give with the engine's solver; per row, why it cannot be scored, or None."""
    reasons = [None] * len(puzzles)
    missing = np.flatnonzero(~has_solution)
    if len(missing):
        counts = count_solutions_batch(puzzles[missing], limit=2)
        solved = solve_batch(puzzles[missing])
        for row, count, solution in zip(missing, counts, solved):
            if count == 1:
                solutions[row] = solution
            else:
                reasons[row] = "no solution" if count == 0 else "several solutions"
    return reasons


def load_puzzles(args, difficulties: list[Difficulty], puzzle_set: PuzzleSet | None):
    """(puzzles [N, 81], solutions [N, 81], group name per row, excluded rows) from the generator or a file."""
    if puzzle_set is None:
        rows = [d for d in difficulties for _ in range(args.num)]
        puzzles, solutions = generate_batch(rows, args.seed, workers=args.workers)
        return puzzles, solutions, np.array([d.cli_name for d in rows]), []
    solutions = puzzle_set.solutions.copy()
    reasons = solve_missing(puzzle_set.puzzles, solutions, puzzle_set.has_solution)
    excluded = [{"line": int(line), "reason": why} for line, why in zip(puzzle_set.line_numbers, reasons) if why]
    scored = np.array([why is None for why in reasons], dtype=bool)
    if puzzle_set.ratings is None:
        groups = np.full(int(scored.sum()), "file")
    else:
        groups = bucket_names(puzzle_set.ratings[scored], parse_buckets(args.rating_buckets))
    return puzzle_set.puzzles[scored], solutions[scored], groups, excluded


def read_data(args) -> PuzzleSet:
    """--data read (hf:// downloaded once), limited and filtered by rating."""
    puzzle_set = read_puzzle_file(resolve_data_path(args.file, "test.csv"), limit=args.limit)
    return filter_by_rating(puzzle_set, args.min_rating, args.max_rating, args.file)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


# The per-difficulty table: header, width, cell.
_COLUMNS = (
    ("difficulty", -10, lambda name, g: name),
    ("puzzles", 7, lambda name, g: str(g.num_puzzles)),
    ("ACT solve", 10, lambda name, g: _percent(g.act_solve_rate)),
    ("cells", 8, lambda name, g: _percent(g.act_cell_accuracy)),
    ("segments", 8, lambda name, g: f"{g.mean_act_segments:.2f}"),
    ("budget solve", 12, lambda name, g: _percent(g.budget_solve_rate)),
    ("Q halted", 8, lambda name, g: str(g.q_halted)),
    ("Q precision", 11, lambda name, g: _percent(g.q_halt_precision)),
)


def _table_row(cells) -> str:
    return "  " + " ".join(f"{cell:<{-w}}" if w < 0 else f"{cell:>{w}}" for cell, (_, w, _) in zip(cells, _COLUMNS))


def board_set(args, task) -> tuple[np.ndarray, np.ndarray]:
    """Fresh boards for a path-finding checkpoint: --num of them from --seed (its evaluation stream)."""
    for flag, given in (("--difficulty", args.difficulty), ("--data", args.file), ("--limit", args.limit),
                        ("--min-rating", args.min_rating), ("--max-rating", args.max_rating)):
        if given is not None:
            raise ValueError(f"{flag} is for Sudoku checkpoints; a {task.name} checkpoint is scored on --num boards")
    for flag, value in (("--num", args.num), ("--batch-size", args.batch_size), ("--segments", args.segments)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be at least 1, got {value}")
    check_generated_count(args.num)
    if args.min_path is not None:
        task = type(task)(dataclasses.replace(task.config, min_path=args.min_path))
    return task.boards(args.num, args.seed, workers=args.workers)


def evaluate_boards(args, task, paths, models, boards, answers, device, autocast_dtype, act_max_segments, budget,
                    curve_views) -> int:  # fmt: skip
    start = time.perf_counter()
    predictions = evaluate_puzzles(
        models[0], boards, act_max_segments, budget, args.batch_size, device, autocast_dtype, editable=task.loss_mask
    )
    seconds = time.perf_counter() - start
    metrics = compute_path_metrics(boards, answers, predictions, task.config.board_size)
    c = task.config
    min_path = args.min_path if args.min_path is not None else c.min_path
    summary = {
        "checkpoint": str(args.checkpoint), "task": task.name, "device": str(device),
        "precision": "bf16 autocast" if autocast_dtype is not None else "fp32",
        "source": f"generated: {args.num} boards {c.board_size}x{c.board_size}, wall probability {c.wall_prob},"
                  f" shortest path >= {max(min_path, 1)} steps, seed {args.seed}",
        "act_max_segments": act_max_segments, "budget_segments": budget,
        "seconds": seconds, "puzzles_per_second": len(boards) / max(seconds, 1e-9),
    }  # fmt: skip
    if len(models) > 1:
        summary["ensemble"] = paths[1:]
    groups = np.full(len(boards), "all")
    views, curve = scaling_reports(args, task, models, boards, answers, groups, [], device, autocast_dtype,
                                   metrics.act_shortest_rate, summary, curve_views)  # fmt: skip
    if args.json:
        print(json.dumps({**summary, **metrics.to_dict(), **({"views": views} if views else {}),
                          **({"curve": curve} if curve else {})}))  # fmt: skip
    else:
        print(format_path_report(summary, metrics) + ("\n" + format_views(views) if views else ""))
    return finish_curve(args, curve)


def scaling_reports(args, task, models, inputs, targets, groups, names, device, autocast_dtype, alone, summary,
                    curve_views) -> tuple[dict | None, dict | None]:  # fmt: skip
    """The --views report (with an ensemble or early stop too; None for the model alone) and the curve's points."""
    solve = partial(measure_views, task, models, inputs, targets, groups, names, seed=args.seed,
                    batch_size=args.batch_size, device=device, max_segments=args.max_segments,
                    autocast_dtype=autocast_dtype, agree=args.early_stop)  # fmt: skip
    views = None
    if args.views > 1 or len(models) > 1 or args.early_stop is not None:
        views = {**solve(args.views), "solve_rate_alone": alone, "early_stop": args.early_stop}
    curve = None
    if curve_views:
        curve = {
            "checkpoints": [summary["checkpoint"], *summary.get("ensemble", [])],
            "task": task.name, "source": summary["source"], "device": summary["device"],
            "precision": summary["precision"], "max_segments": summary["act_max_segments"],
            "early_stop": args.early_stop, "seed": args.seed, "num_puzzles": len(inputs), "solve_rate_alone": alone,
            "points": [],
        }  # fmt: skip
        for k in curve_views:
            curve["points"].append(solve(k))
            if not args.json:
                print(f"curve: {format_point(curve['points'][-1]).strip()}", file=sys.stderr)
    return views, curve


def finish_curve(args, curve: dict | None) -> int:
    """Write the curve's files and say so; a file-system failure there is one line and exit code 1."""
    if curve is None:
        return 0
    try:
        data, picture = write_curve(curve, args.curve_out)
    except OSError as err:
        print(f"evaluate: error: --curve-out {args.curve_out}: {err.strerror or err}", file=sys.stderr)
        return 1
    if not args.json:
        print(format_curve(curve))
        print(f"wrote {data} and {picture}")
    return 0


def format_report(summary: dict, metrics: Metrics, by_group: dict[str, Metrics], group_kind: str = "difficulty") -> str:
    """The human-readable report of one evaluation."""
    m, excluded = metrics, summary["excluded"]
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
        f"  solve rate       {_percent(m.act_solve_rate)}  ({m.act_solved} / {m.num_puzzles})",
        f"  cell accuracy    {_percent(m.act_cell_accuracy)}  (blank cells)",
        f"  mean segments    {m.mean_act_segments:.2f}",
        f"  halted by Q      {m.q_halted} / {m.num_puzzles}; solved when halted by Q: {_percent(m.q_halt_precision)}"
        " (Q-halt precision)",
        f"Fixed budget ({summary['budget_segments']} segments):",
        f"  solve rate       {_percent(m.budget_solve_rate)}  ({m.budget_solved} / {m.num_puzzles})",
        f"  cell accuracy    {_percent(m.budget_cell_accuracy)}  (blank cells)",
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


@allocation_failures_as_one_line("evaluate: error")
def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        device = pick_device(args.device)
        task = task_from_metadata(read_metadata(args.checkpoint))
        if isinstance(task, SudokuBoards):
            difficulties = check_args(args)
        paths = ensemble_paths(args.checkpoint, args.ensemble, task)
        curve_views = check_scaling(args, view_rules(task, args.seed))
        if isinstance(task, SudokuBoards):
            puzzle_set = read_data(args) if args.file is not None else None
        else:
            boards, answers = board_set(args, task)
        models = [load_model(path, device=device).eval() for path in paths]
        if curve_views:
            make_folder(args.curve_out)
    except (ValueError, OSError) as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 2
    # bf16 autocast on CUDA by default, as the model trains there; float32 (the original's numerics) on the CPU.
    use_bf16 = args.precision == "bf16" or (args.precision == "auto" and device.type == "cuda")
    autocast_dtype = torch.bfloat16 if use_bf16 else None
    model, act = models[0], models[0].config.act
    act_max_segments = args.max_segments or act.fixed_segments or act.halt_max_steps
    budget = args.segments or act_max_segments
    if not isinstance(task, SudokuBoards):
        return evaluate_boards(args, task, paths, models, boards, answers, device, autocast_dtype, act_max_segments,
                               budget, curve_views)  # fmt: skip

    puzzles, solutions, groups, excluded = load_puzzles(args, difficulties, puzzle_set)
    if len(puzzles) == 0:
        what = f"all {len(excluded)} puzzles are excluded" if excluded else "it holds no puzzles"
        print(f"evaluate: error: nothing to evaluate in {args.file}: {what}", file=sys.stderr)
        return 2

    progress = tqdm(total=len(puzzles), unit="puzzle", disable=args.json or not sys.stderr.isatty(), file=sys.stderr)
    start = time.perf_counter()
    predictions = evaluate_puzzles(
        model, puzzles, act_max_segments, budget, args.batch_size, device, autocast_dtype, on_batch=progress.update
    )
    seconds = time.perf_counter() - start
    progress.close()

    metrics = compute_metrics(puzzles, solutions, predictions)

    def metrics_by(names: np.ndarray, labels: list[str]) -> dict[str, Metrics]:
        """Metrics of the rows named each label, in the labels' order; labels no row has are left out."""
        return {label: compute_metrics(puzzles[rows], solutions[rows], predictions.select(rows))
                for label in labels if (rows := names == label).any()}  # fmt: skip

    by_group = metrics_by(groups, [d.cli_name for d in difficulties]) if len(difficulties) > 1 else {}
    rated = puzzle_set is not None and puzzle_set.ratings is not None
    if rated:
        by_group |= metrics_by(groups, bucket_labels(parse_buckets(args.rating_buckets)))
    # A file: published hard collections differ from generated puzzles in givens first.
    by_givens = (metrics_by(bucket_names(np.count_nonzero(puzzles, axis=1), GIVENS_BUCKETS),
                            bucket_labels(GIVENS_BUCKETS)) if puzzle_set is not None else {})  # fmt: skip
    generated = f"generated: {args.difficulty}, {args.num} each, seed {args.seed}"
    summary = {
        "checkpoint": str(args.checkpoint),
        "task": task.name,
        "device": str(device),
        "precision": "bf16 autocast" if use_bf16 else "fp32",
        "source": args.file if args.file is not None else generated,
        "excluded": excluded,
        "num_excluded": len(excluded),
        "act_max_segments": act_max_segments,
        "budget_segments": budget,
        "seconds": seconds,
        "puzzles_per_second": len(puzzles) / max(seconds, 1e-9),
    }
    if len(models) > 1:
        summary["ensemble"] = paths[1:]
    views, curve = scaling_reports(args, task, models, puzzles, solutions, groups, list(by_group), device,
                                   autocast_dtype, metrics.act_solve_rate, summary, curve_views)  # fmt: skip
    if args.json:
        groups_json = {name: g.to_dict() for name, g in by_group.items()}
        givens_json = {"per_givens": {name: g.to_dict() for name, g in by_givens.items()}} if by_givens else {}
        print(json.dumps({**summary, **givens_json, **metrics.to_dict(),
                          "per_rating" if rated else "per_difficulty": groups_json,
                          **({"views": views} if views else {}), **({"curve": curve} if curve else {})}))
    else:
        print(format_report(summary, metrics, by_group, "rating" if rated else "difficulty"))
        if by_givens:
            print(format_groups(by_givens, "givens"))
        if views:
            print(format_views(views))
    return finish_curve(args, curve)


if __name__ == "__main__":
    sys.exit(main())
