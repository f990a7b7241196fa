"""The model options beyond the original in training, on tiny CPU runs: each trains, is saved in the checkpoint's
config, and is read back by infer, evaluate and analyze; resume is exact; the default run is untouched by them;
bad values and changes on resume are one-line errors."""

import json

import pytest
import torch
from test_train import metrics, without_timing
from test_train_options import TINY
from training_runs import one_line_error

from src.hrm.analyze import main as analyze
from src.hrm.checkpoint import load_model, load_training_state, read_metadata, training_state_path
from src.hrm.evaluate import main as evaluate
from src.hrm.infer import main as infer
from src.hrm.train import main
from src.hrm.train_args import config_from_args, parse_args

OPTIONS = {  # flags: what the saved config says
    "learned positions": (["--pos-encoding", "learned"], {"pos_encoding": "learned"}),
    "rope and learned positions": (["--pos-encoding", "rope+learned"], {"pos_encoding": "rope+learned"}),
    "2-D rotary tables": (["--pos-encoding", "rope2d"], {"pos_encoding": "rope2d"}),
    "dropout": (["--dropout", "0.2"], {"transformers": {"dropout": 0.2}}),
    "learned initial states": (["--learned-initial-states"], {"learned_initial_states": True}),
    "depths": (["--high-layers", "1", "--low-layers", "2"], {"transformers": {"high_layers": None, "low_layers": 2}}),
    "bf16 activations": (["--activation-dtype", "bfloat16"], {"activation_dtype": "bfloat16"}),
    "no continue value": (["--no-q-continue"], {"act": {"q_continue": False}}),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def train(out, *flags, steps=2, resume=False) -> int:
    return main(["--out-dir", str(out), "--max-steps", str(steps), *TINY, *flags, *(["--resume"] if resume else [])])


def saved_config(path) -> dict:
    return json.loads(read_metadata(path)["config"])


@pytest.mark.parametrize("name", OPTIONS)
def test_each_option_trains_is_saved_and_infer_evaluate_and_analyze_read_it(tmp_path, name, capsys):
    flags, expected = OPTIONS[name]
    out = tmp_path / "run"
    assert train(out, *flags, "--halt-max-steps", "3") == 0
    checkpoint = out / "checkpoint-2.safetensors"
    config = saved_config(checkpoint)
    for key, value in expected.items():  # the run's depth is --num-layers 1: the high level's --high-layers 1 is it
        assert ({k: config[key].get(k) for k in value} if isinstance(value, dict) else config[key]) == value
    model = load_model(checkpoint)
    _, meta = load_training_state(training_state_path(checkpoint))
    assert meta["config"]["model"] == model.config.to_dict()
    capsys.readouterr()
    assert infer([str(checkpoint), "easy", "--seed", "1", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["segments"]
    assert evaluate([str(checkpoint), "--difficulty", "easy", "--num", "4", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert analyze([str(checkpoint), "--out", str(tmp_path / "analysis"), "--num", "4", "--device", "cpu"]) == 0
    assert (tmp_path / "analysis" / "analysis.json").is_file()


def test_zero_dropout_and_default_depths_are_the_default_run(tmp_path):
    assert train(tmp_path / "default", steps=3) == 0
    same = ["--dropout", "0", "--high-layers", "1", "--low-layers", "1", "--pos-encoding", "rope"]
    assert train(tmp_path / "same", *same, steps=3) == 0
    assert without_timing(metrics(tmp_path / "same")) == without_timing(metrics(tmp_path / "default"))
    a, b = (tmp_path / run / "checkpoint-3.safetensors" for run in ("default", "same"))
    assert read_metadata(a) == read_metadata(b)
    x, y = load_model(a).state_dict(), load_model(b).state_dict()
    assert x.keys() == y.keys() and all(torch.equal(x[name], y[name]) for name in x)


def test_dropout_changes_training_but_not_evaluation(tmp_path, capsys):
    assert train(tmp_path / "plain", steps=1) == 0
    assert train(tmp_path / "dropout", "--dropout", "0.3", steps=1) == 0
    # The same drawn weights (dropout has none) and rows: only the masks make the first step's loss differ.
    assert metrics(tmp_path / "dropout")[0]["output_loss"] != metrics(tmp_path / "plain")[0]["output_loss"]
    checkpoint = tmp_path / "dropout" / "checkpoint-1.safetensors"
    runs = []
    for _ in range(2):
        capsys.readouterr()
        assert evaluate([str(checkpoint), "--difficulty", "easy", "--num", "4", "--device", "cpu", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        runs.append({key: value for key, value in report.items() if "second" not in key})  # not the timings
    assert runs[0] == runs[1] and runs[0]["num_puzzles"] == 4


@pytest.mark.parametrize("flags", [["--dropout", "0.2"], ["--learned-initial-states"],
                                   ["--pos-encoding", "rope+learned", "--dropout", "0.1", "--learned-initial-states",
                                    "--high-layers", "2"],
                                   ["--activation-dtype", "bfloat16", "--no-q-continue"]])  # fmt: skip
def test_resume_equals_the_run_that_did_not_stop(tmp_path, flags):
    assert train(tmp_path / "straight", *flags, steps=4) == 0
    assert train(tmp_path / "split", *flags, steps=2) == 0
    torch.manual_seed(1234)  # whatever this process drew since, the resumed run draws the masks the straight one did
    torch.rand(7)
    assert train(tmp_path / "split", steps=4, resume=True) == 0
    assert without_timing(metrics(tmp_path / "split")) == without_timing(metrics(tmp_path / "straight"))
    a, b = (load_model(tmp_path / run / "checkpoint-4.safetensors").state_dict() for run in ("straight", "split"))
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_learned_initial_states_move_in_training_and_the_default_ones_do_not(tmp_path):
    for flags, moves in (([], False), (["--learned-initial-states"], True)):
        out = tmp_path / ("learned" if moves else "default")
        assert train(out, *flags, "--checkpoint-every", "1", steps=3) == 0
        first, last = (load_model(out / f"checkpoint-{step}.safetensors") for step in (1, 3))
        for level in ("high_level", "low_level"):
            before = getattr(first.initial_hidden_states_params, level)
            after = getattr(last.initial_hidden_states_params, level)
            assert torch.equal(before, after) != moves, (flags, level)


def test_bad_values_and_changes_on_resume_are_one_line(tmp_path, capsys):
    fresh = ["--out-dir", str(tmp_path / "fresh"), "--max-steps", "1", *TINY]
    assert "--dropout: must be at least 0 and below 1, got 1" in one_line_error(capsys, [*fresh, "--dropout", "1"])
    assert "got -0.1" in one_line_error(capsys, [*fresh, "--dropout", "-0.1"])
    assert "invalid choice: 'alibi'" in one_line_error(capsys, [*fresh, "--pos-encoding", "alibi"])
    assert "--high-layers: must be a positive integer, got 0" in one_line_error(capsys, [*fresh, "--high-layers", "0"])
    assert "--low-layers" in one_line_error(capsys, [*fresh, "--low-layers", "x"])
    assert not (tmp_path / "fresh").exists()

    out = tmp_path / "run"
    assert train(out, "--dropout", "0.1", "--low-layers", "2") == 0
    resumed = ["--out-dir", str(out), "--resume", "--max-steps", "3", *TINY]
    assert "--dropout 0.2 differs from the resumed run's 0.1" in one_line_error(capsys, [*resumed, "--dropout", "0.2"])
    assert "--pos-encoding learned differs from the resumed run's rope" in one_line_error(
        capsys, [*resumed, "--pos-encoding", "learned"])
    assert "--learned-initial-states True differs from the resumed run's False" in one_line_error(
        capsys, [*resumed, "--learned-initial-states"])
    assert "--low-layers 1 differs from the resumed run's 2" in one_line_error(capsys, [*resumed, "--low-layers", "1"])
    assert "--no-q-continue: the resumed run trains the continue Q value" in one_line_error(
        capsys, [*resumed, "--no-q-continue"])
    assert "--activation-dtype bfloat16 differs from the resumed run's float32" in one_line_error(
        capsys, [*resumed, "--activation-dtype", "bfloat16"])
    # The run's own values are no change: its high level is --num-layers 1 deep.
    assert main([*resumed, "--dropout", "0.1", "--high-layers", "1", "--low-layers", "2", "--pos-encoding", "rope"]) == 0


def test_init_from_treats_the_options_as_architecture(tmp_path, capsys):
    assert train(tmp_path / "source") == 0
    source = tmp_path / "source" / "checkpoint-2.safetensors"
    tuned = ["--out-dir", str(tmp_path / "tuned"), "--max-steps", "1", *TINY, "--init-from", str(source)]
    for flags, differ in ((["--pos-encoding", "rope+learned"], "pos_encoding differ"),
                          (["--learned-initial-states"], "learned_initial_states differ"),
                          (["--dropout", "0.1"], "transformers differ"),
                          (["--low-layers", "2"], "transformers differ")):  # fmt: skip
        assert f"needs the same architecture; {differ}" in one_line_error(capsys, [*tuned, *flags])
    assert not (tmp_path / "tuned").exists()
    assert main([*tuned, "--high-layers", "1"]) == 0  # as deep as the source: the same architecture


def test_the_flags_land_in_the_model_config():
    config = config_from_args(parse_args(["--pos-encoding", "learned", "--dropout", "0.25", "--learned-initial-states",
                                          "--num-layers", "3", "--high-layers", "5"]))  # fmt: skip
    model, t = config.model, config.model.transformers
    assert (model.pos_encoding, model.learned_initial_states) == ("learned", True)
    assert (t.dropout, t.num_layers, t.high_layers, t.low_layers, t.depths) == (0.25, 3, 5, None, (5, 3))
    assert config_from_args(parse_args([])).model == config_from_args(parse_args(["--low-layers", "4"])).model
    two = config_from_args(parse_args(["--num-layers", "2"])).model
    assert config_from_args(parse_args(["--high-layers", "2", "--low-layers", "2"])).model == two
