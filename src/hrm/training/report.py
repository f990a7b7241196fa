"""A run's log: metrics.jsonl for every run, plus the console (a progress bar, the original's lines, or JSON)."""

import json
from pathlib import Path

from tqdm import tqdm

from ..file_io import open_regular, write_text_atomically
from .run import TrainingError


class Reporter:
    """metrics.jsonl for every run, plus the console: a progress bar, the original's lines, or JSON lines."""

    def __init__(self, out_dir: Path, log_format: str, start_step: int, max_steps: int | None):
        self.log_format = log_format
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / "metrics.jsonl"
        try:
            _truncate_metrics(self.path, start_step)
            # Unbuffered: a record is on disk once written, and a failed write leaves nothing for close to retry.
            self.file = open(self.path, "ab", buffering=0)
        except OSError as err:
            raise _naming(err, self.path) from None
        self.bar = None
        if log_format == "bar":
            self.bar = tqdm(total=max_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def step(self, record: dict) -> None:
        line = json.dumps(record)
        data = f"{line}\n".encode()
        try:
            while data:  # one write(2) each time: short on a nearly full disk, an error on a full one
                data = data[self.file.write(data) :]
        except OSError as err:
            raise _naming(err, self.path) from None
        if self.bar is not None:
            self.bar.update(record["step"] - self.bar.n)
            self.bar.set_postfix_str(
                f"loss {record['loss']:.4f} acc {record['accuracy']:.4f} q-acc {record['q_act_accuracy']:.4f}"
                f"{_progress(record, ' stage {stage}', ' epoch {epoch:.2f}')} {record['puzzles_per_second']:.0f} puzzles/s"
            )
        elif self.log_format == "swift":
            # The original's per-step output, numbers as it formats them.
            print(f"Step {record['step']}")
            print(
                f"Output [{record['output_loss']:.4f} {record['accuracy']:.4f}] | "
                f"Q-ACT [{record['q_act_loss']:.4f} {record['q_act_accuracy']:.4f}] | "
                f"Puzzles [{record['puzzles']}]"
                f"{_progress(record, ' | Curriculum Level [{stage}]', ' | Epoch [{epoch:.2f}]')}",
                flush=True,
            )
        elif self.log_format == "jsonl":
            print(line, flush=True)

    def announce(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        elif self.log_format != "none":
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.file.close()


def _naming(err: OSError, path: Path) -> OSError:
    """The same error naming the metrics file (a write error names no file; a rewrite names its temporary one)."""
    return OSError(err.errno, err.strerror or str(err), str(path))


def _progress(record: dict, stage_text: str, epoch_text: str) -> str:
    """How far the run's task is: the curriculum stage (generated Sudoku) or the epoch (a dataset)."""
    if "stage" in record:
        return stage_text.format(stage=record["stage"])
    if "epoch" in record:
        return epoch_text.format(epoch=record["epoch"])
    return ""


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Drop records after the step a run resumes from (and a torn last line), rewriting the file atomically.

    Any other line that is not a record (not UTF-8, not JSON, no step) stops the run with its line number: the
    file is the run's history, so it is neither dropped silently nor resumed around.
    """
    if not path.exists():
        return
    kept = []
    for number, line, record, last in metrics_lines(path):
        step = record.get("step") if isinstance(record, dict) else None
        if not isinstance(step, int) or isinstance(step, bool):
            if last:
                continue  # a record torn by a crash mid-write: the step it logged is re-run
            raise TrainingError(f"{path}:{number}: not a metrics record (a JSON object with a step); a run"
                                " resumes only from an intact log")  # fmt: skip
        if step <= last_step:
            kept.append(line)
    write_text_atomically(path, "".join(f"{line}\n" for line in kept))


NOT_JSON = object()  # what `metrics_lines` gives for a line that is not UTF-8 JSON


def metrics_lines(path) -> list[tuple[int, str, object, bool]]:
    """The non-blank lines of a metrics.jsonl (a regular file): (line number, text, its JSON value or NOT_JSON,
    whether it is the file's last line, the one a crash may have torn). Each line is decoded on its own, so a
    line that is not UTF-8 is one bad line, not an unreadable file."""
    with open_regular(path, binary=True) as file:
        raw_lines = file.read().split(b"\n")
    if raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()  # after the newline ending the last record
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
            value = json.loads(text)
        except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
            text, value = raw.decode("utf-8", errors="replace"), NOT_JSON
        lines.append((number, text, value, number == len(raw_lines)))
    return lines
