"""A training run's state, created fresh or rebuilt from its newest checkpoint, and saved with every checkpoint."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from ..checkpoint import (
    CheckpointError,
    load_model,
    load_training_state,
    read_metadata,
    save_model,
    save_training_state,
    training_state_path,
)
from ..file_io import file_sha256
from ..modeling import HRMACTInner, HRMACTModelConfig
from ..tasks import RowSource, Task, TaskError, build_task
from .carry import Carry
from .config import TrainConfig
from .distributed import Ranks, check_ranks, rank_state_path, saved_ranks, shard_of
from .ema import WeightAverage
from .halt_schedule import HaltingSchedule
from .optimizer import build_optimizer
from .sign_sgd import SparseSignSGD

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)\.safetensors$")


def checkpoint_steps(out_dir: Path) -> dict[int, Path]:
    """The model checkpoints in `out_dir` by step (none if the folder does not exist), complete or not."""
    if not out_dir.is_dir():
        return {}
    return {int(m.group(1)): out_dir / m.group(0) for f in out_dir.iterdir() if (m := CHECKPOINT_NAME.match(f.name))}


class TrainingError(RuntimeError):
    """The run cannot go on (a non-finite loss); the message is one line naming the step."""


@dataclass
class Run:
    """Everything carried from step to step; checkpoints save all of it, so a resumed run is exact."""

    config: TrainConfig
    task: Task
    model: HRMACTInner
    optimizer: torch.optim.Optimizer
    rows: RowSource
    carry: Carry
    generator: torch.Generator
    step: int = 0
    elapsed: float = 0.0  # seconds of training so far, over all invocations
    waited: float = 0.0  # of which waiting for rows
    puzzle_optimizer: SparseSignSGD | None = None  # the puzzle-embedding table's own optimizer, if the model has one
    ranks: Ranks | None = None  # a data-parallel run (torchrun): this process's rank; None: one process
    halt_schedule: HaltingSchedule | None = None  # the halting schedules on the device, if the run has any
    ema: WeightAverage | None = None  # the weights' moving average, if the run keeps one

    def close(self) -> None:
        self.rows.close()


def build_run_task(config: TrainConfig) -> Task:
    """The run's task; its vocabulary and row length must be the model's."""
    task = build_task(config.task)
    if (config.model.vocab_size, config.model.seq_len) != (task.vocab_size, task.seq_len):
        raise TaskError(
            f"the model's vocabulary {config.model.vocab_size} and length {config.model.seq_len} do not fit task"
            f" {task.name} ({task.vocab_size} tokens, {task.seq_len} positions)"
        )
    return task


def complete_model_config(config: TrainConfig, task: Task) -> None:
    """The model config's fields that the task decides: its vocabulary, its row length, and a puzzle-table row per
    id its rows carry. Set here only, for a run from train's flags and for a config made by hand alike."""
    config.model.vocab_size, config.model.seq_len = task.vocab_size, task.seq_len
    config.model.puzzle_embeddings = task.num_puzzle_ids(config.seed)


def new_run(config: TrainConfig, device: torch.device, workers: int | None = None, ranks: Ranks | None = None,
            task: Task | None = None) -> Run:  # fmt: skip
    """A fresh run: the model drawn from torch.manual_seed(seed), every carried row on a fresh one.

    `ranks`: this process's rank of a data-parallel run, whose rows it draws; `ranks.join(run)` once every rank
    has built its own. `task`: the run's task as train built it from the flags (else built here from the config).
    """
    if task is None:
        task = build_run_task(config)
        complete_model_config(config, task)
    torch.manual_seed(config.seed)
    model = HRMACTInner(config.model).to(device)
    if ranks is not None and ranks.rank > 0:
        # Every rank drew the same weights from the run's seed; from here the other ranks draw (dropout's masks) from
        # their own seed, not the same masks as rank 0 on other rows. Rank 0 goes on as one process does.
        torch.manual_seed(shard_of(ranks).seed(config.seed))
    if config.init_from is not None:
        load_initial_weights(model, Path(config.init_from["path"]), config.init_from["sha256"])
    rows = task.rows(config.seed, config.batch_size, device, workers, shard=shard_of(ranks))
    run = _assemble(config, task, model, device, rows, ranks)
    try:
        run.rows.start()
        everyone = torch.ones(config.batch_size, dtype=torch.bool, device=device)
        fresh = run.rows.draw(everyone, run.generator)  # inputs, targets (and ids, for rows with puzzle ids)
        fresh = [column.repeat_interleave(config.latent_copies, dim=0) for column in fresh]
        every_copy = torch.ones(config.carried_rows, dtype=torch.bool, device=device)
        run.carry.advance(run.carry.hidden_states, every_copy, *fresh[:2], model.initial_hidden_states, *fresh[2:])
        names = run.rows.counter_names
        run.rows.observe(0, dict(zip(names, run.rows.counters().tolist())) | _quiet(run.rows))
    except BaseException:
        run.close()
        raise
    return run


