"""Failures any command can meet that are the machine's, not the input's: reported as one line, not a traceback."""

import functools
import re
import sys

import torch


def allocation_failure(err: BaseException) -> str | None:
    """One line for a failed allocation (Python's, or torch's on the CPU or a GPU), None for any other error."""
    text = str(err)
    torch_said = isinstance(err, torch.OutOfMemoryError) or "can't allocate memory" in text or "out of memory" in text
    if not (isinstance(err, MemoryError) or torch_said):
        return None
    asked = ""
    if found := re.search(r"allocate (\d+) bytes", text):  # the CPU allocator's words
        asked = f" (asked for {int(found.group(1)) / 1e9:,.1f} GB)"
    elif found := re.search(r"[Tt]ried to allocate ([\d.]+ [KMGT]i?B)", text):  # the CUDA allocator's
        asked = f" (asked for {found.group(1)})"
    return f"out of memory{asked}: lower --batch-size or the model's size"


def allocation_failures_as_one_line(prefix: str):
    """Decorate a command's main: an allocation failure anywhere in it prints `{prefix}: <what>` on stderr and
    returns exit code 1; every other error passes on unchanged."""

    def decorate(main):
        @functools.wraps(main)
        def wrapped(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except (MemoryError, RuntimeError) as err:
                line = allocation_failure(err)
                if line is None:
                    raise
                print(f"{prefix}: {line}", file=sys.stderr)
                return 1

        return wrapped

    return decorate
