"""Speed of the maze generator: mazes per second by size and shortest-path floor, with the attempts it takes.

Run from the repository root:  python bench/maze_bench.py  [--workers N] [--floors 0,40,80,111] [--size 30]
                                                           [--seconds 5] [--kinds walls]

Each row draws mazes of one floor for about --seconds (at least 4 mazes) and prints mazes per
second (wall clock, and per worker), the shortest paths' median, and the mean wall share of the
kept mazes: the hard filter keeps mazes near the percolation threshold, about 0.38 of cells walls
against the drawn 0.3-0.5. The Maze-Hard filter (111 steps at 30×30) is the slow one: the exact
rejection of (walls, S, G) keeps about one draw in 100,000 (about one maze a second a core: 0.9 over
30 s on 2 workers here), so a held-out set of 1,000 takes about a minute on 16 cores. A curriculum's short stages are
thousands of times faster. `--kinds backtracker` measures perfect mazes instead: about 37,000 hard ones a
second on 2 cores, since most perfect 30×30 mazes have cells 111 steps apart.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numba  # noqa: E402

from src.hrm.maze import WALL, generate_mazes, maze_kinds  # noqa: E402


def measure(size: int, floor: int, workers: int, seconds: float, kinds: int) -> tuple[float, np.ndarray, np.ndarray]:
    """(mazes per second, their shortest paths, their wall shares), growing the batch until it takes `seconds`."""
    count, spent = 4, 0.0
    while True:
        start = time.perf_counter()
        mazes, _, steps = generate_mazes(count, size, floor, seed=count, workers=workers, kinds=kinds)
        spent = time.perf_counter() - start
        if spent >= seconds or count >= 1 << 20:
            return count / spent, steps, (mazes == WALL).mean(axis=1)
        count = min(count * max(2, int(seconds / max(spent, 1e-3))), 1 << 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=numba.config.NUMBA_NUM_THREADS)
    parser.add_argument("--floors", default="0,40,80,111")
    parser.add_argument("--size", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--kinds", default="walls", help="maze families: walls, backtracker or both (default walls)")
    args = parser.parse_args()
    kinds = maze_kinds(args.kinds)
    generate_mazes(2, 8, 0, workers=1, kinds=kinds)  # compile (or load the cache) outside the timing
    print(f"{args.size}x{args.size} mazes ({args.kinds}; walls drawn in [0.3, 0.5]), {args.workers} workers,"
          f" {os.cpu_count()} cores")
    print(f"{'floor':>6} {'mazes/s':>10} {'per worker':>11} {'median path':>12} {'wall share':>11}")
    for floor in (int(part) for part in args.floors.split(",")):
        rate, steps, walls = measure(args.size, floor, args.workers, args.seconds, kinds)
        print(f"{floor:>6} {rate:>10.1f} {rate / args.workers:>11.2f} {np.median(steps):>12g} {walls.mean():>11.3f}")


if __name__ == "__main__":
    main()
