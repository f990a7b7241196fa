"""Which checkpoint a resume starts from: the newest whose model and training state are both complete."""

import pytest
import torch
from safetensors.torch import save_file

from src.hrm.checkpoint import CheckpointError
from src.hrm.training.run import latest_checkpoint


def write(path, whole=True):
    save_file({"x": torch.zeros(64)}, str(path), {"format": "test"})
    if not whole:  # a file cut short: what a write that never finished would leave without the rename
        path.write_bytes(path.read_bytes()[:-8])


def test_a_missing_or_torn_state_falls_back_to_the_newest_complete_checkpoint(tmp_path):
    for step in (1, 2, 3, 4):
        write(tmp_path / f"checkpoint-{step}.safetensors")
    write(tmp_path / "checkpoint-1.state.safetensors")
    write(tmp_path / "checkpoint-2.state.safetensors")
    write(tmp_path / "checkpoint-3.state.safetensors", whole=False)
    # checkpoint-4 has no state: killed between its two files.
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-2.safetensors"
    write(tmp_path / "checkpoint-2.safetensors", whole=False)
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-1.safetensors"


def test_with_no_complete_checkpoint_the_torn_file_is_named(tmp_path):
    write(tmp_path / "checkpoint-5.safetensors")
    write(tmp_path / "checkpoint-5.state.safetensors", whole=False)
    with pytest.raises(CheckpointError, match="checkpoint-5.state.safetensors: not a readable safetensors file"):
        latest_checkpoint(tmp_path)
    (tmp_path / "checkpoint-5.state.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no checkpoint with its training state"):
        latest_checkpoint(tmp_path)


def test_a_checkpoint_of_several_ranks_is_complete_once_every_ranks_state_is(tmp_path):
    for step in (1, 2, 3):
        write(tmp_path / f"checkpoint-{step}.safetensors")
        save_file({"x": torch.zeros(4)}, str(tmp_path / f"checkpoint-{step}.state.safetensors"),
                  {"format": "test", "meta": '{"ranks": 3}'})  # fmt: skip
        write(tmp_path / f"checkpoint-{step}.rank1.state.safetensors")
    write(tmp_path / "checkpoint-1.rank2.state.safetensors")
    write(tmp_path / "checkpoint-2.rank2.state.safetensors", whole=False)
    # checkpoint-3 has no rank-2 state: that rank was killed before writing it.
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-1.safetensors"
