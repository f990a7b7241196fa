"""train --init-from CKPT: a fresh run that starts from a checkpoint's weights (fine-tuning), on tiny CPU runs."""

import pytest
import torch
from test_train_options import TINY

from src.hrm.checkpoint import load_model, load_training_state, save_model, training_state_path
from src.hrm.modeling import HRMACTInner
from src.hrm.train import main
from src.hrm.file_io import file_sha256


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def source(tmp_path):
    """A tiny checkpoint trained for 3 steps with another seed than the runs below draw."""
    out = tmp_path / "source"
    assert main([*TINY, "--out-dir", str(out), "--max-steps", "3", "--seed", "7"]) == 0
    return out / "checkpoint-3.safetensors"


def test_a_run_starts_from_the_checkpoint_weights_with_a_fresh_optimizer(tmp_path, source):
    out = tmp_path / "tuned"
    assert main([*TINY, "--out-dir", str(out), "--max-steps", "1", "--init-from", str(source)]) == 0
    _, meta = load_training_state(training_state_path(out / "checkpoint-1.safetensors"))
    assert meta["config"]["init_from"] == {"path": str(source), "sha256": file_sha256(source)}
    tensors, _ = load_training_state(training_state_path(out / "checkpoint-1.safetensors"))
    # A fresh optimizer after one step: MLX AdamW's first moment is (1 - beta1) times the first gradient, so the
    # weights moved by at most lr * |m| / sqrt(v) ≈ lr * 0.1 / sqrt(0.05) per entry from the source's.
    before, after = load_model(source).state_dict(), load_model(out / "checkpoint-1.safetensors").state_dict()
    moved = max((after[name] - before[name]).abs().max().item() for name in before)
    assert 0 < moved <= 1e-3 * 0.1 / 0.05**0.5 * 1.01
    drawn = tmp_path / "drawn"
    assert main([*TINY, "--out-dir", str(drawn), "--max-steps", "1"]) == 0
    other = load_model(drawn / "checkpoint-1.safetensors").state_dict()
    assert max((other[name] - before[name]).abs().max().item() for name in before) > 0.05  # not the drawn weights
    assert any(key.startswith("optimizer.") for key in tensors)


def test_bf16_checkpoints_are_widened_and_halting_settings_may_change(tmp_path, source):
    half = tmp_path / "half.safetensors"
    save_model(load_model(source), half, dtype=torch.bfloat16)
    out = tmp_path / "tuned"
    argv = [*TINY, "--out-dir", str(out), "--max-steps", "1", "--init-from", str(half), "--halt-max-steps", "4",
            "--checkpoint-every", "1", "--lr", "1e-30"]  # fmt: skip
    assert main(argv) == 0
    tuned = load_model(out / "checkpoint-1.safetensors")
    assert tuned.config.act.halt_max_steps == 4
    widened, own = load_model(half).state_dict(), HRMACTInner(tuned.config).state_dict()
    for name, value in tuned.state_dict().items():
        assert value.dtype == own[name].dtype  # float32 but for the bf16 Q head and rotary tables
        torch.testing.assert_close(value, widened[name].to(value.dtype), rtol=0, atol=1e-20)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--hidden-size", "64"], "needs the same architecture; transformers differ"),
        (["--variant", "micro"], "--init-from takes the checkpoint's model size; drop --variant"),
        (["--task", "boardpath"], "needs the same architecture"),
    ],
)
def test_a_checkpoint_that_does_not_fit_is_one_line(tmp_path, source, capsys, extra, message):
    argv = [*TINY, "--out-dir", str(tmp_path / "tuned"), "--max-steps", "1", "--init-from", str(source), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "tuned").exists()


def test_resume_refuses_init_from_and_a_changed_file_is_refused(tmp_path, source, capsys):
    out = tmp_path / "tuned"
    assert main([*TINY, "--out-dir", str(out), "--max-steps", "1", "--init-from", str(source)]) == 0
    assert main([*TINY, "--out-dir", str(out), "--max-steps", "2", "--resume", "--init-from", str(source)]) == 2
    assert "a resumed run continues from its own weights" in capsys.readouterr().err
    # --resume alone goes on without reading the source again, even once it is gone
    source.unlink()
    assert main([*TINY, "--out-dir", str(out), "--max-steps", "2", "--resume"]) == 0
    assert main([*TINY, "--out-dir", str(tmp_path / "other"), "--init-from", str(source)]) == 2
    err = capsys.readouterr().err
    assert str(source) in err and len(err.strip().splitlines()) == 1


def test_a_file_changed_between_reading_and_loading_is_refused(tmp_path, source):
    from src.hrm.checkpoint import CheckpointError
    from src.hrm.training.run import load_initial_weights

    model = HRMACTInner(load_model(source).config)
    with pytest.raises(CheckpointError, match="changed since --init-from recorded it"):
        load_initial_weights(model, source, sha256="0" * 64)


def test_a_model_without_learned_positions_starts_a_run_on_another_grid_size(tmp_path):
    # Rotary tables are computed for the row length, not trained: a maze model of 4x4 grids (2-D tables) starts a
    # 6x6 run with every weight its own, and rotary tables of the new grid.
    maze = ["--task", "maze", "--min-path", "0"]
    small = tmp_path / "small"
    assert main([*TINY, *maze, "--maze-size", "4", "--pos-encoding", "rope2d", "--out-dir", str(small),
                 "--max-steps", "2"]) == 0  # fmt: skip
    source = small / "checkpoint-2.safetensors"
    big = tmp_path / "big"
    assert main([*TINY, *maze, "--maze-size", "6", "--init-from", str(source), "--out-dir", str(big),
                 "--max-steps", "1", "--lr", "1e-30"]) == 0  # fmt: skip
    before, after = load_model(source), load_model(big / "checkpoint-1.safetensors")
    assert (after.config.seq_len, after.config.pos_encoding) == (36, "rope2d")
    weights = {name: value for name, value in before.state_dict().items() if not name.startswith("rotary_emb.")}
    for name, value in weights.items():
        torch.testing.assert_close(after.state_dict()[name], value, rtol=0, atol=1e-20)
    assert after.rotary_emb.cos.shape[0] == 37 and torch.equal(after.rotary_emb.cos, after.config.rotary_tables().cos)


def test_learned_positions_tie_a_model_to_its_row_length(tmp_path, capsys):
    maze = ["--task", "maze", "--min-path", "0", "--pos-encoding", "learned"]
    small = tmp_path / "small"
    assert main([*TINY, *maze, "--maze-size", "4", "--out-dir", str(small), "--max-steps", "1"]) == 0
    argv = [*TINY, "--task", "maze", "--min-path", "0", "--maze-size", "6", "--out-dir", str(tmp_path / "big"),
            "--init-from", str(small / "checkpoint-1.safetensors")]  # fmt: skip
    assert main(argv) == 2
    assert "needs the same architecture; seq_len differ" in capsys.readouterr().err
