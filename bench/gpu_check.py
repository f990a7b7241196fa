"""The trainer's CUDA-only paths on a short real training run: no host sync in a step, lagged metrics, queue copies.

On CUDA a step's values go to pinned host buffers behind CUDA events (`LaggedMetrics`), and the row queue
is refilled by pinned, non-blocking copies (`RowQueue._write`); on a CPU neither path runs. This trains a
small model for a few dozen steps at the last curriculum stage (every difficulty drawn, so every kind of
the queue is refilled) and checks that:
- the refill, the step and the metrics copy never synchronise with the host: they run under
  torch.cuda.set_sync_debug_mode("error"), but for the first step (it makes the optimizer's state, and
  MLX AdamW copies its scalars to the device then) and, compiled, the second (compiling syncs);
- the values read one step late equal a synchronised read of the same step, and so do those read at
  once while the copy still waits behind a sleep kernel (every third step): the read waits for its event;
- after every refill, the device queue holds exactly the rows the puzzle supply handed over (a host copy
  of each ring, written independently), and the rows it held from the start are puzzles with their solutions.

    python bench/gpu_check.py [--steps 60] [--batch-size 64] [--compile off|on] [--unchecked-steps N]

Exits 0 with a summary when every check passes, 1 with the failed check's message otherwise.
"""

import argparse
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.hrm.modeling import ACTConfig, HRMACTModelConfig, TransformerConfig  # noqa: E402
from src.hrm.tasks import default_settings  # noqa: E402
from src.hrm.tasks.curriculum import LAST_STAGE  # noqa: E402
from src.hrm.training.config import Autocast, TrainConfig  # noqa: E402
from src.hrm.training.loop import LaggedMetrics, compiled_segment_loss, step_values, train_step  # noqa: E402
from src.hrm.training.loss import segment_loss  # noqa: E402
from src.hrm.training.run import new_run  # noqa: E402

SLEEP_CYCLES = 200_000_000  # about 0.1 s of GPU clock: long beside launching one step of this model
REPO = Path(__file__).resolve().parents[1]


class CheckFailed(Exception):
    """One of the checks did not hold; the message says which and how."""


def small_config(batch_size: int) -> TrainConfig:
    """A small model at the last curriculum stage, halting often so that rows are drawn every step."""
    task = default_settings("sudoku")
    task["curriculum"]["start_stage"] = LAST_STAGE
    model = HRMACTModelConfig(
        transformers=TransformerConfig(num_layers=1, hidden_size=64, num_heads=2, intermediate_size=128),
        act=ACTConfig(halt_max_steps=3),
    )
    return TrainConfig(model=model, task=task, batch_size=batch_size, lr=1e-3)


def valid_pairs(puzzles: np.ndarray, solutions: np.ndarray) -> bool:
    """Every solution [N, 81] is a full Sudoku grid, and every puzzle's givens are its solution's digits."""
    grids = solutions.reshape(-1, 9, 9).astype(np.int64)
    boxes = grids.reshape(-1, 3, 3, 3, 3).transpose(0, 1, 3, 2, 4).reshape(-1, 9, 9)
    units = (grids, grids.transpose(0, 2, 1), boxes)
    full = all((np.sort(unit, axis=-1) == np.arange(1, 10)).all() for unit in units)
    given = puzzles > 0
    return bool(full and (puzzles[given] == solutions[given]).all())


class QueueMirror:
    """A host copy of each ring of the row queue, written from what the supply hands over.

    Row i of a refill that follows n rows of its kind goes to slot (n + i) mod capacity.
    """

    def __init__(self, queue):
        torch.cuda.synchronize()
        self.queue = queue
        # The rows written before this copy are checked for being puzzles with their solutions only.
        self.inputs = queue.inputs.cpu().numpy().copy()
        self.targets = queue.targets.cpu().numpy().copy()
        self.written = list(queue.written)
        self.refills = 0
        for kind, count in enumerate(self.written):
            held = slice(0, min(count, queue.capacity))
            if not valid_pairs(self.inputs[kind, held], self.targets[kind, held]):
                raise CheckFailed(f"the queue's first rows of kind {kind} are not puzzles with their solutions")
        self.take, queue.take = queue.take, self._take

    def _take(self, kind: int, n: int):
        inputs, targets = self.take(kind, n)
        slots = (self.written[kind] + np.arange(len(inputs))) % self.queue.capacity
        self.inputs[kind, slots] = inputs
        self.targets[kind, slots] = targets
        self.written[kind] += len(inputs)
        self.refills += 1
        return inputs, targets

    def compare(self, step: int) -> None:
        """Wait for the device, then compare every ring slot with the host copy."""
        torch.cuda.synchronize()
        if self.written != list(self.queue.written):
            raise CheckFailed(
                f"step {step}: the queue counts {self.queue.written} rows written, the supply gave {self.written}"
            )
        for name, mirror in (("inputs", self.inputs), ("targets", self.targets)):
            device = getattr(self.queue, name).cpu().numpy()
            if not np.array_equal(device, mirror):
                kinds, slots = np.nonzero((device != mirror).any(-1))
                raise CheckFailed(
                    f"step {step}: queue {name} differ from the rows handed over at {len(slots)} slots"
                    f" (first: kind {kinds[0]}, slot {slots[0]})"
                )


