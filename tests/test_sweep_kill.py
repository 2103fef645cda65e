"""A sweep killed in a real subprocess (SIGKILL, Ctrl-C) loses no finished point, and its
resumption computes no finished point again and ends equal to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import sweep_tasks

import hdcore
from hdcore.random import spawn

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

GRID = {"x": list(range(20))}
SEEDS = 2
TESTS = Path(__file__).resolve().parent


def start(tmp_path: Path, out: Path, log: Path) -> subprocess.Popen:
    """``python script.py``: the sweep of ``sweep_tasks.slow`` over GRID, 2 worker processes."""
    script = tmp_path / "run_sweep.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import hdcore, sweep_tasks

        if __name__ == "__main__":
            hdcore.sweep(sweep_tasks.slow, {GRID!r}, seeds={SEEDS}, out={str(out)!r},
                         n_workers=2, progress=False)
    """))
    env = {**os.environ, sweep_tasks.CALL_LOG: str(log)}
    return subprocess.Popen([sys.executable, str(script)], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def journal(path: Path) -> list[dict]:
    """The complete records (a torn last line, without newline, is not one)."""
    data = path.read_bytes() if path.exists() else b""
    return [json.loads(line) for line in data[:data.rfind(b"\n") + 1].splitlines()]


def journal_keys(path: Path) -> list[str]:
    return [rec["key"] for rec in journal(path)]


def wait_for_records(proc: subprocess.Popen, journal: Path, n: int, timeout: float = 120):
    t0 = time.monotonic()
    while len(journal_keys(journal)) < n:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended early: {proc.stdout.read().decode()}")
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"fewer than {n} records after {timeout} s")
        time.sleep(0.02)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_group(proc: subprocess.Popen) -> None:
    """Kill whatever is left of the process group (orphaned workers) and reap it."""
    if group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    for _ in range(500):  # the group is gone once its last member has exited
        if not group_alive(proc.pid):
            return
        time.sleep(0.01)


def calls(log: Path, start: int = 0) -> list[tuple[int, int]]:
    with open(log, "rb") as f:
        f.seek(start)
        return [tuple(int(v) for v in line.split()) for line in f.read().splitlines()]


