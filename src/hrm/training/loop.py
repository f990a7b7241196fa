"""The training loop: one segment per step for every carried row, logged and checkpointed.

A step never waits for the host: metrics and the row counters are copied out
asynchronously and read one step later. Ctrl-C or a time/step/epoch limit saves a final
checkpoint; a second Ctrl-C aborts without saving.
"""

import math
import signal
import threading
import time

import torch
from tqdm import tqdm

from ..tasks import RowSource
from .compile_cache import use_compile_cache
from .config import Autocast, RunOptions
from .distributed import Ranks, Silent, leads
from .loss import exploration_draws, segment_loss
from .report import Reporter
from .folder import apply_retention
from .run import Run, TrainingError, save_checkpoint

# "accuracy": the original's avgOutputFullAccuracy (every cell, givens too); "solved": the share of rows fully right.
METRICS = ("loss", "output_loss", "q_act_loss", "accuracy", "q_act_accuracy", "solved", "halted")  # counts last


def step_values(rows: RowSource, ranks: Ranks | None = None) -> tuple[str, ...]:
    """Names of the vector a step returns: the loss metrics, the task's metrics, then its row counters (and in a
    data-parallel run, the run's counters and stop votes)."""
    shared = () if ranks is None else ranks.shared_names(rows.counter_names)
    return METRICS + rows.metric_names + rows.counter_names + shared


def train_step(run: Run, autocast: Autocast, loss_fn=segment_loss) -> torch.Tensor:
    """One segment for every carried row: loss, backward, update, replace halted rows, the task's update.

    Pure tensor work with no host synchronisation; returns the step's values (`step_values`) as one
    float64 vector for the host to read later.
    """
    model, carry, copies = run.model, run.carry, run.config.latent_copies
    # Drawn outside `loss_fn` so that a compiled one holds no generator; same draws as sudoku_loss.
    explore_draw, min_halt_draw = exploration_draws(model, carry.inputs.shape[0], carry.inputs.device, run.generator)
    copy_noise = None
    if copies > 1:  # where the later copies of a fresh row start, around the initial states
        draw = lambda s: torch.randn(s.shape, device=s.device, generator=run.generator) * run.config.copy_noise  # noqa: E731
        copy_noise = type(carry.hidden_states)(draw(carry.high_level), draw(carry.low_level))
    # Puzzle embeddings: the rows' table rows as a leaf whose gradient the sign-SGD step reads (the table is no
    # AdamW parameter; a gradient of the whole table would be as large as the table).
    puzzle_vectors = None
    if run.puzzle_optimizer is not None:
        puzzle_vectors = model.puzzle_embedding(carry.puzzle_ids).detach().requires_grad_()
    # Halting schedules: this step's exploration probability and segment limit, as device tensors.
    halting = (None, None) if run.halt_schedule is None else run.halt_schedule.values()
    with autocast():
        result = loss_fn(
            model, carry.hidden_states, carry.inputs, carry.targets, carry.segments, explore_draw, min_halt_draw,
            run.task.loss_mask(carry.inputs), puzzle_vectors, *halting, copy_noise, copies,
        )  # fmt: skip
    result.loss.backward()
    if run.ranks is not None:  # several ranks: each gradient becomes the ranks' mean (see distributed.py)
        run.ranks.average_gradients(model.parameters())
    run.optimizer.step()
    if run.ema is not None:
        run.ema.update()
    if run.puzzle_optimizer is not None:
        run.puzzle_optimizer.step(carry.puzzle_ids, puzzle_vectors.grad)
    run.optimizer.zero_grad(set_to_none=True)
    if run.halt_schedule is not None:
        run.halt_schedule.advance()

    halted_rows = result.is_halted[::copies]  # a row's copies halt together
    fresh = run.rows.draw(halted_rows, run.generator)  # inputs, targets (and ids, for rows with ids)
    if copies > 1:
        fresh = [column.repeat_interleave(copies, dim=0) for column in fresh]
    carry.advance(result.hidden_states, result.is_halted, *fresh[:2], model.initial_hidden_states, *fresh[2:])
    values = torch.stack([v.detach().double() for v in (
        result.loss, result.output_loss, result.q_act_loss, result.output_accuracy, result.q_act_halt_accuracy,
        result.row_solved.float().mean(), halted_rows.sum(),
    )])  # fmt: skip
    counters = run.rows.counters().double()
    if run.ranks is not None:
        # Every rank logs, graduates and stops on the same numbers, the run's: the ranks' mean losses and accuracies,
        # their halted rows summed, and each rank's own counters (its refills) followed by the run's.
        values, counters = run.ranks.share_step(values, counters)
    task_values = run.rows.update(values[METRICS.index(run.rows.graduation_metric)])
    return torch.cat([values, *(v.detach().double().view(1) for v in task_values), counters])


