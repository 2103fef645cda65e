"""Benchmark: Bayes GAMP for compressed sensing (linear channel with noise, Gauss-Bernoulli
prior) at d = 10^4, Rust fast path versus an independent vectorised NumPy GAMP written here
from the textbook equations (Krzakala et al., J. Stat. Mech. 2012, P08009; Rangan 2011), in the
same process. Both run the same iterations from the same start, so the final estimates are
compared too (they agree to rounding).

The machine bound of one iteration is two streaming passes over ``X`` (float64) at the read
bandwidth measured by :func:`hdcore.linalg.memory_bandwidth` (the Rust loop fuses the two
products into one pass over ``X``, so it can beat that bound).

Run: ``python benches/bench_gamp_gauss_bernoulli.py [--d 10000] [--alpha 0.5] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench_gamp import best_of  # benches/ is on sys.path when run as a script

from hdcore import _core, get_num_threads
from hdcore.linalg import memory_bandwidth
from hdcore.models import MultiIndex

RHO = 0.1
NOISE = 1e-4
DAMPING = 0.3


def gb_denoiser(b, a, rho):
    """Posterior mean/variance of x ~ (1 - rho) delta_0 + rho N(0, 1/rho) under exp(b x - a x^2/2)."""
    s2 = 1.0 / rho
    den = 1.0 + a * s2
    l1 = np.log(rho / (1 - rho)) - 0.5 * np.log(den) + 0.5 * b * b * s2 / den
    pi = 0.5 * (1.0 + np.tanh(0.5 * l1))  # sigmoid, overflow-free
    mu, v = b * s2 / den, s2 / den
    mean = pi * mu
    return mean, pi * (v + mu * mu) - mean * mean


class NumpyGamp:
    """Scalar GAMP with the same damping scheme as hdcore.algorithms.gamp (g, A and W_bar)."""

    def __init__(self, x, y, w0, v0, noise, rho):
        self.x, self.y, self.noise, self.rho = x, y, noise, rho
        self.w, self.v, self.w_bar = w0.copy(), v0, w0.copy()
        self.g = np.zeros(x.shape[0])
        self.a = 0.0
        self.t = 0

    def step(self):
        damp = 0.0 if self.t == 0 else DAMPING
        d = self.x.shape[1]
        omega = self.x @ self.w - self.v * self.g
        g_new = (self.y - omega) / (self.noise + self.v)
        a_new = self.x.shape[0] / (self.noise + self.v) / d
        self.g = (1 - damp) * g_new + damp * self.g
        self.a = (1 - damp) * a_new + damp * self.a
        self.w_bar = (1 - damp) * self.w + damp * self.w_bar
        b = self.x.T @ self.g + self.a * self.w_bar
        self.w, var = gb_denoiser(b, self.a, self.rho)
        self.v = float(var.mean())
        self.t += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--d", type=int, default=10_000)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--n-threads", type=int, default=None)
    args = ap.parse_args()
    d = args.d
    model = MultiIndex(d=d, alpha=args.alpha, p=1, link="linear", prior=f"gauss_bernoulli({RHO})",
                       noise=NOISE)
    s = model.sample(seed=0, n_threads=args.n_threads)
    n = model.n
    w0 = 1e-3 * np.random.default_rng(0).standard_normal((d, 1))
    v0 = np.eye(1) * (1.0 - float(w0[:, 0] @ w0[:, 0]) / d)
    bw = memory_bandwidth()
    print(f"threads {get_num_threads() if args.n_threads is None else args.n_threads}, "
          f"read bandwidth {bw / 1e9:.1f} GB/s, d = {d}, n = {n}, rho = {RHO}, noise = {NOISE}")

    def rust(iters):
        return _core.gamp_glm(s.x, s.y, "linear", 1, "gauss_bernoulli", w0, v0, rho=RHO,
                              noise=NOISE, truth=None, n_iter=iters, damping=DAMPING, tol=0.0,
                              n_threads=args.n_threads)

    k = 3
    t_rust = (best_of(lambda: rust(k + 1), args.repeat) - best_of(lambda: rust(1), args.repeat)) / k
    ng = NumpyGamp(s.x, s.y, w0[:, 0], float(v0[0, 0]), NOISE, RHO)
    ng.step()
    t_numpy = best_of(ng.step, args.repeat)
    bound = 2 * n * d * 8 / bw
    print(f"GAMP gauss_bernoulli per iteration: rust {t_rust * 1e3:8.1f} ms  numpy "
          f"{t_numpy * 1e3:8.1f} ms  speed-up {t_numpy / t_rust:5.2f}x  2-pass bound "
          f"{bound * 1e3:7.1f} ms  rust/bound {t_rust / bound:4.2f}")
    # same iterations, same answer: full runs from the same start
    t0 = time.perf_counter()
    raw = rust(args.iters)
    tr = time.perf_counter() - t0
    ng = NumpyGamp(s.x, s.y, w0[:, 0], float(v0[0, 0]), NOISE, RHO)
    t0 = time.perf_counter()
    for _ in range(args.iters):
        ng.step()
    tn = time.perf_counter() - t0
    w = s.w[:, 0]
    mse_r = float(np.mean((raw["estimate"][:, 0] - w) ** 2))
    mse_n = float(np.mean((ng.w - w) ** 2))
    diff = float(np.max(np.abs(raw["estimate"][:, 0] - ng.w)))
    print(f"{args.iters} iterations: rust {tr:6.2f} s  numpy {tn:6.2f} s  ({tn / tr:4.2f}x); "
          f"MSE rust {mse_r:.3e}  numpy {mse_n:.3e}  max |w_rust - w_numpy| {diff:.1e}")


if __name__ == "__main__":
    main()
