"""Learned per-puzzle embeddings: a table with a row per puzzle id, prepended to a puzzle's tokens.

Not in the original (an option, off by default); the HRM paper's code has them. The table starts at zero.
Id 0 is the blank: the row of a puzzle the table knows nothing about (no training row carries it, so it stays
zero). It is a frozen parameter as far as AdamW is concerned: training updates only the rows a step used, by
sign-SGD (src/hrm/training/sign_sgd.py).
"""

import torch
import torch.nn.functional as F
from torch import nn

# Positions the embedding takes in the sequence: one vector of the hidden size (the paper's puzzle_emb_ndim = H).
PUZZLE_POSITIONS = 1
BLANK_ID = 0


class PuzzleEmbedding(nn.Module):
    def __init__(self, num_ids: int, dim: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_ids, dim), requires_grad=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B] long -> [B, PUZZLE_POSITIONS, H]; no check (training ids come from the task's rows)."""
        return F.embedding(ids, self.weights).view(ids.shape[0], PUZZLE_POSITIONS, -1)

    def checked_ids(self, ids: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        """Ids given from outside (inference, the step API): None is the blank for every row; an id the table
        has no row for, or a shape that is not [batch], is a one-line ValueError (reads the ids back: a sync)."""
        if ids is None:
            return torch.full((batch,), BLANK_ID, dtype=torch.long, device=device)
        if ids.shape != (batch,) or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            got = f"{ids.dtype} {list(ids.shape)}"
            raise ValueError(f"puzzle ids must be an integer tensor of shape [{batch}], got {got}")
        size = self.weights.shape[0]
        if batch and not bool(((ids >= 0) & (ids < size)).all()):
            bad = int(ids[(ids < 0) | (ids >= size)][0])
            raise ValueError(
                f"puzzle id {bad} is out of range: this model knows ids 0..{size - 1}"
                " (0: a puzzle it was not trained on)"
            )
        return ids.long()
