"""Convergence recording and its numbers, against direct computations."""

import json

import numpy as np
import pytest
import torch

from src.hrm.analysis.convergence import participation_ratio, record_updates, relative_residual
from src.hrm.analyze import main as analyze_main
from src.hrm.checkpoint import save_model
from src.hrm.evaluation.inference import run_segments
from src.hrm.modeling import ACTConfig, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.sudoku import generate_batch


def tiny_model(high=2, low=3) -> HRMACTInner:
    torch.manual_seed(0)
    return HRMACTInner(HRMACTModelConfig(
        high_level_cycles=high, low_level_cycles=low, act=ACTConfig(halt_max_steps=3),
        transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64),
    )).eval()  # fmt: skip


def eigenvalue_ratio(x):
    """(Σλ)² / Σλ² from the eigenvalues of the sample covariance, in float64."""
    eigenvalues = np.linalg.eigvalsh(np.cov(np.asarray(x, dtype=np.float64), rowvar=False))
    return eigenvalues.sum() ** 2 / (eigenvalues**2).sum()


def test_participation_ratio_on_known_matrices():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    # Exactly two equal directions: any number of samples on a 2-dimensional circle gives 2.
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1) @ basis[:2]
    assert participation_ratio(circle) == pytest.approx(2.0, rel=1e-9)
    assert participation_ratio(rng.normal(size=(300, 1)) @ basis[:1]) == pytest.approx(1.0, rel=1e-9)
    skewed = rng.normal(size=(500, 12)) * np.array([5, 3, 2, 1, 1, 0.5, 0.1, 0, 0, 0, 0, 0]) @ basis
    assert participation_ratio(skewed) == pytest.approx(eigenvalue_ratio(skewed), rel=1e-9)


def test_relative_residual_is_the_mean_of_row_norm_ratios():
    rng = np.random.default_rng(1)
    old, new = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 4))
    expected = np.mean([np.linalg.norm(new[i] - old[i]) / np.linalg.norm(old[i]) for i in range(3)])
    assert relative_residual(torch.tensor(new), torch.tensor(old)) == pytest.approx(expected, rel=1e-5)


def test_every_update_is_recorded_in_order_and_nothing_changes_the_run():
    model = tiny_model(high=2, low=3)
    puzzles, _ = generate_batch([2] * 4, seed=0, workers=1)
    inputs = torch.as_tensor(puzzles.astype(np.int64))
    recording = record_updates(model, inputs, num_segments=2)
    # Per segment: H·L low updates and H high ones, the high level after every L low ones.
    one_segment = ["low", "low", "low", "high", "low", "low", "low", "high"]
    assert recording.levels == one_segment * 2 and recording.segments == [1] * 8 + [2] * 8
    assert all(r > 0 for r in recording.residuals)
    steps = list(run_segments(model, inputs, 2))
    for k, step in enumerate(steps):
        assert (recording.predictions[k] == step.predictions.numpy()).all()
        assert np.allclose(recording.q_halt[k], torch.sigmoid(step.q_halt).numpy())
    assert len(model.low_level_reasoner._forward_hooks) == 0  # the hooks are gone afterwards


def test_analyze_writes_its_files(tmp_path, capsys):
    path = tmp_path / "tiny.safetensors"
    save_model(tiny_model(), path)
    out = tmp_path / "analysis"
    assert analyze_main([str(path), "--out", str(out), "--num", "8", "--segments", "2", "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "analysis.json", "participation.png", "predictions.png", "residuals.png", "segments.png"]
    report = json.loads((out / "analysis.json").read_text())
    assert set(report["models"]) == {"trained", "untrained"} and report["task"] == "sudoku"
    trained = report["models"]["trained"]
    assert len(trained["per_segment"]) == 2 and len(trained["updates"]) == 2 * 8
    assert trained["participation_ratio"]["high"] > 1
    assert "participation ratio high" in capsys.readouterr().out
    (tmp_path / "file").write_text("x")
    assert analyze_main([str(path), "--out", str(tmp_path / "file"), "--device", "cpu"]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
