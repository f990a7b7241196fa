"""The carried training batch: the rows the model works on across steps.

The original keeps 512 rows across steps: each row's puzzle, solution, segment counter and
hidden states. After every step, halted rows restart on a fresh row drawn from the task's
`RowQueue`; the replacement runs entirely on the device (`torch.where`, no host sync).
"""

from dataclasses import dataclass

import torch

from ..modeling import HiddenStates
from ..modeling.puzzle_embedding import PUZZLE_POSITIONS


@dataclass
class Carry:
    inputs: torch.Tensor  # [B, L] long (Sudoku: 0 = empty cell)
    targets: torch.Tensor  # [B, L] long (Sudoku: the solution's digits)
    segments: torch.Tensor  # [B] long, segments already run on the row's puzzle
    high_level: torch.Tensor  # [B, L + 1, H] float32 (L + 2 with puzzle embeddings)
    low_level: torch.Tensor  # [B, L + 1, H] float32 (L + 2 with puzzle embeddings)
    puzzle_ids: torch.Tensor | None = None  # [B] long, the row's puzzle id; None: rows without ids

    @classmethod
    def empty(cls, batch_size: int, seq_len: int, hidden_size: int, device, puzzle_ids: bool = False) -> "Carry":
        """Placeholder rows: every row must be replaced (all halted) before the first step. `puzzle_ids`: the rows
        carry an id, and the hidden states the position of its embedding."""
        positions = seq_len + 1 + (PUZZLE_POSITIONS if puzzle_ids else 0)
        return cls(
            inputs=torch.zeros(batch_size, seq_len, dtype=torch.long, device=device),
            targets=torch.zeros(batch_size, seq_len, dtype=torch.long, device=device),
            segments=torch.zeros(batch_size, dtype=torch.long, device=device),
            high_level=torch.zeros(batch_size, positions, hidden_size, device=device),
            low_level=torch.zeros(batch_size, positions, hidden_size, device=device),
            puzzle_ids=torch.zeros(batch_size, dtype=torch.long, device=device) if puzzle_ids else None,
        )

    @property
    def hidden_states(self) -> HiddenStates:
        return HiddenStates(high_level=self.high_level, low_level=self.low_level)

    @torch.no_grad()
    def advance(
        self,
        hidden: HiddenStates,
        halted: torch.Tensor,
        fresh_inputs: torch.Tensor,
        fresh_targets: torch.Tensor,
        initial: HiddenStates,
        fresh_ids: torch.Tensor | None = None,
    ) -> None:
        """In place: keep the segment's hidden states and count it; halted rows restart on a fresh puzzle (and its
        id, for rows with ids)."""
        rows, cells = halted[:, None], halted[:, None, None]
        hidden_size = self.high_level.shape[-1]
        self.inputs.copy_(torch.where(rows, fresh_inputs, self.inputs))
        self.targets.copy_(torch.where(rows, fresh_targets, self.targets))
        if self.puzzle_ids is not None:
            self.puzzle_ids.copy_(torch.where(halted, fresh_ids, self.puzzle_ids))
        self.segments.copy_(torch.where(halted, torch.zeros_like(self.segments), self.segments + 1))
        self.high_level.copy_(torch.where(cells, initial.high_level.view(1, 1, hidden_size), hidden.high_level))
        self.low_level.copy_(torch.where(cells, initial.low_level.view(1, 1, hidden_size), hidden.low_level))

    def state_dict(self) -> dict[str, torch.Tensor]:
        names = ("inputs", "targets", "segments", "high_level", "low_level")
        return {name: getattr(self, name) for name in names + (() if self.puzzle_ids is None else ("puzzle_ids",))}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, tensor in self.state_dict().items():
            if state[name].shape != tensor.shape:
                found, needed = list(state[name].shape), list(tensor.shape)
                raise ValueError(f"carried {name} has shape {found}, this run needs {needed}")
            tensor.copy_(state[name])
