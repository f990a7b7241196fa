"""Train options that the default run does not take, on tiny CPU runs: the compile fallback, bf16 autocast,
--max-minutes, --start-stage and --optimizer torch-adamw."""

import dataclasses
import math

import pytest
import torch
from test_train import checkpoint_steps, metrics, tiny_config, without_timing

from src.hrm.checkpoint import load_model, load_training_state, training_state_path
from src.hrm.modeling import HiddenStates, HRMACTInner
from src.hrm.sudoku import Difficulty
from src.hrm.tasks.curriculum import STAGE_PROBABILITIES, TRAINING_DIFFICULTIES
from src.hrm.train import main
from src.hrm.train_args import config_from_args, parse_args
from src.hrm.training import loop
from src.hrm.training.config import RunOptions
from src.hrm.training.loss import SegmentLoss, exploration_draws, segment_loss
from src.hrm.training.run import new_run, resume_run

CPU = torch.device("cpu")
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu", "--log-format", "none"]  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


def train_run(config, out_dir, max_steps, run=None, **options):
    """A fresh run (or `run`, going on) trained to `max_steps` with the given RunOptions; returns it closed."""
    run = run or new_run(config, CPU, workers=1)
    try:
        loop.train(run, RunOptions(out_dir=out_dir, max_steps=max_steps, log_format="none", **options))
    finally:
        run.close()
    return run


def assert_same_loss(got: SegmentLoss, want: SegmentLoss) -> None:
    for field in dataclasses.fields(SegmentLoss):
        a, b = getattr(got, field.name), getattr(want, field.name)
        pairs = [(a.high_level, b.high_level), (a.low_level, b.low_level)] if isinstance(a, HiddenStates) else [(a, b)]
        for x, y in pairs:
            assert torch.equal(x, y), field.name


def failing_compile(calls):
    """A stand-in for torch.compile whose compiled function fails, as a broken compiler would."""

    def compile(fn, mode=None):
        def compiled(*args):
            calls.append(mode)
            raise RuntimeError("the backend could not lower an op\nsecond line of the compiler's report")

        return compiled

    return compile


