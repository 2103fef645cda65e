"""Benchmark: one GAMP-RIE iteration for quadratic sensing (kappa = 0.5, alpha = 0.3) at
d = 100, 200, 300 -- the Rust loop vs a vectorised NumPy implementation of the same algorithm
in the same process.

NumPy reference (the best vectorised formulation, not the authors' ``einsum`` over stored
``n x d x d`` tensors, which does not fit in memory at d = 300): forward
``h = (rowsum((X S) * X) - Tr S)/sqrt(d)`` and adjoint ``((X * g)^T X - (sum g) I)/sqrt(d)`` as
two BLAS GEMMs, ``numpy.linalg.eigh`` and the shrinkage from batched cubic roots, the denoising
MMSE by Gauss-Legendre quadrature of the same cubic. Machine bound: the ``4 n d^2`` flops of
the two products (the eigendecomposition is ``O(d^3)``, negligible at ``n = 0.3 d^2``) at the
GEMM rate measured here.

Timing: one iteration is measured differentially, ``(T(n_iter=8) - T(n_iter=2)) / 6`` (minimum
of 3 runs of each length, as in ``bench_amp.py``), so the fixed cost of a call (input checks, conversion,
finiteness scan of ``X``, result assembly) cancels; that fixed cost, ``T(2) - 2 x iteration``, is
printed separately. The breakdown times each step alone on the same inputs, best of 5, both
sides computing the whole step (scaling and trace included; the Rust entry points also scan
their inputs for NaN).

Run: ``python benches/bench_gamp_rie.py [--sizes 100 200 300]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_rmt import best_of, cubic_hilbert_numpy, gemm_rate, rie_numpy

import hdcore
from hdcore import _core
from hdcore.algorithms import gamp_rie
from hdcore.models import QuadraticNetwork


def _density_numpy(x, kappa, delta):
    return np.maximum(-_stieltjes(x, kappa, delta).imag / np.pi, 0.0)


def _stieltjes(x, kappa, delta):
    z = x + 1e-12j
    n = z.size
    comp = np.zeros((n, 3, 3), dtype=complex)
    comp[:, 0, 0] = (z + kappa * delta) / delta
    comp[:, 0, 1] = -(kappa * z - kappa + 1) / delta
    comp[:, 0, 2] = kappa / delta
    comp[:, 1, 0] = 1
    comp[:, 2, 1] = 1
    roots = np.linalg.eigvals(comp)
    return roots[np.arange(n), np.argmin(roots.imag, axis=1)]


_T, _W = np.polynomial.legendre.leggauss(160)


def mmse_numpy(kappa, delta):
    """delta - (4 pi^2/3) delta^2 int rho^3, the support from the edge quartic."""
    k, dl = kappa, delta
    edge = [k**2, -2 * k * (dl * k**2 + k + 1),
            k**4 * dl**2 + 8 * k**3 * dl - 2 * k**2 * dl + k**2 - 2 * k + 1,
            -2 * k**4 * dl**2 + 8 * k**3 * dl**2 - 10 * k**3 * dl + 2 * k**2 * dl + 8 * k * dl,
            -4 * k**4 * dl**3 + k**4 * dl**2 - 20 * k**3 * dl**2 + 4 * k**3 * dl - 8 * k**2 * dl**2
            - 12 * k**2 * dl + 12 * k * dl - 4 * dl]
    r = np.roots(edge)
    e = np.sort(r[np.abs(r.imag) < 1e-7].real)
    mids = 0.5 * (e[1:] + e[:-1])
    inside = _density_numpy(mids, kappa, delta) > 1e-9
    total = 0.0
    theta = 0.5 * np.pi * (_T + 1)
    for i in np.flatnonzero(inside):
        a, b = e[i], e[i + 1]
        c, h = 0.5 * (a + b), 0.5 * (b - a)
        x = c - h * np.cos(theta)
        total += np.sum(_W * 0.5 * np.pi * h * np.sin(theta) * _density_numpy(x, kappa, delta) ** 3)
    return delta - 4 * np.pi**2 / 3 * delta**2 * total


def gamp_numpy(x, y, kappa, noise, n_iter, damping=0.5):
    n, d = x.shape
    sq = np.sqrt(d)
    est, mm = np.eye(d), 1 / kappa
    omega, g_prev, v = np.zeros(n), np.zeros(n), 2 * mm
    for t in range(n_iter):
        v_new = 2 * mm
        h = (np.einsum("ij,ij->i", x @ est, x) - np.trace(est)) / sq
        dmp = 0.0 if t == 0 else damping
        omega = (1 - dmp) * (h - v_new * g_prev) + dmp * omega
        v = (1 - dmp) * v_new + dmp * v
        g = (y - omega) / (noise + v)
        a = np.mean(g * g)
        adj = ((x * g[:, None]).T @ x - g.sum() * np.eye(d)) / sq
        r = est + adj / (2 * n / d * a)
        delta = 1 / (4 * n / d**2 * a)
        lam, u = np.linalg.eigh(r)
        est = (u * (lam - 2 * delta * cubic_hilbert_numpy(lam, kappa, delta))) @ u.T
        mm = mmse_numpy(kappa, delta)
        g_prev = g
    return est


def per_iteration(run, lo=2, hi=8, repeats=3):
    """``(min T(hi) - min T(lo)) / (hi - lo)`` over ``repeats`` interleaved runs (the minima
    of each length separately: robust to a load spike in either run) and the fixed cost
    ``min T(lo) - lo x iteration``."""
    t_lo = t_hi = np.inf
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(lo)
        t1 = time.perf_counter()
        out = run(hi)
        t2 = time.perf_counter()
        t_lo, t_hi = min(t_lo, t1 - t0), min(t_hi, t2 - t1)
    it = (t_hi - t_lo) / (hi - lo)
    return it, t_lo - lo * it, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 300])
    args = ap.parse_args()
    print(f"hdcore {hdcore.__version__}, {hdcore.get_num_threads()} threads")
    peak = gemm_rate()
    print(f"machine: GEMM {peak / 1e9:.1f} GFLOP/s (NumPy/OpenBLAS)")
    for d in args.sizes:
        bench_size(d, peak)


def bench_size(d, peak):
    """Time one iteration of both implementations at dimension ``d``, then each step."""
    smp = QuadraticNetwork(d=d, kappa=0.5, alpha=0.3).sample(seed=1)
    n = smp.sensing.n
    it_r, fix_r, res = per_iteration(lambda k: gamp_rie(smp, n_iter=k, tol=0.0))
    it_n, fix_n, est = per_iteration(lambda k: gamp_numpy(smp.x, smp.y, 0.5, 0.0, k))
    same = np.max(np.abs(est - res.estimate))
    # NumPy's formulation: two full GEMMs (X S and (X g)^T X), 2 n d^2 flops each; the Rust
    # kernels exploit symmetry (x^T S x = 2 x^T tril(S) x, lower triangle of X^T diag(g) X):
    # 2 n d^2 flops in all
    flops, flops_min = 4 * n * d * d, 2 * n * d * d
    print(f"d={d} (n={n}): rust {it_r * 1e3:.1f} ms/iter, numpy {it_n * 1e3:.1f} ms/iter, "
          f"ratio numpy/rust {it_n / it_r:.2f}; bound {flops / peak * 1e3:.1f} ms/iter "
          f"(4 n d^2 flops), {flops_min / peak * 1e3:.1f} ms/iter (2 n d^2, symmetric); "
          f"fixed cost per call rust {fix_r * 1e3:.1f} / numpy {fix_n * 1e3:.1f} ms; "
          f"max |diff| of estimates {same:.1e}")
    # breakdown on the same inputs, each step whole on both sides
    s, x, sq = smp.s, smp.x, np.sqrt(d)
    g = np.random.default_rng(0).standard_normal(n)
    eye = np.eye(d)
    kappa, delta = 0.5, 0.3
    r = s + np.sqrt(delta) * (lambda a: (a + a.T) / np.sqrt(2 * d))(
        np.random.default_rng(1).standard_normal((d, d)))
    steps = {
        "forward": (lambda: _core.sensing_forward("quadratic", s, x=x),
                    lambda: (np.einsum("ij,ij->i", x @ s, x) - np.trace(s)) / sq),
        "adjoint": (lambda: _core.sensing_adjoint("quadratic", g, x=x, d1=d, d2=d),
                    lambda: ((x * g[:, None]).T @ x - g.sum() * eye) / sq),
        "RIE": (lambda: _core.rie(r, delta, law_kind="mp_semicircle", law_params=[kappa, delta]),
                lambda: rie_numpy(r, kappa, delta)),
        "MMSE": (lambda: _core.rmt_denoising_mmse("mp_semicircle", [kappa, delta]),
                 lambda: mmse_numpy(kappa, delta)),
    }
    parts = []
    for name, (f_r, f_n) in steps.items():
        t_r = t_n = np.inf
        for _ in range(5):  # interleaved, so both sides see the same machine load
            t_r = min(t_r, best_of(f_r, repeats=1)[0])
            t_n = min(t_n, best_of(f_n, repeats=1)[0])
        parts.append(f"{name} rust {t_r * 1e3:.2f} / numpy {t_n * 1e3:.2f}")
    print("    " + ", ".join(parts) + " ms")


if __name__ == "__main__":
    main()
