"""Started by torchrun in test_train_ddp.py: the trainer's main, each rank then saving its final weights as
$KEEP_WEIGHTS/rank<r>.pt (only rank 0 writes the model checkpoints, so the other ranks' weights are not in the run
folder)."""

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from src.hrm import train as cli  # noqa: E402

train = cli.train


def train_and_keep(run, options):
    train(run, options)
    torch.save(run.model.state_dict(), Path(os.environ["KEEP_WEIGHTS"]) / f"rank{run.ranks.rank}.pt")


if __name__ == "__main__":
    cli.train = train_and_keep
    sys.exit(cli.main(sys.argv[1:]))
