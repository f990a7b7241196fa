"""The background supply: deterministic order whatever the timing, resume, blocking, shutdown."""

import json
import threading

import numpy as np
import pytest
from test_generator import check_puzzles

from src.hrm.sudoku import Difficulty, PuzzleSupply


def _drain(supply: PuzzleSupply, plan) -> dict:
    taken = {}
    for difficulty, n in plan:
        puzzles, solutions = supply.take(difficulty, n)
        assert puzzles.shape == solutions.shape == (n, 81) and puzzles.dtype == np.int8
        check_puzzles(puzzles, solutions, [difficulty] * n)
        taken.setdefault(int(difficulty), []).append((puzzles, solutions))
    return {d: tuple(np.concatenate(parts) for parts in zip(*chunks)) for d, chunks in taken.items()}


def test_the_kth_puzzle_of_a_difficulty_does_not_depend_on_timing_or_chunks():
    with PuzzleSupply(seed=11, workers=1, chunk_size=8, capacity=32) as a:
        a.set_demand([0, 1, 0, 1, 1])
        plan = [(Difficulty.EASY, 5), (Difficulty.EXTREME, 3), (Difficulty.EASY, 12), (Difficulty.EXTREME, 9)]
        first = _drain(a, plan)
    with PuzzleSupply(seed=11, workers=2, chunk_size=5, capacity=100) as b:
        b.set_demand([0, 0, 0, 0, 1])  # easy is not demanded: take() still gets it
        second = _drain(b, [(Difficulty.EXTREME, 12), (Difficulty.EASY, 17)])
    for d in (Difficulty.EASY, Difficulty.EXTREME):
        np.testing.assert_array_equal(first[d][0], second[d][0])
        np.testing.assert_array_equal(first[d][1], second[d][1])


def test_resume_from_state_dict_continues_the_sequence():
    with PuzzleSupply(seed=3, workers=1, chunk_size=4) as supply:
        supply.set_demand([0, 2, 1, 0, 0])
        supply.take(Difficulty.EASY, 6)
        supply.take(Difficulty.MEDIUM, 3)
        state = json.loads(json.dumps(supply.state_dict()))
        assert state == {"seed": 3, "consumed": [0, 6, 3, 0, 0]}
        after = _drain(supply, [(Difficulty.EASY, 5), (Difficulty.MEDIUM, 2)])
    with PuzzleSupply.from_state_dict(state, workers=2, chunk_size=3) as resumed:
        again = _drain(resumed, [(Difficulty.MEDIUM, 2), (Difficulty.EASY, 5)])
        assert resumed.state_dict()["consumed"] == [0, 11, 5, 0, 0]
    for d in after:
        np.testing.assert_array_equal(after[d][0], again[d][0])
        np.testing.assert_array_equal(after[d][1], again[d][1])


def test_blocking_take_counts_the_wait_and_demand_fills_pools():
    with PuzzleSupply(seed=5, workers=1, chunk_size=16, capacity=64) as supply:
        assert supply.wait_seconds == 0.0
        check_puzzles(*supply.take(Difficulty.HARD, 20), [Difficulty.HARD] * 20)  # nothing generated yet: it waits
        assert supply.wait_seconds > 0.0
        supply.set_demand([0, 1, 0, 0, 0])
        deadline = threading.Event()
        for _ in range(200):  # the easy pool fills in the background up to its share
            if supply._available[Difficulty.EASY] >= 64:
                break
            deadline.wait(0.05)
        waited = supply.wait_seconds
        check_puzzles(*supply.take(Difficulty.EASY, 30), [Difficulty.EASY] * 30)
        assert supply.wait_seconds == waited
        assert supply.take(Difficulty.EASY, 0)[0].shape == (0, 81)


def test_bad_demand_and_use_after_close():
    supply = PuzzleSupply(seed=1, workers=1, chunk_size=4)
    with pytest.raises(ValueError, match="5 non-negative"):
        supply.set_demand([1, 1])
    with pytest.raises(ValueError, match="5 non-negative"):
        supply.set_demand([1, -1, 0, 0, 0])
    assert supply._thread.daemon
    supply.close()
    supply.close()
    assert not supply._thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        supply.take(Difficulty.EASY, 1)


def test_min_ready_keeps_a_rarely_demanded_pool_ready_for_a_large_take():
    # Easy's share of the capacity is 6 rows; a consumer that takes 40 at once asks for min_ready=40.
    with PuzzleSupply(seed=7, workers=1, chunk_size=8, capacity=64, min_ready=40) as supply:
        supply.set_demand([0, 1, 0, 0, 9])
        for _ in range(400):
            if supply._available[Difficulty.EASY] >= 40:
                break
            threading.Event().wait(0.05)
        assert supply._available[Difficulty.EASY] >= 40
        check_puzzles(*supply.take(Difficulty.EASY, 40), [Difficulty.EASY] * 40)
        assert supply.wait_seconds == 0.0


def test_without_min_ready_a_pool_stops_at_its_share():
    with PuzzleSupply(seed=7, workers=1, chunk_size=8, capacity=64) as supply:
        supply.set_demand([0, 1, 0, 0, 9])
        for _ in range(400):  # the extreme pool filling to its share means generation has settled
            if supply._available[Difficulty.EXTREME] >= 64 * 9 / 10:
                break
            threading.Event().wait(0.05)
        # Its own precondition: the extreme pool filled to its share (64·9/10 in chunks of 8: 64), so
        # generation has settled rather than stalled.
        assert supply._available[Difficulty.EXTREME] == 64
        threading.Event().wait(0.2)
        assert supply._available[Difficulty.EASY] == 8  # one chunk covers a share of 6.4 rows, and no more comes
