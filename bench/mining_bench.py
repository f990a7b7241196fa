"""Speed and diversity of rated puzzle mining: puzzles per second at min_rating 10, 20, 50 and 100, and of
minimal puzzles with few givens (17-23, like the published hard collections).

Run from the repository root:  python bench/mining_bench.py  [--scale 0.2] [--workers N] [--per-chain 1,4]
                                                             [--ratings 10,20,50,100] [--minimal 17-23,17-20]

First the rating distribution of the original's extreme generator (why filtering it is not
enough), then one row per minimum rating and per_chain: puzzles per second (wall clock, and
per CPU-second, which a shared machine disturbs less), the share found by the search, the
rating distribution of the output, mean clues, and distinct solution grids per 1000 puzzles
(at most per_chain puzzles share one). Then minimal puzzles per givens range: puzzles per second, how many
have each count of givens, and their ratings (the chains aim at ratings drawn log-uniformly from 0..100).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numba  # noqa: E402

from src.hrm.sudoku import Difficulty, generate_batch, mine_puzzles  # noqa: E402
from src.hrm.sudoku.minimal import mine_minimal  # noqa: E402
from src.hrm.sudoku.solver import count_many  # noqa: E402

# Puzzles per measurement at --scale 1: a few seconds each on two cores.
NUM = {0: 5000, 10: 2000, 20: 1000, 50: 150, 100: 60, 200: 5}


def generator_distribution(count: int, workers: int) -> None:
    puzzles, _ = generate_batch([Difficulty.EXTREME] * count, seed=1, workers=workers)
    guesses = np.zeros(count, dtype=np.int64)
    count_many(puzzles, 2, np.zeros_like(puzzles), np.zeros(count, dtype=np.int64), guesses)
    shares = ", ".join(f">={r}: {np.mean(guesses >= r):.2%}" for r in (10, 20, 50, 100))
    print(f"Generator, {count} extreme puzzles: rating 0: {np.mean(guesses == 0):.1%}, {shares}, max {guesses.max()}")


def bench_mining(min_rating: int, per_chain: int, num: int, workers: int) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    puzzles, solutions, ratings, sources = mine_puzzles(num, min_rating, seed=min_rating, workers=workers,
                                                        per_chain=per_chain)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    mined = np.mean([s.startswith("mined") for s in sources])
    grids = len(np.unique(solutions, axis=0)) / len(solutions) * 1000
    p10, median, p90 = np.percentile(ratings, [10, 50, 90])
    print(f"  {min_rating:>4} {per_chain:>5} {num:>6} {num / seconds:>9.1f} {num / cpu:>8.1f} {mined:>6.0%} "
          f"{p10:>5.0f} {median:>6.0f} {p90:>5.0f} {ratings.max():>5} {np.count_nonzero(puzzles, 1).mean():>6.1f} "
          f"{grids:>6.0f}", flush=True)


def bench_minimal(low: int, high: int, num: int, workers: int) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    puzzles, _, ratings, _ = mine_minimal(num, low, high, seed=low, workers=workers)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    givens = np.count_nonzero(puzzles, axis=1)
    counts = " ".join(f"{g}:{np.sum(givens == g)}" for g in range(low, high + 1) if np.any(givens == g))
    p10, median, p90 = np.percentile(ratings, [10, 50, 90])
    buckets = " ".join(f"{np.mean((lo <= ratings) & (ratings < hi)):.0%}" for lo, hi in ((0, 1), (1, 10), (10, 50),
                                                                                         (50, 1 << 40)))
    print(f"  {low:>2}-{high:<2} {num:>5} {num / seconds:>9.2f} {num / cpu:>8.2f} {p10:>5.0f} {median:>6.0f} "
          f"{p90:>5.0f} {ratings.max():>5}  {buckets:<16}  {counts}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="puzzles per measurement, relative to a 2-core run")
    parser.add_argument("--workers", type=int, default=numba.config.NUMBA_NUM_THREADS, help="threads")
    parser.add_argument("--per-chain", default="1,4", help="comma-separated per_chain values (default 1,4)")
    parser.add_argument("--ratings", default="10,20,50,100", help="comma-separated minimum ratings")
    parser.add_argument("--minimal", default="17-23,17-20", help="comma-separated givens ranges of minimal puzzles")
    args = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}, numba threads: {numba.config.NUMBA_NUM_THREADS}, workers: {args.workers}")
    start = time.perf_counter()
    mine_puzzles(2, min_rating=10, workers=args.workers)  # compile, or load the cached kernels
    print(f"compile or cache load: {time.perf_counter() - start:.1f} s")
    generator_distribution(max(1000, int(30000 * min(args.scale, 1))), args.workers)
    print("\nMining extreme puzzles (rating = guesses of our solver; not tdoku's scale)")
    print(f"  {'min':>4} {'chain':>5} {'num':>6} {'puzzles/s':>9} {'per cpu':>8} {'mined':>6} {'p10':>5} "
          f"{'median':>6} {'p90':>5} {'max':>5} {'clues':>6} {'grids':>6}")
    for min_rating in (int(r) for r in args.ratings.split(",")):
        for per_chain in (int(k) for k in args.per_chain.split(",")):
            num = max(4, int(NUM.get(min_rating, 20) * args.scale))
            bench_mining(min_rating, per_chain, num, args.workers)
    print("\n(chain: puzzles per chain at most; per cpu: puzzles per CPU-second of this process, the per-core rate;"
          "\n mined: share found by the search; grids: distinct solution grids per 1000 puzzles)")
    print("\nMinimal puzzles with few givens (one per solution grid)")
    print(f"  {'givens':<5} {'num':>5} {'puzzles/s':>9} {'per cpu':>8} {'p10':>5} {'median':>6} {'p90':>5} {'max':>5}  "
          f"{'0 / 1-9 / 10-49 / 50+':<16}  per givens count")
    for text in args.minimal.split(","):
        low, _, high = text.partition("-")
        bench_minimal(int(low), int(high or low), max(8, int(200 * args.scale)), args.workers)


if __name__ == "__main__":
    main()
