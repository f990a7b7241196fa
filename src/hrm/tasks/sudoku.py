"""The original's task: Sudoku from the generator, difficulty by a five-stage curriculum.

Rows are (puzzle, solution) with 0 for an empty cell; the loss counts the empty cells only;
a prediction is correct when the whole board equals the solution. The curriculum picks
each fresh puzzle's difficulty and graduates on the training accuracy, all on the device.
"""

import argparse
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch

from ..cli_types import fraction, non_negative_int, positive_int
from ..evaluation.views import ViewRules
from ..frames import sudoku_frame
from ..sudoku import (
    Difficulty,
    PuzzleSupply,
    board_to_string,
    count_solutions,
    format_puzzle,
    generate_batch,
    generate_sudoku,
    parse_puzzle,
    solve,
    validate_solution,
)
from ..sudoku.views import sudoku_accepts, sudoku_views
from .base import ANSI_CHANGED, ANSI_RESET, Case, EvaluationRows, Shard, Task
from .curriculum import (
    LAST_STAGE,
    STAGE_PROBABILITIES,
    TRAINING_DIFFICULTIES,
    Curriculum,
    CurriculumConfig,
    CurriculumRows,
    reachable_stages,
)
from .row_queue import RowQueue
from .sudoku_evaluation import sudoku_evaluation_report, sudoku_evaluation_rows


MAX_VIEWS = 1024  # a bound for the command-line flags: each view is a row of the batch


