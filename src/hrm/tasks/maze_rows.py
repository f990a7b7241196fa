"""The maze task's training rows: generated mazes, by curriculum stage, or a file's, through the square's symmetries.

Stage k of a curriculum is (side, shortest path, longest path): a side below the task's is a small maze
walled in at a random place of the full grid (`wall_in`). Row i of a stage's stream depends only on
(seed, stream, i), whatever the batch sizes asked, so a resumed run draws the same rows.
"""

from typing import TYPE_CHECKING

import numpy as np

from ..boardpath.views import SQUARE_SYMMETRIES, square_symmetries
from ..maze import WALL, solve_mazes
from .base import StreamRows, TaskError
from .curriculum import Curriculum, CurriculumRows
from .row_queue import RowQueue

if TYPE_CHECKING:
    from .maze import MazeTask

TRAIN_STREAM = 1  # stage k draws from stream TRAIN_STREAM + 16·k


class GeneratedMazeRows(CurriculumRows):
    """Maze i of the training stream (seed, TRAIN_STREAM + stage): one queue kind per curriculum stage, drawn by the
    stage's probabilities on the device (stage k: the floor of stage k, with a share of the stages below it)."""

    graduation_metric = "solved"

    def __init__(self, task: "MazeTask", seed: int, batch_size: int, device, workers, meta: dict | None):
        self.task, self.seed, self.workers = task, seed, workers
        self.stages = task.stages
        stages = len(self.stages)
        self.counter_names = tuple(f"consumed_{k}" for k in range(stages))
        self.taken = [0] * stages if meta is None else list(meta["taken"])
        self.queue = RowQueue(self.take_kind, stages, task.seq_len, batch_size, device)
        self.curriculum = Curriculum(task.config.curriculum, device, table=stage_table(stages))
        self.known_stage = 0

    def take_kind(self, kind: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        side, *band = self.stages[kind]
        stream, start = TRAIN_STREAM + 16 * kind, self.taken[kind]
        self.taken[kind] += n
        mazes, answers = self.task.mazes(n, self.seed, stream, start, self.workers, band=tuple(band), side=side)
        if side == self.task.side:
            return mazes, answers
        return wall_in(mazes, answers, side, self.task.side, self.seed, stream, start)

    def needed(self) -> list[int]:
        return [k for k in range(len(self.stages)) if k <= min(self.known_stage + 1, len(self.stages) - 1)]

    def start(self) -> None:
        self.queue.ensure(self.needed())

    def refill(self) -> float:
        return self.queue.ensure(self.needed())

    def observe(self, step, values) -> list[str]:
        self.queue.observe([values[name] for name in self.counter_names])
        if values["graduated"]:
            self.known_stage = int(values["stage"])
            side, low, high = self.stages[self.known_stage]
            steps = f"{low}-{high}" if high is not None else f"{max(low, 1)} and more"
            return [f"step {step}: graduated to maze stage {self.known_stage} ({side}x{side}, shortest paths of"
                    f" {steps} steps)"]
        return []

    def record(self, values) -> dict:
        return {"solved": values["solved"], **({"stage": int(values["stage"])} if len(self.stages) > 1 else {})}

    def meta(self) -> dict:
        return {"taken": list(self.taken)}


def stage_bands(text: str, min_path: int) -> list[tuple[int, int | None]]:
    """The curriculum's (shortest, longest) path of each stage from --path-curriculum's increasing longest paths,
    each below --min-path; the last stage is --min-path and up."""
    if not text.strip():
        return [(min_path, None)]
    tops = increasing(text, "--path-curriculum", 1, min_path - 1)
    return [(low + 1, high) for low, high in zip([0, *tops], tops)] + [(min_path, None)]


def increasing(text: str, flag: str, low: int, high: int) -> list[int]:
    """Comma-separated whole numbers, increasing, within [low, high]; a TaskError naming the flag otherwise."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise TaskError(f"{flag} must be comma-separated whole numbers, got {text!r}") from None
    if values != sorted(set(values)) or values[0] < low or values[-1] > high:
        raise TaskError(f"{flag} {text}: the stages must increase from {low} and stay at most {high}")
    return values


def wall_in(mazes: np.ndarray, answers: np.ndarray, side: int, size: int, seed: int, stream: int,
            start: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """side×side mazes (and answers) placed in size×size grids of walls, row i at an offset drawn from (seed,
    stream, start + i): what the walls hide is never reachable, so the answer stays the shortest path."""
    grids = np.full((2, len(mazes), size, size), WALL, dtype=np.int8)
    for i in range(len(mazes)):
        top, left = np.random.default_rng([seed, stream, start + i]).integers(0, size - side + 1, size=2)
        grids[0, i, top:top + side, left:left + side] = mazes[i].reshape(side, side)
        grids[1, i, top:top + side, left:left + side] = answers[i].reshape(side, side)
    return grids[0].reshape(len(mazes), -1), grids[1].reshape(len(mazes), -1)


def stage_table(stages: int) -> list[list[float]]:
    """Row k: the probability of each stage's mazes at stage k: mostly its own, a fifth spread over those below
    (so shorter paths are not forgotten); one stage: all at the floor."""
    table = []
    for k in range(stages):
        row = [0.0] * stages
        if k == 0:
            row[0] = 1.0
        else:
            row[k] = 0.8
            for below in range(k):
                row[below] = 0.2 / k
        table.append(row)
    return table


class MazeFileRows(StreamRows):
    """A maze file's rows, every epoch in a seeded shuffled order, row i of the stream seen through a seeded
    symmetry of the square (the maze and its answer alike, so the answer stays a shortest path).

    A hard maze has millions of shortest paths, and the file's path is one of them by a tie-break rule. A
    symmetry turns the canonical rule's path (first neighbour up, down, left, right) into a path of another
    rule, so training on it would teach a different choice in each view. When every answer of the file is the
    canonical path (files of this project's generator), a view's answer is therefore the canonical path of
    the view, marked anew; a file with another rule keeps its own paths, turned with the maze."""

    def __init__(self, task: "MazeTask", mazes, answers, seed: int, batch_size: int, device, taken: int):
        super().__init__(task.seq_len, batch_size, device)
        self.mazes, self.answers, self.seed, self.taken = mazes, answers, seed, taken
        self.side = task.side
        self.symmetries = square_symmetries(task.side)
        self.canonical = bool((solve_mazes(mazes, task.side)[0] == answers).all())

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        index = np.arange(self.taken, self.taken + n)
        epochs, position = np.divmod(index, len(self.mazes))
        rows = np.empty(n, dtype=np.int64)
        for epoch in np.unique(epochs):
            order = np.random.default_rng([self.seed, int(epoch)]).permutation(len(self.mazes))
            rows[epochs == epoch] = order[position[epochs == epoch]]
        views = np.array([np.random.default_rng([self.seed, 1 << 40, int(i)]).integers(SQUARE_SYMMETRIES)
                          for i in index])  # fmt: skip
        cells = self.symmetries[views]
        self.taken += n
        mazes = np.take_along_axis(self.mazes[rows], cells, axis=1)
        if self.canonical:
            return mazes, solve_mazes(mazes, self.side)[0]
        return mazes, np.take_along_axis(self.answers[rows], cells, axis=1)

    def epoch(self) -> float:
        return self.queue.total_consumed() / len(self.mazes)

    def record(self, values) -> dict:
        return {"solved": values["solved"]}  # as for generated mazes: a maze's cell accuracy says little

    def meta(self) -> dict:
        return {"taken": self.taken}
