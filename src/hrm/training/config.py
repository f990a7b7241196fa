"""A run's settings: what defines its results (saved with every checkpoint) and how this invocation runs."""

import contextlib
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..modeling import HRMACTModelConfig
from ..tasks import DEFAULT_TASK, default_settings


def _default_task() -> dict:
    return default_settings(DEFAULT_TASK)


# Five model checkpoints (27 MB each for the default model) and one training state (~140 MB): under 300 MB.
DEFAULT_KEEP_CHECKPOINTS = 5


@dataclass
class TrainConfig:
    """What defines a run's results; saved with every checkpoint, and kept as is by --resume."""

    model: HRMACTModelConfig = field(default_factory=HRMACTModelConfig)
    task: dict = field(default_factory=_default_task)  # {"name": ..., **the task's settings}, see build_task
    batch_size: int = 512
    lr: float = 1e-4
    optimizer: str = "mlx-adamw"
    seed: int = 42  # model init (torch.manual_seed), row streams; seed + 1 for the step generator
    # The puzzle-embedding table's sign-SGD (a model with one): the HRM paper's code's defaults.
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    # --init-from: the checkpoint whose weights replaced the drawn ones at step 0 ({"path", "sha256"}), else None.
    # Only the weights: the optimizer, rows and carry start fresh.
    init_from: dict | None = None
    # Not in the original: halting schedules, as their flag texts (src/hrm/training/halt_schedule.py): the
    # exploration probability and the training segment limit by step. None: the model's fixed values.
    halt_exploration_schedule: str | None = None
    halt_max_steps_schedule: str | None = None
    # Not in the original: an exponential moving average of the weights with this decay (training/ema.py), the
    # weights a checkpoint's model file holds. None: none, the original's.
    ema_decay: float | None = None
    # Not in the original: winner-take-all training ("Speed is Confidence"). Each carried row is `latent_copies`
    # copies, each with its own latent states, the later ones starting from the initial states plus Gaussian noise of
    # this scale; only the lowest-loss copy of each row is trained (training/loss.py). 1: one copy, the original's.
    latent_copies: int = 1
    copy_noise: float = 1.0

    @property
    def carried_rows(self) -> int:
        """Rows the model works on each step: every row's copies."""
        return self.batch_size * self.latent_copies

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "model": self.model.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        if "curriculum" in data:  # saved before tasks existed: the generated Sudoku task with this curriculum
            data["task"] = {"name": "sudoku", "curriculum": data.pop("curriculum")}
        return cls(model=HRMACTModelConfig.from_dict(data.pop("model")), **data)


@dataclass
class RunOptions:
    """How this invocation runs; may differ between a run and its resume."""

    out_dir: Path
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"  # "fp32" or "bf16" (autocast)
    # torch.compile of the segment loss (both forwards and the loss; backward via AOTAutograd): None for eager,
    # else the torch.compile mode ("default", or "reduce-overhead" to replay the kernels as CUDA graphs).
    compile: str | None = None
    compile_cache: Path | None = None  # torch.compile's persistent caches (None: compile_cache.default_compile_cache)
    max_steps: int | None = None
    max_minutes: float | None = None
    max_epochs: float | None = None  # dataset tasks: stop once this many passes over the rows are done
    checkpoint_every: int = 250
    keep_checkpoints: int | None = DEFAULT_KEEP_CHECKPOINTS  # the newest N model checkpoints; None keeps all
    keep_every: int | None = None  # also keep the checkpoints at a multiple of this many steps
    workers: int | None = None
    log_format: str = "bar"  # "bar", "swift", "jsonl" or "none"


@dataclass
class Autocast:
    device_type: str
    dtype: torch.dtype | None  # None: plain float32, the original's numerics

    def __call__(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)
