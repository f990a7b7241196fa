"""Watch a checkpoint solve one Sudoku (or path-finding board), segment by segment, as the original's `infer` does.

    python -m src.hrm.infer CHECKPOINT DIFFICULTY [--seed S] [--gif FILE.gif]
    python -m src.hrm.infer CHECKPOINT --puzzle "53..7....6..195..."
    python -m src.hrm.infer BOARDPATH_CHECKPOINT [--seed S | --board FILE] [--gif FILE.gif]
    python -m src.hrm.infer CHECKPOINT hard --views 8 [--ensemble OTHER] [--early-stop 1]
    python -m src.hrm.infer CHECKPOINT extreme --html run.html

Prints the puzzle and its solution, then for each segment the predicted board (givens
kept), "(correct / blanks)" and the Q head's sigmoid(halt) - sigmoid(continue), stopping
with "Halting." at the first segment where halt wins. With --views K (or --ensemble, --early-stop)
it solves K views of the puzzle in one batch instead, and prints each view's outcome and the
answer the rule checker picked (docs/inference.md, test-time scaling). Bad input: one line on
stderr, exit 2 (a --gif or --html that cannot be written once the segments have run: exit 1).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

from .frames import reasoning_frames, save_gif
from .checkpoint import load_model, read_metadata
from .cli_errors import allocation_failures_as_one_line
from .cli_types import OneLineParser, pick_device
from .demo.page import run_page, write_page
from .evaluation.inference import run_segments
from .evaluation.scaling import run_views, stop_rule, view_name
from .file_io import check_output_file
from .sudoku import Difficulty
from .tasks import Case, Task, ensemble_paths, task_from_metadata


def parse_args(argv=None) -> argparse.Namespace:
    difficulties = ", ".join(d.cli_name for d in Difficulty)
    parser = OneLineParser(prog="python -m src.hrm.infer", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="model checkpoint (.safetensors, native or MLX Swift)")
    parser.add_argument("difficulty", nargs="?", help=f"puzzle difficulty to generate: {difficulties}")
    parser.add_argument("--puzzle", help="solve this puzzle instead (81 characters, '.' or '0' for empty cells)")
    parser.add_argument("--board", help="boardpath: a board file (rows of '. # S E') instead of a generated board")
    parser.add_argument("--seed", type=int, default=None, help="seed for generating the puzzle (default: random)")
    parser.add_argument(
        "--max-segments", type=int, default=None, help="segments to run at most (default: halt_max_steps)"
    )
    parser.add_argument("--no-halt", action="store_true", help="ignore the Q head and run every segment")
    parser.add_argument(
        "--show-changes", action="store_true", help="mark cells that changed since the previous segment"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the boards")
    parser.add_argument("--gif", help="also write the segments as an animated GIF to this file")
    parser.add_argument("--html", help="also write the segments as a self-contained web page (the demo's viewer)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default="auto", help="auto = fp32 (the original's numerics)"
    )
    parser.add_argument("--views", type=int, default=1,
                        help="solve K views of the puzzle (its symmetries) in one batch and keep the answer the rule"
                        " checker accepts; 1: the model alone, segment by segment (default). Boards: 8 at most")
    parser.add_argument("--ensemble", metavar="CKPT,CKPT",
                        help="also solve the views with these checkpoints of the same task, all answers pooled")
    parser.add_argument("--early-stop", type=int, default=None, metavar="A",
                        help="stop the views once A of them (all, when fewer) agree on an accepted answer")
    return parser.parse_args(argv)


def check_views(args, task) -> bool:
    """Validate --views and --early-stop; whether this run solves views (else it is the model alone)."""
    max_views = task.view_rules().max_views
    if not 1 <= args.views <= max_views:
        raise ValueError(f"--views must be between 1 and {max_views}, got {args.views}")
    if args.early_stop is not None and args.early_stop < 1:
        raise ValueError(f"--early-stop must be at least 1, got {args.early_stop}")
    scaled = args.views > 1 or args.ensemble is not None or args.early_stop is not None
    for flag, given in (("--gif", args.gif is not None), ("--html", args.html is not None), ("--no-halt", args.no_halt),
                        ("--show-changes", args.show_changes)):  # fmt: skip
        if scaled and given:
            raise ValueError(f"{flag} follows one view segment by segment; it does not go with --views, --ensemble"
                             " or --early-stop")  # fmt: skip
    return scaled


def solve_case(model, task: Task, case: Case, max_segments: int, halt: bool, device, autocast_dtype):
    """Run up to max_segments segments on one puzzle; yield one record (plain values) per segment: the board
    (givens kept), the boards after each high-level cycle, the cells changed, the task's own fields, the Q values."""
    inputs = torch.as_tensor(case.inputs.reshape(1, -1).astype(np.int64), device=device)
    previous = case.inputs
    for step in run_segments(model, inputs, max_segments, autocast_dtype, task.loss_mask, cycles=True):
        board = step.predictions[0].cpu().numpy().astype(np.int8)
        halts = bool(step.halts[0])
        yield {
            "segment": step.segment,
            "board": board,
            "cycle_boards": [b[0].cpu().numpy().astype(np.int8) for b in step.cycle_predictions],
            "changed_cells": board != previous,
            **task.segment_fields(case.inputs, case.answer, board),
            "q_halt": float(torch.sigmoid(step.q_halt[0])),
            "q_continue": float(torch.sigmoid(step.q_continue[0])),
            "halts": halts,
        }
        previous = board
        if halt and halts:
            return


