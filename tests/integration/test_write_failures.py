"""A disk that fills up or a permission refused while a run writes: one line on stderr, and the files written
before it intact, so that the run resumes from them as if nothing had happened."""

import builtins
import errno
import json
import shutil

import pytest

import src.hrm.file_io as file_io_module
import src.hrm.training.report as report_module
from src.hrm import train
from src.hrm.checkpoint import load_model

TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu", "--log-format", "none", "--checkpoint-every", "1"]  # fmt: skip
FULL = OSError(errno.ENOSPC, "No space left on device")
DENIED = PermissionError(errno.EACCES, "Permission denied")


class _HalfWritten:
    """A file whose first write stores half its bytes and fails, as on a disk that fills up."""

    def __init__(self, file, error):
        self.file, self.error = file, error

    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        raise self.error

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def failing_open(monkeypatch, module, name_part, error, at_open):
    """Make `module`'s writes to files whose name contains `name_part` fail with `error`, on opening or writing."""

    def fake_open(file, mode="r", *args, **kwargs):
        if name_part in str(file) and any(m in mode for m in "wax"):
            if at_open:
                raise error
            return _HalfWritten(builtins.open(file, mode, *args, **kwargs), error)
        return builtins.open(file, mode, *args, **kwargs)

    monkeypatch.setattr(module, "open", fake_open, raising=False)


@pytest.fixture(scope="module")
def two_steps(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "run"
    assert train.main(["--out-dir", str(out), "--max-steps", "2", *TINY]) == 0
    return out


def contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name not in ("metrics.jsonl", ".lock")}


@pytest.mark.parametrize(
    "module,name_part,error,at_open",
    [
        (file_io_module, "checkpoint-3.safetensors", FULL, False),
        (file_io_module, "checkpoint-3.state.safetensors", FULL, False),
        (file_io_module, "checkpoint-3.safetensors", DENIED, True),
        (report_module, "metrics.jsonl", FULL, False),
        (report_module, "metrics.jsonl", DENIED, True),
    ],
    ids=["model-disk-full", "state-disk-full", "model-denied", "metrics-disk-full", "metrics-denied"],
)
def test_a_failed_write_is_one_line_and_keeps_the_previous_checkpoint(
    two_steps, tmp_path, monkeypatch, capsys, module, name_part, error, at_open
):
    out = tmp_path / "run"
    shutil.copytree(two_steps, out)
    before = contents(out)
    failing_open(monkeypatch, module, name_part, error, at_open)
    capsys.readouterr()
    assert train.main(["--out-dir", str(out), "--resume", "--max-steps", "3", "--log-format", "none"]) == 1
    target = out / ("metrics.jsonl" if module is report_module else name_part)
    assert capsys.readouterr().err == f"error: {target}: {error.strerror}\n"

    after = contents(out)
    assert not [name for name in after if name.endswith(".tmp")]  # the failed write cleaned up after itself
    assert {name: after.get(name) for name in before} == before  # checkpoint 2 and its state, untouched
    for name in after:
        if name.startswith("checkpoint-") and ".state." not in name:
            load_model(out / name)

    monkeypatch.undo()
    assert train.main(["--out-dir", str(out), "--resume", "--max-steps", "3", "--log-format", "none"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
