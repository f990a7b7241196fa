"""`infer --views K`, --ensemble and --early-stop: one puzzle's views in one batch, the answer the checker picked;
--views 1 is the segment-by-segment run; bad input is one line."""

import json
import pathlib

import pytest
import torch

from src.hrm.checkpoint import save_model
from src.hrm.infer import main
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.tasks import build_task

SHIPPED = pathlib.Path(__file__).resolve().parents[2] / "checkpoints" / "hrm-act-sudoku.safetensors"
BOARDS = {"name": "boardpath", "board_size": 5, "wall_prob": 0.2, "min_path": 1}


def tiny_model(hidden=32, seed=0, seq_len=81, vocab_size=10) -> HRMACTInner:
    torch.manual_seed(seed)
    config = HRMACTModelConfig(seq_len=seq_len, vocab_size=vocab_size, act=ACTConfig(halt_max_steps=4),
                               transformers=TransformerConfig(num_layers=1, hidden_size=hidden, num_heads=2))
    model = HRMACTInner(config)
    with torch.no_grad():
        model.q_act_head.weight.copy_(torch.randn(2, hidden) * 0.5)
        model.q_act_head.bias.copy_(torch.tensor([-1.0, 0.0]))
        model.output_head.weight[0].zero_()
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("infer-views")
    save_model(tiny_model(), folder / "a.safetensors")
    save_model(tiny_model(hidden=64, seed=1), folder / "b.safetensors")
    for name, size in (("board5", 5), ("board6", 6)):
        task = build_task({**BOARDS, "board_size": size})
        save_model(tiny_model(seed=2, seq_len=task.seq_len, vocab_size=task.vocab_size), folder / f"{name}.safetensors",
                   metadata={"task": json.dumps(task.settings())})  # fmt: skip
    (folder / "notes.txt").write_text("not a checkpoint\n")
    return folder


def infer(capsys, *args) -> tuple[int, str, str]:
    code = main([*map(str, args), "--device", "cpu"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def infer_json(capsys, *args) -> dict:
    code, out, err = infer(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_one_view_is_todays_infer(files, capsys):
    for extra in ((), ("--json",)):
        today = infer(capsys, files / "a.safetensors", "medium", "--seed", 4, *extra)
        assert infer(capsys, files / "a.safetensors", "medium", "--seed", 4, "--views", 1, *extra) == today
    assert json.loads(today[1])["segments"]  # the last run was --json


def test_views_of_the_shipped_model_agree_on_the_solution_and_early_stop_spends_less(capsys):
    plain = infer_json(capsys, SHIPPED, "hard", "--seed", 2, "--views", 4)
    early = infer_json(capsys, SHIPPED, "hard", "--seed", 2, "--views", 4, "--early-stop", 2)
    for run in (plain, early):
        assert run["accepted"] and run["solved"] and run["answer"] == run["solution"]
        assert 2 <= run["agreeing"] <= 4 and len(run["candidates"]) == 4
        winner = run["candidates"][run["winning_view"] - 1]
        assert winner["accepted"] and winner["board"] == run["answer"]
    assert early["stopped_early_at"] is not None and plain["stopped_early_at"] is None
    assert early["segments_spent"] < plain["segments_spent"]
    assert early["segments_spent"] == sum(c["segments"] for c in early["candidates"])
    code, out, err = infer(capsys, SHIPPED, "hard", "--seed", 2, "--views", 4, "--early-stop", 2)
    assert code == 0, err
    assert f"Segments spent: {early['segments_spent']} (all views together); stopped early at segment" in out
    assert f"Answer: view {early['winning_view']}" in out and "the checker accepts it" in out


def test_no_accepted_view_is_reported_unsolved(files, capsys):
    code, out, err = infer(capsys, files / "a.safetensors", "easy", "--seed", 1, "--views", 3, "--ensemble",
                           files / "b.safetensors")  # fmt: skip
    assert code == 0, err
    assert "3 views of 2 checkpoints in one batch" in out and "checkpoint 2, view 3:" in out
    assert "No view is accepted: the answer below is the per-cell vote of the 6 views, unsolved" in out
    data = infer_json(capsys, files / "a.safetensors", "easy", "--seed", 1, "--views", 3, "--ensemble",
                      files / "b.safetensors")  # fmt: skip
    assert not data["accepted"] and not data["solved"] and data["winning_view"] is None
    assert data["ensemble"] == [str(files / "b.safetensors")] and len(data["candidates"]) == 6
    assert {c["checkpoint"] for c in data["candidates"]} == {1, 2}


def test_board_views(files, capsys):
    data = infer_json(capsys, files / "board5.safetensors", "--seed", 3, "--views", 8, "--max-segments", 2)
    assert len(data["candidates"]) == 8 and all(c["segments"] <= 2 for c in data["candidates"])
    assert data["task"] == "boardpath" and data["puzzle"].count("S") == 1


@pytest.mark.parametrize("make_args,expected", [
    (lambda f: ["a", "easy", "--views", 0], "--views must be between 1 and 1024, got 0"),
    (lambda f: ["board5", "--views", 9], "--views must be between 1 and 8, got 9"),
    (lambda f: ["a", "easy", "--ensemble", f / "missing.safetensors"], "file not found"),
    (lambda f: ["a", "easy", "--ensemble", f / "notes.txt"], "not a readable safetensors file"),
    (lambda f: ["a", "easy", "--ensemble", f / "board5.safetensors"], "a boardpath 5x5 checkpoint; {a} is a Sudoku"),
    (lambda f: ["board6", "--ensemble", f / "board5.safetensors"], "a boardpath 5x5 checkpoint"),
    (lambda f: ["a", "easy", "--early-stop", 0], "--early-stop must be at least 1, got 0"),
    (lambda f: ["a", "easy", "--views", 2, "--gif", f / "x.gif"], "--gif follows one view"),
    (lambda f: ["a", "easy", "--ensemble", f / "b.safetensors", "--no-halt"], "--no-halt follows one view"),
])  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(files, capsys, make_args, expected):
    name, *rest = make_args(files)
    code, out, err = infer(capsys, files / f"{name}.safetensors", *rest)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("infer: error: ") and "Traceback" not in err
    assert expected.format(a=files / "a.safetensors") in err