def print_case(task: Task, case: Case) -> None:
    """The puzzle and its answer, under the task's headings (the answer's says when there is none)."""
    print(case.titles[0], task.format_row(case.inputs), case.titles[1], sep="\n")
    if case.answer is not None:
        print(task.format_row(case.answer))


def print_segment(task: Task, case: Case, record: dict, args) -> None:
    """One segment as the original prints it: "Segment k", the board, its outcome, the Q values."""
    print(f"Segment {record['segment']}")
    picture = task.format_row(record["board"])
    print(task.mark_changes(picture, record["changed_cells"], sys.stdout.isatty()) if args.show_changes else picture)
    print(f"({task.outcome(case.inputs, case.answer, record['board'])[0]})")
    print(f"Q (halt - continue): {record['q_halt']:.4f} - {record['q_continue']:.4f}")
    if record["halts"]:
        print("Halting." if not args.no_halt else "(the Q head says halt; running on: --no-halt)")


def run_fields(args, task: Task, device, autocast_dtype) -> dict:
    """The fields every --json object starts with: what ran, where, how."""
    return {"task": task.name, "checkpoint": str(args.checkpoint), "device": str(device),
            "precision": "bf16" if autocast_dtype is not None else "fp32", "seed": args.seed}  # fmt: skip


def json_report(args, task: Task, case: Case, device, autocast_dtype, records) -> dict:
    """The --json object: the run's settings, the puzzle and its answer, every segment, and the outcome."""
    segments = []
    for record in records:
        entry = {key: value for key, value in record.items() if key not in ("board", "changed_cells", "cycle_boards")}
        entry.update(board=task.row_text(record["board"]), changed=int(record["changed_cells"].sum()))
        segments.append(entry)
    puzzle, answer = case.keys
    return {
        **run_fields(args, task, device, autocast_dtype),
        puzzle: task.row_text(case.inputs),
        answer: task.row_text(case.answer) if case.answer is not None else None,
        **case.fields,
        "segments": segments,
        "halted_at": next((r["segment"] for r in records if r["halts"]), None),
        **task.final_fields(case, records[-1]["board"]),
    }


@allocation_failures_as_one_line("infer: error")
def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.max_segments is not None and args.max_segments < 1:
            raise ValueError("--max-segments must be at least 1")
        device = pick_device(args.device)
        task = task_from_metadata(read_metadata(args.checkpoint))
        scaled = check_views(args, task)
        paths = ensemble_paths(args.checkpoint, args.ensemble, task)
        case = task.make_case(args.difficulty, args.puzzle, args.board, args.seed)
        if args.gif is not None:
            check_output_file(args.gif, "--gif")
        if args.html is not None:
            check_output_file(args.html, "--html")
        models = [load_model(path, device=device).eval() for path in paths]
    except (ValueError, OSError) as error:
        print(f"infer: error: {error}", file=sys.stderr)
        return 2
    model = models[0]
    # float32 by default even on CUDA: one puzzle is cheap, and float32 is the original's arithmetic.
    autocast_dtype = torch.bfloat16 if args.precision == "bf16" else None
    if scaled:
        return infer_views(args, task, case, paths, models, device, autocast_dtype)
    act = model.config.act
    max_segments = args.max_segments or act.fixed_segments or act.halt_max_steps

    if not args.json:
        print_case(task, case)
    records = []
    for record in solve_case(model, task, case, max_segments, not args.no_halt, device, autocast_dtype):
        records.append(record)
        if not args.json:
            print_segment(task, case, record, args)
    final = records[-1]["board"]
    if args.json:
        print(json.dumps(json_report(args, task, case, device, autocast_dtype, records)))
    elif (closing := task.closing_line(case, final)) is not None:
        print(closing)
    if args.html is not None and write_html(args, task, case, records, max_segments):
        return 1
    if args.gif is not None:
        draw = lambda board, changed, caption: task.frame(case.inputs, case.answer, board, changed, caption)  # noqa: E731
        return write_gif(*reasoning_frames(case.inputs, records, draw), args)
    return 0


