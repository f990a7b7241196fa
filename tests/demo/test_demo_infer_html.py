"""`infer ... --html FILE`: the segment-by-segment run as the demo's self-contained page."""

import json
import re

import pytest
import torch

from src.hrm.checkpoint import save_model
from src.hrm.infer import main as infer_main
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig

MAX_STEPS, SIZE = 3, 6
BOARDPATH = {"name": "boardpath", "board_size": SIZE, "wall_prob": 0.3, "min_path": 0}


def tiny(seq_len: int, vocab_size: int) -> HRMACTInner:
    torch.manual_seed(0)
    return HRMACTInner(HRMACTModelConfig(seq_len=seq_len, vocab_size=vocab_size,
                                         transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2),
                                         act=ACTConfig(halt_max_steps=MAX_STEPS)))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("infer-html")
    paths = {"sudoku": folder / "sudoku.safetensors", "boardpath": folder / "boardpath.safetensors"}
    save_model(tiny(81, 10), paths["sudoku"])
    save_model(tiny(SIZE * SIZE, 6), paths["boardpath"], metadata={"task": json.dumps(BOARDPATH)})
    return paths


def embedded(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="trace-data"[^>]*>(.*?)</script>', page,
                                re.S).group(1))


@pytest.mark.parametrize("which,args", [("sudoku", ["hard", "--seed", "3"]), ("boardpath", ["--seed", "3"])])
def test_the_page_holds_what_json_prints(checkpoints, capsys, tmp_path, which, args):
    page = tmp_path / "run.html"
    common = [str(checkpoints[which]), *args, "--device", "cpu", "--no-halt"]
    assert infer_main([*common, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert infer_main([*common, "--html", str(page)]) == 0
    assert f"wrote {page} ({MAX_STEPS} segments)" in capsys.readouterr().out
    trace = embedded(page.read_text())
    frames = trace["views"][0]["frames"]
    boards = [s["board"].replace("\n", "") for s in report["segments"]]
    assert [f["board"] for f in frames] == boards and trace["task"] == which
    assert [f["q_halt"] for f in frames] == pytest.approx([s["q_halt"] for s in report["segments"]], abs=1e-6)
    assert "/static/" not in page.read_text() and 'data-title="' + checkpoints[which].name in page.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["run.html"]  # no temporary file left


@pytest.mark.parametrize("args,message", [
    (["--html", "{tmp}/nowhere/run.html"], "--html {tmp}/nowhere/run.html: no such folder"),
    (["--html", "{tmp}"], "is a folder"),
    (["--html", "{tmp}/run.html", "--views", "2"], "--html follows one view segment by segment"),
])  # fmt: skip
def test_bad_html_flags_are_one_line(checkpoints, capsys, tmp_path, args, message):
    code = infer_main([str(checkpoints["sudoku"]), "easy", "--device", "cpu", *[a.format(tmp=tmp_path) for a in args]])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and message.format(tmp=tmp_path) in captured.err


def test_a_page_that_cannot_be_written_is_exit_code_1(checkpoints, capsys, tmp_path, monkeypatch):
    def refuse(path, text):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("src.hrm.infer.write_page", refuse)
    code = infer_main([str(checkpoints["sudoku"]), "easy", "--device", "cpu", "--html", str(tmp_path / "x.html")])
    assert code == 1 and "infer: error: --html" in capsys.readouterr().err
