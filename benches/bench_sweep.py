"""Sweep benchmark: the local backend's overhead per run, and its speed-up on a study.

1. Overhead: a trivial task (returns its parameter) over N points, as a plain Python loop and
   through ``hdcore.sweep`` (in this process, and with 2 worker processes; without and with a
   durable ``out`` journal, which flushes every arrival with fdatasync). Overhead per run =
   (sweep time - loop time) / N, pool start-up excluded and reported apart.
2. Speed-up: the spiked-Wigner study's ``simulate`` (AMP + PCA, n = 1500) over a grid, as a
   serial loop in this process (the Rust kernels use every core) and as a 2-worker local sweep
   (one Rust thread per worker).

Run ``python benches/bench_sweep.py [--points N] [--n 1500]``; the machine's load average is
printed because the CI machine type is often shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import hdcore
from hdcore.studies import get_study
from hdcore.sweeps.local import available_cores


def trivial(seed, x):
    return {"y": x}


def timed(fn, repeat: int = 3) -> float:
    """Median wall time of ``fn()`` over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def overhead(points: int) -> None:
    grid = {"x": list(range(points))}
    loop = timed(lambda: [trivial(seed=0, x=x) for x in grid["x"]])
    print(f"\n## Overhead per run, trivial task, {points} runs (median of 3)")
    print(f"plain Python loop: {loop * 1e3:.2f} ms in total ({loop / points * 1e6:.2f} us/run)")
    print("| backend | out | total | overhead per run |")
    print("|---|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, workers in (("in-process (n_workers=1)", 1), ("2 worker processes", 2)):
            for persist in (False, True):
                def run(persist=persist, workers=workers):
                    out = Path(tmp) / "bench.jsonl" if persist else None
                    hdcore.sweep(trivial, grid, n_workers=workers, out=out, resume=False,
                                 progress=False)
                startup = 0.0
                if workers > 1:  # pool start-up, measured on a 2-run sweep
                    hdcore.sweep(trivial, {"x": [0, 1]}, n_workers=2, progress=False)
                    startup = timed(lambda: hdcore.sweep(trivial, {"x": [0, 1]}, n_workers=2,
                                                         progress=False))
                total = timed(run) - startup
                per = (total - loop) / points
                print(f"| {label} | {'jsonl + fdatasync' if persist else 'none'} | "
                      f"{total:.3f} s | {per * 1e3:.3f} ms |")
        print(f"(2-worker pool start-up, warm fork server: {startup * 1e3:.0f} ms, excluded "
              "above)")


def speedup(n: int, values: int, repeat: int) -> None:
    study = get_study("spiked-wigner")
    grid = [{"prior": "rademacher", "snr": 0.5 + 1.5 * i / (values - 1), "n": n}
            for i in range(values)]

    def serial(threads: str | None) -> float:
        if threads is not None:
            os.environ["HDCORE_NUM_THREADS"] = threads
        try:
            return timed(lambda: [study.simulate(seed=0, **p) for p in grid], repeat=1)
        finally:
            os.environ.pop("HDCORE_NUM_THREADS", None)

    busy: list[float] = []

    def pool() -> float:
        t0 = time.perf_counter()
        df = hdcore.sweep(study.simulate, grid, n_workers=2, progress=False)
        busy.append(df["wall_time"].sum())
        return time.perf_counter() - t0

    study.simulate(seed=0, **grid[0])  # warm up this process
    hdcore.sweep(study.simulate, grid[:2], n_workers=2, progress=False)  # start the fork server
    times: dict[str, list[float]] = {"all": [], "one": [], "pool": []}
    for _ in range(repeat):  # interleaved, so that load changes hit every variant alike
        times["all"].append(serial(None))
        times["one"].append(serial("1"))
        times["pool"].append(pool())
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n## Speed-up, spiked-Wigner simulate (AMP + PCA), n = {n}, {values} points "
          f"(median of {repeat}, interleaved)")
    print("| run | wall time | speed-up vs serial loop |")
    print("|---|---:|---:|")
    print(f"| serial loop, Rust pool of {available_cores()} threads | {med['all']:.2f} s | 1.00 |")
    print(f"| serial loop, 1 Rust thread | {med['one']:.2f} s | {med['all'] / med['one']:.2f} |")
    print(f"| hdcore.sweep, 2 worker processes x 1 thread | {med['pool']:.2f} s | "
          f"{med['all'] / med['pool']:.2f} |")
    task = statistics.median(busy)
    print(f"\nIn the sweep, the tasks ran {task:.2f} s in total ({task / 2 / med['pool']:.0%} "
          f"of 2 workers x wall time; the rest is start-up and the last run's tail). On an idle "
          f"machine they would take the serial 1-thread time, {med['one']:.2f} s; ratio "
          f"{task / med['one']:.2f} (above 1 measures CPU contention from other processes).")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=2000, help="runs of the trivial task")
    p.add_argument("--n", type=int, default=1500, help="spiked-Wigner dimension")
    p.add_argument("--values", type=int, default=12, help="snr values in the speed-up grid")
    p.add_argument("--repeat", type=int, default=5, help="repetitions of the speed-up runs")
    args = p.parse_args()
    print(f"hdcore {hdcore.__version__}, {available_cores()} cores, load average at start "
          f"{os.getloadavg()[0]:.1f}")
    overhead(args.points)
    speedup(args.n, args.values, args.repeat)
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
