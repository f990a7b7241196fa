"""What every shipped Sudoku checkpoint is (the default model, stored in bf16), and `evaluate` run on one as a
user runs it."""

import json
import pathlib
import subprocess
import sys

from safetensors import safe_open

from src.hrm.checkpoint import load_model


def assert_default_model_in_bf16(path, halt_max_steps: int = 16) -> None:
    """The default model's weights in bf16; halt_max_steps: the ACT segment limit it was trained with."""
    assert path.stat().st_size <= 15 * 2**20
    with safe_open(str(path), framework="pt") as handle:
        assert {handle.get_slice(key).get_dtype() for key in handle.keys()} == {"BF16"}
    model = load_model(path)
    assert sum(p.numel() for p in model.parameters()) == 6_822_146
    expected = type(model.config)().to_dict()
    expected["act"]["halt_max_steps"] = halt_max_steps
    assert model.config.to_dict() == expected


def evaluate_on_cpu(checkpoint, data, *flags) -> dict:
    """`python -m src.hrm.evaluate CHECKPOINT --data DATA FLAGS --device cpu --json` from the repository; its report."""
    repo = pathlib.Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "src.hrm.evaluate", str(checkpoint), "--data", str(data), *flags, "--device",
               "cpu", "--json"]  # fmt: skip
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
