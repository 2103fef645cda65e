"""Study ``compressed-sensing``: Bayes-optimal GAMP on noisy compressed sensing with a
Gauss-Bernoulli signal, against its state evolution, with the first-order (information-
theoretic) transition and the algorithmic spinodal, and the lasso on the same data against its
replica fixed point.

Model (:class:`~hdcore.models.MultiIndex`, linear link): ``y = X w* + sqrt(noise) xi`` with
``n = alpha d`` rows ``x_mu ~ N(0, I_d/d)`` (i.e. ``X' w*/sqrt(d)`` for a standard Gaussian
``X'``) and ``w*_i`` from ``gauss_bernoulli(rho)``. State evolution of Bayes GAMP for the linear
channel reduces to one scalar map (Krzakala, Mezard, Sausset, Sun & Zdeborova, J. Stat. Mech.
(2012) P08009, Eqs. (32)-(34); Barbier et al. 2019)::

    E^{t+1} = mmse_P(alpha / (noise + E^t))

with replica free entropy ``Phi(E) = -q qhat/2 + psi_P(qhat) + alpha psi_out``,
``q = 1 - E``, ``qhat = alpha/(noise + E)``,
``psi_out = -(1/2) log(2 pi (noise + E)) - 1/2``. For small noise the map has two stable
fixed points between the spinodal ``alpha_sp`` (where the informative branch appears) and the
algorithmic threshold ``alpha_alg`` (where GAMP from a random start jumps to it); the
information-theoretic threshold ``alpha_it`` is where the informative branch starts to have the
larger free entropy: between ``alpha_it`` and ``alpha_alg`` GAMP is suboptimal (hard phase).

The lasso is run at the penalty minimising its theoretical MSE at each point (an oracle-tuned
lasso; :func:`hdcore.theory.classification.lasso_fixed_point`), solved by the Rust coordinate
descent :func:`hdcore.algorithms.lasso` (:func:`lasso_fista` is the independent NumPy reference
the tests and ``benches/bench_lasso.py`` compare it with).

CSV columns: ``study, kind (theory | simulation), rho, series, x (alpha), y (per-entry MSE),
yerr (standard error over seeds), n (seeds)``; series ``se_uninformative``, ``se_informative``,
``bayes_optimal``, ``lasso`` (theory), ``gamp``, ``lasso`` (simulation), and
``threshold_it`` / ``threshold_alg`` / ``threshold_spinodal`` (``x`` = the threshold, ``y`` NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hdcore._progress import track
from hdcore.algorithms.gamp import gamp
from hdcore.algorithms.lasso import lasso
from hdcore.ingredients.priors import GaussBernoulli
from hdcore.models.multi_index import MultiIndex
from hdcore.studies.base import Study, register
from hdcore.theory.classification import lasso_fixed_point
from hdcore.theory.fixed_point import solve_many

__all__ = ["CompressedSensingStudy", "bayes_state_evolution", "bayes_free_entropy",
           "se_fixed_points", "cs_thresholds", "lasso_fista", "optimal_lasso"]

RHOS = (0.1, 0.2, 0.3)
NOISE = 1e-4
#: informative start of state evolution (E^0)
_INFORMED = 1e-10


def bayes_state_evolution(alpha, rho: float, noise: float, *, init: str = "uninformative",
                          n_iter: int = 5000, tol: float = 1e-13) -> np.ndarray:
    """Fixed point ``E`` of ``E <- mmse(alpha/(noise + E))`` for every ``alpha`` (vectorised),
    from ``E^0 = 1`` (uninformative) or ``E^0 = 1e-10`` (informative)."""
    prior = GaussBernoulli(rho)
    alpha = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    e0 = np.full(alpha.shape, 1.0 if init == "uninformative" else _INFORMED)
    # relative residual tol, with an absolute floor 1e-16 near E = 0
    floor = 1e-16 / tol if tol > 0 else 0.0
    res = solve_many(lambda e, i: prior.mmse(alpha[i] / (noise + e)), e0, tol=tol, max_iter=n_iter,
                     scale=lambda e: np.maximum(e, 1e-300) + floor)
    return res.x


def bayes_free_entropy(alpha, rho: float, noise: float, mse) -> np.ndarray:
    """Replica free entropy ``Phi`` at per-entry MSE ``E`` (module docs)."""
    alpha = np.asarray(alpha, dtype=np.float64)
    mse = np.asarray(mse, dtype=np.float64)
    qhat = alpha / (noise + mse)
    psi_out = -0.5 * np.log(2 * np.pi * (noise + mse)) - 0.5
    return (-0.5 * (1.0 - mse) * qhat + GaussBernoulli(rho).free_entropy(qhat)
            + alpha * psi_out)


class _MMSETable:
    """``mmse_P(a)`` of one prior on a fine grid of ``log a`` (a cubic spline; the function is
    smooth in ``log a``), for locating the fixed points of the SE map by sign changes."""

    def __init__(self, rho: float):
        from scipy.interpolate import CubicSpline

        self.prior = GaussBernoulli(rho)
        t = np.linspace(np.log(1e-3), np.log(1e10), 1500)
        self.spline = CubicSpline(t, self.prior.mmse(np.exp(t)))

    def __call__(self, a):
        a = np.asarray(a, dtype=np.float64)
        t = np.log(np.clip(a, 1e-3, 1e10))
        return np.where(a < 1e-3, self.prior.mmse(np.clip(a, 0, 1e-3)) if np.any(a < 1e-3)
                        else 0.0, self.spline(t))


_TABLES: dict[float, _MMSETable] = {}

#: grid of E on which the SE map is scanned for fixed points
_E_GRID = np.geomspace(1e-9, 1.0, 600)


def _table(rho):
    if rho not in _TABLES:
        _TABLES[rho] = _MMSETable(rho)
    return _TABLES[rho]


def se_fixed_points(alpha, rho: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """``(E_uninformative, E_informative)``: the largest and the smallest fixed point of the
    monotone SE map ``E -> mmse(alpha/(noise + E))`` -- the limits of state evolution from
    ``E^0 = 1`` and from ``E^0 = 0`` -- located by a sign scan on a log grid of ``E`` (spline of
    ``mmse``) and refined by Brent's method on the exact map."""
    from scipy.optimize import brentq

    tab = _table(rho)
    alpha = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    h = tab(alpha[:, None] / (noise + _E_GRID[None, :])) - _E_GRID[None, :]
    lo, hi = np.empty(alpha.size), np.empty(alpha.size)

    def exact(e, a):
        return float(tab.prior.mmse(a / (noise + e))) - e

    for i, a in enumerate(alpha):
        pos = h[i] > 0
        if pos.all():  # no fixed point below 1 on the grid
            lo[i] = hi[i] = float(tab.prior.mmse(a / (noise + 1.0)))
            continue
        if not pos.any():
            lo[i] = hi[i] = _E_GRID[0]
            continue
        k = np.flatnonzero(pos)[-1]  # last + before the top: largest root above it
        j = np.flatnonzero(~pos)[0]  # first -: smallest root below it
        lo[i] = brentq(exact, _E_GRID[k], _E_GRID[k + 1], args=(a,), xtol=1e-15, rtol=1e-12) \
            if k + 1 < _E_GRID.size else _E_GRID[-1]
        hi[i] = brentq(exact, _E_GRID[j - 1], _E_GRID[j], args=(a,), xtol=1e-15, rtol=1e-12) \
            if j > 0 else _E_GRID[0]
    return lo, hi


