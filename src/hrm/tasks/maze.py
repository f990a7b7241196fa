"""Maze-Hard (the HRM paper's second benchmark): mark the shortest S→G path of a size×size maze.

Rows are (maze, answer) as size² tokens in the published layout's characters (`#` wall, space open,
`S`, `G`, `o` path: 1..5); the loss counts the open cells only (walls, S and G are given), and a
prediction is right when it marks a shortest path, whichever one (the file's own path is the
*exact* score, the paper's metric, reported beside it). Training rows come from the seeded
generator (`maze.generator`; maze i of the stream from (seed, i)) or from a file in the published
layout (`--data`, each row seen through a seeded symmetry of the square). `--path-curriculum
8,24,64` trains on generated mazes in stages of shortest-path length (at most 8 steps, then 9-24,
25-64, and last --min-path and up), each stage with a fifth of its rows from the stages below,
graduating as the Sudoku curriculum does but on the share of rows solved (a maze's cell accuracy
is high long before any path is right). `--region-curriculum 10,16,22` stages by maze size instead:
a 10×10 maze (any path) walled in at a random place of the full grid, then 16×16, 22×22, and last
the full maze at --min-path; positions keep their meaning, and short mazes still have many path
cells, where short paths in a full grid leave "no path anywhere" as the likeliest answer.
"""

import argparse
import math
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch

from ..boardpath.views import SQUARE_SYMMETRIES, board_views, square_symmetries
from ..checkpoint import MAX_SEQ_LEN
from ..cli_types import fraction, non_negative_int, positive_int
from ..evaluation.paths import compute_path_metrics, format_path_report, metrics_by_length
from ..evaluation.report import check_row_count
from ..evaluation.views import ViewRules
from ..file_io import FileTooLarge, NotARegularFile, read_text
from ..frames import BoardPalette, board_frame
from ..maze import (
    GOAL,
    HARD_MIN_PATH,
    OPEN,
    PATH,
    START,
    VOCAB_SIZE,
    WALL,
    MazeFileError,
    generate_mazes,
    maze_to_string,
    parse_maze_text,
    read_maze_file,
    score_paths,
    solve_mazes,
    write_maze_csv,
)
from ..maze.generator import WALL_MAX, WALL_MIN
from .base import (
    ANSI_CHANGED,
    ANSI_RESET,
    Case,
    EvaluationReport,
    EvaluationRows,
    RowSource,
    Shard,
    StreamRows,
    Task,
    TaskError,
)
from .curriculum import Curriculum, CurriculumConfig
from .row_queue import RowQueue

# Evaluation mazes never repeat training mazes of the same seed, nor do make_dataset's files.
TRAIN_STREAM, EVALUATION_STREAM, DATASET_STREAM = 1, 2, 3
MAX_MAZE_FILE = 1 << 20  # one maze is size² characters; more is not one maze
PALETTE = BoardPalette(wall=WALL, start=START, end=GOAL, path=PATH)
LENGTH_EDGES = [0, 40, 80, 111, 140, 170]  # shortest-path buckets of the report: the hard filter is 111+


def default_min_path(size: int) -> int:
    """The paper's hard filter for 30×30 (a shortest path over 110 steps); any path for other sizes."""
    return HARD_MIN_PATH if size == 30 else 0


@dataclass
class MazeConfig:
    size: int = 30
    min_path: int = HARD_MIN_PATH  # keep mazes whose shortest path has at least this many steps
    wall_min: float = WALL_MIN  # each maze's wall probability is drawn uniformly in [wall_min, wall_max]
    wall_max: float = WALL_MAX
    data: str = ""  # a maze CSV in the published layout to train on (a file or hf://...); empty: generated mazes
    path_curriculum: str = ""  # the first stages' longest paths, "8,24,64" (then min_path and up); "": no stages
    region_curriculum: str = ""  # the first stages' maze sides, "10,16,22", walled in the full grid; "": none
    curriculum: CurriculumConfig = None  # graduation of the path curriculum (the Sudoku curriculum's rule)

    def __post_init__(self):
        if self.curriculum is None:
            self.curriculum = CurriculumConfig()

    @classmethod
    def from_dict(cls, data: dict) -> "MazeConfig":
        data = dict(data)
        curriculum = CurriculumConfig(**data.pop("curriculum", {}))
        return cls(**data, curriculum=curriculum)


