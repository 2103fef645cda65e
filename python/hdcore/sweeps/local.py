"""Local backends: this process, a thread pool, or a pool of worker processes.

Every backend offers the same small interface to :func:`hdcore.sweep`: ``start()``,
``submit(job) -> Future``, ``wait(futures) -> done``, ``outcome(future)`` (the record fields
from :func:`hdcore.sweeps.records.run_job`), ``restart()`` and ``close(cancel)``; ``window``
is how many jobs it keeps in flight.

Worker processes are never a plain ``fork`` of the caller, which may be running Rust, BLAS,
tqdm or Dask threads (the Rust thread pools have a fork guard, other libraries do not). Where
the platform has it (Linux, macOS) they come from a ``forkserver``: a clean single-threaded
process started once per session that has imported hdcore and its studies (numpy, the Rust
extension and pandas start no thread at import) and forks a worker in milliseconds. Elsewhere they
are ``spawn``-ed fresh interpreters (about a second each to import hdcore). Either way the
caller's ``__main__`` module is imported in each worker, so a script must guard its sweep with
``if __name__ == "__main__":``. Each worker gets ``HDCORE_NUM_THREADS = threads_per_worker``
before its first kernel call, so workers x threads stays within the cores, and ignores
SIGINT: on Ctrl-C the parent stops them. Workers take the caller's environment variables as
they are when the pool starts (variables read at import, such as BLAS thread counts, keep the
values they had when the fork server started).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as _wait
from concurrent.futures.process import BrokenProcessPool

from hdcore.errors import InternalError
from hdcore.sweeps.grid import Job
from hdcore.sweeps.records import run_job

__all__ = [
    "ENV_VAR",
    "InProcess",
    "PoolBroken",
    "Processes",
    "TaskLoadError",
    "Threads",
    "WorkerDied",
    "available_cores",
    "serialize_task",
]

ENV_VAR = "HDCORE_NUM_THREADS"
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


#: Modules the fork server imports once, so that workers start without importing them (the
#: studies are the most common tasks: a worker then starts in ~50 ms instead of ~0.5 s).
PRELOAD = ["hdcore.sweeps.local", "hdcore.studies"]


def _context():
    ctx = multiprocessing.get_context(START_METHOD)
    if START_METHOD == "forkserver":
        # Takes effect when the (per-session) fork server starts; harmless afterwards.
        ctx.set_forkserver_preload(PRELOAD)
    return ctx


class PoolBroken(Exception):
    """A worker process died; every job in flight is suspect."""


class WorkerDied(Exception):
    """This job killed its worker (the message says how); it is recorded as failed."""


class TaskLoadError(RuntimeError):
    """A worker could not unpickle the task."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover


def serialize_task(task: Callable) -> bytes:
    """Pickle ``task`` for worker processes, with cloudpickle when it is installed (it comes
    with the ``dask`` extra; it also sends lambdas and functions defined in a notebook).

    Raises
    ------
    TypeError
        If ``task`` cannot be pickled, or is defined interactively (in ``__main__`` without
        a file) and cloudpickle is missing, so workers could not import it.
    """
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = None
    if cloudpickle is None:
        main = sys.modules.get("__main__")
        if getattr(task, "__module__", None) == "__main__" and not hasattr(main, "__file__"):
            raise TypeError("`task` is defined interactively, so worker processes cannot import "
                            "it: move it to a module, install cloudpickle, or pass n_workers=1")
    try:
        return (cloudpickle or pickle).dumps(task)
    except Exception as exc:
        raise TypeError(f"`task` cannot be sent to worker processes ({type(exc).__name__}: "
                        f"{exc}); define it at module level, or pass n_workers=1 to run in "
                        "this process") from exc


class _EnvThreads:
    """Set ``HDCORE_NUM_THREADS`` in this process for the sweep's duration (if asked)."""

    def __init__(self, threads: int | None):
        self.threads = threads
        self._saved: str | None = None

    def start(self) -> None:
        if self.threads is not None:
            self._saved = os.environ.get(ENV_VAR)
            os.environ[ENV_VAR] = str(self.threads)

    def stop(self) -> None:
        if self.threads is not None:
            if self._saved is None:
                os.environ.pop(ENV_VAR, None)
            else:
                os.environ[ENV_VAR] = self._saved


class InProcess(_EnvThreads):
    """Run each job in this process when it is submitted (no pickling; easiest to debug)."""

    window = 1

    def __init__(self, task: Callable, threads: int | None = None):
        super().__init__(threads)
        self.task = task

    def submit(self, job: Job) -> Future:
        fut: Future = Future()
        fut.set_result(run_job(self.task, job.params, job.seed))
        return fut

    @staticmethod
    def wait(futures) -> set:
        return set(futures)

    @staticmethod
    def outcome(fut: Future) -> dict:
        return fut.result()

    def restart(self) -> None:  # pragma: no cover -- nothing can break
        pass

    def close(self, cancel: bool = False) -> None:
        self.stop()


