"""``hdcore.sweep``: a task over a grid of parameters x seeds -> a tidy DataFrame."""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from hdcore._validation import check_choice, check_int
from hdcore.random import as_seed
from hdcore.sweeps.grid import Job, expand_grid, make_jobs, replicates, task_name
from hdcore.sweeps.local import (
    InProcess,
    PoolBroken,
    Processes,
    TaskLoadError,
    Threads,
    WorkerDied,
    available_cores,
)
from hdcore.sweeps.records import frame, make_record
from hdcore.sweeps.store import Store, encode

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BACKENDS", "sweep"]

BACKENDS = ("local", "dask")
#: A sweep gives up when this many points killed their worker process and none succeeded.
_MAX_CRASHES_WITHOUT_SUCCESS = 3


def _check_signature(task: Callable, points: list[dict]) -> None:
    import inspect

    try:
        sig = inspect.signature(task)
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return
    for names in {tuple(p) for p in points}:
        try:
            sig.bind(seed=0, **dict.fromkeys(names))
        except TypeError as exc:
            raise TypeError(f"`task` {task_name(task)} cannot be called as "
                            f"task(seed=..., {', '.join(f'{n}=...' for n in names)}): {exc}") \
                from None


def _crash_outcome(message: str) -> dict:
    from hdcore._core import __version__

    return {"result": None, "wall_time": None, "hdcore_version": __version__,
            "error": {"type": "WorkerDied", "message": message, "traceback": None}}


def _execute(backend, todo: list[Job], name: str, store: Store | None, bar) -> dict[str, dict]:
    """Run ``todo`` on ``backend``; the records by key, each persisted as soon as it arrives.

    When a worker process dies, the jobs in flight (local pool) or the jobs the scheduler
    declares killed with it (Dask) become suspects: they are rerun one at a time, alone, so the
    job that kills its worker is identified and recorded as failed while the others complete.
    """
    records: dict[str, dict] = {}
    queue = deque(todo)
    suspects: deque[Job] = deque()
    inflight: dict = {}
    crashes = survivals = 0
    try:
        backend.start()
        while queue or suspects or inflight:
            # Suspects run alone: only once nothing else is in flight.
            isolating = bool(suspects) and not inflight
            if isolating:
                job = suspects.popleft()
                inflight[backend.submit(job)] = job
            elif not suspects:
                while queue and len(inflight) < backend.window:
                    job = queue.popleft()
                    inflight[backend.submit(job)] = job
            done = backend.wait(list(inflight))
            finished, broken = [], False
            for fut in sorted(done, key=lambda f: inflight[f].index):
                job = inflight.pop(fut)
                try:
                    outcome = backend.outcome(fut)
                except PoolBroken as exc:
                    broken = True
                    if not isolating:
                        suspects.append(job)
                        continue
                    outcome = _crash_outcome(f"the worker process died running this point "
                                             f"({exc})")
                except WorkerDied as exc:
                    # A scheduler (Dask) declares every job of a dying worker failed: rerun
                    # the job alone before blaming it.
                    if not isolating:
                        suspects.append(job)
                        continue
                    outcome = _crash_outcome(str(exc))
                finished.append(make_record(job, name, outcome))
            if broken:
                # The other jobs in flight fail with the pool: keep those that finished first.
                for fut, job in sorted(inflight.items(), key=lambda item: item[1].index):
                    try:
                        finished.append(make_record(job, name, backend.outcome(fut)))
                    except PoolBroken:
                        suspects.append(job)
                inflight.clear()
                suspects = deque(sorted(suspects, key=lambda j: j.index))
            _persist(finished, records, store)
            bar.update(len(finished))
            if any(rec["error"] for rec in finished):
                bar.set_postfix(failed=sum(1 for rec in records.values() if rec["error"]))
            for rec in finished:
                if rec["error"] and rec["error"]["type"] == "WorkerDied":
                    crashes += 1
                else:
                    survivals += 1
            if crashes >= _MAX_CRASHES_WITHOUT_SUCCESS and not survivals:
                raise RuntimeError(f"{crashes} points killed their worker process and no point "
                                   "completed; the task or the workers' environment is broken "
                                   "(pass n_workers=1 to run in this process and see why)")
            if broken:
                backend.restart()
    except TaskLoadError as exc:
        backend.close(cancel=True)
        raise TypeError(f"worker processes could not load `task` ({exc}); define it in an "
                        "importable module, or pass n_workers=1") from None
    except BaseException:
        backend.close(cancel=True)
        raise
    backend.close()
    return records


