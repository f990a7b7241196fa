"""An exponential moving average of the trained weights (an option; the Tiny Recursive Model trains with one).

After every optimizer step, each average moves towards its weight: a ← a + (1 − decay)·(w − a), in float32 whatever
the weight's dtype (the bf16 Q head included), starting from the weights the run starts with. A checkpoint's model
file holds the averages, cast to the weights' dtypes, so that `evaluate`, `infer`, the demo and `--init-from` use
them; its training state holds the live weights and the float32 averages, so that a resumed run is exact.
"""

from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"the average's decay must be between 0 and 1, got {decay}")
        self.decay = decay
        # The weights the optimizer trains, in the model's order; the puzzle-embedding table (its own sparse
        # optimizer) and frozen tensors are not averaged.
        self.names = [name for name, p in model.named_parameters() if p.requires_grad]
        self.weights = [p for p in model.parameters() if p.requires_grad]
        self.averages = [p.detach().float().clone() for p in self.weights]

    @torch.no_grad()
    def update(self) -> None:
        """One step of the average, after the optimizer's step."""
        torch._foreach_lerp_(self.averages, [w.float() for w in self.weights], 1.0 - self.decay)

    @contextmanager
    def in_model(self):
        """The averages in the model's weights for the block (to save them), the live weights back after it."""
        live = [w.detach().clone() for w in self.weights]
        try:
            with torch.no_grad():
                for weight, average in zip(self.weights, self.averages):
                    weight.copy_(average)
            yield
        finally:
            with torch.no_grad():
                for weight, kept in zip(self.weights, live):
                    weight.copy_(kept)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The float32 averages and the live weights, by parameter name (the training state's entries)."""
        return {
            **{f"ema.{name}": average for name, average in zip(self.names, self.averages)},
            **{f"live.{name}": weight.detach() for name, weight in zip(self.names, self.weights)},
        }

    @torch.no_grad()
    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore `state_dict`'s entries: the model gets its live weights back, the averages their float32 values."""
        missing = [f"ema.{name}" for name in self.names if f"ema.{name}" not in tensors]
        if missing:
            raise KeyError(missing[0])
        for name, weight, average in zip(self.names, self.weights, self.averages):
            average.copy_(tensors[f"ema.{name}"])
            weight.copy_(tensors[f"live.{name}"])
