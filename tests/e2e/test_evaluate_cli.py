import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from src.hrm.checkpoint import export_swift, save_model
from src.hrm.evaluate import main
from src.hrm.evaluation.inference import run_segments
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.sudoku import count_solutions, solve

REPO = pathlib.Path(__file__).resolve().parents[2]
MAX_STEPS = 4
PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
OTHER = "..9748...7.........2.1.9.....7...24..64.1.59..98...3.....8.3.2.........6...2759.."
CONTRADICTORY = "55" + "." * 79  # two 5s in row 1
SEVERAL = "." * 27 + SOLUTION[27:]  # top band blank: many solutions; SOLUTION is one, not the solver's first
METRIC_FIELDS = (
    "num_puzzles", "act_solved", "act_solve_rate", "act_cell_accuracy", "mean_act_segments", "budget_solved",
    "budget_solve_rate", "budget_cell_accuracy", "q_halted", "q_halted_solved", "q_halt_precision",
)  # fmt: skip


def digits(text: str) -> np.ndarray:
    return np.array([0 if ch in ".0" else int(ch) for ch in text], dtype=np.int64)


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
    paths = {name: folder / f"{name}.safetensors" for name in ("native", "swift", "halting")}
    save_model(tiny_model(), paths["native"])
    export_swift(tiny_model(), paths["swift"])
    save_model(tiny_model(q_bias=(5.0, -5.0)), paths["halting"])  # the Q head says halt at segment 1
    return paths


