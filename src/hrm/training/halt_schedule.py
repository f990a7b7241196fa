"""Halting schedules (not in the original; seed 003's ACT curriculum): the exploration probability and the segment
limit as functions of the training step.

    --halt-exploration-schedule START:END:STEPS   the probability goes linearly from START to END over STEPS steps,
                                                  then stays at END
    --halt-max-steps-schedule START:STEPS         the limit (halt_max_steps in training) grows linearly from START to
                                                  the model's halt_max_steps over STEPS steps, then stays there

A value is a pure function of the steps done before the step that uses it, so a resumed run is the run that
never stopped. It is computed on the device from a step counter kept there and given to the compiled step as a
0-dim tensor: a Python number would be baked into the compiled graph, which would recompile whenever it changed.
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ExplorationSchedule:
    start: float
    end: float
    steps: int

    @classmethod
    def parse(cls, text: str) -> "ExplorationSchedule":
        """START:END:STEPS, probabilities in [0, 1], STEPS >= 1; ValueError with a one-line reason otherwise."""
        parts = text.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            start, end, steps = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"expected START:END:STEPS (e.g. 0.5:0.1:2000), got {text!r}") from None
        if not (0 <= start <= 1 and 0 <= end <= 1):
            raise ValueError(f"START and END are probabilities between 0 and 1, got {text!r}")
        if steps < 1:
            raise ValueError(f"STEPS must be a positive integer, got {text!r}")
        return cls(start, end, steps)

    def __str__(self) -> str:
        """The canonical flag text, as the run's config keeps it."""
        return f"{self.start!r}:{self.end!r}:{self.steps}"

    def at(self, done):
        """The probability for the step after `done` steps: an int gives a float, a long tensor a float64 tensor
        (the same number: the same float64 operations)."""
        if isinstance(done, torch.Tensor):
            fraction = done.clamp(max=self.steps).double() / self.steps
        else:
            fraction = min(done, self.steps) / self.steps
        return self.start + (self.end - self.start) * fraction


@dataclass(frozen=True)
class MaxStepsSchedule:
    start: int
    steps: int

    @classmethod
    def parse(cls, text: str) -> "MaxStepsSchedule":
        """START:STEPS, both positive integers; ValueError with a one-line reason otherwise."""
        parts = text.split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            start, steps = int(parts[0]), int(parts[1])
        except ValueError:
            raise ValueError(f"expected START:STEPS (e.g. 2:5000), got {text!r}") from None
        if start < 1 or steps < 1:
            raise ValueError(f"START and STEPS must be positive integers, got {text!r}")
        return cls(start, steps)

    def __str__(self) -> str:
        return f"{self.start}:{self.steps}"

    def at(self, done, limit: int):
        """The segment limit for the step after `done` steps (an int, or a long tensor), growing to `limit`; integer
        arithmetic, rounding down, so it reaches `limit` at STEPS."""
        if isinstance(done, torch.Tensor):
            return self.start + (limit - self.start) * done.clamp(max=self.steps) // self.steps
        return self.start + (limit - self.start) * min(done, self.steps) // self.steps


class HaltingSchedule:
    """A run's halting schedules on its device: the values for the next step, from a counter of the steps done."""

    def __init__(
        self,
        exploration: ExplorationSchedule | None,
        max_steps: MaxStepsSchedule | None,
        halt_max_steps: int,
        device,
    ):
        self.exploration, self.max_steps, self.halt_max_steps = exploration, max_steps, halt_max_steps
        self.done = torch.zeros((), dtype=torch.long, device=device)

    @classmethod
    def of(cls, exploration: str | None, max_steps: str | None, halt_max_steps: int, device):
        """The schedules of a run's config (their flag texts), or None when it has neither."""
        if exploration is None and max_steps is None:
            return None
        return cls(
            None if exploration is None else ExplorationSchedule.parse(exploration),
            None if max_steps is None else MaxStepsSchedule.parse(max_steps),
            halt_max_steps,
            device,
        )

    def start(self, step: int) -> None:
        """Before the first step of an invocation: `step` steps are done (a resumed run's step)."""
        self.done.fill_(step)

    def values(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(exploration probability, segment limit) for the next step as 0-dim device tensors; None: the model's."""
        probability = None if self.exploration is None else self.exploration.at(self.done)
        limit = None if self.max_steps is None else self.max_steps.at(self.done, self.halt_max_steps)
        return probability, limit

    def advance(self) -> None:
        """After a step (on the device, no host sync)."""
        self.done.add_(1)

    def record(self, step: int) -> dict:
        """The values step `step` (1-based, as metrics.jsonl counts) trained with, for its record."""
        record = {}
        if self.exploration is not None:
            record["halt_exploration"] = self.exploration.at(step - 1)
        if self.max_steps is not None:
            record["halt_max_steps"] = self.max_steps.at(step - 1, self.halt_max_steps)
        return record
