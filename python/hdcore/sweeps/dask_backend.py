"""The Dask backend (``pip install hdcore[dask]``): jobs run on a ``dask.distributed`` cluster.

``scheduler`` is the address of a running scheduler (``"tcp://host:8786"``), a connected
:class:`distributed.Client`, or ``None`` to start a :class:`distributed.LocalCluster` of
``n_workers`` single-threaded worker processes for the sweep's duration. The client process
(the one calling :func:`hdcore.sweep`) writes the records, so ``out`` is a local path there.

Thread sizing: the workers of a LocalCluster that hdcore starts get
``HDCORE_NUM_THREADS = cores // n_workers``. On a cluster you connect to, a worker plugin sets
``HDCORE_NUM_THREADS = cores // (worker threads on that host)`` on workers where it is not set
already, so that Dask threads x Rust threads does not oversubscribe a host.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import CancelledError

from hdcore.sweeps.grid import Job
from hdcore.sweeps.local import ENV_VAR, WorkerDied, available_cores, serialize_task
from hdcore.sweeps.records import run_job

__all__ = ["Dask", "import_distributed"]


def import_distributed():
    """The ``distributed`` module, or ImportError saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError("backend='dask' needs dask.distributed: "
                          "`pip install hdcore[dask]`") from exc
    return distributed


def _set_threads(per_host: dict[str, int], worker) -> None:
    """Worker plugin body: size the Rust pool unless the worker's environment already does."""
    if ENV_VAR in os.environ:
        return
    from distributed.comm import get_address_host

    own = getattr(getattr(worker, "state", worker), "nthreads", 1)
    total = per_host.get(get_address_host(worker.address)) or own
    os.environ[ENV_VAR] = str(max(1, available_cores() // max(1, total)))


class Dask:
    """Jobs as Dask futures (see the module docstring)."""

    def __init__(self, task: Callable, scheduler, n_workers: int | None,
                 threads: int | None):
        distributed = import_distributed()
        serialize_task(task)  # a TypeError now rather than when the first job is sent
        self._distributed = distributed
        self.task = task
        self._cluster = None
        self._own_client = True
        if scheduler is None:
            n = n_workers or available_cores()
            t = threads or max(1, available_cores() // n)
            self._cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                env={ENV_VAR: str(t)})
            self.client = distributed.Client(self._cluster)
        elif isinstance(scheduler, distributed.Client):
            self.client, self._own_client = scheduler, False
        elif isinstance(scheduler, str):
            try:
                self.client = distributed.Client(scheduler)
            except (OSError, TimeoutError) as exc:
                raise ConnectionError(f"`scheduler`: cannot reach the Dask scheduler at "
                                      f"{scheduler!r}: {exc}") from exc
        else:
            raise TypeError("`scheduler` must be an address like 'tcp://host:8786', a "
                            f"distributed.Client or None, got {type(scheduler).__name__}")
        if self._cluster is None:
            self._size_threads()
        total = sum(self.client.nthreads().values())
        self.window = max(64, 4 * total)
        self._pending: set = set()

    def _size_threads(self) -> None:
        from distributed.comm import get_address_host

        per_host: dict[str, int] = {}
        for address, n in self.client.nthreads().items():
            host = get_address_host(address)
            per_host[host] = per_host.get(host, 0) + n
        from distributed import WorkerPlugin

        class HdcoreThreads(WorkerPlugin):
            def setup(self, worker):
                _set_threads(per_host, worker)

        self.client.register_plugin(HdcoreThreads(), name="hdcore-threads")

    def start(self) -> None:
        pass

    def submit(self, job: Job):
        fut = self.client.submit(run_job, self.task, job.params, job.seed, worker=True,
                                 pure=False)
        self._pending.add(fut)
        return fut

    def wait(self, futures) -> set:
        done = self._distributed.wait(list(futures), return_when="FIRST_COMPLETED").done
        self._pending -= done
        return done

    def outcome(self, fut) -> dict:
        try:
            return fut.result()
        except self._distributed.KilledWorker as exc:
            raise WorkerDied(f"the point killed Dask workers: {exc}") from exc
        except CancelledError as exc:
            raise ConnectionError("the Dask scheduler cancelled the job (lost connection?)") \
                from exc

    def restart(self) -> None:  # pragma: no cover -- Dask reschedules by itself
        pass

    def close(self, cancel: bool = False) -> None:
        if self._pending:
            self.client.cancel(list(self._pending))
            self._pending.clear()
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
