"""The shipped maze model (docs/model-card-maze.md) and the held-out hard maze set (data/maze-hard-test.csv)."""

import json
import pathlib

from src.hrm import infer
from src.hrm.maze import BACKTRACKER, WALL, generate_mazes, read_maze_file, score_paths
from src.hrm.tasks.maze import DATASET_STREAM

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "checkpoints" / "hrm-act-maze.safetensors"
TEST_SET = REPO / "data" / "maze-hard-test.csv"
BACKTRACKER_SET = REPO / "data" / "maze-backtracker-test.csv"


def test_the_shipped_maze_model_finds_the_path_of_its_gif(capsys, recwarn):
    # docs/model-card-maze.md: hard maze 2 of the evaluation stream (a 114-step shortest path), solved on the CPU
    # in float32, the Q head halting after 4 segments; the file's 2-D rotary tables load as the config computes them.
    assert infer.main([str(CHECKPOINT), "--seed", "2", "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["task"], report["steps"], report["solved"]) == ("maze", 114, True)
    assert len(report["segments"]) == 4 and report["segments"][-1]["halts"]
    assert not [w for w in recwarn.list if "rotary" in str(w.message)]


def test_the_test_set_is_1000_hard_mazes_of_the_dataset_stream():
    """make_dataset --task maze --num 1000 --seed 2026: Maze-Hard's filter, the canonical shortest paths, no maze
    twice, from a seed and a stream no training run draws from (training: seed 42 by default, streams 1, 17, ...)."""
    found = read_maze_file(TEST_SET)
    assert len(found) == 1000 and found.size == 30 and found.has_answer.all()
    assert (found.steps >= 111).all() and (found.ratings == found.steps).all()
    valid, shortest = score_paths(found.questions, found.answers, 30)
    assert valid.all() and shortest.all()
    assert len({maze.tobytes() for maze in found.questions}) == 1000
    first, answers, _ = generate_mazes(2, 30, 111, seed=2026, stream=DATASET_STREAM)
    assert (found.questions[:2] == first).all() and (found.answers[:2] == answers).all()


def test_the_backtracker_test_set_is_500_perfect_hard_mazes_of_the_dataset_stream():
    """make_dataset --task maze --maze-kinds backtracker --num 500 --seed 2027: perfect mazes (every shortest path
    unique), the hard filter, the canonical answers, no maze twice."""
    found = read_maze_file(BACKTRACKER_SET)
    assert len(found) == 500 and found.size == 30 and found.has_answer.all()
    assert (found.steps >= 111).all() and (found.ratings == found.steps).all()
    assert score_paths(found.questions, found.answers, 30)[1].all()
    assert len({maze.tobytes() for maze in found.questions}) == 500
    open_cells = found.questions != WALL
    grid = open_cells.reshape(-1, 30, 30)
    links = (grid[:, 1:] & grid[:, :-1]).sum((1, 2)) + (grid[:, :, 1:] & grid[:, :, :-1]).sum((1, 2))
    assert (links == open_cells.sum(1) - 1).all()  # the links of a tree (that they are joined: the unit tests)
    first, answers, _ = generate_mazes(2, 30, 111, seed=2027, stream=DATASET_STREAM, kinds=BACKTRACKER)
    assert (found.questions[:2] == first).all() and (found.answers[:2] == answers).all()