def write_output(args, flag: str, path: str, write, written: str) -> int:
    """Write --gif or --html with `write()`; a file-system problem that check_output_file could not foresee
    (permissions, a full disk) is one line and exit code 1."""
    try:
        write()
    except OSError as err:
        print(f"infer: error: {flag} {path}: {err.strerror or err}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"wrote {path} ({written})")
    return 0


def write_gif(frames, durations, args) -> int:
    return write_output(args, "--gif", args.gif, lambda: save_gif(frames, args.gif, durations),
                        f"{len(frames)} frames")  # fmt: skip


def write_html(args, task, case: Case, records, max_segments) -> int:
    """The page is demo/page.py's viewer with this run's trace in it."""
    page = run_page(task, case.inputs, case.answer, records, max_segments, os.path.basename(args.checkpoint))
    return write_output(args, "--html", args.html, lambda: write_page(args.html, page), f"{len(records)} segments")


# ---------------------------------------------------------------------------------------------
# Test-time views


def infer_views(args, task: Task, case: Case, paths, models, device, autocast_dtype) -> int:
    """K views of one puzzle with every checkpoint, in one batch: how each view ended, then the answer the checker
    picked, the view that gave it and how many agreed; unsolved when the checker accepts none."""
    rules = task.view_rules(args.seed if args.seed is not None else 0)
    run = run_views(models, case.inputs[None], args.views, rules, args.views, device, args.max_segments,
                    autocast_dtype, args.early_stop)  # fmt: skip
    choice = run.choose()
    accepted, winner, stopped = bool(choice.accepted[0]), int(choice.winning_view[0]), int(run.stopped_at[0])
    verdict, right = task.outcome(case.inputs, case.answer, choice.answers[0])
    columns = range(run.candidates.shape[1])
    if args.json:
        candidates = [{"checkpoint": c // args.views + 1, "view": c % args.views + 1,
                       "segments": int(run.segments[0, c]), "ended": run.ending(0, c),
                       "accepted": bool(run.accepted[0, c]),
                       "board": task.row_text(run.candidates[0, c])} for c in columns]  # fmt: skip
        print(json.dumps({
            **run_fields(args, task, device, autocast_dtype), "ensemble": paths[1:], **case.fields,
            "puzzle": task.row_text(case.inputs),
            "solution": task.row_text(case.answer) if case.answer is not None else None,
            "views": args.views, "early_stop": args.early_stop, "candidates": candidates,
            "answer": task.row_text(choice.answers[0]), "accepted": accepted,
            "winning_checkpoint": winner // args.views + 1 if accepted else None,
            "winning_view": winner % args.views + 1 if accepted else None, "agreeing": int(choice.agreeing[0]),
            "segments_spent": int(run.spent[0]), "stopped_early_at": stopped or None,
            "solved": accepted and right, "verdict": verdict,
        }))  # fmt: skip
        return 0
    print_case(task, case)
    ensemble = f" of {len(models)} checkpoints" if len(models) > 1 else ""
    limit = args.max_segments or max(m.config.act.fixed_segments or m.config.act.halt_max_steps for m in models)
    rule = f"; {stop_rule(args.early_stop)}" if args.early_stop else ""
    print(f"{args.views} views{ensemble} in one batch, each until its Q head halts (at most {limit} segments){rule}:")
    for c in columns:
        checked = "accepted" if run.accepted[0, c] else "not accepted"
        print(f"  {view_name(c, args.views, len(models))}: {run.ending(0, c)}; {checked}"
              f" ({task.outcome(case.inputs, case.answer, run.candidates[0, c])[0]})")  # fmt: skip
    early = f"; stopped early at segment {stopped}" if stopped else ""
    print(f"Segments spent: {int(run.spent[0])} (all views together){early}")
    if accepted:
        print(f"Answer: {view_name(winner, args.views, len(models))}, given by {int(choice.agreeing[0])} of"
              f" {len(columns)} views; the checker accepts it")  # fmt: skip
    else:
        print(f"No view is accepted: the answer below is the per-cell vote of the {len(columns)} views, unsolved")
    print(task.format_row(choice.answers[0]))
    print(f"({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
