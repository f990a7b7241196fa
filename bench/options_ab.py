"""A/B of the options beyond the original: the default run and each option trained for the same wall-clock budget
with the same seed, then scored on the same puzzles.

    python bench/options_ab.py --minutes 1 --out runs/options-ab             # one GPU: the variants below
    python bench/options_ab.py --variant default: --variant dropout:"--dropout 0.1" \
        --variant rope+learned:"--pos-encoding rope+learned"                 # variants of your own
    python bench/options_ab.py --common "--task sudoku-dataset --data hard.csv" --variant default: \\
        --variant num-aug:"--num-aug 8"                                      # a dataset option against a dataset run
    python bench/options_ab.py --tiny --out /tmp/ab                          # the CPU, a tiny model: checks the script
    python bench/options_ab.py --common "--init-from CKPT ..." --parallel 4 \
        --test-data data/sudoku-few-givens-test.csv --variant ...           # fine-tuning legs, side by side on one GPU
    python bench/options_ab.py --more --minutes 5 ...                       # every leg 5 minutes further (--resume)

A variant is `NAME:FLAGS`, train flags as a shell would split them (`default:` has none). Each variant is a real
`python -m src.hrm.train` run in a fresh process (`--max-minutes M --seed S`, the --common flags, then its own;
generated Sudoku unless --common says otherwise) into OUT/NAME/run. Its final checkpoint is then scored in this
process, under ACT halting as `evaluate` scores it: on --extreme generated extreme puzzles (seed --eval-seed) and on
the first --mined puzzles of each rating bucket (10-49, 50+) of data/sudoku-mined-test.csv, the same puzzles for
every variant. A variant that fails (a flag not landed yet, a refused combination) is recorded with its one-line
error, and the others go on. With --test-data FILE, each is also scored on the first --test-num puzzles of FILE,
per givens count too. --parallel N trains N variants at a time (on one GPU, sharing it: compare their steps, not only
their minutes). --more resumes every variant's run for --minutes more instead of starting it, and scores it again:
legs of one budget chained over several commands.

Writes OUT/results.json (the settings; per variant its flags, status, steps, curriculum stage reached, training
minutes and solve rates) and OUT/accuracy.png (a panel per variant: its accuracy curve against the baseline's over
wall-clock minutes), both rewritten after every variant. A variant whose OUT/NAME/result.json exists is not run
again (--redo runs it again), so the same command, given again, goes on where a stopped one left off; variants that
would end past --total-minutes are left for that next command. The runs are eager by default (--compile off): a
compile takes a large and uneven share of a budget of a minute or two; --compile on for longer budgets.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from src.hrm.checkpoint import load_model  # noqa: E402
from src.hrm.evaluation.inference import compute_metrics, evaluate_puzzles  # noqa: E402
from src.hrm.file_io import save_figure  # noqa: E402
from src.hrm.plot_metrics import read_metrics, rolling_mean  # noqa: E402
from src.hrm.sudoku import Difficulty, generate_batch  # noqa: E402
from src.hrm.sudoku.files import read_puzzle_file  # noqa: E402

# Every option of issue 21, each at a value worth trying; the schedules end within a 1.5-minute eager budget.
DEFAULT_VARIANTS = (
    "default:",
    "learned-pos:--pos-encoding learned",
    "dropout:--dropout 0.1",
    "learned-init:--learned-initial-states",
    "layers-2-2:--high-layers 2 --low-layers 2",
    "explore-anneal:--halt-exploration-schedule 0.5:0.1:600",
    "act-curriculum:--halt-max-steps-schedule 2:600",
)
TINY = ["--hidden-size", "32", "--num-heads", "2", "--num-layers", "1", "--intermediate-size", "64",
        "--batch-size", "8", "--workers", "1", "--device", "cpu"]  # fmt: skip
MINED = REPO / "data" / "sudoku-mined-test.csv"
BUCKETS = {"10-49": (10, 49), "50+": (50, None)}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def parse_variant(text: str) -> tuple[str, list[str]]:
    """NAME:FLAGS -> (name, flags)."""
    name, colon, flags = text.partition(":")
    if not colon or not NAME.match(name):
        raise argparse.ArgumentTypeError(f"expected NAME:FLAGS with a NAME of letters, digits, . _ + -, got {text!r}")
    try:
        return name, shlex.split(flags)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None


def mined_subset(per_bucket: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first `per_bucket` puzzles of each rating bucket of the mined test set: puzzles, solutions, bucket names."""
    rows = read_puzzle_file(MINED)
    keep, names = [], []
    for name, (low, high) in BUCKETS.items():
        inside = np.flatnonzero((rows.ratings >= low) & (rows.ratings <= (high if high is not None else 10**9)))
        keep.extend(inside[:per_bucket])
        names += [name] * len(inside[:per_bucket])
    keep = np.array(keep)
    return rows.puzzles[keep], rows.solutions[keep], np.array(names)


