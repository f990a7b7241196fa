"""`evaluate --data` on a file with a bad row in the middle: one line naming the file and the line, and no report,
not even one of the rows before it."""

import json

import pytest
import torch

from src.hrm import evaluate
from src.hrm.checkpoint import save_model
from src.hrm.modeling import HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.sudoku import generate_batch
from src.hrm.sudoku.files import write_puzzle_csv


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    torch.manual_seed(0)
    transformers = TransformerConfig(num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64)
    save_model(HRMACTInner(HRMACTModelConfig(transformers=transformers)), folder / "model.safetensors")
    puzzles, solutions = generate_batch([1] * 5, seed=3, workers=1)
    write_puzzle_csv(folder / "good.csv", puzzles, solutions, range(5), "test")
    return folder


@pytest.mark.parametrize(
    "damage,words",
    [
        (lambda f: f[:1] + [f[1][:80]] + f[2:], "the puzzle has 80 characters"),
        (lambda f: f[:1] + [f[1][:40] + "x" + f[1][41:]] + f[2:], "the puzzle contains 'x' at cell 41"),
        (lambda f: f[:2] + [f[2][:80] + ("1" if f[2][80] != "1" else "2")] + f[3:], "the solution"),
        (lambda f: f[:3] + ["1.5"], "the rating '1.5'"),
        (lambda f: f + ["extra"], "expected 4 CSV fields"),
    ],
    ids=["short-puzzle", "bad-character", "wrong-solution", "bad-rating", "extra-field"],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_a_bad_row_in_the_middle_names_its_line_and_prints_no_report(files, tmp_path, capsys, damage, words, as_json):
    lines = (files / "good.csv").read_text().splitlines()
    lines[3] = ",".join(damage(lines[3].split(",")))  # line 4 of 6: rows before and after it are good
    data = tmp_path / "bad.csv"
    data.write_text("\n".join(lines) + "\n")
    argv = [str(files / "model.safetensors"), "--data", str(data), "--device", "cpu", *(["--json"] if as_json else [])]
    capsys.readouterr()
    assert evaluate.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no report of the rows that were read
    assert err.count("\n") == 1 and err.startswith(f"evaluate: error: {data}:4: ") and words in err, err


def test_the_same_file_without_the_bad_row_is_scored_in_full(files, capsys):
    argv = [str(files / "model.safetensors"), "--data", str(files / "good.csv"), "--device", "cpu", "--json"]
    capsys.readouterr()
    assert evaluate.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_puzzles"] + report["num_excluded"] == 5
