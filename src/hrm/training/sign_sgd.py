"""Sign-SGD with decoupled weight decay on the rows of a puzzle-embedding table that a step used.

The HRM paper's code trains its puzzle embeddings this way instead of with Adam: each row is used
by few steps, and on such sparse gradients Adam's update is about lr·sign(g) anyway. Per step, for
every id in the batch, with g the sum of the gradients of the batch rows that carry it:

    row ← row·(1 − lr·wd) − lr·sign(g)

Rows no batch row carries are not touched, weight decay included. No state: a resumed run needs
only the table, which the model checkpoint holds.
"""

import math

import torch


class SparseSignSGD:
    """Sign-SGD (lr, decoupled weight decay wd) on the rows of `table` [N, D] given by a step's ids."""

    def __init__(self, table: torch.Tensor, lr: float = 1e-2, weight_decay: float = 0.1):
        if not 0 < lr < math.inf or not 0 <= weight_decay < math.inf or lr * weight_decay > 1:
            raise ValueError(f"invalid sign-SGD settings: lr={lr}, weight_decay={weight_decay}")
        self.table, self.lr, self.weight_decay = table, lr, weight_decay

    @torch.no_grad()
    def step(self, ids: torch.Tensor, grad: torch.Tensor) -> None:
        """ids [B] long, grad [B, ...] the gradient of the rows table[ids] as the step used them. No host sync."""
        grad = grad.reshape(len(ids), -1)
        # The batch rows that share an id add their gradients: an exact [B, B] match matrix in float64, so the sum,
        # and with it the result, is the same on every device and run (scatter-add on CUDA is not).
        same = (ids[:, None] == ids[None, :]).double()
        summed = same @ grad.double()
        rows = self.table[ids].reshape(len(ids), -1)
        rows = rows * (1 - self.lr * self.weight_decay) - self.lr * torch.sign(summed).to(rows.dtype)
        # Rows of one id hold the same value, so which of them is written last does not matter.
        self.table.index_copy_(0, ids, rows.view(len(ids), *self.table.shape[1:]))
