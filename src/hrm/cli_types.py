"""What the commands share in parsing flags: a parser whose errors are one line, and value types that say what
was expected."""

import argparse
import math
from pathlib import Path

from .file_io import NotARegularFile, writable_target


# Counts and seeds end up in int64 tensors and generators: a larger value would overflow there, with a traceback.
_INT64 = 2**63


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return _below_int64(value, text)


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return _below_int64(value, text)


def _below_int64(value: int, text: str) -> int:
    if value >= _INT64:
        raise argparse.ArgumentTypeError(f"must be below 2^63, got {text}")
    return value


def givens_range(text: str) -> tuple[int, int]:
    """MIN-MAX (or one number) givens of a Sudoku puzzle: 17 <= MIN <= MAX <= 80."""
    parts = text.split("-")
    try:
        low, high = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
    except ValueError:
        low = high = None
    if low is None or not 17 <= low <= high <= 80:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX givens with 17 <= MIN <= MAX <= 80, got {text!r}")
    return low, high


def output_file(text: str) -> str:
    """A file a command writes: a name (an empty one would mean no file), and not an existing folder, device,
    pipe or socket, which a write would replace (its folder is checked where the command starts its work)."""
    if not text:
        raise argparse.ArgumentTypeError("needs a file name, got an empty one")
    try:
        writable_target(text)
    except NotARegularFile as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def output_folder(text: str) -> Path:
    """A folder a command writes into: a name, where an empty one would mean the current folder (the command
    checks that it is not a file where it starts its work)."""
    if not text:
        raise argparse.ArgumentTypeError("needs a folder name, got an empty one")
    return Path(text)


def pick_device(choice: str):
    """--device: 'auto' → CUDA when available, else CPU; 'cuda' without a GPU is an input error (ValueError)."""
    import torch  # here: a command that never builds a model (make_dataset) starts without loading torch

    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but CUDA is not available on this machine")
    if choice not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {choice!r}; expected auto, cpu or cuda")
    return torch.device(choice)


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def fraction_below_one(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """Errors on one line, like every other error of the commands; the usage of many flags would bury them."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
