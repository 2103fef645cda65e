"""The Dask backend on a real ``dask.distributed.LocalCluster`` with 2 worker processes gives
the same DataFrame as the local backend, shares the journal with it, sizes the workers' Rust
thread pools, and refuses an unreachable scheduler before any work."""

from __future__ import annotations

import os

import pandas as pd
import pytest
import sweep_tasks
from sweep_tasks import WIGNER_GRID, flaky, noisy_square, wigner

import hdcore
from hdcore.sweeps.local import available_cores

distributed = pytest.importorskip(
    "distributed", reason="the Dask backend needs the dask extra: pip install hdcore[dask]")


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns="wall_time"), b.drop(columns="wall_time"))


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded worker processes, without HDCORE_NUM_THREADS in
    their environment (so the sweep's worker plugin sizes their Rust pools)."""
    import dask

    saved = os.environ.pop("HDCORE_NUM_THREADS", None)
    try:
        # A task that kills one worker is declared failed at once (default: after 3 deaths),
        # and a worker holds only the task it runs (no queued task dies with it by chance).
        with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                              "distributed.scheduler.worker-saturation": 1.0}), \
                distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                         dashboard_address=":0") as c:
            yield c
    finally:
        if saved is not None:
            os.environ["HDCORE_NUM_THREADS"] = saved


def test_dask_and_local_backends_give_identical_frames(cluster):
    address = cluster.scheduler_address  # connect by address, as to a remote scheduler
    local = hdcore.sweep(wigner, WIGNER_GRID, seeds=2, progress=False)
    dask = hdcore.sweep(wigner, WIGNER_GRID, seeds=2, backend="dask", scheduler=address,
                        progress=False)
    same(local, dask)
    assert dask["error"].isna().all()
    with pytest.warns(RuntimeWarning, match="4 of 12"):
        local = hdcore.sweep(flaky, {"x": range(6)}, seeds=2, n_workers=1, progress=False)
    with pytest.warns(RuntimeWarning, match="4 of 12"):
        dask = hdcore.sweep(flaky, {"x": range(6)}, seeds=2, backend="dask",
                            scheduler=address, progress=False)
    same(local, dask)


def test_dask_and_local_share_the_journal(cluster, tmp_path):
    out = tmp_path / "shared.jsonl"
    with distributed.Client(cluster) as client:
        first = hdcore.sweep(noisy_square, {"x": range(5)}, seeds=2, backend="dask",
                             scheduler=client, out=out, progress=False)
        assert client.status != "closed"  # a client we were given stays open
    lines = out.read_text().splitlines()
    assert len(lines) == 10
    # Resuming on the local backend finds every run done: nothing is appended.
    again = hdcore.sweep(noisy_square, {"x": range(5)}, seeds=2, out=out, progress=False)
    assert out.read_text().splitlines() == lines
    pd.testing.assert_frame_equal(first, again)


def test_dask_workers_get_sized_rust_pools(cluster):
    with distributed.Client(cluster) as client:
        df = hdcore.sweep(sweep_tasks.threads, {"x": range(6)}, backend="dask",
                          scheduler=client, progress=False)
        # Both workers run on this host: cores // (2 workers x 1 thread) each.
        assert (df["threads"] == max(1, available_cores() // 2)).all()


def test_a_point_that_kills_its_dask_worker_is_recorded_and_the_others_complete(cluster):
    with distributed.Client(cluster) as client, \
            pytest.warns(RuntimeWarning, match="1 of 8 runs failed"):
        df = hdcore.sweep(sweep_tasks.crash_at_3, {"x": range(8)}, backend="dask",
                          scheduler=client, progress=False)
    crashed = df["x"] == 3
    assert df.loc[crashed, "error"].str.startswith("WorkerDied:").all()
    assert df.loc[~crashed, "error"].isna().all()


def test_dask_starts_a_local_cluster_when_no_scheduler_is_given():
    local = hdcore.sweep(noisy_square, {"x": range(4)}, seeds=2, n_workers=1, progress=False)
    dask = hdcore.sweep(noisy_square, {"x": range(4)}, seeds=2, backend="dask", n_workers=2,
                        progress=False)
    same(local, dask)


def test_unreachable_scheduler_is_refused_before_any_work(tmp_path):
    import dask

    calls = []

    def task(seed, x):
        calls.append(x)
        return {"y": x}

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            pytest.raises(ConnectionError, match="cannot reach the Dask scheduler"):
        hdcore.sweep(task, {"x": [1]}, backend="dask", scheduler="tcp://127.0.0.1:9",
                     progress=False)
    assert calls == []
    with pytest.raises(ValueError, match="cannot resize"):
        hdcore.sweep(task, {"x": [1]}, backend="dask", scheduler="tcp://127.0.0.1:9",
                     n_workers=2, progress=False)
    with pytest.raises(TypeError, match="`scheduler` must be"):
        hdcore.sweep(task, {"x": [1]}, backend="dask", scheduler=8786, progress=False)
