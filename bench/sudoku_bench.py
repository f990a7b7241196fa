"""Speed of the Sudoku engine: solving famous hard puzzles, and generating puzzles on one and on all cores.

Run from the repository root:  python bench/sudoku_bench.py  [--scale 0.2] [--workers N]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numba  # noqa: E402

from src.hrm.sudoku import (  # noqa: E402
    Difficulty,
    count_solutions_batch,
    generate_batch,
    parse_puzzle,
    rate_difficulty,
    solve_batch,
)

FAMOUS = {
    "AI Escargot (Inkala 2006)": "1....7.9..3..2...8..96..5....53..9...1..8...26....4...3......1..4......7..7...3..",
    "World's hardest (Inkala 2010)": "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4..",
    "Platinum Blonde": ".......12........3..23..4....18....5.6..7.8.......9.....85.....9...4.5..47...6...",
    "Golden Nugget": ".......39.....1..5..3.5.8....8.9...6.7...2...1..4.......9.8..5..2....6..4..7.....",
    "Easter Monster": "1.......2.9.4...5...6...7...5.9.3.......7.......85..4.7.....6...3...9.8...2.....1",
    "17 clues, anti-backtracking": "..............3.85..1.2.......5.7.....4...1...9.......5......73..2.1........4...9",
    "17 clues (a)": ".......1.4.........2...........5.4.7..8...3....1.9....3..4..2...5.1........8.6...",
    "17 clues (b)": "...8.1..........435............7.8........1...2..3....6......75..34........2..6..",
}

# A widely used set of twenty puzzles that are hard for backtracking solvers.
HARD20 = """
..............3.85..1.2.......5.7.....4...1...9.......5......73..2.1........4...9
.......12........3..23..4....18....5.6..7.8.......9.....85.....9...4.5..47...6...
.2..5.7..4..1....68....3...2....8..3.4..2.5.....6...1...2.9.....9......57.4...9..
........3..1..56...9..4..7......9.5.7.......8.5.4.2....8..2..9...35..1..6........
12.3....435....1....4........54..2..6...7.........8.9...31..5.......9.7.....6...8
1.......2.9.4...5...6...7...5.9.3.......7.......85..4.7.....6...3...9.8...2.....1
.......39.....1..5..3.5.8....8.9...6.7...2...1..4.......9.8..5..2....6..4..7.....
12.3.....4.....3....3.5......42..5......8...9.6...5.7...15..2......9..6......7..8
..3..6.8....1..2......7...4..9..8.6..3..4...1.7.2.....3....5.....5...6..98.....5.
1.......9..67...2..8....4......75.3...5..2....6.3......9....8..6...4...1..25...6.
..9...4...7.3...2.8...6...71..8....6....1..7.....56...3....5..1.4.....9...2...7..
....9..5..1.....3...23..7....45...7.8.....2.......64...9..1.....8..6......54....7
4...3.......6..8..........1....5..9..8....6...7.2........1.27..5.3....4.9........
7.8...3.....2.1...5.........4.....263...8.......1...9..9.6....4....7.5...........
3.7.4...........918........4.....7.....16.......25..........38..9....5...2.6.....
........8..3...4...9..2..6.....79.......612...6.5.2.7...8...5...1.....2.4.5.....3
.......1.4.........2...........5.4.7..8...3....1.9....3..4..2...5.1........8.6...
.......12....35......6...7.7.....3.....4..8..1...........12.....8.....4..5....6..
1.......2.9.4...5...6...7...5.3.4.......6........58.4...2...6...3...9.8.7.......1
.....1.2.3...4.5.....6....7..2.....1.8..9..3.4.....8..5....2....9..3.4....67.....
"""


def per_puzzle_us(function, puzzles: np.ndarray, min_seconds: float) -> float:
    """Best wall-clock microseconds per puzzle over repeated runs of function(puzzles)."""
    best = float("inf")
    spent = 0.0
    while spent < min_seconds or best == float("inf"):
        start = time.perf_counter()
        function(puzzles)
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = min(best, elapsed / len(puzzles))
    return best * 1e6


def bench_solving(scale: float) -> None:
    print("Solving, one core (best of repeated runs; 'unique' also proves there is no second solution;")
    print("guesses = rate_difficulty, the tentative placements needed to solve and prove uniqueness)")
    print(f"  {'puzzle':<32} {'clues':>5} {'guesses':>7} {'solve us':>9} {'unique us':>10}")
    repeat = max(1, int(200 * scale))

    def row(name: str, puzzles: np.ndarray) -> None:
        assert np.all(count_solutions_batch(puzzles) == 1), name
        batch = np.repeat(puzzles, max(1, repeat // len(puzzles)), axis=0)
        solve_us = per_puzzle_us(solve_batch, batch, 0.2 * scale)
        unique_us = per_puzzle_us(count_solutions_batch, batch, 0.2 * scale)
        clues = np.count_nonzero(puzzles, axis=1).mean()
        guesses = np.mean([rate_difficulty(p) for p in puzzles])
        print(f"  {name:<32} {clues:>5.1f} {guesses:>7.1f} {solve_us:>9.1f} {unique_us:>10.1f}")

    for name, text in FAMOUS.items():
        row(name, parse_puzzle(text).reshape(1, 81))
    hard20 = np.array([parse_puzzle(line).reshape(81) for line in HARD20.split()])
    row("hard20 set, mean", hard20)
    extreme, _ = generate_batch([Difficulty.EXTREME] * max(20, int(2000 * scale)), seed=1)
    row("generated extreme, mean", extreme)


def bench_generation(scale: float, workers: int) -> None:
    print(f"\nGenerating (puzzles per second; all cores = {workers} threads)")
    print(f"  {'difficulty':<10} {'1 core':>9} {'all cores':>10} {'scaling':>8}")
    for difficulty in Difficulty:
        n = max(50, int((1000 if difficulty == Difficulty.EXTREME else 2500) * scale))
        rates = []
        for threads in (1, workers):
            count = n * threads
            best = 0.0
            for trial in range(3):  # best of three, to see past other work on a shared machine
                start = time.perf_counter()
                generate_batch([difficulty] * count, seed=trial, workers=threads)
                best = max(best, count / (time.perf_counter() - start))
            rates.append(best)
        scaling = rates[1] / (rates[0] * workers)
        print(f"  {difficulty.cli_name:<10} {rates[0]:>9.0f} {rates[1]:>10.0f} {scaling:>7.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="work per measurement (1.0: a few seconds each)")
    parser.add_argument("--workers", type=int, default=numba.config.NUMBA_NUM_THREADS, help="threads for 'all cores'")
    args = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}, numba threads: {numba.config.NUMBA_NUM_THREADS}")
    for workers in (1, 2):  # compile (or load from the cache) the serial and the parallel kernel before timing
        generate_batch([Difficulty.EASY] * 4, seed=0, workers=workers)
    solve_batch(np.zeros((1, 81), dtype=np.int8))
    count_solutions_batch(np.zeros((1, 81), dtype=np.int8))
    print(f"numba threading layer: {numba.threading_layer()}\n")
    bench_solving(args.scale)
    bench_generation(args.scale, args.workers)


if __name__ == "__main__":
    main()
