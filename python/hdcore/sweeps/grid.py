"""Grids and jobs: parameter points x replicates, each with its seed and a content key.

A job is one call ``task(seed=seed, **params)``. Its key is a hash of the task's name, its
parameters and its seed, so a persisted result is found again whatever the order, the backend
or the process that computed it.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import numbers
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from hdcore._validation import check_int
from hdcore.random import as_seed, spawn

__all__ = ["RESERVED", "Job", "expand_grid", "make_jobs", "plain", "replicates", "task_name"]

#: Columns a sweep adds to every row; a parameter or a result may not use these names.
RESERVED = ("seed", "replicate", "wall_time", "hdcore_version", "error", "traceback")


@dataclass(frozen=True)
class Job:
    """One ``task(seed=seed, **params)`` call: row ``index`` of the sweep's DataFrame.

    ``params`` are passed to the task as the grid gave them; ``stored`` is their JSON form
    (numpy scalars as numbers, tuples as lists, other objects as their repr), hashed into
    ``key`` and written to the journal.
    """

    index: int
    point: int
    params: dict
    replicate: int
    seed: int
    key: str
    stored: dict


def plain(value, *, strict: bool = True):
    """``value`` as plain JSON-compatible Python (numpy scalars -> int/float/bool/str).

    Tuples become lists. With ``strict=False`` anything else is returned unchanged; with
    ``strict=True`` it raises TypeError.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return plain(value.item(), strict=strict)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, strict=strict) for v in value]
    if strict:
        raise TypeError(f"{type(value).__name__} is not a number, string, bool, None or list")
    return value


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True, default=repr)


def task_name(task: Callable) -> str:
    """A stable name for ``task``: ``module.qualname``; for a bound method the class of the
    instance (so two studies sharing an inherited ``simulate`` differ); for a
    :class:`functools.partial` the function and its frozen arguments."""
    if isinstance(task, functools.partial):
        frozen = _canonical({"args": plain(list(task.args), strict=False),
                             "kwargs": {k: plain(v, strict=False)
                                        for k, v in task.keywords.items()}})
        return f"{task_name(task.func)}{frozen}"
    owner = getattr(task, "__self__", None)
    func = getattr(task, "__func__", None)
    if owner is not None and func is not None and not isinstance(owner, types.ModuleType):
        cls = owner if isinstance(owner, type) else type(owner)
        return f"{cls.__module__}.{cls.__qualname__}.{func.__name__}"
    qualname = getattr(task, "__qualname__", None)
    if qualname is not None:
        return f"{getattr(task, '__module__', None)}.{qualname}"
    cls = type(task)
    return f"{cls.__module__}.{cls.__qualname__}"


def expand_grid(grid) -> list[dict]:
    """A list of parameter dicts from a dict of lists (cartesian product, the first key
    varying slowest) or a list of dicts. A scalar or a string in a dict counts as a single
    value.

    Raises
    ------
    TypeError
        If ``grid`` is neither, or a parameter name is not a string.
    ValueError
        If the grid or one of its axes is empty, or a parameter uses a reserved name
        (``seed``, ``replicate``, ``wall_time``, ``hdcore_version``, ``error``,
        ``traceback``).
    """
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
        points = [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    elif isinstance(grid, Iterable) and not isinstance(grid, (str, bytes)):
        points = []
        for i, p in enumerate(grid):
            if not isinstance(p, Mapping):
                raise TypeError(f"`grid` point {i} must be a dict, got {type(p).__name__}")
            points.append(dict(p))
        if not points:
            raise ValueError("`grid` is empty")
    else:
        raise TypeError(f"`grid` must be a dict of lists or a list of dicts, "
                        f"got {type(grid).__name__}")
    for p in points:
        for k in p:
            if not isinstance(k, str) or not k.isidentifier():
                raise TypeError(f"`grid` parameter names must be identifiers, got {k!r}")
            if k in RESERVED:
                raise ValueError(f"`grid` parameter {k!r} clashes with a column the sweep adds "
                                 f"({', '.join(RESERVED)}); rename it")
    return points


def replicates(seeds) -> list[int]:
    """Replicate indices from ``seeds``: a count ``n`` (replicates ``0..n-1``) or explicit
    distinct non-negative indices."""
    if isinstance(seeds, Iterable) and not isinstance(seeds, (str, bytes)):
        reps = [check_int(r, "seeds", min=0) for r in seeds]
        if not reps:
            raise ValueError("`seeds` is empty")
        if len(set(reps)) != len(reps):
            raise ValueError(f"`seeds` has repeated replicate indices: {reps}")
        return reps
    return list(range(check_int(seeds, "seeds", min=1)))


def _unstable(value) -> bool:
    """Whether ``value`` (after :func:`plain`) has only the default ``repr``, which changes
    from one run to the next (it holds a memory address)."""
    if isinstance(value, list):
        return any(_unstable(v) for v in value)
    return (not (value is None or isinstance(value, (bool, int, float, str)))
            and type(value).__repr__ is object.__repr__)


def make_jobs(points: list[dict], reps: list[int], seed, name: str, *,
              strict: bool) -> list[Job]:
    """Jobs in row order (point-major, replicate-minor). Replicate ``r`` runs with seed
    ``hdcore.random.spawn(seed, r)`` at every point (common random numbers).

    ``strict=True`` (results are persisted) refuses parameters whose stored form would not be
    the same in the next run (objects with the default ``repr``).
    """
    base = as_seed(seed)
    seeds = [spawn(base, r) for r in reps]
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    for i, params in enumerate(points):
        stored = {k: plain(v, strict=False) for k, v in params.items()}
        for k, v in stored.items():
            if strict and _unstable(v):
                raise TypeError(f"`grid` parameter {k!r} = {v!r} cannot be stored in `out`: "
                                f"a {type(params[k]).__name__} without a __repr__ of its own "
                                "has no stable key; pass a plain value (number, string, ...)")
        point_key = _canonical(stored)
        if point_key in seen:
            raise ValueError(f"`grid` has the point {stored} twice (points {seen[point_key]} "
                             f"and {i})")
        seen[point_key] = i
        for r, s in zip(reps, seeds):
            key = hashlib.sha256(_canonical({"task": name, "params": stored, "seed": s})
                                 .encode()).hexdigest()[:32]
            jobs.append(Job(len(jobs), i, params, r, s, key, stored))
    return jobs
