"""The original's task: Sudoku from the generator, difficulty by a five-stage curriculum.

Rows are (puzzle, solution) with 0 for an empty cell; the loss counts the empty cells only;
a prediction is correct when the whole board equals the solution. The curriculum picks
each fresh puzzle's difficulty and graduates on the training accuracy, all on the device.
"""

import argparse
from dataclasses import dataclass, field

import numpy as np
import torch

from ..cli_types import fraction, non_negative_int, positive_int
from ..sudoku import PuzzleSupply, board_to_string
from .base import RowSource, Shard, Task
from .curriculum import (
    LAST_STAGE,
    STAGE_PROBABILITIES,
    TRAINING_DIFFICULTIES,
    Curriculum,
    CurriculumConfig,
    reachable_stages,
)
from .row_queue import RowQueue


class SudokuBoards(Task):
    """What every Sudoku task shares: 81 cells of tokens 0..9, the loss on the blanks, boards as pictures."""

    vocab_size = 10
    seq_len = 81

    def loss_mask(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs == 0  # the blanks; givens are copied, as in the original's loss

    def format_row(self, row) -> str:
        return board_to_string(np.asarray(row).reshape(9, 9))


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


class GeneratedSudokuRows(RowSource):
    """Puzzles from a background `PuzzleSupply`, through a device queue per training difficulty."""

    metric_names = ("stage", "graduated", "ready")
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

    def draw(self, halted, generator):
        # New puzzles come from the stage this step trained at; a graduation applies from the next step.
        return self.queue.draw(halted, self.curriculum.probabilities(), generator)

    def update(self, accuracy):
        graduated, ready = self.curriculum.update(accuracy)
        return [self.curriculum.stage, graduated, ready]

    def counters(self) -> torch.Tensor:
        return self.queue.consumed

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

    def rows_consumed(self) -> int:
        return self.queue.total_consumed()

    def record(self, values) -> dict:
        return {"stage": int(values["stage"])}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            **{f"curriculum.{k}": v for k, v in self.curriculum.state_dict().items()},
            **{f"queue.{k}": v for k, v in self.queue.state_dict().items()},
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for prefix, part in (("curriculum", self.curriculum), ("queue", self.queue)):
            part.load_state_dict({key: state[f"{prefix}.{key}"] for key in part.state_dict()})
        self.known_stage = int(self.curriculum.stage)

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
