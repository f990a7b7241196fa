"""Train HRM-ACT with the original's carry, ACT loss and optimizer, on a task (default: the original's Sudoku).

    python -m src.hrm.train [--task sudoku] [--out-dir DIR] [--max-steps N] [--max-minutes M] [--resume] ...
    python -m src.hrm.train --task sudoku-dataset --data FILE.csv [--train-size N] [--max-epochs E] ...
    torchrun --nproc-per-node N -m src.hrm.train ...    (data-parallel, --batch-size rows per rank; docs/training.md)

Defaults reproduce the original `train`: generated Sudoku through the five-stage curriculum,
the default model seeded with 42, 512 carried rows, MLX AdamW (lr 1e-4, betas 0.9/0.95,
weight decay 0.01, no bias correction), a checkpoint at step 1 and every 250 steps. Each
checkpoint (`checkpoint-<step>.safetensors`, with its task in the metadata) has a
training-state file next to it, so `--resume` continues exactly where the run stopped. Every
step is appended to `<out>/metrics.jsonl`. The loop itself is `src/hrm/training/loop.py`.
"""

import argparse
import sys
import time
from pathlib import Path

from .checkpoint import CheckpointError, load_model
from .cli_types import OneLineParser, fraction, fraction_below_one, non_negative_int, positive_float, positive_int
from .evaluation.inference import pick_device
from .modeling.hrm import ACTIVATION_DTYPES, POS_ENCODINGS
from .modeling.variants import VARIANTS, variant_config
from .tasks import DEFAULT_TASK, TASKS, TaskError, build_task, default_settings
from .training.compile_cache import checked_compile_cache
from .training.config import DEFAULT_KEEP_CHECKPOINTS, RunOptions, TrainConfig
from .training.distributed import leads, quiet_other_ranks, say_own_error, start_ranks
from .training.folder import RunFolderError, lock_run_folder, remove_partial_files
from .training.halt_schedule import ExplorationSchedule, MaxStepsSchedule
from .training.loop import train
from .training.optimizer import OPTIMIZERS
from .training.run import CHECKPOINT_NAME, TrainingError, file_sha256, new_run, resume_run

COMPILE_CHOICES = {"auto": None, "off": None, "on": "default", "cudagraphs": "reduce-overhead"}  # flag → mode


# Flags that define a run's results: None = not given (a fresh run takes the default, a resumed run its saved value).
_RUN_FLAGS = {
    "batch_size": ("batch_size",), "lr": ("lr",), "optimizer": ("optimizer",), "seed": ("seed",),
    "hidden_size": ("model", "transformers", "hidden_size"), "num_heads": ("model", "transformers", "num_heads"),
    "num_layers": ("model", "transformers", "num_layers"),
    "high_layers": ("model", "transformers", "high_layers"), "low_layers": ("model", "transformers", "low_layers"),
    "intermediate_size": ("model", "transformers", "intermediate_size"),
    "dropout": ("model", "transformers", "dropout"), "pos_encoding": ("model", "pos_encoding"),
    "learned_initial_states": ("model", "learned_initial_states"),
    "activation_dtype": ("model", "activation_dtype"), "q_continue": ("model", "act", "q_continue"),
    "high_cycles": ("model", "high_level_cycles"), "low_cycles": ("model", "low_level_cycles"),
    "halt_max_steps": ("model", "act", "halt_max_steps"),
    "halt_exploration": ("model", "act", "halt_exploration_probability"),
    "fixed_segments": ("model", "act", "fixed_segments"),
    "puzzle_emb_lr": ("puzzle_emb_lr",), "puzzle_emb_weight_decay": ("puzzle_emb_weight_decay",),
    "halt_exploration_schedule": ("halt_exploration_schedule",),
    "halt_max_steps_schedule": ("halt_max_steps_schedule",),
}  # fmt: skip


def keep_count(text: str) -> int | None:
    """--keep-checkpoints: a positive count, or `all` (None)."""
    if text == "all":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or all, got {text}")
    return int(text)


