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
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..checkpoint import MAX_SEQ_LEN
from ..cli_types import fraction, non_negative_int, positive_int
from ..evaluation.paths import compute_path_metrics, format_path_report, metrics_by_length
from ..evaluation.report import check_row_count
from ..frames import BoardPalette
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
    maze_kinds,
    maze_to_string,
    parse_maze_text,
    read_maze_file,
    score_paths,
    solve_mazes,
    write_maze_csv,
)
from ..maze.generator import WALL_MAX, WALL_MIN
from .base import (
    Case,
    EvaluationReport,
    EvaluationRows,
    Shard,
    TaskError,
)
from .curriculum import CurriculumConfig
from .maze_rows import TRAIN_STREAM, GeneratedMazeRows, MazeFileRows, increasing, stage_bands
from .path_boards import PathBoards

# Evaluation mazes never repeat training mazes of the same seed (streams 1, 17, 33, ...), nor do make_dataset's.
EVALUATION_STREAM, DATASET_STREAM = 2, 3
MAX_MAZE_FILE = 1 << 20  # one maze is size² characters; more is not one maze
PALETTE = BoardPalette(wall=WALL, start=START, end=GOAL, path=PATH)
LENGTH_EDGES = [0, 40, 80, 111, 140, 170]  # shortest-path buckets of the report: the hard filter is 111+
DEMO_LEGEND = np.frombuffer(b"?#.SE*", np.uint8)  # token -> the demo's character: wall, open, S, G (as E), path


def default_min_path(size: int) -> int:
    """The paper's hard filter for 30×30 (a shortest path over 110 steps); any path for other sizes."""
    return HARD_MIN_PATH if size == 30 else 0


@dataclass
class MazeConfig:
    size: int = 30
    min_path: int = HARD_MIN_PATH  # keep mazes whose shortest path has at least this many steps
    wall_min: float = WALL_MIN  # each maze's wall probability is drawn uniformly in [wall_min, wall_max]
    wall_max: float = WALL_MAX
    kinds: str = "walls"  # maze families generated, comma-separated: walls (random walls), backtracker (perfect)
    data: str = ""  # a maze CSV in the published layout to train on (a file or hf://...); empty: generated mazes
    path_curriculum: str = ""  # the first stages' longest paths, "8,24,64" (then min_path and up); "": no stages
    region_curriculum: str = ""  # the first stages' maze sides, "10,16,22", walled in the full grid; "": none
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)  # graduation (the Sudoku rule)

    @classmethod
    def from_dict(cls, data: dict) -> "MazeConfig":
        data = dict(data)
        curriculum = CurriculumConfig(**data.pop("curriculum", {}))
        return cls(**data, curriculum=curriculum)


