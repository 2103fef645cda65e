"""ERM and its replica theory: hdcore (Rust L-BFGS) vs scipy L-BFGS-B with NumPy gradients.

For d = 1000..4000 and alpha = 10 (contaminated regression, eps = 0.1, delta_in = 0.1,
delta_out = 1), Huber(1) and Tukey(2) with lam = 0.5, both solvers start from the same point (zeros
for Huber; the Huber solution for Tukey, the warm start of ``hdcore.algorithms.erm``) and stop at
the same gradient tolerance ``||grad||/sqrt(n) <= 1e-8``. Reported: wall times, the ratio, the
relative difference of the final objectives, iterations, passes over ``X``, and the machine bound
of hdcore's loop -- two streaming passes over ``X`` per iteration at the read bandwidth measured
in the same run (``hdcore.linalg.memory_bandwidth``). The smallest-Hessian-eigenvalue check is
timed separately.

Theory: one fixed point (cold start) per loss, and a 200-point alpha sweep (2..1000) with the
tuning of (lam, loss parameter) for Huber and Tukey (targets: < 50 ms and < 1 min).

Usage: ``python benches/bench_erm.py [--sizes 1000 2000 4000] [--markdown]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize

import hdcore
from hdcore import _core
from hdcore.ingredients import Huber, Tukey
from hdcore.linalg import memory_bandwidth
from hdcore.models import ContaminatedRegression
from hdcore.theory import erm_fixed_point, tune

ALPHA, LAM, GTOL = 10.0, 0.5, 1e-8
NOISE = dict(eps=0.1, delta_in=0.1, delta_out=1.0, beta=0.0)


def scipy_erm(x, y, loss, lam, w0):
    """L-BFGS-B on the same objective, NumPy (BLAS) mat-vecs, f and gradient in one pass pair."""
    n, d = x.shape
    s = np.sqrt(d)

    def fun(w):
        r = y - (x @ w) / s
        v, d1, _ = loss.eval(r)
        return float(v.sum()) + 0.5 * lam * float(w @ w), -(x.T @ d1) / s + lam * w

    # ||g||_inf <= GTOL sqrt(n/d) implies ||g||_2/sqrt(n) <= GTOL
    res = minimize(fun, w0, jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": GTOL * np.sqrt(n / d), "ftol": 1e-15, "maxcor": 10})
    f, g = fun(res.x)
    return res.x, f, float(np.linalg.norm(g)) / np.sqrt(n), res.nit, res.nfev


def best_of(k, fn):
    best, out = np.inf, None
    for _ in range(k):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_one(x, y, loss, w0, bw) -> dict:
    """Both solvers from ``w0`` on one data set."""
    n, d = x.shape

    def rust(check=False):
        return _core.erm_solve(x, y, loss.name, w0, param=loss.param, lam=LAM, gtol=GTOL,
                               hessian_check=check)

    t_rust, out = best_of(2, rust)
    t_hess, outh = best_of(1, lambda: rust(True))
    t_np, (w_np, f_np, g_np, it_np, nfev) = best_of(1, lambda: scipy_erm(x, y, loss, LAM, w0))
    bound = out["n_pass"] * n * d * 8 / bw
    r = dict(d=d, n=n, loss=repr(loss), t_rust=t_rust, it=out["n_iter"], passes=out["n_pass"],
             evals=out["n_eval"], g=out["grad_norm"], t_np=t_np, it_np=it_np, nfev=nfev, g_np=g_np,
             ratio=t_np / t_rust, df=abs(out["objective"] - f_np) / abs(f_np),
             dw=float(np.max(np.abs(out["w"] - w_np))), bound=bound, t_hess=t_hess - t_rust,
             hmin=outh["hessian_min"], hpass=outh["n_pass"] - out["n_pass"])
    print(f"d={d:5d} n={n:6d} {r['loss']:>14}: hdcore {t_rust:7.3f} s ({r['it']} it, "
          f"{r['passes']} passes, {r['evals']} line evals, |g| {r['g']:.1e}) | scipy {t_np:7.3f} s "
          f"({it_np} it, {nfev} f+g evals, |g| {g_np:.1e}) | ratio {r['ratio']:5.2f} | rel. objective "
          f"diff {r['df']:.1e}, max|dw| {r['dw']:.1e} | bound {bound:.3f} s ({t_rust / bound:.2f}x) | "
          f"Hessian check +{r['t_hess']:.2f} s ({r['hpass']} passes, lambda_min {r['hmin']:.3f})",
          flush=True)
    return r


def bench_erm(sizes, bw):
    rows = []
    for d in sizes:
        s = ContaminatedRegression(d=d, alpha=ALPHA, **NOISE).sample(1)
        # the warm start of hdcore.algorithms.erm: Huber with Tukey's largest slope 16 tau/(25 sqrt 5)
        a = 2.0 * 16 / (25 * np.sqrt(5))
        w_huber = _core.erm_solve(s.x, s.y, "huber", np.zeros(d), param=a, lam=LAM, hessian_check=False)["w"]
        rows.append(bench_one(s.x, s.y, Huber(1.0), np.zeros(d), bw))
        rows.append(bench_one(s.x, s.y, Tukey(2.0), w_huber, bw))
    return rows


def bench_theory():
    m = ContaminatedRegression(d=100, alpha=10, **NOISE)
    out = {}
    for spec in ("huber(1.0)", "tukey(2.0)", "cauchy(1.0)"):
        erm_fixed_point(m, spec, LAM)
        t, fp = best_of(5, lambda spec=spec: erm_fixed_point(m, spec, LAM))
        out[f"fixed point {spec}"] = t
        print(f"one fixed point, {spec}, cold start: {1e3 * t:.1f} ms ({fp.n_iter} iterations, "
              f"valid {fp.valid})")
    alphas = np.geomspace(2, 1000, 200)
    for spec in ("huber(1.0)", "tukey(2.0)"):
        t0 = time.perf_counter()
        init, n_eval, ok = None, 0, 0
        for a in alphas:
            r = tune(ContaminatedRegression(d=100, alpha=a, **NOISE), spec, init=init)
            n_eval += r.n_evaluations
            if r.success:
                ok += 1
                init = (r.lam, r.param)
        t = time.perf_counter() - t0
        out[f"sweep {spec}"] = t
        print(f"200-point alpha sweep with (lam, param) tuning, {spec}: {t:.1f} s "
              f"({n_eval} fixed points, {ok}/200 tuned)")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    bw = memory_bandwidth(1 << 30)
    print(f"hdcore {hdcore.__version__}, threads {hdcore.get_num_threads()}, "
          f"read bandwidth {bw / 1e9:.1f} GB/s")
    rows = bench_erm(args.sizes, bw)
    th = bench_theory()
    if args.markdown:
        print("\n| d | n | loss | hdcore (s) | it / passes | scipy+NumPy (s) | it / f+g evals | ratio "
              "| rel. obj. diff | bound (s) | hdcore/bound | Hessian check (s) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['d']} | {r['n']} | {r['loss']} | {r['t_rust']:.3f} | {r['it']} / {r['passes']} "
                  f"| {r['t_np']:.3f} | {r['it_np']} / {r['nfev']} | {r['ratio']:.2f} | {r['df']:.1e} "
                  f"| {r['bound']:.3f} | {r['t_rust'] / r['bound']:.2f} | {r['t_hess']:.2f} |")
        print()
        for k, v in th.items():
            print(f"- {k}: {v * 1e3:.1f} ms" if v < 1 else f"- {k}: {v:.1f} s")


if __name__ == "__main__":
    main()
