"""Study ``robust-regression``: optimally tuned Huber vs Tukey (and square) loss in
epsilon-contaminated regression (Vilucchio, Dandi, Pirio Rossignol, Gerbelot & Krzakala,
arXiv:2502.20003; digest 06).

Model: ``eps = 0.1`` outliers with no signal (``beta = 0``), noise variances ``delta_in = 0.1``,
``delta_out = 1``. For each ``alpha`` on a log grid from 2 to 1000 the ridge ``lam`` (searched over
negative values too) and the loss parameter (Huber ``a``, Tukey ``tau``) are tuned on the
replica-symmetric fixed point (:func:`hdcore.theory.tune`) under the validity constraints
(single-valued prox, replicon < 1), for two objectives: the excess generalisation error and the
estimation error. ERM at ``d = 1000`` (quick: 200) at the tuned parameters gives the points with
error bars. Panels: the two tuned errors, the replicon along the curves, the optimal ``lam``
(negative where the curve dips below 0), the optimal loss parameter, and the prox variance ``V``
against the Tukey bound 5/4.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hdcore._progress import advance, progress_bar
from hdcore.algorithms import erm
from hdcore.ingredients import get_loss
from hdcore.models import ContaminatedRegression
from hdcore.studies.base import Study, register
from hdcore.theory import tune

__all__ = ["RobustRegressionStudy"]

#: (name, starting loss) of the compared estimators
LOSSES = (("square", "square"), ("huber", "huber(1.0)"), ("tukey", "tukey(2.0)"))
OBJECTIVES = ("excess_error", "estimation_error")
NOISE = dict(eps=0.1, delta_in=0.1, delta_out=1.0, beta=0.0)
COLORS = {"square": "C2", "huber": "C0", "tukey": "C3"}
STYLES = {"excess_error": "-", "estimation_error": "--"}


def _model(alpha: float, d: int = 100) -> ContaminatedRegression:
    return ContaminatedRegression(d=d, alpha=float(alpha), **NOISE)


#: Nelder-Mead tolerance of the tuning in (lam, log param): ample for the figure
XATOL = 1e-3


def tuned_sweep(alphas, loss: str, objective: str) -> list[dict]:
    """Tuned fixed points along ``alphas`` (each warm-started from the previous optimum)."""
    rows, init = [], None
    for a in alphas:
        r = tune(_model(a), loss, objective=objective, init=init, xatol=XATOL)
        if r.success:
            init = (r.lam,) if r.param is None else (r.lam, r.param)
        fp = r.fixed_point
        vmax = get_loss(loss).max_prox_variance
        rows.append({"alpha": float(a), "lam": r.lam, "param": np.nan if r.param is None else r.param,
                     "value": r.value, "excess_error": fp.excess_error,
                     "estimation_error": fp.estimation_error, "m": fp.m, "q": fp.q, "V": fp.V,
                     "V_over_vmax": fp.V / vmax if np.isfinite(vmax) else 0.0,
                     "replicon": fp.replicon, "valid": fp.valid})
    return rows


@register
class RobustRegressionStudy(Study):
    """Tuned Huber vs Tukey vs square loss under contamination: theory, ERM, replicon."""

    name = "robust-regression"
    title = ("Contaminated regression (eps = 0.1, delta_in = 0.1, delta_out = 1, beta = 0): "
             "optimally tuned losses")

    def __init__(self):
        self._tuned: dict[tuple[str, str, float], tuple[float, float | None]] = {}
        self._sweeps: dict[tuple[str, str], list[dict]] = {}

    def alphas(self, quick: bool) -> np.ndarray:
        return np.geomspace(2, 1000, 20 if quick else 200)

    def sim_alphas(self, quick: bool) -> list[float]:
        return [2.0, 8.0, 32.0] if quick else [2.0, 4.0, 8.0, 16.0, 32.0]

    def dim(self, quick: bool) -> int:
        return 200 if quick else 1000

    def theory(self, quick=False, *, progress=False):
        rows = []
        alphas = self.alphas(quick)
        with progress_bar(progress, total=len(OBJECTIVES) * len(LOSSES) * len(alphas),
                          desc=f"{self.name}: theory", unit="point") as bar:
            for objective in OBJECTIVES:
                for name, loss in LOSSES:
                    sweep = tuned_sweep(advance(alphas, bar), loss, objective)
                    self._sweeps[(objective, name)] = sweep
                    for r in sweep:
                        for series in ("value", "excess_error", "estimation_error", "lam",
                                       "param", "replicon", "V", "V_over_vmax", "m", "q"):
                            rows.append({"objective": objective, "loss": name, "series": series,
                                         "x": r["alpha"], "y": r[series]})
        return pd.DataFrame(rows)

    def tuned(self, objective: str, name: str, alpha: float) -> tuple[float, float | None]:
        """Tuned ``(lam, param)`` at ``alpha`` (cached)."""
        key = (objective, name, float(alpha))
        if key not in self._tuned:
            init = None
            sweep = [p for p in self._sweeps.get((objective, name), []) if p["valid"]]
            if sweep:  # warm start from the nearest alpha of the theory sweep
                near = min(sweep, key=lambda p: abs(np.log(p["alpha"] / alpha)))
                init = (near["lam"],) if np.isnan(near["param"]) else (near["lam"], near["param"])
            r = tune(_model(alpha), dict(LOSSES)[name], objective=objective, init=init, xatol=XATOL)
            self._tuned[key] = (r.lam, r.param)
        return self._tuned[key]

    def grid(self, quick=False):
        d = self.dim(quick)
        for a in self.sim_alphas(quick):  # tune once, before the replicates
            for objective in OBJECTIVES:
                for name, _ in LOSSES:
                    self.tuned(objective, name, a)
        return [{"alpha": a, "d": d} for a in self.sim_alphas(quick)]

    def simulate(self, seed, *, alpha, d):
        """One sample, ERM with every (objective, loss) tuned pair: flat dict
        ``{objective}/{loss}/{quantity}``."""
        sample = _model(alpha, d).sample(seed)
        out = {}
        for objective in OBJECTIVES:
            for name, spec in LOSSES:
                lam, param = self.tuned(objective, name, alpha)
                loss = get_loss(spec) if param is None else get_loss(spec).with_param(param)
                r = erm(sample, loss, lam, hessian_check=False, seed=seed)
                key = f"{objective}/{name}"
                out[f"{key}/excess_error"] = r.excess_error
                out[f"{key}/estimation_error"] = r.estimation_error
                out[f"{key}/m"] = r.m
                out[f"{key}/q"] = r.q
                out[f"{key}/converged"] = r.converged
        return out

    def _sim_long(self, simulation: pd.DataFrame) -> pd.DataFrame:
        """Aggregated simulations: one row per (objective, loss, quantity, alpha)."""
        rows = []
        for col in simulation.columns:
            parts = col.split("/")
            if len(parts) != 3 or parts[2] == "converged":
                continue
            g = simulation.groupby("alpha")[col]
            agg = g.agg(["mean", "std", "count"]).reset_index()
            for _, row in agg.iterrows():
                rows.append({"objective": parts[0], "loss": parts[1], "series": parts[2],
                             "x": row["alpha"], "y": row["mean"],
                             "yerr": (row["std"] if row["count"] > 1 else 0.0) / np.sqrt(row["count"]),
                             "n": row["count"]})
        return pd.DataFrame(rows)

    def table(self, theory, simulation):
        th = theory.assign(kind="theory", yerr=np.nan, n=np.nan)
        sim = self._sim_long(simulation).assign(kind="simulation")
        out = pd.concat([th, sim], ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "objective", "loss", "series", "x", "y", "yerr", "n"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import style, subplots, theory_line

        sim = self._sim_long(simulation)
        with style():
            fig, axes = subplots(2, 3, figsize=(14, 7.8), constrained_layout=True)
            (ax_exc, ax_est, ax_rep), (ax_lam, ax_par, ax_v) = axes

            def curve(objective, name, series):
                c = theory[(theory.objective == objective) & (theory.loss == name)
                           & (theory.series == series)]
                return c["x"].to_numpy(), c["y"].to_numpy()

            # the errors decay as 1/alpha: alpha * error separates the curves
            for ax, objective, label in ((ax_exc, "excess_error", "excess generalisation error"),
                                         (ax_est, "estimation_error", "estimation error")):
                for name, _ in LOSSES:
                    x, y = curve(objective, name, "value")
                    theory_line(ax, x, x * y, f"{name} (theory)", color=COLORS[name])
                    s = sim[(sim.objective == objective) & (sim.loss == name) & (sim.series == objective)]
                    if len(s):
                        ax.errorbar(s["x"], s["x"] * s["y"], yerr=s["x"] * s["yerr"], fmt="o", ms=4,
                                    capsize=2, color=COLORS[name], mfc="none", label=f"{name} (ERM)")
                ax.set_xscale("log")
                ax.set_xlabel("alpha = n/d")
                ax.set_ylabel(f"alpha x {label}")
                ax.set_title(f"optimally tuned for the {label}")
                ax.legend(loc="upper right", ncol=2)

            for objective in OBJECTIVES:
                for name, _ in LOSSES:
                    ls = STYLES[objective]
                    theory_line(ax_rep, *curve(objective, name, "replicon"), None, color=COLORS[name], ls=ls)
                    theory_line(ax_lam, *curve(objective, name, "lam"), None, color=COLORS[name], ls=ls)
                    if name != "square":
                        theory_line(ax_par, *curve(objective, name, "param"), None, color=COLORS[name], ls=ls)
                    theory_line(ax_v, *curve(objective, name, "V"), None, color=COLORS[name], ls=ls)
            for name, _ in LOSSES:
                ax_rep.plot([], [], color=COLORS[name], label=name)
            for objective in OBJECTIVES:
                ax_rep.plot([], [], color="k", ls=STYLES[objective], label=f"tuned for {objective}")
            ax_rep.axhline(1.0, color="k", lw=0.8, ls=":")
            ax_rep.set_title("replicon alpha E1 E2 (RS valid below 1)")
            ax_rep.set_yscale("log")
            ax_rep.legend(loc="lower left")
            ax_lam.axhline(0.0, color="k", lw=0.8)
            ax_lam.set_yscale("symlog", linthresh=0.1)
            lo = min(ax_lam.get_ylim()[0], -1.0)
            ax_lam.axhspan(lo, 0.0, color="0.92", lw=0, zorder=0, label="lam < 0 (negative ridge)")
            ax_lam.set_ylim(bottom=lo)
            ax_lam.legend(loc="upper left")
            ax_lam.set_title("optimal lam (solid: excess, dashed: estimation)")
            ax_par.set_title("optimal loss parameter (Huber a, Tukey tau)")
            ax_par.set_yscale("log")
            ax_v.axhline(1.25, color=COLORS["tukey"], lw=0.8, ls=":", label="Tukey bound V < 5/4")
            ax_v.set_title("prox variance V at the optimum")
            ax_v.set_yscale("log")
            ax_v.legend(loc="lower left")
            for ax in (ax_rep, ax_lam, ax_par, ax_v):
                ax.set_xscale("log")
                ax.set_xlabel("alpha = n/d")
            fig.suptitle(self.title)
        return fig
