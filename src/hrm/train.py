"""Train HRM-ACT on generated Sudoku with the original's carry, ACT loss, optimizer and curriculum.

    python -m src.hrm.train [--out-dir DIR] [--max-steps N] [--max-minutes M] [--resume] ...

Defaults reproduce the original `train`: the default model seeded with 42, 512 carried rows,
MLX AdamW (lr 1e-4, betas 0.9/0.95, weight decay 0.01, no bias correction), the five-stage
curriculum, a checkpoint at step 1 and every 250 steps. Each checkpoint
(`checkpoint-<step>.safetensors`) has a training-state file next to it, so `--resume`
continues exactly where the run stopped. Every step is appended to `<out>/metrics.jsonl`.

A step never waits for the host: metrics and the puzzle-queue counters are copied out
asynchronously and read one step later. Ctrl-C or a time/step limit saves a final
checkpoint; a second Ctrl-C aborts without saving.
"""

import argparse
import contextlib
import dataclasses
import json
import math
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from .checkpoint import (
    CheckpointError,
    load_model,
    load_training_state,
    save_model,
    save_training_state,
    training_state_path,
)
from .modeling import HRMACTInner, HRMACTModelConfig
from .training.carry import Carry, PuzzleQueue
from .tasks.curriculum import (
    LAST_STAGE,
    STAGE_PROBABILITIES,
    TRAINING_DIFFICULTIES,
    Curriculum,
    CurriculumConfig,
    reachable_stages,
)
from .evaluation.inference import pick_device
from .training.optimizer import OPTIMIZERS, build_optimizer
from .sudoku import PuzzleSupply
from .training.loss import exploration_draws, segment_loss

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)\.safetensors$")
METRICS = ("loss", "output_loss", "q_act_loss", "accuracy", "q_act_accuracy", "halted", "stage", "graduated", "ready")
COMPILE_CHOICES = {"auto": None, "off": None, "on": "default", "cudagraphs": "reduce-overhead"}  # flag → mode
COUNTERS = tuple(f"consumed_{d.name.lower()}" for d in TRAINING_DIFFICULTIES)


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclass
class TrainConfig:
    """What defines a run's results; saved with every checkpoint, and kept as is by --resume."""

    model: HRMACTModelConfig = field(default_factory=HRMACTModelConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    batch_size: int = 512
    lr: float = 1e-4
    optimizer: str = "mlx-adamw"
    seed: int = 42  # model init (torch.manual_seed), puzzle streams; seed + 1 for the step generator

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "model": self.model.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        return cls(
            model=HRMACTModelConfig.from_dict(data.pop("model")),
            curriculum=CurriculumConfig(**data.pop("curriculum")),
            **data,
        )


@dataclass
class RunOptions:
    """How this invocation runs; may differ between a run and its resume."""

    out_dir: Path
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"  # "fp32" or "bf16" (autocast)
    # torch.compile of the segment loss (both forwards and the loss; backward via AOTAutograd): None for eager,
    # else the torch.compile mode ("default", or "reduce-overhead" to replay the kernels as CUDA graphs).
    compile: str | None = None
    max_steps: int | None = None
    max_minutes: float | None = None
    checkpoint_every: int = 250
    workers: int | None = None
    log_format: str = "bar"  # "bar", "swift", "jsonl" or "none"


@dataclass
class Autocast:
    device_type: str
    dtype: torch.dtype | None  # None: plain float32, the original's numerics

    def __call__(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


class TrainingError(RuntimeError):
    """The run cannot go on (a non-finite loss); the message is one line naming the step."""


# ---------------------------------------------------------------------------------------------
# The run and its step


@dataclass
class Run:
    """Everything carried from step to step; checkpoints save all of it, so a resumed run is exact."""

    config: TrainConfig
    model: HRMACTInner
    optimizer: torch.optim.Optimizer
    curriculum: Curriculum
    supply: PuzzleSupply
    queue: PuzzleQueue
    carry: Carry
    generator: torch.Generator
    step: int = 0
    elapsed: float = 0.0  # seconds of training so far, over all invocations
    waited: float = 0.0  # of which waiting for puzzles

    def close(self) -> None:
        self.supply.close()


def train_step(
    model: HRMACTInner,
    optimizer: torch.optim.Optimizer,
    carry: Carry,
    curriculum: Curriculum,
    queue: PuzzleQueue,
    generator: torch.Generator,
    autocast: Autocast,
    loss_fn=segment_loss,
) -> torch.Tensor:
    """One segment for every carried row: loss, backward, update, replace halted rows, curriculum.

    Pure tensor work with no host synchronisation; returns the step's metrics and the queue
    counters as one float64 vector (METRICS + COUNTERS) for the host to read later.
    """
    # Drawn outside `loss_fn` so that a compiled one holds no generator; same draws as sudoku_loss.
    explore_draw, min_halt_draw = exploration_draws(model, carry.inputs.shape[0], carry.inputs.device, generator)
    with autocast():
        result = loss_fn(
            model, carry.hidden_states, carry.inputs, carry.targets, carry.segments, explore_draw, min_halt_draw
        )
    result.loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)

    # New puzzles are drawn from the stage this step trained at; graduation applies from the next step.
    fresh_inputs, fresh_targets = queue.draw(result.is_halted, curriculum.probabilities(), generator)
    carry.advance(result.hidden_states, result.is_halted, fresh_inputs, fresh_targets, model.initial_hidden_states)
    graduated, ready = curriculum.update(result.output_accuracy)

    values = (
        result.loss, result.output_loss, result.q_act_loss, result.output_accuracy, result.q_act_halt_accuracy,
        result.is_halted.sum(), curriculum.stage, graduated, ready,
    )  # fmt: skip
    return torch.cat([torch.stack([v.detach().double() for v in values]), queue.consumed.double()])


def new_run(config: TrainConfig, device: torch.device, workers: int | None = None) -> Run:
    """A fresh run: the model drawn from torch.manual_seed(seed), every carried row on a fresh puzzle."""
    torch.manual_seed(config.seed)
    model = HRMACTInner(config.model).to(device)
    run = _assemble(config, model, device, _supply(config, workers))
    run.supply.set_demand(_demand(config.curriculum.start_stage))
    run.queue.ensure(_needed_kinds(config.curriculum.start_stage))
    everyone = torch.ones(config.batch_size, dtype=torch.bool, device=device)
    fresh = run.queue.draw(everyone, run.curriculum.probabilities(), run.generator)
    run.carry.advance(run.carry.hidden_states, everyone, *fresh, model.initial_hidden_states)
    run.queue.observe(run.queue.consumed.tolist())
    return run


def _assemble(config: TrainConfig, model: HRMACTInner, device: torch.device, supply: PuzzleSupply) -> Run:
    hidden = config.model.transformers.hidden_size
    return Run(
        config=config,
        model=model,
        optimizer=build_optimizer(config.optimizer, model.parameters(), lr=config.lr, device=device),
        curriculum=Curriculum(config.curriculum, device),
        supply=supply,
        queue=PuzzleQueue(supply, config.batch_size, device),
        carry=Carry.empty(config.batch_size, config.model.seq_len, hidden, device),
        generator=torch.Generator(device=device).manual_seed(config.seed + 1),
    )


def _supply(config: TrainConfig, workers: int | None, state: dict | None = None) -> PuzzleSupply:
    """Background generator pools sized to the batch: a few batches ahead, not thousands of puzzles for a tiny run.

    A queue refill takes up to a whole ring of one difficulty at once, so every demanded pool keeps that
    many ready: with pools only in proportion to demand, refills of the rarer difficulties waited for
    the generator (5–6% of the step time at the last stage on an H100).
    """
    sizes = dict(capacity=max(4 * config.batch_size, 512), chunk_size=min(256, max(32, config.batch_size)),
                 min_ready=PuzzleQueue.default_capacity(config.batch_size))
    if state is None:
        return PuzzleSupply(config.seed, workers=workers, **sizes)
    return PuzzleSupply.from_state_dict(state, workers=workers, **sizes)


def _needed_kinds(stage: int) -> list[int]:
    """Queue rows that the device may draw from before the host hears of the next graduation."""
    return sorted({k for s in reachable_stages(stage) for k, p in enumerate(STAGE_PROBABILITIES[s]) if p > 0})


def _demand(stage: int) -> list[float]:
    """Supply weights per Difficulty value (very-easy first, never trained on)."""
    return [0.0, *STAGE_PROBABILITIES[stage]]


# ---------------------------------------------------------------------------------------------
# Checkpoints and resume


def save_checkpoint(run: Run, out_dir: Path) -> Path:
    """checkpoint-<step>.safetensors (the model) and its training-state file; both written atomically."""
    parameters = [p for p in run.model.parameters()]
    if not bool(torch.stack([p.isfinite().all() for p in parameters]).all()):
        raise TrainingError(f"non-finite weights after step {run.step}; not saving them")
    path = out_dir / f"checkpoint-{run.step}.safetensors"
    save_model(run.model, path, metadata={"step": str(run.step)})
    tensors = {"rng.generator": run.generator.get_state()}
    names = {p: name for name, p in run.model.named_parameters()}
    for p, state in run.optimizer.state.items():
        for key, value in state.items():
            tensors[f"optimizer.{names[p]}.{key}"] = value
    for prefix, part in (("curriculum", run.curriculum), ("carry", run.carry), ("queue", run.queue)):
        tensors.update({f"{prefix}.{key}": value for key, value in part.state_dict().items()})
    meta = {
        "step": run.step,
        "config": run.config.to_dict(),
        "supply": run.supply.state_dict(),
        "elapsed_seconds": run.elapsed,
        "waited_seconds": run.waited,
    }
    save_training_state(training_state_path(path), tensors, meta)
    return path


def latest_checkpoint(out_dir: Path) -> Path:
    """The newest checkpoint in `out_dir` that has its training-state file next to it."""
    if not out_dir.is_dir():
        raise CheckpointError(f"{out_dir}: no such run directory to resume")
    steps = sorted(
        (int(m.group(1)), out_dir / m.group(0)) for f in out_dir.iterdir() if (m := CHECKPOINT_NAME.match(f.name))
    )
    for _, path in reversed(steps):
        if training_state_path(path).is_file():
            return path
    raise CheckpointError(
        f"{out_dir}: no checkpoint with its training state (checkpoint-<step>.safetensors + .state) to resume from"
    )


def resume_run(out_dir: Path, device: torch.device, workers: int | None = None) -> Run:
    """Rebuild the run saved with the newest checkpoint in `out_dir`: weights, optimizer, curriculum, carry, RNG..."""
    path = latest_checkpoint(out_dir)
    state_path = training_state_path(path)
    tensors, meta = load_training_state(state_path)
    run = None
    try:
        config = TrainConfig.from_dict(meta["config"])
        model = load_model(path, device)
        if model.config != config.model:
            raise CheckpointError(f"{path}: model config differs from the one in {state_path.name}")
        run = _assemble(config, model, device, _supply(config, workers, meta["supply"]))
        run.step = int(meta["step"])
        run.elapsed, run.waited = float(meta["elapsed_seconds"]), float(meta["waited_seconds"])
        for prefix, part in (("curriculum", run.curriculum), ("carry", run.carry), ("queue", run.queue)):
            part.load_state_dict({key: tensors[f"{prefix}.{key}"] for key in part.state_dict()})
        optimizer_state = run.optimizer.state_dict()
        names = [name for name, p in model.named_parameters() if p.requires_grad]
        optimizer_state["state"] = {i: _with_prefix(tensors, f"optimizer.{name}.") for i, name in enumerate(names)}
        run.optimizer.load_state_dict(optimizer_state)
        run.generator.set_state(tensors["rng.generator"])
    except BaseException as err:
        if run is not None:
            run.close()
        if isinstance(err, KeyError):
            raise CheckpointError(f"{state_path}: missing entry {err}") from None
        if isinstance(err, (ValueError, TypeError, RuntimeError)) and not isinstance(err, CheckpointError):
            raise CheckpointError(f"{state_path}: does not fit this run ({str(err).splitlines()[0]})") from None
        raise
    return run


def _with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}


