"""Fused order-3 contraction (matrix-tensor AMP's hot loop): hdcore (Rust) vs NumPy, same process.

For a dense tensor ``T`` of shape (n1, n1, n1) and vectors u, x, y, AMP needs the three
contractions ``T(., x, y)``, ``T(u, ., y)``, ``T(u, x, .)`` every iteration. The script times

* ``hdcore._core.tensor3_contract``: the three in ONE pass over ``T`` (f64 and f32 storage);
* NumPy BLAS: ``A = T.reshape(n1*n1, n1) @ y`` then ``A @ x``, ``u @ A`` and
  ``(u (x) x) @ T.reshape(n1*n1, n1)`` -- two passes over ``T`` (gemv);
* NumPy ``einsum`` of the three contractions (three passes, unoptimised path),

best of 5, and prints the bound of one read of ``T`` at the read bandwidth measured in the same
run (``hdcore.linalg.memory_bandwidth``). The results agree to rounding (checked).

Usage: ``python benches/bench_matrix_tensor.py [--sizes 200 300 400] [--markdown]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hdcore import _core
from hdcore.linalg import memory_bandwidth


def best_of(f, repeats: int = 5) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def numpy_blas(t, u, x, y):
    n1, n3, n4 = t.shape
    flat = t.reshape(n1 * n3, n4)
    a = (flat @ y).reshape(n1, n3)
    return a @ x, u @ a, np.outer(u, x).ravel() @ flat


def numpy_einsum(t, u, x, y):
    return (np.einsum("ijk,j,k->i", t, x, y), np.einsum("ijk,i,k->j", t, u, y),
            np.einsum("ijk,i,j->k", t, u, x))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 300, 400])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    bw = memory_bandwidth(1 << 30)
    print(f"read bandwidth {bw / 1e9:.1f} GB/s")
    rows = []
    rng = np.random.default_rng(0)
    for n in args.sizes:
        for dtype in (np.float64, np.float32):
            t = rng.standard_normal((n, n, n)).astype(dtype)
            u, x, y = (rng.standard_normal(n) for _ in range(3))
            tf = t.astype(np.float64) if dtype is np.float32 else t
            ref = numpy_blas(tf, u, x, y)
            got = _core.tensor3_contract(t, u, x, y)
            err = max(float(np.max(np.abs(g - r)) / np.max(np.abs(r))) for g, r in zip(got, ref))
            t_hd = best_of(lambda: _core.tensor3_contract(t, u, x, y))
            ut, xt, yt = (v.astype(dtype) for v in (u, x, y))
            t_blas = best_of(lambda: numpy_blas(t, ut, xt, yt))
            t_ein = best_of(lambda: numpy_einsum(t, ut, xt, yt), repeats=2)
            bound = t.nbytes / bw
            rows.append((n, np.dtype(dtype).name, t_hd, t_blas, t_ein, bound, err))
    head = "| n1 | storage | hdcore fused | NumPy BLAS (2 passes) | NumPy einsum | BLAS/hdcore | 1-read bound | hdcore/bound | rel. err |"
    print(head)
    print("|" + "---|" * 9)
    for n, dt, a, b, c, bd, err in rows:
        print(f"| {n} | {dt} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {c * 1e3:.0f} ms | "
              f"{b / a:.2f}x | {bd * 1e3:.1f} ms | {a / bd:.2f} | {err:.1e} |")


if __name__ == "__main__":
    main()
