"""Fuzzing the commands' flags through their `main(argv)`: random choices of flags, each with a good, odd or bad
value. A command either works (and a training run gets the settings it was given) or says what is wrong in one
line (argparse's exit 2, or `error:` and exit 2); never a traceback, never another exception."""

import json

import pytest
import torch
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from src.hrm import evaluate, infer, train
from src.hrm.boardpath import board_to_string
from src.hrm.checkpoint import save_model
from src.hrm.modeling import HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.sudoku import generate_batch
from src.hrm.sudoku.files import write_puzzle_csv
from src.hrm.tasks import build_task

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
# (good values, bad values) of each kind of flag; a flag mostly gets a good one, so that a run gets far.
BAD = ["0", "-1", "x", "", "1.5", "\u0663", "nan"]
SMALL = (["1", "2", " 2"], BAD)  # no value that would make a command run for long
INT = (["1", "2", "3", "9223372036854775807"], [*BAD, "99999999999999999999"])
NUMBER = (["0.5", "1e-3", "1"], ["0", "-1", "nan", "inf", "x", "", "1.5"])
SIZE = (["2", "4", "8", "32"], ["0", "-1", "x", "3"])
PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu", "--log-format", "none"]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Checkpoints of both tasks, puzzle and board files good and bad, a finished run, a folder, a corrupt file."""
    folder = tmp_path_factory.mktemp("cli")
    tiny = dict(transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64))
    torch.manual_seed(0)
    save_model(HRMACTInner(HRMACTModelConfig(**tiny)), folder / "sudoku.safetensors",
               metadata={"task": json.dumps(build_task(None).settings())})  # fmt: skip
    boards = build_task({"name": "boardpath", "board_size": 4, "min_path": 1})
    config = HRMACTModelConfig(seq_len=boards.seq_len, vocab_size=boards.vocab_size, **tiny)
    save_model(HRMACTInner(config), folder / "boardpath.safetensors", metadata={"task": json.dumps(boards.settings())})
    board, _ = boards.boards(1, 0)
    (folder / "board.txt").write_text(board_to_string(board[0], 4))
    (folder / "big-board.txt").write_text("S....\n.....\n.....\n.....\n....E\n")
    (folder / "walled-board.txt").write_text("S.#.\n..#.\n###.\n...E\n")
    (folder / "bad-board.txt").write_text("S..\n.x.\n..E\n")
    puzzles, solutions = generate_batch([1, 1, 2], seed=1, workers=1)
    write_puzzle_csv(folder / "good.csv", puzzles, solutions, [0, 5, 12], "fuzz")
    lines = (folder / "good.csv").read_text().splitlines()
    (folder / "bad.csv").write_text("\n".join([lines[0], lines[1], lines[2][:-3], lines[3]]) + "\n")
    (folder / "corrupt.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    (folder / "empty.csv").write_text("")
    (folder / "dir").mkdir()
    assert train.main(["--out-dir", str(folder / "run"), "--max-steps", "1", *TINY]) == 0
    return folder


def flags(options: dict) -> st.SearchStrategy:
    """Some of `options` in any order, each with a value: good four times in five (None: a flag without one)."""

    def value(name):
        good, bad = options[name]
        pick = st.integers(0, 4).flatmap(lambda roll: st.sampled_from(good if roll or not bad else bad))
        return pick.map(lambda v: [name] if v is None else [name, v])

    chosen = st.lists(st.sampled_from(sorted(options)), max_size=5, unique=True)
    return chosen.flatmap(lambda names: st.tuples(*map(value, names))).map(lambda parts: sum(parts, []))


def outcome(main, argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    except Exception as err:  # noqa: BLE001 - the property is that nothing escapes
        pytest.fail(f"{type(err).__name__} from {argv}: {str(err)[:300]}")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code in (0, 1, 2), (code, argv, err)  # 1: a file that could not be written after the work was done
    if code != 0:
        assert len(lines) == 1 and "error: " in lines[0], (argv, err)
    assert "Traceback" not in err, (argv, err)
    if currently_in_test_context():
        event(f"exit {code}")
    return code, err


NEW_RUN = train.new_run


class _Sizable(BaseException):
    """A run this test would rather not build (a named large variant, or a depth such as "\u0663", which int() reads as
    3): its config was accepted. A BaseException, so that `outcome` lets it through to the test."""


@FUZZ
@given(data=st.data())
def test_train_flags(files, tmp_path, monkeypatch, capsys, data):
    runs = []

    def small_new_run(config, device, workers=None, ranks=None, task=None):
        t = config.model.transformers
        if t.hidden_size > 128 or max(t.num_layers, *t.depths) > 2:
            raise _Sizable
        return NEW_RUN(config, device, workers, ranks, task)

    monkeypatch.setattr(train, "new_run", small_new_run)
    monkeypatch.setattr(train, "train", lambda run, options: runs.append((run, options)))
    out = data.draw(st.sampled_from(["new"] * 6 + ["run"] * 2 + ["good.csv", "/proc/hrm-run"]))
    out_dir = tmp_path / f"new-{len(list(tmp_path.iterdir()))}" if out == "new" else files / out
    data_files = ([str(files / "good.csv")], [str(files / n) for n in ("bad.csv", "empty.csv", "missing.csv", "dir")])
    common = {
        "--max-steps": INT, "--max-minutes": NUMBER, "--checkpoint-every": INT,
        "--keep-checkpoints": (["1", "3", "all"], ["ALL", *BAD]), "--keep-every": INT,
        "--device": (["cpu"], ["cuda", "gpu"]), "--precision": (["auto", "bf16", "fp32"], ["fp16"]),
        "--compile": (["off"], ["x"]), "--workers": SMALL, "--log-format": (["none"], ["x"]), "--batch-size": SIZE,
        "--lr": NUMBER, "--optimizer": (["mlx-adamw", "torch-adamw"], ["sgd"]),
        "--seed": (["0", *INT[0]], [*BAD, "99999999999999999999"]),
        "--hidden-size": SIZE, "--num-heads": SIZE, "--num-layers": SMALL, "--intermediate-size": SIZE,
        "--high-cycles": SMALL, "--low-cycles": SMALL, "--halt-max-steps": INT, "--halt-exploration": NUMBER,
        "--fixed-segments": INT, "--variant": (["tiny", "micro"], ["x"]),
        "--high-layers": SMALL, "--low-layers": SMALL, "--pos-encoding": (["rope", "learned", "rope+learned"], ["x"]),
        "--dropout": (["0", "0.1", "0.5"], ["1", "-0.1", "nan", "x", ""]), "--learned-initial-states": ([None], []),
        "--halt-exploration-schedule": (["0.5:0.1:10", "0:1:1"], ["0.5:0.1", "2:0:5", "0.5:0.1:0", *BAD]),
        "--halt-max-steps-schedule": (["1:5", "2:1"], ["0:5", "3", "x:1", "1:5:5", *BAD]),
    }  # fmt: skip
    own = {
        "sudoku": {"--curriculum-window": (["1", "2", "300"], INT[1]), "--graduation-threshold": NUMBER,
                   "--graduation-min-steps": INT, "--start-stage": (["0", "4"], ["5", *BAD])},
        "sudoku-dataset": {"--data": data_files, "--min-rating": (["0", *INT[0]], INT[1]), "--max-rating": INT,
                           "--train-size": SMALL, "--no-augment": ([None], []), "--max-epochs": NUMBER,
                           "--num-aug": SMALL},
        "boardpath": {"--board-size": (["2", "3", "4"], BAD), "--wall-prob": (["0", "0.5"], NUMBER[1]),
                      "--min-path": SMALL},
    }  # fmt: skip
    task = data.draw(st.sampled_from(sorted(own)))
    foreign = data.draw(st.sampled_from(["", "--data", "--board-size", "--start-stage", "--max-epochs"]))
    options = {**common, **own[task], **({foreign: own["sudoku-dataset"].get(foreign, SMALL)} if foreign else {})}
    resume = ["--resume"] if out == "run" and data.draw(st.booleans()) else []
    task_flag = [] if resume and data.draw(st.booleans()) else ["--task", task]
    task_flag += ["--data", str(files / "good.csv")] if task_flag[1:] == ["sudoku-dataset"] else []
    argv = ["--out-dir", str(out_dir), *resume, *TINY, *task_flag, *data.draw(flags(options))]
    try:
        code, _ = outcome(train.main, argv, capsys)
    except _Sizable:
        return
    if code == 0 and runs and not resume:  # the run has the settings it was given
        run, run_options = runs[0]
        last = {flag: argv[len(argv) - argv[::-1].index(flag)] for flag in argv if flag.startswith("--")
                and argv.index(flag) + 1 < len(argv) and not argv[len(argv) - argv[::-1].index(flag)].startswith("--")}
        t = run.config.model.transformers
        found = {"--hidden-size": t.hidden_size, "--num-heads": t.num_heads, "--batch-size": run.config.batch_size,
                 "--seed": run.config.seed, "--keep-checkpoints": run_options.keep_checkpoints,
                 "--keep-every": run_options.keep_every, "--max-steps": run_options.max_steps}  # fmt: skip
        for flag, value in found.items():
            if flag in last and not ("--variant" in last and flag in ("--hidden-size", "--num-heads")):
                assert value == (None if last[flag] == "all" else int(last[flag])), (flag, last[flag], value)
        assert run.config.model.pos_encoding == last.get("--pos-encoding", "rope")
        assert t.dropout == float(last.get("--dropout", 0))
    for run, _ in runs:
        run.close()


def checkpoint_and_base(files, data, bases: dict) -> list[str]:
    """A checkpoint (mostly a good one) and the arguments its task needs (mostly right)."""
    kind = data.draw(st.sampled_from(["sudoku"] * 3 + ["boardpath"] * 2 + ["bad"]))
    if kind == "bad":
        names = ["missing.safetensors", "dir", "corrupt.safetensors", "run/checkpoint-1.state.safetensors"]
        return [str(files / data.draw(st.sampled_from(names)))]
    return [str(files / f"{kind}.safetensors"), *data.draw(st.sampled_from(bases[kind]))]


@FUZZ
@given(data=st.data())
def test_infer_flags(files, capsys, data):
    options = {
        "--puzzle": ([PUZZLE, "." * 81, PUZZLE.replace("..7", "7.7", 1)], [PUZZLE[:80], PUZZLE.replace("53", "55", 1), ""]),
        "--board": ([str(files / "board.txt")], [str(files / n) for n in ("big-board.txt", "walled-board.txt",
                    "bad-board.txt", "missing.txt", "dir", "good.csv")]),
        "--seed": (["0", "-1", *INT[0]], BAD), "--max-segments": SMALL, "--no-halt": ([None], []),
        "--show-changes": ([None], []), "--json": ([None], []),
        "--gif": ([str(files / "out.gif")], ["/proc/hrm/out.gif", "/proc/out.gif", str(files / "dir")]),
        "--html": ([str(files / "out.html")], ["/proc/hrm/out.html", str(files / "dir")]),
        "--views": (["1", "2", "4"], ["9", "0", "-1"]), "--early-stop": (["1", "2"], ["0", "-1", "x"]),
        "--ensemble": ([str(files / "sudoku.safetensors")], [str(files / n) for n in ("boardpath.safetensors",
                       "missing.safetensors", "corrupt.safetensors", "dir")] + [""]),
        "--device": (["cpu"], ["cuda", "x"]), "--precision": (["fp32", "bf16"], ["x"]),
    }  # fmt: skip
    bases = {"sudoku": [["easy"], ["extreme"], ["EASY "], [], ["x"]], "boardpath": [[], [], ["easy"]]}
    argv = [*checkpoint_and_base(files, data, bases), "--device", "cpu", *data.draw(flags(options))]
    outcome(infer.main, argv, capsys)


@FUZZ
@given(data=st.data())
def test_evaluate_flags(files, capsys, data):
    options = {
        "--difficulty": (["easy", "easy,medium", "very-easy"], ["easy,easy", "", ",", "x"]),
        "--data": ([str(files / "good.csv")], [str(files / n) for n in ("bad.csv", "empty.csv", "missing.csv", "dir")]),
        "--num": SMALL, "--seed": (["0", "-1", *INT[0]], BAD), "--workers": SMALL, "--limit": INT,
        "--min-rating": INT, "--max-rating": INT, "--rating-buckets": (["0,10", "0", "1,2,3"], ["10,0", "x", ""]),
        "--min-path": SMALL, "--batch-size": INT, "--segments": SMALL, "--views": (["1", "2", "8"], ["9", "0", "-1"]),
        "--max-segments": SMALL, "--early-stop": (["1", "2"], ["0", "-1", "x"]),
        "--ensemble": ([str(files / "sudoku.safetensors")], [str(files / n) for n in ("boardpath.safetensors",
                       "missing.safetensors", "corrupt.safetensors", "dir")] + [""]),
        "--views-curve": (["1,2"], ["0,1", "x", ""]), "--curve-out": ([str(files / "curve")], ["/proc/hrm/curve"]),
        "--device": (["cpu"], ["cuda", "x"]), "--precision": (["fp32", "bf16"], []), "--json": ([None], []),
    }  # fmt: skip
    good_csv = str(files / "good.csv")
    bases = {"sudoku": [["--difficulty", "easy"], ["--data", good_csv], []], "boardpath": [[], [], ["--data", good_csv]]}
    argv = [*checkpoint_and_base(files, data, bases), "--device", "cpu", "--num", "2", *data.draw(flags(options))]
    outcome(evaluate.main, argv, capsys)


@pytest.mark.parametrize("checkpoint,task", [("sudoku", ["easy"]), ("boardpath", [])])
def test_a_gif_that_cannot_be_written_is_one_line(files, capsys, checkpoint, task):
    """The folder exists, so nothing tells before the segments have run (/proc takes no new file)."""
    argv = [str(files / f"{checkpoint}.safetensors"), *task, "--device", "cpu", "--gif", "/proc/out.gif"]
    assert outcome(infer.main, argv, capsys) == (1, "infer: error: --gif /proc/out.gif: No such file or directory\n")
