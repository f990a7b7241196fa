"""The carried training batch, and the device-resident queue of fresh puzzles it draws from.

The original keeps 512 rows across steps: each row's puzzle, solution, segment counter and
hidden states. After every step, halted rows get a fresh puzzle whose difficulty is drawn
from the current curriculum stage. Here that replacement runs entirely on the device
(`torch.where`, no host sync): fresh puzzles come from per-difficulty ring buffers that the
host keeps filled from a `PuzzleSupply`.

The host cannot see how many puzzles the device has used without waiting for it, so it
reads the consumption counters `lag` steps late and keeps at least (lag + 1)·B unread
puzzles of every difficulty that may be drawn: enough for the steps already launched plus
the next one, even if every row halts and draws the same difficulty.
"""

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..modeling import HiddenStates
from ..tasks.curriculum import TRAINING_DIFFICULTIES

EMPTY_SLOT = -1  # never a digit: a row drawn from a slot that was not written would show it


@dataclass
class Carry:
    inputs: torch.Tensor  # [B, 81] long, 0 = empty cell
    targets: torch.Tensor  # [B, 81] long, the solution's digits
    segments: torch.Tensor  # [B] long, segments already run on the row's puzzle
    high_level: torch.Tensor  # [B, 82, H] float32
    low_level: torch.Tensor  # [B, 82, H] float32

    @classmethod
    def empty(cls, batch_size: int, seq_len: int, hidden_size: int, device) -> "Carry":
        """Placeholder rows: every row must be replaced (all halted) before the first step."""
        return cls(
            inputs=torch.zeros(batch_size, seq_len, dtype=torch.long, device=device),
            targets=torch.zeros(batch_size, seq_len, dtype=torch.long, device=device),
            segments=torch.zeros(batch_size, dtype=torch.long, device=device),
            high_level=torch.zeros(batch_size, seq_len + 1, hidden_size, device=device),
            low_level=torch.zeros(batch_size, seq_len + 1, hidden_size, device=device),
        )

    @property
    def hidden_states(self) -> HiddenStates:
        return HiddenStates(high_level=self.high_level, low_level=self.low_level)

    @torch.no_grad()
    def advance(
        self,
        hidden: HiddenStates,
        halted: torch.Tensor,
        fresh_inputs: torch.Tensor,
        fresh_targets: torch.Tensor,
        initial: HiddenStates,
    ) -> None:
        """In place: keep the segment's hidden states and count it; halted rows restart on a fresh puzzle."""
        rows, cells = halted[:, None], halted[:, None, None]
        hidden_size = self.high_level.shape[-1]
        self.inputs.copy_(torch.where(rows, fresh_inputs, self.inputs))
        self.targets.copy_(torch.where(rows, fresh_targets, self.targets))
        self.segments.copy_(torch.where(halted, torch.zeros_like(self.segments), self.segments + 1))
        self.high_level.copy_(torch.where(cells, initial.high_level.view(1, 1, hidden_size), hidden.high_level))
        self.low_level.copy_(torch.where(cells, initial.low_level.view(1, 1, hidden_size), hidden.low_level))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in ("inputs", "targets", "segments", "high_level", "low_level")}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, tensor in self.state_dict().items():
            if state[name].shape != tensor.shape:
                found, needed = list(state[name].shape), list(tensor.shape)
                raise ValueError(f"carried {name} has shape {found}, this run needs {needed}")
            tensor.copy_(state[name])


