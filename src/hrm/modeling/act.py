"""Adaptive computation time around `HRMACTInner`: the halting rules, and a step-by-step wrapper.

The halting rules live here once: the trainer's segment loss, `infer`, `evaluate` and the
`HRMACT` wrapper all call them.

    model = HRMACT(HRMACTModelConfig())
    carry = model.initial_carry(inputs)                 # every row "halted": the first step starts them
    while True:
        carry, out = model.step(carry, inputs)          # out.logits, out.q_halt, out.q_continue, out.halted
        if out.all_halted:                              # a 0-dim tensor; bool() syncs with the device
            break

Rows that halted start over on the `inputs` of the next step, from the initial states, so a
training loop can replace finished rows simply by passing new inputs for them. A model with
puzzle embeddings takes `step(carry, inputs, puzzle_ids=ids)` the same way (without ids: the
blank id 0).
"""

from dataclasses import dataclass

import torch
from torch import nn

from .hrm import ACTConfig, HiddenStates, HRMACTInner, HRMACTModelConfig


def exploration_draws(act: ACTConfig, batch: int, device, generator: torch.Generator | None = None):
    """The exploration's random draws: a uniform per row, and a candidate minimum from {2..halt_max_steps}."""
    explore_draw = torch.rand(batch, generator=generator, device=device)
    # At least U{2..2}: with halt_max_steps = 1 exploration cannot ask for more, and the forced halt still wins.
    min_halt_draw = torch.randint(2, max(act.halt_max_steps, 2) + 1, (batch,), generator=generator, device=device)
    return explore_draw, min_halt_draw


