"""`evaluate` with test-time scaling on tiny CPU checkpoints: --views 1 is the model alone, ensembles of
checkpoints with different configs, early stop, the compute curve's files, and bad input as one line."""

import json

import pytest
import torch
from PIL import Image

from src.hrm.checkpoint import save_model
from src.hrm.evaluate import main
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.tasks import build_task

BOARDS = {"name": "boardpath", "board_size": 5, "wall_prob": 0.2, "min_path": 1}


def tiny_model(hidden=32, seed=0, max_steps=4, seq_len=81, vocab_size=10) -> HRMACTInner:
    """A random tiny model whose Q head varies from segment to segment, so views halt at different segments."""
    torch.manual_seed(seed)
    config = HRMACTModelConfig(seq_len=seq_len, vocab_size=vocab_size, act=ACTConfig(halt_max_steps=max_steps),
                               transformers=TransformerConfig(num_layers=1, hidden_size=hidden, num_heads=2))
    model = HRMACTInner(config)
    with torch.no_grad():
        model.q_act_head.weight.copy_(torch.randn(2, hidden) * 0.5)
        model.q_act_head.bias.copy_(torch.tensor([-1.0, 0.0]))
        model.output_head.weight[0].zero_()
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scaling")
    save_model(tiny_model(), folder / "a.safetensors")
    save_model(tiny_model(hidden=64, seed=1, max_steps=3), folder / "b.safetensors",
               metadata={"task": json.dumps(build_task({"name": "sudoku-dataset", "data": "x.csv"}).settings())})
    for name, size, seed in (("board5", 5, 2), ("board6", 6, 3), ("board5b", 5, 4)):
        task = build_task({**BOARDS, "board_size": size})
        save_model(tiny_model(seed=seed, seq_len=task.seq_len, vocab_size=task.vocab_size),
                   folder / f"{name}.safetensors", metadata={"task": json.dumps(task.settings())})  # fmt: skip
    (folder / "notes.txt").write_text("not a checkpoint\n")
    (folder / "file").write_text("")
    return folder