def schedule_text(schedule: type):
    """A halting schedule flag's type: its canonical text (as the run's config keeps it), or a one-line error."""

    def parse(text: str) -> str:
        try:
            return str(schedule.parse(text))
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def parse_args(argv=None) -> argparse.Namespace:
    defaults = TrainConfig()
    model, t, act = defaults.model, defaults.model.transformers, defaults.model.act
    parser = OneLineParser(prog="python -m src.hrm.train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--task", choices=tuple(TASKS), help=f"what to train on (default: {DEFAULT_TASK}, the original's; "
        "--resume keeps the run's)",
    )  # fmt: skip
    run = parser.add_argument_group("run")
    run.add_argument(
        "--out-dir", type=Path, help="run folder (default: runs/<date>-<time>; with --resume: the newest in runs/)"
    )
    run.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out-dir")
    run.add_argument(
        "--max-steps", type=positive_int, help="stop after this many steps in all (default: none, like the original)"
    )
    run.add_argument("--max-minutes", type=positive_float, help="stop after this many minutes of this invocation")
    run.add_argument("--max-epochs", type=positive_float, help="dataset tasks: stop after this many passes over the rows")
    run.add_argument(
        "--checkpoint-every", type=positive_int, default=250, help="checkpoint period, besides step 1 (default: 250)"
    )
    run.add_argument(
        "--keep-checkpoints", type=keep_count, default=DEFAULT_KEEP_CHECKPOINTS, metavar="N|all",
        help=f"model checkpoints kept: the newest N (default: {DEFAULT_KEEP_CHECKPOINTS}), or all",
    )  # fmt: skip
    run.add_argument(
        "--keep-every", type=positive_int, metavar="K", help="also keep every checkpoint at a multiple of K steps"
    )
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when available")
    run.add_argument(
        "--precision", choices=("auto", "bf16", "fp32"), default="auto", help="auto: bf16 autocast on CUDA, else fp32"
    )
    run.add_argument(
        "--compile", choices=tuple(COMPILE_CHOICES), default="auto",
        help="torch.compile the segment (auto: on CUDA); cudagraphs also replays it as CUDA graphs",
    )
    run.add_argument(
        "--compile-cache", type=Path, metavar="DIR",
        help="where torch.compile keeps what it built between runs (default: ~/.cache/hrm-act/torch-compile,"
        " or $TORCHINDUCTOR_CACHE_DIR)",
    )  # fmt: skip
    run.add_argument(
        "--workers", type=positive_int,
        help="puzzle generator threads (default: all cores); under torchrun, per host, split among its ranks",
    )  # fmt: skip
    run.add_argument("--log-format", choices=("bar", "swift", "jsonl", "none"), default="bar",
                     help="console output: progress bar, the original's per-step lines, JSON lines, or nothing")
    train_group = parser.add_argument_group("training (fixed for a run; --resume keeps the saved values)")
    train_group.add_argument(
        "--batch-size", type=positive_int,
        help=f"carried rows, per rank under torchrun (default: {defaults.batch_size})",
    )  # fmt: skip
    train_group.add_argument("--lr", type=positive_float, help=f"learning rate (default: {defaults.lr})")
    train_group.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help="mlx-adamw: the original's, no bias correction (default); torch-adamw: PyTorch's",
    )
    train_group.add_argument(
        "--init-from", type=Path, metavar="CKPT",
        help="start from this checkpoint's weights (its architecture; optimizer, rows and carry fresh);"
        " the halting flags may differ from its own",
    )  # fmt: skip
    train_group.add_argument(
        "--seed", type=non_negative_int, help=f"model init and puzzle streams (default: {defaults.seed})"
    )
    train_group.add_argument(
        "--puzzle-emb-lr", type=positive_float,
        help=f"with --puzzle-embeddings: the table's sign-SGD learning rate (default: {defaults.puzzle_emb_lr})",
    )  # fmt: skip
    train_group.add_argument(
        "--puzzle-emb-weight-decay", type=fraction,
        help=f"with --puzzle-embeddings: its decoupled weight decay (default: {defaults.puzzle_emb_weight_decay})",
    )  # fmt: skip
    train_group.add_argument(
        "--halt-exploration-schedule", type=schedule_text(ExplorationSchedule), metavar="START:END:STEPS",
        help="anneal the halting exploration probability linearly from START to END over STEPS steps, then END"
        " (default: the fixed --halt-exploration, as the original)",
    )  # fmt: skip
    train_group.add_argument(
        "--halt-max-steps-schedule", type=schedule_text(MaxStepsSchedule), metavar="START:STEPS",
        help="ACT curriculum: the training segment limit grows linearly from START to --halt-max-steps over STEPS"
        " steps (default: --halt-max-steps from the start, as the original)",
    )  # fmt: skip
    model_group = parser.add_argument_group("model (fixed for a run)")
    model_group.add_argument(
        "--variant", choices=tuple(VARIANTS),
        help="a named size (docs/architecture.md); the size flags below override its values (default: the original's)",
    )  # fmt: skip
    model_group.add_argument("--hidden-size", type=positive_int, help=f"default: {t.hidden_size}")
    model_group.add_argument("--num-heads", type=positive_int, help=f"default: {t.num_heads}")
    model_group.add_argument("--num-layers", type=positive_int, help=f"blocks per reasoner (default: {t.num_layers})")
    for level in ("high", "low"):
        model_group.add_argument(
            f"--{level}-layers", type=positive_int, help=f"blocks of the {level}-level reasoner (default: --num-layers)"
        )
    model_group.add_argument(
        "--intermediate-size", type=positive_int, help="SwiGLU width (default: the reference's rule, 768 for 256)"
    )
    model_group.add_argument("--high-cycles", type=positive_int, help=f"default: {model.high_level_cycles}")
    model_group.add_argument("--low-cycles", type=positive_int, help=f"default: {model.low_level_cycles}")
    model_group.add_argument("--halt-max-steps", type=positive_int, help=f"default: {act.halt_max_steps}")
    model_group.add_argument("--halt-exploration", type=fraction, help=f"default: {act.halt_exploration_probability}")
    model_group.add_argument(
        "--fixed-segments", type=positive_int,
        help="fixed think time: every row runs exactly this many segments and the Q head decides nothing"
        " (default: ACT halting, as the original)",
    )  # fmt: skip
    model_group.add_argument(
        "--pos-encoding", choices=POS_ENCODINGS,
        help="rope: the original's rotary embedding (default); learned: a table of absolute positions added to the"
        " input embedding; rope+learned: both",
    )  # fmt: skip
    model_group.add_argument(
        "--dropout", type=fraction_below_one, metavar="P",
        help="dropout on the attention and MLP branches, in training only (default: 0, none, as the original)",
    )  # fmt: skip
    model_group.add_argument(
        "--learned-initial-states", action="store_true", default=None,
        help="train the initial states of both levels (default: fixed random draws, as the original)",
    )  # fmt: skip
    speed = parser.add_argument_group("speed options (fixed for a run; docs/training.md, \"Speed\")")
    speed.add_argument(
        "--activation-dtype", choices=tuple(ACTIVATION_DTYPES),
        help="the residual stream and hidden states: float32 (default, the original's) or bfloat16 (as the HRM"
        " paper's code; half the memory traffic)",
    )  # fmt: skip
    speed.add_argument(
        "--no-q-continue", dest="q_continue", action="store_const", const=False,
        help="drop the continue Q value, its loss and its second forward, as the Tiny Recursive Model does; rows"
        " halt where sigmoid(q_halt) > 0.5 (default: the original's Q-learning target)",
    )  # fmt: skip
    for task in TASKS.values():
        task.add_arguments(parser)
    args = parser.parse_args(argv)
    args.parser = parser
    return args


