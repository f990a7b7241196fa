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

import sys
import time
from pathlib import Path

from .checkpoint import CheckpointError
from .cli_errors import allocation_failures_as_one_line
from .cli_types import pick_device
from .tasks import TaskError
from .train_args import COMPILE_CHOICES, check_run_config, config_from_args, fresh_run_config, parse_args
from .training.compile_cache import checked_compile_cache
from .training.config import RunOptions
from .training.distributed import leads, quiet_other_ranks, say_own_error, start_ranks
from .training.folder import RunFolderError, lock_run_folder, remove_partial_files
from .training.loop import train
from .training.run import TrainingError, checkpoint_steps, new_run, resume_run


@allocation_failures_as_one_line("error")
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
            config, task = fresh_run_config(args)
            try:
                check_run_config(config, task)
            except ValueError as err:
                parser.error(str(err))
            _refuse_checkpoints(out_dir)
            run = new_run(config, device, workers, ranks=ranks, task=task)  # reads the data: a bad file leaves no run folder
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
    if checkpoint_steps(out_dir):
        raise CheckpointError(f"{out_dir}: already holds checkpoints; use --resume or another --out-dir")


def _one_line(err: Exception) -> str:
    """An OSError as `<path>: <problem>` (its own text spreads the path over quotes and an errno)."""
    if isinstance(err, OSError) and err.strerror:
        return f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    return str(err).splitlines()[0] if str(err) else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
