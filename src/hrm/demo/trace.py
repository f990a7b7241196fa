"""One solve as JSON-ready frames: the board after each segment, what changed, what is wrong, the Q values.

A *trace* is what the page plays and what `POST /api/solve` returns:

    {"task", "size", "puzzle", "solution", "max_segments",
     "views": [{"frames": [...], "halted_at", "answer", "accepted"}, ...],   # view 0: the puzzle as given
     "answer", "chosen_view", "accepted", "solved"}

Boards are strings of one character per cell, row-major (the task's `cell_text`): Sudoku digits with `0` for
empty; path-finding boards in the legend `. # S E *`. A frame is `{segment, board, changed, wrong, q_halt, q_continue, halts,
solved}`, `changed` and `wrong` being cell indices and the Q values sigmoids. Views (the puzzle under its task's
symmetries, `evaluation/views.py`) are mapped back to the original frame, so all boards line up.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..evaluation.inference import run_segments
from ..evaluation.scaling import ViewRun
from ..evaluation.views import ViewRules
from ..tasks import Task

MAX_VIEWS = 8  # a square board has 8 symmetries; Sudoku views are capped alike to keep a solve quick


@dataclass
class Problem:
    """What the model is given, in the token layout of its task."""

    task: Task  # the checkpoint's task: it draws, checks and scores the boards
    cells: np.ndarray  # int8 [side²], the model's input
    answer: np.ndarray | None  # int8 [side²]: the unique Sudoku solution, or the board's canonical shortest path


def is_solved(problem: Problem, board: np.ndarray) -> bool:
    """Sudoku: the board is the solution (without a unique one: a valid solution); a path board: it marks a
    shortest path."""
    return problem.task.outcome(problem.cells, problem.answer, board)[1]


def frame(problem: Problem, segment: int, board, previous, q_halt: float, q_continue: float, halts: bool) -> dict:
    """One segment of one view as JSON-ready data."""
    board = np.asarray(board).reshape(-1)
    return {
        "segment": segment,
        "board": problem.task.cell_text(board),
        "changed": np.flatnonzero(board != np.asarray(previous).reshape(-1)).tolist(),
        "wrong": np.flatnonzero(problem.task.wrong_cells(problem.cells, problem.answer, board[None])[0]).tolist(),
        "q_halt": round(float(q_halt), 6),
        "q_continue": round(float(q_continue), 6),
        "halts": bool(halts),
        "solved": is_solved(problem, board),
    }


def solve(model, rules: ViewRules, problem: Problem, views: int, max_segments: int, device,
          no_halt: bool = False) -> dict:
    """Run the model on `views` views of the problem (`rules`: its task's `view_rules`) in one batch; the trace.

    Each view stops at its first segment whose Q head says halt (or at max_segments), as `infer` does; its
    answer is its board there. With no_halt every view runs all segments, its answer staying the board where
    it halted.
    """
    transforms = rules.transforms(1, views)
    back = transforms.inverse()
    tokens = torch.as_tensor(transforms.apply(np.repeat(problem.cells[None], views, 0)).astype(np.int64),
                             device=device)
    frames = [[] for _ in range(views)]
    previous = np.repeat(problem.cells[None], views, 0)
    answers = previous.copy()
    halted_at = [None] * views
    for step in run_segments(model, tokens, max_segments, None, rules.editable):
        boards = back.apply(step.predictions.cpu().numpy())  # [K, L] in the original frame
        q_halt, q_continue = torch.sigmoid(step.q_halt).tolist(), torch.sigmoid(step.q_continue).tolist()
        halts = step.halts.tolist()
        for k in range(views):
            if halted_at[k] is not None and not no_halt:
                continue  # this view has stopped
            frames[k].append(frame(problem, step.segment, boards[k], previous[k], q_halt[k], q_continue[k], halts[k]))
            if halted_at[k] is None and (halts[k] or step.segment == max_segments):
                answers[k] = boards[k]
            if halted_at[k] is None and halts[k]:
                halted_at[k] = step.segment
        previous = boards
        if not no_halt and None not in halted_at:
            break
    return assemble(problem, rules, max_segments, frames, halted_at, answers)


def trace_from_records(problem: Problem, rules: ViewRules, records: list[dict], max_segments: int) -> dict:
    """The trace of a run `infer` has made, from its per-segment records (segment, board, q_halt, q_continue,
    halts): one view, its answer the board where it halted, else the last."""
    frames, previous = [], problem.cells
    for record in records:
        board = np.asarray(record["board"]).reshape(-1)
        frames.append(frame(problem, record["segment"], board, previous, record["q_halt"], record["q_continue"],
                            record["halts"]))
        previous = board
    halted_at = next((r["segment"] for r in records if r["halts"]), None)
    answer = next((r for r in records if r["halts"]), records[-1])["board"]
    return assemble(problem, rules, max_segments, [frames], [halted_at], np.asarray(answer).reshape(1, -1))


def assemble(problem: Problem, rules: ViewRules, max_segments: int, frames: list[list[dict]], halted_at: list,
             answers: np.ndarray) -> dict:
    """The trace of K views from their frames, where each halted (None: never) and its answer [K, L]; the one
    answer is the views' choice as evaluate and infer make it (`ViewRun.choose`)."""
    count = len(answers)
    accepted = rules.accepts(np.repeat(problem.cells[None], count, 0), answers)
    run = ViewRun(candidates=answers[None], accepted=accepted[None],
                  halted_by_q=np.array([[h is not None for h in halted_at]]),
                  segments=np.array([[h or max_segments for h in halted_at]]), stopped_at=np.zeros(1, np.int64),
                  cost=None if rules.cost is None else rules.cost(answers)[None])
    choice = run.choose()
    answer = choice.answers[0]

    text = problem.task.cell_text
    return {
        "task": problem.task.family,
        "size": problem.task.side,
        "puzzle": text(problem.cells),
        "solution": None if problem.answer is None else text(problem.answer),
        "max_segments": max_segments,
        "views": [{"frames": f, "halted_at": h, "answer": text(a), "accepted": bool(ok)}
                  for f, h, a, ok in zip(frames, halted_at, answers, accepted)],
        "answer": text(answer),
        "chosen_view": int(choice.winning_view[0]),
        "accepted": bool(choice.accepted[0]),
        "solved": is_solved(problem, answer),
    }