def architecture_differences(ours: HRMACTModelConfig, theirs: HRMACTModelConfig) -> list[str]:
    """The fields of two model configs that their weights depend on and that differ: all but the halting settings,
    which a run may change, and the row length unless either learns positions (rotary tables are computed, not
    trained: a maze model trained on small grids starts a run on large ones)."""
    a, b = ours.to_dict(), theirs.to_dict()
    free = {"act"} | (set() if ours.learned_positions or theirs.learned_positions else {"seq_len"})
    return sorted(k for k in (a.keys() | b.keys()) - free if a.get(k) != b.get(k))


def load_initial_weights(model: HRMACTInner, path: Path, sha256: str | None = None) -> None:
    """--init-from: the weights of checkpoint `path` in place of `model`'s drawn ones (bf16 files are widened).

    The architecture must match; the halting settings may differ (a run may fine-tune with more segments).
    `sha256`, when given, is the file's recorded digest: a file changed since is refused, not silently used.
    """
    if sha256 is not None and file_sha256(path) != sha256:
        raise CheckpointError(f"{path}: changed since --init-from recorded it (sha256 differs)")
    source = load_model(path, "cpu")
    differing = architecture_differences(model.config, source.config)
    if differing:
        raise CheckpointError(f"{path}: --init-from needs the same architecture; {', '.join(differing)} differ")
    # The rotary tables are the model's own, made for its row length; everything else is copied into its (float32)
    # tensors.
    weights = {name: tensor for name, tensor in source.state_dict().items() if not name.startswith("rotary_emb.")}
    with torch.no_grad():
        missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any(not name.startswith("rotary_emb.") for name in missing):
        raise CheckpointError(f"{path}: --init-from weights do not fit the model ({missing + unexpected})")


def _quiet(rows: RowSource) -> dict:
    """Metric values that announce nothing (the observation of a fresh run's first draw)."""
    return {name: 0.0 for name in rows.metric_names}


def _assemble(
    config: TrainConfig, task: Task, model: HRMACTInner, device: torch.device, rows: RowSource, ranks: Ranks | None
) -> Run:
    hidden = config.model.transformers.hidden_size
    several_ranks = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    if model.puzzle_embedding is not None and several_ranks:
        # Each rank would update its own copy of the table from its own rows' gradients: the copies would drift apart.
        raise TaskError("--puzzle-embeddings trains in one process for now, not under torchrun")
    return Run(
        config=config,
        task=task,
        model=model,
        optimizer=build_optimizer(config.optimizer, model.named_parameters(), lr=config.lr, device=device),
        rows=rows,
        carry=Carry.empty(config.carried_rows, config.model.seq_len, hidden, device, model.puzzle_embedding is not None),
        puzzle_optimizer=None if model.puzzle_embedding is None else SparseSignSGD(
            model.puzzle_embedding.weights, config.puzzle_emb_lr, config.puzzle_emb_weight_decay
        ),
        generator=torch.Generator(device=device).manual_seed(shard_of(ranks).seed(config.seed) + 1),
        ranks=ranks,
        halt_schedule=HaltingSchedule.of(
            config.halt_exploration_schedule, config.halt_max_steps_schedule, config.model.act.halt_max_steps, device
        ),
        ema=None if config.ema_decay is None else WeightAverage(model, config.ema_decay),
    )


def save_checkpoint(run: Run, out_dir: Path) -> Path:
    """checkpoint-<step>.safetensors (the model, its task) and its training-state file; both written atomically."""
    parameters = [p for p in run.model.parameters()]
    if not bool(torch.stack([p.isfinite().all() for p in parameters]).all()):
        raise TrainingError(f"non-finite weights after step {run.step}; not saving them")
    path = out_dir / f"checkpoint-{run.step}.safetensors"
    rank = 0 if run.ranks is None else run.ranks.rank
    if rank == 0:  # the ranks hold the same weights
        metadata = {"step": str(run.step), "task": json.dumps(run.config.task)}
        if run.ema is None:
            save_model(run.model, path, metadata=metadata)
        else:  # the model file holds the averages, what evaluation uses; the state keeps the live weights
            with run.ema.in_model():
                save_model(run.model, path, metadata={**metadata, "weights": f"moving average, decay {run.ema.decay}"})
    tensors = {"rng.generator": run.generator.get_state()}
    if run.config.model.transformers.dropout:
        tensors.update(_dropout_generators(run.carry.inputs.device))
    names = {p: name for name, p in run.model.named_parameters()}
    for p, state in run.optimizer.state.items():
        for key, value in state.items():
            tensors[f"optimizer.{names[p]}.{key}"] = value
    tensors.update({f"carry.{key}": value for key, value in run.carry.state_dict().items()})
    if run.ema is not None:
        tensors.update(run.ema.state_dict())
    tensors.update(run.rows.state_dict())
    meta = {
        "step": run.step,
        "config": run.config.to_dict(),
        "rows": run.rows.meta(),
        "elapsed_seconds": run.elapsed,
        "waited_seconds": run.waited,
    }
    if run.ranks is not None:
        meta["ranks"] = run.ranks.count
    save_training_state(rank_state_path(path, rank), tensors, meta)
    return path


