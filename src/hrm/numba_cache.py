"""Where numba keeps the compiled kernels: a folder named by a hash of the kernels' source files.

numba's `cache=True` checks only the file of each cached kernel. A kernel that calls one in another file (the
maze scorer calls `bfs.check_path`, the Sudoku generator the solver) keeps the old callee compiled into its cached
code after only the callee's file changes: a fix to the callee would go unseen, and so would a bug. A cache per
version of the sources cannot go stale that way. A user's own NUMBA_CACHE_DIR is kept as it is.
"""

import hashlib
import os
import shutil
from pathlib import Path

KERNEL_FOLDERS = ("sudoku", "boardpath", "maze")  # every module with numba kernels
KEEP = 4  # cache folders kept (the newest), so that a few checkouts on one machine do not recompile in turn


def sources_digest(package: Path) -> str:
    """A hash of every Python file in the kernel folders, names and contents."""
    digest = hashlib.sha256()
    for folder in KERNEL_FOLDERS:
        for path in sorted((package / folder).glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_folder(package: Path, base: Path) -> Path:
    """base/<digest of the kernel sources>; older folders beside it beyond the newest KEEP are removed."""
    folder = base / sources_digest(package)
    folder.mkdir(parents=True, exist_ok=True)
    os.utime(folder)  # the newest in use
    others = sorted((p for p in base.iterdir() if p.is_dir() and p != folder), key=lambda p: p.stat().st_mtime)
    for old in others[: max(0, len(others) - (KEEP - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def use_versioned_cache() -> None:
    """Point numba at the cache folder of these sources, before numba is imported; where no folder can be made
    (a read-only home), numba's own default stays."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hrm-act" / "numba"
    try:
        os.environ["NUMBA_CACHE_DIR"] = str(cache_folder(Path(__file__).resolve().parent, base))
    except OSError:
        pass
