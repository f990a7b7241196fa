"""The original's difficulty curriculum, kept on the device so that a training step never syncs.

Five stages give the probability of each training difficulty for every new puzzle. The
trainer graduates to the next stage when the mean of the last `window` values of
avgOutputFullAccuracy reaches `threshold`, at least `min_steps` steps after the previous
graduation (or the start). The window starts filled with zeros, as in the original, so no
graduation can happen before threshold·window steps of perfect accuracy.
"""

from dataclasses import dataclass

import torch

from ..sudoku import Difficulty
from .base import RowSource
from .row_queue import RowQueue

# Column k of a stage row is the probability of TRAINING_DIFFICULTIES[k]; very-easy is never trained on.
TRAINING_DIFFICULTIES = (Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD, Difficulty.EXTREME)
STAGE_PROBABILITIES = (
    (1.0, 0.0, 0.0, 0.0),
    (0.7, 0.3, 0.0, 0.0),
    (0.5, 0.4, 0.1, 0.0),
    (0.3, 0.3, 0.3, 0.1),
    (0.1, 0.3, 0.4, 0.2),
)
LAST_STAGE = len(STAGE_PROBABILITIES) - 1


@dataclass
class CurriculumConfig:
    window: int = 300
    threshold: float = 0.85
    min_steps: int = 300
    start_stage: int = 0

    def __post_init__(self):
        if self.window < 1:
            raise ValueError(f"curriculum window must be at least 1 step, got {self.window}")
        if self.min_steps < 0:
            raise ValueError(f"curriculum min_steps must be >= 0, got {self.min_steps}")
        if not 0 <= self.start_stage <= LAST_STAGE:
            raise ValueError(f"curriculum start stage must be 0..{LAST_STAGE}, got {self.start_stage}")


class Curriculum:
    """Stage, accuracy window and step counter as device tensors, updated in place with tensor ops only."""

    def __init__(self, config: CurriculumConfig, device: torch.device | str = "cpu",
                 table: tuple | list = STAGE_PROBABILITIES):  # fmt: skip
        """`table` [stages, kinds]: each stage's probability of each kind of row (the original's five by default)."""
        self.config = config
        self.table = torch.tensor(table, dtype=torch.float32, device=device)  # [stages, kinds]
        self.last_stage = len(table) - 1
        if config.start_stage > self.last_stage:
            raise ValueError(f"curriculum start stage must be 0..{self.last_stage}, got {config.start_stage}")
        self.window = torch.zeros(config.window, dtype=torch.float32, device=device)
        self.position = torch.zeros((), dtype=torch.long, device=device)  # next slot of the window to overwrite
        self.stage = torch.full((), config.start_stage, dtype=torch.long, device=device)
        self.steps_since = torch.zeros((), dtype=torch.long, device=device)  # steps since the last graduation

    def probabilities(self) -> torch.Tensor:
        """The current stage's probability of each kind, [kinds] on the device."""
        return self.table.index_select(0, self.stage.view(1)).squeeze(0)  # a tensor index, not .item(): no sync

    def update(self, accuracy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Record one step's avgOutputFullAccuracy; returns (graduated, ready) as 0-dim bool tensors.

        `ready` means the graduation test passed, whether or not a stage was left to graduate to
        (the original announces that it cannot graduate past the last stage).
        """
        slots = torch.arange(self.window.numel(), device=self.window.device)
        self.window.copy_(torch.where(slots == self.position, accuracy.detach().float(), self.window))
        self.position.copy_((self.position + 1) % self.window.numel())
        self.steps_since.add_(1)
        ready = (self.window.mean() >= self.config.threshold) & (self.steps_since >= self.config.min_steps)
        graduated = ready & (self.stage < self.last_stage)
        self.stage.add_(graduated.long())
        self.steps_since.copy_(torch.where(graduated, torch.zeros_like(self.steps_since), self.steps_since))
        return graduated, ready

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"window": self.window, "position": self.position, "stage": self.stage, "steps_since": self.steps_since}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["window"].shape != self.window.shape:
            raise ValueError(
                f"curriculum window holds {state['window'].numel()} steps, this run uses {self.window.numel()}"
            )
        for name, tensor in self.state_dict().items():
            tensor.copy_(state[name])


def reachable_stages(stage: int) -> range:
    """`stage` and the next one: a step graduates at most once, so within one step of a known stage these are all."""
    return range(stage, min(stage + 1, LAST_STAGE) + 1)


class CurriculumRows(RowSource):
    """A row source whose rows come through a RowQueue with a kind per column of a Curriculum's table: fresh rows
    drawn by the current stage's probabilities, the curriculum updated on the device every step, both saved with
    a checkpoint. Subclasses set `curriculum`, `queue` and `known_stage` (the stage as the host knows it, one step
    late), and say what to refill and announce."""

    metric_names = ("stage", "graduated", "ready")
    curriculum: Curriculum
    queue: RowQueue
    known_stage: int

    def draw(self, halted, generator):
        # New rows come from the stage this step trained at; a graduation applies from the next step.
        return self.queue.draw(halted, self.curriculum.probabilities(), generator)

    def update(self, accuracy):
        graduated, ready = self.curriculum.update(accuracy)
        return [self.curriculum.stage, graduated, ready]

    def counters(self) -> torch.Tensor:
        return self.queue.consumed

    def rows_consumed(self) -> int:
        return self.queue.total_consumed()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            **{f"curriculum.{k}": v for k, v in self.curriculum.state_dict().items()},
            **{f"queue.{k}": v for k, v in self.queue.state_dict().items()},
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for prefix, part in (("curriculum", self.curriculum), ("queue", self.queue)):
            part.load_state_dict({key: state[f"{prefix}.{key}"] for key in part.state_dict()})
        self.known_stage = int(self.curriculum.stage)
