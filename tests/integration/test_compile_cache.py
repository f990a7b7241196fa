"""The persistent compile cache: a compiled run fills the folder `--compile-cache` names, and a second run of the
same configuration, in a fresh process, takes its compiled graphs from there instead of compiling again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_train_options import TINY
from training_runs import one_line_error

from src.hrm.training.compile_cache import default_compile_cache, use_compile_cache

REPO = Path(__file__).resolve().parents[2]
# The kernels this process's numba cache holds (src/hrm/numba_cache.py): a child given its own HOME would
# otherwise compile them all again, tens of seconds each time.
NUMBA_CACHE = {key: os.environ[key] for key in ("NUMBA_CACHE_DIR",) if key in os.environ}
# Train one compiled step in this process, then print torch.compile's cache counters.
TRAIN_AND_COUNT = """
import json, sys
import torch
from src.hrm.train import main
code = main(sys.argv[1:])
counters = torch._dynamo.utils.counters
print(json.dumps({"code": code, "fx_hit": counters["inductor"]["fxgraph_cache_hit"],
                  "fx_miss": counters["inductor"]["fxgraph_cache_miss"],
                  "aot_hit": counters["aot_autograd"]["autograd_cache_hit"]}))
"""


def compiled_run(out: Path, cache: Path) -> dict:
    flags = ["--out-dir", str(out), "--max-steps", "1", "--compile", "on", "--compile-cache", str(cache), *TINY]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(out.parent), "OMP_NUM_THREADS": "1", **NUMBA_CACHE}
    done = subprocess.run([sys.executable, "-c", TRAIN_AND_COUNT, *flags], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # over 10 s on 2 cores
def test_a_second_run_takes_the_compiled_graphs_from_the_cache_folder(tmp_path):
    cache = tmp_path / "compile-cache"
    first = compiled_run(tmp_path / "first", cache)
    assert first["code"] == 0 and first["fx_miss"] > 0 and first["fx_hit"] == 0
    assert any(cache.rglob("*")), "the first run left nothing in the cache folder"
    second = compiled_run(tmp_path / "second", cache)
    assert second["code"] == 0 and second["fx_hit"] >= first["fx_miss"] and second["fx_miss"] == 0
    assert second["aot_hit"] > 0  # the forward/backward split too, not only inductor's kernels


def test_the_default_folder_is_under_the_user_cache_unless_torch_is_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_compile_cache() == tmp_path / "xdg" / "hrm-act" / "torch-compile"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_compile_cache() == tmp_path / "home" / ".cache" / "hrm-act" / "torch-compile"
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert default_compile_cache() == tmp_path / "mine"


def test_using_a_folder_points_torch_at_it(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    folder = use_compile_cache(tmp_path / "cache")
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    assert folder.is_dir() and Path(cache_dir()) == (tmp_path / "cache").resolve()


def test_a_folder_with_a_space_is_refused_in_one_line(tmp_path, capsys):
    flags = ["--out-dir", str(tmp_path / "run"), "--max-steps", "1", "--compile", "on", *TINY]
    error = one_line_error(capsys, [*flags, "--compile-cache", str(tmp_path / "my cache")])
    assert "has a space in its path" in error and "--compile-cache" in error
    assert not (tmp_path / "run").exists() and not (tmp_path / "my cache").exists()