def config_from_args(args, base: TrainConfig | None = None) -> TrainConfig:
    """`base` (the defaults, or a resumed run's config) with the given flags applied; a resumed run refuses changes."""
    task_name = args.task or (base.task["name"] if base is not None else DEFAULT_TASK)
    if base is not None and task_name != base.task["name"]:
        raise CheckpointError(f"--task {task_name} differs from the resumed run's {base.task['name']}; a run keeps its task")
    task_class = TASKS[task_name]
    for other in TASKS.values():
        for dest in other.FLAGS:
            if other is not task_class and dest not in task_class.FLAGS and getattr(args, dest) is not None:
                raise TaskError(f"--{dest.replace('_', '-')} applies to --task {other.name}, not {task_name}")
    if base is not None and args.variant is not None:
        raise CheckpointError("--variant sets a fresh run's model size; a resumed run keeps its model")
    if base is not None and args.init_from is not None:
        raise CheckpointError("--init-from starts a fresh run; a resumed run continues from its own weights")
    if args.init_from is not None and args.variant is not None:
        raise CheckpointError("--init-from takes the checkpoint's model size; drop --variant")
    fresh = TrainConfig(task=default_settings(task_name))
    if args.variant is not None:
        fresh.model = variant_config(args.variant)
    if args.init_from is not None:
        fresh.model = load_model(args.init_from, "cpu").config
        fresh.init_from = {"path": str(args.init_from), "sha256": file_sha256(args.init_from)}
    data = (base or fresh).to_dict()
    flags = {**_RUN_FLAGS, **{dest: ("task", *where.split(".")) for dest, where in task_class.FLAGS.items()}}
    given = set()
    for flag, where in flags.items():
        value = getattr(args, flag)
        if value is None:
            continue
        given.add(flag)
        owner = data
        for name in where[:-1]:
            owner = owner[name]
        if base is not None and (saved := _saved_setting(base, where)) != value:
            raise CheckpointError(
                f"--{flag.replace('_', '-')} {value} differs from the resumed run's {saved}; a run keeps its settings"
            )
        owner[where[-1]] = value
    config = TrainConfig.from_dict(data)
    t = config.model.transformers  # one model, one config: levels of one depth are --num-layers of that depth
    if t.high_layers is not None and t.high_layers == t.low_layers:
        t.num_layers = t.high_layers
    t.high_layers, t.low_layers = (None if n == t.num_layers else n for n in (t.high_layers, t.low_layers))
    if args.halt_exploration_schedule is not None and args.halt_exploration is not None:
        raise TaskError(
            "--halt-exploration-schedule sets the exploration probability of every step; drop --halt-exploration"
        )
    for flag in ("puzzle_emb_lr", "puzzle_emb_weight_decay"):
        if getattr(args, flag) is not None and not config.task.get("puzzle_ids"):
            raise TaskError(f"--{flag.replace('_', '-')} applies with --puzzle-embeddings (--task sudoku-dataset)")
    if base is None:
        task_config = task_class.Config.from_dict({k: v for k, v in config.task.items() if k != "name"})
        task_class.complete_config(task_config, given)
        task = task_class(task_config)
        config.task = task.settings()
        config.model.vocab_size, config.model.seq_len = task.vocab_size, task.seq_len
    return config


