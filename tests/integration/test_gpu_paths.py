"""bench/gpu_check.py as a test where CUDA exists: a training step never syncs with the host, the metrics read
one step late are the step's, and the row queue holds the rows the supply handed over."""

import importlib.util
import pathlib

import pytest
import torch

CHECK = pathlib.Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_steps_never_sync_and_read_back_what_they_copied(capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", CHECK)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    code = gpu_check.main(["--steps", "30"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "gpu_check: ok:" in out