class Threads(InProcess):
    """A thread pool of ``n_workers``: for tasks that spend their time in Rust kernels (which
    release the GIL). The threads share the process's Rust thread pool."""

    def __init__(self, task: Callable, n_workers: int, threads: int | None = None):
        super().__init__(task, threads)
        self.n_workers = n_workers
        self.window = 2 * n_workers
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        super().start()
        self._pool = ThreadPoolExecutor(self.n_workers, thread_name_prefix="hdcore-sweep")

    def submit(self, job: Job) -> Future:
        if self._pool is None:
            raise InternalError("the sweep's thread pool is not started")  # pragma: no cover
        return self._pool.submit(run_job, self.task, job.params, job.seed, worker=True)

    @staticmethod
    def wait(futures) -> set:
        return _wait(futures, return_when=FIRST_COMPLETED).done

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self._pool = None
        self.stop()


_WORKER_TASK: Callable | None = None
_WORKER_LOAD_ERROR: str | None = None


def _init_worker(payload: bytes, threads: int, environ: dict[str, str]) -> None:
    global _WORKER_TASK, _WORKER_LOAD_ERROR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A fork server's environment dates from its start: take the caller's current one.
    for name in set(os.environ) - set(environ):
        del os.environ[name]
    os.environ.update(environ)
    os.environ[ENV_VAR] = str(threads)
    try:
        _WORKER_TASK = pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 -- reported to the parent by _process_job
        _WORKER_LOAD_ERROR = f"{type(exc).__name__}: {exc}"


def _ping() -> str | None:
    return _WORKER_LOAD_ERROR


def _process_job(params: dict, seed: int) -> dict:
    if _WORKER_LOAD_ERROR is not None:
        raise TaskLoadError(_WORKER_LOAD_ERROR)
    if _WORKER_TASK is None:  # pragma: no cover -- _init_worker sets one or the other
        raise TaskLoadError("the worker was not initialised with a task")
    return run_job(_WORKER_TASK, params, seed, worker=True)


class Processes:
    """A pool of ``n_workers`` worker processes, each with ``threads`` Rust threads.

    If a worker dies (segfault, out-of-memory kill, ``os._exit``), the pool is broken and
    :meth:`outcome` raises :class:`PoolBroken` for the jobs in flight; :func:`hdcore.sweep`
    restarts the pool and reruns those jobs one at a time to find the one that kills its
    worker.
    """

    def __init__(self, task: Callable, n_workers: int, threads: int):
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if main_file is not None and not os.path.exists(main_file):
            raise RuntimeError(f"worker processes cannot start from this program (its main "
                               f"module {main_file!r} is not a file, e.g. a script read from "
                               "standard input): save it to a file, or pass n_workers=1")
        self.payload = serialize_task(task)
        self.n_workers = n_workers
        self.threads = threads
        self.window = 2 * n_workers
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the pool and check that a worker starts and loads the task.

        Raises
        ------
        RuntimeError
            If a worker process dies while starting (see its error above in the terminal).
        TaskLoadError
            If it cannot unpickle the task.
        """
        self._pool = ProcessPoolExecutor(
            self.n_workers, mp_context=_context(),
            initializer=_init_worker, initargs=(self.payload, self.threads, dict(os.environ)))
        try:
            error = self._pool.submit(_ping).result()
        except BrokenProcessPool:
            self.close(cancel=True)
            raise RuntimeError("a worker process died while starting (its error is printed "
                               "above); if this is a script, put the sweep under "
                               "`if __name__ == '__main__':`, or pass n_workers=1") from None
        if error is not None:
            self.close(cancel=True)
            raise TaskLoadError(error)

    def submit(self, job: Job) -> Future:
        if self._pool is None:
            raise InternalError("the sweep's process pool is not started")  # pragma: no cover
        return self._pool.submit(_process_job, job.params, job.seed)

    @staticmethod
    def wait(futures) -> set:
        return _wait(futures, return_when=FIRST_COMPLETED).done

    @staticmethod
    def outcome(fut: Future) -> dict:
        try:
            return fut.result()
        except BrokenProcessPool as exc:
            raise PoolBroken(str(exc)) from exc

    def restart(self) -> None:
        self.close(cancel=True)
        self.start()

    def close(self, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not cancel:
            pool.shutdown(wait=True)
            return
        # Stop now: cancel queued jobs and terminate the workers (they ignore SIGINT).
        terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
        if terminate is not None:
            terminate()
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(5)