def _branches(alpha, rho, noise):
    lo, hi = se_fixed_points(alpha, rho, noise)
    return lo, hi, bayes_free_entropy(alpha, rho, noise, lo), bayes_free_entropy(alpha, rho, noise, hi)


def cs_thresholds(rho: float, noise: float, *, gap: float = 1e-3, xtol: float = 1e-5) -> dict:
    """``alpha_sp`` (the informative branch appears), ``alpha_it`` (it wins in free entropy) and
    ``alpha_alg`` (state evolution from a random start reaches it), by bisection in ``alpha``
    after a scan; NaN if there is no first-order transition (the two branches never differ by
    more than ``gap`` in relative MSE)."""
    from scipy.optimize import bisect

    def separation(a):
        lo, hi = se_fixed_points(a, rho, noise)
        return (lo - hi) / np.maximum(lo, 1e-300) - gap

    def it_margin(a):
        lo, hi, plo, phi = _branches(a, rho, noise)
        return float(phi[0] - plo[0])

    xs = np.linspace(0.5 * rho, min(1.0, 6 * rho), 200)
    sep = separation(xs) > 0
    nan = {"alpha_sp": np.nan, "alpha_it": np.nan, "alpha_alg": np.nan}
    if not sep.any():
        return nan
    first, last = np.flatnonzero(sep)[[0, -1]]
    if first == 0 or last == xs.size - 1:
        return nan
    f = lambda a: float(separation(a)[0])  # noqa: E731
    alpha_sp = bisect(f, xs[first - 1], xs[first], xtol=xtol)
    alpha_alg = bisect(f, xs[last], xs[last + 1], xtol=xtol)
    lo_a, hi_a = alpha_sp + 2 * xtol, alpha_alg - 2 * xtol
    if it_margin(lo_a) > 0:
        alpha_it = alpha_sp
    elif it_margin(hi_a) < 0:
        alpha_it = alpha_alg
    else:
        alpha_it = bisect(it_margin, lo_a, hi_a, xtol=xtol)
    return {"alpha_sp": alpha_sp, "alpha_it": alpha_it, "alpha_alg": alpha_alg}


