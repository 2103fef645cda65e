"""Sweep tasks used by the tests. They live in an importable module (the tests directory is on
``sys.path``) so that worker processes, Dask workers and the kill-test subprocess can load
them by reference."""

from __future__ import annotations

import os
import time

import numpy as np

import hdcore

#: A small grid of the spiked-Wigner study's simulation (AMP + PCA through the Rust kernels).
WIGNER_GRID = {"prior": ["rademacher"], "snr": [0.6, 1.4, 2.0], "n": [240]}

#: Invocations are appended to this file (one "x seed" line each) when the variable is set.
CALL_LOG = "HDCORE_TEST_CALL_LOG"


def wigner(seed, **params):
    """The spiked-Wigner study's ``simulate``."""
    from hdcore.studies import get_study

    return get_study("spiked-wigner").simulate(seed, **params)


def noisy_square(seed, x, scale=1.0):
    """``scale * x**2`` plus a seeded normal draw: the seed visibly matters."""
    return {"y": scale * x * x, "noise": float(np.random.default_rng(seed).normal())}


def flaky(seed, x):
    """Raises ValueError at x = 2 and x = 5."""
    if x in (2, 5):
        raise ValueError(f"bad x={x}")
    return noisy_square(seed, x)


def slow(seed, x):
    """Logs its invocation, sleeps 60 ms, returns a seeded value."""
    log = os.environ.get(CALL_LOG)
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, f"{x} {seed}\n".encode())
        finally:
            os.close(fd)
    time.sleep(0.06)
    return {"y": x + float(np.random.default_rng(seed).uniform())}


def crash_at_3(seed, x):
    """Kills its own process (like a segfault or the OOM killer) at x = 3."""
    if x == 3:
        os._exit(13)
    return noisy_square(seed, x)


def threads(seed, x):
    """The Rust thread count a kernel would use here, and the worker's pid."""
    return {"threads": hdcore.get_num_threads(), "pid": os.getpid()}


class LoadsOnlyHere:
    """A task that pickles here but cannot be unpickled in any other process."""

    def __init__(self):
        self.pid = os.getpid()

    def __reduce__(self):
        return _load_only_in, (self.pid,)

    def __call__(self, seed, x):
        return {"y": x}


def _load_only_in(pid):
    if os.getpid() != pid:
        raise ImportError("this task cannot be loaded here")
    return LoadsOnlyHere()


def exits_at_3(seed, x):
    """Raises SystemExit (a BaseException, e.g. a library calling ``sys.exit``) at x = 3."""
    if x == 3:
        raise SystemExit(f"task exits at x={x}")
    return noisy_square(seed, x)


def nan_at_odd(seed, x):
    """Returns NaN (and an infinity) at odd x: non-finite results are data, not errors."""
    if x % 2:
        return {"y": float("nan"), "z": float("inf"), "v": [1.0, float("nan")]}
    return {"y": float(x), "z": 1.0, "v": [1.0, 2.0]}


def mixed_faults(seed, x):
    """Per point: raises ValueError (x = 1 mod 4), returns NaN (x = 2 mod 4), else a value."""
    if x % 4 == 1:
        raise ValueError(f"bad x={x}")
    if x % 4 == 2:
        return {"y": float("nan")}
    return {"y": float(x)}