class SudokuBoards(Task):
    """What every Sudoku task shares: 81 cells of tokens 0..9, the loss on the blanks, boards as pictures, the
    views and the rule checker, and how one puzzle is asked for and shown."""

    vocab_size = 10
    seq_len = 81
    side = 9

    def loss_mask(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs == 0  # the blanks; givens are copied, as in the original's loss

    def format_row(self, row) -> str:
        return board_to_string(np.asarray(row).reshape(9, 9))

    def row_text(self, row) -> str:
        return format_puzzle(np.asarray(row).reshape(9, 9))

    family = "sudoku"  # the generated and the dataset-trained models solve the same puzzles

    def describe(self) -> str:
        return "Sudoku"

    def view_rules(self, seed: int = 0) -> ViewRules:
        return ViewRules(partial(sudoku_views, seed=seed), sudoku_accepts, self.loss_mask, MAX_VIEWS)

    def make_case(self, difficulty, text, file, seed) -> Case:
        if file is not None:
            raise ValueError("--board is for path-finding checkpoints; give a Sudoku with --puzzle")
        if text is not None and difficulty is not None:
            raise ValueError("give either a DIFFICULTY or --puzzle, not both")
        if text is not None:
            puzzle = np.asarray(parse_puzzle(text), dtype=np.int8).reshape(9, 9)
            solution, note = reference_solution(puzzle)
            source = "solver" if solution is not None else None
        elif difficulty is None:
            raise ValueError(f"give a DIFFICULTY ({', '.join(d.cli_name for d in Difficulty)}) or --puzzle")
        else:
            level = Difficulty.from_name(difficulty)
            puzzle, solution = generate_sudoku(level, rng=seed)  # int8 [9, 9] each
            note, source = None, "generator"
        solution = None if solution is None else solution.reshape(81)
        fields = {"difficulty": None if text is not None else level.cli_name, "solution_source": source}
        return Case(puzzle.reshape(81), solution, ("Puzzle:", "Solution:" if note is None else f"Solution ({note}):"),
                    ("puzzle", "solution"), fields, from_user=text is not None)

    def outcome(self, inputs, answer, board) -> tuple[str, bool]:
        if answer is None:
            valid = bool(validate_solution(inputs, board))
            return "a valid solution" if valid else "not a valid solution", valid
        blanks = np.asarray(inputs).reshape(-1) == 0
        correct = int(((np.asarray(board).reshape(-1) == np.asarray(answer).reshape(-1)) & blanks).sum())
        return f"{correct} / {int(blanks.sum())}", correct == int(blanks.sum())

    def segment_fields(self, inputs, answer, board) -> dict:
        blanks = np.asarray(inputs).reshape(-1) == 0
        correct = None if answer is None else int(((np.asarray(board).reshape(-1) == answer) & blanks).sum())
        return {"correct": correct, "blanks": int(blanks.sum())}

    def final_fields(self, case, board) -> dict:
        return {**super().final_fields(case, board),
                "valid_solution": bool(validate_solution(case.inputs, board))}  # fmt: skip

    def closing_line(self, case, board) -> str | None:
        if not case.from_user:
            return None
        return f"Final board is a valid solution: {'yes' if validate_solution(case.inputs, board) else 'no'}"

    def mark_changes(self, picture, changed, color) -> str:
        """Colour on a terminal, else a '*' just left of each changed digit."""
        changed = np.asarray(changed, dtype=bool).reshape(9, 9)
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
                        chars[position] = f"{ANSI_CHANGED}{chars[position]}{ANSI_RESET}"
                    else:
                        chars[position - 1] = "*"
            lines[index] = "".join(chars)
            row += 1
        return "\n".join(lines)

    def wrong_cells(self, inputs, answer, boards) -> np.ndarray:
        """The blanks that differ from the solution."""
        if answer is None:
            return np.zeros(np.shape(boards), dtype=bool)
        return (np.asarray(inputs).reshape(-1) == 0) & (np.asarray(boards) != np.asarray(answer).reshape(-1))

    def frame(self, inputs, answer, board, changed, caption):
        return sudoku_frame(inputs, board, answer, changed, caption)

    def evaluation_rows(self, args) -> EvaluationRows:
        return sudoku_evaluation_rows(args)

    def evaluation_report(self, rows, predictions):
        return sudoku_evaluation_report(rows, predictions)

    def sample_rows(self, count, seed, difficulty=None):
        return generate_batch([Difficulty.from_name(difficulty or Difficulty.EXTREME.cli_name)] * count, seed)


def reference_solution(puzzle: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The unique solution of a user's puzzle from the engine's solver, with a sentence saying where it came from."""
    count = count_solutions(puzzle, limit=2)
    if count == 1:
        return np.asarray(solve(puzzle), dtype=np.int8).reshape(9, 9), "the unique solution, found by the solver"
    if count == 0:
        return None, "none: the puzzle has no solution; boards are checked for validity instead"
    return None, "not unique: the puzzle has several solutions; boards are checked for validity instead"


@dataclass
class SudokuConfig:
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)

    @classmethod
    def from_dict(cls, data: dict) -> "SudokuConfig":
        return cls(curriculum=CurriculumConfig(**data.get("curriculum", {})))


class SudokuTask(SudokuBoards):
    name = "sudoku"
    Config = SudokuConfig
    FLAGS = {
        "curriculum_window": "curriculum.window", "graduation_threshold": "curriculum.threshold",
        "graduation_min_steps": "curriculum.min_steps", "start_stage": "curriculum.start_stage",
    }  # fmt: skip

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        cur = CurriculumConfig()
        group = parser.add_argument_group("--task sudoku: the curriculum (fixed for a run)")
        group.add_argument(
            "--curriculum-window", type=positive_int, help=f"steps of accuracy averaged (default: {cur.window})"
        )
        group.add_argument(
            "--graduation-threshold", type=fraction, help=f"mean accuracy to graduate (default: {cur.threshold})"
        )
        group.add_argument(
            "--graduation-min-steps", type=non_negative_int,
            help="steps between graduations (default: the window size)",
        )  # fmt: skip
        group.add_argument("--start-stage", type=int, choices=range(LAST_STAGE + 1), help="default: 0")

    @classmethod
    def complete_config(cls, config: SudokuConfig, given: set[str]) -> None:
        if "graduation_min_steps" not in given:
            config.curriculum.min_steps = config.curriculum.window  # the original waits one window

    def rows(self, seed, batch_size, device, workers, meta=None, shard=Shard()) -> "GeneratedSudokuRows":
        return GeneratedSudokuRows(self.config.curriculum, shard.seed(seed), batch_size, device, workers, meta)


class GeneratedSudokuRows(CurriculumRows):
    """Puzzles from a background `PuzzleSupply`, through a device queue per training difficulty."""

    counter_names = tuple(f"consumed_{d.name.lower()}" for d in TRAINING_DIFFICULTIES)

    def __init__(self, curriculum: CurriculumConfig, seed: int, batch_size: int, device, workers, meta=None):
        self.curriculum = Curriculum(curriculum, device)
        self.supply = _supply(seed, batch_size, workers, None if meta is None else meta["supply"])
        take = lambda kind, n: self.supply.take(TRAINING_DIFFICULTIES[kind], n)  # noqa: E731
        self.queue = RowQueue(take, len(TRAINING_DIFFICULTIES), 81, batch_size, device)
        self.known_stage = curriculum.start_stage  # as the host knows it, one step late
        self.told_last_stage = False

    def start(self) -> None:
        self.supply.set_demand(_demand(self.known_stage))
        self.queue.ensure(_needed_kinds(self.known_stage))

    def refill(self) -> float:
        return self.queue.ensure(_needed_kinds(self.known_stage))

    def observe(self, step, values) -> list[str]:
        self.queue.observe([values[name] for name in self.counter_names])
        if values["graduated"]:
            self.known_stage = int(values["stage"])
            self.supply.set_demand(_demand(self.known_stage))
            return [f"step {step}: graduated to curriculum stage {self.known_stage}"]
        if values["ready"] and self.known_stage == LAST_STAGE and not self.told_last_stage:
            self.told_last_stage = True
            return [f"step {step}: the curriculum is at its last stage ({LAST_STAGE}), no further graduation"]
        return []

    def record(self, values) -> dict:
        return {"stage": int(values["stage"])}

    def meta(self) -> dict:
        return {"supply": self.supply.state_dict()}

    def close(self) -> None:
        self.supply.close()


def _supply(seed: int, batch_size: int, workers, state: dict | None) -> PuzzleSupply:
    """Background generator pools sized to the batch: a few batches ahead, not thousands of puzzles for a tiny run.

    A queue refill takes up to a whole ring of one difficulty at once, so every demanded pool keeps that
    many ready: with pools only in proportion to demand, refills of the rarer difficulties waited for
    the generator (5–6% of the step time at the last stage on an H100).
    """
    sizes = dict(capacity=max(4 * batch_size, 512), chunk_size=min(256, max(32, batch_size)),
                 min_ready=RowQueue.default_capacity(batch_size))
    if state is None:
        return PuzzleSupply(seed, workers=workers, **sizes)
    return PuzzleSupply.from_state_dict(state, workers=workers, **sizes)


def _needed_kinds(stage: int) -> list[int]:
    """Queue rows that the device may draw from before the host hears of the next graduation."""
    return sorted({k for s in reachable_stages(stage) for k, p in enumerate(STAGE_PROBABILITIES[s]) if p > 0})


def _demand(stage: int) -> list[float]:
    """Supply weights per Difficulty value (very-easy first, never trained on)."""
    return [0.0, *STAGE_PROBABILITIES[stage]]
