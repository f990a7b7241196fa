"""Run folders: the lock (one trainer at a time, nothing stale after a kill), leftovers of killed writes, retention."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.hrm.training.folder import RunFolderError, apply_retention, lock_run_folder, remove_partial_files


def test_a_second_lock_names_the_first_owner_and_is_free_once_released(tmp_path):
    out = tmp_path / "run"
    first = lock_run_folder(out)
    assert out.is_dir() and (out / ".lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(RunFolderError, match=f"in use by another trainer \\(process {os.getpid()}\\)"):
        lock_run_folder(out)  # a second open file: flock refuses it even in the same process
    first.close()
    lock_run_folder(out).close()


def test_a_killed_owner_leaves_no_stale_lock(tmp_path):
    holder = (
        "import fcntl, os, sys; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX);"
        " f.write(str(os.getpid())); f.flush(); print('locked', flush=True); sys.stdin.read()"
    )
    tmp_path.joinpath("run").mkdir()
    process = subprocess.Popen([sys.executable, "-c", holder, str(tmp_path / "run" / ".lock")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout.readline() == "locked\n"
        with pytest.raises(RunFolderError, match=f"process {process.pid}"):
            lock_run_folder(tmp_path / "run")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    lock_run_folder(tmp_path / "run").close()  # the kernel dropped the dead process's lock


def test_folders_that_cannot_be_used_are_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    for out, words in [
        (tmp_path / "file", "not a folder"),
        (tmp_path / "file" / "run", "cannot create the run folder (Not a directory)"),
        (Path("/proc/no-such-run"), "cannot create the run folder"),
    ]:
        with pytest.raises(RunFolderError, match=words.replace("(", r"\(").replace(")", r"\)")) as caught:
            lock_run_folder(out)
        assert str(caught.value).startswith(f"{out}: ") and "\n" not in str(caught.value)


def test_only_the_temporary_files_of_unfinished_writes_are_removed(tmp_path):
    names = [".checkpoint-3.safetensors.123.ab12cd34.tmp", ".metrics.jsonl.123.tmp", "checkpoint-3.safetensors",
             "metrics.jsonl", ".lock", "notes.tmp"]  # fmt: skip
    for name in names:
        (tmp_path / name).write_text("x")
    remove_partial_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])


def _files(steps, with_state):
    return {f"checkpoint-{s}.safetensors" for s in steps} | {f"checkpoint-{s}.state.safetensors" for s in with_state}


def test_retention_keeps_the_newest_and_the_multiples(tmp_path):
    for name in _files([1, 250, 500, 750, 1000, 1250, 1500, 1750], [1500, 1750]) | {"metrics.jsonl"}:
        (tmp_path / name).write_text("x")
    apply_retention(tmp_path, 1750, keep=3, keep_every=1000)
    assert {p.name for p in tmp_path.iterdir()} == _files([1000, 1250, 1500, 1750], [1750]) | {"metrics.jsonl"}


@settings(max_examples=80, deadline=None)
@given(
    steps=st.sets(st.integers(1, 60), min_size=1, max_size=20),
    keep=st.none() | st.integers(1, 8),
    keep_every=st.none() | st.integers(1, 20),
    data=st.data(),
)
def test_retention_matches_its_definition(tmp_path_factory, steps, keep, keep_every, data):
    """Steps up to `newest`: the newest `keep` (itself included) and the multiples of `keep_every`; steps after it
    (a killed run's last files, before a resume from an earlier one) untouched; one training state."""
    folder = tmp_path_factory.mktemp("run")
    newest = data.draw(st.sampled_from(sorted(steps)))
    later = {s for s in steps if s > newest}
    for name in _files(steps, {newest} | later):
        (folder / name).write_text("x")
    apply_retention(folder, newest, keep, keep_every)
    upto = sorted((s for s in steps if s <= newest), reverse=True)
    expected = {s for i, s in enumerate(upto) if keep is None or i < keep}
    expected |= {s for s in upto if keep_every and s % keep_every == 0} | later
    assert {p.name for p in folder.iterdir()} == _files(expected, {newest} | later)


def test_retention_keeps_the_other_ranks_states_of_the_newest_checkpoint_only(tmp_path):
    """Rank r's state beside checkpoint-<step>: checkpoint-<step>.rank<r>.state.safetensors, gone with the older
    states, also those a killed run left without their model checkpoint (step 3); later ones untouched."""
    ranks = {f"checkpoint-{s}.rank{r}.state.safetensors" for s in (2, 3, 4, 5) for r in (1, 2)}
    for name in _files([1, 2, 4, 5], [2, 4, 5]) | ranks:
        (tmp_path / name).write_text("x")
    apply_retention(tmp_path, 4, keep=5, keep_every=None)
    later = {f"checkpoint-{s}.rank{r}.state.safetensors" for s in (4, 5) for r in (1, 2)}
    assert {p.name for p in tmp_path.iterdir()} == _files([1, 2, 4, 5], [4, 5]) | later
