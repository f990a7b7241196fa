"""A run folder: one trainer at a time (a lock), what a killed writer left behind, and checkpoint retention."""

import fcntl
import os
from pathlib import Path
from typing import IO

from ..checkpoint import training_state_path
from .distributed import RANK_STATE_NAME
from .run import checkpoint_steps

LOCK_NAME = ".lock"


class RunFolderError(Exception):
    """A run folder that cannot be used (cannot be created, not a folder, in use); one line naming it."""


def lock_run_folder(out_dir: Path) -> IO:
    """Create `out_dir` if need be and lock it for this process until the returned file is closed.

    The lock is an flock on `<out_dir>/.lock`, which holds the owner's process id. The kernel drops
    it when the process dies, however it dies, so a killed trainer never leaves a stale lock.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise RunFolderError(f"{out_dir}: not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"{out_dir}: cannot create the run folder ({err.strerror})") from None
    try:
        file = open(out_dir / LOCK_NAME, "a+")
    except OSError as err:
        raise RunFolderError(f"{out_dir}: cannot write in the run folder ({err.strerror})") from None
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        owner = file.read().strip() or "unknown"
        file.close()
        raise RunFolderError(f"{out_dir}: in use by another trainer (process {owner})") from None
    except OSError as err:
        file.close()
        raise RunFolderError(f"{out_dir}: cannot lock the run folder ({err.strerror})") from None
    try:
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
    except OSError as err:
        file.close()
        raise RunFolderError(f"{out_dir}: cannot write in the run folder ({err.strerror})") from None
    return file


def remove_partial_files(out_dir: Path) -> None:
    """Delete the temporary files of writes that a killed trainer never finished (call with the lock held)."""
    for path in out_dir.glob(".*.tmp"):
        path.unlink(missing_ok=True)


def apply_retention(out_dir: Path, newest: int, keep: int | None, keep_every: int | None) -> None:
    """Once checkpoint `newest` is complete: keep the newest `keep` model checkpoints (None: all) and those at
    a multiple of `keep_every` steps, and the training states (every rank's) of `newest` only.

    Checkpoints after `newest` (left by a run killed after it and resumed from it) are not touched.
    """
    steps = checkpoint_steps(out_dir)
    older = sorted((step for step in steps if step < newest), reverse=True)
    kept = set(older if keep is None else older[: keep - 1])
    if keep_every is not None:
        kept |= {step for step in older if step % keep_every == 0}
    for step in older:
        training_state_path(steps[step]).unlink(missing_ok=True)  # large, and only the newest resumes
        if step not in kept:
            steps[step].unlink(missing_ok=True)
    for f in out_dir.iterdir():  # other ranks' states, also those a killed run left without their checkpoint
        if (m := RANK_STATE_NAME.match(f.name)) and int(m.group(1)) < newest:
            f.unlink(missing_ok=True)
