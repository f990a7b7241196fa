"""The demo's traces against independent runs: `infer --json` for one view, evaluate's `run_views` for several;
the standalone page."""

import json
import re

import numpy as np
import pytest
import torch

from src.hrm.boardpath import generate_boards
from src.hrm.evaluation.scaling import run_views
from src.hrm.checkpoint import save_model
from src.hrm.demo.page import standalone_page
from src.hrm.demo.puzzles import board_problem, sudoku_problem
from src.hrm.demo.trace import Problem, solve, trace_from_records
from src.hrm.infer import main as infer_main
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.tasks import build_task

PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
MAX_STEPS, SIZE = 5, 6
SUDOKU, BOARDS = build_task(None), build_task({"name": "boardpath", "board_size": SIZE})
SUDOKU_RULES, BOARD_RULES = SUDOKU.view_rules(), BOARDS.view_rules()
CPU = torch.device("cpu")


def tiny_model(seq_len: int, vocab_size: int, seed: int) -> HRMACTInner:
    """A small random model whose Q head halts some rows early and others late."""
    torch.manual_seed(seed)
    config = HRMACTModelConfig(seq_len=seq_len, vocab_size=vocab_size,
                               transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2),
                               act=ACTConfig(halt_max_steps=MAX_STEPS))
    model = HRMACTInner(config)
    with torch.no_grad():
        model.q_act_head.weight.normal_(0, 2.0)
        model.q_act_head.bias.zero_()
        model.output_head.weight[0].zero_()  # predict digits rather than "empty"
    return model.eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sudoku_views_agree_with_run_views(seed):
    model = tiny_model(81, 10, seed)
    problem = sudoku_problem(SUDOKU, PUZZLE)
    trace = solve(model, SUDOKU_RULES, problem, 4, MAX_STEPS, CPU)
    run = run_views([model], problem.cells[None], 4, SUDOKU_RULES, 4, CPU, MAX_STEPS)
    assert [v["answer"] for v in trace["views"]] == [SUDOKU.cell_text(c) for c in run.candidates[0]]
    assert [v["accepted"] for v in trace["views"]] == run.accepted[0].tolist()
    for k, view in enumerate(trace["views"]):
        assert (view["halted_at"] is not None) == run.halted_by_q[0, k]
        assert len(view["frames"]) == run.segments[0, k]
        assert view["frames"][-1]["board"] == view["answer"]  # each view stops where it halts
    choice = run.choose()
    assert trace["answer"] == SUDOKU.cell_text(choice.answers[0])
    assert trace["chosen_view"] == choice.winning_view[0] and trace["accepted"] == choice.accepted[0]


def test_board_views_agree_with_run_views():
    model = tiny_model(SIZE * SIZE, 6, 3)
    boards, answers = generate_boards(1, SIZE, 0.2, seed=4)
    problem = Problem(BOARDS, boards[0], answers[0])
    trace = solve(model, BOARD_RULES, problem, 8, MAX_STEPS, CPU)
    run = run_views([model], boards, 8, BOARD_RULES, 8, CPU, MAX_STEPS)
    assert [v["answer"] for v in trace["views"]] == [BOARDS.cell_text(c) for c in run.candidates[0]]
    assert [len(v["frames"]) for v in trace["views"]] == run.segments[0].tolist()
    assert trace["puzzle"] == BOARDS.cell_text(boards[0]) and len(trace["puzzle"]) == SIZE * SIZE


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo-trace") / "tiny.safetensors"
    save_model(tiny_model(81, 10, 1), path)
    return path


@pytest.mark.parametrize("no_halt", [False, True])
def test_one_view_is_what_infer_prints(tiny_checkpoint, capsys, no_halt):
    flags = ["--no-halt"] if no_halt else []
    assert infer_main([str(tiny_checkpoint), "--puzzle", PUZZLE, "--json", "--device", "cpu", *flags]) == 0
    report = json.loads(capsys.readouterr().out)
    model = tiny_model(81, 10, 1)
    trace = solve(model, SUDOKU_RULES, sudoku_problem(SUDOKU, PUZZLE), 1, MAX_STEPS, CPU, no_halt=no_halt)
    frames = trace["views"][0]["frames"]
    assert [f["board"] for f in frames] == [s["board"] for s in report["segments"]]
    assert [f["q_halt"] for f in frames] == pytest.approx([s["q_halt"] for s in report["segments"]], abs=1e-6)
    assert [len(f["changed"]) for f in frames] == [s["changed"] for s in report["segments"]]
    assert trace["views"][0]["halted_at"] == report["halted_at"]
    halted = report["halted_at"] or len(report["segments"])
    assert trace["answer"] == report["segments"][halted - 1]["board"]
    if not no_halt:
        assert frames[-1]["board"] == trace["answer"]


def test_frames_mark_changed_and_wrong_cells():
    problem = sudoku_problem(SUDOKU, PUZZLE)
    trace = solve(tiny_model(81, 10, 2), SUDOKU_RULES, problem, 1, MAX_STEPS, CPU, no_halt=True)
    previous, solution = SUDOKU.cell_text(problem.cells), trace["solution"]
    for f in trace["views"][0]["frames"]:
        assert f["changed"] == [i for i in range(81) if f["board"][i] != previous[i]]
        assert f["wrong"] == [i for i in range(81) if PUZZLE[i] == "." and f["board"][i] != solution[i]]
        assert f["solved"] == (f["board"] == solution)
        previous = f["board"]


def test_records_make_the_same_trace():
    model, problem = tiny_model(81, 10, 0), sudoku_problem(SUDOKU, PUZZLE)
    trace = solve(model, SUDOKU_RULES, problem, 1, MAX_STEPS, CPU, no_halt=True)
    records = [{**f, "board": np.array([int(c) for c in f["board"]])} for f in trace["views"][0]["frames"]]
    assert trace_from_records(problem, SUDOKU_RULES, records, MAX_STEPS) == trace


def test_any_shortest_path_is_right_and_a_broken_one_is_marked():
    board = "S..\n...\n..E"
    task = build_task({"name": "boardpath", "board_size": 3})
    problem = board_problem(task, board)
    detour = np.array(problem.cells)
    detour[[3, 6, 7]] = 5  # down the left side and along the bottom: a shortest path, not the canonical one
    assert task.cell_text(problem.answer) == "S**..*..E"
    assert not task.wrong_cells(problem.cells, problem.answer, detour[None]).any()
    loop = np.array(problem.cells)
    loop[[1, 2, 5, 3]] = 5  # one cell too many: not a path
    assert task.wrong_cells(problem.cells, problem.answer, loop[None])[0, 3]


def test_standalone_page_is_self_contained():
    trace = solve(tiny_model(81, 10, 0), SUDOKU_RULES, sudoku_problem(SUDOKU, PUZZLE), 2, MAX_STEPS, CPU)
    trace["answer"] = "</script><script>alert(1)</script>"  # must stay inside the JSON
    page = standalone_page(trace, title="tiny <model>")
    assert "/static/" not in page and not re.search(r"""(src|href)=["'](?!data:)""", page)
    outside = page.replace('"http://www.w3.org/2000/svg"', "")  # the SVG namespace is a name, not a fetch
    assert "http://" not in outside and "https://" not in outside
    data = re.search(r'<script type="application/json" id="trace-data"[^>]*>(.*?)</script>', page, re.S).group(1)
    assert json.loads(data) == trace
    assert 'data-title="tiny &lt;model&gt;"' in page
