"""The training loop in process on tiny models: learning, checkpoints, exact resume, graduation, divergence."""

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from src.hrm.checkpoint import load_model, load_training_state, training_state_path
from src.hrm.modeling import ACTConfig, HRMACTModelConfig, TransformerConfig
from src.hrm.training.config import RunOptions, TrainConfig
from src.hrm.training.loop import train
from src.hrm.training.run import TrainingError, new_run, resume_run
from src.hrm.sudoku import Difficulty
from src.hrm.tasks.curriculum import TRAINING_DIFFICULTIES, CurriculumConfig

from training_runs import RECORDED_FLOAT_TOLERANCE, assert_records_match, count_fraction_tolerance

CPU = torch.device("cpu")
TIMING = ("wait_fraction", "puzzles_per_second", "elapsed")


def tiny_config(batch=8, lr=1e-3, halt_max_steps=16, curriculum=None, seed=0) -> TrainConfig:
    return TrainConfig(
        model=HRMACTModelConfig(
            transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64),
            act=ACTConfig(halt_max_steps=halt_max_steps),
        ),
        task={"name": "sudoku", "curriculum": dataclasses.asdict(curriculum or CurriculumConfig())},
        batch_size=batch,
        lr=lr,
        seed=seed,
    )


def run_steps(config, out_dir, max_steps, checkpoint_every=250, resume=False):
    run = resume_run(out_dir, CPU, workers=1) if resume else new_run(config, CPU, workers=1)
    try:
        options = RunOptions(out_dir=out_dir, max_steps=max_steps, checkpoint_every=checkpoint_every, log_format="none")
        train(run, options)
    finally:
        run.close()
    return run


def metrics(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def without_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def checkpoint_steps(out_dir):
    models = out_dir.glob("checkpoint-*[0-9].safetensors")
    return sorted(int(p.name[len("checkpoint-") : -len(".safetensors")]) for p in models)


def test_loss_falls_on_easy_puzzles(tmp_path):
    """From random init the output loss is well above ln 9; a few dozen steps bring it near the digit prior."""
    run_steps(tiny_config(batch=16, lr=3e-3), tmp_path, max_steps=30)
    losses = [r["output_loss"] for r in metrics(tmp_path)]
    assert len(losses) == 30
    assert sum(losses[:3]) / 3 > 2.5
    assert sum(losses[-10:]) / 10 < 2.3
    assert all(math.isfinite(r["loss"]) and r["stage"] == 0 for r in metrics(tmp_path))


def test_checkpoints_at_step_one_every_n_and_the_end(tmp_path):
    run = run_steps(tiny_config(), tmp_path, max_steps=7, checkpoint_every=3)
    assert checkpoint_steps(tmp_path) == [1, 3, 6, 7]
    # Only the newest checkpoint keeps its (large) training state.
    assert sorted(p.name for p in tmp_path.glob("*.state.safetensors")) == ["checkpoint-7.state.safetensors"]
    model = load_model(tmp_path / "checkpoint-7.safetensors")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, run.model.state_dict()[name]), name
    _, meta = load_training_state(training_state_path(tmp_path / "checkpoint-7.safetensors"))
    assert meta["step"] == 7 and meta["config"]["batch_size"] == 8
    records = metrics(tmp_path)
    assert [r["step"] for r in records] == list(range(1, 8))
    # Puzzles: the initial batch, then one more per halted row.
    assert records[0]["puzzles"] == 8 + records[0]["halted"]
    for before, after in zip(records, records[1:]):
        assert after["puzzles"] == before["puzzles"] + after["halted"]


def test_resume_is_bit_identical(tmp_path):
    """Stopped at step 5 and resumed, a run logs what an uninterrupted run logs and ends with the same weights."""
    config = tiny_config(batch=8, lr=3e-3, halt_max_steps=3)  # frequent halts: the queue and RNG streams matter
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_steps(config, straight, max_steps=10, checkpoint_every=4)
    run_steps(config, split, max_steps=5, checkpoint_every=4)
    run_steps(None, split, max_steps=10, checkpoint_every=4, resume=True)

    assert without_timing(metrics(split)) == without_timing(metrics(straight))
    assert sum(r["halted"] for r in metrics(straight)) > 8
    a = load_model(straight / "checkpoint-10.safetensors").state_dict()
    b = load_model(split / "checkpoint-10.safetensors").state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)
    state_a, _ = load_training_state(training_state_path(straight / "checkpoint-10.safetensors"))
    state_b, _ = load_training_state(training_state_path(split / "checkpoint-10.safetensors"))
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[key], state_b[key]) for key in state_a), "optimizer, carry, queue and RNG state"


def test_graduation_moves_through_the_stages(tmp_path):
    """Threshold 0: the window test always passes, so the run graduates every `min_steps` steps until stage 4.

    A step draws its fresh puzzles at the stage it trained at; a graduation applies from the next step.
    Rows of each kind must come from that kind's difficulty, and no kind may be drawn before its stage.
    """
    curriculum = CurriculumConfig(window=2, threshold=0.0, min_steps=3)
    run = new_run(tiny_config(batch=16, halt_max_steps=2, curriculum=curriculum), CPU, workers=1)
    queue = run.rows.queue

    def train_to(step):
        train(run, RunOptions(out_dir=tmp_path, max_steps=step, checkpoint_every=250, log_format="none"))
        consumed = queue.consumed.tolist()
        assert sum(consumed) == metrics(tmp_path)[-1]["puzzles"]
        for kind, difficulty in enumerate(TRAINING_DIFFICULTIES):
            # Slots 0.. hold the drawn rows (or, past the ring's size, newer rows of the same kind).
            clues = (queue.inputs[kind, : min(consumed[kind], queue.capacity)] > 0).sum(-1)
            lower, upper = difficulty.clue_range
            if difficulty == Difficulty.EXTREME:
                upper = 32  # removal stops where no clue can go, above the range's upper bound at times
            assert ((lower <= clues) & (clues <= upper)).all(), (difficulty, clues.tolist())
        return [r["stage"] for r in metrics(tmp_path)], consumed

    try:
        # Steps 1-3 drew at stage 0 (easy only), 4-6 at stage 1 (easy, medium), 7-8 at stage 2 (no extreme).
        stages, consumed = train_to(3)
        assert stages == [0, 0, 1] and consumed[0] > 16 and consumed[1:] == [0, 0, 0], consumed
        stages, consumed = train_to(8)
        assert stages == [0, 0, 1, 1, 1, 2, 2, 2]
        assert consumed[1] > 0 and consumed[3] == 0, consumed
        assert queue.written[3] > 0  # extreme rows wait in the queue for the step after a graduation to stage 3
        stages, consumed = train_to(16)
        assert stages == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4]
        assert all(c > 0 for c in consumed), consumed
    finally:
        run.close()


