"""Where torch.compile keeps what it built, so that a second run of a configuration starts in seconds.

Inductor's FX-graph cache and AOTAutograd's cache hold the compiled forward and backward of the segment
loss, keyed by the graph, the shapes, the torch version and the device; Triton keeps the kernels' binaries
beside them. By default torch puts all of it under the system's temporary folder, which a reboot or a
cleaner empties. Runs here keep it under `default_compile_cache()` instead (`train --compile-cache DIR`
chooses another; an exported TORCHINDUCTOR_CACHE_DIR is honoured). Deleting the folder is always safe: the
next run compiles afresh and fills it again.
"""

import os
from pathlib import Path


def default_compile_cache() -> Path:
    """$TORCHINDUCTOR_CACHE_DIR if set, else $XDG_CACHE_HOME/hrm-act/torch-compile (~/.cache/... without it)."""
    if os.environ.get("TORCHINDUCTOR_CACHE_DIR"):
        return Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hrm-act" / "torch-compile"


def checked_compile_cache(folder: Path | None) -> Path:
    """The folder to use (None: the default), or ValueError when torch could not use it."""
    folder = Path(folder) if folder is not None else default_compile_cache()
    if any(c.isspace() for c in str(folder.resolve())):
        # Inductor passes the folder unquoted to the C++ compiler of CPU kernels, which then fails on every graph.
        raise ValueError(f"compile cache folder {str(folder)!r} has a space in its path, which torch's C++ compiler"
                         " cannot take; choose another with --compile-cache")  # fmt: skip
    return folder


def use_compile_cache(folder: Path | None = None) -> Path:
    """Point torch.compile's persistent caches at `folder` (None: `default_compile_cache()`); returns it.

    Call before the first compile: inductor reads the folder when it first needs it. Raises ValueError for a
    folder torch cannot use (`checked_compile_cache`) and OSError when it cannot be made.
    """
    folder = checked_compile_cache(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder.resolve())
    # Triton's own binaries: beside inductor's, unless the user keeps them elsewhere on purpose.
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder.resolve() / "triton"))
    import torch._functorch.config  # binds `torch`
    import torch._inductor.config

    torch._inductor.config.fx_graph_cache = True  # the compiled graphs (on by default in recent torch; made sure)
    torch._functorch.config.enable_autograd_cache = True  # the joint forward/backward split, the largest share
    return folder
