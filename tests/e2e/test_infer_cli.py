import json
import math
import pathlib
import re
import subprocess
import sys

import pytest
import torch

from src.hrm.checkpoint import export_swift, save_model
from src.hrm.infer import main
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig

REPO = pathlib.Path(__file__).resolve().parents[2]
MAX_STEPS = 4
PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
SEPARATOR = "+-------+-------+-------+"


def tiny_model(q_bias=(-5.0, -5.0)) -> HRMACTInner:
    torch.manual_seed(0)
    config = HRMACTModelConfig(
        transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2),
        act=ACTConfig(halt_max_steps=MAX_STEPS),
    )
    model = HRMACTInner(config)
    with torch.no_grad():
        model.q_act_head.bias.copy_(torch.tensor(q_bias))
        # An untrained head tends to pick class 0 ("empty") everywhere; zeroing its row makes it predict digits.
        model.output_head.weight[0].zero_()
    return model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {"native": folder / "tiny.safetensors", "swift": folder / "tiny-swift.safetensors"}
    save_model(tiny_model(), paths["native"])
    export_swift(tiny_model(), paths["swift"])
    # Halt bias above continue bias with zero Q weights: the Q head says "halt" at segment 1.
    paths["halting"] = folder / "halting.safetensors"
    save_model(tiny_model(q_bias=(5.0, -5.0)), paths["halting"])
    return paths