def _persist(finished: list[dict], records: dict[str, dict], store: Store | None) -> None:
    """Append ``finished`` to the journal (one write, one flush) and to ``records``."""
    if store is not None:
        store.append([encode(rec) for rec in finished])
    records.update((rec["key"], rec) for rec in finished)


def _make_backend(backend: str, task: Callable, *, scheduler, n_workers: int | None,
                  threads: int | None, processes: bool, n_todo: int):
    if backend == "dask":
        from hdcore.sweeps.dask_backend import Dask

        return Dask(task, scheduler, n_workers, threads)
    cores = available_cores()
    n = n_workers if n_workers is not None else max(1, min(cores, n_todo))
    if n == 1:
        return InProcess(task, threads)
    if not processes:
        return Threads(task, n, threads)
    return Processes(task, n, threads or max(1, cores // n))


def sweep(task: Callable[..., Mapping], grid, *, seeds: int | Iterable[int] = 1, seed=0,
          backend: str = "local", scheduler=None, out=None, n_workers: int | None = None,
          threads_per_worker: int | None = None, processes: bool = True,
          progress: bool = True, desc: str | None = None, name: str | None = None,
          resume: bool = True, retry_failed: bool = False) -> pd.DataFrame:
    """Run ``task`` over ``grid`` x replicates; one row per (point, replicate).

    Parameters
    ----------
    task : callable
        ``task(seed=int, **params) -> dict`` of results (numbers, strings, bools, None, or
        lists / arrays of those), e.g. a function or a study's ``simulate``. An
        :class:`Exception` it raises is recorded in the row (``error``, ``traceback``) and the
        sweep goes on.
    grid : dict of lists or list of dicts
        Parameter points: the cartesian product of a dict's lists (first key slowest), or
        the given dicts in order.
    seeds : int or iterable of int
        Number of replicates ``n`` (replicates ``0..n-1``), or explicit replicate indices.
    seed : int or numpy.random.Generator
        Base seed; replicate ``r`` runs with ``hdcore.random.spawn(seed, r)`` at every point.
    backend : {"local", "dask"}
        ``"local"``: this machine (processes by default, see ``n_workers``). ``"dask"``: a
        ``dask.distributed`` cluster (``pip install hdcore[dask]``), see ``scheduler``.
    scheduler : str, distributed.Client or None
        Dask only: a scheduler address (``"tcp://host:8786"``), a connected client, or None
        to start a ``LocalCluster`` of ``n_workers`` processes for this sweep.
    out : str or path, optional
        Persist every finished run as it completes and resume from it: ``"x.jsonl"``, or
        ``"x.csv"`` / ``"x.parquet"`` (the journal ``x.jsonl`` plus the table written at the
        end). Runs already in the journal are not computed again. See
        :mod:`hdcore.sweeps.store`.
    n_workers : int, optional
        Workers. Local default: one per core (capped at the number of runs); ``1`` runs in
        this process. Dask: workers of the LocalCluster hdcore starts.
    threads_per_worker : int, optional
        Rust threads per worker (``HDCORE_NUM_THREADS`` in the workers). Default: cores //
        workers, so workers x threads does not oversubscribe the machine.
    processes : bool
        Local backend: worker processes (default; started with ``spawn``) or, if False,
        threads of this process (for tasks that spend their time in Rust kernels, which
        release the GIL; no pickling needed).
    progress : bool
        Show a tqdm bar (runs done / total, ETA); False for scripts.
    desc : str, optional
        Label of the progress bar.
    name : str, optional
        The task's name in the persisted keys (default: its module and qualified name).
    resume : bool
        With ``out``: reuse the runs already there (default). False empties the journal
        first.
    retry_failed : bool
        With ``out``: run again the runs recorded there as failed.

    Returns
    -------
    pandas.DataFrame
        One row per (point, replicate) in that order: the parameters, ``replicate``,
        ``seed``, the task's results, ``wall_time`` (seconds in the task), ``hdcore_version``,
        ``error`` (``"Type: message"`` or None) and ``traceback``. Identical for any backend,
        worker count or interruption and resumption, except ``wall_time``.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, before any work starts: ``task`` not callable, not picklable for
        worker processes or not accepting the grid's parameters; empty grid; unknown
        backend; ``out`` not writable or locked by another sweep.
    ConnectionError
        The Dask scheduler cannot be reached.
    ImportError
        ``backend="dask"`` without dask installed, or Parquet output without pyarrow.

    Warns
    -----
    RuntimeWarning
        When some runs failed (their rows hold the error).

    Examples
    --------
    >>> def task(seed, alpha):
    ...     return {"y": alpha ** 2}
    >>> df = hdcore.sweep(task, {"alpha": [0.5, 1.0]}, seeds=3, n_workers=1, progress=False)
    >>> len(df)
    6
    """
    if not callable(task):
        raise TypeError(f"`task` must be callable, got {type(task).__name__}")
    check_choice(backend, "backend", BACKENDS)
    if backend == "local" and scheduler is not None:
        raise ValueError("`scheduler` is only used with backend='dask'")
    if backend == "dask" and not processes:
        raise ValueError("`processes` only applies to backend='local'")
    if backend == "dask" and scheduler is not None and n_workers is not None:
        raise ValueError("`n_workers` sizes the LocalCluster hdcore starts; it cannot resize "
                         "the cluster at `scheduler`")
    if n_workers is not None:
        n_workers = check_int(n_workers, "n_workers", min=1)
    if threads_per_worker is not None:
        threads_per_worker = check_int(threads_per_worker, "threads_per_worker", min=1)
    points = expand_grid(grid)
    reps = replicates(seeds)
    _check_signature(task, points)
    if name is None:
        name = task_name(task)
    elif not isinstance(name, str) or not name:
        raise TypeError("`name` must be a non-empty string")
    base = as_seed(seed)
    store = Store(out) if out is not None else None
    jobs = make_jobs(points, reps, base, name, strict=store is not None)
    done = store.open() if store is not None else {}
    try:
        if not resume:
            done = {}
        elif retry_failed:
            done = {k: rec for k, rec in done.items() if not rec.get("error")}
        todo = [job for job in jobs if job.key not in done]
        runner = None
        if todo:
            runner = _make_backend(backend, task, scheduler=scheduler, n_workers=n_workers,
                                   threads=threads_per_worker, processes=processes,
                                   n_todo=len(todo))
        if store is not None:
            try:
                if not resume:
                    store.clear()
                store.write_manifest({
                    "task": name, "seed": base, "replicates": reps,
                    "jobs": [{"key": j.key, "params": j.stored, "replicate": j.replicate,
                              "seed": j.seed} for j in jobs]})
            except BaseException:
                if runner is not None:
                    runner.close(cancel=True)
                raise
        from tqdm.auto import tqdm  # imported here: `import hdcore` stays light

        with tqdm(total=len(jobs), initial=len(jobs) - len(todo), unit="run", leave=False,
                  desc=desc or getattr(task, "__name__", "sweep"),
                  disable=not progress) as bar:
            new = _execute(runner, todo, name, store, bar) if todo else {}
        done.update(new)
        df = frame((job.params, job.replicate, job.seed, done[job.key]) for job in jobs)
        if store is not None:
            store.write_table(df)
    finally:
        if store is not None:
            store.close()
    failed = df["error"].notna()
    if failed.any():
        warnings.warn(f"{int(failed.sum())} of {len(df)} runs failed (first: "
                      f"{df.loc[failed, 'error'].iloc[0]}); see the `error` and `traceback` "
                      "columns", RuntimeWarning, stacklevel=2)
    return df
