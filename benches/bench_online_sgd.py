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

import hdcore
import numpy as np
from hdcore import _core
from hdcore.algorithms import online_sgd
from hdcore.models import SequenceSingleIndex


def rng_throughput(n_threads: int, n: int = 1 << 26, repeats: int = 3) -> float:
    """Standard normals per second of the Rust sampler of the hot loop (best of ``repeats``)."""
    return max(_core.sgd_rng_throughput(n, n_threads=n_threads) for _ in range(repeats))


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


def rust_sgd(d: int, L: int, steps: int, n_threads: int, n_runs: int, lr: float = 0.3) -> float:
    """Seconds for ``n_runs`` runs of ``steps`` steps."""
    model = SequenceSingleIndex(d=d, L=L, target="sum")
    t = time.perf_counter()
    online_sgd(model, "ssi", lr, steps, seed=0, n_runs=n_runs, record=2, n_threads=n_threads)
    return time.perf_counter() - t


def reduced_rate(n_runs: int, n_threads: int, steps: int) -> float:
    model = SequenceSingleIndex(d=10**9, L=1, target="sum")
    t = time.perf_counter()
    online_sgd(model, "ssi", 0.3, steps, seed=0, n_runs=n_runs, record=2, mode="reduced",
               n_threads=n_threads, m0=0.01)
    return n_runs * steps / (time.perf_counter() - t)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    threads = hdcore.get_num_threads()
    work = 2e7 if args.quick else 2e8  # coordinate-steps per measurement
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{threads} threads; numpy {np.__version__}")
    print("Rust: full mode, all threads; below 2^17 coordinate-tokens per step two runs go to two "
          "threads (the engine's parallel-over-runs mode) and the time is per run-step. The RNG "
          "bound is re-measured next to every point, with as many normals as the SGD drew.\n")
    print("| d | L | runs | steps | Rust steps/s (all runs) | Rust ns/coord-step | NumPy ns/coord-step "
          "| speed-up | RNG bound ns/coord-step | Rust / bound |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for L in (1, 4):
        for d in (10**3, 10**4, 10**5, 10**6):
            steps = max(20, int(work / (d * L)))
            runs = threads if d * L < (1 << 17) else 1
            tr, rate = np.inf, 0.0
            for _ in range(2):  # interleaved, best of two: the machine may be shared
                tr = min(tr, rust_sgd(d, L, steps, threads, runs))
                rate = max(rate, rng_throughput(threads, n=L * d * steps * runs, repeats=1))
            ns_steps = max(20, steps // 4)
            tn = numpy_sgd(d, L, ns_steps) * steps / ns_steps
            ns_r = tr / (steps * d * runs) * 1e9
            ns_n = tn / (steps * d) * 1e9
            bound = L / rate * 1e9
            print(f"| {d:.0e} | {L} | {runs} | {steps} | {steps * runs / tr:.3g} | "
                  f"{ns_r:.3f} | {ns_n:.3f} | {ns_n / ns_r:.1f}x | {bound:.3f} | "
                  f"{ns_r / bound:.2f} |", flush=True)
    steps = 200_000 if args.quick else 2_000_000
    print(f"\nreduced mode (L = 1, d = 1e9): {reduced_rate(1, 1, steps) / 1e6:.1f} M steps/s "
          f"(one run), {reduced_rate(16, threads, steps // 4) / 1e6:.1f} M steps/s "
          f"(16 runs, {threads} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