def where(err: BaseException) -> str:
    """The innermost frame of the project's code in the error's traceback, as file:line (function)."""
    frames = traceback.extract_tb(err.__traceback__)
    frames = [f for f in frames if Path(f.filename).resolve().is_relative_to(REPO / "src")]
    if not frames:
        return "outside the project's code"
    return f"{Path(frames[-1].filename).resolve().relative_to(REPO)}:{frames[-1].lineno} ({frames[-1].name})"


def check(steps: int, batch_size: int, compile_mode: str | None, unchecked: int) -> dict:
    device = torch.device("cuda")
    run = new_run(small_config(batch_size), device)
    try:
        mirror = QueueMirror(run.rows.queue)
        names = step_values(run.rows)
        metrics = LaggedMetrics(device, names)
        if not all(buffer.is_pinned() for buffer in metrics.buffers) or any(e is None for e in metrics.events):
            raise CheckFailed("LaggedMetrics on CUDA must copy into pinned buffers behind CUDA events")
        autocast = Autocast("cuda", torch.bfloat16)
        loss_fn = segment_loss if compile_mode is None else compiled_segment_loss(compile_mode)
        counts = {"lagged": 0, "in_flight": 0}

        def read_back(entry, how: str) -> None:
            """A step's values through LaggedMetrics against a synced read of them; the queue then observes them."""
            step, slot, vector = entry
            lagged = metrics.receive(slot)  # first: a synced read would make the copy land anyway
            synced = dict(zip(names, vector.tolist()))
            if lagged != synced:
                wrong = [name for name in names if lagged[name] != synced[name]]
                raise CheckFailed(
                    f"step {step}: values read {how} differ from a synced read in {wrong}:"
                    f" {[lagged[n] for n in wrong]} instead of {[synced[n] for n in wrong]}"
                )
            run.rows.observe(step, lagged)  # as the trainer does: the queue learns what was drawn
            counts["lagged" if how == "one step late" else "in_flight"] += 1

        pending, started = None, time.perf_counter()
        for step in range(1, steps + 1):
            refills = mirror.refills
            # Every third step the GPU falls behind the host: before the refill (its copies wait behind the
            # sleep, so their pinned sources must outlive the call) and before the metrics copy (read at once).
            sleepy = step % 3 == 0
            if step > unchecked:
                torch.cuda.set_sync_debug_mode("error")
            try:
                if sleepy:
                    torch.cuda._sleep(SLEEP_CYCLES)
                run.rows.refill()
                vector = train_step(run, autocast, loss_fn)
                run.step += 1
                if sleepy:
                    torch.cuda._sleep(SLEEP_CYCLES)
                slot = metrics.send(vector)
            except RuntimeError as err:
                if "synchroniz" not in str(err):
                    raise
                reason = str(err).splitlines()[0]
                raise CheckFailed(f"step {step} synchronised with the host at {where(err)}: {reason}") from None
            finally:
                torch.cuda.set_sync_debug_mode("default")
            if pending is not None:
                read_back(pending, "one step late")
                pending = None
            if sleepy:
                read_back((step, slot, vector), "while the copy was still queued")
            else:
                pending = (step, slot, vector)
            if mirror.refills > refills:
                mirror.compare(step)
        if pending is not None:
            read_back(pending, "one step late")
        seconds = time.perf_counter() - started
        if mirror.refills == 0:
            raise CheckFailed(f"no refill in {steps} steps: the queue check needs more steps to mean something")
        mirror.compare(steps)
        return {
            "steps": steps,
            "sync_checked_steps": steps - unchecked,
            "reads_one_step_late": counts["lagged"],
            "reads_while_the_copy_was_queued": counts["in_flight"],
            "refills_compared": mirror.refills,
            "rows_written": sum(mirror.written),
            "rows_drawn": [int(c) for c in run.rows.queue.consumed.tolist()],
            "seconds": round(seconds, 2),
        }
    finally:
        run.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--compile", choices=("off", "on"), default="off", help="torch.compile the segment loss")
    parser.add_argument(
        "--unchecked-steps", type=int,
        help="first steps left out of the sync check (default: 1, compiled 2; 0 shows where they sync)",
    )
    args = parser.parse_args(argv)
    unchecked = args.unchecked_steps if args.unchecked_steps is not None else (1 if args.compile == "off" else 2)
    if not torch.cuda.is_available():
        print("gpu_check: FAILED: CUDA is not available on this machine", file=sys.stderr)
        return 1
    print(f"device {torch.cuda.get_device_name(0)}, torch {torch.__version__}, compile {args.compile}", flush=True)
    try:
        summary = check(args.steps, args.batch_size, "default" if args.compile == "on" else None, unchecked)
    except CheckFailed as failure:
        print(f"gpu_check: FAILED: {failure}", file=sys.stderr)
        return 1
    print("gpu_check: ok: " + ", ".join(f"{key} {value}" for key, value in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
