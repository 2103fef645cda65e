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

Run: ``python benches/bench_gamp_rie.py``.
"""

from __future__ import annotations

import numpy as np
from bench_rmt import best_of, cubic_hilbert_numpy, gemm_rate

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


def main():
    print(f"hdcore {hdcore.__version__}, {hdcore.get_num_threads()} threads")
    peak = gemm_rate()
    print(f"machine: GEMM {peak / 1e9:.1f} GFLOP/s (NumPy/OpenBLAS)")
    for d in (100, 200, 300):
        bench_size(d, peak)


def bench_size(d, peak, n_iter=6):
    """Time ``n_iter`` iterations of both implementations at dimension ``d``."""
    smp = QuadraticNetwork(d=d, kappa=0.5, alpha=0.3).sample(seed=1)
    n = smp.sensing.n
    t_r, res = best_of(lambda: gamp_rie(smp, n_iter=n_iter, tol=0.0), repeats=2)
    t_n, est = best_of(lambda: gamp_numpy(smp.x, smp.y, 0.5, 0.0, n_iter), repeats=2)
    same = np.max(np.abs(est - res.estimate))
    flops = 4 * n * d * d
    it_r, it_n = t_r / n_iter, t_n / n_iter
    print(f"d={d} (n={n}): rust {it_r * 1e3:.1f} ms/iter ({flops / it_r / 1e9:.1f} GFLOP/s), "
          f"numpy {it_n * 1e3:.1f} ms/iter ({flops / it_n / 1e9:.1f} GFLOP/s), "
          f"ratio numpy/rust {it_n / it_r:.2f}, bound {flops / peak * 1e3:.1f} ms/iter; "
          f"max |diff| of estimates {same:.1e}")
    # breakdown: the two O(n d^2) products
    s, x = smp.s, smp.x
    g = np.random.default_rng(0).standard_normal(n)
    t_f, _ = best_of(lambda: _core.sensing_forward("quadratic", s, x=x))
    t_a, _ = best_of(lambda: _core.sensing_adjoint("quadratic", g, x=x, d1=d, d2=d))
    t_fn, _ = best_of(lambda: np.einsum("ij,ij->i", x @ s, x))
    t_an, _ = best_of(lambda: (x * g[:, None]).T @ x)
    print(f"    forward rust {t_f * 1e3:.1f} / numpy {t_fn * 1e3:.1f} ms, "
          f"adjoint rust {t_a * 1e3:.1f} / numpy {t_an * 1e3:.1f} ms")

if __name__ == "__main__":
    main()
