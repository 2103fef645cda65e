"""Records: what one job produces, and the tidy DataFrame built from many.

A record is a plain dict (it is written as one JSON line)::

    {"key", "task", "params", "replicate", "seed",            # which job
     "result": {name: value} | None,                           # the task's flat dict
     "error": {"type", "message", "traceback"} | None,         # or why it failed
     "wall_time": seconds, "hdcore_version": "x.y.z"}
"""

from __future__ import annotations

import time
import traceback as tb
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from hdcore._core import __version__
from hdcore.sweeps.grid import RESERVED, Job, plain

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["error_info", "frame", "make_record", "run_job"]

_TRACEBACK_FRAMES = 8
_TRACEBACK_CHARS = 4000


def error_info(exc: BaseException, *, skip: int = 0) -> dict:
    """Type, message and the last frames of the traceback of ``exc`` (without its first
    ``skip`` frames)."""
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    trace = exc.__traceback__
    for _ in range(skip):
        trace = trace.tb_next if trace is not None and trace.tb_next is not None else trace
    text = "".join(tb.format_exception(cls, exc, trace, limit=-_TRACEBACK_FRAMES))
    return {"type": name, "message": str(exc), "traceback": text[-_TRACEBACK_CHARS:]}


def _flat_result(out, params: Mapping) -> dict:
    if not isinstance(out, Mapping):
        raise TypeError(f"the task returned {type(out).__name__}; a sweep task returns a flat "
                        "dict of results")
    result = {}
    for k, v in out.items():
        if not isinstance(k, str):
            raise TypeError(f"the task returned a non-string key {k!r}")
        if k in params or k in RESERVED:
            raise ValueError(f"the task returned {k!r}, which is also a parameter or a column "
                             "the sweep adds; rename the result")
        try:
            result[k] = plain(v.tolist() if isinstance(v, np.ndarray) else v)
        except TypeError:
            raise TypeError(f"the task returned {k!r} of type {type(v).__name__}; results must be "
                            "numbers, strings, bools, None, or lists / arrays of those") from None
    return result


def run_job(task: Callable, params: dict, seed: int, *, worker: bool = False) -> dict:
    """Call ``task(seed=seed, **params)`` and time it; runs on the worker.

    Returns the record's ``result``, ``error``, ``wall_time`` and ``hdcore_version``. An
    :class:`Exception` raised by the task (or an invalid return value) becomes ``error``. In
    this process other exceptions (KeyboardInterrupt, SystemExit) propagate: they are the
    user's Ctrl-C or exit. On a ``worker`` (a worker process or thread, which Ctrl-C never
    reaches) any :class:`BaseException` is the task's own doing (``sys.exit`` in a library, a
    custom ``BaseException``) and is recorded for its point like an error: it must not end the
    whole sweep.
    """
    t0 = time.perf_counter()
    catch = BaseException if worker else Exception
    try:
        result, error = _flat_result(task(seed=seed, **params), params), None
    except catch as exc:  # noqa: BLE001 -- a failing point is recorded, the sweep goes on
        result, error = None, error_info(exc, skip=1)  # skip this frame
    return {"result": result, "error": error, "wall_time": time.perf_counter() - t0,
            "hdcore_version": __version__}


def make_record(job: Job, task: str, outcome: dict) -> dict:
    """The persisted record of ``job`` from the worker's ``outcome`` (see :func:`run_job`)."""
    return {"key": job.key, "task": task, "params": job.stored, "replicate": job.replicate,
            "seed": job.seed, **outcome}


def frame(rows: Iterable[tuple[dict, int, int, dict]]) -> pd.DataFrame:
    """The tidy DataFrame of ``(params, replicate, seed, record)`` rows, in the given order.

    Columns: the parameters (in order of first appearance), ``replicate``, ``seed``, the
    results (in order of first appearance), ``wall_time``, ``hdcore_version``, ``error``
    (``"Type: message"`` or None) and ``traceback`` (None unless the run failed).
    """
    import pandas as pd  # imported here: `import hdcore` stays light

    rows = list(rows)
    param_cols: dict[str, None] = {}
    result_cols: dict[str, None] = {}
    data = []
    for params, rep, seed, rec in rows:
        param_cols.update(dict.fromkeys(params))
        result = rec.get("result") or {}
        result_cols.update(dict.fromkeys(result))
        err = rec.get("error")
        data.append({**params, "replicate": rep, "seed": seed, **result,
                     "wall_time": rec.get("wall_time"),
                     "hdcore_version": rec.get("hdcore_version"),
                     "error": f"{err['type']}: {err['message']}" if err else None,
                     "traceback": err.get("traceback") if err else None})
    columns = [*param_cols, "replicate", "seed", *result_cols, "wall_time", "hdcore_version",
               "error", "traceback"]
    return pd.DataFrame(data, columns=columns)
