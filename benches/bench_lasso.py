"""Lasso: hdcore (Rust coordinate descent on an active set) vs a vectorised NumPy FISTA.

Compressed sensing in the ``MultiIndex`` normalisation (rows ``N(0, I/d)``), Gauss-Bernoulli
teacher ``rho = 0.1``, noise ``1e-4``, ``lam1 = 1e-2``, at ``alpha = 0.5`` (above the
Donoho-Tanner line, ``alpha_DT(0.1) = 0.329``) and ``alpha = 0.3`` (below it, the hard,
ill-conditioned case), for ``d = 2000, 4000, 8000``. Both solvers start from zero and stop at the
same criterion: every KKT violation ``<= tol * ||X^T y||_inf`` with ``tol = 1e-8`` (NumPy FISTA
checks it every 10 iterations with one extra mat-vec pair; Beck & Teboulle 2009 with the exact
Lipschitz constant from ``np.linalg.norm(X, 2)``, whose cost is reported separately and not
counted in its time).

Reported: wall times, the ratio, the relative difference of the objectives, the max difference
of the minimisers, sweeps / iterations, and the machine bound: the time of one streaming pass
over ``X`` (float64) at the read bandwidth measured in the same run
(``hdcore.linalg.memory_bandwidth``); the Rust solver needs at least two (transposition, final
KKT check), FISTA two per iteration.

Usage: ``python benches/bench_lasso.py [--sizes 2000 4000 8000] [--markdown]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hdcore.algorithms import lasso
from hdcore.linalg import memory_bandwidth
from hdcore.models import MultiIndex

RHO, NOISE, LAM1, TOL = 0.1, 1e-4, 1e-2, 1e-8


def kkt(x, y, w, lam1):
    """Largest KKT violation of the lasso at ``w`` (the solver's definition)."""
    g = x.T @ (y - x @ w)
    v = np.where(w > 0, np.abs(g - lam1), np.where(w < 0, np.abs(g + lam1),
                                                   np.maximum(np.abs(g) - lam1, 0.0)))
    return float(v.max())


def numpy_fista(x, y, lam1, lip, *, tol=TOL, max_iter=200_000):
    lam_max = float(np.max(np.abs(x.T @ y)))
    d = x.shape[1]
    w = np.zeros(d)
    z = w.copy()
    t = 1.0
    for it in range(1, max_iter + 1):
        u = z - (x.T @ (x @ z - y)) / lip
        w_new = np.sign(u) * np.maximum(np.abs(u) - lam1 / lip, 0.0)
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        z = w_new + ((t - 1) / t_new) * (w_new - w)
        w, t = w_new, t_new
        if it % 10 == 0 and kkt(x, y, w, lam1) <= tol * lam_max:
            return w, it
    return w, max_iter


def objective(x, y, w, lam1):
    return 0.5 * float(np.sum((y - x @ w) ** 2)) + lam1 * float(np.sum(np.abs(w)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000, 8000])
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.5, 0.3])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    bw = memory_bandwidth()
    print(f"read bandwidth {bw / 1e9:.1f} GB/s")
    rows = []
    for alpha in args.alphas:
        for d in args.sizes:
            s = MultiIndex(d=d, alpha=alpha, p=1, link="linear", prior=f"gauss_bernoulli({RHO})",
                           noise=NOISE).sample(0)
            x, y = s.x, s.y
            t_pass = x.nbytes / bw
            t0 = time.perf_counter()
            res = lasso(s, LAM1, tol=TOL)
            t_rust = time.perf_counter() - t0
            t0 = time.perf_counter()
            lip = float(np.linalg.norm(x, 2) ** 2)
            t_lip = time.perf_counter() - t0
            t0 = time.perf_counter()
            w, it = numpy_fista(x, y, LAM1, lip)
            t_np = time.perf_counter() - t0
            f_r, f_n = res.objective, objective(x, y, w, LAM1)
            rows.append(dict(alpha=alpha, d=d, n=x.shape[0], rust=t_rust, numpy=t_np, lip=t_lip,
                             ratio=t_np / t_rust, passes=t_rust / t_pass, sweeps=res.n_sweeps,
                             fista_iter=it, dobj=(f_n - f_r) / abs(f_r),
                             dw=float(np.max(np.abs(res.estimate - w))), nnz=res.sparsity,
                             kkt_rust=res.kkt, t_pass=t_pass))
            r = rows[-1]
            print(f"alpha={alpha} d={d} n={r['n']}: rust {t_rust:.3f} s ({res.n_sweeps} sweeps, "
                  f"{r['passes']:.1f} pass-times), numpy FISTA {t_np:.3f} s ({it} it; + {t_lip:.2f} s "
                  f"for ||X||_2), ratio {r['ratio']:.1f}x, rel. objective diff {r['dobj']:.1e}, "
                  f"max |dw| {r['dw']:.1e}, sparsity {r['nnz']:.3f}", flush=True)
    if args.markdown:
        print("\n| alpha | d | n | Rust CD (s) | NumPy FISTA (s) | ratio | Rust / one pass over X | "
              "sweeps | FISTA iter | rel. obj. diff | max abs w diff |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['alpha']} | {r['d']} | {r['n']} | {r['rust']:.3f} | {r['numpy']:.2f} | "
                  f"{r['ratio']:.1f}x | {r['passes']:.1f} | {r['sweeps']} | {r['fista_iter']} | "
                  f"{r['dobj']:.1e} | {r['dw']:.1e} |")


if __name__ == "__main__":
    main()
