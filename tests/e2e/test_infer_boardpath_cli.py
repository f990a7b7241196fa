"""`infer` on a path-finding checkpoint, and GIFs of the segments for both tasks."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from src.hrm.boardpath import board_to_string, generate_boards
from src.hrm.checkpoint import save_model
from src.hrm.infer import main
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig

SIZE, MAX_STEPS = 6, 4
SETTINGS = {"name": "boardpath", "board_size": SIZE, "wall_prob": 0.3, "min_path": 0}


def tiny_model(seq_len, vocab_size, q_bias=(-5.0, -5.0), fixed_segments=None) -> HRMACTInner:
    torch.manual_seed(0)
    config = HRMACTModelConfig(
        seq_len=seq_len, vocab_size=vocab_size,
        transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2),
        act=ACTConfig(halt_max_steps=MAX_STEPS, fixed_segments=fixed_segments),
    )  # fmt: skip
    model = HRMACTInner(config)
    with torch.no_grad():
        model.q_act_head.bias.copy_(torch.tensor(q_bias))
    return model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {name: folder / f"{name}.safetensors" for name in ("boardpath", "fixed", "sudoku")}
    task = {"task": json.dumps(SETTINGS)}
    save_model(tiny_model(SIZE * SIZE, 6), paths["boardpath"], metadata=task)
    save_model(tiny_model(SIZE * SIZE, 6, q_bias=(5.0, -5.0), fixed_segments=3), paths["fixed"], metadata=task)
    save_model(tiny_model(81, 10), paths["sudoku"])
    return paths


def infer(capsys, *args):
    code = main([*map(str, args), "--device", "cpu"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_generated_board_is_solved_segment_by_segment(checkpoints, capsys):
    code, out, err = infer(capsys, checkpoints["boardpath"], "--seed", 5)
    assert code == 0, err
    board = board_to_string(generate_boards(1, SIZE, 0.3, 0, seed=5, stream=2)[0][0], SIZE)
    assert out.startswith(f"Board:\n{board}\nShortest path (BFS):\n")
    assert [line for line in out.splitlines() if line.startswith("Segment")] == [f"Segment {k}" for k in range(1, 5)]
    assert out.count("Q (halt - continue)") == MAX_STEPS and "Halting." not in out


def test_json_and_a_board_file(checkpoints, capsys, tmp_path):
    path = tmp_path / "board.txt"
    path.write_text("S.#...\n..#.#.\n....#.\n.##...\n......\n....#E\n")
    code, out, _ = infer(capsys, checkpoints["boardpath"], "--board", path, "--json")
    report = json.loads(out)
    assert code == 0 and report["task"] == "boardpath" and report["board"] == path.read_text().strip()
    assert report["answer"].count("*") == 9  # 10 steps from the corner to the corner: 9 cells between
    assert len(report["segments"]) == MAX_STEPS and report["halted_at"] is None
    assert all(set(s) >= {"valid_path", "shortest_path", "exact", "q_halt", "board"} for s in report["segments"])


def test_fixed_think_time_runs_exactly_its_segments(checkpoints, capsys):
    code, out, _ = infer(capsys, checkpoints["fixed"], "--seed", 1)
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("Segment")] == ["Segment 1", "Segment 2", "Segment 3"]
    assert out.rstrip().endswith("Halting.")


@pytest.mark.parametrize("which,args", [("boardpath", ["--seed", 2]), ("sudoku", ["medium", "--seed", 2])])
def test_gif_shows_the_board_then_each_high_level_cycle_of_each_segment(checkpoints, capsys, tmp_path, which, args):
    """A board solved in one segment still animates: its frames follow the high-level cycles inside it."""
    gif = tmp_path / "run.gif"
    code, out, err = infer(capsys, checkpoints[which], *args, "--gif", gif, "--no-halt")
    assert code == 0, err
    frames = 1 + MAX_STEPS * 2  # the board as given, then 2 high-level cycles (the default) per segment
    assert f"wrote {gif} ({frames} frames)" in out
    with Image.open(gif) as image:
        assert image.n_frames == frames
        assert 300 <= image.size[0] <= 600 and 300 <= image.size[1] <= 700
        durations = []
        for frame in range(image.n_frames):
            image.seek(frame)
            durations.append(image.info["duration"])
        assert durations[-1] > durations[0]  # the last frame is held longer
    assert gif.stat().st_size < 1_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["run.gif"]  # no temporary file left


@pytest.mark.parametrize(
    "which,args,message",
    [
        ("boardpath", ["hard"], "give --board FILE or --seed S, not a Sudoku"),
        ("boardpath", ["--board", "{tmp}/missing.txt"], "cannot read it"),
        ("boardpath", ["--board", "{tmp}/bad.txt"], "row 1, column 2: 'x'"),
        ("boardpath", ["--board", "{tmp}/small.txt"], "a 3x3 board; this model solves 6x6 boards"),
        ("boardpath", ["--board", "{tmp}/walled.txt"], "E cannot be reached from S"),
        ("sudoku", ["easy", "--board", "{tmp}/bad.txt"], "--board is for path-finding checkpoints"),
        ("sudoku", ["easy", "--gif", "{tmp}/nowhere/run.gif"], "no such folder"),
    ],
)
def test_bad_input_is_one_line(checkpoints, capsys, tmp_path, which, args, message):
    (tmp_path / "bad.txt").write_text("Sx....\n" + "......\n" * 4 + ".....E\n")
    (tmp_path / "small.txt").write_text("S..\n...\n..E\n")
    (tmp_path / "walled.txt").write_text("S#....\n##....\n" + "......\n" * 3 + ".....E\n")
    code, out, err = infer(capsys, checkpoints[which], *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_the_right_path_is_drawn_in_the_path_colour(tmp_path):
    from src.hrm.frames import PATH_COLOUR, WRONG, Caption, board_frame
    from src.hrm.tasks.boardpath import PALETTE

    boards, answers = generate_boards(1, SIZE, 0.3, min_path=4, seed=9)
    right = np.ones(SIZE * SIZE, dtype=bool)
    image = board_frame(boards[0], answers[0], right, np.zeros(SIZE * SIZE, bool), SIZE, Caption(1, 0.5, 0.5, False),
                        PALETTE)
    colours = {colour for _, colour in image.getcolors(maxcolors=100000)}
    assert PATH_COLOUR in colours and WRONG not in colours


def evaluate(capsys, *args):
    from src.hrm.evaluate import main as evaluate_main

    code = evaluate_main([*map(str, args), "--device", "cpu"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_evaluate_scores_fresh_boards(checkpoints, capsys):
    code, out, err = evaluate(capsys, checkpoints["boardpath"], "--num", 30, "--min-path", 4, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["task"] == "boardpath" and report["num_boards"] == 30 and report["mean_path_length"] >= 4
    assert report["act_exact_rate"] <= report["act_shortest_rate"] <= report["act_valid_rate"]
    assert report["mean_act_segments"] == MAX_STEPS  # the Q head (bias -5, -5) never halts
    code, out, _ = evaluate(capsys, checkpoints["fixed"], "--num", 10)
    assert code == 0 and "mean segments    3.00" in out and "halted by Q      10 / 10" in out


def test_evaluate_refuses_sudoku_sources_for_boards(checkpoints, capsys):
    code, out, err = evaluate(capsys, checkpoints["boardpath"], "--difficulty", "easy")
    assert code == 2 and out == "" and "--difficulty is for Sudoku checkpoints" in err


def test_evaluate_boards_with_views(checkpoints, capsys):
    code, out, err = evaluate(capsys, checkpoints["boardpath"], "--num", 6, "--views", 8, "--json")
    assert code == 0, err
    views = json.loads(out)["views"]
    assert views["views"] == 8 and views["accepted_but_wrong"] <= views["accepted"]
    code, out, err = evaluate(capsys, checkpoints["boardpath"], "--num", 6, "--views", 9)
    assert code == 2 and "8 symmetries" in err
