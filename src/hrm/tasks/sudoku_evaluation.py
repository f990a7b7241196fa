"""How a Sudoku checkpoint is evaluated: generated puzzles per difficulty, or a file's, by rating and by givens.

Puzzles come either from the generator (deterministic in --seed, a group per difficulty) or from
a file (`sudoku.files`; hf://sapientinc/sudoku-extreme reads its test.csv). A file's rows without
a solution get the solver's; rows with none or several are excluded and listed. A rated file is
reported per rating bucket; every file per givens count, since published hard collections differ
from generated puzzles in givens first.
"""

import numpy as np

from ..evaluation.report import (
    bucket_labels,
    bucket_names,
    check_row_count,
    format_groups,
    format_report,
    metrics_by,
    present,
)
from ..evaluation.inference import compute_metrics
from ..sudoku import Difficulty, count_solutions_batch, generate_batch, solve_batch
from ..hub import resolve_hub_path
from ..sudoku.files import read_puzzle_file
from .base import EvaluationReport, EvaluationRows

DEFAULT_BUCKETS = (0, 1, 10, 20, 50, 100)  # rating edges: 0, 1-9, 10-19, 20-49, 50-99, 100+
GIVENS_BUCKETS = [0, *range(17, 25), 28, 32]  # givens: each of 17..23, 24-27, 28-31, 32+ (16 or fewer: 0-16)


def parse_buckets(text: str) -> list[int]:
    """Rating bucket edges from "0,10,50": increasing non-negative integers."""
    try:
        edges = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--rating-buckets must be comma-separated whole numbers, got {text!r}") from None
    if not edges or min(edges) < 0 or edges != sorted(set(edges)):
        raise ValueError(f"--rating-buckets must be increasing non-negative numbers, got {text!r}")
    return edges


def check_sources(args) -> list[Difficulty]:
    """The puzzle source's flags checked; the difficulties to generate (empty for --data)."""
    if args.limit is not None and args.limit < 0:
        raise ValueError(f"--limit must not be negative, got {args.limit}")
    if args.min_path is not None:
        raise ValueError("--min-path is for path-finding checkpoints; a Sudoku checkpoint takes --difficulty or"
                         " --data")  # fmt: skip
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
    check_row_count(args.num * len(difficulties))
    return difficulties


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


def sudoku_evaluation_rows(args) -> EvaluationRows:
    """Generated puzzles (--difficulty, --num each, --seed) or a file's (--data, --limit, the rating filter)."""
    difficulties = check_sources(args)
    if args.file is None:
        kinds = [d for d in difficulties for _ in range(args.num)]
        puzzles, solutions = generate_batch(kinds, args.seed, workers=args.workers)
        groups = np.array([d.cli_name for d in kinds])
        names = [d.cli_name for d in difficulties] if len(difficulties) > 1 else []
        return EvaluationRows(puzzles, solutions, f"generated: {args.difficulty}, {args.num} each, seed {args.seed}",
                              groups, names, {"excluded": [], "num_excluded": 0}, {"group_kind": "difficulty"})
    puzzle_set = read_puzzle_file(resolve_hub_path(args.file, "test.csv"), limit=args.limit)
    puzzle_set = puzzle_set.rated_within(args.min_rating, args.max_rating, args.file)
    solutions = puzzle_set.solutions.copy()
    reasons = solve_missing(puzzle_set.puzzles, solutions, puzzle_set.has_solution)
    excluded = [{"line": int(line), "reason": why} for line, why in zip(puzzle_set.line_numbers, reasons) if why]
    scored = np.array([why is None for why in reasons], dtype=bool)
    if not scored.any():
        what = f"all {len(excluded)} puzzles are excluded" if excluded else "it holds no puzzles"
        raise ValueError(f"nothing to evaluate in {args.file}: {what}")
    rated = puzzle_set.ratings is not None
    if rated:
        edges = parse_buckets(args.rating_buckets)
        groups = bucket_names(puzzle_set.ratings[scored], edges)
        names = present(groups, bucket_labels(edges))
    else:
        groups, names = np.full(int(scored.sum()), "file"), []
    return EvaluationRows(puzzle_set.puzzles[scored], solutions[scored], args.file, groups, names,
                          {"excluded": excluded, "num_excluded": len(excluded)},
                          {"group_kind": "rating" if rated else "difficulty", "by_givens": True})  # fmt: skip


def sudoku_evaluation_report(rows: EvaluationRows, predictions) -> EvaluationReport:
    """Solve rates and cell accuracy, per group, and per givens count for a file."""
    inputs, targets = rows.inputs, rows.targets
    metrics = compute_metrics(inputs, targets, predictions)
    by_group = metrics_by(inputs, targets, predictions, rows.groups, rows.group_names)
    by_givens = {}
    if rows.details.get("by_givens"):
        givens = bucket_names(np.count_nonzero(inputs, axis=1), GIVENS_BUCKETS)
        by_givens = metrics_by(inputs, targets, predictions, givens, bucket_labels(GIVENS_BUCKETS))
    kind = rows.details["group_kind"]
    fields = {
        **({"per_givens": {name: g.to_dict() for name, g in by_givens.items()}} if by_givens else {}),
        **metrics.to_dict(),
        "per_rating" if kind == "rating" else "per_difficulty": {name: g.to_dict() for name, g in by_group.items()},
    }

    def text(summary: dict) -> str:
        report = format_report(summary, metrics, by_group, kind)
        return report + ("\n" + format_groups(by_givens, "givens") if by_givens else "")

    return EvaluationReport(metrics.act_solve_rate, fields, text)
