"""hdcore.sweep: tidy rows in grid order, determinism across backends and worker counts,
failures recorded, durable resumable persistence, bad input refused before any work."""

from __future__ import annotations

import json
import os
import sys
import threading

import numpy as np
import pandas as pd
import pytest
import sweep_tasks
from sweep_tasks import WIGNER_GRID, flaky, noisy_square, wigner

import hdcore
from hdcore.random import spawn
from hdcore.studies.base import Study
from hdcore.sweeps import load
from hdcore.sweeps.local import available_cores
from hdcore.sweeps.store import Store


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal DataFrames apart from the measured wall time."""
    pd.testing.assert_frame_equal(a.drop(columns="wall_time"), b.drop(columns="wall_time"))


class Counter:
    """A task that counts its calls (in-process backends only)."""

    def __init__(self, task=noisy_square, stop_after=None):
        self.task, self.calls, self.stop_after = task, [], stop_after

    def __call__(self, seed, **params):
        if self.stop_after is not None and len(self.calls) == self.stop_after:
            raise KeyboardInterrupt  # as if Ctrl-C arrived during this run
        self.calls.append((params, seed))
        return self.task(seed, **params)


def test_hdcore_sweep_is_the_function_and_the_old_import_works():
    import hdcore.sweep
    from hdcore.sweep import sweep

    assert hdcore.sweep is sweep is hdcore.sweeps.sweep
    assert callable(hdcore.sweep)


def test_rows_follow_the_grid_with_spawned_seeds():
    df = hdcore.sweep(noisy_square, {"x": [1, 2, 3], "scale": [1.0, 10.0]}, seeds=2, seed=7,
                      n_workers=1, progress=False)
    assert list(df.columns) == ["x", "scale", "replicate", "seed", "y", "noise", "wall_time",
                                "hdcore_version", "error", "traceback"]
    # cartesian product, first key slowest, replicates innermost
    assert df["x"].tolist() == [1] * 4 + [2] * 4 + [3] * 4
    assert df["scale"].tolist() == [1.0, 1.0, 10.0, 10.0] * 3
    assert df["replicate"].tolist() == [0, 1] * 6
    assert df["seed"].tolist() == [spawn(7, 0), spawn(7, 1)] * 6
    np.testing.assert_array_equal(df["y"], df["scale"] * df["x"] ** 2)
    expected = [float(np.random.default_rng(s).normal()) for s in df["seed"]]
    np.testing.assert_array_equal(df["noise"], expected)
    assert (df["wall_time"] >= 0).all()
    assert (df["hdcore_version"] == hdcore.__version__).all()
    assert df["error"].isna().all() and df["traceback"].isna().all()


def test_list_of_dicts_and_explicit_replicates():
    grid = [{"x": 3}, {"x": 1, "scale": 2.0}]
    df = hdcore.sweep(noisy_square, grid, seeds=[4, 9], n_workers=1, progress=False)
    assert df["x"].tolist() == [3, 3, 1, 1]
    assert df["replicate"].tolist() == [4, 9, 4, 9]
    assert df["seed"].tolist() == [spawn(0, 4), spawn(0, 9)] * 2
    assert df["y"].tolist() == [9.0, 9.0, 2.0, 2.0]
    assert np.isnan(df["scale"].iloc[0])


def test_parameters_reach_the_task_as_given_and_are_stored_as_json(tmp_path):
    seen = []

    def task(seed, shape, scale):
        seen.append((shape, scale))
        return {"y": 1.0}

    out = tmp_path / "p.jsonl"
    hdcore.sweep(task, {"shape": [(2, 3)], "scale": [np.float32(0.5)]}, out=out, n_workers=1,
                 progress=False)
    assert seen == [((2, 3), 0.5)] and type(seen[0][1]) is np.float32
    assert json.loads(out.read_text())["params"] == {"shape": [2, 3], "scale": 0.5}
    assert load(out)["shape"].tolist() == [[2, 3]]


def test_study_simulation_is_identical_in_process_in_processes_and_in_threads():
    serial = hdcore.sweep(wigner, WIGNER_GRID, seeds=2, n_workers=1, progress=False)
    pool = hdcore.sweep(wigner, WIGNER_GRID, seeds=2, n_workers=2, progress=False)
    threads = hdcore.sweep(wigner, WIGNER_GRID, seeds=2, n_workers=2, processes=False,
                           progress=False)
    same(serial, pool)
    same(serial, threads)
    assert serial["error"].isna().all()
    assert serial["amp_cosine2"].iloc[-1] > 0.5  # snr = 2: AMP finds the spike


def test_worker_processes_split_the_cores():
    df = hdcore.sweep(sweep_tasks.threads, {"x": range(8)}, n_workers=2, progress=False)
    assert (df["threads"] == max(1, available_cores() // 2)).all()
    assert df["pid"].nunique() <= 2


def test_threads_per_worker_sizes_the_rust_pool_for_the_sweep_only(monkeypatch):
    monkeypatch.delenv("HDCORE_NUM_THREADS", raising=False)
    df = hdcore.sweep(sweep_tasks.threads, {"x": [0, 1]}, n_workers=1, threads_per_worker=3,
                      progress=False)
    assert (df["threads"] == 3).all()
    assert "HDCORE_NUM_THREADS" not in os.environ


def test_failing_points_are_recorded_and_the_others_complete(tmp_path):
    out = tmp_path / "flaky.jsonl"
    task = Counter(flaky)
    with pytest.warns(RuntimeWarning, match="4 of 12 runs failed"):
        df = hdcore.sweep(task, {"x": range(6)}, seeds=2, out=out, n_workers=1, progress=False)
    failed = df["x"].isin([2, 5])
    assert df.loc[failed, "error"].tolist() == ["ValueError: bad x=2"] * 2 + \
        ["ValueError: bad x=5"] * 2
    assert df.loc[failed, "traceback"].str.contains("in flaky").all()
    assert df.loc[failed, "y"].isna().all()
    assert df.loc[~failed, "error"].isna().all() and df.loc[~failed, "y"].notna().all()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sum(r["error"] is not None for r in records) == 4
    assert {r["error"]["type"] for r in records if r["error"]} == {"ValueError"}
    # A rerun keeps the recorded failures; retry_failed reruns exactly those.
    with pytest.warns(RuntimeWarning):
        hdcore.sweep(task, {"x": range(6)}, seeds=2, out=out, n_workers=1, progress=False)
    assert len(task.calls) == 12
    with pytest.warns(RuntimeWarning):
        hdcore.sweep(task, {"x": range(6)}, seeds=2, out=out, n_workers=1, progress=False,
                     retry_failed=True)
    assert sorted(p["x"] for p, _ in task.calls[12:]) == [2, 2, 5, 5]


def test_a_point_that_kills_its_worker_is_recorded_and_the_others_complete():
    with pytest.warns(RuntimeWarning, match="1 of 6 runs failed"):
        df = hdcore.sweep(sweep_tasks.crash_at_3, {"x": range(6)}, n_workers=2,
                          progress=False)
    crashed = df["x"] == 3
    assert df.loc[crashed, "error"].str.startswith("WorkerDied:").all()
    assert df.loc[~crashed, "error"].isna().all()
    expected = hdcore.sweep(noisy_square, {"x": range(6)}, n_workers=1, progress=False)
    pd.testing.assert_series_equal(df.loc[~crashed, "noise"], expected.loc[~crashed, "noise"])


def test_results_persist_and_a_rerun_computes_nothing_again(tmp_path):
    out = tmp_path / "runs" / "sq.csv"  # the directory is created
    task = Counter()
    first = hdcore.sweep(task, {"x": [1, 2, 3]}, seeds=2, out=out, n_workers=1, progress=False)
    assert len(task.calls) == 6
    again = hdcore.sweep(task, {"x": [1, 2, 3]}, seeds=2, out=out, n_workers=1, progress=False)
    assert len(task.calls) == 6
    pd.testing.assert_frame_equal(first, again)  # wall times too: they come from the journal
    csv = pd.read_csv(out)
    assert csv["error"].isna().all()  # CSV cannot tell None from NaN
    same(first.drop(columns=["error", "traceback"]), csv.drop(columns=["error", "traceback"]))
    same(first, load(out))
    # A larger grid computes only the new points; the rows still follow the grid.
    bigger = hdcore.sweep(task, {"x": [0, 1, 2, 3, 4]}, seeds=2, out=out, n_workers=1,
                          progress=False)
    assert sorted(p["x"] for p, _ in task.calls[6:]) == [0, 0, 4, 4]
    assert bigger["x"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    same(bigger.iloc[2:8].reset_index(drop=True), first)
    manifest = json.loads((tmp_path / "runs" / "sq.manifest.json").read_text())
    assert [j["params"]["x"] for j in manifest["jobs"]] == bigger["x"].tolist()
    # resume=False starts afresh.
    hdcore.sweep(task, {"x": [1]}, out=out, n_workers=1, progress=False, resume=False)
    assert len(task.calls) == 11
    assert len((tmp_path / "runs" / "sq.jsonl").read_text().splitlines()) == 1


def test_parquet_table_round_trips(tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet output needs pyarrow (hdcore[parquet])")
    with pytest.warns(RuntimeWarning):
        df = hdcore.sweep(flaky, {"x": range(4)}, seeds=2, out=tmp_path / "f.parquet",
                          n_workers=1, progress=False)
    back = pd.read_parquet(tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(df, back, check_dtype=False)


def test_ctrl_c_in_process_keeps_finished_points_and_resume_completes(tmp_path):
    out = tmp_path / "int.jsonl"
    grid = {"x": range(5)}
    with pytest.raises(KeyboardInterrupt):
        hdcore.sweep(Counter(stop_after=3), grid, seeds=2, out=out, n_workers=1,
                     progress=False)
    partial = load(out)
    assert len(partial) == 3 and partial.attrs["pending"] == 7
    assert partial["x"].tolist() == [0, 0, 1]
    task = Counter()
    resumed = hdcore.sweep(task, grid, seeds=2, out=out, n_workers=1, progress=False)
    assert len(task.calls) == 7
    same(resumed, hdcore.sweep(noisy_square, grid, seeds=2, n_workers=1, progress=False))


def _journal_lines(tmp_path, seeds: int = 2) -> bytes:
    out = tmp_path / "src.jsonl"
    hdcore.sweep(noisy_square, {"x": range(3)}, seeds=seeds, out=out, n_workers=1,
                 progress=False, name="sq")
    return out.read_bytes()


def test_a_torn_last_line_is_dropped_and_cut_before_the_next_append(tmp_path):
    data = _journal_lines(tmp_path)
    out = tmp_path / "torn.jsonl"
    lines = data.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:4]) + lines[4][:25])  # killed while writing record 5
    assert len(load(out)) == 4
    task = Counter()
    df = hdcore.sweep(task, {"x": range(3)}, seeds=2, out=out, n_workers=1, progress=False,
                      name="sq")
    assert len(task.calls) == 2
    text = out.read_bytes()
    assert text.endswith(b"\n")
    keys = [json.loads(line)["key"] for line in text.splitlines()]  # every line parses
    assert len(keys) == len(set(keys)) == 6
    same(df, hdcore.sweep(noisy_square, {"x": range(3)}, seeds=2, n_workers=1, progress=False))


def test_a_journal_cut_at_any_byte_reads_as_its_complete_records(tmp_path):
    data = _journal_lines(tmp_path, seeds=1)  # 3 records: cuts in the first, middle, last
    ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    keys = [json.loads(line)["key"] for line in data.splitlines()]
    path = tmp_path / "cut.jsonl"
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        store = Store(path)
        records = store.open()
        store.close()
        complete = sum(e <= cut for e in ends)
        assert list(records) == keys[:complete]
        assert path.stat().st_size == (ends[complete - 1] if complete else 0)


def test_a_journal_in_use_is_refused(tmp_path):
    out = tmp_path / "busy.jsonl"
    holder = Store(out)
    holder.open()
    try:
        with pytest.raises(ValueError, match="being written by another sweep"):
            hdcore.sweep(noisy_square, {"x": [1]}, out=out, n_workers=1, progress=False)
    finally:
        holder.close()


def _unpicklable():
    lock = threading.Lock()

    def task(seed, x):
        with lock:
            return {"y": x}

    return task


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"grid": {}}, ValueError, "`grid` is empty"),
    ({"grid": []}, ValueError, "`grid` is empty"),
    ({"grid": {"x": []}}, ValueError, "entry 'x' is empty"),
    ({"grid": 3}, TypeError, "dict of lists or a list of dicts"),
    ({"grid": {"seed": [1]}}, ValueError, "clashes with a column"),
    ({"grid": [{"x": 1}, {"x": 1}]}, ValueError, "twice"),
    ({"seeds": 0}, ValueError, "`seeds` must be >= 1"),
    ({"seeds": [1, 1]}, ValueError, "repeated"),
    ({"backend": "slurm"}, ValueError, "`backend` must be one of"),
    ({"scheduler": "tcp://127.0.0.1:8786"}, ValueError, "only used with backend='dask'"),
    ({"n_workers": 0}, ValueError, "`n_workers` must be >= 1"),
    ({"out": "results.txt"}, ValueError, "must end in one of"),
    ({"out": 3}, TypeError, "`out` must be a path"),
    ({"grid": {"x": [object()]}, "out": "r.jsonl"}, TypeError, "cannot be stored"),
])
def test_bad_input_is_refused_before_any_work(tmp_path, monkeypatch, kwargs, error, match):
    monkeypatch.chdir(tmp_path)
    task = Counter()
    args = {"grid": {"x": [1, 2]}, "n_workers": 1, "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        hdcore.sweep(task, **args)
    assert task.calls == []


def test_bad_tasks_and_unwritable_out_are_refused_before_any_work(tmp_path):
    with pytest.raises(TypeError, match="`task` must be callable"):
        hdcore.sweep("noisy_square", {"x": [1]}, progress=False)
    with pytest.raises(TypeError, match="cannot be called as task"):
        hdcore.sweep(noisy_square, {"z": [1]}, progress=False)
    with pytest.raises(TypeError, match="cannot be sent to worker processes"):
        hdcore.sweep(_unpicklable(), {"x": [1, 2]}, n_workers=2, progress=False)
    with pytest.raises(TypeError, match="could not load `task`.*cannot be loaded here"):
        hdcore.sweep(sweep_tasks.LoadsOnlyHere(), {"x": [1, 2]}, n_workers=2, progress=False)
    (tmp_path / "file").write_text("not a directory")
    task = Counter()
    with pytest.raises(ValueError, match="`out`: cannot write"):
        hdcore.sweep(task, {"x": [1]}, out=tmp_path / "file" / "r.csv", progress=False)
    with pytest.raises(ValueError, match="is a directory"):
        (tmp_path / "d.csv").mkdir()
        hdcore.sweep(task, {"x": [1]}, out=tmp_path / "d.csv", progress=False)
    assert task.calls == []


def test_dask_backend_without_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"hdcore\[dask\]"):
        hdcore.sweep(noisy_square, {"x": [1]}, backend="dask", progress=False)


def test_parquet_without_an_engine_says_how_to_install(monkeypatch, tmp_path):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ImportError, match="pyarrow"):
        hdcore.sweep(noisy_square, {"x": [1]}, out=tmp_path / "r.parquet", progress=False)


def test_results_are_flat_dicts_of_scalars_or_arrays():
    def task(seed, x):
        return [{"v": np.arange(3) * x, "s": np.float32(0.5), "n": np.int64(x)},
                [1, 2], {"o": object()}, {"x": 1}][x]

    with pytest.warns(RuntimeWarning, match="3 of 4 runs failed"):
        df = hdcore.sweep(task, {"x": [0, 1, 2, 3]}, n_workers=1, progress=False)
    assert df["v"].iloc[0] == [0, 0, 0] and df["s"].iloc[0] == 0.5 and df["n"].iloc[0] == 0
    assert "flat dict" in df["error"].iloc[1]
    assert "'o' of type object" in df["error"].iloc[2]
    assert "also a parameter" in df["error"].iloc[3]


def test_study_reproduce_goes_through_the_sweep_and_can_resume(tmp_path, monkeypatch):
    study = TinyStudy()
    out = study.reproduce(tmp_path, n_workers=1, progress=False)
    assert out.runs_path == tmp_path / "runs" / "tiny-test.jsonl"
    assert out.failed == 0 and len(out.simulation) == 6
    assert out.figure_path.exists() and out.csv_path.exists()
    assert out.simulation["x"].tolist() == [0.5, 0.5, 1.0, 1.0, 1.5, 1.5]
    # resume=True reuses the persisted runs: nothing is simulated again.
    monkeypatch.setattr(TinyStudy, "simulate", lambda self, seed, **p: 1 / 0)
    again = study.reproduce(tmp_path, n_workers=1, progress=False, resume=True)
    same(out.simulation, again.simulation)


class TinyStudy(Study):
    """A study small enough for the tests: y = x^2 + noise, theory y = x^2."""

    name = "tiny-test"
    title = "Tiny test study"

    def theory(self, quick=False):
        x = np.linspace(0.5, 1.5, 5)
        return pd.DataFrame({"x": x, "y": x ** 2})

    def grid(self, quick=False):
        return [{"x": x} for x in (0.5, 1.0, 1.5)]

    def simulate(self, seed, x):
        return {"y": x ** 2 + 0.01 * float(np.random.default_rng(seed).normal())}

    def n_seeds(self, quick=False):
        return 2

    def table(self, theory, simulation):
        agg = simulation.groupby("x", as_index=False)["y"].mean()
        return pd.concat([theory.assign(kind="theory"), agg.assign(kind="simulation")])

    def figure(self, theory, simulation):
        from hdcore.plotting import plt

        fig, ax = plt.subplots()
        ax.plot(theory["x"], theory["y"])
        ax.plot(simulation["x"], simulation["y"], "o")
        return fig


class BrokenStudy(TinyStudy):
    name = "broken-test"
    title = "A study whose theory fails"

    def theory(self, quick=False):
        raise ArithmeticError("no theory today")


def test_cli_parses_grid_axes():
    from hdcore.cli import parse_axis

    assert parse_axis("alpha=0.1:2:20")[1] == pytest.approx(np.linspace(0.1, 2, 20))
    assert parse_axis("prior=rademacher,gaussian") == ("prior", ["rademacher", "gaussian"])
    assert parse_axis("n=100") == ("n", [100])
    assert parse_axis("beta=1,2.5") == ("beta", [1, 2.5])
    for bad in ("alpha", "alpha=", "alpha=1:2", "alpha=a:b:3", "1x=2", "alpha=0:1:0"):
        with pytest.raises(ValueError, match="--grid"):
            parse_axis(bad)


def test_cli_sweep_replaces_study_axes_and_resumes(tmp_path, capsys):
    from hdcore.cli import main, study_grid
    from hdcore.studies import get_study

    study = get_study("spiked-wigner")
    grid = study_grid(study, [("snr", [0.5, 1.5]), ("n", [120])], quick=True)
    assert {p["prior"] for p in grid} == {"rademacher", "gaussian", "sparse_rademacher(0.05)"}
    assert [(p["snr"], p["n"]) for p in grid[:2]] == [(0.5, 120), (1.5, 120)]
    with pytest.raises(ValueError, match="has no parameter 'alpha'"):
        study_grid(study, [("alpha", [1.0])], quick=True)

    out = tmp_path / "w.csv"
    argv = ["sweep", "spiked-wigner", "--grid", "snr=0.5:1.5:2", "--grid", "n=120",
            "--grid", "prior=rademacher", "--seeds", "2", "--workers", "1", "--out", str(out),
            "--quiet"]
    assert main(argv) == 0
    df = pd.read_csv(out)
    assert df["snr"].tolist() == [0.5, 0.5, 1.5, 1.5] and df["error"].isna().all()
    assert "4 runs (2 points x 2 seeds), 0 failed" in capsys.readouterr().out
    lines = (tmp_path / "w.jsonl").read_text().splitlines()
    assert main(argv) == 0  # resumes: nothing new in the journal
    assert (tmp_path / "w.jsonl").read_text().splitlines() == lines
    assert main(["sweep", "spiked-wigner", "--grid", "alpha=1", "--quiet"]) == 2
    assert "no parameter 'alpha'" in capsys.readouterr().err


def test_cli_reproduce_writes_a_gallery_and_survives_a_broken_study(tmp_path, monkeypatch,
                                                                    capsys):
    from hdcore.cli import main
    from hdcore.studies import STUDIES

    monkeypatch.setitem(STUDIES, "tiny-test", TinyStudy)
    monkeypatch.setitem(STUDIES, "broken-test", BrokenStudy)
    status = main(["reproduce", "broken-test", "tiny-test", "--out", str(tmp_path),
                   "--workers", "1", "--quiet"])
    assert status == 1  # the broken study fails, the other one is still produced
    for name in ("tiny-test.png", "tiny-test.csv", "runs/tiny-test.jsonl", "gallery.md"):
        assert (tmp_path / name).exists(), name
    gallery = (tmp_path / "gallery.md").read_text()
    assert "![tiny-test](tiny-test.png)" in gallery and "[tiny-test.csv](tiny-test.csv)" in gallery
    assert "**The study failed:** `ArithmeticError: no theory today`" in gallery
    assert "| [tiny-test](#tiny-test) | Tiny test study | 6 | 0 |" in gallery