class MazeTask(Task):
    name = "maze"
    Config = MazeConfig
    FLAGS = {"maze_size": "size", "min_path": "min_path", "wall_min": "wall_min", "wall_max": "wall_max",
             "data": "data", "path_curriculum": "path_curriculum", "region_curriculum": "region_curriculum",
             "curriculum_window": "curriculum.window",
             "graduation_threshold": "curriculum.threshold", "graduation_min_steps": "curriculum.min_steps"}
    vocab_size = VOCAB_SIZE

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("--task maze (fixed for a run; --min-path, --data and the curriculum"
                                          " flags as for the other tasks)")  # fmt: skip
        group.add_argument("--maze-size", type=positive_int, help="N of the N×N maze (default: 30, Maze-Hard's)")
        group.add_argument("--wall-min", type=fraction, help=f"lowest wall probability (default: {WALL_MIN})")
        group.add_argument("--wall-max", type=fraction, help=f"highest wall probability (default: {WALL_MAX})")
        group.add_argument("--path-curriculum", metavar="STEPS",
                           help="train on generated mazes in stages of shortest-path length, e.g. 8,24,64: at"
                           " most 8 steps, then 9-24, 25-64, then --min-path and up; graduating on the share of"
                           " rows solved (default: every maze at --min-path)")  # fmt: skip
        group.add_argument("--region-curriculum", metavar="SIDES",
                           help="train in stages of maze size, e.g. 10,16,22: a maze of that side (any path) walled"
                           " in at a random place of the full grid, then the full maze at --min-path")  # fmt: skip
        cls.shared_flag(group, parser, "--min-path", type=non_negative_int,
                         help="maze: keep mazes whose shortest path has at least this many steps (default: 111 at"
                         " 30x30, Maze-Hard's filter; any otherwise)")  # fmt: skip
        cls.shared_flag(group, parser, "--data", help="maze: train on the mazes of a file in the published layout"
                         " (source,question,answer,rating) or hf://sapientinc/maze-30x30-hard-1k (its train.csv)")

    @classmethod
    def complete_config(cls, config: MazeConfig, given: set[str]) -> None:
        if "min_path" not in given:
            config.min_path = default_min_path(config.size)
        if "graduation_min_steps" not in given:
            config.curriculum.min_steps = config.curriculum.window

    def __init__(self, config: MazeConfig):
        super().__init__(config)
        if config.size < 2:
            raise TaskError(f"--maze-size must be at least 2, got {config.size}")
        if config.size**2 > MAX_SEQ_LEN:  # the model attends over every cell at once
            raise TaskError(f"--maze-size must be at most {math.isqrt(MAX_SEQ_LEN)}, got {config.size}")
        if not 0 <= config.wall_min <= config.wall_max < 1:
            raise TaskError(f"--wall-min {config.wall_min} and --wall-max {config.wall_max} must satisfy"
                            " 0 <= min <= max < 1")  # fmt: skip
        if (config.path_curriculum or config.region_curriculum) and config.data:
            raise TaskError("a curriculum draws generated mazes; it does not apply with --data")
        if config.path_curriculum and config.region_curriculum:
            raise TaskError("give --path-curriculum or --region-curriculum, not both")
        # Each stage: (side of the maze, shortest path, longest path or None).
        self.stages = [(config.size, *band) for band in _stage_bands(config.path_curriculum, config.min_path)]
        if config.region_curriculum:
            sides = _increasing(config.region_curriculum, "--region-curriculum", 2, config.size - 1)
            self.stages = [(side, 0, None) for side in sides] + self.stages
        self.seq_len = config.size**2
        self.side = config.size

    # --- rows ---------------------------------------------------------------------------------------------

    def mazes(self, count: int, seed: int, stream: int = EVALUATION_STREAM, start: int = 0, workers=None,
              band: tuple[int, int | None] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Mazes and their canonical answers, int8 [count, size²], from a seeded stream; `band`: (shortest, longest
        path; None: no bound), by default (--min-path, None)."""
        c = self.config
        low, high = (c.min_path, None) if band is None else band
        try:
            mazes, answers, _ = generate_mazes(count, c.size, low, c.wall_min, c.wall_max, seed, stream, start,
                                               workers, max_path=high)  # fmt: skip
        except ValueError as err:
            raise TaskError(str(err)) from None
        return mazes, answers

    def rows(self, seed, batch_size, device, workers, meta=None, shard=Shard()):
        if self.config.data:
            mazes, answers = self.training_file()
            taken = 0 if meta is None else meta["taken"]
            return MazeFileRows(self, mazes, answers, shard.seed(seed), batch_size, device, taken)
        self.mazes(1, seed, TRAIN_STREAM, band=self.stages[-1][1:])  # settings that keep none fail here
        return GeneratedMazeRows(self, shard.seed(seed), batch_size, device, workers, meta)

    def training_file(self) -> tuple[np.ndarray, np.ndarray]:
        """--data's mazes and answers; its rows must be this task's size and carry shortest-path answers."""
        try:
            found = read_maze_file(self.config.data)
        except MazeFileError as err:
            raise TaskError(str(err)) from None
        if len(found) == 0:
            raise TaskError(f"{self.config.data}: holds no mazes")
        if found.size != self.side:
            raise TaskError(f"{self.config.data}: {found.size}x{found.size} mazes; --maze-size is {self.side}")
        if not found.has_answer.all():
            answers, _ = solve_mazes(found.questions, self.side)
            found.answers[~found.has_answer] = answers[~found.has_answer]
        return found.questions, found.answers

    def loss_mask(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs == OPEN  # walls, S and G are given

    def is_correct(self, inputs, targets, predictions) -> np.ndarray:
        return score_paths(inputs, predictions, self.side)[1]

    def format_row(self, row) -> str:
        return maze_to_string(row, self.side)

    def describe(self) -> str:
        return f"{self.name} {self.side}x{self.side}"

    # --- one maze: infer, GIFs ------------------------------------------------------------------------------

    def view_rules(self, seed: int = 0) -> ViewRules:
        """The 8 symmetries of the square; the checker accepts a simple S→G path over open cells, the maze kept."""
        return ViewRules(partial(board_views, size=self.side), self.accepts, self.loss_mask, SQUARE_SYMMETRIES)

    def accepts(self, mazes: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return score_paths(mazes, candidates, self.side)[0]

    def make_case(self, difficulty, text, file, seed) -> Case:
        """A maze from --board FILE (its picture, or the layout's one line), or maze `seed` of the evaluation
        stream (a random one without a seed)."""
        if difficulty is not None or text is not None:
            raise ValueError(f"a {self.name} checkpoint solves mazes: give --board FILE or --seed S, not a Sudoku")
        titles, keys = ("Maze:", "Shortest path (BFS):"), ("maze", "answer")
        if file is None:
            seed = seed if seed is not None else int(np.random.default_rng().integers(2**63))
            mazes, answers = self.mazes(1, seed)
            return Case(mazes[0], answers[0], titles, keys, {"steps": int((answers[0] == PATH).sum()) + 1})
        try:
            maze, found = parse_maze_text(read_text(file, limit=MAX_MAZE_FILE))
        except (NotARegularFile, FileTooLarge) as err:
            raise ValueError(f"--board {err}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"--board {file}: cannot read it ({type(err).__name__})") from None
        except ValueError as err:
            raise ValueError(f"--board {file}: {err}") from None
        if found != self.side:
            raise ValueError(f"--board {file}: a {found}x{found} maze; this model solves {self.side}x{self.side} mazes")
        answers, steps = solve_mazes(maze[None], self.side)
        if steps[0] < 0:
            raise ValueError(f"--board {file}: G cannot be reached from S")
        return Case(maze, answers[0], titles, keys, {"steps": int(steps[0])}, from_user=True)

    def outcome(self, inputs, answer, board) -> tuple[str, bool]:
        valid, shortest = score_paths(np.asarray(inputs)[None], np.asarray(board)[None], self.side)
        words = "a shortest path" if shortest[0] else "a path, not the shortest" if valid[0] else "not a path"
        return words, bool(shortest[0])

    def segment_fields(self, inputs, answer, board) -> dict:
        valid, shortest = score_paths(np.asarray(inputs)[None], np.asarray(board)[None], self.side)
        return {"valid_path": bool(valid[0]), "shortest_path": bool(shortest[0]),
                "exact": bool((np.asarray(board) == answer).all())}  # fmt: skip

    def mark_changes(self, picture, changed, color) -> str:
        """Colour on a terminal, else `+` (now on the path) or `,` (now off it)."""
        lines = [list(line) for line in picture.split("\n")]
        for r, c in zip(*np.nonzero(np.asarray(changed, dtype=bool).reshape(self.side, self.side))):
            char = lines[r][c]
            lines[r][c] = f"{ANSI_CHANGED}{char}{ANSI_RESET}" if color else {"o": "+", " ": ","}.get(char, char)
        return "\n".join("".join(line) for line in lines)

    def wrong_cells(self, inputs, answer, boards) -> np.ndarray:
        """Path cells off every shortest path: not the canonical path's, on a maze that marks no shortest one."""
        boards = np.asarray(boards)
        if answer is None:
            return np.zeros(boards.shape, dtype=bool)
        _, shortest = score_paths(np.repeat(np.asarray(inputs)[None], len(boards), 0), boards, self.side)
        return (boards == PATH) & (boards != answer) & ~shortest[:, None]

    def frame(self, inputs, answer, board, changed, caption):
        right = ~self.wrong_cells(inputs, answer, np.asarray(board)[None])[0]
        return board_frame(inputs, board, right, changed, self.side, caption, PALETTE)

    # --- many mazes: evaluate, analyze -----------------------------------------------------------------------

    def evaluation_rows(self, args) -> EvaluationRows:
        """--data FILE (the published layout; --limit, --min-rating/--max-rating on its rating column) or --num
        fresh mazes of the evaluation stream from --seed, --min-path overriding the checkpoint's floor."""
        if args.difficulty is not None:
            raise ValueError(f"--difficulty is for Sudoku checkpoints; a {self.name} checkpoint is scored on --num"
                             " mazes or a --data file")  # fmt: skip
        if args.file is None:
            for flag, given in (("--limit", args.limit), ("--min-rating", args.min_rating),
                                ("--max-rating", args.max_rating)):  # fmt: skip
                if given is not None:
                    raise ValueError(f"{flag} applies to --data; --num sets how many mazes are generated")
            check_row_count(args.num, "mazes")
            task = self if args.min_path is None else type(self)(replace(self.config, min_path=args.min_path,
                                                                         path_curriculum="", region_curriculum=""))
            mazes, answers = task.mazes(args.num, args.seed, workers=args.workers)
            c = task.config
            source = (f"generated: {args.num} mazes {c.size}x{c.size}, walls {c.wall_min}-{c.wall_max}, shortest"
                      f" path >= {max(c.min_path, 1)} steps, seed {args.seed}")  # fmt: skip
            return EvaluationRows(mazes, answers, source, np.full(len(mazes), "all"), [])
        if args.min_path is not None:
            raise ValueError("--min-path draws generated mazes; with --data, --min-rating filters the file's rows")
        if args.limit is not None and args.limit < 0:
            raise ValueError(f"--limit must not be negative, got {args.limit}")
        found = read_maze_file(args.file, limit=args.limit, default_file="test.csv")
        if found.size != self.side:
            raise ValueError(f"{args.file}: {found.size}x{found.size} mazes; this model solves {self.side}x{self.side}")
        keep = np.ones(len(found), dtype=bool)
        if args.min_rating is not None or args.max_rating is not None:
            if found.ratings is None:
                raise ValueError(f"{args.file}: --min-rating/--max-rating need a rating column, and this file has none")
            keep &= found.ratings >= (args.min_rating or 0)
            if args.max_rating is not None:
                keep &= found.ratings <= args.max_rating
        if not keep.any():
            raise ValueError(f"nothing to evaluate in {args.file}: no maze is left")
        mazes = found.questions[keep]
        answers = found.answers[keep].copy()
        solved, _ = solve_mazes(mazes, self.side)
        answers[~found.has_answer[keep]] = solved[~found.has_answer[keep]]
        return EvaluationRows(mazes, answers, args.file, np.full(len(mazes), "all"), [])

    def evaluation_report(self, rows, predictions) -> EvaluationReport:
        score = partial(score_paths, size=self.side)
        metrics = compute_path_metrics(rows.inputs, rows.targets, predictions, score)
        by_length = metrics_by_length(rows.inputs, rows.targets, predictions, score, LENGTH_EDGES)
        fields = {**metrics.to_dict(), "per_path_length": {name: m.to_dict() for name, m in by_length.items()}}
        return EvaluationReport(metrics.act_shortest_rate, fields,
                                lambda summary: format_path_report(summary, metrics, "S-G", by_length, "mazes"))

    def sample_rows(self, count, seed, difficulty=None):
        return self.mazes(count, seed)

    def write_dataset(self, path, count: int, seed: int, workers: int | None) -> str:
        """`count` mazes of the dataset stream of `seed` in the published layout; returns a line about them."""
        c = self.config
        mazes, answers, ratings = generate_mazes(count, c.size, c.min_path, c.wall_min, c.wall_max, seed,
                                                 DATASET_STREAM, 0, workers)  # fmt: skip
        write_maze_csv(path, mazes, answers, ratings, f"generated-{c.size}x{c.size}")
        return f"{c.size}x{c.size} mazes, shortest path {ratings.min()} to {ratings.max()} steps, median" \
               f" {np.median(ratings):g}"


class GeneratedMazeRows(RowSource):
    """Maze i of the training stream (seed, TRAIN_STREAM + stage): one queue kind per curriculum stage, drawn by the
    stage's probabilities on the device (stage k: the floor of stage k, with a share of the stages below it)."""

    metric_names = ("stage", "graduated", "ready")
    graduation_metric = "solved"

    def __init__(self, task: MazeTask, seed: int, batch_size: int, device, workers, meta: dict | None):
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
        if side == self.task.side:
            return self.task.mazes(n, self.seed, stream, start, self.workers, band=tuple(band))
        c = self.task.config
        try:
            small, answers, _ = generate_mazes(n, side, band[0], c.wall_min, c.wall_max, self.seed, stream, start,
                                               self.workers, max_path=band[1])  # fmt: skip
        except ValueError as err:
            raise TaskError(str(err)) from None
        return wall_in(small, answers, side, self.task.side, self.seed, stream, start)

    def needed(self) -> list[int]:
        return [k for k in range(len(self.stages)) if k <= min(self.known_stage + 1, len(self.stages) - 1)]

    def start(self) -> None:
        self.queue.ensure(self.needed())

    def refill(self) -> float:
        return self.queue.ensure(self.needed())

    def draw(self, halted, generator):
        return self.queue.draw(halted, self.curriculum.probabilities(), generator)

    def update(self, accuracy):
        graduated, ready = self.curriculum.update(accuracy)
        return [self.curriculum.stage, graduated, ready]

    def counters(self) -> torch.Tensor:
        return self.queue.consumed

    def rows_consumed(self) -> int:
        return self.queue.total_consumed()

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

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**{f"curriculum.{k}": v for k, v in self.curriculum.state_dict().items()},
                **{f"queue.{k}": v for k, v in self.queue.state_dict().items()}}  # fmt: skip

    def load_state_dict(self, state) -> None:
        for prefix, part in (("curriculum", self.curriculum), ("queue", self.queue)):
            part.load_state_dict({key: state[f"{prefix}.{key}"] for key in part.state_dict()})
        self.known_stage = int(self.curriculum.stage)

    def meta(self) -> dict:
        return {"taken": list(self.taken)}


def _stage_bands(text: str, min_path: int) -> list[tuple[int, int | None]]:
    """The curriculum's (shortest, longest) path of each stage from --path-curriculum's increasing longest paths,
    each below --min-path; the last stage is --min-path and up."""
    if not text.strip():
        return [(min_path, None)]
    tops = _increasing(text, "--path-curriculum", 1, min_path - 1)
    return [(low + 1, high) for low, high in zip([0, *tops], tops)] + [(min_path, None)]


def _increasing(text: str, flag: str, low: int, high: int) -> list[int]:
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
    symmetry of the square (the maze and its answer alike, so the answer stays a shortest path)."""

    def __init__(self, task: MazeTask, mazes, answers, seed: int, batch_size: int, device, taken: int):
        super().__init__(task.seq_len, batch_size, device)
        self.mazes, self.answers, self.seed, self.taken = mazes, answers, seed, taken
        self.symmetries = square_symmetries(task.side)

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
        return (np.take_along_axis(self.mazes[rows], cells, axis=1),
                np.take_along_axis(self.answers[rows], cells, axis=1))  # fmt: skip

    def epoch(self) -> float:
        return self.queue.total_consumed() / len(self.mazes)

    def meta(self) -> dict:
        return {"taken": self.taken}
