"""Score a checkpoint on many puzzles, batched, under ACT halting and at a fixed budget of segments.

    python -m src.hrm.evaluate CHECKPOINT --difficulty hard --num 1000 --seed 0
    python -m src.hrm.evaluate CHECKPOINT --difficulty easy,medium,hard,extreme --num 250
    python -m src.hrm.evaluate CHECKPOINT --data test.csv --limit 10000 --json
    python -m src.hrm.evaluate CHECKPOINT --data hard.csv --min-rating 10 --rating-buckets 10,20,50,100
    python -m src.hrm.evaluate BOARDPATH_CHECKPOINT --num 1000 [--min-path 20]
    python -m src.hrm.evaluate CHECKPOINT --difficulty hard --views 8 [--ensemble OTHER,...] [--early-stop 1]
    python -m src.hrm.evaluate CHECKPOINT --difficulty hard,extreme --views-curve 1,2,4,8,16,32 --curve-out DIR

The checkpoint's task says which rows its flags ask for and how they are scored
(`Task.evaluation_rows`, `Task.evaluation_report`). Sudoku: puzzles from the generator
(deterministic in --seed) or from a file: one puzzle per line with an optional `,solution`, or a
CSV with question/answer columns (the Sudoku-Extreme layout `source,question,answer,rating`;
hf://sapientinc/sudoku-extreme reads its test.csv), reported per rating bucket and per givens
count. Boards: --num fresh boards from --seed. Test-time scaling (views, several checkpoints,
early stop, the compute curve): docs/inference.md. Bad input: one line on stderr, exit 2.
"""

import argparse
import json
import os
import sys
import time
from functools import partial

import torch
from tqdm import tqdm

from .checkpoint import load_model, read_metadata
from .cli_errors import allocation_failures_as_one_line
from .cli_types import OneLineParser, output_folder, pick_device
from .evaluation.curve import format_curve, format_point, format_views, measure_views, write_curve
from .evaluation.inference import evaluate_puzzles
from .evaluation.views import ViewRules
from .sudoku import Difficulty
from .tasks import ensemble_paths, task_from_metadata
from .tasks.sudoku_evaluation import DEFAULT_BUCKETS

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


def check_counts(args) -> None:
    """The numeric flags every task takes."""
    for flag, value in (("--num", args.num), ("--batch-size", args.batch_size), ("--segments", args.segments),
                        ("--workers", args.workers)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be at least 1, got {value}")


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


@allocation_failures_as_one_line("evaluate: error")
def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        device = pick_device(args.device)
        task = task_from_metadata(read_metadata(args.checkpoint))
        check_counts(args)
        paths = ensemble_paths(args.checkpoint, args.ensemble, task)
        curve_views = check_scaling(args, task.view_rules(args.seed))
        rows = task.evaluation_rows(args)
        models = [load_model(path, device=device).eval() for path in paths]
        if curve_views:
            make_folder(args.curve_out)
    except (ValueError, OSError) as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 2
    # bf16 autocast on CUDA by default, as the model trains there; float32 (the original's numerics) on the CPU.
    use_bf16 = args.precision == "bf16" or (args.precision == "auto" and device.type == "cuda")
    autocast_dtype = torch.bfloat16 if use_bf16 else None
    act = models[0].config.act
    act_max_segments = args.max_segments or act.fixed_segments or act.halt_max_steps
    budget = args.segments or act_max_segments

    progress = tqdm(total=len(rows.inputs), unit="puzzle", disable=args.json or not sys.stderr.isatty(), file=sys.stderr)
    start = time.perf_counter()
    predictions = evaluate_puzzles(models[0], rows.inputs, act_max_segments, budget, args.batch_size, device,
                                   autocast_dtype, on_batch=progress.update, editable=task.loss_mask)  # fmt: skip
    seconds = time.perf_counter() - start
    progress.close()
    report = task.evaluation_report(rows, predictions)
    summary = {
        "checkpoint": str(args.checkpoint),
        "task": task.name,
        "device": str(device),
        "precision": "bf16 autocast" if use_bf16 else "fp32",
        "source": rows.source,
        **rows.summary_fields,
        "act_max_segments": act_max_segments,
        "budget_segments": budget,
        "seconds": seconds,
        "puzzles_per_second": len(rows.inputs) / max(seconds, 1e-9),
    }
    if len(models) > 1:
        summary["ensemble"] = paths[1:]
    views, curve = scaling_reports(args, task, models, rows.inputs, rows.targets, rows.groups, rows.group_names,
                                   device, autocast_dtype, report.solve_rate, summary, curve_views)  # fmt: skip
    if args.json:
        print(json.dumps({**summary, **report.fields, **({"views": views} if views else {}),
                          **({"curve": curve} if curve else {})}))  # fmt: skip
    else:
        print(report.text(summary))
        if views:
            print(format_views(views))
    return finish_curve(args, curve)


if __name__ == "__main__":
    sys.exit(main())