class LaggedMetrics:
    """Copies each step's value vector into pinned host memory without waiting; the host reads it a step later."""

    def __init__(self, device: torch.device, names: tuple[str, ...]):
        cuda = device.type == "cuda"
        self.names = names
        self.buffers = [torch.zeros(len(names), dtype=torch.float64, pin_memory=cuda) for _ in range(2)]
        self.events = [torch.cuda.Event() if cuda else None for _ in range(2)]
        self.next = 0

    def send(self, vector: torch.Tensor) -> int:
        slot, self.next = self.next, 1 - self.next
        self.buffers[slot].copy_(vector, non_blocking=True)
        if self.events[slot] is not None:
            self.events[slot].record()
        return slot

    def receive(self, slot: int) -> dict[str, float]:
        if self.events[slot] is not None:
            self.events[slot].synchronize()
        return dict(zip(self.names, self.buffers[slot].tolist()))


def train(run: Run, options: RunOptions) -> Run:
    """Run steps until a limit or Ctrl-C, logging each and checkpointing at step 1 and every `checkpoint_every`."""
    autocast = Autocast(options.device.type, torch.bfloat16 if options.precision == "bf16" else None)
    loss_fn = segment_loss
    if options.compile is not None:
        use_compile_cache(options.compile_cache)  # a second run of this configuration skips most of the compiling
        loss_fn = compiled_segment_loss(options.compile)
    reporter = Silent()  # ranks other than 0: rank 0 writes the run's metrics and console
    if leads(run.ranks):
        reporter = Reporter(options.out_dir, options.log_format, run.step, options.max_steps)
    metrics = LaggedMetrics(options.device, step_values(run.rows, run.ranks))
    stop = _StopFlag()
    started = tick = time.monotonic()
    elapsed_at_start, start_rows = run.elapsed, run.rows.rows_consumed()
    last_saved = run.step
    pending = None  # the launched step whose metrics are still to be read: (step, slot, seconds waited, start time)

    def report(entry, until: float) -> None:
        """Read a step's metrics (waiting for them if need be), log them, and let the task react to them."""
        step, slot, waited, began = entry
        values = metrics.receive(slot)
        if not math.isfinite(values["loss"]):
            kept = f"last checkpoint: step {last_saved}" if last_saved else "no checkpoint yet"
            raise TrainingError(f"loss is {values['loss']} at step {step}; stopped without saving ({kept})")
        announcements = run.rows.observe(step, values)
        if run.ranks is not None:
            run.ranks.observe(run.rows, values)
        puzzles = run.rows.rows_consumed()
        reporter.step({
            "step": step, "loss": values["loss"],
            "output_loss": values["output_loss"], "q_act_loss": values["q_act_loss"],
            "accuracy": values["accuracy"], "q_act_accuracy": values["q_act_accuracy"], **run.rows.record(values),
            "puzzles": puzzles, "halted": int(values["halted"]), "wait_fraction": waited / max(until - began, 1e-9),
            "puzzles_per_second": (puzzles - start_rows) / max(until - started, 1e-9),
            "elapsed": elapsed_at_start + until - started,
            **({} if run.halt_schedule is None else run.halt_schedule.record(step)),
        })  # fmt: skip
        for line in announcements:
            reporter.announce(line)

    try:
        while not _stopping(run, options, stop, started):
            began = time.monotonic()
            waited = run.rows.refill()
            vector = train_step(run, autocast, loss_fn)
            run.step += 1
            slot = metrics.send(vector)
            now = time.monotonic()
            run.elapsed, run.waited, tick = run.elapsed + now - tick, run.waited + waited, now
            if pending is not None:
                report(pending, until=began)  # the previous step: by now its copy has landed, or nearly
            pending = (run.step, slot, waited, began)
            if run.step == 1 or run.step % options.checkpoint_every == 0 or options.max_epochs is not None:
                # With an epoch limit the host must know this step's rows before deciding to go on.
                report(pending, until=time.monotonic())
                pending = None
            if run.step == 1 or run.step % options.checkpoint_every == 0:
                last_saved = _save(run, options, reporter)
        if pending is not None:
            report(pending, until=time.monotonic())
        if run.step != last_saved:
            _save(run, options, reporter)
        why = "interrupted" if stop.requested else "stopped"
        reporter.announce(
            f"{why} after step {run.step}: {run.rows.rows_consumed()} puzzles,"
            f" waited for puzzles {100 * run.waited / max(run.elapsed, 1e-9):.1f}% of the training time"
        )
    finally:
        stop.restore()
        reporter.close()
    return run