def evaluate(capsys, *args) -> tuple[int, str, str]:
    code = main([*map(str, args), "--device", "cpu"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def report(capsys, *args) -> dict:
    code, out, err = evaluate(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def without_timing(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("seconds", "puzzles_per_second")}


GENERATED = ("--difficulty", "easy,medium", "--num", 3, "--seed", 5)


def test_one_view_is_todays_evaluate(files, capsys):
    today = report(capsys, files / "a.safetensors", *GENERATED)
    assert "views" not in today
    assert without_timing(report(capsys, files / "a.safetensors", *GENERATED, "--views", 1)) == without_timing(today)
    # A checkpoint pooled with itself, one view each: two equal candidates, so the answer is the model's own.
    views = report(capsys, files / "a.safetensors", *GENERATED, "--ensemble", files / "a.safetensors")["views"]
    assert views["checkpoints"] == 2 and views["solve_rate"] == today["act_solve_rate"]
    assert views["mean_segments"] == pytest.approx(2 * today["mean_act_segments"])


def test_an_ensemble_of_two_checkpoints_with_their_own_configs(files, capsys):
    data = report(capsys, files / "a.safetensors", *GENERATED, "--views", 3, "--ensemble", files / "b.safetensors")
    views = data["views"]
    assert data["ensemble"] == [str(files / "b.safetensors")]
    assert views["views"] == 3 and views["checkpoints"] == 2 and views["accepted_but_wrong"] == 0
    # b halts by segment 3 at the latest, a by segment 4: six views at most 3 · 4 + 3 · 3 segments.
    assert 6 <= views["mean_segments"] <= 21 and set(views["per_group"]) == {"easy", "medium"}
    code, out, err = evaluate(capsys, files / "board5.safetensors", "--num", 4, "--views", 8, "--ensemble",
                              files / "board5b.safetensors", "--early-stop", 2)  # fmt: skip
    assert code == 0, err
    assert "With 8 views of 2 checkpoints" in out and "early stop once 2 views agree on an accepted answer: " in out


def test_the_curve_writes_its_json_and_png(files, capsys, tmp_path):
    folder = tmp_path / "curve"
    code, out, err = evaluate(capsys, files / "a.safetensors", *GENERATED, "--views-curve", "1,2,8",
                              "--curve-out", folder)  # fmt: skip
    assert code == 0, err
    curve = json.loads((folder / "curve.json").read_text())
    points = curve["points"]
    assert [p["views"] for p in points] == [1, 2, 8] and curve["num_puzzles"] == 6
    segments = [p["mean_segments"] for p in points]
    assert segments == sorted(segments) and segments[0] < segments[-1]  # a larger K holds the smaller K's views
    assert points[0]["solve_rate"] == curve["solve_rate_alone"]
    assert set(points[-1]["per_group"]) == {"easy", "medium"}
    assert all(p["puzzles_per_second"] > 0 for p in points)
    assert "Puzzles per second with 8 views:" in out and f"wrote {folder / 'curve.json'}" in out
    with Image.open(folder / "curve.png") as image:
        assert image.format == "PNG" and image.size[0] > 500


def test_the_curve_of_boards_with_early_stop_in_json(files, capsys, tmp_path):
    data = report(capsys, files / "board5.safetensors", "--num", 4, "--views-curve", "1,4,8", "--early-stop", 1,
                  "--curve-out", tmp_path)  # fmt: skip
    assert [p["views"] for p in data["curve"]["points"]] == [1, 4, 8] and data["curve"]["early_stop"] == 1
    assert json.loads((tmp_path / "curve.json").read_text()) == data["curve"]


def test_early_stop_never_spends_more(files, capsys):
    plain = report(capsys, files / "board5.safetensors", "--num", 6, "--views", 8, "--seed", 2)["views"]
    early = report(capsys, files / "board5.safetensors", "--num", 6, "--views", 8, "--seed", 2, "--early-stop", 1)
    assert early["views"]["mean_segments"] <= plain["mean_segments"]
    assert early["views"]["stopped_early"] <= early["views"]["accepted"]


@pytest.mark.parametrize("make_args,expected", [
    (lambda f: ["a", "--difficulty", "easy", "--views", 0], "--views must be between 1 and 1024, got 0"),
    (lambda f: ["board5", "--views", 9], "a square board has 8 symmetries; --views 9 asks for more"),
    (lambda f: ["a", "--difficulty", "easy", "--ensemble", f / "missing.safetensors"], "file not found"),
    (lambda f: ["a", "--difficulty", "easy", "--ensemble", f / "notes.txt"], "not a readable safetensors file"),
    (lambda f: ["a", "--difficulty", "easy", "--ensemble", f"{f / 'b.safetensors'},"], "comma-separated"),
    (lambda f: ["a", "--difficulty", "easy", "--ensemble", f / "board5.safetensors"],
     "a boardpath 5x5 checkpoint; {a} is a Sudoku checkpoint"),
    (lambda f: ["board5", "--ensemble", f / "board6.safetensors"], "a boardpath 6x6 checkpoint"),
    (lambda f: ["a", "--difficulty", "easy", "--early-stop", 0], "--early-stop must be at least 1, got 0"),
    (lambda f: ["a", "--difficulty", "easy", "--max-segments", 0], "--max-segments must be at least 1, got 0"),
    (lambda f: ["a", "--difficulty", "easy", "--views-curve", "1,2"], "--views-curve needs --curve-out"),
    (lambda f: ["a", "--difficulty", "easy", "--curve-out", f], "give --views-curve too"),
    (lambda f: ["a", "--difficulty", "easy", "--views-curve", "4,2", "--curve-out", f], "increasing"),
    (lambda f: ["a", "--difficulty", "easy", "--views-curve", "1,x", "--curve-out", f], "comma-separated"),
    (lambda f: ["board5", "--views-curve", "1,16", "--curve-out", f], "from 1 to 8"),
    (lambda f: ["a", "--difficulty", "easy", "--views-curve", "1", "--curve-out", f / "file"], "not a folder"),
])  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(files, capsys, make_args, expected):
    name, *rest = make_args(files)
    code, out, err = evaluate(capsys, files / f"{name}.safetensors", *rest)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("evaluate: error: ") and "Traceback" not in err
    assert expected.format(a=files / "a.safetensors") in err


def test_views_of_a_sudoku_dataset_checkpoint_pool_with_a_generated_one(files, capsys):
    """Both solve Sudoku: the dataset task's checkpoint is accepted in the ensemble of the generator's."""
    data = report(capsys, files / "b.safetensors", "--difficulty", "easy", "--num", 2, "--ensemble",
                  files / "a.safetensors", "--max-segments", 2)  # fmt: skip
    assert data["act_max_segments"] == 2 and data["views"]["mean_segments"] <= 4
    assert data["views"]["checkpoints"] == 2
