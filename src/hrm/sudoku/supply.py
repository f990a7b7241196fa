"""A background puzzle supply, so the trainer never waits for the generator.

A daemon thread keeps one pool per difficulty filled in proportion to the demand the
trainer sets. The numba kernels release the GIL, so generation runs beside the training
loop. Puzzle k of difficulty d is always puzzle k of the stream (seed, d), whatever the
timing, chunk size or worker count, so a run resumed from state_dict() sees the same
sequence of puzzles as one that never stopped.
"""

import collections
import threading
import time

import numpy as np

from .difficulty import Difficulty
from .generator import generate_stream

_LEVELS = len(Difficulty)


class PuzzleSupply:
    """Per-difficulty pools of (puzzle, solution) rows, refilled by a background thread."""

    def __init__(self, seed: int, workers: int | None = None, chunk_size: int = 256, capacity: int = 4096,
                 consumed=None, min_ready: int = 0):
        """consumed: puzzles already taken per difficulty (for resuming); generation continues after them.

        Each demanded pool is generated ahead to its share of `capacity`, and to at least `min_ready`
        rows: a consumer that takes large batches of a rarely demanded difficulty sets it to its
        largest take, so that such a take finds the rows ready instead of waiting for them.
        """
        self.seed = int(seed)
        self.workers = workers
        self.chunk_size = int(chunk_size)
        self.capacity = int(capacity)
        self.min_ready = int(min_ready)
        self.wait_seconds = 0.0
        self._consumed = [0] * _LEVELS if consumed is None else [int(c) for c in consumed]
        if len(self._consumed) != _LEVELS or min(self._consumed) < 0:
            raise ValueError(f"consumed must hold {_LEVELS} non-negative counts, got {consumed!r}")
        self._produced = list(self._consumed)  # next stream index to generate, per difficulty
        self._pools = [collections.deque() for _ in range(_LEVELS)]  # chunks [puzzles, solutions, offset]
        self._available = [0] * _LEVELS
        self._requested = [0] * _LEVELS  # rows that blocked take() calls are waiting for
        self._demand = np.zeros(_LEVELS)
        self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="puzzle-supply", daemon=True)
        self._thread.start()

    @classmethod
    def from_state_dict(cls, state: dict, workers: int | None = None, **kwargs) -> "PuzzleSupply":
        """A supply that continues exactly where the one that wrote `state` stopped."""
        return cls(state["seed"], workers=workers, consumed=state["consumed"], **kwargs)

    def state_dict(self) -> dict:
        """Seed and puzzles taken per difficulty, as plain JSON-serialisable data."""
        with self._cond:
            return {"seed": self.seed, "consumed": list(self._consumed)}

    def set_demand(self, weights) -> None:
        """Relative demand per difficulty (index = Difficulty value); only weights > 0 are generated ahead."""
        demand = np.asarray(weights, dtype=np.float64).reshape(-1)
        if demand.shape != (_LEVELS,) or np.any(demand < 0) or not np.all(np.isfinite(demand)):
            raise ValueError(f"demand must be {_LEVELS} non-negative weights, got {weights!r}")
        with self._cond:
            self._demand = demand
            self._cond.notify_all()

    def take(self, difficulty, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next n puzzles of a difficulty: (puzzles [n, 81] int8, solutions [n, 81] int8); blocks until ready."""
        d = int(Difficulty(difficulty))
        n = int(n)
        if n < 0:
            raise ValueError(f"cannot take {n} puzzles")
        with self._cond:
            if self._available[d] < n:
                started = time.perf_counter()
                self._requested[d] += n
                self._cond.notify_all()
                try:
                    while self._available[d] < n:
                        self._check_open()
                        self._cond.wait()
                finally:
                    self._requested[d] -= n
                    self.wait_seconds += time.perf_counter() - started
            self._check_open()
            puzzles, solutions = self._pop(d, n)
            self._consumed[d] += n
            self._cond.notify_all()
        return puzzles, solutions

    def close(self) -> None:
        """Stop the background thread (it finishes the chunk it is generating)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> "PuzzleSupply":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._error is not None:
            raise RuntimeError("the puzzle supply thread failed") from self._error
        if self._closed:
            raise RuntimeError("the puzzle supply is closed")

    def _pop(self, d: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        puzzles, solutions = [], []
        pool = self._pools[d]
        while n > 0:
            chunk = pool[0]
            rows = min(n, len(chunk[0]) - chunk[2])
            puzzles.append(chunk[0][chunk[2]:chunk[2] + rows])
            solutions.append(chunk[1][chunk[2]:chunk[2] + rows])
            chunk[2] += rows
            if chunk[2] == len(chunk[0]):
                pool.popleft()
            self._available[d] -= rows
            n -= rows
        if not puzzles:
            return np.zeros((0, 81), np.int8), np.zeros((0, 81), np.int8)
        return np.concatenate(puzzles), np.concatenate(solutions)

    def _next_difficulty(self) -> int | None:
        """Blocked take() calls first, then the demanded pool furthest below its share of capacity."""
        for d in range(_LEVELS):
            if self._available[d] < self._requested[d]:
                return d
        total = self._demand.sum()
        best, best_fill = None, 1.0
        for d in range(_LEVELS):
            if self._demand[d] > 0:
                target = max(self.capacity * self._demand[d] / total, self.min_ready)
                fill = self._available[d] / target
                if fill < best_fill:
                    best, best_fill = d, fill
        return best

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._closed and (d := self._next_difficulty()) is None:
                        self._cond.wait()
                    if self._closed:
                        return
                    start = self._produced[d]
                    self._produced[d] += self.chunk_size
                # Stream d + 1: stream 0 belongs to generate_batch.
                puzzles, solutions = generate_stream([d] * self.chunk_size, self.seed, d + 1, start, self.workers)
                with self._cond:
                    self._pools[d].append([puzzles, solutions, 0])
                    self._available[d] += self.chunk_size
                    self._cond.notify_all()
        except BaseException as error:  # surfaced to the trainer by take()
            with self._cond:
                self._error = error
                self._cond.notify_all()
