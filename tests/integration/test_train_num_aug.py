"""train --num-aug K on a tiny dataset: the setting is saved with the run, an epoch is K times the rows, a resumed
run is the uninterrupted one, and the flag is refused in one line where it makes no sense."""

import pytest
import torch
from test_train import metrics, without_timing
from test_train_options import TINY
from training_runs import train_exit_code, write_dataset

from src.hrm.checkpoint import load_training_state, training_state_path
from src.hrm.train import main


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def data(tmp_path):
    return write_dataset(tmp_path, 6)


def test_a_num_aug_run_counts_k_copies_an_epoch_and_resumes_exactly(tmp_path, data):
    flags = [*TINY, "--task", "sudoku-dataset", "--data", str(data), "--num-aug", "4", "--halt-max-steps", "2",
             "--checkpoint-every", "3"]  # fmt: skip
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main([*flags, "--out-dir", str(straight), "--max-steps", "10"]) == 0
    assert main([*flags, "--out-dir", str(split), "--max-steps", "4"]) == 0
    assert main([*flags, "--out-dir", str(split), "--max-steps", "10", "--resume"]) == 0
    records = metrics(straight)
    assert without_timing(metrics(split)) == without_timing(records)
    assert [r["epoch"] for r in records] == [pytest.approx(r["puzzles"] / 24, abs=1e-6) for r in records]
    assert records[-1]["epoch"] > 1  # into the second pass over the 4·6 copies
    a, meta = load_training_state(training_state_path(straight / "checkpoint-10.safetensors"))
    b, _ = load_training_state(training_state_path(split / "checkpoint-10.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert meta["config"]["task"]["num_aug"] == 4 and meta["rows"]["rows"] == 24
    assert train_exit_code([*flags, "--out-dir", str(split), "--max-steps", "11", "--resume", "--num-aug", "5"]) == 2


@pytest.mark.parametrize("extra, message", [
    (["--task", "sudoku-dataset", "--no-augment"], "--num-aug 4 fixes augmented copies of each row; drop --no-augment"),
    ([], "--num-aug applies to --task sudoku-dataset, not sudoku"),
    (["--task", "boardpath"], "--num-aug applies to --task sudoku-dataset, not boardpath"),
])  # fmt: skip
def test_num_aug_is_refused_in_one_line_where_it_makes_no_sense(tmp_path, data, capsys, extra, message):
    if "sudoku-dataset" in extra:
        extra = [*extra, "--data", str(data)]
    assert train_exit_code([*TINY, "--out-dir", str(tmp_path / "run"), "--max-steps", "1", "--num-aug", "4", *extra]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line
    assert not (tmp_path / "run").exists()
