"""Write a CSV of rated, uniquely solvable Sudoku puzzles, generated or mined to a rating range.

    python -m src.hrm.make_dataset --out hard.csv --num 10000 --min-rating 20
    python -m src.hrm.make_dataset --out test.csv --num 1000 --difficulty hard --max-rating 10 --seed 1
    python -m src.hrm.make_dataset --out few.csv --num 1000 --givens 17-23     # minimal, like published collections
    python -m src.hrm.make_dataset --task maze --out mazes.csv --num 1000 --seed 1   # Maze-Hard 30x30, path > 110

The file has the Sudoku-Extreme layout `source,question,answer,rating` ('.' for a blank), so
train and evaluate read it like the public dataset. The rating is our solver's count of
guesses (tentative placements beyond its propagation) to find the solution and prove it
unique, as `rate_difficulty` reports it: 0 means propagation alone solves the puzzle, famous
hard puzzles need 60 to 330. It is NOT tdoku's rating, the one in Sudoku-Extreme's `rating`
column: tdoku's solver propagates and branches differently, so the numbers are not
comparable. Ratings are almost always even (a unique puzzle's two-candidate branches are both
tried).

Puzzles that the generator makes in range are kept as they are (source `generated-<difficulty>`);
the others are found by a local search around generated puzzles (`mined-<difficulty>`); see
docs/sudoku-engine.md. With --givens MIN-MAX the puzzles are minimal (every given needed) with that many
givens, one per solution grid, found by a descent from full grids (source `minimal-<givens>`), as the
published hard collections are. The output is the same for a seed on any machine and any --workers.
Bad input: one line on stderr, exit 2, and no file. Interrupted: no file.

`--task maze` writes mazes in the published Maze-Hard layout instead (`source,question,answer,rating`,
the rating the shortest path's steps), from the task's generator with --maze-size, --min-path and the
wall probabilities; a seed's stream is not the one training or evaluate draw from.
"""

import argparse
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from .cli_types import OneLineParser, givens_range, non_negative_int, output_file, positive_int
from .sudoku import Difficulty, mine_puzzles
from .sudoku.minimal import mine_minimal
from .sudoku.files import write_puzzle_csv

PROG = "make_dataset"


def parse_args(argv=None) -> argparse.Namespace:
    difficulties = ", ".join(d.cli_name for d in Difficulty)
    parser = OneLineParser(prog="python -m src.hrm.make_dataset", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=output_file, help="the CSV file to write (replaced whole, never left half-written)")
    parser.add_argument("--num", type=positive_int, required=True, help="number of puzzles")
    parser.add_argument("--difficulty", default="extreme",
                        help=f"difficulty of the starting puzzles: {difficulties} (default extreme)")
    parser.add_argument("--min-rating", type=non_negative_int, default=0, help="lowest rating to keep (default 0)")
    parser.add_argument("--max-rating", type=non_negative_int, default=None,
                        help="highest rating to keep (default: no limit)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--workers", type=positive_int, default=None, help="threads (default: all cores)")
    parser.add_argument("--givens", type=givens_range, default=None, metavar="MIN-MAX",
                        help="minimal puzzles with MIN to MAX givens (17 at least), one per solution grid,"
                             " in place of --difficulty's chains (e.g. 17-23)")
    parser.add_argument("--task", choices=("sudoku", "maze"), default="sudoku",
                        help="sudoku (default): rated puzzles as above; maze: mazes in the published layout")
    maze = parser.add_argument_group("--task maze")
    maze.add_argument("--maze-size", type=positive_int, default=30, help="N of the N×N maze (default 30)")
    maze.add_argument("--min-path", type=non_negative_int, default=None,
                      help="shortest path at least this many steps (default: 111 at 30x30, Maze-Hard's; any otherwise)")
    maze.add_argument("--wall-min", type=float, default=None, help="lowest wall probability (default 0.3)")
    maze.add_argument("--wall-max", type=float, default=None, help="highest wall probability (default 0.5)")
    maze.add_argument("--maze-kinds", default=None, metavar="KINDS",
                      help="maze families, comma-separated: walls (random walls, default), backtracker (perfect mazes)")
    parser.add_argument("--per-chain", type=positive_int, default=4,
                        help="puzzles one search may give on one solution grid, differing in 8 cells or more"
                             " (default 4; 1 gives every puzzle its own grid, at half the speed for ratings of 100)")
    return parser.parse_args(argv)


def check_args(args) -> Difficulty:
    """Validate what the flag types cannot (the difficulty word, the range, the output path) before any work."""
    difficulty = Difficulty.from_name(args.difficulty)
    if args.givens is not None and args.difficulty != "extreme":
        raise ValueError("--difficulty does not apply with --givens (minimal puzzles start from full grids)")
    if args.max_rating is not None and args.max_rating < args.min_rating:
        raise ValueError(f"--max-rating {args.max_rating} is below --min-rating {args.min_rating}")
    folder = os.path.dirname(os.path.abspath(args.out))  # --out itself is checked by its type, output_file
    if not os.path.isdir(folder):
        raise ValueError(f"the folder of --out does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"the folder of --out is not writable: {folder}")
    return difficulty


def task_dataset(args) -> int:
    """A task's own dataset file (the maze's published layout), written atomically."""
    from .tasks import TaskError, build_task  # here: the Sudoku files need no torch, and start sooner without it
    from .tasks.maze import default_min_path

    settings = {"name": args.task, "size": args.maze_size}
    settings |= {key: value for key, value in (("min_path", args.min_path), ("wall_min", args.wall_min),
                                               ("wall_max", args.wall_max), ("kinds", args.maze_kinds))
                 if value is not None}  # fmt: skip
    settings.setdefault("min_path", default_min_path(args.maze_size))
    start = time.perf_counter()
    try:
        check_args(args)
        written = build_task(settings).write_dataset(args.out, args.num, args.seed, args.workers)
    except (ValueError, TaskError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{PROG}: error: cannot write {args.out}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - start
    print(f"{PROG}: {args.num} rows to {args.out} ({written}), {seconds:.1f} s, {args.num / seconds:.1f} rows/s")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.task != "sudoku":
        return task_dataset(args)
    try:
        difficulty = check_args(args)
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    progress = tqdm(total=args.num, unit="puzzle", disable=not sys.stderr.isatty(), file=sys.stderr)
    start = time.perf_counter()
    try:
        if args.givens is None:
            puzzles, solutions, ratings, sources = mine_puzzles(
                args.num, args.min_rating, args.max_rating, seed=args.seed, workers=args.workers,
                difficulty=difficulty, per_chain=args.per_chain, progress=progress.update)
        else:
            puzzles, solutions, ratings, sources = mine_minimal(
                args.num, *args.givens, seed=args.seed, min_rating=args.min_rating, max_rating=args.max_rating,
                workers=args.workers, progress=progress.update)
        progress.close()
        write_puzzle_csv(args.out, puzzles, solutions, ratings, sources)
    except ValueError as error:  # a range the search does not reach
        progress.close()
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        progress.close()
        print(f"{PROG}: error: cannot write {args.out}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress.close()
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - start
    mined = sum(source.startswith(("mined", "minimal")) for source in sources)
    print(f"{PROG}: {len(puzzles)} puzzles to {args.out} ({mined} mined), rating min {ratings.min()}"
          f" median {np.median(ratings):g} max {ratings.max()}, {seconds:.1f} s,"
          f" {len(puzzles) / seconds:.1f} puzzles/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
