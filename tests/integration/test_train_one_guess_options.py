"""The training options of the 2026 methods on tiny CPU runs: --ema's average against its formula in float64 and
in the checkpoint's model file (what evaluation loads), and runs with each option resumed exactly."""

import dataclasses

import pytest
import torch
from test_train import metrics, tiny_config, without_timing

from src.hrm.checkpoint import load_model, load_training_state, read_metadata, training_state_path
from src.hrm.train import main
from src.hrm.training import loop
from src.hrm.training.config import Autocast
from src.hrm.training.run import new_run, save_checkpoint

CPU = torch.device("cpu")
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu", "--log-format", "none", "--lr", "1e-3"]  # fmt: skip

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_average_follows_its_formula_and_is_what_the_model_file_holds(tmp_path):
    decay = 0.8
    run = new_run(dataclasses.replace(tiny_config(), ema_decay=decay), CPU, workers=1)
    try:
        names = [name for name, p in run.model.named_parameters() if p.requires_grad]
        expected = {name: p.detach().double().clone() for name, p in run.model.named_parameters() if p.requires_grad}
        for _ in range(4):
            loop.train_step(run, Autocast("cpu", None))
            for name, p in run.model.named_parameters():
                if name in expected:  # a ← decay·a + (1 − decay)·w, after each step
                    expected[name] = decay * expected[name] + (1 - decay) * p.detach().double()
        moved = 0
        for name, average in zip(names, run.ema.averages):
            torch.testing.assert_close(average.double(), expected[name], rtol=1e-5, atol=1e-6)
            live = dict(run.model.named_parameters())[name].detach().double()
            moved += not torch.allclose(average.double(), live)
        assert moved > len(names) // 2  # the averages lag the live weights
        live_before = {name: p.detach().clone() for name, p in run.model.named_parameters()}
        path = save_checkpoint(run, tmp_path)
    finally:
        run.close()
    saved = dict(load_model(path).named_parameters())
    for name, average in zip(names, run.ema.averages):
        assert torch.equal(saved[name].detach(), average.to(saved[name].dtype)), name
    for name, p in run.model.named_parameters():  # saving put the live weights back
        assert torch.equal(p.detach(), live_before[name]), name
    assert read_metadata(path)["weights"] == f"moving average, decay {decay}"
    tensors, _ = load_training_state(training_state_path(path))
    assert torch.equal(tensors[f"live.{names[0]}"], live_before[names[0]])


OPTIONS = {
    "ema": (["--ema", "0.9"], ["--ema", "0.5"]),
    "muon": (["--optimizer", "muon"], ["--optimizer", "mlx-adamw"]),
    "latent copies": (["--latent-copies", "3", "--copy-noise", "0.5"], ["--latent-copies", "2"]),
}


@pytest.mark.parametrize("flags,changed", OPTIONS.values(), ids=OPTIONS.keys())
def test_a_run_with_the_option_resumes_as_if_never_stopped(tmp_path, flags, changed):
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    assert main([*TINY, *flags, "--max-steps", "4", "--checkpoint-every", "2", "--out-dir", str(straight)]) == 0
    assert main([*TINY, *flags, "--max-steps", "2", "--checkpoint-every", "2", "--out-dir", str(halves)]) == 0
    assert main(["--resume", "--out-dir", str(halves), "--max-steps", "4", "--log-format", "none"]) == 0
    assert without_timing(metrics(straight)) == without_timing(metrics(halves))
    for name in ("checkpoint-4.safetensors", "checkpoint-4.state.safetensors"):
        a, b = (load_training_state(d / name)[0] if "state" in name else load_model(d / name).state_dict()
                for d in (straight, halves))  # fmt: skip
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng")), name
    # The flag defines the run: a resume may not change it.
    assert main(["--resume", "--out-dir", str(halves), "--max-steps", "5", *changed]) == 2


def test_latent_copies_carry_every_copy_and_count_halted_rows_not_copies(tmp_path):
    out = tmp_path / "run"
    assert main([*TINY, "--latent-copies", "3", "--max-steps", "6", "--out-dir", str(out)]) == 0
    records = metrics(out)
    assert all(0 <= r["halted"] <= 8 for r in records) and sum(r["halted"] for r in records) > 0
    tensors, meta = load_training_state(training_state_path(out / "checkpoint-6.safetensors"))
    carried = tensors["carry.inputs"]
    assert carried.shape[0] == 3 * 8 and meta["config"]["latent_copies"] == 3
    assert torch.equal(carried[0::3], carried[1::3]) and torch.equal(carried[0::3], carried[2::3])  # one puzzle each
    assert not torch.equal(tensors["carry.high_level"][0::3], tensors["carry.high_level"][1::3])  # own states