def training_halts(
    act: ACTConfig,
    q_halt: torch.Tensor,
    q_continue: torch.Tensor,
    next_segments: torch.Tensor,
    explore_draw: torch.Tensor,
    min_halt_draw: torch.Tensor,
    exploration_probability: torch.Tensor | None = None,
    max_steps: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(is_halted, is_last) [B] bool for rows that have just run their `next_segments`-th segment, in training.

    `exploration_probability`, `max_steps` (0-dim tensors): a halting schedule's values for this step, in place of
    the config's halt_exploration_probability and halt_max_steps (src/hrm/training/halt_schedule.py).
    """
    if act.fixed_segments is not None:
        # Fixed think time: every row stops after exactly fixed_segments segments, whatever the Q head says.
        is_last = next_segments >= act.fixed_segments
        return is_last, is_last
    # Strictly greater: the original forces a halt on the 17th segment in training (haltMaxSteps = 16),
    # while its `infer` runs at most 16 segments. Under a growing limit, a row carried from a step with a lower
    # one is below it; `>` halts any row past it all the same.
    is_last = next_segments > (act.halt_max_steps if max_steps is None else max_steps)
    is_halted = is_last | (q_halt > q_continue)
    # Exploration: with probability p a row must run more than min_halt ~ U{2..halt_max_steps} segments.
    probability = act.halt_exploration_probability if exploration_probability is None else exploration_probability
    explore = explore_draw < probability
    min_halt = torch.where(explore, min_halt_draw, torch.zeros_like(min_halt_draw))
    is_halted = (is_halted & (next_segments > min_halt)) | is_last  # the limit holds whatever exploration drew
    return is_halted, is_last


def inference_halts(act: ACTConfig, q_halt: torch.Tensor, q_continue: torch.Tensor, segment) -> torch.Tensor:
    """[B] bool: where the model asks to stop after `segment` (1-based; an int or [B]) at inference, before the
    segment limit.

    sigmoid(halt) > sigmoid(continue), the test the original's infer makes: the same as comparing the logits,
    except that float32 sigmoid saturates to 1.0 above ~17, where the original does not halt either. With the
    fixed think time, true exactly at its last segment.
    """
    if act.fixed_segments is not None:
        reached = torch.as_tensor(segment, device=q_halt.device) >= act.fixed_segments
        return torch.zeros_like(q_halt, dtype=torch.bool) | reached
    return torch.sigmoid(q_halt.float()) > torch.sigmoid(q_continue.float())


@dataclass
class ACTCarry:
    hidden_states: HiddenStates  # [B, positions, H] each (L + 1, or L + 2 with puzzle embeddings)
    inputs: torch.Tensor  # [B, L] long, each row's current input
    segments: torch.Tensor  # [B] long, segments run on the current input
    halted: torch.Tensor  # [B] bool, the row is finished: the next step starts it afresh
    puzzle_ids: torch.Tensor | None = None  # [B] long, each row's puzzle id (models with puzzle embeddings)


@dataclass
class ACTOutput:
    logits: torch.Tensor  # [B, L, vocab]
    q_halt: torch.Tensor  # [B] float32 logits
    q_continue: torch.Tensor  # [B] float32 logits
    halted: torch.Tensor  # [B] bool, the row stops after this step
    all_halted: torch.Tensor  # 0-dim bool


class HRMACT(nn.Module):
    """HRMACTInner stepped one segment at a time, with the original's halting in train() and eval() modes."""

    def __init__(self, config: HRMACTModelConfig | HRMACTInner):
        super().__init__()
        self.inner = config if isinstance(config, HRMACTInner) else HRMACTInner(config)
        self.config = self.inner.config

    def initial_carry(self, inputs: torch.Tensor) -> ACTCarry:
        """A carry for a batch like `inputs` [B, L] in which every row has halted, so the first step starts all."""
        batch, length = inputs.shape
        hidden = self.config.transformers.hidden_size
        positions = self.config.positions - self.config.seq_len + length
        zeros = inputs.new_zeros((batch, positions, hidden), dtype=torch.float32)
        return ACTCarry(
            hidden_states=HiddenStates(high_level=zeros, low_level=zeros.clone()),
            inputs=inputs.clone(),
            segments=inputs.new_zeros(batch, dtype=torch.long),
            halted=torch.ones(batch, dtype=torch.bool, device=inputs.device),
            puzzle_ids=inputs.new_zeros(batch, dtype=torch.long) if self.config.puzzle_embeddings else None,
        )

    def step(
        self,
        carry: ACTCarry,
        inputs: torch.Tensor,
        generator: torch.Generator | None = None,
        puzzle_ids: torch.Tensor | None = None,
    ):
        """One segment for every row: rows halted at the last step restart on `inputs` (and `puzzle_ids`, if the
        model has puzzle embeddings; None: the blank id); returns (carry, output).

        Training mode: the original's exploration (draws from `generator`) and its forced halt after
        halt_max_steps + 1 segments. Eval mode: halt when the Q head says so, or at halt_max_steps.
        """
        act = self.config.act
        restart = carry.halted
        initial = self.inner.initial_hidden_states
        hidden = HiddenStates(
            high_level=torch.where(restart[:, None, None], initial.high_level, carry.hidden_states.high_level),
            low_level=torch.where(restart[:, None, None], initial.low_level, carry.hidden_states.low_level),
        )
        inputs = torch.where(restart[:, None], inputs, carry.inputs)
        segments = torch.where(restart, torch.zeros_like(carry.segments), carry.segments)
        ids = puzzle_ids
        if carry.puzzle_ids is not None:
            fresh = torch.zeros_like(carry.puzzle_ids) if puzzle_ids is None else puzzle_ids
            ids = torch.where(restart, fresh, carry.puzzle_ids)

        output = self.inner(hidden, inputs, ids)
        q_halt, q_continue = output.q_act_halt.float(), output.q_act_continue.float()
        next_segments = segments + 1
        if self.training:
            draws = exploration_draws(act, inputs.shape[0], inputs.device, generator)
            halted, _ = training_halts(act, q_halt, q_continue, next_segments, *draws)
        else:
            halted = inference_halts(act, q_halt, q_continue, next_segments) | (next_segments >= act.halt_max_steps)
        carry = ACTCarry(output.hidden_states, inputs, next_segments, halted, ids)
        return carry, ACTOutput(output.output, q_halt, q_continue, halted, halted.all())