# `--compile regional`: each reasoner compiled on its own instead of the whole segment.
REGIONAL = "regional"


def compiled_segment_loss(mode: str | None = None):
    """torch.compile'd segment loss (`mode` as torch.compile takes it, or REGIONAL) that falls back to eager, with
    one warning, if compiling fails."""
    if mode == REGIONAL:
        return regionally_compiled_segment_loss()
    compiled = torch.compile(segment_loss, mode=mode)
    state = {"fn": compiled}

    def loss_fn(*args):
        if state["fn"] is compiled:
            try:
                return compiled(*args)
            except Exception as err:  # a compiler failure must not end a training run
                _warn_compile_failed(err)
                state["fn"] = segment_loss
        return state["fn"](*args)

    return loss_fn


def regionally_compiled_segment_loss():
    """The segment loss with each reasoner compiled on its own (`--compile regional`): a pass of one level's blocks
    is a small graph, traced and compiled once per level and gradient mode and reused by every pass of every step,
    where the whole segment unrolls twelve passes (twice: the target's forward) into one large graph. The loss and
    the glue between passes run eager. Falls back to eager, with one warning, if compiling fails."""
    state = {"compiled": None, "failed": False}

    def reasoners(model):
        return (model.high_level_reasoner, model.low_level_reasoner)

    def loss_fn(model, *args):
        if not state["failed"] and state["compiled"] is not model:
            for reasoner in reasoners(model):
                reasoner.compile()
            state["compiled"] = model
        try:
            return segment_loss(model, *args)
        except Exception as err:  # a compiler failure must not end a training run
            if state["failed"]:
                raise
            _warn_compile_failed(err)
            state["failed"] = True
            for reasoner in reasoners(model):
                reasoner._compiled_call_impl = None  # what nn.Module.compile set: the module's own forward again
            return segment_loss(model, *args)

    return loss_fn


def _warn_compile_failed(err: Exception) -> None:
    reason = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    tqdm.write(f"warning: torch.compile failed ({reason}); running eager")


def _stopping(run: Run, options: RunOptions, stop: "_StopFlag", started: float) -> bool:
    """Whether to stop before the next step. The ranks of a data-parallel run stop after the same step: the step and
    epoch limits (the run's rows, read back alike) agree by themselves; Ctrl-C and the time limit, which each rank
    meets at its own moment, are votes sent with a step and obeyed once read back."""
    if _limit_reached(run, options):
        return True
    wanted = stop.requested or (
        options.max_minutes is not None and time.monotonic() - started >= 60 * options.max_minutes
    )
    return wanted if run.ranks is None else run.ranks.vote_to_stop(wanted)


def _limit_reached(run: Run, options: RunOptions) -> bool:
    if options.max_steps is not None and run.step >= options.max_steps:
        return True
    epoch = run.rows.epoch()
    return options.max_epochs is not None and epoch is not None and epoch >= options.max_epochs


def _save(run: Run, options: RunOptions, reporter: Reporter) -> int:
    path = save_checkpoint(run, options.out_dir)
    if run.ranks is not None:
        run.ranks.barrier()  # every rank's training state is written
    # Only now that all the files are complete may older ones go.
    if leads(run.ranks):
        apply_retention(options.out_dir, run.step, options.keep_checkpoints, options.keep_every)
    reporter.announce(f"step {run.step}: saved {path}")
    return run.step


# SIGTERM is what a scheduler (and torchrun, passing on its own) sends before it kills a job: a clean stop too.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopFlag:
    """The first Ctrl-C or SIGTERM asks the loop to stop after the current step and save; a second one aborts."""

    def __init__(self):
        self.requested = False
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, previous in self.previous.items():
            if previous is not None:  # None: a handler installed outside Python, which cannot be put back
                signal.signal(sig, previous)
