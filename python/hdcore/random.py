"""Seeds. Every random function of hdcore takes ``seed`` as an int, a
:class:`numpy.random.Generator` or ``None`` (fresh OS entropy), and hands the Rust kernels a
64-bit integer. Within the kernels, streams are keyed by (seed, purpose, chunk), so a result
depends on the seed only -- never on the number of threads.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["SeedLike", "as_seed", "spawn"]

SeedLike = "int | numpy.random.Generator | None"
_MASK = (1 << 64) - 1


def as_seed(seed) -> int:
    """Turn ``seed`` into the unsigned 64-bit integer the kernels use.

    An int is used as is (it must be in ``[0, 2**64)``); a Generator is advanced by one draw
    (so successive calls with the same Generator give independent streams, as in NumPy);
    ``None`` draws fresh entropy from the operating system.
    """
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, _MASK, dtype=np.uint64, endpoint=True))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed <= _MASK:
        raise ValueError(f"`seed` must be in [0, 2**64), got {seed}")
    return seed


def spawn(seed, *keys: int) -> int:
    """A child seed derived from ``seed`` and integer ``keys`` (e.g. a run index)."""
    ss = np.random.SeedSequence(entropy=as_seed(seed), spawn_key=tuple(int(k) for k in keys))
    return int(ss.generate_state(1, dtype=np.uint64)[0])
