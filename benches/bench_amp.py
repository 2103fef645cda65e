"""AMP for the spiked Wigner model: hdcore (Rust) vs a vectorised NumPy AMP, same process.

For each n the script times one AMP iteration (differential timing: T(hi iterations) -
T(10 iterations) with hi - 10 >= 30 iterations spanning about 0.25 s, best of 5, so sampling
and input checks cancel) for

* NumPy float64: BLAS gemv on the dense matrix, preallocated buffers, ``np.tanh`` denoiser;
* NumPy float32 storage: the same with sgemv on a float32 copy;
* hdcore with float64 / float32 storage and full / packed-symmetric (half-matrix) storage,
  and packed bfloat16 storage (a quarter of the packed float64 bytes),

and prints the bound set by streaming the matrix once per iteration at the read bandwidth
measured in the same run. Then Lanczos (top eigenpair) vs ``scipy.sparse.linalg.eigsh``.

Then a scaling table of AMP on packed bfloat16 storage, sampled straight into bfloat16
(``--scale-sizes``): seconds per iteration next to the one-pass bound, NumPy float64 where its
dense matrix fits (n <= 16000), and the final squared cosine against the state-evolution fixed
point. Sizes above 40000 (n = 10^5 is 10 GB) run only with ``--large``; run them alone.

Usage: ``python benches/bench_amp.py [--sizes 2000 4000 8000] [--scale-sizes 2000 ...]
[--large] [--skip-main] [--markdown]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.sparse.linalg import eigsh

import hdcore
from hdcore import _core
from hdcore.linalg import memory_bandwidth, pack_symmetric, top_eigenpairs
from hdcore.models.spiked import to_bfloat16_bits
from hdcore.theory import fixed_points

LARGE = 40000

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


def scaling(sizes, bw, markdown, repeats=3):
    """AMP on packed bfloat16 storage vs n: s/iter, bound, NumPy float64, overlap vs theory."""
    print(f"\nScaling: AMP on packed bfloat16 storage (snr {SNR}, rademacher), "
          f"read bandwidth {bw / 1e9:.1f} GB/s")
    hdr = ("n", "GB stored", "sample s", "s/iter", "bound s", "x bound", "numpy f64 s/iter",
           "speed-up", "cos2 (60 it)", "SE fixed point")
    if markdown:
        print("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr))
    else:
        print(("{:>7} " * len(hdr)).format(*[h[:7] for h in hdr]))
    model_fp = {}
    for n in sizes:
        model = hdcore.models.SpikedWigner(n=n, snr=SNR, prior="rademacher")
        if SNR not in model_fp:
            model_fp[SNR] = fixed_points(model).uninformative
        t0 = time.perf_counter()
        s = model.sample(seed=1, dtype="bfloat16", storage="packed")
        t_sample = time.perf_counter() - t0
        x0 = 1e-3 * np.random.default_rng(0).standard_normal(n)
        lo, hi = 5, 60
        best, cos2 = np.inf, np.nan
        for _ in range(repeats if n <= LARGE else 1):
            t0 = time.perf_counter()
            hd_amp(s.y, x0, lo, n)
            t1 = time.perf_counter()
            raw = _core.amp_wigner(s.y, SNR, "rademacher", x0, truth=s.x, packed_n=n,
                                   n_iter=hi, tol=0.0)
            t2 = time.perf_counter()
            best = min(best, ((t2 - t1) - (t1 - t0)) / (hi - lo))
            ov, q = raw["overlap"][-1], raw["q"][-1]
            m2 = float(s.x @ s.x) / n
            cos2 = ov * ov / (q * m2)
        bound = n * (n + 1) / bw  # n(n+1)/2 entries of 2 bytes
        t_np = ratio = np.nan
        if n <= 16000:
            y64 = s.dense()
            t_np = per_iteration(lambda k, y=y64: numpy_amp(y, x0, k), repeats=3)
            ratio = t_np / best
            del y64
        row = (n, n * (n + 1) / 1e9, t_sample, best, bound, best / bound, t_np, ratio, cos2,
               model_fp[SNR])
        fmt = ("| {} | {:.2f} | {:.1f} | {:.4f} | {:.4f} | {:.2f} | {:.4f} | {:.2f} | {:.4f} | "
               "{:.4f} |") if markdown else \
            "{:>7} {:>7.2f} {:>7.1f} {:>7.4f} {:>7.4f} {:>7.2f} {:>7.4f} {:>7.2f} {:>7.4f} {:>7.4f}"
        print(fmt.format(*row), flush=True)
        del s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000, 8000])
    ap.add_argument("--scale-sizes", type=int, nargs="*",
                    default=[2000, 4000, 8000, 16000, 32000])
    ap.add_argument("--large", action="store_true",
                    help=f"allow scaling sizes above {LARGE} (n = 10^5 stores 10 GB)")
    ap.add_argument("--skip-main", action="store_true",
                    help="only the bfloat16 scaling table")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    too_big = [n for n in args.scale_sizes if n > LARGE]
    if too_big and not args.large:
        ap.error(f"--scale-sizes {too_big} above {LARGE} need --large (10 GB at n = 10^5)")
    bw = memory_bandwidth(1 << 30)
    print(f"hdcore {hdcore.__version__}, threads {hdcore.get_num_threads()}, "
          f"read bandwidth {bw / 1e9:.1f} GB/s")
    if args.skip_main:
        scaling(args.scale_sizes, bw, args.markdown)
        return
    rows = []
    for n in args.sizes:
        model = hdcore.models.SpikedWigner(n=n, snr=SNR, prior="rademacher")
        s = model.sample(seed=1)
        y64 = s.y
        y32 = y64.astype(np.float32)
        p64 = pack_symmetric(y64)
        p32 = pack_symmetric(y32)
        p16 = to_bfloat16_bits(p64)
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
            ("hdcore bfloat16 packed", per_iteration(hd_run(p16, n)), n * (n + 1)),
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
    if args.scale_sizes:
        scaling(args.scale_sizes, bw, args.markdown)


if __name__ == "__main__":
    main()
