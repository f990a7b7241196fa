"""The `train` command's flags, and the run config they make: the parser, the flags that define a run (refused when
they would change a resumed one) and the checks of a fresh run's settings. `src/hrm/train.py` runs what they say."""

import argparse
from pathlib import Path

from .checkpoint import CheckpointError, load_model
from .cli_types import (
    OneLineParser,
    fraction,
    fraction_below_one,
    non_negative_int,
    output_folder,
    positive_float,
    positive_int,
)
from .file_io import file_sha256
from .modeling.hrm import ACTIVATION_DTYPES, POS_ENCODINGS
from .modeling.variants import VARIANTS, variant_config
from .tasks import DEFAULT_TASK, TASKS, Task, TaskError, build_task, default_settings
from .training.config import DEFAULT_KEEP_CHECKPOINTS, TrainConfig
from .training.halt_schedule import ExplorationSchedule, MaxStepsSchedule
from .training.optimizer import OPTIMIZERS
from .training.run import complete_model_config

# flag → torch.compile mode ("regional": each reasoner compiled on its own, src/hrm/training/loop.py)
COMPILE_CHOICES = {"auto": None, "off": None, "on": "default", "cudagraphs": "reduce-overhead", "regional": "regional"}


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
    "ema": ("ema_decay",), "latent_copies": ("latent_copies",), "copy_noise": ("copy_noise",),
}  # fmt: skip


def decay(text: str) -> float:
    """--ema: a decay strictly between 0 and 1."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


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
        "--out-dir", type=output_folder, help="run folder (default: runs/<date>-<time>; with --resume: the newest in runs/)"
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
        help="torch.compile the segment (auto: on CUDA); cudagraphs also replays it as CUDA graphs; regional"
        " compiles each reasoner on its own (a shorter compile)",
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
        help="mlx-adamw: the original's, no bias correction (default); torch-adamw: PyTorch's; muon: PyTorch's Muon"
        " for the reasoners' weight matrices and its AdamW for the rest",
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
    train_group.add_argument(
        "--ema", type=decay, metavar="DECAY",
        help="keep an exponential moving average of the weights (0.999 in the Tiny Recursive Model): the weights"
        " checkpoints hold for evaluation (default: none, as the original)",
    )  # fmt: skip
    train_group.add_argument(
        "--latent-copies", type=positive_int, metavar="K",
        help="winner-take-all: K copies of every row, each with its own latent states, only the lowest-loss one"
        " trained (K times the compute; \"Speed is Confidence\" uses 4; default: 1, as the original)",
    )  # fmt: skip
    train_group.add_argument(
        "--copy-noise", type=positive_float, metavar="SIGMA",
        help=f"with --latent-copies: the Gaussian noise added to the initial states of copies after the first"
        f" (default: {defaults.copy_noise}, the scale of the initial states themselves)",
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
        help="rope: the original's rotary embedding (default; --task maze: rope2d); learned: a table of absolute"
        " positions added to the input embedding; rope+learned: both; rope2d: rotary tables over a square grid's"
        " rows and columns",
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
    return _apply_flags(args, base)[0]


def fresh_run_config(args) -> tuple[TrainConfig, Task]:
    """A fresh run's config from the flags, complete (the task's settings and the model's task-given fields), and
    its task: built once, here, and handed to check_run_config and new_run."""
    return _apply_flags(args, None)


def _apply_flags(args, base: TrainConfig | None) -> tuple[TrainConfig, Task | None]:
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
    if base is None and args.init_from is None:
        data["model"].update(task_class.model_defaults)  # the task's own model defaults; flags still override them
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
            if flag == "q_continue":  # a flag that only turns it off: say so in its own words
                raise CheckpointError("--no-q-continue: the resumed run trains the continue Q value; a run keeps its"
                                      " settings")  # fmt: skip
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
    if base is not None:
        return config, None
    task_config = task_class.Config.from_dict({k: v for k, v in config.task.items() if k != "name"})
    task_class.complete_config(task_config, given)
    task = task_class(task_config)
    config.task = task.settings()
    complete_model_config(config, task)
    return config, task


def _saved_setting(config: TrainConfig, where: tuple[str, ...]):
    """A resumed run's setting, read off its config (whose saved form leaves out the model options that are off); a
    reasoner's depth left unset is --num-layers."""
    value = config
    for name in where:
        value = value[name] if isinstance(value, dict) else getattr(value, name)
    if where[-1] in ("high_layers", "low_layers") and value is None:
        return config.model.transformers.num_layers
    return value


def check_run_config(config: TrainConfig, task: Task | None = None) -> None:
    """A fresh run's settings that no flag's type can check alone (the heads' split, the task's settings, the
    halting schedules against fixed think time, the puzzle table's step): a one-line ValueError before anything
    is built. (checkpoint_config.check_config checks a checkpoint's model config against its tensors.)"""
    t = config.model.transformers
    if t.hidden_size % t.num_heads or (t.hidden_size // t.num_heads) % 2:
        raise ValueError(
            f"--hidden-size {t.hidden_size} must split into {t.num_heads} heads of even size (rotary embedding)"
        )
    if config.model.pos_encoding == "rope2d" and (problem := config.model.grid_problem()) is not None:
        raise ValueError(f"--pos-encoding rope2d {problem}")
    if task is None:
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
