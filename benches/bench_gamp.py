"""Benchmark: Bayes GAMP iterations and spectral operators of multi-index models, Rust kernels
versus a vectorised NumPy/SciPy implementation of the same algorithms, in the same process.

* GAMP p = 1: binary perceptron (sign link, Rademacher prior), probit output function.
* GAMP p = 2: ``y = z1 z2 + noise`` with Gaussian prior, output function by Gauss-Hermite
  cubature (24 x 24 nodes) -- the same rule in both implementations.
* Spectral: products with ``L`` (two passes over ``X``) and ``T`` (one fused pass in Rust, two
  in NumPy), and the top eigenpair of ``T`` / ``L`` (Rust Lanczos / Arnoldi versus SciPy
  ``eigsh`` / ``eigs`` on NumPy products).

The machine bound of one GAMP iteration is printed as two streaming passes over ``X`` at the
read bandwidth measured by :func:`hdcore.linalg.memory_bandwidth` (the Rust loop fuses both
products into one pass, so it can beat that bound).

Run: ``python benches/bench_gamp.py [--sizes 2000 4000 8000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import special
from scipy.sparse.linalg import LinearOperator, eigs, eigsh

from hdcore import _core, get_num_threads
from hdcore.algorithms import asymmetric_spectral, symmetric_spectral
from hdcore.ingredients.quadrature import gauss_hermite
from hdcore.linalg import memory_bandwidth
from hdcore.models import MultiIndex

ALPHA = 2.0
NODES = 24  # Gauss-Hermite nodes per dimension of the p = 2 cubature
DAMPING = 0.5


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# ---- NumPy GAMP (same algorithm as hdcore.algorithms.gamp, damping included) ---------------

class NumpyGamp:
    def __init__(self, x, y, p, out_fn, in_fn, w0, v0):
        self.x, self.y, self.p = x, y, p
        self.out_fn, self.in_fn = out_fn, in_fn
        self.w, self.v, self.w_bar = w0.copy(), v0.copy(), w0.copy()
        self.g = np.zeros((x.shape[0], p))
        self.a = np.zeros((p, p))
        self.t = 0

    def step(self):
        damp = 0.0 if self.t == 0 else DAMPING
        d = self.x.shape[1]
        omega = self.x @ self.w - self.g @ self.v.T
        g_new, dg_sum = self.out_fn(self.y, omega, self.v)
        self.g = (1 - damp) * g_new + damp * self.g
        a_new = -dg_sum / d
        self.a = (1 - damp) * 0.5 * (a_new + a_new.T) + damp * self.a
        self.w_bar = (1 - damp) * self.w + damp * self.w_bar
        b = self.x.T @ self.g + self.w_bar @ self.a
        self.w, self.v = self.in_fn(b, self.a)
        self.t += 1


def probit_out(y, omega, v):
    s = np.sqrt(v[0, 0])
    a = y * omega[:, 0] / s
    lam = np.exp(-0.5 * a * a - 0.5 * np.log(2 * np.pi) - special.log_ndtr(a))
    g = (y * lam / s)[:, None]
    dg = -(lam * (lam + a)) / v[0, 0]
    return g, np.array([[dg.sum()]])


def rademacher_in(b, a):
    w = np.tanh(b)
    return w, np.array([[np.mean(1 - w * w)]])


def cubature_out_factory(noise):
    x, w = gauss_hermite(NODES)
    nodes = np.stack(np.meshgrid(x, x, indexing="ij"), -1).reshape(-1, 2)
    logw = np.log(np.outer(w, w).ravel())

    def out(y, omega, v):
        p = 2
        pinv = np.linalg.inv(v)
        chol = np.linalg.cholesky(v)
        offs = nodes @ chol.T
        g = np.empty_like(omega)
        dg_sum = np.zeros((p, p))
        for s in range(0, y.size, 2048):
            z = omega[s:s + 2048, None, :] + offs[None]
            f = z[..., 0] * z[..., 1]
            lw = logw[None] - 0.5 * (y[s:s + 2048, None] - f) ** 2 / noise
            lw -= lw.max(axis=1, keepdims=True)
            wt = np.exp(lw)
            wt /= wt.sum(axis=1, keepdims=True)
            mean = np.einsum("bk,bkp->bp", wt, z)
            cov = np.einsum("bk,bkp,bkq->bpq", wt, z, z) - mean[:, :, None] * mean[:, None, :]
            g[s:s + 2048] = (mean - omega[s:s + 2048]) @ pinv.T
            dg_sum += (pinv @ cov.sum(axis=0) @ pinv) - cov.shape[0] * pinv
        return g, dg_sum

    return out


def gaussian_in(b, a):
    c = np.linalg.inv(np.eye(a.shape[0]) + a)
    return b @ c, c


# ---- benchmarks ---------------------------------------------------------------------------

def bench_gamp(d, p, repeat, bandwidth, n_threads):
    if p == 1:
        model = MultiIndex(d=d, alpha=ALPHA, p=1, link="sign", prior="rademacher")
        name = "sign/rademacher"
    else:
        model = MultiIndex(d=d, alpha=ALPHA, p=2, link="z1*z2", prior="gaussian", noise=0.1)
        name = f"z1*z2+noise, {NODES}x{NODES} GH"
    s = model.sample(seed=0)
    n = model.n
    w0 = 1e-3 * np.random.default_rng(0).standard_normal((d, p))
    v0 = np.eye(p)
    kw = {"rho": None, "noise": model.noise, "n_nodes": NODES if p == 2 else None,
          "truth": None, "damping": DAMPING, "tol": 0.0, "n_threads": n_threads}
    prior = model.prior.name
    link = model.channel.name

    def rust(iters):
        return _core.gamp_glm(s.x, s.y, link, p, prior, w0, v0, n_iter=iters, **kw)

    # time per iteration: difference of runs with k + 1 and 1 iterations (excludes setup)
    k = 3
    t_rust = (best_of(lambda: rust(k + 1), repeat) - best_of(lambda: rust(1), repeat)) / k
    out_fn = probit_out if p == 1 else cubature_out_factory(model.noise)
    in_fn = rademacher_in if p == 1 else gaussian_in
    ng = NumpyGamp(s.x, s.y, p, out_fn, in_fn, w0, v0)
    ng.step()
    t_numpy = best_of(ng.step, repeat)
    bound = 2 * n * d * 8 / bandwidth
    print(f"GAMP p={p} ({name}) d={d} n={n}: rust {t_rust * 1e3:8.1f} ms/it  numpy "
          f"{t_numpy * 1e3:8.1f} ms/it  speed-up {t_numpy / t_rust:5.2f}x  "
          f"2-pass bound {bound * 1e3:7.1f} ms  rust/bound {t_rust / bound:4.2f}", flush=True)
    return {"kind": f"gamp p={p}", "d": d, "rust": t_rust, "numpy": t_numpy, "bound": bound}


def bench_spectral(d, repeat, bandwidth, n_threads):
    model = MultiIndex(d=d, alpha=ALPHA, p=2, link="z1*z2")
    s = model.sample(seed=1)
    x, n, p = s.x, model.n, 2
    g = np.ascontiguousarray(model.channel.G(s.y))
    t = np.ascontiguousarray(model.channel.T(s.y, clip=20.0))
    rng = np.random.default_rng(0)
    om = rng.standard_normal((n, p))
    w = rng.standard_normal((d, p))

    def l_numpy(o):
        u = np.einsum("nkl,nl->nk", g, o)
        return x @ (x.T @ u) - u

    def t_numpy(v):
        a = np.einsum("nkl,nl->nk", t, x @ v)
        return x.T @ a

    rows = []
    bound = 2 * n * d * 8 / bandwidth
    for name, rust_fn, np_fn, passes in (
            ("L matvec", lambda: _core.spectral_l_matvec(x, g, om, n_threads=n_threads),
             lambda: l_numpy(om), 2),
            ("T matvec", lambda: _core.spectral_t_matvec(x, t, w, n_threads=n_threads),
             lambda: t_numpy(w), 1)):
        tr, tn = best_of(rust_fn, repeat), best_of(np_fn, repeat)
        print(f"{name} d={d} n={n} p=2: rust {tr * 1e3:7.1f} ms  numpy {tn * 1e3:7.1f} ms  "
              f"speed-up {tn / tr:5.2f}x  2-pass bound {bound * 1e3:6.1f} ms (rust streams X "
              f"{passes}x)", flush=True)
        rows.append({"kind": name, "d": d, "rust": tr, "numpy": tn, "bound": bound})
    # eigensolvers: same tolerance, SciPy ARPACK on NumPy products versus Rust on Rust products
    tol = 1e-7
    t0 = time.perf_counter()
    sym = symmetric_spectral(s, k=2, tol=tol, seed=0, n_threads=n_threads)
    tr = time.perf_counter() - t0
    op = LinearOperator((d * p, d * p), matvec=lambda v: t_numpy(v.reshape(d, p)).ravel(),
                        dtype=np.float64)
    t0 = time.perf_counter()
    vals = eigsh(op, k=2, which="LA", tol=tol, v0=rng.standard_normal(d * p))[0]
    tn = time.perf_counter() - t0
    print(f"T top-2 eigenpairs d={d}: rust {tr:6.2f} s ({sym.n_matvec} products)  scipy eigsh "
          f"{tn:6.2f} s  speed-up {tn / tr:5.2f}x  eigenvalues {sym.eigenvalues[0]:.6f} / "
          f"{vals.max():.6f}", flush=True)
    rows.append({"kind": "T eigensolve", "d": d, "rust": tr, "numpy": tn, "bound": np.nan})
    t0 = time.perf_counter()
    asym = asymmetric_spectral(s, k=2, tol=tol, seed=0, n_threads=n_threads)
    tr = time.perf_counter() - t0
    op = LinearOperator((n * p, n * p), matvec=lambda v: l_numpy(v.reshape(n, p)).ravel(),
                        dtype=np.float64)
    t0 = time.perf_counter()
    ev = eigs(op, k=2, which="LR", tol=tol, v0=rng.standard_normal(n * p))[0]
    tn = time.perf_counter() - t0
    print(f"L top-2 eigenpairs d={d}: rust {tr:6.2f} s ({asym.n_matvec} products)  scipy eigs "
          f"{tn:6.2f} s  speed-up {tn / tr:5.2f}x  eigenvalues {asym.eigenvalues[0].real:.6f} / "
          f"{ev.real.max():.6f}", flush=True)
    rows.append({"kind": "L eigensolve", "d": d, "rust": tr, "numpy": tn, "bound": np.nan})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 8000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    threads = get_num_threads(args.threads)
    print(f"threads {threads}, alpha = {ALPHA}")
    for d in args.sizes:
        # re-measured before every size: on a shared machine the bandwidth drifts
        bw = memory_bandwidth(n_threads=args.threads)
        print(f"d = {d}: measured read bandwidth {bw / 1e9:.1f} GB/s", flush=True)
        for p in (1, 2):
            bench_gamp(d, p, args.repeat, bw, args.threads)
        bench_spectral(d, args.repeat, bw, args.threads)


if __name__ == "__main__":
    main()