# ---------------------------------------------------------------------------------------------
# Reading metrics one step late


class LaggedMetrics:
    """Copies each step's metric vector into pinned host memory without waiting; the host reads it a step later."""

    def __init__(self, device: torch.device, size: int):
        cuda = device.type == "cuda"
        self.buffers = [torch.zeros(size, dtype=torch.float64, pin_memory=cuda) for _ in range(2)]
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
        return dict(zip(METRICS + COUNTERS, self.buffers[slot].tolist()))


# ---------------------------------------------------------------------------------------------
# Logging


class Reporter:
    """metrics.jsonl for every run, plus the console: a progress bar, the original's lines, or JSON lines."""

    def __init__(self, out_dir: Path, log_format: str, start_step: int, max_steps: int | None):
        self.log_format = log_format
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / "metrics.jsonl"
        _truncate_metrics(self.path, start_step)
        self.file = open(self.path, "a", buffering=1)
        self.bar = None
        if log_format == "bar":
            self.bar = tqdm(total=max_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def step(self, record: dict) -> None:
        line = json.dumps(record)
        self.file.write(line + "\n")
        if self.bar is not None:
            self.bar.update(record["step"] - self.bar.n)
            self.bar.set_postfix_str(
                f"loss {record['loss']:.4f} acc {record['accuracy']:.4f} q-acc {record['q_act_accuracy']:.4f}"
                f" stage {record['stage']} {record['puzzles_per_second']:.0f} puzzles/s"
            )
        elif self.log_format == "swift":
            # The original's per-step output, numbers as it formats them.
            print(f"Step {record['step']}")
            print(
                f"Output [{record['output_loss']:.4f} {record['accuracy']:.4f}] | "
                f"Q-ACT [{record['q_act_loss']:.4f} {record['q_act_accuracy']:.4f}] | "
                f"Puzzles [{record['puzzles']}] | Curriculum Level [{record['stage']}]",
                flush=True,
            )
        elif self.log_format == "jsonl":
            print(line, flush=True)

    def announce(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        elif self.log_format != "none":
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.file.close()


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Drop records after the step a run resumes from (and a torn last line), rewriting the file atomically."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# The training loop


def train(run: Run, options: RunOptions) -> Run:
    """Run steps until a limit or Ctrl-C, logging each and checkpointing at step 1 and every `checkpoint_every`."""
    autocast = Autocast(options.device.type, torch.bfloat16 if options.precision == "bf16" else None)
    loss_fn = segment_loss if options.compile is None else compiled_segment_loss(options.compile)
    reporter = Reporter(options.out_dir, options.log_format, run.step, options.max_steps)
    metrics = LaggedMetrics(options.device, len(METRICS) + len(COUNTERS))
    stop = _StopFlag()
    started = tick = time.monotonic()
    elapsed_at_start, start_puzzles, known_stage = run.elapsed, run.queue.total_consumed(), int(run.curriculum.stage)
    last_saved, told_last_stage = run.step, False
    pending = None  # the launched step whose metrics are still to be read: (step, slot, seconds waited, start time)

    def report(entry, until: float) -> None:
        """Read a step's metrics (waiting for them if need be), log them, and react to graduation or divergence."""
        nonlocal known_stage, told_last_stage
        step, slot, waited, began = entry
        values = metrics.receive(slot)
        if not math.isfinite(values["loss"]):
            kept = f"last checkpoint: step {last_saved}" if last_saved else "no checkpoint yet"
            raise TrainingError(f"loss is {values['loss']} at step {step}; stopped without saving ({kept})")
        run.queue.observe([values[name] for name in COUNTERS])
        puzzles = run.queue.total_consumed()
        reporter.step({
            "step": step, "loss": values["loss"],
            "output_loss": values["output_loss"], "q_act_loss": values["q_act_loss"],
            "accuracy": values["accuracy"], "q_act_accuracy": values["q_act_accuracy"], "stage": int(values["stage"]),
            "puzzles": puzzles, "halted": int(values["halted"]), "wait_fraction": waited / max(until - began, 1e-9),
            "puzzles_per_second": (puzzles - start_puzzles) / max(until - started, 1e-9),
            "elapsed": elapsed_at_start + until - started,
        })  # fmt: skip
        if values["graduated"]:
            known_stage = int(values["stage"])
            run.supply.set_demand(_demand(known_stage))
            reporter.announce(f"step {step}: graduated to curriculum stage {known_stage}")
        elif values["ready"] and known_stage == LAST_STAGE and not told_last_stage:
            told_last_stage = True
            reporter.announce(f"step {step}: the curriculum is at its last stage ({LAST_STAGE}), no further graduation")

    try:
        while not stop.requested and not _limit_reached(run, options, started):
            began = time.monotonic()
            waited = run.queue.ensure(_needed_kinds(known_stage))
            vector = train_step(
                run.model, run.optimizer, run.carry, run.curriculum, run.queue, run.generator, autocast, loss_fn
            )
            run.step += 1
            slot = metrics.send(vector)
            now = time.monotonic()
            run.elapsed, run.waited, tick = run.elapsed + now - tick, run.waited + waited, now
            if pending is not None:
                report(pending, until=began)  # the previous step: by now its copy has landed, or nearly
            pending = (run.step, slot, waited, began)
            if run.step == 1 or run.step % options.checkpoint_every == 0:
                report(pending, until=time.monotonic())
                pending = None
                last_saved = _save(run, options, reporter)
        if pending is not None:
            report(pending, until=time.monotonic())
        if run.step != last_saved:
            _save(run, options, reporter)
        why = "interrupted" if stop.requested else "stopped"
        reporter.announce(
            f"{why} after step {run.step}: {run.queue.total_consumed()} puzzles,"
            f" waited for puzzles {100 * run.waited / max(run.elapsed, 1e-9):.1f}% of the training time"
        )
    finally:
        stop.restore()
        reporter.close()
    return run


def compiled_segment_loss(mode: str | None = None):
    """torch.compile'd segment loss (`mode` as torch.compile takes it) that falls back to eager, with one
    warning, if compiling fails."""
    compiled = torch.compile(segment_loss, mode=mode)
    state = {"fn": compiled}

    def loss_fn(*args):
        if state["fn"] is compiled:
            try:
                return compiled(*args)
            except Exception as err:  # a compiler failure must not end a training run
                reason = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
                tqdm.write(f"warning: torch.compile failed ({reason}); running eager")
                state["fn"] = segment_loss
        return state["fn"](*args)

    return loss_fn


def _limit_reached(run: Run, options: RunOptions, started: float) -> bool:
    if options.max_steps is not None and run.step >= options.max_steps:
        return True
    return options.max_minutes is not None and time.monotonic() - started >= 60 * options.max_minutes


def _save(run: Run, options: RunOptions, reporter: Reporter) -> int:
    path = save_checkpoint(run, options.out_dir)
    # The training state (carried hidden states, moments) is large; --resume only needs the newest.
    for other in options.out_dir.glob("checkpoint-*.safetensors"):
        match = CHECKPOINT_NAME.match(other.name)
        if match and int(match.group(1)) < run.step:
            training_state_path(other).unlink(missing_ok=True)
    reporter.announce(f"step {run.step}: saved {path}")
    return run.step


class _StopFlag:
    """The first Ctrl-C asks the loop to stop after the current step and save; a second one aborts."""

    def __init__(self):
        self.requested = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


# ---------------------------------------------------------------------------------------------
# Command line


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


# Flags that define a run's results: None = not given (a fresh run takes the default, a resumed run its saved value).
_RUN_FLAGS = {
    "batch_size": ("batch_size",), "lr": ("lr",), "optimizer": ("optimizer",), "seed": ("seed",),
    "hidden_size": ("model", "transformers", "hidden_size"), "num_heads": ("model", "transformers", "num_heads"),
    "num_layers": ("model", "transformers", "num_layers"),
    "intermediate_size": ("model", "transformers", "intermediate_size"),
    "high_cycles": ("model", "high_level_cycles"), "low_cycles": ("model", "low_level_cycles"),
    "halt_max_steps": ("model", "act", "halt_max_steps"),
    "halt_exploration": ("model", "act", "halt_exploration_probability"),
    "curriculum_window": ("curriculum", "window"), "graduation_threshold": ("curriculum", "threshold"),
    "graduation_min_steps": ("curriculum", "min_steps"), "start_stage": ("curriculum", "start_stage"),
}  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    defaults = TrainConfig()
    model, t, act, cur = defaults.model, defaults.model.transformers, defaults.model.act, defaults.curriculum
    parser = argparse.ArgumentParser(prog="python -m src.hrm.train", description=__doc__.split("\n\n")[0])
    run = parser.add_argument_group("run")
    run.add_argument(
        "--out-dir", type=Path, help="run folder (default: runs/<date>-<time>; with --resume: the newest in runs/)"
    )
    run.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out-dir")
    run.add_argument(
        "--max-steps", type=_positive_int, help="stop after this many steps in all (default: none, like the original)"
    )
    run.add_argument("--max-minutes", type=_positive_float, help="stop after this many minutes of this invocation")
    run.add_argument(
        "--checkpoint-every", type=_positive_int, default=250, help="checkpoint period, besides step 1 (default: 250)"
    )
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when available")
    run.add_argument(
        "--precision", choices=("auto", "bf16", "fp32"), default="auto", help="auto: bf16 autocast on CUDA, else fp32"
    )
    run.add_argument(
        "--compile", choices=tuple(COMPILE_CHOICES), default="auto",
        help="torch.compile the segment (auto: on CUDA); cudagraphs also replays it as CUDA graphs",
    )
    run.add_argument("--workers", type=_positive_int, help="puzzle generator threads (default: all cores)")
    run.add_argument("--log-format", choices=("bar", "swift", "jsonl", "none"), default="bar",
                     help="console output: progress bar, the original's per-step lines, JSON lines, or nothing")
    train_group = parser.add_argument_group("training (fixed for a run; --resume keeps the saved values)")
    train_group.add_argument("--batch-size", type=_positive_int, help=f"carried rows (default: {defaults.batch_size})")
    train_group.add_argument("--lr", type=_positive_float, help=f"learning rate (default: {defaults.lr})")
    train_group.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help="mlx-adamw: the original's, no bias correction (default); torch-adamw: PyTorch's",
    )
    train_group.add_argument("--seed", type=int, help=f"model init and puzzle streams (default: {defaults.seed})")
    model_group = parser.add_argument_group("model (fixed for a run)")
    model_group.add_argument("--hidden-size", type=_positive_int, help=f"default: {t.hidden_size}")
    model_group.add_argument("--num-heads", type=_positive_int, help=f"default: {t.num_heads}")
    model_group.add_argument("--num-layers", type=_positive_int, help=f"blocks per reasoner (default: {t.num_layers})")
    model_group.add_argument(
        "--intermediate-size", type=_positive_int, help="SwiGLU width (default: the reference's rule, 768 for 256)"
    )
    model_group.add_argument("--high-cycles", type=_positive_int, help=f"default: {model.high_level_cycles}")
    model_group.add_argument("--low-cycles", type=_positive_int, help=f"default: {model.low_level_cycles}")
    model_group.add_argument("--halt-max-steps", type=_positive_int, help=f"default: {act.halt_max_steps}")
    model_group.add_argument("--halt-exploration", type=_fraction, help=f"default: {act.halt_exploration_probability}")
    cur_group = parser.add_argument_group("curriculum (fixed for a run)")
    cur_group.add_argument(
        "--curriculum-window", type=_positive_int, help=f"steps of accuracy averaged (default: {cur.window})"
    )
    cur_group.add_argument(
        "--graduation-threshold", type=_fraction, help=f"mean accuracy to graduate (default: {cur.threshold})"
    )
    cur_group.add_argument(
        "--graduation-min-steps", type=_non_negative_int, help="steps between graduations (default: the window size)"
    )
    cur_group.add_argument("--start-stage", type=int, choices=range(LAST_STAGE + 1), help="default: 0")
    args = parser.parse_args(argv)
    args.parser = parser
    return args


def config_from_args(args, base: TrainConfig | None = None) -> TrainConfig:
    """`base` (the defaults, or a resumed run's config) with the given flags applied; a resumed run refuses changes."""
    config = TrainConfig.from_dict((base or TrainConfig()).to_dict())
    for flag, where in _RUN_FLAGS.items():
        value = getattr(args, flag)
        if value is None:
            continue
        owner = config
        for name in where[:-1]:
            owner = getattr(owner, name)
        if base is not None and getattr(owner, where[-1]) != value:
            saved = getattr(owner, where[-1])
            raise CheckpointError(
                f"--{flag.replace('_', '-')} {value} differs from the resumed run's {saved}; a run keeps its settings"
            )
        setattr(owner, where[-1], value)
    if base is None and args.graduation_min_steps is None:
        config.curriculum.min_steps = config.curriculum.window
    return config


def _check_config(config: TrainConfig) -> None:
    t = config.model.transformers
    if t.hidden_size % t.num_heads or (t.hidden_size // t.num_heads) % 2:
        raise ValueError(
            f"--hidden-size {t.hidden_size} must split into {t.num_heads} heads of even size (rotary embedding)"
        )
    CurriculumConfig(**dataclasses.asdict(config.curriculum))  # validates


def main(argv=None) -> int:
    args = parse_args(argv)
    parser = args.parser
    try:
        device = pick_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    precision = args.precision if args.precision != "auto" else ("bf16" if device.type == "cuda" else "fp32")
    runs = Path("runs")
    out_dir = args.out_dir
    if out_dir is None:
        if args.resume:
            candidates = sorted(p for p in runs.glob("*") if p.is_dir()) if runs.is_dir() else []
            if not candidates:
                parser.error("--resume without --out-dir needs a run under runs/, and there is none")
            out_dir = candidates[-1]
        else:
            out_dir = runs / time.strftime("%Y%m%d-%H%M%S")
    options = RunOptions(
        out_dir=out_dir, device=device, precision=precision, max_steps=args.max_steps, max_minutes=args.max_minutes,
        checkpoint_every=args.checkpoint_every, workers=args.workers, log_format=args.log_format,
        compile=COMPILE_CHOICES["on" if args.compile == "auto" and device.type == "cuda" else args.compile],
    )  # fmt: skip

    run = None
    try:
        if args.resume:
            run = resume_run(out_dir, device, args.workers)
            config_from_args(args, base=run.config)  # refuses flags that would change the run
        else:
            config = config_from_args(args)
            try:
                _check_config(config)
            except ValueError as err:
                parser.error(str(err))
            if out_dir.is_dir() and any(CHECKPOINT_NAME.match(f.name) for f in out_dir.iterdir()):
                raise CheckpointError(f"{out_dir}: already holds checkpoints; use --resume or another --out-dir")
            out_dir.mkdir(parents=True, exist_ok=True)
            run = new_run(config, device, args.workers)
    except CheckpointError as err:
        if run is not None:
            run.close()
        print(f"error: {err}", file=sys.stderr)
        return 2

    try:
        if options.max_steps is not None and run.step >= options.max_steps:
            print(f"{out_dir}: already at step {run.step} (--max-steps {options.max_steps}); nothing to do")
            return 0
        if options.log_format != "none":
            parameters = sum(p.numel() for p in run.model.parameters())
            what = f"resuming {out_dir} at step {run.step}" if args.resume else f"training into {out_dir}"
            batch = run.config.batch_size
            print(f"{what}: {parameters:,} parameters, device {device}, {precision}, batch {batch}", flush=True)
        train(run, options)
    except TrainingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aborted without saving", file=sys.stderr)
        return 130
    finally:
        run.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
