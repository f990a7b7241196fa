"""The carried batch and the device-side row queue, against a plain-Python model of the original's replacement."""

import numpy as np
import pytest
import torch

from src.hrm.modeling import HiddenStates
from src.hrm.training.carry import Carry
from src.hrm.tasks.row_queue import EMPTY_SLOT, RowQueue
from src.hrm.tasks.curriculum import TRAINING_DIFFICULTIES


class SerialSupply:
    """Puzzle n of difficulty d carries (d, n) in its first cells, so every drawn row names its origin."""

    def __init__(self):
        self.taken = {int(d): 0 for d in TRAINING_DIFFICULTIES}

    def take(self, difficulty, n):
        d = int(difficulty)
        serial = np.arange(self.taken[d], self.taken[d] + n)
        self.taken[d] += n
        puzzles = np.zeros((n, 81), np.int8)
        puzzles[:, 0], puzzles[:, 1], puzzles[:, 2] = d, serial // 100, serial % 100
        solutions = puzzles.copy()
        solutions[:, 3] = 9
        return puzzles, solutions


def puzzle_queue(supply, batch, device="cpu", **options) -> RowQueue:
    """A queue over the four training difficulties, as the generated Sudoku task builds it."""
    return RowQueue(lambda kind, n: supply.take(TRAINING_DIFFICULTIES[kind], n), 4, 81, batch, device, **options)


def origin(rows: torch.Tensor) -> list[tuple[int, int]]:
    rows = rows.long()
    return [(int(r[0]), int(r[1]) * 100 + int(r[2])) for r in rows]


def hidden(batch, size=4, value=0.0):
    return HiddenStates(torch.full((batch, 82, size), value), torch.full((batch, 82, size), value - 1))


def test_construction_and_replacement_follow_queue_order():
    batch, size = 6, 4
    queue = puzzle_queue(SerialSupply(), batch, "cpu")
    queue.ensure(range(4))
    carry = Carry.empty(batch, 81, size, "cpu")
    initial = HiddenStates(torch.arange(size, dtype=torch.float32), -torch.arange(size, dtype=torch.float32))
    easy_only = torch.tensor([1.0, 0.0, 0.0, 0.0])
    everyone = torch.ones(batch, dtype=torch.bool)

    fresh = queue.draw(everyone, easy_only)
    carry.advance(hidden(batch), everyone, *fresh, initial)
    assert origin(carry.inputs) == [(1, n) for n in range(6)]
    assert (carry.targets[:, 3] == 9).all() and (carry.segments == 0).all()
    assert torch.equal(carry.high_level, initial.high_level.expand(batch, 82, size))

    for _ in range(2):  # two segments with nobody halting
        carry.advance(hidden(batch, value=5.0), ~everyone, *queue.draw(~everyone, easy_only), initial)
    before = carry.inputs.clone()
    halted = torch.tensor([False, True, False, True, True, False])
    carry.advance(hidden(batch, value=7.0), halted, *queue.draw(halted, easy_only), initial)

    # Halted rows, in row order, take the next queue slots; the others keep their puzzle and states.
    assert origin(carry.inputs[halted]) == [(1, 6), (1, 7), (1, 8)]
    assert torch.equal(carry.inputs[~halted], before[~halted])
    assert carry.segments.tolist() == [3, 0, 3, 0, 0, 3]
    assert (carry.high_level[~halted] == 7.0).all() and (carry.low_level[~halted] == 6.0).all()
    assert torch.equal(carry.high_level[halted], initial.high_level.expand(3, 82, size))
    assert torch.equal(carry.low_level[halted], initial.low_level.expand(3, 82, size))
    assert queue.consumed.tolist() == [9, 0, 0, 0]


def simulate(batch, steps, probabilities, capacity=None, seed=0, halt_rate=0.6, supply=None):
    """The trainer's use of the queue: ensure, draw, and learn the counters one step late."""
    torch.manual_seed(seed)
    queue = puzzle_queue(supply or SerialSupply(), batch, "cpu", capacity=capacity)
    kinds = [k for k in range(4) if probabilities[k] > 0]
    generator = torch.Generator().manual_seed(seed)
    pending, drawn = [], []
    for step in range(steps):
        queue.ensure(kinds)
        rate = 1.0 if step % 7 < 3 else halt_rate  # bursts of steps where every row halts
        halted = torch.rand(batch, generator=generator) < rate
        inputs, targets = queue.draw(halted, probabilities, generator)
        drawn.append((inputs[halted], targets[halted]))
        pending.append(queue.consumed.clone())
        if len(pending) > 1:  # the value copied out after the previous step
            queue.observe(pending.pop(0).tolist())
    return queue, drawn


@pytest.mark.parametrize("probabilities", [[1.0, 0.0, 0.0, 0.0], [0.5, 0.3, 0.2, 0.0]])
def test_no_stale_or_repeated_slot_is_ever_read(probabilities):
    """Each difficulty's puzzles come out as 0, 1, 2, ... even when the ring wraps many times and rows all halt."""
    batch = 8
    probabilities = torch.tensor(probabilities)
    queue, drawn = simulate(batch, steps=80, probabilities=probabilities, capacity=3 * batch)
    next_serial = {1: 0, 2: 0, 3: 0, 4: 0}
    for inputs, targets in drawn:
        assert (inputs != EMPTY_SLOT).all() and (targets[:, 3] == 9).all()
        assert torch.equal(inputs[:, :3], targets[:, :3])  # puzzle and solution from the same slot
        for d, n in origin(inputs):
            assert n == next_serial[d], f"difficulty {d}: expected puzzle {next_serial[d]}, read {n}"
            next_serial[d] += 1
    assert next_serial[4] == 0  # probability 0 is never drawn
    assert sum(next_serial.values()) > 10 * queue.capacity  # the rings wrapped many times
    assert queue.consumed.tolist() == [next_serial[d] for d in (1, 2, 3, 4)]


def test_difficulty_frequencies_follow_the_stage():
    probabilities = torch.tensor([0.1, 0.3, 0.4, 0.2])
    _, drawn = simulate(64, steps=40, probabilities=probabilities, halt_rate=1.0)
    kinds = np.array([d for inputs, _ in drawn for d, _ in origin(inputs)])
    n = len(kinds)
    for k, p in enumerate(probabilities.tolist()):
        observed = (kinds == k + 1).sum()
        assert abs(observed - n * p) < 5 * np.sqrt(n * p * (1 - p)), (k, observed, n * p)


def test_capacity_must_cover_the_lag():
    with pytest.raises(ValueError, match="capacity"):
        puzzle_queue(SerialSupply(), 8, "cpu", capacity=20)


def test_state_round_trip_continues_the_same_sequence():
    probabilities = torch.tensor([0.7, 0.3, 0.0, 0.0])
    supply = SerialSupply()
    a, _ = simulate(4, steps=7, probabilities=probabilities, capacity=12, supply=supply)
    b = puzzle_queue(supply, 4, "cpu", capacity=12)
    b.load_state_dict({k: v.clone() for k, v in a.state_dict().items()})
    halted = torch.ones(4, dtype=torch.bool)
    first = a.draw(halted, probabilities, torch.Generator().manual_seed(1))
    second = b.draw(halted, probabilities, torch.Generator().manual_seed(1))
    assert torch.equal(first[0], second[0]) and b.written == a.written