def test_non_finite_loss_stops_without_saving(tmp_path):
    run = new_run(tiny_config(), CPU, workers=1)
    try:
        run_dir = tmp_path
        train(run, RunOptions(out_dir=run_dir, max_steps=2, checkpoint_every=250, log_format="none"))
        with torch.no_grad():
            run.model.output_head.weight[0, 0] = float("nan")
        with pytest.raises(TrainingError, match=r"loss is nan at step 3"):
            train(run, RunOptions(out_dir=run_dir, max_steps=6, checkpoint_every=250, log_format="none"))
    finally:
        run.close()
    assert checkpoint_steps(tmp_path) == [1, 2]  # the last good state stays the newest checkpoint


REFERENCE = Path(__file__).parents[1] / "data" / "default_run_reference.json"
RECORDED = ("loss", "output_loss", "q_act_loss", "accuracy", "q_act_accuracy", "stage", "puzzles", "halted")


def reference_run(seed: int, out_dir) -> dict:
    """The run behind tests/data/default_run_reference.json: 40 steps of a tiny model with three graduations.

    The numbers were recorded with the trainer as it was before tasks existed (wired to the generator);
    the generated Sudoku task must reproduce them.
    """
    config = tiny_config(batch=16, lr=3e-3, halt_max_steps=4, seed=seed,
                         curriculum=CurriculumConfig(window=4, threshold=0.5, min_steps=6))
    run = run_steps(config, out_dir, max_steps=40)
    state = run.model.state_dict()
    weights = b"".join(state[name].float().contiguous().numpy().tobytes() for name in sorted(state))
    return {
        "records": [{key: record[key] for key in RECORDED} for record in metrics(out_dir)],
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "weight_sums": {name: float(value.double().sum()) for name, value in sorted(state.items())},
    }


@pytest.mark.parametrize("seed", [42, 7])
def test_the_sudoku_task_reproduces_the_numbers_recorded_before_tasks(tmp_path, seed):
    """Same losses, accuracies, halts, stages and puzzle counts, step by step, and the same weights."""
    expected = json.loads(REFERENCE.read_text())[str(seed)]
    found = reference_run(seed, tmp_path)
    assert [r["stage"] for r in found["records"]][-1] == 3  # the curriculum really moved
    for step, (want, got) in enumerate(zip(expected["records"], found["records"], strict=True), start=1):
        for key in ("stage", "puzzles", "halted"):
            assert got[key] == want[key], (step, key)
        for key in ("loss", "output_loss", "q_act_loss"):
            assert got[key] == pytest.approx(want[key], **RECORDED_FLOAT_TOLERANCE), (step, key)
        # 16 rows of 81 cells: a near-tie argmax may flip one cell, a Q logit near 0 one row.
        assert got["accuracy"] == pytest.approx(want["accuracy"], **count_fraction_tolerance(16 * 81, 2)), step
        assert got["q_act_accuracy"] == pytest.approx(want["q_act_accuracy"], **count_fraction_tolerance(16)), step
    for name, total in expected["weight_sums"].items():
        assert found["weight_sums"][name] == pytest.approx(total, rel=1e-4, abs=1e-5), name


if __name__ == "__main__":  # re-record (only when the default run is meant to change, which it is not)
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        json.dump({str(s): reference_run(s, Path(folder) / str(s)) for s in (42, 7)}, sys.stdout)


def test_a_run_saved_before_tasks_resumes_as_it_would_have(tmp_path):
    """tests/data/run-before-tasks: 3 steps saved by the trainer before tasks existed, and the steps 4-6 that
    trainer logged when resumed. Resumed now, the run logs the same steps."""
    import shutil

    saved = Path(__file__).parents[1] / "data" / "run-before-tasks"
    out_dir = tmp_path / "run"
    shutil.copytree(saved, out_dir)
    run = resume_run(out_dir, CPU, workers=1)
    try:
        assert run.task.name == "sudoku" and run.step == 3
        train(run, RunOptions(out_dir=out_dir, max_steps=6, checkpoint_every=250, log_format="none"))
    finally:
        run.close()
    expected = [json.loads(line) for line in (saved / "continued-to-step-6.jsonl").read_text().splitlines()]
    assert_records_match(metrics(out_dir)[3:], expected)


def test_one_segment_limit_trains_and_every_row_halts_by_its_second_segment(tmp_path):
    """halt_max_steps = 1: exploration's minimum cannot go past the limit (it used to fail to draw at all)."""
    run = run_steps(tiny_config(halt_max_steps=1), tmp_path, max_steps=6)
    assert int(run.carry.segments.max()) <= 1
    assert sum(r["halted"] for r in metrics(tmp_path)) >= 3 * 8
