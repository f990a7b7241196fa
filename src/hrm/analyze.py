"""Look inside a checkpoint: hierarchical convergence, participation ratios, per-segment accuracy and Q values.

    python -m src.hrm.analyze CHECKPOINT --out DIR [--num 256] [--difficulty extreme] [--segments 16]

Runs the checkpoint and an untrained model of the same configuration (seeded) over the same
puzzles (or boards, for a path-finding checkpoint), recording every low- and high-level
update, and writes into DIR: `analysis.json` (every number), `residuals.png`,
`participation.png`, `segments.png` and `predictions.png`. Bad input: one line, exit 2.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from .analysis.convergence import record_updates, summarize
from .analysis.figures import plot_participation, plot_residuals, plot_segments, prediction_grid
from .frames import Caption
from .checkpoint import load_model, read_metadata
from .cli_errors import allocation_failures_as_one_line
from .cli_types import OneLineParser, output_folder, pick_device, positive_int
from .file_io import write_text_atomically
from .modeling import HRMACTInner
from .tasks import task_from_metadata


def parse_args(argv=None):
    parser = OneLineParser(prog="python -m src.hrm.analyze", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="model checkpoint (.safetensors)")
    parser.add_argument("--out", required=True, type=output_folder, help="folder for the JSON and the figures (created if missing)")
    parser.add_argument("--num", type=positive_int, default=256, help="puzzles or boards to run (default 256)")
    parser.add_argument("--difficulty", default="extreme", help="Sudoku checkpoints: the generated difficulty")
    parser.add_argument("--segments", type=positive_int, default=None, help="segments to run (default: the ACT limit)")
    parser.add_argument("--seed", type=int, default=0, help="puzzles and the untrained model's init (default 0)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    return parser.parse_args(argv)


def frames_of(task, inputs, targets, predictions, caption_of) -> list:
    """Pictures of the first rows' final predictions: right and wrong cells coloured."""
    return [task.frame(inputs[i], targets[i], predictions[i], np.zeros(inputs.shape[1], bool), caption_of(i))
            for i in range(min(8, len(inputs)))]


@allocation_failures_as_one_line("analyze: error")
def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        device = pick_device(args.device)
        task = task_from_metadata(read_metadata(args.checkpoint))
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise ValueError(f"--out {out}: not writable")
        inputs, targets = task.sample_rows(args.num, args.seed, args.difficulty)
        trained = load_model(args.checkpoint, device=device).eval()
    except (ValueError, OSError) as error:
        print(f"analyze: error: {error}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    untrained = HRMACTInner(trained.config).to(device).eval()
    segments = args.segments or trained.config.act.halt_max_steps
    batch = torch.as_tensor(inputs.astype(np.int64), device=device)
    filled = task.loss_mask(torch.as_tensor(inputs.astype(np.int64))).numpy()

    def correct(predictions):
        return task.is_correct(inputs, targets, predictions)

    summaries, recordings = {}, {}
    for name, model in (("trained", trained), ("untrained", untrained)):
        recordings[name] = record_updates(model, batch, segments, task.loss_mask)
        summaries[name] = summarize(recordings[name], targets, filled, correct)

    report = {"checkpoint": str(args.checkpoint), "task": task.name, "num": len(inputs), "segments": segments,
              "seed": args.seed, "models": summaries}
    write_text_atomically(out / "analysis.json", json.dumps(report, indent=1))
    plot_residuals(summaries, out / "residuals.png")
    plot_participation(summaries, out / "participation.png")
    plot_segments(summaries, out / "segments.png")
    final = recordings["trained"]
    last = segments - 1

    def caption_of(i):
        return Caption(segments, float(final.q_halt[last][i]), float(final.q_continue[last][i]), False)

    prediction_grid(frames_of(task, inputs, targets, final.predictions[last], caption_of), out / "predictions.png")

    for name, summary in summaries.items():
        ratio, first, final_row = summary["participation_ratio"], summary["per_segment"][0], summary["per_segment"][-1]
        print(f"{name}: participation ratio high {ratio['high']:.1f}, low {ratio['low']:.1f};"
              f" solved {100 * first['solve_rate']:.1f}% after segment 1, {100 * final_row['solve_rate']:.1f}%"
              f" after {segments}")
    print(f"wrote {out}/analysis.json, residuals.png, participation.png, segments.png, predictions.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