def evaluate(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "src.hrm.evaluate", *map(str, args), "--device", "cpu"]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def evaluate_json(*args) -> dict:
    result = evaluate(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def evaluate_in_process(capsys, *args) -> tuple[int, str, str]:
    """main() called directly: the same code path without a second interpreter start."""
    code = main([*map(str, args), "--device", "cpu"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check_consistent(report: dict) -> None:
    for field in METRIC_FIELDS:
        assert field in report
    n = report["num_puzzles"]
    assert n > 0
    for rate, count in (("act_solve_rate", "act_solved"), ("budget_solve_rate", "budget_solved")):
        assert 0.0 <= report[rate] <= 1.0
        assert report[rate] == pytest.approx(report[count] / n)
    for field in ("act_cell_accuracy", "budget_cell_accuracy"):
        assert 0.0 <= report[field] <= 1.0
    assert 1.0 <= report["mean_act_segments"] <= report["act_max_segments"]
    assert 0 <= report["q_halted_solved"] <= report["q_halted"] <= n
    assert report["puzzles_per_second"] > 0 and report["device"] == "cpu"


def test_generated_set_with_an_untrained_q_head(checkpoints):
    report = evaluate_json(checkpoints["native"], "--difficulty", "easy", "--num", 6, "--seed", 0, "--batch-size", 4)
    check_consistent(report)
    assert report["num_puzzles"] == 6 and report["num_excluded"] == 0
    # Zero Q weights and equal biases never say halt: every row runs to the ACT limit.
    assert report["act_max_segments"] == MAX_STEPS and report["budget_segments"] == MAX_STEPS
    assert report["mean_act_segments"] == MAX_STEPS
    assert report["q_halted"] == 0 and report["q_halt_precision"] is None
    # With no halting, the ACT board is the board after the full budget.
    assert report["act_cell_accuracy"] == report["budget_cell_accuracy"]
    assert report["per_difficulty"] == {}


def test_batch_size_does_not_change_the_result(checkpoints, capsys):
    args = (checkpoints["native"], "--difficulty", "medium", "--num", 5, "--seed", 7, "--json")
    one = json.loads(evaluate_in_process(capsys, *args, "--batch-size", 1)[1])
    many = json.loads(evaluate_in_process(capsys, *args, "--batch-size", 5)[1])
    assert one["act_cell_accuracy"] > 0  # a random model gets some blanks right
    for field in METRIC_FIELDS:
        assert one[field] == pytest.approx(many[field]), field


def test_several_difficulties_are_broken_down(checkpoints):
    report = evaluate_json(
        checkpoints["halting"], "--difficulty", "easy,hard", "--num", 3, "--seed", 1, "--segments", 2
    )
    check_consistent(report)
    assert report["num_puzzles"] == 6 and set(report["per_difficulty"]) == {"easy", "hard"}
    # The Q head says halt at once: every row stops after segment 1 and counts as halted by Q.
    assert report["mean_act_segments"] == 1.0 and report["q_halted"] == 6
    assert report["budget_segments"] == 2
    parts = report["per_difficulty"].values()
    for field in ("num_puzzles", "act_solved", "budget_solved", "q_halted", "q_halted_solved"):
        assert sum(part[field] for part in parts) == report[field], field
    assert all(part["num_puzzles"] == 3 for part in parts)


def test_text_report(checkpoints):
    result = evaluate(checkpoints["swift"], "--difficulty", "very-easy,easy", "--num", 2, "--segments", 1)
    assert result.returncode == 0, result.stderr
    for text in ("Scored: 4 puzzles", "ACT halting", "solve rate", "cell accuracy", "Fixed budget (1 segments)",
                 "puzzles/s", "Per difficulty:", "very-easy"):  # fmt: skip
        assert text in result.stdout, text


def test_plain_file_with_solved_unsolved_and_unscorable_rows(checkpoints, tmp_path, capsys):
    path = tmp_path / "puzzles.txt"
    path.write_text(
        "# a full board, a puzzle with its solution, one without, and two that cannot be scored\n"
        f"{SOLUTION}\n{PUZZLE},{SOLUTION}\n\n{OTHER}\n{'.' * 81}\n{CONTRADICTORY}\n"
    )
    report = evaluate_json(checkpoints["native"], "--file", path)
    check_consistent(report)
    assert report["num_puzzles"] == 3 and report["num_excluded"] == 2
    assert report["excluded"] == [{"line": 6, "reason": "several solutions"}, {"line": 7, "reason": "no solution"}]
    # Only the full board (no blanks: givens kept) is solved by a random model.
    assert report["act_solved"] == 1 and report["budget_solved"] == 1
    assert report["act_solve_rate"] == pytest.approx(1 / 3)

    limited = json.loads(evaluate_in_process(capsys, checkpoints["native"], "--file", path, "--limit", 2, "--json")[1])
    assert limited["num_puzzles"] == 2 and limited["num_excluded"] == 0


def test_csv_file(checkpoints, tmp_path, capsys):
    path = tmp_path / "test.csv"
    rows = [f"src{i},{PUZZLE if i % 2 else OTHER},{SOLUTION if i % 2 else ''},{i}" for i in range(5)]
    rows.append(f"src5,{SEVERAL},{SOLUTION},5")  # several solutions, but an answer: scored, not excluded
    path.write_text("source,question,answer,rating\n" + "\n".join(rows) + "\n")
    report = evaluate_json(checkpoints["native"], "--file", path, "--batch-size", 2)
    check_consistent(report)
    assert report["num_puzzles"] == 6 and report["num_excluded"] == 0
    limited = json.loads(evaluate_in_process(capsys, checkpoints["native"], "--file", path, "--limit", 3, "--json")[1])
    assert limited["num_puzzles"] == 3


def test_a_csv_row_is_scored_against_its_answer_not_the_solvers(tmp_path, capsys):
    puzzle, answer = digits(SEVERAL), digits(SOLUTION)
    first = solve(puzzle)
    assert count_solutions(puzzle) == 2 and (first != answer).any() and (answer[puzzle > 0] == puzzle[puzzle > 0]).all()
    # A random output head, so that the predicted digits vary from cell to cell: a board of one digit would
    # score the same against every solution.
    model = tiny_model()
    torch.manual_seed(13)
    with torch.no_grad():
        model.output_head.weight.normal_()
    save_model(model, tmp_path / "varied.safetensors")
    # The board the evaluator should score: the untrained Q head never halts, so the one after every segment.
    *_, last = run_segments(model.eval(), torch.from_numpy(puzzle)[None], MAX_STEPS)
    blanks = puzzle == 0
    predicted = last.predictions[0].numpy()[blanks]
    expected = float(np.mean(predicted == answer[blanks]))
    assert expected != float(np.mean(predicted == first[blanks]))  # else this test could not tell the two apart
    path = tmp_path / "several.csv"
    path.write_text(f"source,question,answer,rating\ns,{SEVERAL},{SOLUTION},0\n")
    report = json.loads(evaluate_in_process(capsys, tmp_path / "varied.safetensors", "--file", path, "--json")[1])
    assert report["num_puzzles"] == 1 and report["num_excluded"] == 0
    assert report["act_cell_accuracy"] == pytest.approx(expected)
    assert report["budget_cell_accuracy"] == report["act_cell_accuracy"]


@pytest.mark.parametrize(
    "make_args,expected",
    [
        (lambda p, tmp: (tmp / "missing.safetensors", "--difficulty", "easy"), "file not found"),
        (lambda p, tmp: (tmp / "bad.txt", "--difficulty", "easy"), "safetensors"),
        (lambda p, tmp: (p["native"], "--file", tmp / "missing.txt"), "puzzle file not found"),
        (lambda p, tmp: (p["native"], "--file", tmp / "bad.txt"), "bad.txt:1: the puzzle has"),
        (lambda p, tmp: (p["native"], "--file", tmp / "empty.txt"), "holds no puzzles"),
        (lambda p, tmp: (p["native"], "--difficulty", "easy,legendary"), "very-easy"),
        (lambda p, tmp: (p["native"],), "--difficulty"),
        (lambda p, tmp: (p["native"], "--difficulty", "easy", "--batch-size", 0), "--batch-size"),
        (lambda p, tmp: (p["native"], "--difficulty", "easy", "--limit", 3), "--limit applies to --data"),
        (lambda p, tmp: (p["native"], "--difficulty", "easy", "--min-rating", 3), "--min-rating applies to --data"),
        (lambda p, tmp: (p["native"], "--data", tmp / "bad.txt", "--rating-buckets", "10,5"), "increasing"),
        (lambda p, tmp: (p["native"], "--data", tmp / "bad.txt", "--rating-buckets", "a"), "whole numbers"),
    ],
    ids=["missing-checkpoint", "not-safetensors", "missing-file", "malformed-line", "empty-file", "unknown-difficulty",
         "no-source", "zero-batch", "limit-without-file", "rating-without-file", "buckets-decreasing",
         "buckets-not-numbers"],  # fmt: skip
)
def test_bad_input_is_one_line_and_exit_code_2(checkpoints, tmp_path, capsys, make_args, expected):
    (tmp_path / "bad.txt").write_text("this is not a puzzle\n")
    (tmp_path / "empty.txt").write_text("# nothing here\n")
    code, out, err = evaluate_in_process(capsys, *make_args(checkpoints, tmp_path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err and out == ""


def test_malformed_file_exits_2_with_one_line(checkpoints, tmp_path):
    path = tmp_path / "puzzles.txt"
    path.write_text(f"{PUZZLE}\n{PUZZLE[:-1]}x\n")
    result = evaluate(checkpoints["native"], "--file", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "puzzles.txt:2: the puzzle contains 'x' at cell 81" in result.stderr


RATINGS = [0, 0, 1, 9, 10, 19, 20, 49, 50, 99, 100, 400]


def rated_file(tmp_path) -> pathlib.Path:
    path = tmp_path / "rated.csv"
    rows = [f"s,{PUZZLE if i % 2 else OTHER},{SOLUTION if i % 2 else ''},{r}" for i, r in enumerate(RATINGS)]
    path.write_text("source,question,answer,rating\n" + "\n".join(rows) + "\n")
    return path


def test_a_rated_file_is_reported_per_rating_bucket(checkpoints, tmp_path, capsys):
    code, out, _ = evaluate_in_process(capsys, checkpoints["halting"], "--data", rated_file(tmp_path), "--json")
    report = json.loads(out)
    buckets = report["per_rating"]
    # Counted by hand from RATINGS and the default edges 0, 1, 10, 20, 50, 100.
    assert {name: b["num_puzzles"] for name, b in buckets.items()} == {
        "0": 2, "1-9": 2, "10-19": 2, "20-49": 2, "50-99": 2, "100+": 2}
    assert list(buckets) == ["0", "1-9", "10-19", "20-49", "50-99", "100+"]
    assert sum(b["act_solved"] for b in buckets.values()) == report["act_solved"]
    for bucket in buckets.values():
        check_consistent({**bucket, "act_max_segments": MAX_STEPS, "puzzles_per_second": 1, "device": "cpu"})
    code, out, _ = evaluate_in_process(capsys, checkpoints["halting"], "--data", rated_file(tmp_path),
                                       "--rating-buckets", "5,50")
    assert code == 0 and "Per rating:" in out
    rating_table = out.split("Per rating:")[1].split("Per givens:")[0]  # the givens table follows
    table = {line.split()[0]: int(line.split()[1]) for line in rating_table.strip().splitlines()[1:]}
    assert table == {"<5": 3, "5-49": 5, "50+": 4}


def test_rating_filters_choose_the_rows_scored(checkpoints, tmp_path, capsys):
    path = rated_file(tmp_path)
    _, out, _ = evaluate_in_process(capsys, checkpoints["halting"], "--data", path, "--min-rating", 10,
                                    "--max-rating", 99, "--json")
    report = json.loads(out)
    assert report["num_puzzles"] == sum(10 <= r <= 99 for r in RATINGS)
    assert set(report["per_rating"]) == {"10-19", "20-49", "50-99"}


def test_views_add_a_report_and_never_call_a_wrong_board_solved(checkpoints, capsys):
    code, out, err = evaluate_in_process(capsys, checkpoints["native"], "--difficulty", "easy,medium", "--num", 4,
                                         "--views", 3, "--json")
    assert code == 0, err
    report = json.loads(out)
    views = report["views"]
    assert views["views"] == 3 and views["solve_rate_alone"] == report["act_solve_rate"]
    assert views["accepted_but_wrong"] == 0 and set(views["per_group"]) == {"easy", "medium"}
    assert 1 <= views["mean_agreeing"] <= 3
    plain = json.loads(evaluate_in_process(capsys, checkpoints["native"], "--difficulty", "easy", "--num", 4,
                                           "--json")[1])
    assert "views" not in plain  # one view: today's report



def givens_label(count: int) -> str:
    return "0-16" if count < 17 else str(count) if count <= 23 else "24-27" if count <= 27 else "28-31" if count <= 31 else "32+"


def test_a_file_is_reported_per_givens_count_too(checkpoints, tmp_path):
    """Rows per givens count: each group holds the puzzles with that many givens, and their solves add up."""
    path = tmp_path / "test.csv"
    questions = [PUZZLE, OTHER, PUZZLE, SEVERAL, OTHER]
    rows = [f"src{i},{q},{SOLUTION if q != OTHER else ''},{i}" for i, q in enumerate(questions)]
    path.write_text("source,question,answer,rating\n" + "\n".join(rows) + "\n")
    report = evaluate_json(checkpoints["native"], "--file", path, "--batch-size", 2)
    expected = {}
    for q in questions:
        label = givens_label(sum(c not in ".0" for c in q))
        expected[label] = expected.get(label, 0) + 1
    groups = report["per_givens"]
    assert {name: g["num_puzzles"] for name, g in groups.items()} == expected
    assert sum(g["act_solved"] for g in groups.values()) == report["act_solved"]