def test_sigkill_midway_then_resume_has_every_point_once(tmp_path, monkeypatch):
    out, log = tmp_path / "sweep.csv", tmp_path / "calls.log"
    journal_path = tmp_path / "sweep.jsonl"
    total = len(GRID["x"]) * SEEDS

    proc = start(tmp_path, out, log)
    wait_for_records(proc, journal_path, total // 3)
    os.kill(proc.pid, signal.SIGKILL)  # the sweep's own process, at an arbitrary moment
    kill_group(proc)
    assert proc.returncode == -signal.SIGKILL
    records = journal(journal_path)
    before = [rec["key"] for rec in records]
    assert total // 3 <= len(before) < total, "killed too late to test anything"
    assert len(set(before)) == len(before)
    finished = {(rec["params"]["x"], rec["seed"]) for rec in records}
    mark = log.stat().st_size

    proc = start(tmp_path, out, log)
    assert proc.wait(300) == 0, proc.stdout.read().decode()
    after = journal_keys(journal_path)
    assert len(after) == len(set(after)) == total  # every point exactly once
    assert after[:len(before)] == before  # nothing finished was lost or rewritten
    rerun = set(calls(log, mark))
    assert not rerun & finished, "a finished point was computed again"
    assert len(rerun) == total - len(before)

    monkeypatch.delenv(sweep_tasks.CALL_LOG, raising=False)
    expected = hdcore.sweep(sweep_tasks.slow, GRID, seeds=SEEDS, n_workers=2, progress=False)
    table = pd.read_csv(out)
    pd.testing.assert_frame_equal(
        table.drop(columns=["wall_time", "error", "traceback"]),
        expected.drop(columns=["wall_time", "error", "traceback"]))
    assert table["error"].isna().all()
    assert table["seed"].tolist() == [spawn(0, r) for r in range(SEEDS)] * len(GRID["x"])


def test_ctrl_c_stops_the_workers_and_keeps_what_finished(tmp_path):
    out, log = tmp_path / "sweep.jsonl", tmp_path / "calls.log"
    proc = start(tmp_path, out, log)
    wait_for_records(proc, out, 4)
    os.kill(proc.pid, signal.SIGINT)  # to the sweep's process only, not its workers
    try:
        code = proc.wait(30)
        # The sweep stopped its workers (and its fork server went with it): the process
        # group empties without help.
        deadline = time.monotonic() + 15
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not group_alive(proc.pid), "worker processes outlived the interrupted sweep"
    finally:
        kill_group(proc)
    assert code != 0
    assert "KeyboardInterrupt" in proc.stdout.read().decode()
    keys = journal_keys(out)
    assert len(keys) == len(set(keys)) >= 4
    assert out.read_bytes().endswith(b"\n")


# --- faults: a kill -9 inside a write, a full disk, a worker that raises, NaN results -------

FAULT_GRID = {"x": list(range(12))}


def run_script(tmp_path: Path, body: str, name: str = "fault.py",
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``body`` (after ``import hdcore, sweep_tasks``) as a script in a fresh interpreter."""
    script = tmp_path / name
    script.write_text(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
                      "import os, signal, hdcore, sweep_tasks\n" + textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)


def reference(task, grid=FAULT_GRID, seeds=SEEDS) -> pd.DataFrame:
    with pytest.warns(RuntimeWarning) if task is sweep_tasks.mixed_faults else _nothing():
        return hdcore.sweep(task, grid, seeds=seeds, n_workers=1, progress=False)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def assert_complete(out: Path, task, grid=FAULT_GRID, seeds=SEEDS) -> None:
    """Every planned point exactly once in the journal, the table equal to a clean run."""
    keys = journal_keys(out.with_suffix(".jsonl"))
    total = len(grid["x"]) * seeds
    assert len(keys) == len(set(keys)) == total
    got = hdcore.sweeps.store.load(out)
    want = reference(task, grid, seeds)
    cols = ["wall_time", "traceback"]
    pd.testing.assert_frame_equal(got.drop(columns=cols), want.drop(columns=cols))


def test_kill_9_inside_a_journal_write_loses_nothing_finished(tmp_path):
    # The third append writes half its bytes, then the process is SIGKILLed mid-write: the
    # journal ends in a torn line. Resuming drops it, keeps every whole record, computes the
    # rest once.
    out = tmp_path / "sweep.jsonl"
    res = run_script(tmp_path, f"""
        import hdcore.sweeps.store as store
        real, count = os.write, [0]
        def write(fd, data):
            count[0] += 1
            if count[0] == 3:
                real(fd, bytes(data[:len(data) // 2]))
                os.kill(os.getpid(), signal.SIGKILL)
            return real(fd, data)
        store.os.write = write
        hdcore.sweep(sweep_tasks.noisy_square, {FAULT_GRID!r}, seeds={SEEDS}, out={str(out)!r},
                     n_workers=1, progress=False)
    """)
    assert res.returncode == -signal.SIGKILL, res.stderr
    data = out.read_bytes()
    assert not data.endswith(b"\n"), "the kill did not tear a line"
    before = journal_keys(out)
    assert len(before) == 2
    res = run_script(tmp_path, f"""
        hdcore.sweep(sweep_tasks.noisy_square, {FAULT_GRID!r}, seeds={SEEDS}, out={str(out)!r},
                     n_workers=1, progress=False)
    """, name="resume.py")
    assert res.returncode == 0, res.stderr
    assert journal_keys(out)[:2] == before
    assert_complete(out, sweep_tasks.noisy_square)


def test_a_journal_write_raising_oserror_keeps_whole_records_and_resumes(tmp_path,
                                                                          monkeypatch):
    # ENOSPC after part of a batch: the sweep raises OSError naming the journal, the journal is
    # cut back to whole records (no torn tail), and a resumed sweep completes the rest.
    import errno

    import hdcore.sweeps.store as store
    out = tmp_path / "sweep.csv"
    real, count = os.write, [0]

    def write(fd, data):
        count[0] += 1
        if count[0] == 4:
            real(fd, bytes(data[:len(data) // 3]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(store.os, "write", write)
    with pytest.raises(OSError, match="cannot append to the sweep journal") as info:
        hdcore.sweep(sweep_tasks.noisy_square, FAULT_GRID, seeds=SEEDS, out=out, n_workers=1,
                     progress=False)
    assert info.value.errno == errno.ENOSPC
    journal_path = out.with_suffix(".jsonl")
    assert journal_path.read_bytes().endswith(b"\n")
    assert len(journal_keys(journal_path)) == 3
    monkeypatch.setattr(store.os, "write", real)
    hdcore.sweep(sweep_tasks.noisy_square, FAULT_GRID, seeds=SEEDS, out=out, n_workers=1,
                 progress=False)
    assert_complete(out, sweep_tasks.noisy_square)


def test_a_full_disk_mid_sweep_then_resume_completes(tmp_path):
    # A real OS-level full disk: RLIMIT_FSIZE caps every file the sweep writes (EFBIG from
    # write(2), SIGXFSZ ignored). The manifest fits, the journal fills up midway.
    resource = pytest.importorskip("resource")
    out = tmp_path / "sweep.jsonl"
    ref = tmp_path / "ref" / "sweep.jsonl"
    res = run_script(tmp_path, f"""
        hdcore.sweep(sweep_tasks.noisy_square, {FAULT_GRID!r}, seeds={SEEDS}, out={str(ref)!r},
                     n_workers=1, progress=False)
    """, name="sizes.py")
    assert res.returncode == 0, res.stderr
    manifest = ref.with_suffix(".manifest.json").stat().st_size
    full = ref.stat().st_size
    limit = max(manifest + 64, full // 2)
    assert manifest < limit < full
    res = run_script(tmp_path, f"""
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        try:
            hdcore.sweep(sweep_tasks.noisy_square, {FAULT_GRID!r}, seeds={SEEDS},
                         out={str(out)!r}, n_workers=1, progress=False)
        except OSError as exc:
            print("OSError", exc.errno)
            sys.exit(3)
    """)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "cannot append to the sweep journal" in res.stderr or "OSError" in res.stdout
    before = journal_keys(out)
    assert 0 < len(before) < len(FAULT_GRID["x"]) * SEEDS
    assert out.read_bytes().endswith(b"\n")
    res = run_script(tmp_path, f"""
        hdcore.sweep(sweep_tasks.noisy_square, {FAULT_GRID!r}, seeds={SEEDS}, out={str(out)!r},
                     n_workers=1, progress=False)
    """, name="resume.py")
    assert res.returncode == 0, res.stderr
    assert journal_keys(out)[:len(before)] == before
    assert_complete(out, sweep_tasks.noisy_square)


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_a_worker_raising_systemexit_is_recorded_for_its_point_only(tmp_path, processes):
    # Before issue 21 a task calling sys.exit in a worker ended the whole sweep.
    out = tmp_path / "sweep.jsonl"
    grid = {"x": list(range(6))}
    with pytest.warns(RuntimeWarning, match="2 of 12 runs failed"):
        df = hdcore.sweep(sweep_tasks.exits_at_3, grid, seeds=2, out=out, n_workers=2,
                          processes=processes, progress=False)
    bad = df["x"] == 3
    assert df.loc[bad, "error"].str.startswith("SystemExit: task exits at x=3").all()
    assert df.loc[~bad, "error"].isna().all()
    assert df.loc[~bad, "y"].tolist() == [x * x for x in grid["x"] if x != 3 for _ in range(2)]
    keys = journal_keys(out)
    assert len(keys) == len(set(keys)) == 12
    # In this process a SystemExit is the user's: it propagates.
    with pytest.raises(SystemExit):
        hdcore.sweep(sweep_tasks.exits_at_3, grid, n_workers=1, progress=False)


def test_nan_results_and_raising_points_survive_resume(tmp_path):
    # NaN / inf results are data (kept, round-tripped through the journal and the table), a
    # raising point is an error recorded in its row; resuming after a kill recomputes nothing
    # finished and retries no failed point unless asked.
    out = tmp_path / "sweep.csv"
    res = run_script(tmp_path, f"""
        import hdcore.sweeps.store as store
        real, count = os.write, [0]
        def write(fd, data):
            count[0] += 1
            if count[0] == 7:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(fd, data)
        store.os.write = write
        hdcore.sweep(sweep_tasks.mixed_faults, {FAULT_GRID!r}, seeds={SEEDS}, out={str(out)!r},
                     n_workers=1, progress=False)
    """)
    assert res.returncode == -signal.SIGKILL, res.stderr
    before = journal(out.with_suffix(".jsonl"))
    assert len(before) == 6
    with pytest.warns(RuntimeWarning, match="runs failed"):
        df = hdcore.sweep(sweep_tasks.mixed_faults, FAULT_GRID, seeds=SEEDS, out=out,
                          n_workers=1, progress=False)
    assert_complete(out, sweep_tasks.mixed_faults)
    x = df["x"]
    assert df.loc[x % 4 == 1, "error"].str.startswith("ValueError: bad x=").all()
    assert df.loc[x % 4 == 2, "y"].isna().all() and df.loc[x % 4 == 2, "error"].isna().all()
    assert (df.loc[x % 4 == 0, "y"] == x[x % 4 == 0]).all()
    table = pd.read_csv(out)
    assert table.loc[table["x"] % 4 == 2, "y"].isna().all()
    assert table["error"].notna().sum() == 3 * SEEDS

    nan = hdcore.sweep(sweep_tasks.nan_at_odd, FAULT_GRID, seeds=1, out=tmp_path / "nan.jsonl",
                       n_workers=1, progress=False)
    again = hdcore.sweeps.store.load(tmp_path / "nan.jsonl")
    pd.testing.assert_frame_equal(nan.drop(columns="wall_time"),
                                  again.drop(columns="wall_time"))
    odd = nan["x"] % 2 == 1
    assert nan.loc[odd, "y"].isna().all() and (nan.loc[odd, "z"] == float("inf")).all()
    assert nan["error"].isna().all()
