"""Benchmark: GAMP with token columns on the two-layer tied attention model
(``hdcore.algorithms.sequence_gamp``), D = 1000, alpha = 1 (N = 1000 sequences, 2000 token rows).

Reports the cost split of one iteration: the two products with the ``(N M) x D`` token design
(Rust, ``_core.glm_x_times`` / ``glm_xt_times``) against the attention channel (vectorised NumPy
over samples, ``n_nodes^2`` Gauss-Hermite nodes per sign branch), and the time of a 20-point
state-evolution curve (Monte Carlo with common random numbers).

The issue's target (a Rust attention kernel >= 10x a vectorised NumPy channel) is not measured
here: the channel is still the NumPy one (see docs/sequence_index.md, "Not yet built").

Run: ``python benches/bench_sequence_gamp.py [--d 1000] [--nodes 24] [--se-points 20]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hdcore import _core
from hdcore.algorithms.sequence_gamp import token_column_channel
from hdcore.models import DeepTiedAttention
from hdcore.theory import sequence_state_evolution


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--nodes", type=int, default=24)
    ap.add_argument("--se-points", type=int, default=20)
    ap.add_argument("--se-mc", type=int, default=2048)
    ap.add_argument("--se-iter", type=int, default=30)
    args = ap.parse_args()
    model = DeepTiedAttention(args.d, args.alpha)
    s = model.sample(seed=0)
    x = np.ascontiguousarray(s.x / np.sqrt(args.d))
    w = np.ascontiguousarray(0.1 * s.w)
    v = np.eye(2) * 0.99
    g_out = token_column_channel(s, n_nodes=args.nodes)
    t0 = time.perf_counter()
    omega = _core.glm_x_times(x, w)
    t1 = time.perf_counter()
    g, dg = g_out(None, omega, v)
    t2 = time.perf_counter()
    _core.glm_xt_times(x, np.ascontiguousarray(g))
    t3 = time.perf_counter()
    print(f"D = {args.d}, N = {model.n}, nodes = {args.nodes}^2 x 2 signs")
    print(f"  products with X: {1e3 * (t1 - t0 + t3 - t2):.1f} ms")
    print(f"  channel (NumPy): {1e3 * (t2 - t1):.1f} ms")
    alphas = np.linspace(0.1, 1.2, args.se_points)
    t0 = time.perf_counter()
    for a in alphas:
        sequence_state_evolution(DeepTiedAttention(10, float(a)), n_mc=args.se_mc,
                                 n_nodes=16, n_iter=args.se_iter)
    print(f"  SE curve, {args.se_points} points x {args.se_iter} it x {args.se_mc} MC: "
          f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
