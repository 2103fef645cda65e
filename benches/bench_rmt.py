"""Benchmark: RIE denoising of a d = 2000 matrix (Rust/faer vs NumPy/LAPACK) and the
fixed-point curve of 100 alphas.

The NumPy reference does the same computation vectorised: ``numpy.linalg.eigh``, the
MP (+) semicircle Stieltjes transform at every eigenvalue from the roots of its cubic (batched
companion-matrix eigenvalues, root of most negative imaginary part -- valid inside the bulk),
and the reconstruction ``(U * f) @ U.T``. Machine bound: the dense eigendecomposition
(~ 9 d^3 flops with vectors, plus 2 d^3 for the reconstruction) at the GEMM rate measured here.

Run: ``python benches/bench_rmt.py``.
"""

from __future__ import annotations

import time

import numpy as np

import hdcore
from hdcore import rmt
from hdcore.models import BilinearSequenceRegression, QuadraticNetwork
from hdcore.theory import matrix_sensing as ms


def best_of(f, repeats=3):
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def cubic_hilbert_numpy(lam, kappa, delta):
    """Re g(lambda + i0) for MP(kappa) (+) SC(delta): roots of
    delta g^3 - (z + kappa delta) g^2 + (kappa z - kappa + 1) g - kappa, batched."""
    z = lam + 1e-12j
    n = z.size
    comp = np.zeros((n, 3, 3), dtype=complex)
    # monic: g^3 + a2 g^2 + a1 g + a0
    a2 = -(z + kappa * delta) / delta
    a1 = (kappa * z - kappa + 1) / delta
    a0 = -kappa / delta * np.ones(n)
    comp[:, 0, :] = np.stack([-a2, -a1, -a0], axis=1)
    comp[:, 1, 0] = 1
    comp[:, 2, 1] = 1
    roots = np.linalg.eigvals(comp)
    pick = np.argmin(roots.imag, axis=1)
    return roots[np.arange(n), pick].real


def rie_numpy(y, kappa, delta):
    lam, u = np.linalg.eigh(y)
    f = lam - 2 * delta * cubic_hilbert_numpy(lam, kappa, delta)
    return (u * f) @ u.T


def gemm_rate(n=1500):
    a = np.random.default_rng(0).standard_normal((n, n))
    t, _ = best_of(lambda: a @ a)
    return 2 * n**3 / t


def main():
    threads = hdcore.get_num_threads()
    print(f"hdcore {hdcore.__version__}, {threads} threads")
    peak = gemm_rate()
    bw = hdcore.linalg.memory_bandwidth(1 << 28, repeats=3)
    print(f"machine: GEMM {peak / 1e9:.1f} GFLOP/s (NumPy/OpenBLAS), read bandwidth {bw / 1e9:.1f} GB/s")

    d, kappa, delta = 2000, 0.5, 0.3
    prior = rmt.WishartPrior(kappa)
    s = prior.sample(d, seed=1)
    g = np.random.default_rng(2).standard_normal((d, d))
    y = s + np.sqrt(delta) * (g + g.T) / np.sqrt(2 * d)
    law = rmt.MPSemicircle(kappa, delta)
    t_rust, est_r = best_of(lambda: rmt.rie(y, delta, law).estimate, repeats=2)
    t_np, est_n = best_of(lambda: rie_numpy(y, kappa, delta), repeats=2)
    err_r = np.sum((est_r - s) ** 2) / d
    err_n = np.sum((est_n - s) ** 2) / d
    flops = 11 * d**3
    print(f"RIE d={d}: rust {t_rust:.2f} s ({flops / t_rust / 1e9:.1f} GFLOP/s), numpy {t_np:.2f} s "
          f"({flops / t_np / 1e9:.1f} GFLOP/s), ratio numpy/rust {t_np / t_rust:.2f}; "
          f"errors {err_r:.5f} / {err_n:.5f} (theory {prior.mmse(delta):.5f})")
    t_eig, _ = best_of(lambda: rmt.eigh(y), repeats=2)
    t_eig_np, _ = best_of(lambda: np.linalg.eigh(y), repeats=2)
    print(f"  of which eigh: rust {t_eig:.2f} s, numpy {t_eig_np:.2f} s")

    alphas = np.linspace(0.005, 0.6, 100)
    t_q, _ = best_of(lambda: ms.fixed_point_curve(QuadraticNetwork(d=100, kappa=0.5, alpha=0.1), alphas), 1)
    bsr = BilinearSequenceRegression(D=100, beta=2.0, rho=0.5, alpha=0.1, noise=0.1)
    t_b, _ = best_of(lambda: ms.fixed_point_curve(bsr, alphas), 1)
    print(f"fixed-point curve, 100 alphas: quadratic network {t_q:.2f} s, BSR {t_b:.2f} s")


if __name__ == "__main__":
    main()