def infer(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "src.hrm.infer", *map(str, args)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def infer_in_process(capsys, *args) -> tuple[int, str, str]:
    """main() called directly: the same code path without a second interpreter start (for the many error cases)."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def boards(stdout: str) -> list[list[str]]:
    """Every board picture in the output as 81 cell characters ('.' empty), markers removed."""
    found, rows = [], []
    for line in stdout.splitlines():
        if line.startswith("|"):
            rows.append([char for char in line.replace("*", " ") if char not in " |"])
            if len(rows) == 9:
                found.append([cell for row in rows for cell in row])
                rows = []
    return found


EASY = ("easy", "--seed", 3, "--device", "cpu")


@pytest.fixture(scope="module")
def easy_text(checkpoints):
    result = infer(checkpoints["native"], *EASY)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def easy_json(checkpoints):
    result = infer(checkpoints["native"], *EASY, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_generated_puzzle_runs_every_segment_without_halting(easy_text):
    out = easy_text
    assert out.startswith("Puzzle:\n" + SEPARATOR)
    assert "Solution:" in out and "Q (halt - continue): " in out
    # The untrained Q head (zero weights, equal biases) never says halt: every segment runs.
    assert [int(k) for k in re.findall(r"^Segment (\d+)$", out, re.M)] == list(range(1, MAX_STEPS + 1))
    assert "Halting." not in out
    puzzle, solution, *segments = boards(out)
    assert len(segments) == MAX_STEPS
    counts = [tuple(map(int, pair)) for pair in re.findall(r"^\((\d+) / (\d+)\)$", out, re.M)]
    blanks = [i for i, cell in enumerate(puzzle) if cell == "."]
    assert 36 <= len(blanks) <= 41  # easy: 40-45 clues
    assert all(solution[i] == puzzle[i] for i in range(81) if puzzle[i] != ".")
    for board, (correct, total) in zip(segments, counts, strict=True):
        assert total == len(blanks)
        assert correct == sum(board[i] == solution[i] for i in blanks)
        assert all(board[i] == puzzle[i] for i in range(81) if puzzle[i] != ".")  # givens kept
    assert any(correct > 0 for correct, _ in counts)  # a random model gets about one blank in nine right
    q_values = re.findall(r"^Q \(halt - continue\): (\d\.\d{4}) - (\d\.\d{4})$", out, re.M)
    assert q_values == [("0.0067", "0.0067")] * MAX_STEPS  # sigmoid(-5), the untrained Q head's biases


def test_json_is_consistent_with_itself_and_the_text_output(easy_json, easy_text):
    report = easy_json
    puzzle, solution = report["puzzle"], report["solution"]
    assert len(puzzle) == 81 and len(solution) == 81 and report["solution_source"] == "generator"
    assert report["difficulty"] == "easy" and report["seed"] == 3 and report["halted_at"] is None
    assert [s["segment"] for s in report["segments"]] == list(range(1, MAX_STEPS + 1))
    blanks = [i for i, cell in enumerate(puzzle) if cell in ".0"]
    for segment in report["segments"]:
        assert segment["blanks"] == len(blanks)
        assert segment["correct"] == sum(segment["board"][i] == solution[i] for i in blanks)
        assert segment["q_halt"] == pytest.approx(1 / (1 + math.exp(5)), rel=1e-3)
    assert report["solved"] == (report["segments"][-1]["board"] == solution)
    # Same seed, same puzzle and the same boards as the text output.
    shown = ["".join(board).replace(".", "0") for board in boards(easy_text)]
    assert shown[0] == puzzle.replace(".", "0") and shown[1] == solution
    assert shown[2:] == [s["board"].replace(".", "0") for s in report["segments"]]


def test_halts_when_the_q_head_says_so(checkpoints):
    result = infer(checkpoints["halting"], "medium", "--seed", 1, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "Segment 1\n" in result.stdout and "Halting." in result.stdout
    assert "Segment 2" not in result.stdout
    # sigmoid(5) and sigmoid(-5), the Q head's biases.
    assert "Q (halt - continue): 0.9933 - 0.0067" in result.stdout


def test_no_halt_runs_every_segment(checkpoints, capsys):
    args = (checkpoints["halting"], "medium", "--seed", 1, "--device", "cpu", "--no-halt", "--json")
    code, out, _ = infer_in_process(capsys, *args)
    assert code == 0
    report = json.loads(out)
    assert len(report["segments"]) == MAX_STEPS and report["halted_at"] == 1


def test_mlx_swift_checkpoint_gives_the_same_run(checkpoints, easy_json):
    swift = infer(checkpoints["swift"], *EASY, "--json", "--max-segments", MAX_STEPS)
    assert swift.returncode == 0, swift.stderr
    swift = json.loads(swift.stdout)
    assert swift["puzzle"] == easy_json["puzzle"]
    assert [s["board"] for s in swift["segments"]] == [s["board"] for s in easy_json["segments"]]

    # Without --max-segments the Swift file (no config inside) runs the original's 16 segments.
    text = infer(checkpoints["swift"], "very-easy", "--seed", 0, "--device", "cpu")
    assert text.returncode == 0, text.stderr
    assert "Segment 16\n" in text.stdout and "Segment 17" not in text.stdout


def test_given_puzzle_is_scored_against_the_solvers_solution(checkpoints, capsys):
    result = infer(checkpoints["native"], "--puzzle", PUZZLE, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "found by the solver" in result.stdout
    assert "".join(boards(result.stdout)[1]) == SOLUTION
    assert re.search(r"^\(\d+ / 51\)$", result.stdout, re.M)  # the puzzle has 51 blanks
    assert re.search(r"^Final board is a valid solution: no$", result.stdout, re.M)  # a random model

    code, out, _ = infer_in_process(capsys, checkpoints["native"], "--puzzle", PUZZLE, "--device", "cpu", "--json")
    report = json.loads(out)
    assert code == 0 and report["solution"].replace(".", "0") == SOLUTION and report["solution_source"] == "solver"
    assert report["difficulty"] is None and report["solved"] is False and report["valid_solution"] is False


def test_puzzle_with_several_solutions_is_checked_for_validity(checkpoints, capsys):
    args = (checkpoints["native"], "--puzzle", "." * 81, "--device", "cpu", "--max-segments", 1)
    code, out, _ = infer_in_process(capsys, *args)
    assert code == 0
    assert "several solutions" in out
    assert re.search(r"^\(not a valid solution\)$", out, re.M)


def test_show_changes_marks_exactly_the_changed_cells(checkpoints, capsys):
    code, out, _ = infer_in_process(capsys, checkpoints["native"], *EASY, "--show-changes", "--max-segments", 2)
    assert code == 0
    pictures = out.split("Segment ")
    puzzle, _, first, second = boards(out)
    for picture, before, after in ((pictures[1], puzzle, first), (pictures[2], first, second)):
        assert picture.count("*") == sum(a != b for a, b in zip(before, after))
    assert pictures[1].count("*") > 0 and pictures[2].count("*") > 0


def test_bad_checkpoint_path_exits_2_with_one_line(tmp_path):
    result = infer(tmp_path / "missing.safetensors", "easy", "--device", "cpu")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "not found" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "make_args,expected",
    [
        (lambda p, tmp: (tmp / "missing.safetensors", "easy"), "file not found"),
        (lambda p, tmp: (tmp / "notes.txt", "easy"), "safetensors"),
        (lambda p, tmp: (p["native"], "legendary"), "very-easy"),
        (lambda p, tmp: (p["native"], "--puzzle", PUZZLE[:-3]), "81"),
        (lambda p, tmp: (p["native"], "easy", "--puzzle", PUZZLE), "not both"),
        (lambda p, tmp: (p["native"],), "DIFFICULTY"),
        (lambda p, tmp: (p["native"], "easy", "--max-segments", 0), "--max-segments"),
    ],
    ids=["missing-checkpoint", "not-safetensors", "unknown-difficulty", "malformed-puzzle", "both", "neither",
         "zero-segments"],  # fmt: skip
)
def test_bad_input_is_one_line_and_exit_code_2(checkpoints, tmp_path, capsys, make_args, expected):
    (tmp_path / "notes.txt").write_text("this is not a checkpoint\n")
    code, out, err = infer_in_process(capsys, *make_args(checkpoints, tmp_path), "--device", "cpu")
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err
    assert out == ""


TRAINED = sorted((REPO / "checkpoints").glob("*.safetensors"))


@pytest.mark.skipif(not TRAINED, reason="no trained checkpoint under checkpoints/")
@pytest.mark.parametrize("seed", [0, 1])
def test_trained_checkpoint_runs(seed):
    result = infer(TRAINED[-1], "easy", "--seed", seed, "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["segments"] and report["segments"][0]["segment"] == 1
    puzzle, final = report["puzzle"], report["segments"][-1]["board"]
    assert all(given in ".0" or given == cell for given, cell in zip(puzzle, final, strict=True))  # givens kept
    grid = [[int(cell) if cell.isdigit() else 0 for cell in final[9 * r : 9 * r + 9]] for r in range(9)]
    boxes = [[grid[3 * (b // 3) + i][3 * (b % 3) + j] for i in range(3) for j in range(3)] for b in range(9)]
    assert all(sorted(unit) == list(range(1, 10)) for unit in [*grid, *zip(*grid), *boxes]), final
    # Easy puzzles have one solution, so a valid board is the generator's; the report says so too.
    assert final == report["solution"] and report["solved"] and report["valid_solution"]
