"""The commands on a maze checkpoint, as a user runs them: evaluate (generated mazes and a published-layout file),
infer (a generated maze, a maze file, a GIF, views), analyze, and their one-line errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from src.hrm import analyze, evaluate, infer
from src.hrm.checkpoint import save_model
from src.hrm.maze import PATH, generate_mazes, maze_to_string, score_paths, write_maze_csv
from src.hrm.maze.tokens import GLYPHS
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.tasks import build_task

SIZE = 8
SETTINGS = {"name": "maze", "size": SIZE, "min_path": 6}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    task = build_task(SETTINGS)
    config = HRMACTModelConfig(seq_len=SIZE * SIZE, vocab_size=task.vocab_size,
                               transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2),
                               act=ACTConfig(halt_max_steps=3))  # fmt: skip
    path = tmp_path_factory.mktemp("maze") / "maze.safetensors"
    save_model(HRMACTInner(config), path, metadata={"task": json.dumps(task.settings())})
    return str(path)


def run(command, argv, capsys):
    code = command(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_scores_generated_mazes_by_path_length(checkpoint, capsys):
    code, out, _ = run(evaluate.main, [checkpoint, "--num", "12", "--device", "cpu", "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["task"] == "maze" and report["num_boards"] == 12
    assert "shortest path >= 6 steps" in report["source"]
    assert sum(g["num_boards"] for g in report["per_path_length"].values()) == 12
    assert report["mean_path_length"] >= 6
    code, out, _ = run(evaluate.main, [checkpoint, "--num", "4", "--device", "cpu", "--views", "8"], capsys)
    assert code == 0 and "Mazes: generated: 4 mazes 8x8" in out and "With 8 views" in out


def test_evaluate_reads_the_published_layout_and_its_rating_filter(checkpoint, tmp_path, capsys):
    mazes, answers, ratings = generate_mazes(5, size=SIZE, min_path=3, seed=2, workers=1)
    answers[1] = mazes[1]  # a row given without its answer: the solver's is used
    write_maze_csv(tmp_path / "test.csv", mazes, answers, ratings, "elsewhere")
    text = (tmp_path / "test.csv").read_text().splitlines()
    question, _ = text[2].split(",")[1:3]
    text[2] = f"elsewhere,{question},,{ratings[1]}"
    (tmp_path / "test.csv").write_text("\n".join(text) + "\n")
    code, out, _ = run(evaluate.main, [checkpoint, "--data", str(tmp_path / "test.csv"), "--device", "cpu",
                                       "--json"], capsys)  # fmt: skip
    assert code == 0 and json.loads(out)["num_boards"] == 5
    cut = int(np.sort(ratings)[2])
    code, out, _ = run(evaluate.main, [checkpoint, "--data", str(tmp_path / "test.csv"), "--device", "cpu",
                                       "--json", "--min-rating", str(cut)], capsys)  # fmt: skip
    assert code == 0 and json.loads(out)["num_boards"] == int((ratings >= cut).sum())


@pytest.mark.parametrize("argv, words", [
    (["--difficulty", "hard"], "--difficulty is for Sudoku checkpoints"),
    (["--limit", "3"], "--limit applies to --data"),
    (["--min-path", "400"], "no 8x8 maze"),
    (["--views", "9"], "8 symmetries"),
])  # fmt: skip
def test_evaluate_refuses_what_a_maze_checkpoint_cannot_take_in_one_line(checkpoint, capsys, argv, words):
    code, _, err = run(evaluate.main, [checkpoint, "--device", "cpu", "--num", "2", *argv], capsys)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_evaluate_names_the_bad_row_of_a_file(checkpoint, tmp_path, capsys):
    mazes, answers, ratings = generate_mazes(2, size=SIZE, min_path=3, seed=2, workers=1)
    write_maze_csv(tmp_path / "bad.csv", mazes, answers, ratings, "x")
    lines = (tmp_path / "bad.csv").read_text().splitlines()
    lines[2] = lines[2].replace("G", " ")
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    code, _, err = run(evaluate.main, [checkpoint, "--data", str(tmp_path / "bad.csv"), "--device", "cpu"], capsys)
    assert code == 2 and "bad.csv:3: a maze needs exactly one G" in err


def test_infer_solves_a_maze_file_and_a_generated_one(checkpoint, tmp_path, capsys):
    mazes, answers, _ = generate_mazes(1, size=SIZE, min_path=5, seed=7, workers=1)
    (tmp_path / "maze.txt").write_text(maze_to_string(mazes[0], SIZE) + "\n")
    code, out, _ = run(infer.main, [checkpoint, "--board", str(tmp_path / "maze.txt"), "--device", "cpu", "--json"],
                       capsys)  # fmt: skip
    report = json.loads(out)
    assert code == 0 and report["maze"] == maze_to_string(mazes[0], SIZE)
    assert report["answer"] == maze_to_string(answers[0], SIZE) and report["steps"] == int((answers[0] == PATH).sum()) + 1
    code, out, _ = run(infer.main, [checkpoint, "--seed", "3", "--device", "cpu"], capsys)
    assert code == 0 and "Maze:" in out and "Shortest path (BFS):" in out
    code, _, err = run(infer.main, [checkpoint, "hard", "--device", "cpu"], capsys)
    assert code == 2 and "solves mazes" in err


def test_infer_gif_and_views(checkpoint, tmp_path, capsys):
    gif = tmp_path / "maze.gif"
    code, out, _ = run(infer.main, [checkpoint, "--seed", "1", "--device", "cpu", "--gif", str(gif)], capsys)
    with Image.open(gif) as image:
        assert code == 0 and image.n_frames > 1
    code, out, _ = run(infer.main, [checkpoint, "--seed", "1", "--device", "cpu", "--views", "4", "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and len(report["candidates"]) == 4
    maze = tokens_of(report["puzzle"])  # with views, the JSON names the input "puzzle" for every task
    for candidate in report["candidates"]:  # each view's answer, in the maze's own frame, judged by the checker
        assert candidate["accepted"] == bool(score_paths(maze[None], tokens_of(candidate["board"])[None], SIZE)[0][0])


def tokens_of(picture: str) -> np.ndarray:
    """A picture infer printed back to tokens ('?' for a token outside the layout: 0)."""
    return np.array([GLYPHS.index(char) for char in picture.replace("\n", "")], dtype=np.int8)


def test_analyze_runs_on_fresh_mazes(checkpoint, tmp_path, capsys):
    code, out, _ = run(analyze.main, [checkpoint, "--out", str(tmp_path / "a"), "--num", "4", "--device", "cpu"],
                       capsys)  # fmt: skip
    assert code == 0 and json.loads((tmp_path / "a" / "analysis.json").read_text())["task"] == "maze"


def test_make_dataset_writes_mazes_that_evaluate_reads(checkpoint, tmp_path, capsys):
    from src.hrm import make_dataset

    out = tmp_path / "mazes.csv"
    code, said, _ = run(make_dataset.main, ["--task", "maze", "--maze-size", str(SIZE), "--min-path", "7",
                                            "--num", "6", "--seed", "4", "--out", str(out), "--workers", "1"], capsys)
    assert code == 0 and "8x8 mazes" in said
    lines = out.read_text().splitlines()
    assert lines[0] == "source,question,answer,rating" and len(lines) == 7
    assert all(int(line.rsplit(",", 1)[1]) >= 7 for line in lines[1:])
    code, said, _ = run(evaluate.main, [checkpoint, "--data", str(out), "--device", "cpu", "--json"], capsys)
    assert code == 0 and json.loads(said)["num_boards"] == 6 and json.loads(said)["mean_path_length"] >= 7
    code, _, err = run(make_dataset.main, ["--task", "maze", "--maze-size", "5", "--min-path", "400", "--num", "2",
                                           "--out", str(tmp_path / "none.csv")], capsys)  # fmt: skip
    assert code == 2 and "no 5x5 maze" in err and not (tmp_path / "none.csv").exists()

