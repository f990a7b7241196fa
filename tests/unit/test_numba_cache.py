"""numba's cache folder follows the kernels' sources: a change in any kernel file gives a fresh folder."""

import os
import subprocess
import sys
from pathlib import Path

from src.hrm.numba_cache import KEEP, cache_folder, sources_digest

REPO = Path(__file__).resolve().parents[2]


def package(tmp_path) -> Path:
    root = tmp_path / "hrm"
    for folder in ("sudoku", "boardpath", "maze"):
        (root / folder).mkdir(parents=True)
        (root / folder / "kernels.py").write_text(f"# {folder}\n")
    (root / "train.py").write_text("x = 1\n")
    return root


def test_a_change_to_any_kernel_file_and_only_to_one_gives_another_folder(tmp_path):
    root = package(tmp_path)
    first = sources_digest(root)
    (root / "train.py").write_text("x = 2\n")  # not a kernel folder
    assert sources_digest(root) == first
    (root / "maze" / "kernels.py").write_text("# maze, changed\n")  # a callee's file, as bfs.py is the scorer's
    assert sources_digest(root) != first


def test_old_folders_beyond_the_newest_few_are_removed(tmp_path):
    root, base = package(tmp_path), tmp_path / "cache"
    made = []
    for version in range(KEEP + 3):
        (root / "sudoku" / "kernels.py").write_text(f"# version {version}\n")
        made.append(cache_folder(root, base))
        os.utime(made[-1], (version + 1e9, version + 1e9))  # distinct times, oldest first
    assert sorted(p.name for p in base.iterdir()) == sorted(p.name for p in made[-KEEP:])


def test_the_package_sets_numba_cache_dir_unless_the_user_has(tmp_path):
    code = "import os, src.hrm, numba; print(os.environ['NUMBA_CACHE_DIR']); print(numba.config.CACHE_DIR)"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    lines = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    assert lines[0] == lines[1] and lines[0].startswith(str(tmp_path / "hrm-act" / "numba"))
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    lines = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    assert lines == [str(tmp_path / "mine")] * 2
