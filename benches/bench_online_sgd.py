"""Online SGD: the Rust engine vs the fastest honest NumPy loop, and vs the Gaussian-RNG bound.

For each d and L the script times, in the same process,

* Rust ``online_sgd`` (full mode, spherical SGD of the SSI student on the ``sum`` target; the
  target costs O(L) per step, the pass over the coordinates O(L d)), all cores;
* NumPy: the same spherical SGD with the Gaussian blocks of the next 64 steps drawn by a second
  thread (two ``numpy.random.Generator`` streams, double-buffered) while the main thread runs
  the steps of the current block: ``zs = X @ w*``, ``z = X @ w``, ``w -= lr g @ X``,
  renormalise;
* the RNG bound: ``L d`` standard normals per step at the throughput of the Rust sampler
  (``hdcore._core.sgd_rng_throughput``: ziggurat on Xoshiro256++ into chunk buffers, exactly
  the draws of the hot loop without the projections and updates, all cores), measured in the
  same run (interleaved with the SGD timings: the machine may be shared);

and the reduced mode's steps per second (L = 1, one run and 16 runs). Prints a Markdown table.

Run: ``python benches/bench_online_sgd.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time

import numpy as np

import hdcore
from hdcore import _core
from hdcore.algorithms import online_sgd
from hdcore.models import SequenceSingleIndex


def _timed(fn, *args, **kw) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: all its threads) of ``fn(*args, **kw)``."""
    w, c = time.perf_counter(), time.process_time()
    fn(*args, **kw)
    return time.perf_counter() - w, time.process_time() - c


def rng_seconds(n: int, n_threads: int) -> tuple[float, float]:
    """(wall, CPU) seconds for ``n`` standard normals of the hot loop's sampler."""
    return _timed(_core.sgd_rng_throughput, n, n_threads=n_threads)


def _store(res: dict, draw, k: int) -> None:
    res["x"] = draw(k)


def numpy_sgd(d: int, L: int, steps: int, lr: float = 0.3, block: int = 64, seed: int = 0) -> float:
    """Seconds for ``steps`` spherical online-SGD steps of the SSI student on ``sum``."""
    g0 = np.random.default_rng([seed, 0])
    ws = g0.standard_normal(d)
    ws *= np.sqrt(d) / np.linalg.norm(ws)
    w = g0.standard_normal(d)
    w *= np.sqrt(d) / np.linalg.norm(w)
    gens = [np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])]
    scale = 1.0 / np.sqrt(d)
    nblocks = -(-steps // block)

    def draw(k):
        return gens[k % 2].standard_normal((block, L, d))

    t0 = time.perf_counter()
    nxt = draw(0)
    for b in range(nblocks):
        cur = nxt
        res: dict = {}
        th = None
        if b + 1 < nblocks:
            th = threading.Thread(target=_store, args=(res, draw, b + 1))
            th.start()
        for k in range(min(block, steps - b * block)):
            X = cur[k]
            zs = (X @ ws) * scale
            z = (X @ w) * scale
            r = z.sum() - zs.sum()  # squared loss of f = f* = sum: g_l = r
            w -= (lr * r * scale) * X.sum(0)
            w *= np.sqrt(d) / np.sqrt(w @ w)
        if th is not None:
            th.join()
            nxt = res["x"]
    return time.perf_counter() - t0


def rust_sgd(d: int, L: int, steps: int, n_threads: int, n_runs: int,
             lr: float = 0.3) -> tuple[float, float]:
    """(wall, CPU) seconds for ``n_runs`` runs of ``steps`` steps."""
    model = SequenceSingleIndex(d=d, L=L, target="sum")
    return _timed(online_sgd, model, "ssi", lr, steps, seed=0, n_runs=n_runs, record=2,
                  n_threads=n_threads)


def reduced_rate(n_runs: int, n_threads: int, steps: int) -> tuple[float, float]:
    """Steps per wall second and per CPU second of the reduced mode (L = 1, d = 1e9)."""
    model = SequenceSingleIndex(d=10**9, L=1, target="sum")
    w, c = _timed(online_sgd, model, "ssi", 0.3, steps, seed=0, n_runs=n_runs, record=2,
                  mode="reduced", n_threads=n_threads, m0=0.01)
    return n_runs * steps / w, n_runs * steps / c


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    threads = hdcore.get_num_threads()
    work = 2e7 if args.quick else 2e8  # coordinate-steps per measurement
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{threads} threads; numpy {np.__version__}; load average {os.getloadavg()[0]:.1f}")
    print("Rust: full mode, all threads; below 2^17 coordinate-tokens per step two runs go to two "
          "threads (the engine's parallel-over-runs mode). The RNG bound is re-measured next to "
          "every point with as many normals as the SGD drew (best of two, interleaved). Wall "
          "times and CPU times (all threads of the process): on a shared machine the CPU-time "
          "ratio is the meaningful one.\n")
    print("| d | L | runs | steps | Rust steps/s (all runs) | Rust ns/coord-step | NumPy "
          "ns/coord-step | speed-up | RNG bound ns/coord-step | Rust / bound (wall) | "
          "Rust / bound (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for L in (1, 4):
        for d in (10**3, 10**4, 10**5, 10**6):
            steps = max(20, int(work / (d * L)))
            runs = threads if d * L < (1 << 17) else 1
            n = L * d * steps * runs
            rw = rc = bw = bc = np.inf
            for _ in range(2):
                w, c = rust_sgd(d, L, steps, threads, runs)
                rw, rc = min(rw, w), min(rc, c)
                w, c = rng_seconds(n, threads)
                bw, bc = min(bw, w), min(bc, c)
            ns_steps = max(20, steps // 4)
            tn = _timed(numpy_sgd, d, L, ns_steps)[0] * steps / ns_steps
            cs = steps * d * runs  # coordinate-steps
            ns_r, ns_n, bound = rw / cs * 1e9, tn / (steps * d) * 1e9, bw / cs * 1e9
            print(f"| {d:.0e} | {L} | {runs} | {steps} | {steps * runs / rw:.3g} | "
                  f"{ns_r:.3f} | {ns_n:.3f} | {ns_n / ns_r:.1f}x | {bound:.3f} | "
                  f"{rw / bw:.2f} | {rc / bc:.2f} |", flush=True)
    steps = 200_000 if args.quick else 2_000_000
    one = reduced_rate(1, 1, steps)
    many = reduced_rate(16, threads, steps // 4)
    print(f"\nreduced mode (L = 1, d = 1e9): one run {one[0] / 1e6:.1f} M steps/s wall, "
          f"{one[1] / 1e6:.1f} M steps per CPU-second; 16 runs on {threads} threads "
          f"{many[0] / 1e6:.1f} M steps/s wall, {many[1] / 1e6:.1f} M steps per CPU-second")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