def test_a_failing_compile_falls_back_to_eager_with_one_warning(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(torch, "compile", failing_compile(calls))
    run = new_run(tiny_config(), CPU, workers=1)
    try:
        model, carry = run.model, run.carry
        draws = exploration_draws(model, carry.inputs.shape[0], CPU, run.generator)
        args = (model, carry.hidden_states, carry.inputs, carry.targets, carry.segments, *draws,
                run.task.loss_mask(carry.inputs))  # fmt: skip
        loss_fn = loop.compiled_segment_loss("default")
        for _ in range(3):
            assert_same_loss(loss_fn(*args), segment_loss(*args))
    finally:
        run.close()
    assert calls == ["default"]  # compiling is tried once, not on every call
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert warnings == [
        "warning: torch.compile failed (RuntimeError: the backend could not lower an op); running eager"
    ]

    # Through the loop: a run with --compile on and a broken compiler logs what an eager run logs.
    config = tiny_config(halt_max_steps=3)
    train_run(config, tmp_path / "compiled", max_steps=3, compile="default", compile_cache=tmp_path / "cache")
    assert capsys.readouterr().out.count("warning: torch.compile failed") == 1
    train_run(config, tmp_path / "eager", max_steps=3)
    assert without_timing(metrics(tmp_path / "compiled")) == without_timing(metrics(tmp_path / "eager"))


def test_regional_compiling_falls_back_to_eager_with_one_warning(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(torch, "compile", failing_compile(calls))
    config = tiny_config(halt_max_steps=3)
    train_run(config, tmp_path / "regional", max_steps=3, compile="regional", compile_cache=tmp_path / "cache")
    assert capsys.readouterr().out.count("warning: torch.compile failed (RuntimeError: the backend could not") == 1
    assert len(calls) == 1  # the first compiled pass failed; nothing is compiled or tried again
    train_run(config, tmp_path / "eager", max_steps=3)
    assert without_timing(metrics(tmp_path / "regional")) == without_timing(metrics(tmp_path / "eager"))


@pytest.mark.slow  # over 10 s on 2 cores
def test_regional_compiling_compiles_each_reasoner_once_and_computes_the_eager_step(tmp_path):
    """Each level's pass is one graph per gradient mode, reused by every pass of every step: no recompiling after
    the first step; the losses are the eager ones to float32 rounding."""
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    config = tiny_config(halt_max_steps=3)
    train_run(config, tmp_path / "regional", max_steps=2, compile="regional", compile_cache=tmp_path / "cache")
    frames = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    train_run(config, tmp_path / "more", max_steps=4, compile="regional", compile_cache=tmp_path / "cache")
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == frames  # steps 3 and 4 compiled nothing new
    assert 0 < frames <= 4  # two levels, with and without gradient
    train_run(config, tmp_path / "eager", max_steps=4)
    for got, want in zip(metrics(tmp_path / "more"), metrics(tmp_path / "eager")):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-5) and got["halted"] == want["halted"]


def test_bf16_autocast_on_the_cpu_keeps_float32_weights(tmp_path):
    config = tiny_config(lr=3e-3)
    parameters = dict(HRMACTInner(config.model).named_parameters())
    fresh = {name: p.dtype for name, p in parameters.items()}
    assert torch.float32 in fresh.values()
    bf16 = train_run(config, tmp_path / "bf16", max_steps=4, precision="bf16")
    train_run(config, tmp_path / "fp32", max_steps=4)
    low, full = metrics(tmp_path / "bf16"), metrics(tmp_path / "fp32")
    assert all(math.isfinite(r[key]) for r in low for key in ("loss", "output_loss", "q_act_loss"))
    # The same weights and rows at step 1: bf16 matrix products round differently, but not by much; four
    # steps on, the runs have not drifted apart.
    assert low[0]["output_loss"] != full[0]["output_loss"]
    assert low[0]["output_loss"] == pytest.approx(full[0]["output_loss"], rel=5e-3)
    for a, b in zip(low, full, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=2e-2)
    # Autocast leaves the weights (and so the optimizer's moments) in their own dtypes: float32 masters.
    saved = load_model(tmp_path / "bf16" / "checkpoint-4.safetensors")
    assert {name: p.dtype for name, p in saved.named_parameters()} == fresh
    assert {name: p.dtype for name, p in bf16.model.named_parameters()} == fresh
    state, _ = load_training_state(training_state_path(tmp_path / "bf16" / "checkpoint-4.safetensors"))
    for name, dtype in fresh.items():
        if parameters[name].requires_grad:
            assert state[f"optimizer.{name}.exp_avg"].dtype == dtype, name
    trained = load_model(tmp_path / "fp32" / "checkpoint-4.safetensors").state_dict()
    assert any(not torch.equal(p, trained[name]) for name, p in saved.state_dict().items())


def test_max_minutes_stops_at_the_first_step_past_the_limit_and_saves(tmp_path):
    out = tmp_path / "run"
    assert main(["--out-dir", str(out), "--max-minutes", "0.02", *TINY]) == 0
    records = metrics(out)
    steps = [r["step"] for r in records]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 3  # the limit stopped it, not a slow first step
    assert checkpoint_steps(out)[-1] == steps[-1]
    assert training_state_path(out / f"checkpoint-{steps[-1]}.safetensors").is_file()
    # A record's elapsed time is taken when the loop goes on to the next step (or ends): every step but the
    # last began within the 1.2 s (give or take a busy machine's scheduling), and the run ended past them.
    assert records[-1]["elapsed"] >= 0.02 * 60
    assert all(r["elapsed"] < 0.02 * 60 + 0.5 for r in records[:-1])


def test_start_stage_draws_the_first_rows_from_that_stage(tmp_path):
    out = tmp_path / "run"
    assert main(["--out-dir", str(out), "--max-steps", "2", "--start-stage", "3", *TINY]) == 0
    assert [r["stage"] for r in metrics(out)] == [3, 3]
    tensors, meta = load_training_state(training_state_path(out / "checkpoint-2.safetensors"))
    assert meta["config"]["task"]["curriculum"]["start_stage"] == 3
    consumed = tensors["queue.consumed"].tolist()
    # Stage 3 draws easy, medium and hard rows three times in ten each: the first 8 rows and the
    # replacements are not all easy, as stage 0's would be.
    assert STAGE_PROBABILITIES[3][0] < 1 and sum(consumed) >= 8 and sum(consumed[1:]) > 0, consumed
    for kind, difficulty in enumerate(TRAINING_DIFFICULTIES):
        clues = (tensors["queue.inputs"][kind, : consumed[kind]] > 0).sum(-1)
        lower, upper = difficulty.clue_range
        upper = 32 if difficulty == Difficulty.EXTREME else upper  # removal may stop above extreme's range
        assert ((lower <= clues) & (clues <= upper)).all(), (difficulty, clues.tolist())
    carried = (tensors["carry.inputs"] > 0).sum(-1)
    assert int(carried.min()) < Difficulty.EASY.clue_range[0]  # the carry holds a row harder than easy


def test_torch_adamw_takes_the_runs_settings_and_resumes_exactly(tmp_path):
    args = parse_args(["--optimizer", "torch-adamw", "--lr", "0.002", "--halt-max-steps", "3", *TINY])
    config = config_from_args(args)
    run = new_run(config, CPU, workers=1)
    try:
        assert type(run.optimizer) is torch.optim.AdamW
        (group,) = run.optimizer.param_groups
        assert (group["lr"], group["betas"], group["weight_decay"], group["eps"]) == (0.002, (0.9, 0.95), 0.01, 1e-8)
        before = {name: p.detach().clone() for name, p in run.model.named_parameters()}
        loop.train(run, RunOptions(out_dir=tmp_path / "in_process", max_steps=1, log_format="none"))
        # Bias-corrected, the first step moves every float32 weight with a gradient by lr·g/(|g| + eps) ≈ ±lr
        # past the decay (MLX's AdamW, with no correction, by about 0.45·lr).
        for name, p in run.model.named_parameters():
            if p.dtype == torch.float32 and p.requires_grad:
                step = (p.detach() - before[name] * (1 - 0.002 * 0.01)).abs()
                moved = step[step > 2e-4]
                assert moved.numel() > 0.5 * step.numel(), name
                assert float(moved.median()) == pytest.approx(0.002, rel=1e-3), name
        train_run(None, tmp_path / "in_process", max_steps=3, run=run)
    finally:
        run.close()
    train_run(config, tmp_path / "resumed", max_steps=2)
    train_run(None, tmp_path / "resumed", max_steps=3, run=resume_run(tmp_path / "resumed", CPU, workers=1))
    assert all(math.isfinite(r["loss"]) for r in metrics(tmp_path / "in_process"))
    assert without_timing(metrics(tmp_path / "resumed")) == without_timing(metrics(tmp_path / "in_process"))
    a = load_model(tmp_path / "in_process" / "checkpoint-3.safetensors").state_dict()
    b = load_model(tmp_path / "resumed" / "checkpoint-3.safetensors").state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)
