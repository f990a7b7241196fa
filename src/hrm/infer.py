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

from .analysis.frames import board_frame, reasoning_frames, save_gif, sudoku_frame
from .boardpath import PATH, parse_board, score_paths, solve_board
from .boardpath import board_to_string as path_picture
from .checkpoint import load_model, read_metadata
from .cli_errors import allocation_failures_as_one_line
from .cli_types import OneLineParser, pick_device
from .demo.page import run_page, write_page
from .evaluation.inference import run_segments
from .evaluation.scaling import ensemble_paths, run_views, stop_rule, view_name
from .evaluation.views import view_rules
from .file_io import FileTooLarge, NotARegularFile, check_output_file, read_text
from .sudoku import (
    Difficulty,
    board_to_string,
    count_solutions,
    format_puzzle,
    generate_sudoku,
    parse_puzzle,
    solve,
    validate_solution,
)
from .tasks import task_from_metadata
from .tasks.sudoku import SudokuBoards

_ANSI_CHANGED, _ANSI_RESET = "\x1b[1;33m", "\x1b[0m"

MAX_BOARD_FILE = 1 << 20  # a board file is a few hundred characters; more is not a board


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
    max_views = view_rules(task).max_views
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


def choose_puzzle(args) -> tuple[np.ndarray | None, Difficulty | None]:
    """Validate DIFFICULTY / --puzzle: a parsed [9, 9] puzzle, or the difficulty to generate one at."""
    if args.puzzle is not None and args.difficulty is not None:
        raise ValueError("give either a DIFFICULTY or --puzzle, not both")
    if args.puzzle is not None:
        return np.asarray(parse_puzzle(args.puzzle), dtype=np.int8).reshape(9, 9), None
    if args.difficulty is None:
        valid = ", ".join(d.cli_name for d in Difficulty)
        raise ValueError(f"give a DIFFICULTY ({valid}) or --puzzle")
    return None, Difficulty.from_name(args.difficulty)


