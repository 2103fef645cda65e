"""AMP for the spiked Wigner model: hdcore (Rust) vs a vectorised NumPy AMP, same process.

For each n the script times one AMP iteration (differential timing: T(hi iterations) -
T(10 iterations) with hi - 10 >= 30 iterations spanning about 0.25 s, best of 5, so sampling
and input checks cancel) for

* NumPy float64: BLAS gemv on the dense matrix, preallocated buffers, ``np.tanh`` denoiser;
* NumPy float32 storage: the same with sgemv on a float32 copy;
* hdcore with float64 / float32 storage and full / packed-symmetric (half-matrix) storage,

and prints the bound set by streaming the matrix once per iteration at the read bandwidth
measured in the same run. Then Lanczos (top eigenpair) vs ``scipy.sparse.linalg.eigsh``.

Usage: ``python benches/bench_amp.py [--sizes 2000 4000 8000] [--markdown]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.sparse.linalg import eigsh

import hdcore
from hdcore import _core
from hdcore.linalg import memory_bandwidth, pack_symmetric, top_eigenpairs

SNR = 1.5


def numpy_amp(y: np.ndarray, x0: np.ndarray, n_iter: int) -> np.ndarray:
    """Bayes AMP, Rademacher prior, vectorised NumPy with preallocated buffers."""
    n = x0.size
    dt = y.dtype
    est = x0.astype(dt)
    prev = np.zeros(n, dtype=dt)
    field = np.empty(n, dtype=dt)
    mean = np.empty(n, dtype=dt)
    onsager = 0.0
    for _ in range(n_iter):
        np.dot(y, est, out=field)
        field *= SNR
        field -= onsager * prev
        np.tanh(field, out=mean)
        prev, est, mean = est, mean, prev
        onsager = SNR * SNR * (1.0 - float(np.dot(est, est)) / n)
    return est


def hd_amp(y, x0, n_iter, packed_n=None):
    return _core.amp_wigner(y, SNR, "rademacher", x0, packed_n=packed_n, n_iter=n_iter,
                            tol=0.0)


def per_iteration(run, repeats=5, lo=10, min_span=0.25) -> float:
    """Time per iteration, differential: (T(hi) - T(lo)) / (hi - lo), best of ``repeats``,
    with ``hi`` chosen so that the difference spans about ``min_span`` seconds (so that small,
    cache-resident sizes are not lost in timer and call noise)."""
    t0 = time.perf_counter()
    run(lo + 30)
    est = max((time.perf_counter() - t0) / (lo + 30), 1e-7)
    hi = lo + max(30, int(min_span / est))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(lo)
        t1 = time.perf_counter()
        run(hi)
        t2 = time.perf_counter()
        best = min(best, ((t2 - t1) - (t1 - t0)) / (hi - lo))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000, 8000])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    bw = memory_bandwidth(1 << 30)
    print(f"hdcore {hdcore.__version__}, threads {hdcore.get_num_threads()}, "
          f"read bandwidth {bw / 1e9:.1f} GB/s")
    rows = []
    for n in args.sizes:
        model = hdcore.models.SpikedWigner(n=n, snr=SNR, prior="rademacher")
        s = model.sample(seed=1)
        y64 = s.y
        y32 = y64.astype(np.float32)
        p64 = pack_symmetric(y64)
        p32 = pack_symmetric(y32)
        x0 = 1e-3 * np.random.default_rng(0).standard_normal(n)
        def numpy_run(y, x0=x0):
            return lambda k: numpy_amp(y, x0, k)

        def hd_run(y, packed_n=None, x0=x0):
            return lambda k: hd_amp(y, x0, k, packed_n)

        t_np = per_iteration(numpy_run(y64))
        t_np32 = per_iteration(numpy_run(y32))
        variants = [
            ("numpy float64 (BLAS)", t_np, 8 * n * n),
            ("numpy float32 storage", t_np32, 4 * n * n),
            ("hdcore float64", per_iteration(hd_run(y64)), 8 * n * n),
            ("hdcore float32", per_iteration(hd_run(y32)), 4 * n * n),
            ("hdcore float64 packed", per_iteration(hd_run(p64, n)), 4 * n * (n + 1)),
            ("hdcore float32 packed", per_iteration(hd_run(p32, n)), 2 * n * (n + 1)),
        ]
        for name, t, nbytes in variants:
            bound = nbytes / bw
            rows.append((n, name, t * 1e3, t_np / t, t / bound, bound * 1e3))
    hdr = ("n", "variant", "ms/iter", "speed-up vs numpy f64", "x bandwidth bound", "bound ms")
    fmt = "| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |" if args.markdown else \
        "{:>6} {:<24} {:>9.2f} {:>10.2f}x {:>10.2f}x {:>9.2f}"
    if args.markdown:
        print("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr))
    else:
        print("{:>6} {:<24} {:>9} {:>11} {:>11} {:>9}".format("n", "variant", "ms/iter",
                                                             "vs numpy", "x bound", "bound ms"))
    for r in rows:
        print(fmt.format(*r))

    print("\nTop eigenpair: hdcore Lanczos vs scipy eigsh (ARPACK over BLAS mat-vecs)")
    for n in args.sizes:
        y = hdcore.models.SpikedWigner(n=n, snr=SNR, prior="rademacher").sample(seed=2).y
        v0 = np.random.default_rng(0).standard_normal(n)
        best_h = best_s = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            e = top_eigenpairs(y, 1, tol=1e-10)
            t1 = time.perf_counter()
            vals, _ = eigsh(y, k=1, which="LA", tol=1e-10, v0=v0)
            t2 = time.perf_counter()
            best_h, best_s = min(best_h, t1 - t0), min(best_s, t2 - t1)
        assert abs(e.values[0] - vals[0]) < 1e-6
        print(f"n={n}: hdcore {best_h * 1e3:.1f} ms ({e.n_matvec} mat-vecs), scipy {best_s * 1e3:.1f} ms,"
              f" speed-up {best_s / best_h:.2f}x")


if __name__ == "__main__":
    main()
