"""What the commands share in parsing flags: a parser whose errors are one line, and value types that say what
was expected."""

import argparse
import math


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
