"""A small portable PRNG (splitmix64) for the numba kernels.

Every puzzle draws from its own stream, seeded from (base seed, stream, index), so a
puzzle does not depend on thread scheduling, worker count or numba's own RNG, and the
same seed gives the same puzzle on any machine.
"""

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
MASK64 = (1 << 64) - 1


@njit(cache=True, nogil=True)
def mix64(z):
    """The splitmix64 finaliser: a bijective scramble of a uint64."""
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def stream_state(base, stream, index):
    """Initial state (uint64[1]) of the generator for puzzle `index` of `stream` under seed `base`."""
    h = mix64(base + GOLDEN)
    h = mix64(h ^ (np.uint64(stream) * MIX1 + GOLDEN))
    state = np.empty(1, dtype=np.uint64)
    state[0] = mix64(h + np.uint64(index) * GOLDEN)
    return state


@njit(cache=True, nogil=True)
def next_u64(state):
    state[0] += GOLDEN
    return mix64(state[0])


@njit(cache=True, nogil=True)
def below(state, n):
    """A uniform integer in [0, n) (bias below n / 2**64)."""
    return np.int64(next_u64(state) % np.uint64(n))


@njit(cache=True, nogil=True)
def shuffle(values, state):
    """Fisher-Yates shuffle in place."""
    for i in range(len(values) - 1, 0, -1):
        j = below(state, i + 1)
        values[i], values[j] = values[j], values[i]


def base_seed(seed) -> np.uint64:
    """A Python int seed (any size or sign) reduced to the uint64 the kernels use."""
    return np.uint64(int(seed) & MASK64)