def scores(model, puzzles, solutions, device, groups=None) -> dict:
    """Solve rate and the rest under ACT halting, as `evaluate` reports them (bf16 autocast on CUDA)."""
    act = model.config.act
    limit = act.fixed_segments or act.halt_max_steps
    autocast = torch.bfloat16 if device.type == "cuda" else None
    predictions = evaluate_puzzles(model, puzzles, limit, limit, 1024, device, autocast)
    result = _brief(compute_metrics(puzzles, solutions, predictions).to_dict())
    if groups is not None:
        key = "per_rating" if set(groups) <= set(BUCKETS) else "per_group"
        result[key] = {
            name: _brief(compute_metrics(puzzles[rows], solutions[rows], predictions.select(rows)).to_dict())
            for name in (BUCKETS if key == "per_rating" else sorted(set(groups), key=lambda n: (len(n), n)))
            if (rows := groups == name).any()
        }
    return result


def givens_groups(puzzles: np.ndarray) -> np.ndarray:
    """Each puzzle's givens count as a group name."""
    return np.array([str(n) for n in np.count_nonzero(puzzles, axis=1)])


def score_variant(checkpoint: str, device, extreme, mined, test) -> dict:
    """The variant's scores on every puzzle set; a model these puzzles do not fit: status failed, its one line."""
    try:
        model = load_model(checkpoint, device).eval()
        result = {"extreme": scores(model, *extreme, device), "mined": scores(model, *mined[:2], device, mined[2])}
        if test is not None:
            result["test"] = scores(model, *test[:2], device, test[2])
        del model
    except Exception as err:  # e.g. another task's checkpoint: its line, and the others go on
        return {"status": "failed", "error": f"scoring: {type(err).__name__}: {str(err).splitlines()[0]}"}
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the next variants' runs have the GPU to themselves
    return result


def _brief(metrics: dict) -> dict:
    keys = ("num_puzzles", "act_solve_rate", "act_cell_accuracy", "mean_act_segments", "q_halt_precision")
    return {key: metrics[key] for key in keys}


def train_command(flags: list[str], args, folder: Path) -> list[str]:
    """The variant's train command: a fresh run into folder/run, or with --more that run resumed."""
    run_dir = folder / "run"
    if args.more:  # the run's own settings; only the budget and how it runs are given
        return [sys.executable, "-m", "src.hrm.train", "--resume", "--out-dir", str(run_dir), "--max-minutes",
                str(args.minutes), "--log-format", "none", "--checkpoint-every", "1000000", "--keep-checkpoints", "1",
                "--compile", args.compile, *(["--workers", "1", "--device", "cpu"] if args.tiny else [])]  # fmt: skip
    if run_dir.exists():  # a run cut off before its result was written: start it afresh
        shutil.rmtree(run_dir)
    return [
        sys.executable, "-m", "src.hrm.train", "--out-dir", str(run_dir), "--max-minutes", str(args.minutes),
        "--seed", str(args.seed), "--log-format", "none", "--checkpoint-every", "1000000", "--keep-checkpoints", "1",
        "--compile", args.compile, *(TINY if args.tiny else []), *args.common, *flags,
    ]  # fmt: skip


def start_variant(name: str, flags: list[str], args, folder: Path):
    """The variant's training run started in a fresh process: (record so far, process, start time)."""
    command = train_command(flags, args, folder)
    record = {"name": name, "flags": flags, "command": shlex.join(["python", *command[1:]])}
    env = {**os.environ, "OMP_NUM_THREADS": "1"} if args.tiny else None  # a tiny model steps fastest on one thread
    log = open(folder / "train.log", "w")  # noqa: SIM115 (closed in finish_variant)
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    return record, process, time.monotonic(), log


def finish_variant(record: dict, process, started: float, log, folder: Path) -> dict:
    """Wait for a started variant; its record (status, steps, stage, minutes, checkpoint)."""
    process.wait()
    log.close()
    run_dir = folder / "run"
    record["wall_seconds"] = round(time.monotonic() - started, 1)
    if process.returncode != 0:
        lines = [line for line in (folder / "train.log").read_text().splitlines() if line.strip()]
        record.update(status="failed", error=lines[-1] if lines else f"exit code {process.returncode}")
        return record
    metrics = read_metrics(run_dir / "metrics.jsonl")
    step = int(metrics.step[-1])
    record.update(
        status="ok", steps=step, train_minutes=round(float(metrics.elapsed[-1]) / 60, 3),
        checkpoint=str(run_dir / f"checkpoint-{step}.safetensors"),
    )  # fmt: skip
    if metrics.progress == "stage":
        record["stage"] = int(metrics.values["stage"][-1])
    elif metrics.progress == "epoch":
        record["epoch"] = round(float(metrics.values["epoch"][-1]), 3)
    return record


