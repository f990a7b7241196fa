"""Test-time scaling: the views of one or several checkpoints, solved together, with an optional early stop.

Every checkpoint solves the same K views of each puzzle (`views.py`); the answers, mapped back to
the original frame, are pooled (V = checkpoints × K candidates per puzzle) and `choose_answers`
picks one. Each view runs under ACT halting, as `evaluate` runs a puzzle: it stops at the first
segment whose Q head says halt, or at the segment limit. A view that stops leaves the batch, so
the segments a puzzle costs are the segments its views ran, and that is what is counted.

Early stop (`agree` = A): after every segment, a puzzle on which at least A of its views (all of
them when it has fewer) hold one answer that the checker accepts stops there: its running views
stop, counted as halted, and spend no more segments. A view's answer is its current board while it
runs and the board it halted on after. The checker tests the rules and never searches, so the
answer is still one the model wrote, and an accepted Sudoku keeps the givens and breaks no rule:
a solution of the puzzle (the solution, when there is one).
"""

import contextlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..modeling import HiddenStates, HRMACTInner
from ..modeling.act import inference_halts
from ..sudoku.augment import Transform
from .inference import initial_hidden_states, predicted_board
from .views import Choice, ViewRules, choose_answers, choose_by_q


@dataclass
class ViewRun:
    """What solving the views of N puzzles recorded; column v is checkpoint v // K, view v % K."""

    candidates: np.ndarray  # [N, V, L] int8: each view's answer in the original frame
    accepted: np.ndarray  # [N, V] bool: the checker accepts it
    halted_by_q: np.ndarray  # [N, V] bool: the view's Q head said halt within the limit
    segments: np.ndarray  # [N, V] segments the view ran
    stopped_at: np.ndarray  # [N] the segment at which early stop ended the puzzle; 0 where it did not
    q_margin: np.ndarray | None = None  # [N, V] float32: q_halt - q_continue at the view's last segment
    cost: np.ndarray | None = None  # [N, V]: the task's cost of each answer (ViewRules.cost), None: all alike

    def choose(self) -> Choice:
        """One answer per puzzle; views that halted (by the Q head or early stop) count as confident, earlier
        halts more."""
        stopped = (self.stopped_at[:, None] > 0) & (self.segments == self.stopped_at[:, None])
        confidence = (self.halted_by_q | stopped) * (1.0 + 1.0 / self.segments.clip(min=1))
        return choose_answers(self.candidates, self.accepted, confidence, self.cost)

    def choose_by_q(self, rule: str) -> np.ndarray:
        """[N, L] one answer per puzzle picked by the Q head alone, with no checker (`choose_by_q`'s rules)."""
        return choose_by_q(self.candidates, self.halted_by_q, self.segments, self.q_margin, rule)

    @property
    def spent(self) -> np.ndarray:
        """[N] segments run on each puzzle, its views of every checkpoint together."""
        return self.segments.sum(axis=1)

    def ending(self, puzzle: int, column: int) -> str:
        """How one view stopped, in words."""
        segments = int(self.segments[puzzle, column])
        if self.halted_by_q[puzzle, column]:
            return f"halted by the Q head at segment {segments}"
        if self.stopped_at[puzzle] == segments:
            return f"stopped early at segment {segments}"
        return f"ran to the limit, {segments} segments"


def stop_rule(agree: int | None) -> str:
    """The early stop rule in words."""
    if agree is None:
        return "no early stop"
    if agree == 1:
        return "early stop at the first accepted answer"
    return f"early stop once {agree} views agree on an accepted answer"


def view_name(column: int, views: int, checkpoints: int) -> str:
    """Column `column` of a ViewRun in words: 'view 3', 'view 1 (as given)', or 'checkpoint 2, view 3'."""
    view = column % views + 1
    name = f"view {view}" + (" (as given)" if view == 1 else "")
    return f"checkpoint {column // views + 1}, {name}" if checkpoints > 1 else name