def reference_solution(puzzle: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The unique solution of a user's puzzle from the engine's solver, with a sentence saying where it came from."""
    count = count_solutions(puzzle, limit=2)
    if count == 1:
        return np.asarray(solve(puzzle), dtype=np.int8).reshape(9, 9), "the unique solution, found by the solver"
    if count == 0:
        return None, "none: the puzzle has no solution; boards are checked for validity instead"
    return None, "not unique: the puzzle has several solutions; boards are checked for validity instead"


def mark_cells(picture: str, changed: np.ndarray, color: bool) -> str:
    """Mark changed cells of a board picture: colour on a terminal, else a '*' just left of the digit."""
    lines = picture.split("\n")
    row = 0
    for index, line in enumerate(lines):
        if not line.startswith("|"):
            continue
        chars = list(line)
        cells = [i for i, char in enumerate(chars) if char not in " |"]
        for column, position in enumerate(cells[:9]):
            if changed[row, column]:
                if color:
                    chars[position] = f"{_ANSI_CHANGED}{chars[position]}{_ANSI_RESET}"
                else:
                    chars[position - 1] = "*"
        lines[index] = "".join(chars)
        row += 1
    return "\n".join(lines)


def infer(
    model, puzzle: np.ndarray, solution: np.ndarray | None, max_segments: int, halt: bool, device, autocast_dtype
):
    """Run up to max_segments segments on one [9, 9] puzzle; yield one record (plain values) per segment."""
    inputs = torch.as_tensor(puzzle.reshape(1, 81).astype(np.int64), device=device)
    blanks = puzzle == 0
    previous = puzzle
    for step in run_segments(model, inputs, max_segments, autocast_dtype, cycles=True):
        board = step.predictions[0].cpu().numpy().astype(np.int8).reshape(9, 9)
        halts = bool(step.halts[0])
        yield {
            "segment": step.segment,
            "board": board,
            "cycle_boards": [b[0].cpu().numpy().astype(np.int8).reshape(9, 9) for b in step.cycle_predictions],
            "changed_cells": board != previous,
            "correct": int(((board == solution) & blanks).sum()) if solution is not None else None,
            "blanks": int(blanks.sum()),
            "q_halt": float(torch.sigmoid(step.q_halt[0])),
            "q_continue": float(torch.sigmoid(step.q_continue[0])),
            "halts": halts,
        }
        previous = board
        if halt and halts:
            return


def print_segment(record: dict, puzzle: np.ndarray, args) -> None:
    """One segment as the original prints it: "Segment k", the board, (correct / blanks), the Q values."""
    print(f"Segment {record['segment']}")
    picture = board_to_string(record["board"])
    print(mark_cells(picture, record["changed_cells"], sys.stdout.isatty()) if args.show_changes else picture)
    if record["correct"] is not None:
        print(f"({record['correct']} / {record['blanks']})")
    else:
        print("(a valid solution)" if validate_solution(puzzle, record["board"]) else "(not a valid solution)")
    print(f"Q (halt - continue): {record['q_halt']:.4f} - {record['q_continue']:.4f}")
    if record["halts"]:
        print("Halting." if not args.no_halt else "(the Q head says halt; running on: --no-halt)")


def json_report(args, device, autocast_dtype, difficulty, puzzle, solution, solution_source, records) -> dict:
    """The --json object: the run's settings, the puzzle and solution, every segment, and the outcome."""
    final = records[-1]["board"]
    valid = bool(validate_solution(puzzle, final))
    segments = []
    for record in records:
        entry = {key: value for key, value in record.items() if key not in ("board", "changed_cells", "cycle_boards")}
        entry.update(board=format_puzzle(record["board"]), changed=int(record["changed_cells"].sum()))
        segments.append(entry)
    return {
        "checkpoint": str(args.checkpoint),
        "device": str(device),
        "precision": "bf16" if autocast_dtype is not None else "fp32",
        "difficulty": difficulty.cli_name if difficulty is not None else None,
        "seed": args.seed,
        "puzzle": format_puzzle(puzzle),
        "solution": format_puzzle(solution) if solution is not None else None,
        "solution_source": solution_source,
        "segments": segments,
        "halted_at": next((r["segment"] for r in records if r["halts"]), None),
        "solved": bool((final == solution).all()) if solution is not None else valid,
        "valid_solution": valid,
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
        if isinstance(task, SudokuBoards):
            if args.board is not None:
                raise ValueError("--board is for path-finding checkpoints; give a Sudoku with --puzzle")
            puzzle, difficulty = choose_puzzle(args)
        else:
            board, answer = choose_board(args, task)
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
    act = model.config.act
    max_segments = args.max_segments or act.fixed_segments or act.halt_max_steps
    if not isinstance(task, SudokuBoards):
        if scaled:
            return infer_views(args, task, paths, models, board, answer, device, autocast_dtype)
        return infer_board(args, task, model, board, answer, max_segments, device, autocast_dtype)

    if puzzle is None:
        puzzle, solution = generate_sudoku(difficulty, rng=args.seed)  # int8 [9, 9] each
        solution_note, solution_source = None, "generator"
    else:
        solution, solution_note = reference_solution(puzzle)
        solution_source = "solver" if solution is not None else None
    if scaled:
        return infer_views(args, task, paths, models, puzzle.reshape(-1), solution, device, autocast_dtype,
                           difficulty, solution_note, solution_source)  # fmt: skip

    if not args.json:
        print("Puzzle:")
        print(board_to_string(puzzle))
        print("Solution:" if solution_note is None else f"Solution ({solution_note}):")
        if solution is not None:
            print(board_to_string(solution))
    records = []
    for record in infer(model, puzzle, solution, max_segments, not args.no_halt, device, autocast_dtype):
        records.append(record)
        if not args.json:
            print_segment(record, puzzle, args)

    if args.json:
        report = json_report(args, device, autocast_dtype, difficulty, puzzle, solution, solution_source, records)
        print(json.dumps({"task": task.name, **report}))
    elif args.puzzle is not None:
        valid = validate_solution(puzzle, records[-1]["board"])
        print(f"Final board is a valid solution: {'yes' if valid else 'no'}")
    if args.html is not None and write_html(args, task, puzzle, solution, records, max_segments):
        return 1
    if args.gif is not None:
        draw = lambda board, changed, caption: sudoku_frame(puzzle, board, solution, changed, caption)  # noqa: E731
        return write_gif(*reasoning_frames(puzzle, records, draw), args)
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


def write_html(args, task, puzzle, answer, records, max_segments) -> int:
    """The page is demo/page.py's viewer with this run's trace in it."""
    page = run_page(task, puzzle, answer, records, max_segments, os.path.basename(args.checkpoint))
    return write_output(args, "--html", args.html, lambda: write_page(args.html, page), f"{len(records)} segments")


# ---------------------------------------------------------------------------------------------
# Path-finding boards


def choose_board(args, task) -> tuple[np.ndarray, np.ndarray]:
    """The board to solve and its canonical answer: from --board, or generated (--seed, else random)."""
    if args.difficulty is not None or args.puzzle is not None:
        raise ValueError(f"a {task.name} checkpoint solves boards: give --board FILE or --seed S, not a Sudoku")
    size = task.config.board_size
    if args.board is not None:
        try:
            text = read_text(args.board, limit=MAX_BOARD_FILE)
        except (NotARegularFile, FileTooLarge) as err:
            raise ValueError(f"--board {err}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"--board {args.board}: cannot read it ({type(err).__name__})") from None
        try:
            board, found = parse_board(text)
        except ValueError as err:
            raise ValueError(f"--board {args.board}: {err}") from None
        if found != size:
            raise ValueError(f"--board {args.board}: a {found}x{found} board; this model solves {size}x{size} boards")
        answer = solve_board(board, size)
        if answer is None:
            raise ValueError(f"--board {args.board}: E cannot be reached from S")
        return board, answer
    seed = args.seed if args.seed is not None else int(np.random.default_rng().integers(2**63))
    boards, answers = task.boards(1, seed)
    return boards[0], answers[0]


def mark_board_cells(picture: str, changed: np.ndarray, color: bool) -> str:
    """Mark changed cells of a board picture: colour on a terminal, else `+` (now on the path) or `,` (now off it)."""
    lines = [list(line) for line in picture.split("\n")]
    for r, c in zip(*np.nonzero(changed)):
        char = lines[r][c]
        lines[r][c] = f"{_ANSI_CHANGED}{char}{_ANSI_RESET}" if color else {"*": "+", ".": ","}.get(char, char)
    return "\n".join("".join(line) for line in lines)


def infer_board(args, task, model, board, answer, max_segments, device, autocast_dtype) -> int:
    """The boardpath run: the board and its shortest path, then each segment's prediction until the Q head halts."""
    size = task.config.board_size
    inputs = torch.as_tensor(board.reshape(1, -1).astype(np.int64), device=device)
    if not args.json:
        print("Board:")
        print(path_picture(board, size))
        print("Shortest path (BFS):")
        print(path_picture(answer, size))
    records, previous = [], board
    for step in run_segments(model, inputs, max_segments, autocast_dtype, task.loss_mask, cycles=True):
        prediction = step.predictions[0].cpu().numpy().astype(np.int8)
        valid, shortest = score_paths(board[None], prediction[None], size)
        record = {
            "segment": step.segment, "board": prediction, "changed_cells": prediction != previous,
            "cycle_boards": [b[0].cpu().numpy().astype(np.int8) for b in step.cycle_predictions],
            "valid_path": bool(valid[0]), "shortest_path": bool(shortest[0]),
            "exact": bool((prediction == answer).all()),
            "q_halt": float(torch.sigmoid(step.q_halt[0])), "q_continue": float(torch.sigmoid(step.q_continue[0])),
            "halts": bool(step.halts[0]),
        }  # fmt: skip
        records.append(record)
        previous = prediction
        if not args.json:
            print(f"Segment {record['segment']}")
            picture = path_picture(prediction, size)
            if args.show_changes:
                picture = mark_board_cells(picture, record["changed_cells"].reshape(size, size), sys.stdout.isatty())
            print(picture)
            verdict = "a shortest path" if shortest[0] else "a path, not the shortest" if valid[0] else "not a path"
            print(f"({verdict})")
            print(f"Q (halt - continue): {record['q_halt']:.4f} - {record['q_continue']:.4f}")
            if record["halts"]:
                print("Halting." if not args.no_halt else "(the Q head says halt; running on: --no-halt)")
        if record["halts"] and not args.no_halt:
            break
    if args.json:
        segments = [{**{k: v for k, v in r.items() if k not in ("board", "changed_cells", "cycle_boards")},
                     "board": path_picture(r["board"], size), "changed": int(r["changed_cells"].sum())} for r in records]
        print(json.dumps({
            "task": task.name, "checkpoint": str(args.checkpoint), "device": str(device),
            "precision": "bf16" if autocast_dtype is not None else "fp32", "seed": args.seed,
            "board": path_picture(board, size), "answer": path_picture(answer, size), "segments": segments,
            "halted_at": next((r["segment"] for r in records if r["halts"]), None),
            "solved": records[-1]["shortest_path"],
        }))  # fmt: skip
    if args.html is not None and write_html(args, task, board, answer, records, max_segments):
        return 1
    if args.gif is not None:

        def draw(prediction, changed, caption):
            _, shortest = score_paths(board[None], prediction[None], size)
            right = (prediction == answer) | ((prediction == PATH) & shortest[0])
            return board_frame(board, prediction, right, changed, size, caption)

        return write_gif(*reasoning_frames(board, records, draw), args)
    return 0


# ---------------------------------------------------------------------------------------------
# Test-time views


def infer_views(args, task, paths, models, puzzle, answer, device, autocast_dtype, difficulty=None, answer_note=None,
                answer_source=None) -> int:  # fmt: skip
    """K views of one puzzle (a flat row) with every checkpoint, in one batch: how each view ended, then the answer
    the checker picked, the view that gave it and how many agreed; unsolved when the checker accepts none."""
    rules = view_rules(task, args.seed if args.seed is not None else 0)
    run = run_views(models, puzzle[None], args.views, rules, args.views, device, args.max_segments, autocast_dtype,
                    args.early_stop)  # fmt: skip
    choice = run.choose()
    picture = task.format_row
    accepted, winner, stopped = bool(choice.accepted[0]), int(choice.winning_view[0]), int(run.stopped_at[0])
    verdict, right = outcome(task, puzzle, answer, choice.answers[0])
    columns = range(run.candidates.shape[1])
    if args.json:
        candidates = [{"checkpoint": c // args.views + 1, "view": c % args.views + 1,
                       "segments": int(run.segments[0, c]), "ended": run.ending(0, c),
                       "accepted": bool(run.accepted[0, c]),
                       "board": format_row(task, run.candidates[0, c])} for c in columns]  # fmt: skip
        print(json.dumps({
            "task": task.name, "checkpoint": str(args.checkpoint), "ensemble": paths[1:], "device": str(device),
            "precision": "bf16" if autocast_dtype is not None else "fp32", "seed": args.seed,
            **({"difficulty": difficulty.cli_name if difficulty else None, "solution_source": answer_source}
               if isinstance(task, SudokuBoards) else {}),
            "puzzle": format_row(task, puzzle), "solution": format_row(task, answer) if answer is not None else None,
            "views": args.views, "early_stop": args.early_stop, "candidates": candidates,
            "answer": format_row(task, choice.answers[0]), "accepted": accepted,
            "winning_checkpoint": winner // args.views + 1 if accepted else None,
            "winning_view": winner % args.views + 1 if accepted else None, "agreeing": int(choice.agreeing[0]),
            "segments_spent": int(run.spent[0]), "stopped_early_at": stopped or None,
            "solved": accepted and right, "verdict": verdict,
        }))  # fmt: skip
        return 0
    if isinstance(task, SudokuBoards):
        print("Puzzle:", picture(puzzle), f"Solution ({answer_note}):" if answer_note else "Solution:", sep="\n")
    else:
        print("Board:", picture(puzzle), "Shortest path (BFS):", sep="\n")
    if answer is not None:
        print(picture(answer))
    ensemble = f" of {len(models)} checkpoints" if len(models) > 1 else ""
    limit = args.max_segments or max(m.config.act.fixed_segments or m.config.act.halt_max_steps for m in models)
    rule = f"; {stop_rule(args.early_stop)}" if args.early_stop else ""
    print(f"{args.views} views{ensemble} in one batch, each until its Q head halts (at most {limit} segments){rule}:")
    for c in columns:
        checked = "accepted" if run.accepted[0, c] else "not accepted"
        print(f"  {view_name(c, args.views, len(models))}: {run.ending(0, c)}; {checked}"
              f" ({outcome(task, puzzle, answer, run.candidates[0, c])[0]})")  # fmt: skip
    early = f"; stopped early at segment {stopped}" if stopped else ""
    print(f"Segments spent: {int(run.spent[0])} (all views together){early}")
    if accepted:
        print(f"Answer: {view_name(winner, args.views, len(models))}, given by {int(choice.agreeing[0])} of"
              f" {len(columns)} views; the checker accepts it")  # fmt: skip
    else:
        print(f"No view is accepted: the answer below is the per-cell vote of the {len(columns)} views, unsolved")
    print(picture(choice.answers[0]))
    print(f"({verdict})")
    return 0


def format_row(task, row: np.ndarray) -> str:
    """A flat row as one string: 81 cells for a Sudoku, the board's picture for a path."""
    return format_puzzle(np.asarray(row).reshape(9, 9)) if isinstance(task, SudokuBoards) else task.format_row(row)


def outcome(task, puzzle: np.ndarray, answer: np.ndarray | None, board: np.ndarray) -> tuple[str, bool]:
    """A board's outcome in words, and whether it solves the puzzle (the solution; a valid one when it has
    several; for a path, a shortest one)."""
    if not isinstance(task, SudokuBoards):
        valid, shortest = score_paths(puzzle[None], board[None], task.config.board_size)
        words = "a shortest path" if shortest[0] else "a path, not the shortest" if valid[0] else "not a path"
        return words, bool(shortest[0])
    if answer is None:
        valid = bool(validate_solution(puzzle.reshape(9, 9), board.reshape(9, 9)))
        return "a valid solution" if valid else "not a valid solution", valid
    blanks = puzzle == 0
    correct = int(((board == answer.reshape(-1)) & blanks).sum())
    return f"{correct} / {int(blanks.sum())}", correct == int(blanks.sum())


if __name__ == "__main__":
    sys.exit(main())
