"""Data-parallel training: several processes started by torchrun, one per GPU (or CPU process), as one run.

    torchrun --nproc-per-node N -m src.hrm.train ...

Every rank carries its own `--batch-size` rows, drawn from its own stream (`Shard`), and makes the same step;
before the optimizer step the ranks average their gradients, so the weights stay the same everywhere. A step's
logged values (losses, accuracies, rows drawn, stop votes) are shared the same way, so every rank's curriculum
graduates on the same accuracy at the same step, and every rank stops after the same step. Rank 0 alone writes
the model checkpoints, metrics.jsonl and the console; every rank writes its own training state beside them
(`rank_state_path`), so `--resume` continues each rank where it stopped. Without torchrun nothing here runs.

Gradients are averaged by one all-reduce of a flat bucket after backward, not by DistributedDataParallel:
- the same result: every rank's gradient becomes the mean of the ranks' gradients, the gradient of the mean of
  their losses, as DDP's;
- the step is a compiled function that runs the model twice (the second forward without gradient, for the Q
  target); DDP would hook the model's autograd inside it, and torch.compile would split the graph at DDP's
  bucket boundaries (DDPOptimizer), with more graph breaks and compile time, and less room for CUDA graphs;
- what DDP's overlap of communication with backward could hide is small: the default model's gradients are
  27 MB, an all-reduce of well under a millisecond over NVLink against a step of about 28 ms
  (`bench/ddp_overhead.py` measures and estimates it);
- the one-process path stays untouched, and the averaging is a line in `train_step` one can read.
On CUDA the collectives (NCCL) are queued on the device like the step's kernels: a step still never waits for the
host. On the CPU they use gloo.
"""

import contextlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numba
import torch
import torch.distributed as dist

from ..checkpoint import CheckpointError, training_state_path
from ..tasks import Shard

RANK_STATE_NAME = re.compile(r"^checkpoint-(\d+)\.rank(\d+)\.state\.safetensors$")


