"""Parameter sweeps: a task over a grid of parameters x seeds -> a tidy DataFrame.

``task(seed=..., **params) -> dict`` is called once per (grid point, replicate); the seed of
replicate ``r`` is ``hdcore.random.spawn(seed, r)``, the same at every grid point (common random
numbers make curves smoother and differences between points more precise).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping

import pandas as pd
from tqdm.auto import tqdm

from hdcore import __version__
from hdcore._validation import check_int
from hdcore.random import as_seed, spawn

__all__ = ["sweep", "expand_grid"]


def expand_grid(grid) -> list[dict]:
    """A list of parameter dicts from a dict of lists (cartesian product) or a list of dicts."""
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("`grid` is empty")
        keys = list(grid)
        values = []
        for k in keys:
            v = grid[k]
            v = list(v) if isinstance(v, Iterable) and not isinstance(v, (str, bytes)) else [v]
            if not v:
                raise ValueError(f"`grid` entry {k!r} is empty")
            values.append(v)
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    points = [dict(p) for p in grid]
    if not points:
        raise ValueError("`grid` is empty")
    return points


def sweep(task: Callable[..., Mapping], grid, *, seeds: int | Iterable[int] = 1, seed=0,
          progress: bool = True, desc: str | None = None) -> pd.DataFrame:
    """Run ``task`` over ``grid`` x replicates; one row per (point, replicate).

    Parameters
    ----------
    task : callable
        ``task(seed=int, **params) -> dict`` of scalar results.
    grid : dict of lists or list of dicts
        Parameter points.
    seeds : int or iterable of int
        Number of replicates, or explicit replicate indices.
    seed : int or Generator
        Base seed; replicate ``r`` runs with ``spawn(seed, r)``.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    pandas.DataFrame
        Parameters, ``replicate``, ``seed``, the task's results, ``wall_time`` and
        ``hdcore_version``.
    """
    points = expand_grid(grid)
    reps = list(range(check_int(seeds, "seeds", min=1))) if not isinstance(seeds, Iterable) else list(seeds)
    if not reps:
        raise ValueError("`seeds` is empty")
    base = as_seed(seed)
    jobs = [(p, r) for p in points for r in reps]
    rows = []
    for params, rep in tqdm(jobs, desc=desc or getattr(task, "__name__", "sweep"),
                            disable=not progress, leave=False):
        s = spawn(base, rep)
        t0 = time.perf_counter()
        result = dict(task(seed=s, **params))
        rows.append({**params, "replicate": rep, "seed": s, **result,
                     "wall_time": time.perf_counter() - t0, "hdcore_version": __version__})
    return pd.DataFrame(rows)
