"""Benchmark: GAMP for ERM (``hdcore.algorithms.erm_gamp``; the Rust GAMP engine with the
proximal output function) versus a vectorised NumPy implementation of the same iteration, in the
same process.

Contaminated regression (alpha = 10, eps = 0.1, delta_in = 0.1, delta_out = 1), ridge lam = 0.5,
Huber(1) (closed-form prox in NumPy) and Tukey(2) (vectorised safeguarded Newton in NumPy; the
Rust prox is safeguarded Newton too). The NumPy loop is ``NumpyGamp`` of ``bench_gamp.py`` (same
damping, same Onsager bookkeeping) on ``F = X/sqrt(d)`` (scaled once, outside the timing; the
Rust loop scales on the fly); both run from the same start, and their iterates are compared.
Time per iteration: the Rust time is the difference of runs with ``k + 1`` and 1 iterations.
Also timed: the whole solve to convergence, ``erm_gamp`` (default tolerance) against the L-BFGS
``erm`` (gradient tolerance 1e-8, no Hessian check), with the distance between their estimates.

The machine bound is two streaming passes over ``X`` at the read bandwidth measured right before
each size (:func:`hdcore.linalg.memory_bandwidth`); the Rust loop fuses ``X w`` and ``X^T g`` into
one pass, so it can beat it.

Run: ``python benches/bench_erm_gamp.py [--sizes 1000 2000 4000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_gamp import DAMPING, NumpyGamp, best_of

from hdcore import _core, get_num_threads
from hdcore.algorithms import erm, erm_gamp
from hdcore.linalg import memory_bandwidth
from hdcore.models import ContaminatedRegression

ALPHA, LAM = 10.0, 0.5
K = 3  # iterations timed (after the first)
NOISE = dict(eps=0.1, delta_in=0.1, delta_out=1.0)


def huber_prox(delta, v, a=1.0):
    """Prox residual of Huber(a) and its derivative (closed form)."""
    inner = np.abs(delta) <= a * (1 + v)
    r = np.where(inner, delta / (1 + v), delta - v * a * np.sign(delta))
    return r, np.where(inner, 1 / (1 + v), 1.0)


def tukey_prox(delta, v, tau=2.0, iters=60):
    """Prox residual of Tukey(tau) for v < 5/4: Newton on r + v rho'(r) = delta with bisection
    safeguard on [0, |delta|] (odd map), r = delta beyond tau."""
    x = np.abs(delta)
    lo, hi = np.zeros_like(x), np.minimum(x, tau)
    r = x / (1 + v)
    for _ in range(iters):
        s = (r / tau) ** 2
        f = r + v * r * (1 - s) ** 2 - x
        lo, hi = np.where(f < 0, r, lo), np.where(f < 0, hi, r)
        step = r - f / (1 + v * (1 - s) * (1 - 5 * s))
        bad = (step <= lo) | (step >= hi)
        new = np.where(bad, 0.5 * (lo + hi), step)
        if np.max(np.abs(new - r)) < 1e-14:
            r = new
            break
        r = new
    r = np.where(x >= tau, x, r)
    s = (r / tau) ** 2
    d2 = np.where(x >= tau, 0.0, (1 - s) * (1 - 5 * s))
    return np.sign(delta) * r, 1 / (1 + v * d2)


def prox_out(prox):
    def out(y, omega, v):
        vv = v[0, 0]
        r, dr = prox(y - omega[:, 0], vv)
        g = (y - omega[:, 0] - r) / vv
        return g[:, None], np.array([[np.sum(-(1 - dr) / vv)]])
    return out


def ridge_in(b, a):
    s = a[0, 0] + LAM
    return b / s, np.array([[1 / s]])


def bench(d, repeat, bw, n_threads):
    s = ContaminatedRegression(d=d, alpha=ALPHA, **NOISE).sample(seed=1)
    n = s.x.shape[0]
    f = s.x / np.sqrt(d)
    w0 = np.zeros(d)
    rows = []
    for name, param, prox in (("huber", 1.0, huber_prox), ("tukey", 2.0, tukey_prox)):
        def rust(iters, name=name, param=param):
            return _core.gamp_erm(s.x, s.y, name, w0, 0.5, param=param, lam=LAM, n_iter=iters,
                                  damping=DAMPING, tol=0.0, n_threads=n_threads)

        t_rust = (best_of(lambda: rust(K + 1), repeat) - best_of(lambda: rust(1), repeat)) / K
        ng = NumpyGamp(f, s.y, 1, prox_out(prox), ridge_in, w0[:, None], np.array([[0.5]]))
        for _ in range(K + 1):
            ng.step()
        diff = float(np.max(np.abs(ng.w[:, 0] - rust(K + 1)["estimate"][:, 0])))
        t_numpy = best_of(ng.step, repeat)
        bound = 2 * n * d * 8 / bw
        print(f"GAMP-ERM {name:5s} d={d} n={n}: rust {t_rust * 1e3:8.1f} ms/it  numpy "
              f"{t_numpy * 1e3:8.1f} ms/it  speed-up {t_numpy / t_rust:5.2f}x  2-pass bound "
              f"{bound * 1e3:7.1f} ms  rust/bound {t_rust / bound:4.2f}  max|w_rust - w_numpy| "
              f"after {K + 1} it {diff:.1e}", flush=True)
        spec = f"{name}({param})"
        t0 = time.perf_counter()
        amp = erm_gamp(s, spec, LAM, n_threads=n_threads)
        t_amp = time.perf_counter() - t0
        sol = erm(s, spec, LAM, hessian_check=False, n_threads=n_threads)
        t_erm = time.perf_counter() - t0 - t_amp
        print(f"  whole solve: erm_gamp {t_amp:6.3f} s ({amp.n_iter} it, |grad| {amp.grad_norm:.1e})"
              f"  erm (L-BFGS) {t_erm:6.3f} s ({sol.n_iter} it)  max|w_gamp - w_erm| "
              f"{np.max(np.abs(amp.estimate - sol.estimate)):.1e}", flush=True)
        rows.append({"loss": name, "d": d, "rust": t_rust, "numpy": t_numpy, "bound": bound,
                     "gamp_total": t_amp, "erm_total": t_erm})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    print(f"threads {get_num_threads(args.threads)}, alpha = {ALPHA}, lam = {LAM}")
    for d in args.sizes:
        # re-measured before every size: on a shared machine the bandwidth drifts
        bw = memory_bandwidth(n_threads=args.threads)
        print(f"d = {d}: measured read bandwidth {bw / 1e9:.1f} GB/s", flush=True)
        bench(d, args.repeat, bw, args.threads)


if __name__ == "__main__":
    main()