class MazeTask(PathBoards):
    name = "maze"
    Config = MazeConfig
    FLAGS = {"maze_size": "size", "min_path": "min_path", "wall_min": "wall_min", "wall_max": "wall_max",
             "maze_kinds": "kinds", "data": "data", "path_curriculum": "path_curriculum",
             "region_curriculum": "region_curriculum",
             "curriculum_window": "curriculum.window",
             "graduation_threshold": "curriculum.threshold", "graduation_min_steps": "curriculum.min_steps"}
    vocab_size = VOCAB_SIZE
    # A 30x30 maze has 901 positions, and the original's bf16 rotary tables give 419 of them the rotation of the one
    # before (whole numbers above 256 do not fit bf16): the maze model takes 2-D tables, rows and columns apart.
    model_defaults = {"pos_encoding": "rope2d"}
    score, path, palette = staticmethod(score_paths), PATH, PALETTE
    marks, noun = {"o": "+", " ": ","}, "maze"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("--task maze (fixed for a run; --min-path, --data and the curriculum"
                                          " flags as for the other tasks)")  # fmt: skip
        group.add_argument("--maze-size", type=positive_int, help="N of the N×N maze (default: 30, Maze-Hard's)")
        group.add_argument("--wall-min", type=fraction, help=f"lowest wall probability (default: {WALL_MIN})")
        group.add_argument("--wall-max", type=fraction, help=f"highest wall probability (default: {WALL_MAX})")
        group.add_argument("--maze-kinds", metavar="KINDS",
                           help="generated maze families, comma-separated: walls (every cell a wall with a drawn"
                           " probability, the default) and backtracker (perfect mazes of corridors, one path between"
                           " any two cells); with both, half of each")  # fmt: skip
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
        try:
            self.kinds = maze_kinds(config.kinds)
        except ValueError as err:
            raise TaskError(f"--maze-kinds: {err}") from None
        if (config.path_curriculum or config.region_curriculum) and config.data:
            raise TaskError("a curriculum draws generated mazes; it does not apply with --data")
        if config.path_curriculum and config.region_curriculum:
            raise TaskError("give --path-curriculum or --region-curriculum, not both")
        # Each stage: (side of the maze, shortest path, longest path or None).
        self.stages = [(config.size, *band) for band in stage_bands(config.path_curriculum, config.min_path)]
        if config.region_curriculum:
            sides = increasing(config.region_curriculum, "--region-curriculum", 2, config.size - 1)
            self.stages = [(side, 0, None) for side in sides] + self.stages
        self.seq_len = config.size**2
        self.side = config.size

    # --- rows ---------------------------------------------------------------------------------------------

    def mazes(self, count: int, seed: int, stream: int = EVALUATION_STREAM, start: int = 0, workers=None,
              band: tuple[int, int | None] | None = None, side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mazes and their canonical answers, int8 [count, side²], from a seeded stream; `band`: (shortest, longest
        path; None: no bound), by default (--min-path, None); `side`: by default the task's (a region curriculum
        draws smaller ones)."""
        c = self.config
        low, high = (c.min_path, None) if band is None else band
        try:
            mazes, answers, _ = generate_mazes(count, side or c.size, low, c.wall_min, c.wall_max, seed, stream,
                                               start, workers, max_path=high, kinds=self.kinds)  # fmt: skip
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
        return found.questions, found.solved_answers()

    def loss_mask(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs == OPEN  # walls, S and G are given

    def format_row(self, row) -> str:
        return maze_to_string(row, self.side)

    # --- the demo: mazes drawn in the path boards' legend (`. # S E *`), so one page draws both ------------------

    def cell_text(self, row) -> str:
        tokens = np.clip(np.asarray(row, dtype=np.int64).reshape(-1), 0, len(DEMO_LEGEND) - 1)
        return DEMO_LEGEND[tokens].tobytes().decode()

    def parse_demo_board(self, text: str):
        """Rows in the legend (`.` open, `E` the goal) or in the published layout's characters (space, `G`)."""
        maze, size = parse_maze_text(text.replace(".", " ").replace("E", "G"))
        if size != self.side:
            return maze, size, None
        answers, steps = solve_mazes(maze[None], size)
        return maze, size, answers[0] if steps[0] >= 0 else None

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
        maze = self.read_board(file, parse_maze_text, MAX_MAZE_FILE)
        answers, steps = solve_mazes(maze[None], self.side)
        if steps[0] < 0:
            raise ValueError(f"--board {file}: G cannot be reached from S")
        return Case(maze, answers[0], titles, keys, {"steps": int(steps[0])}, from_user=True)

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
            source = (f"generated: {args.num} mazes {c.size}x{c.size} ({c.kinds}), walls {c.wall_min}-{c.wall_max},"
                      f" shortest path >= {max(c.min_path, 1)} steps, seed {args.seed}")  # fmt: skip
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
        return EvaluationRows(mazes, found.solved_answers()[keep], args.file, np.full(len(mazes), "all"), [])

    def evaluation_report(self, rows, predictions) -> EvaluationReport:
        metrics = compute_path_metrics(rows.inputs, rows.targets, predictions, self.scores)
        by_length = metrics_by_length(rows.inputs, rows.targets, predictions, self.scores, LENGTH_EDGES)
        fields = {**metrics.to_dict(), "per_path_length": {name: m.to_dict() for name, m in by_length.items()}}
        return EvaluationReport(metrics.act_shortest_rate, fields,
                                lambda summary: format_path_report(summary, metrics, "S-G", by_length, "mazes"))

    def sample_rows(self, count, seed, difficulty=None):
        return self.mazes(count, seed)

    def write_dataset(self, path, count: int, seed: int, workers: int | None) -> str:
        """`count` mazes of the dataset stream of `seed` in the published layout; returns a line about them."""
        c = self.config
        mazes, answers, ratings = generate_mazes(count, c.size, c.min_path, c.wall_min, c.wall_max, seed,
                                                 DATASET_STREAM, 0, workers, kinds=self.kinds)  # fmt: skip
        source = f"generated-{c.size}x{c.size}" + ("" if c.kinds == "walls" else f"-{c.kinds.replace(',', '+')}")
        write_maze_csv(path, mazes, answers, ratings, source)
        return f"{c.size}x{c.size} mazes, shortest path {ratings.min()} to {ratings.max()} steps, median" \
               f" {np.median(ratings):g}"