class PuzzleQueue:
    """Per-difficulty ring buffers of fresh puzzles on the device; the device draws, the host refills."""

    def __init__(self, supply, batch_size: int, device, capacity: int | None = None, lag: int = 1):
        """supply: anything with `take(difficulty, n) -> (puzzles [n, 81], solutions [n, 81])`."""
        self.supply = supply
        self.batch_size = batch_size
        self.reserve = (lag + 1) * batch_size
        self.capacity = capacity if capacity is not None else self.default_capacity(batch_size, lag)
        if self.capacity < self.reserve + batch_size:
            needed = self.reserve + batch_size
            raise ValueError(f"queue capacity {self.capacity} must be at least (lag + 2)·batch = {needed}")
        kinds = len(TRAINING_DIFFICULTIES)
        self.puzzles = torch.full((kinds, self.capacity, 81), EMPTY_SLOT, dtype=torch.int8, device=device)
        self.solutions = torch.full((kinds, self.capacity, 81), EMPTY_SLOT, dtype=torch.int8, device=device)
        self.consumed = torch.zeros(kinds, dtype=torch.long, device=device)  # device-side, exact
        self.written = [0] * kinds  # host-side, exact
        self.known_consumed = [0] * kinds  # host-side view of `consumed`, `lag` steps old
        self.wait_seconds = 0.0

    @staticmethod
    def default_capacity(batch_size: int, lag: int = 1) -> int:
        """Ring slots per difficulty: the (lag + 1)·B reserve plus 2·B, so that refills come every few steps."""
        return (lag + 3) * batch_size

    def draw(
        self, halted: torch.Tensor, probabilities: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh (inputs, targets) [B, 81] long for the halted rows, in row order; other rows get don't-care values.

        Each row draws its difficulty by inverse CDF on a uniform draw, like the original's per-puzzle
        sampling; halted rows of one difficulty take consecutive queue slots.
        """
        kinds = probabilities.shape[0]
        kind_ids = torch.arange(kinds, device=halted.device)
        uniform = torch.rand(halted.shape[0], generator=generator, device=halted.device)
        cdf = probabilities.cumsum(0)
        difficulty = (uniform[:, None] >= cdf[None, :]).sum(1)
        # A cdf that rounds to just below 1 must not send a draw to a trailing difficulty of probability 0.
        last_possible = torch.where(probabilities > 0, kind_ids, 0).max()
        difficulty = torch.minimum(difficulty, last_possible)

        chosen = ((difficulty[:, None] == kind_ids) & halted[:, None]).long()  # [B, kinds], one-hot of halted rows
        # Rank of a row among the halted rows of its difficulty (those above it in the batch).
        rank = (chosen.cumsum(0) - chosen).gather(1, difficulty[:, None]).squeeze(1)
        slot = (self.consumed[difficulty] + rank) % self.capacity
        self.consumed.add_(chosen.sum(0))
        return self.puzzles[difficulty, slot].long(), self.solutions[difficulty, slot].long()

    def observe(self, consumed) -> None:
        """The host learns the consumption counters (as read back, `lag` steps late)."""
        self.known_consumed = [int(c) for c in consumed]

    def ensure(self, kinds) -> float:
        """Top up each difficulty index in `kinds` with fewer than (lag + 1)·B unread puzzles; returns seconds waited.

        A refill fills the ring up to capacity, never past the oldest slot the device may still read.
        """
        waited = 0.0
        for kind in kinds:
            unread = self.written[kind] - self.known_consumed[kind]
            if unread >= self.reserve:
                continue
            started = time.perf_counter()
            puzzles, solutions = self.supply.take(TRAINING_DIFFICULTIES[kind], self.capacity - unread)
            waited += time.perf_counter() - started
            self._write(kind, puzzles, solutions)
        self.wait_seconds += waited
        return waited

    def total_consumed(self) -> int:
        """Puzzles handed to the carry so far, as known to the host."""
        return sum(self.known_consumed)

    def _write(self, kind: int, puzzles: np.ndarray, solutions: np.ndarray) -> None:
        count = len(puzzles)
        start = self.written[kind] % self.capacity
        first = min(count, self.capacity - start)  # the rest wraps around to slot 0
        for source, target in ((puzzles, self.puzzles[kind]), (solutions, self.solutions[kind])):
            source = torch.from_numpy(np.ascontiguousarray(source, dtype=np.int8))
            if target.is_cuda:
                # Pinned memory lets the copy overlap the running step; the caching host allocator keeps
                # the buffer alive until the copy has finished.
                source = source.pin_memory()
            target[start : start + first].copy_(source[:first], non_blocking=True)
            target[: count - first].copy_(source[first:], non_blocking=True)
        self.written[kind] += count

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            "puzzles": self.puzzles,
            "solutions": self.solutions,
            "consumed": self.consumed,
            "written": torch.tensor(self.written, dtype=torch.long),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["puzzles"].shape != self.puzzles.shape:
            raise ValueError(
                f"puzzle queue holds {state['puzzles'].shape[1]} puzzles per difficulty, this run needs {self.capacity}"
            )
        for name in ("puzzles", "solutions", "consumed"):
            getattr(self, name).copy_(state[name])
        self.written = [int(w) for w in state["written"]]
        self.known_consumed = [int(c) for c in state["consumed"]]
