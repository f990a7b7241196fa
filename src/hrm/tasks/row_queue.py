"""The device-resident queue of fresh training rows that halted carry rows draw from.

Rows come in `kinds` (the generated Sudoku task: one kind per training difficulty; a
dataset: one kind). The device draws; the host keeps per-kind ring buffers filled from a
`take(kind, n)` function. The host cannot see how many rows the device has used without
waiting for it, so it reads the consumption counters `lag` steps late and keeps at least
(lag + 1)·B unread rows of every kind that may be drawn: enough for the steps already
launched plus the next one, even if every row halts and draws the same kind.
"""

import time
from collections.abc import Callable

import numpy as np
import torch

EMPTY_SLOT = -1  # never a token: a row drawn from a slot that was not written would show it


class RowQueue:
    """Per-kind ring buffers of fresh (inputs, targets) rows on the device; the device draws, the host refills."""

    def __init__(
        self,
        take: Callable[[int, int], tuple[np.ndarray, np.ndarray]],
        kinds: int,
        row_length: int,
        batch_size: int,
        device,
        capacity: int | None = None,
        lag: int = 1,
        with_ids: bool = False,
    ):
        """take(kind, n) -> the next n rows of that kind as (inputs [n, L], targets [n, L]), values within int8;
        `with_ids`: rows that carry a puzzle id, take gives (inputs, targets, ids [n]) and draw the ids too."""
        self.take = take
        self.batch_size = batch_size
        self.reserve = (lag + 1) * batch_size
        self.capacity = capacity if capacity is not None else self.default_capacity(batch_size, lag)
        if self.capacity < self.reserve + batch_size:
            needed = self.reserve + batch_size
            raise ValueError(f"queue capacity {self.capacity} must be at least (lag + 2)·batch = {needed}")
        self.inputs = torch.full((kinds, self.capacity, row_length), EMPTY_SLOT, dtype=torch.int8, device=device)
        self.targets = torch.full((kinds, self.capacity, row_length), EMPTY_SLOT, dtype=torch.int8, device=device)
        self.ids = torch.zeros((kinds, self.capacity), dtype=torch.long, device=device) if with_ids else None
        self.consumed = torch.zeros(kinds, dtype=torch.long, device=device)  # device-side, exact
        self.written = [0] * kinds  # host-side, exact
        self.known_consumed = [0] * kinds  # host-side view of `consumed`, `lag` steps old
        self.run_consumed: int | None = None  # a data-parallel run: every rank's rows, as read back; None: ours
        self.wait_seconds = 0.0

    @staticmethod
    def default_capacity(batch_size: int, lag: int = 1) -> int:
        """Ring slots per kind: the (lag + 1)·B reserve plus 2·B, so that refills come every few steps."""
        return (lag + 3) * batch_size

    def draw(
        self, halted: torch.Tensor, probabilities: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, ...]:
        """Fresh (inputs, targets) [B, L] long for the halted rows, in row order; other rows get don't-care values.
        A queue with ids gives (inputs, targets, ids [B] long).

        Each row draws its kind by inverse CDF on a uniform draw over `probabilities` [kinds], like the
        original's per-puzzle difficulty sampling; halted rows of one kind take consecutive queue slots.
        """
        kinds = probabilities.shape[0]
        kind_ids = torch.arange(kinds, device=halted.device)
        uniform = torch.rand(halted.shape[0], generator=generator, device=halted.device)
        cdf = probabilities.cumsum(0)
        kind = (uniform[:, None] >= cdf[None, :]).sum(1)
        # A cdf that rounds to just below 1 must not send a draw to a trailing kind of probability 0.
        last_possible = torch.where(probabilities > 0, kind_ids, 0).max()
        kind = torch.minimum(kind, last_possible)

        chosen = ((kind[:, None] == kind_ids) & halted[:, None]).long()  # [B, kinds], one-hot of halted rows
        # Rank of a row among the halted rows of its kind (those above it in the batch).
        rank = (chosen.cumsum(0) - chosen).gather(1, kind[:, None]).squeeze(1)
        slot = (self.consumed[kind] + rank) % self.capacity
        self.consumed.add_(chosen.sum(0))
        rows = self.inputs[kind, slot].long(), self.targets[kind, slot].long()
        return rows if self.ids is None else (*rows, self.ids[kind, slot])

    def observe(self, consumed) -> None:
        """The host learns the consumption counters (as read back, `lag` steps late)."""
        self.known_consumed = [int(c) for c in consumed]

    def ensure(self, kinds) -> float:
        """Top up each kind in `kinds` with fewer than (lag + 1)·B unread rows; returns seconds waited.

        A refill fills the ring up to capacity, never past the oldest slot the device may still read.
        """
        waited = 0.0
        for kind in kinds:
            unread = self.written[kind] - self.known_consumed[kind]
            if unread >= self.reserve:
                continue
            started = time.perf_counter()
            rows = self.take(kind, self.capacity - unread)
            waited += time.perf_counter() - started
            self._write(kind, *rows)
        self.wait_seconds += waited
        return waited

    def total_consumed(self) -> int:
        """Rows handed to the carry so far, as known to the host (in a data-parallel run, to every rank's carry)."""
        return sum(self.known_consumed) if self.run_consumed is None else self.run_consumed

    def _write(self, kind: int, inputs: np.ndarray, targets: np.ndarray, ids: np.ndarray | None = None) -> None:
        count = len(inputs)
        start = self.written[kind] % self.capacity
        first = min(count, self.capacity - start)  # the rest wraps around to slot 0
        columns = ((inputs, self.inputs[kind], np.int8), (targets, self.targets[kind], np.int8))
        if self.ids is not None:
            columns += ((ids, self.ids[kind], np.int64),)
        for source, target, dtype in columns:
            source = torch.from_numpy(np.ascontiguousarray(source, dtype=dtype))
            if target.is_cuda:
                # Pinned memory lets the copy overlap the running step; the caching host allocator keeps
                # the buffer alive until the copy has finished.
                source = source.pin_memory()
            target[start : start + first].copy_(source[:first], non_blocking=True)
            target[: count - first].copy_(source[first:], non_blocking=True)
        self.written[kind] += count

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            "inputs": self.inputs,
            "targets": self.targets,
            **({} if self.ids is None else {"ids": self.ids}),
            "consumed": self.consumed,
            "written": torch.tensor(self.written, dtype=torch.long),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["inputs"].shape != self.inputs.shape:
            found, needed = list(state["inputs"].shape), list(self.inputs.shape)
            raise ValueError(f"row queue holds [kinds, slots, length] {found}, this run needs {needed}")
        for name in ("inputs", "targets", "consumed") + (() if self.ids is None else ("ids",)):
            getattr(self, name).copy_(state[name])
        self.written = [int(w) for w in state["written"]]
        self.known_consumed = [int(c) for c in state["consumed"]]