def _saved_setting(config: TrainConfig, where: tuple[str, ...]):
    """A resumed run's setting, read off its config (whose saved form leaves out the model options that are off); a
    reasoner's depth left unset is --num-layers."""
    value = config
    for name in where:
        value = value[name] if isinstance(value, dict) else getattr(value, name)
    if where[-1] in ("high_layers", "low_layers") and value is None:
        return config.model.transformers.num_layers
    return value


def _check_config(config: TrainConfig) -> None:
    t = config.model.transformers
    if t.hidden_size % t.num_heads or (t.hidden_size // t.num_heads) % 2:
        raise ValueError(
            f"--hidden-size {t.hidden_size} must split into {t.num_heads} heads of even size (rotary embedding)"
        )
    build_task(config.task)  # validates the task's settings
    act = config.model.act
    schedules = {"exploration": config.halt_exploration_schedule, "max-steps": config.halt_max_steps_schedule}
    for flag, schedule in schedules.items():
        if schedule is not None and act.fixed_segments is not None:
            raise ValueError(f"--halt-{flag}-schedule schedules ACT halting, and --fixed-segments turns it off")
    if config.halt_max_steps_schedule is not None:
        start = MaxStepsSchedule.parse(config.halt_max_steps_schedule).start
        if start >= act.halt_max_steps:
            raise ValueError(
                f"--halt-max-steps-schedule starts at {start}, which is not below --halt-max-steps {act.halt_max_steps}"
            )
    if config.task.get("puzzle_ids") and config.puzzle_emb_lr * config.puzzle_emb_weight_decay > 1:
        raise ValueError(
            f"--puzzle-emb-lr {config.puzzle_emb_lr} times --puzzle-emb-weight-decay {config.puzzle_emb_weight_decay}"
            " must be at most 1 (each step scales a row by 1 - lr·wd)"
        )


def main(argv=None) -> int:
    with quiet_other_ranks():  # under torchrun, rank 0 speaks for the run
        return _main(argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    parser = args.parser
    try:
        device = pick_device(args.device)
        ranks = start_ranks(device)  # under torchrun: this process's rank, on cuda:LOCAL_RANK or the CPU; else None
    except ValueError as err:
        parser.error(str(err))
    workers = args.workers
    if ranks is not None:
        device, workers = ranks.device, ranks.host_workers(args.workers)
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
    if ranks is not None:
        out_dir = ranks.from_first(out_dir)
    options = RunOptions(
        out_dir=out_dir, device=device, precision=precision, max_steps=args.max_steps, max_minutes=args.max_minutes,
        max_epochs=args.max_epochs, checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints,
        keep_every=args.keep_every, workers=workers,
        log_format=args.log_format,
        compile=COMPILE_CHOICES["on" if args.compile == "auto" and device.type == "cuda" else args.compile],
        compile_cache=args.compile_cache,
    )  # fmt: skip

    if options.compile is not None:
        try:
            options.compile_cache = checked_compile_cache(options.compile_cache)
        except ValueError as err:
            parser.error(str(err))

    run = lock = failure = None
    try:  # only rank 0 takes the run folder's lock and cleans it
        if args.resume:
            if out_dir.is_dir() and leads(ranks):  # else resume_run says there is nothing to resume
                lock = lock_run_folder(out_dir)
                remove_partial_files(out_dir)
            run = resume_run(out_dir, device, workers, ranks)
            config_from_args(args, base=run.config)  # refuses flags that would change the run
        else:
            config = config_from_args(args)
            try:
                _check_config(config)
            except ValueError as err:
                parser.error(str(err))
            _refuse_checkpoints(out_dir)
            run = new_run(config, device, workers, ranks=ranks)  # reads the data: a bad file leaves no run folder
        if args.max_epochs is not None and run.rows.epoch() is None:
            raise TaskError(f"--max-epochs applies to dataset tasks; task {run.task.name} has no epochs")
        if lock is None and leads(ranks):
            lock = lock_run_folder(out_dir)
            _refuse_checkpoints(out_dir)  # again: another trainer may have written some meanwhile
            remove_partial_files(out_dir)
    except (CheckpointError, TaskError, RunFolderError, OSError) as err:
        failure = _one_line(err)
    if ranks is not None:
        failure = ranks.first_error(failure)  # a rank that cannot start stops them all
    if failure is not None:
        if run is not None:
            run.close()
        if lock is not None:
            lock.close()
        print(f"error: {failure}", file=sys.stderr)
        return 2
    if ranks is not None:
        ranks.join(run)

    try:
        if options.max_steps is not None and run.step >= options.max_steps:
            print(f"{out_dir}: already at step {run.step} (--max-steps {options.max_steps}); nothing to do")
            return 0
        if options.log_format != "none":
            parameters = sum(p.numel() for p in run.model.parameters())
            what = f"resuming {out_dir} at step {run.step}" if args.resume else f"training into {out_dir}"
            batch, task = run.config.batch_size, run.task.name
            if ranks is not None:
                batch = f"{batch} per rank, {ranks.count} ranks"
            print(f"{what}: task {task}, {parameters:,} parameters, device {device}, {precision}, batch {batch}",
                  flush=True)
        train(run, options)
        if ranks is not None:
            ranks.close()
    except TrainingError as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 1
    except OSError as err:  # a disk full or a folder gone read-only mid-run; under torchrun, maybe one rank's file
        say_own_error(ranks, f"error: {_one_line(err)}")
        return 1
    except KeyboardInterrupt:
        print("aborted without saving", file=sys.stderr)
        return 130
    finally:
        run.close()
        if lock is not None:
            lock.close()  # releases the run folder
    return 0


def _refuse_checkpoints(out_dir: Path) -> None:
    """A fresh run never writes over another run's checkpoints."""
    if out_dir.is_dir() and any(CHECKPOINT_NAME.match(f.name) for f in out_dir.iterdir()):
        raise CheckpointError(f"{out_dir}: already holds checkpoints; use --resume or another --out-dir")


def _one_line(err: Exception) -> str:
    """An OSError as `<path>: <problem>` (its own text spreads the path over quotes and an errno)."""
    if isinstance(err, OSError) and err.strerror:
        return f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    return str(err).splitlines()[0] if str(err) else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