def latest_checkpoint(out_dir: Path) -> Path:
    """The newest checkpoint in `out_dir` whose model and training-state files (every rank's) are all complete.

    A run killed between writing a checkpoint's model and its state leaves a model without a state;
    the one before it is then the newest complete one.
    """
    if not out_dir.is_dir():
        raise CheckpointError(f"{out_dir}: no such run directory to resume")
    steps = checkpoint_steps(out_dir)
    unreadable = None
    for _, path in sorted(steps.items(), reverse=True):
        if not training_state_path(path).is_file():
            continue
        try:  # the headers say whether a file is whole (they give its length)
            read_metadata(path)
            for rank in range(1, saved_ranks(read_metadata(training_state_path(path)))):
                read_metadata(rank_state_path(path, rank))
        except CheckpointError as err:
            unreadable = unreadable or err
            continue
        return path
    if unreadable is not None:
        raise unreadable
    raise CheckpointError(
        f"{out_dir}: no checkpoint with its training state (checkpoint-<step>.safetensors + .state) to resume from"
    )


def resume_run(out_dir: Path, device: torch.device, workers: int | None = None, ranks: Ranks | None = None) -> Run:
    """Rebuild the run saved with the newest checkpoint in `out_dir`: weights, optimizer, rows, carry, RNG...

    `ranks`: this process's rank of a data-parallel run, which continues from its own training state.
    """
    path = latest_checkpoint(out_dir)
    state_path = rank_state_path(path, 0 if ranks is None else ranks.rank)
    tensors, meta = load_training_state(state_path)
    _upgrade(tensors, meta)
    run = None
    try:
        check_ranks(out_dir, meta, ranks)
        config = TrainConfig.from_dict(meta["config"])
        task = build_run_task(config)
        model = load_model(path, device)
        if model.config != config.model:
            raise CheckpointError(f"{path}: model config differs from the one in {state_path.name}")
        rows = task.rows(config.seed, config.batch_size, device, workers, meta["rows"], shard_of(ranks))
        run = _assemble(config, task, model, device, rows, ranks)
        run.step = int(meta["step"])
        if run.halt_schedule is not None:
            run.halt_schedule.start(run.step)
        run.elapsed, run.waited = float(meta["elapsed_seconds"]), float(meta["waited_seconds"])
        run.carry.load_state_dict(_with_prefix(tensors, "carry."))
        if run.ema is not None:  # the model file held the averages: the live weights come from the state
            run.ema.load_state_dict(tensors)
        run.rows.load_state_dict(tensors)
        optimizer_state = run.optimizer.state_dict()
        names = [name for name, p in model.named_parameters() if p.requires_grad]
        optimizer_state["state"] = {i: _with_prefix(tensors, f"optimizer.{name}.") for i, name in enumerate(names)}
        run.optimizer.load_state_dict(optimizer_state)
        run.generator.set_state(tensors["rng.generator"])
        if config.model.transformers.dropout:
            torch.set_rng_state(tensors["rng.torch"])
            if device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    except BaseException as err:
        if run is not None:
            run.close()
        if isinstance(err, KeyError):
            raise CheckpointError(f"{state_path}: missing entry {err}") from None
        if isinstance(err, (ValueError, TypeError, RuntimeError)) and not isinstance(err, (CheckpointError, TaskError)):
            raise CheckpointError(f"{state_path}: does not fit this run ({str(err).splitlines()[0]})") from None
        raise
    return run


def _dropout_generators(device: torch.device) -> dict[str, torch.Tensor]:
    """The states of torch's default generators, which dropout draws its masks from (the CPU's, and the device's):
    saved with a run that has dropout, so that its resume is exact."""
    states = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["rng.cuda"] = torch.cuda.get_rng_state(device)
    return states


def _upgrade(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Training states written before tasks existed: the generated Sudoku task's names for the same state."""
    if "supply" in meta:
        meta["rows"] = {"supply": meta.pop("supply")}
    for old, new in (("queue.puzzles", "queue.inputs"), ("queue.solutions", "queue.targets")):
        if old in tensors:
            tensors[new] = tensors.pop(old)


def _with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