#: MSE reported for a threshold off the calibration branch: finite, so that the bounded search
#: does no arithmetic on infinities, and far above any lasso MSE (at most ~1 since E x^2 = 1)
_OFF_BRANCH = 1e3


def optimal_lasso(alpha: float, rho: float, noise: float, *, bounds=(0.2, 6.0)):
    """The lasso fixed point of smallest MSE over the threshold ``kappa`` (in units of the
    effective noise ``tau``; a grid, then a bounded search around its best point), and its
    penalty ``lam1``. Thresholds off the calibration branch (``P >= alpha``) are skipped."""
    from scipy.optimize import minimize_scalar

    from hdcore.errors import ConvergenceError

    prior = GaussBernoulli(rho)

    def mse(k):
        try:
            return lasso_fixed_point(alpha, prior, kappa=float(k), noise=noise).estimation_error
        except (ValueError, ConvergenceError):
            return _OFF_BRANCH

    ks = np.linspace(float(bounds[0]), float(bounds[1]), 24)
    vals = np.array([mse(k) for k in ks])
    if not (vals < _OFF_BRANCH).any():
        raise ValueError(f"no valid lasso threshold at alpha = {alpha}")
    i = int(np.argmin(vals))
    lo, hi = ks[max(i - 1, 0)], ks[min(i + 1, ks.size - 1)]
    res = minimize_scalar(mse, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    fp = lasso_fixed_point(alpha, prior, kappa=float(res.x), noise=noise)
    return fp.lam1, fp


def lasso_fista(x, y, lam1: float, *, lam2: float = 0.0, tol: float = 1e-10,
                max_iter: int = 20000) -> tuple[np.ndarray, int]:
    """``argmin (1/2)||y - X w||^2 + lam1 ||w||_1 + (lam2/2)||w||^2`` by FISTA (Beck &
    Teboulle 2009) with the exact Lipschitz constant; stops when ``||w - w_prev||^2/d < tol``.
    Returns ``(w, iterations)``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lip = float(np.linalg.norm(x, 2) ** 2) + lam2
    d = x.shape[1]
    w = np.zeros(d)
    z = w.copy()
    t = 1.0
    for it in range(1, max_iter + 1):
        grad = x.T @ (x @ z - y) + lam2 * z
        u = z - grad / lip
        w_new = np.sign(u) * np.maximum(np.abs(u) - lam1 / lip, 0.0)
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        z = w_new + ((t - 1) / t_new) * (w_new - w)
        diff = float(np.sum((w_new - w) ** 2)) / d
        w, t = w_new, t_new
        if diff < tol:
            return w, it
    return w, max_iter


@register
class CompressedSensingStudy(Study):
    """Noisy compressed sensing with a Gauss-Bernoulli signal: Bayes GAMP vs SE, the first-order
    transition and spinodal, and the oracle-tuned lasso."""

    name = "compressed-sensing"
    title = "Compressed sensing, Gauss-Bernoulli signal, noise 1e-4"

    def n_seeds(self, quick=False):
        return 2 if quick else 4

    def theory_grid(self, rho, quick):
        return np.linspace(0.5 * rho, min(1.0, 0.3 + 3 * rho), 40 if quick else 160)

    def sim_values(self, rho, quick):
        return np.linspace(0.6 * rho, min(1.0, 0.3 + 3 * rho), 5 if quick else 12)

    def grid(self, quick=False):
        d = 500 if quick else 4000
        return [{"rho": rho, "alpha": float(a), "d": d}
                for rho in RHOS for a in self.sim_values(rho, quick)]

    def theory(self, quick=False, *, progress=False):
        rows = []
        for rho in track(RHOS, progress, desc=f"{self.name} theory", unit="rho"):
            a = self.theory_grid(rho, quick)
            lo, hi, plo, phi = _branches(a, rho, NOISE)
            bayes = np.where(phi > plo, hi, lo)
            for series, y in (("se_uninformative", lo), ("se_informative", hi),
                              ("bayes_optimal", bayes)):
                rows += [{"rho": rho, "x": float(x), "series": series, "y": float(v)}
                         for x, v in zip(a, y)]
            for x in a[:: 4 if quick else 4]:
                rows.append({"rho": rho, "x": float(x), "series": "lasso",
                             "y": optimal_lasso(float(x), rho, NOISE)[1].estimation_error})
            th = cs_thresholds(rho, NOISE, xtol=1e-4 if quick else 1e-6)
            for key, series in (("alpha_it", "threshold_it"), ("alpha_alg", "threshold_alg"),
                                ("alpha_sp", "threshold_spinodal")):
                rows.append({"rho": rho, "x": th[key], "series": series, "y": np.nan})
        return pd.DataFrame(rows)

    def simulate(self, seed, *, rho, alpha, d):
        model = MultiIndex(d=d, alpha=alpha, p=1, link="linear",
                           prior=GaussBernoulli(rho), noise=NOISE)
        sample = model.sample(seed)
        res = gamp(sample, n_iter=500, damping=0.3, tol=1e-12, seed=seed)
        w = sample.w[:, 0]
        lam, _ = optimal_lasso(alpha, rho, NOISE)
        fit = lasso(sample, lam)
        return {"gamp_mse": float(np.mean((res.estimate[:, 0] - w) ** 2)),
                "gamp_iterations": res.n_iter, "lasso_mse": fit.estimation_error,
                "lasso_lambda": lam, "lasso_sweeps": fit.n_sweeps, "lasso_kkt": fit.kkt}

    def table(self, theory, simulation):
        from hdcore.plotting import aggregate

        rows = [theory.assign(kind="theory", yerr=np.nan, n=np.nan)]
        for col, series in (("gamp_mse", "gamp"), ("lasso_mse", "lasso")):
            agg = aggregate(simulation, ["rho", "alpha"], col)
            rows.append(pd.DataFrame({"rho": agg["rho"], "x": agg["alpha"], "series": series,
                                      "y": agg["mean"], "yerr": agg["sem"], "n": agg["count"],
                                      "kind": "simulation"}))
        out = pd.concat(rows, ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "rho", "series", "x", "y", "yerr", "n"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import aggregate, plt, simulation_points, style, theory_line

        with style():
            fig, axes = plt.subplots(1, len(RHOS), figsize=(4.2 * len(RHOS), 3.6),
                                     sharey=True, constrained_layout=True)
            for ax, rho in zip(np.atleast_1d(axes), RHOS):
                th = theory[theory.rho == rho]

                def curve(series, th=th):
                    c = th[th.series == series]
                    return c["x"].to_numpy(), c["y"].to_numpy()

                theory_line(ax, *curve("se_uninformative"), "SE (random start)", color="C0")
                theory_line(ax, *curve("se_informative"), "SE (informed start)", color="C0",
                            ls="--", lw=1.0)
                theory_line(ax, *curve("lasso"), "lasso (replica, tuned)", color="C2")
                sim = simulation[simulation.rho == rho]
                simulation_points(ax, aggregate(sim, ["alpha"], "gamp_mse"), "alpha", "GAMP",
                                  color="C0")
                simulation_points(ax, aggregate(sim, ["alpha"], "lasso_mse"), "alpha", "lasso",
                                  color="C2", fmt="s", mfc="none")
                thr = {s: th[th.series == s]["x"].iloc[0]
                       for s in ("threshold_it", "threshold_alg", "threshold_spinodal")}
                ax.axvline(thr["threshold_it"], color="k", ls=":", lw=1, label="IT (first order)")
                ax.axvline(thr["threshold_alg"], color="gray", ls="-.", lw=1,
                           label="algorithmic spinodal")
                if np.isfinite(thr["threshold_it"]) and np.isfinite(thr["threshold_alg"]):
                    ax.axvspan(thr["threshold_it"], thr["threshold_alg"], color="0.88", lw=0,
                               label="hard phase")
                ax.set_yscale("log")
                ax.set_title(f"rho = {rho}: IT {thr['threshold_it']:.3f}, "
                             f"alg {thr['threshold_alg']:.3f}")
                ax.set_xlabel("alpha = n/d")
            np.atleast_1d(axes)[0].set_ylabel("MSE per entry")
            np.atleast_1d(axes)[0].legend(loc="lower left")
            dims = ", ".join(str(v) for v in sorted(simulation["d"].unique()))
            seeds = simulation["replicate"].nunique() if "replicate" in simulation else "?"
            fig.suptitle(f"{self.title} (d = {dims}, {seeds} seeds per point)")
        return fig