@dataclass
class Ranks:
    """This process's place in a data-parallel run, and what the ranks do together."""

    rank: int
    count: int  # ranks in the run (torchrun's WORLD_SIZE)
    local_rank: int
    local_count: int  # ranks on this host
    device: torch.device
    stop_vote: bool = False  # this rank wants to stop (Ctrl-C, --max-minutes): sent with its next step
    stop_agreed: bool = False  # a step read back carried some rank's vote: every rank stops before the same step

    def host_workers(self, workers: int | None) -> int:
        """This rank's share of its host's puzzle-generating threads (`workers` per host; default: all cores)."""
        return max(1, (workers or numba.config.NUMBA_NUM_THREADS) // self.local_count)

    def from_first(self, value):
        """Rank 0's `value`, on every rank (a new run folder's default name holds the time it was made)."""
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def first_error(self, error: str | None) -> str | None:
        """Whether every rank could start: on every rank, the error of the first rank that could not (None if all
        could), so that all of them stop, and stop alike."""
        errors = [None] * self.count
        dist.all_gather_object(errors, error)
        for rank, found in enumerate(errors):
            if found is not None:
                return found if rank == 0 else f"rank {rank}: {found}"
        return None

    def join(self, run) -> None:
        """Once every rank has built its run: rank 0's weights on every rank (the same seed draws the same ones,
        this makes sure) and the run's rows so far, every rank's."""
        with torch.no_grad():
            for tensor in run.model.state_dict().values():
                dist.broadcast(tensor, src=0)
        rows = run.rows.counters().sum().reshape(1).clone()
        dist.all_reduce(rows)
        run.rows.observe_run(int(rows.item()))

    def average_gradients(self, parameters) -> None:
        """Every gradient replaced by its mean over the ranks, in one all-reduce of a float32 bucket (bf16
        gradients widen exactly and are rounded once, after the sum; one rank's are left exactly as they were)."""
        grads = [p.grad for p in parameters if p.grad is not None]
        bucket = torch.cat([g.reshape(-1).float() for g in grads])
        dist.all_reduce(bucket)
        bucket.div_(self.count)
        for grad, mean in zip(grads, bucket.split([g.numel() for g in grads])):
            grad.copy_(mean.view_as(grad))

    def share_step(self, values: torch.Tensor, counters: torch.Tensor, counts: int = 1):
        """A step's logged values, row counters and this rank's stop vote, in one all-reduce (float64 [K] each).

        Returns the values averaged over the ranks, but the last `counts` of them (counts of rows) summed, and
        this rank's counters followed by the run's (summed) and the number of ranks that voted to stop
        (`shared_names`).
        """
        vote = torch.full((1,), float(self.stop_vote), dtype=values.dtype, device=values.device)  # no host sync
        shared = torch.cat([values, counters, vote])
        dist.all_reduce(shared)
        means = values.numel() - counts
        return torch.cat([shared[:means] / self.count, shared[means : values.numel()]]), torch.cat(
            [counters, shared[values.numel() :]]
        )

    @staticmethod
    def shared_names(counter_names: tuple[str, ...]) -> tuple[str, ...]:
        """The names of what `share_step` appends to a rank's counters."""
        return tuple(f"run_{name}" for name in counter_names) + ("stop_votes",)

    def observe(self, rows, values: dict[str, float]) -> None:
        """The host reads a step's shared values: the run's rows so far, and whether some rank voted to stop."""
        rows.observe_run(int(sum(values[f"run_{name}"] for name in rows.counter_names)))
        self.stop_agreed = self.stop_agreed or values["stop_votes"] > 0

    def vote_to_stop(self, wanted: bool) -> bool:
        """Record this rank's wish to stop (sent with its next step); whether the ranks have agreed to stop now."""
        self.stop_vote = self.stop_vote or wanted
        return self.stop_agreed

    def barrier(self) -> None:
        dist.barrier(device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def close(self) -> None:
        dist.destroy_process_group()


def start_ranks(device: torch.device) -> Ranks | None:
    """Under torchrun (WORLD_SIZE in the environment): join the run's process group, NCCL on `device` cuda:LOCAL_RANK
    or gloo on the CPU. Without torchrun: None, a one-process run."""
    if "WORLD_SIZE" not in os.environ:
        return None
    env = os.environ
    rank, count = int(env["RANK"]), int(env["WORLD_SIZE"])
    local_rank, local_count = int(env.get("LOCAL_RANK", rank)), int(env.get("LOCAL_WORLD_SIZE", count))
    if device.type == "cuda":
        gpus = torch.cuda.device_count()
        if local_rank >= gpus:
            raise ValueError(f"local rank {local_rank} has no GPU: this host has {gpus}; start at most {gpus} per node")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", rank=rank, world_size=count, device_id=device)
    else:
        dist.init_process_group("gloo", rank=rank, world_size=count)
    return Ranks(rank, count, local_rank, local_count, device)


def shard_of(ranks: Ranks | None) -> Shard:
    """The rows a rank draws: its part of the run's (a one-process run: all of them)."""
    return Shard() if ranks is None else Shard(ranks.rank, ranks.count)


def leads(ranks: Ranks | None) -> bool:
    """Rank 0, or a one-process run: the process that writes the run's files and speaks for it."""
    return ranks is None or ranks.rank == 0


@contextlib.contextmanager
def quiet_other_ranks():
    """Under torchrun, ranks other than 0 print nothing (rank 0 speaks for the run, errors included); the traceback
    of an unexpected failure still shows, being printed after this context."""
    if int(os.environ.get("RANK", "0")) == 0:
        yield
        return
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        yield


def say_own_error(ranks: Ranks | None, line: str) -> None:
    """A failure of this rank alone (its own file), which rank 0 cannot know of: printed whatever the rank."""
    if leads(ranks):
        print(line, file=sys.stderr)
    else:  # past quiet_other_ranks
        print(f"rank {ranks.rank}: {line}", file=sys.__stderr__, flush=True)


class Silent:
    """The reporter of ranks other than 0: rank 0 writes the run's metrics and console."""

    def step(self, record: dict) -> None:
        pass

    def announce(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def rank_state_path(model_path, rank: int) -> Path:
    """Rank r's training state beside checkpoint-<step>.safetensors: rank 0's is a one-process run's
    (checkpoint-<step>.state.safetensors), another rank's checkpoint-<step>.rank<r>.state.safetensors."""
    model_path = Path(model_path)
    if rank == 0:
        return training_state_path(model_path)
    return model_path.with_name(f"{model_path.name.removesuffix('.safetensors')}.rank{rank}.state.safetensors")


def saved_ranks(state_metadata: dict[str, str]) -> int:
    """How many ranks wrote a checkpoint's training states, from rank 0's state header (1: a one-process run)."""
    try:
        return int(json.loads(state_metadata.get("meta", "{}")).get("ranks", 1))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return 1  # reading the state itself reports what is wrong with it


def check_ranks(out_dir: Path, meta: dict, ranks: Ranks | None) -> None:
    """A run resumes with the number of ranks that trained it: each carries its own rows and streams."""
    saved, now = int(meta.get("ranks", 1)), 1 if ranks is None else ranks.count
    if saved != now:
        raise CheckpointError(
            f"{out_dir}: trained by {saved} rank{'s' * (saved > 1)}, resumed by {now}; a run keeps its number of"
            f" ranks (torchrun --nproc-per-node {saved})"
        )