def plot(records: list[dict], baseline: str, out: Path, window: int) -> None:
    """A panel per variant but the baseline: accuracy (a rolling mean) against wall-clock minutes, beside the
    baseline's; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {}
    for r in records:
        if r.get("status") == "ok":
            m = read_metrics(Path(r["checkpoint"]).parent / "metrics.jsonl")
            curves[r["name"]] = (m.elapsed / 60, rolling_mean(m.values["accuracy"], window))
    others = [r for r in records if r["name"] != baseline]
    if not others:
        return
    columns = min(3, len(others))
    rows = -(-len(others) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False, sharey=True)
    for axis, r in zip(axes.flat, others):
        if baseline in curves:
            axis.plot(*curves[baseline], color="grey", linewidth=1.2, label=f"{baseline}{_rates(records, baseline)}")
        if r["name"] in curves:
            axis.plot(*curves[r["name"]], color="tab:blue", linewidth=1.4, label=f"{r['name']}{_rates(records, r)}")
        else:
            axis.text(0.5, 0.5, r.get("error", r.get("status", "")), wrap=True, ha="center", va="center",
                      fontsize=7, transform=axis.transAxes)  # fmt: skip
        axis.set_title(" ".join(r["flags"]) or r["name"], fontsize=9)
        axis.set_xlabel("wall-clock minutes")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7, loc="lower right")
    for axis in axes[:, 0]:
        axis.set_ylabel(f"cell accuracy ({window}-step mean)")
    for axis in list(axes.flat)[len(others):]:
        axis.set_visible(False)
    save_figure(figure, out, dpi=100)


def _rates(records: list[dict], record) -> str:
    """ ': N steps, extreme x%, mined y%, stage s' for a legend."""
    if isinstance(record, str):
        record = next(r for r in records if r["name"] == record)
    parts = [f"{record['steps']} steps"] if "steps" in record else []
    for key in ("extreme", "mined", "test"):
        rate = record.get(key, {}).get("act_solve_rate")
        if rate is not None:
            parts.append(f"{key} {100 * rate:.1f}%")
    if "stage" in record:
        parts.append(f"stage {record['stage']}")
    return f": {', '.join(parts)}" if parts else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", type=parse_variant, action="append", metavar="NAME:FLAGS",
                        help=f"a variant (repeat; default: {', '.join(v.split(':')[0] for v in DEFAULT_VARIANTS)})")
    parser.add_argument("--common", type=shlex.split, default=[], metavar="FLAGS", help="train flags of every variant")
    parser.add_argument("--baseline", help="the variant drawn against the others (default: default, else the first)")
    parser.add_argument("--minutes", type=float, help="each variant's --max-minutes (default: 1; --tiny: 0.05)")
    parser.add_argument("--total-minutes", type=float, default=9.0,
                        help="start no variant that would end past this many minutes of this command (default 9)")
    parser.add_argument("--seed", type=int, default=42, help="every variant's --seed (default 42)")
    parser.add_argument("--compile", choices=("auto", "on", "off", "cudagraphs"), default="off")
    parser.add_argument("--extreme", type=int, help="generated extreme puzzles to score (default 1000; --tiny: 20)")
    parser.add_argument("--mined", type=int, help="mined puzzles per rating bucket (default 100; --tiny: 10)")
    parser.add_argument("--eval-seed", type=int, default=5, help="seed of the extreme puzzles (default 5)")
    parser.add_argument("--window", type=int, help="rolling-mean window of the curves in steps (default 100; --tiny 5)")
    parser.add_argument("--test-data", type=Path, metavar="FILE",
                        help="also score on this puzzle file (e.g. data/sudoku-few-givens-test.csv), per givens too")
    parser.add_argument("--test-num", type=int, default=1000, help="first puzzles of --test-data (default 1000)")
    parser.add_argument("--parallel", type=int, default=1, metavar="N", help="variants trained at a time (default 1)")
    parser.add_argument("--more", action="store_true",
                        help="resume every variant's run for --minutes more (and score it again) instead of starting")
    parser.add_argument("--out", type=Path, default=Path("runs/options-ab"))
    parser.add_argument("--redo", action="store_true", help="run again the variants that have a result")
    parser.add_argument("--tiny", action="store_true", help="a tiny model on the CPU, to check the script")
    args = parser.parse_args()
    variants = args.variant or [parse_variant(v) for v in DEFAULT_VARIANTS]
    names = [name for name, _ in variants]
    if len(set(names)) != len(names):
        parser.error(f"variant names repeat: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    baseline = args.baseline or ("default" if "default" in names else names[0])
    if baseline not in names:
        parser.error(f"--baseline {baseline} is not among the variants ({', '.join(names)})")
    args.minutes = args.minutes or (0.05 if args.tiny else 1.0)
    num_extreme = args.extreme or (20 if args.tiny else 1000)
    per_bucket = args.mined or (10 if args.tiny else 100)
    window = args.window or (5 if args.tiny else 100)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    if args.tiny:
        torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    extreme, extreme_solutions = generate_batch([Difficulty.EXTREME] * num_extreme, seed=args.eval_seed,
                                                workers=1 if args.tiny else None)  # fmt: skip
    mined, mined_solutions, buckets = mined_subset(per_bucket)
    test = None
    if args.test_data is not None:
        rows = read_puzzle_file(args.test_data, limit=args.test_num)
        test = (rows.puzzles, rows.solutions, givens_groups(rows.puzzles))
    settings = {
        "minutes": args.minutes, "seed": args.seed, "compile": args.compile, "tiny": args.tiny, "common": args.common,
        "baseline": baseline, "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU",
        "torch": torch.__version__,
        "extreme": {"num": num_extreme, "seed": args.eval_seed},
        "mined": {"file": str(MINED.relative_to(REPO)), "per_bucket": per_bucket, "buckets": list(BUCKETS)},
        "test": None if test is None else {"file": str(args.test_data), "num": len(test[0])},
        "parallel": args.parallel,
    }  # fmt: skip
    print(f"{len(variants)} variants, {args.minutes} min each, seed {args.seed}, compile {args.compile}, on "
          f"{settings['device']}; scoring {num_extreme} extreme and {len(mined)} mined puzzles", flush=True)
    records, overheads = [], []  # seconds each batch took besides its budget (start, saving, scoring)
    pending = []
    for name, flags in variants:
        saved = args.out / name / "result.json"
        if saved.is_file() and not args.redo and not args.more:
            records.append(json.loads(saved.read_text()))
            print(f"{name}: kept from {saved}", flush=True)
        else:
            pending.append((name, flags))
    for first in range(0, len(pending), max(1, args.parallel)):
        batch = pending[first : first + max(1, args.parallel)]
        spent, overhead = time.monotonic() - started, max(overheads, default=5.0 if args.tiny else 30.0)
        if spent + 60 * args.minutes + overhead > 60 * args.total_minutes:
            for name, flags in batch:
                records.append({"name": name, "flags": flags, "status": "not run",
                                "error": f"would end past --total-minutes {args.total_minutes}; run the command again"})
                print(f"{name}: not run (--total-minutes)", flush=True)
            continue
        began = time.monotonic()
        running = []
        for name, flags in batch:
            (args.out / name).mkdir(parents=True, exist_ok=True)
            running.append((name, start_variant(name, flags, args, args.out / name)))
        for name, started_variant in running:
            folder = args.out / name
            record = finish_variant(*started_variant, folder)
            previous = json.loads((folder / "result.json").read_text()) if (folder / "result.json").is_file() else None
            if args.more and previous is not None:  # the legs before this one, kept as the leg's history
                record["history"] = [*previous.pop("history", []), previous]
                record["flags"] = previous["flags"]
            if record["status"] == "ok":
                record.update(score_variant(record["checkpoint"], device, (extreme, extreme_solutions),
                                            (mined, mined_solutions, buckets), test))  # fmt: skip
            if record["status"] == "ok":
                (folder / "result.json").write_text(json.dumps(record, indent=1) + "\n")
            records.append(record)
            print(f"{name}: {record['status']}" + (f"{_rates(records, record)}"
                  if record["status"] == "ok" else f": {record['error']}"), flush=True)  # fmt: skip
        overheads.append(time.monotonic() - began - 60 * args.minutes)
        _write(args.out, settings, records, baseline, window)
    _write(args.out, settings, records, baseline, window)
    minutes = (time.monotonic() - started) / 60
    print(f"wrote {args.out / 'results.json'} and {args.out / 'accuracy.png'} in {minutes:.1f} min", flush=True)
    return 0


def _write(out: Path, settings: dict, records: list[dict], baseline: str, window: int) -> None:
    tmp = out / ".results.json.tmp"
    tmp.write_text(json.dumps({**settings, "variants": records}, indent=1) + "\n")
    tmp.replace(out / "results.json")
    plot(records, baseline, out / "accuracy.png", window)


if __name__ == "__main__":
    sys.exit(main())
