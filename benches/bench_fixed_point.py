"""The fixed-point engine (``hdcore.theory.fixed_point``) on the two workloads that use it most.

1. The robust-regression curve: the replica-symmetric ERM fixed point (Huber(1) + ridge 0.1 and
   Tukey(2) + ridge 0.1, contaminated regression eps = 0.1, delta_in = 0.1, delta_out = 1) at 100
   values of alpha in [0.5, 100]: cold starts (the "auto" starts of ``erm_fixed_point``) and warm
   starts along the curve (``init`` = the previous point's state).
2. A 100 x 100 low-rank phase diagram: the spiked-Wigner state evolution from the uninformative
   start with the sparse Rademacher prior, rho in [0.02, 1] x snr in [0.2, 2]; per-point cold solves
   (``state_evolution``) and, with the engine, ``continuation`` in snr at each rho.

Reported: wall time, total iterations (map evaluations for the sums), and the largest difference
between the variants' fixed points. The machine bound here is the cost of one map evaluation
(timed in the same run): a solver cannot be faster than (evaluations) x (cost of one).

Usage: ``python benches/bench_fixed_point.py [--grid 100] [--markdown]``
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from hdcore.models import ContaminatedRegression, SpikedWigner
from hdcore.theory import erm_fixed_point, state_evolution

NOISE = dict(eps=0.1, delta_in=0.1, delta_out=1.0, beta=0.0)


def erm_curve(loss: str, alphas, warm: bool):
    t0 = time.perf_counter()
    out, init, n_iter = [], "auto", 0
    for a in alphas:
        fp = erm_fixed_point(ContaminatedRegression(d=100, alpha=float(a), **NOISE), loss, lam=0.1, init=init)
        n_iter += fp.n_iter
        out.append(fp.excess_error)
        if warm and fp.valid:
            init = fp.state
    return time.perf_counter() - t0, n_iter, np.array(out)


def phase_diagram_cold(rhos, snrs):
    t0 = time.perf_counter()
    m = np.empty((len(rhos), len(snrs)))
    n_iter = 0
    for i, r in enumerate(rhos):
        base = SpikedWigner(n=10, snr=1.0, prior=f"sparse_rademacher({r})")
        for j, s in enumerate(snrs):
            se = state_evolution(replace(base, snr=float(s)))
            m[i, j] = se.fixed_point
            n_iter += se.n_iter
    return time.perf_counter() - t0, n_iter, m


def phase_diagram_continuation(rhos, snrs):
    from hdcore.theory import fixed_point as fpe
    from hdcore.theory.low_rank import state_evolution_map

    t0 = time.perf_counter()
    m = np.empty((len(rhos), len(snrs)))
    n_iter = 0
    for i, r in enumerate(rhos):
        base = SpikedWigner(n=10, snr=1.0, prior=f"sparse_rademacher({r})")
        path = fpe.continuation(lambda x, s: state_evolution_map(replace(base, snr=s))(x), snrs, 1e-6,
                                tol=1e-12, max_iter=2000)
        m[i] = [res.x for res in path.forward]
        n_iter += sum(res.n_iter for res in path.forward)
    return time.perf_counter() - t0, n_iter, m


def one_map_cost():
    model = SpikedWigner(n=10, snr=1.5, prior="sparse_rademacher(0.1)")
    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < 0.2:
        state_evolution(model, n_iter=50, tol=0.0)
        k += 51
    return (time.perf_counter() - t0) / k


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=100)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rows = []
    alphas = np.geomspace(0.5, 100, 100)
    for loss in ("huber(1.0)", "tukey(2.0)"):
        tc, nc, ec = erm_curve(loss, alphas, warm=False)
        tw, nw, ew = erm_curve(loss, alphas, warm=True)
        ok = np.isfinite(ec) & np.isfinite(ew)
        diff = float(np.max(np.abs(ec[ok] - ew[ok]))) if ok.any() else float("nan")
        rows.append((f"ERM curve {loss}, 100 alphas, cold", tc, nc, ""))
        rows.append((f"ERM curve {loss}, 100 alphas, warm", tw, nw, f"max |diff| {diff:.1e}"))
    rhos = np.linspace(0.02, 1.0, args.grid)
    snrs = np.linspace(0.2, 2.0, args.grid)
    cost = one_map_cost()
    t, n, m_cold = phase_diagram_cold(rhos, snrs)
    rows.append((f"low-rank SE {args.grid}x{args.grid}, cold per point", t, n,
                 f"bound {n * cost:.2f} s ({cost * 1e6:.0f} us/eval)"))
    try:
        t, n, m_cont = phase_diagram_continuation(rhos, snrs)
        rows.append((f"low-rank SE {args.grid}x{args.grid}, continuation in snr", t, n,
                     f"max |m diff| vs cold {np.max(np.abs(m_cont - m_cold)):.1e}"))
    except ImportError:
        rows.append(("low-rank SE continuation", float("nan"), 0, "no fixed-point engine"))
    if args.markdown:
        print("| workload | time (s) | iterations | note |\n|---|---|---|---|")
        for name, t, n, note in rows:
            print(f"| {name} | {t:.2f} | {n} | {note} |")
    else:
        for name, t, n, note in rows:
            print(f"{name:55s} {t:8.2f} s {n:9d} it  {note}")


if __name__ == "__main__":
    main()