def run_views(
    models: Sequence[HRMACTInner],
    inputs: np.ndarray,
    views: int,
    rules: ViewRules,
    batch_size: int,
    device: torch.device,
    max_segments: int | None = None,
    autocast_dtype: torch.dtype | None = None,
    agree: int | None = None,
) -> ViewRun:
    """Solve `views` views of inputs [N, L] with every model. A puzzle's views share a batch (of batch_size rows
    per model, or one puzzle's views when they are more); max_segments: the segment limit (default: each model's
    own); agree: early stop when that many views agree on an accepted answer (None: no early stop)."""
    inputs = np.asarray(inputs)
    count, length = inputs.shape
    transforms = rules.transforms(count, views)
    run = ViewRun(
        candidates=np.zeros((count, len(models) * views, length), dtype=np.int8),
        accepted=np.zeros((count, len(models) * views), dtype=bool),
        halted_by_q=np.zeros((count, len(models) * views), dtype=bool),
        segments=np.zeros((count, len(models) * views), dtype=np.int64),
        stopped_at=np.zeros(count, dtype=np.int64),
        q_margin=np.zeros((count, len(models) * views), dtype=np.float32),
        cost=np.zeros((count, len(models) * views)),
    )
    seen = transforms.apply(np.repeat(inputs, views, axis=0))
    back = transforms.inverse()
    per_batch = max(1, batch_size // views)
    for start in range(0, count, per_batch):
        puzzles = slice(start, min(count, start + per_batch))
        rows = slice(puzzles.start * views, puzzles.stop * views)
        part = ViewRun(run.candidates[puzzles], run.accepted[puzzles], run.halted_by_q[puzzles],
                       run.segments[puzzles], run.stopped_at[puzzles], run.q_margin[puzzles],
                       run.cost[puzzles])  # fmt: skip
        _run_batch(models, inputs[puzzles], seen[rows], Transform(back.digit_map[rows], back.cells[rows]), views,
                   rules, part, device, max_segments, autocast_dtype, agree)  # fmt: skip
    return run


def _run_batch(models, inputs, seen, back, views, rules, run, device, max_segments, autocast_dtype, agree) -> None:
    """run_views on one batch of puzzles, writing into `run` (views of the whole run's arrays)."""
    tokens = torch.as_tensor(seen.astype(np.int64), device=device)  # [n·K, L], the views as the model sees them
    editable = rules.editable(tokens)
    given = np.repeat(inputs, views, axis=0)  # each row's puzzle in the original frame
    limits = [max_segments or m.config.act.fixed_segments or m.config.act.halt_max_steps for m in models]
    live = [np.arange(len(seen)) for _ in models]  # per model, the rows still running
    hidden = [initial_hidden_states(model) for model in models]
    running = np.ones(run.segments.shape, dtype=bool)  # [n, V]
    autocast = (torch.autocast(device_type=device.type, dtype=autocast_dtype) if autocast_dtype is not None
                else contextlib.nullcontext())  # fmt: skip
    for segment in range(1, max(limits) + 1):
        for m, model in enumerate(models):
            if len(live[m]) == 0:
                continue
            index = torch.as_tensor(live[m], device=device)
            with torch.inference_mode(), autocast:
                output = model(hidden[m], tokens[index])
            hidden[m] = output.hidden_states
            q_halt, q_continue = output.q_act_halt.float(), output.q_act_continue.float()
            halts = inference_halts(model.config.act, q_halt, q_continue, segment).cpu().numpy()
            board = predicted_board(tokens[index], output.output, editable[index]).cpu().numpy()
            mapped = Transform(back.digit_map[live[m]], back.cells[live[m]]).apply(board)
            puzzle, column = live[m] // views, m * views + live[m] % views
            run.candidates[puzzle, column] = mapped
            run.accepted[puzzle, column] = rules.accepts(given[live[m]], mapped)
            if rules.cost is not None:
                run.cost[puzzle, column] = rules.cost(mapped)
            run.segments[puzzle, column] = segment
            run.halted_by_q[puzzle, column] = halts
            run.q_margin[puzzle, column] = (q_halt - q_continue).cpu().numpy()
            done = halts | (segment >= limits[m])
            running[puzzle[done], column[done]] = False
        if agree is not None:
            stopping = _agreed(run.candidates, run.accepted, running, agree)
            running[stopping] = False
            run.stopped_at[stopping] = segment
        if not running.any():
            break
        for m in range(len(models)):
            keep = running[live[m] // views, m * views + live[m] % views]
            if not keep.all():
                rows = torch.as_tensor(np.flatnonzero(keep), device=device)
                hidden[m] = HiddenStates(hidden[m].high_level[rows], hidden[m].low_level[rows])
                live[m] = live[m][keep]


def _agreed(candidates: np.ndarray, accepted: np.ndarray, running: np.ndarray, agree: int) -> np.ndarray:
    """The puzzles still running on which at least `agree` views (all, when fewer) hold one accepted answer."""
    need = min(agree, candidates.shape[1])
    found = []
    for puzzle in np.flatnonzero(running.any(axis=1) & accepted.any(axis=1)):
        keys = [row.tobytes() for row in candidates[puzzle]]
        counts = Counter(keys)
        if any(counts[keys[v]] >= need for v in np.flatnonzero(accepted[puzzle])):
            found.append(puzzle)
    return np.array(found, dtype=np.int64)
