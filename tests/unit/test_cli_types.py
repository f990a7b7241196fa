"""The flag types and the --device choice the commands share."""

import argparse

import pytest
import torch

from src.hrm.cli_types import givens_range, output_file, output_folder, pick_device


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")


def test_output_paths_refuse_an_empty_name_and_a_device():
    for kind in (output_file, output_folder):
        with pytest.raises(argparse.ArgumentTypeError, match="empty"):
            kind("")
    with pytest.raises(argparse.ArgumentTypeError, match="character device, not a regular file"):
        output_file("/dev/null")
    assert output_file("out.csv") == "out.csv" and str(output_folder("runs/a")) == "runs/a"


def test_givens_range():
    assert givens_range("17-23") == (17, 23) and givens_range("20") == (20, 20)
    for bad in ("16-20", "23-17", "17-81", "a-b", "17-20-23"):
        with pytest.raises(argparse.ArgumentTypeError):
            givens_range(bad)
