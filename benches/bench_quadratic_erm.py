"""Benchmark: nuclear-norm (trace-norm) ERM of quadratic sensing -- one FISTA iteration
(``hdcore.algorithms.nuclear_norm``: forward + adjoint + spectral prox, the whole loop in Rust) and one GAMP iteration
(``hdcore.algorithms.nuclear_norm_gamp``) at d = 100, 200 (alpha = 0.5, kappa = 0.5, noise
0.1, lam = d/2), each against a vectorised NumPy implementation of the same algorithm in the
same process.

NumPy reference: forward ``h = (rowsum((X S) * X) - Tr S)/sqrt(d)`` and adjoint
``((X * g)^T X - (sum g) I)/sqrt(d)`` as two BLAS GEMMs, ``numpy.linalg.eigh`` for the soft
threshold (GAMP: plus the ``O(d^2)`` divergence from the eigenvalues, vectorised). Machine
bound: the ``4 n d^2`` flops of the two products at the rate of a BLAS GEMM of the same shapes
(``(n x d) @ (d x d)``) measured in the same run; the Rust operators exploit symmetry and need
half of that (``2 n d^2``), also printed.

Timing: one iteration is measured differentially, ``(T(n_iter=8) - T(n_iter=2)) / 6`` (minimum
of 3 interleaved runs of each length, ``bench_gamp_rie.per_iteration``), so the fixed costs of
a call (input checks, result assembly) cancel; FISTA's step (30 power iterations, the
largest fixed cost) is computed once in NumPy and passed to both sides. Both sides
run the same iterations from the same start; the max difference of the estimates is printed.

Run: ``python benches/bench_quadratic_erm.py [--sizes 100 200]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_gamp_rie import per_iteration

import hdcore
from hdcore.algorithms import nuclear_norm, nuclear_norm_gamp
from hdcore.models import MatrixSensing, Wishart

ALPHA, KAPPA, NOISE, DAMPING = 0.5, 0.5, 0.1, 0.5


def forward(x, s):
    return (np.einsum("ij,ij->i", x @ s, x) - np.trace(s)) / np.sqrt(x.shape[1])


def adjoint(x, g):
    d = x.shape[1]
    return ((x * g[:, None]).T @ x - g.sum() * np.eye(d)) / np.sqrt(d)


def soft(r, theta):
    lam, u = np.linalg.eigh(r)
    eta = np.maximum(lam - theta, 0.0)
    return (u * eta) @ u.T, lam, eta


def divergence(lam, eta):
    deta = eta > 0
    gap = lam[:, None] - lam[None, :]
    scale = 1e-12 * max(np.abs(lam).max(), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(np.abs(gap) > scale, (eta[:, None] - eta[None, :]) / gap, deta[:, None])
    return (np.sum(deta) + np.sum(q)) / lam.size**2


def fista_numpy(x, y, lam, step, n_iter):
    d = x.shape[1]
    est = np.zeros((d, d))
    z, t = est.copy(), 1.0
    for _ in range(n_iter):
        grad = adjoint(x, forward(x, z) - y)
        w = z - step * grad
        new = soft(0.5 * (w + w.T), step * lam)[0]
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        z = new + (t - 1) / t_new * (new - est)
        est, t = new, t_new
    return est


def operator_norm2(x, n_power=30):
    """``1.05 ||A^T A||`` by power iteration (FISTA's inverse step)."""
    v = np.random.default_rng(0).standard_normal((x.shape[1], x.shape[1]))
    v = 0.5 * (v + v.T)
    lam = 1.0
    for _ in range(n_power):
        v /= np.linalg.norm(v)
        w = adjoint(x, forward(x, v))
        lam, v = float(np.sum(w * v)), w
    return 1.05 * lam


def gamp_numpy(x, y, lam, n_iter, damping=DAMPING):
    n, d = x.shape
    fg, ng = 2 * n / d, 4 * n / d**2
    est = np.zeros((d, d))
    var = max(0.5 * np.mean(y**2), 1e-12)
    omega, g, v = np.zeros(n), np.zeros(n), 2 * var
    for t in range(n_iter):
        v_new = 2 * var
        dmp = 0.0 if t == 0 else damping
        omega = (1 - dmp) * (forward(x, est) - v_new * g) + dmp * omega
        v = (1 - dmp) * v_new + dmp * v
        g = (y - omega) / (1 + v)
        a = 1 / (1 + v)
        r = est + adjoint(x, g) / (fg * a)
        delta = 1 / (ng * a)
        est, lam_r, eta = soft(r, lam * ng / fg * delta)
        var = max(delta * divergence(lam_r, eta), 1e-300)
    return est


def gemm_rate_of(n, d, repeats=5):
    """Flop rate of ``(n x d) @ (d x d)``, best of ``repeats``."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, d)), rng.standard_normal((d, d))
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n * d * d / best


def bench_size(d):
    smp = MatrixSensing(d, d, ALPHA, Wishart(KAPPA), "quadratic", noise=NOISE).sample(seed=1)
    n, x, y, lam = smp.sensing.n, smp.x, smp.y, 0.5 * d
    rate = gemm_rate_of(n, d)
    bound, bound_sym = 4 * n * d * d / rate, 2 * n * d * d / rate
    step = 1.0 / operator_norm2(x)
    rows = []
    # both sides take the same step (hdcore would compute its own by 30 power iterations, a
    # fixed cost that the differential timing cancels anyway)
    it_r, _, res = per_iteration(lambda k: nuclear_norm(smp, lam=lam, psd=True, n_iter=k,
                                                        tol=0.0, step=step))
    it_n, _, est = per_iteration(lambda k: fista_numpy(x, y, lam, step, k))
    rows.append(("FISTA", it_r, it_n, np.max(np.abs(res.estimate - est))))
    it_r, _, res = per_iteration(lambda k: nuclear_norm_gamp(smp, lam=lam, n_iter=k, tol=0.0,
                                                            damping=DAMPING))
    it_n, _, est = per_iteration(lambda k: gamp_numpy(x, y, lam, k))
    rows.append(("GAMP", it_r, it_n, np.max(np.abs(res.estimate - est))))
    print(f"d={d} (n={n}): GEMM (n x d)(d x d) {rate / 1e9:.1f} GFLOP/s; bound "
          f"{bound * 1e3:.2f} ms/iter (4 n d^2), {bound_sym * 1e3:.2f} ms/iter (2 n d^2)")
    for name, t_r, t_n, diff in rows:
        print(f"    {name}: hdcore {t_r * 1e3:.2f} ms/iter, numpy {t_n * 1e3:.2f} ms/iter, ratio "
              f"numpy/hdcore {t_n / t_r:.2f}, hdcore/bound(4nd^2) {t_r / bound:.2f}; "
              f"max |diff| {diff:.1e}")


def bench_theory(n_points: int = 50, target: float = 5.0):
    """Wall time of a ``quadratic_erm_curve`` of ``n_points`` alphas (noisy and ``lam -> 0+``
    noiseless), against the issue's target."""
    from hdcore.theory import quadratic_erm_curve

    alphas = np.linspace(0.04, 0.8, n_points)
    for noise, lam in ((0.5, 0.2), (0.0, 0.0)):
        model = MatrixSensing(50, 50, 0.5, Wishart(KAPPA), "quadratic", noise=noise)
        t = time.perf_counter()
        quadratic_erm_curve(model, alphas, lam)
        dt = time.perf_counter() - t
        print(f"theory: {n_points}-point quadratic_erm_curve (noise {noise}, lam {lam}) "
              f"{dt:.2f} s (target < {target:.0f} s: {'met' if dt < target else 'MISSED'})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200])
    args = ap.parse_args()
    print(f"hdcore {hdcore.__version__}, {hdcore.get_num_threads()} threads")
    for d in args.sizes:
        bench_size(d)
    bench_theory()


if __name__ == "__main__":
    main()
