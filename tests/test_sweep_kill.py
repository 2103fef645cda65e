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
