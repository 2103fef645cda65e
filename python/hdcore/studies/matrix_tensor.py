"""Study ``matrix-tensor``: multi-modal learning in the spiked matrix + tensor model
(arXiv:2506.02664; :class:`~hdcore.models.SpikedMatrixTensor`, Gaussian priors,
``alpha2 = alpha3 = alpha4 = 1``)::

    Y_m = u v^T / sqrt(N1) + sqrt(delta_m) Z,     Y_t = u (x) x (x) y / N1 + sqrt(delta_t) Z'

The shared factor ``u`` couples the modalities: the matrix alone is learned below the BBP line
``delta_m < sqrt(alpha2)``; the tensor alone is never learned from a random start (``m = 0`` is
stable); with the matrix learned, AMP and the spectral curriculum also learn the tensor factors
below ``delta_t^c = sqrt(alpha3 alpha4) m_u(delta_m)``. The three panels:

(a) phase diagram in ``(delta_m, delta_t)``: the region reached by Bayes-AMP from a random start
    (the uninformative branch of state evolution: nothing / matrix only / both), computed on a
    grid, with the threshold lines of :func:`~hdcore.theory.matrix_tensor_thresholds` (BBP line,
    tensor threshold given the matrix, joint-ERM line) and the hysteresis band where the informed
    branch still recovers the tensor (its edge, the spinodal, and the line where it becomes
    Bayes-optimal by free entropy, found by bisection);
(b) the staircase at fixed ``delta_t``: the squared cosines of ``u, v, x, y`` vs ``delta_m``, SE
    from the uninformative and the informed start, the curriculum prediction, with Bayes-AMP
    (random start), the curriculum (spectral step, then AMP refinement) and joint GD on the
    spheres;
(c) joint GD (ERM) against AMP and the curriculum: ``u`` and ``x`` of joint GD with the
    spherical ML-AMP state evolution from a random start (whose fixed points are the stationary
    points of the joint likelihood), against Bayes-AMP / curriculum ``x``.

All theory here is derived in :mod:`hdcore.theory.matrix_tensor` (not read from the paper).
Simulation points are means over seeds with standard errors; at the sizes a dense tensor allows
(n1 <= 300) finite-size effects are large near the BBP line (the matrix overlap is inflated,
which moves the tensor jump to larger ``delta_m``) and AMP's ``x, y`` sit ~0.03 above SE in the
joint phase at n1 = 300 (docs/matrix_tensor.md). In the matrix-only region AMP's ``x, y``
estimates shrink to zero norm: their squared cosine (series ``amp``) is that of the direction of
the linearised iteration, while their overlap (series ``amp_overlap``) is 0.

CSV columns: ``study, kind (theory | simulation), panel (phase | staircase), factor (u, v, x, y;
empty for phase rows and thresholds), series, x, y, region, yerr, n, n1``.
``panel = phase``: ``x`` = delta_m, ``y`` = delta_t; series ``region_uninformative``,
``region_informed``, ``region_bayes`` (grid points, ``region`` = ``nothing`` | ``matrix_only`` |
``both`` reached by that SE branch; ``bayes``: the branch of larger free entropy),
``tensor_line`` (delta_t^c(delta_m)), ``erm_line`` (the joint-ERM line), ``spinodal_line``
(largest delta_t at which the informed branch recovers the tensor), ``it_line`` (where the
informed branch becomes Bayes-optimal), ``threshold_bbp`` (``x`` = sqrt(alpha2), ``y`` empty).
``panel = staircase`` (delta_t = :data:`DELTA_T`): ``x`` = delta_m, ``y`` = squared cosine of
``factor``; theory series ``se_uninformative``, ``se_informed``, ``bayes_optimal``,
``curriculum_theory`` (spectral step), ``erm_se`` (spherical ML-AMP SE from a random start);
simulation series ``amp``, ``amp_overlap`` (``|<w_hat, w*>|/N_k``, the SE overlap ``m``),
``curriculum_spectral``, ``curriculum`` (after AMP refinement), ``joint_gd``; thresholds
``threshold_bbp``, ``threshold_tensor``, ``threshold_spinodal``, ``threshold_it``,
``threshold_erm`` (``x`` = their delta_m, ``y`` empty).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hdcore._progress import progress_bar
from hdcore.algorithms.matrix_tensor import curriculum, joint_gd, matrix_tensor_amp
from hdcore.models.matrix_tensor import FACTORS, SpikedMatrixTensor
from hdcore.studies.base import Study, register
from hdcore.theory.matrix_tensor import (
    curriculum_prediction,
    matrix_tensor_state_evolution,
    matrix_tensor_thresholds,
)

__all__ = ["MatrixTensorStudy", "DELTA_T", "se_branches", "region_of"]

#: delta_t of the staircase panel: the matrix-only window is sqrt(alpha2) (1 - delta_t) wide and
#: the tensor transition is discontinuous (hysteresis) there
DELTA_T = 0.3
#: squared cosine below which a factor counts as not recovered (the SE floor is 1e-6; SE
#: converges slowly next to a continuous transition, so a smaller level marks cells there that
#: are still on their way to 0)
EPS = 1e-2
REGIONS = ("nothing", "matrix_only", "both")
#: |w_hat|^2/N below which an AMP estimate counts as collapsed to zero (figure note)
COLLAPSED = 1e-8
#: phase-diagram window
DM_RANGE = (0.02, 1.3)
DT_RANGE = (0.02, 1.1)


def _model(delta_m: float, delta_t: float, n1: int = 10) -> SpikedMatrixTensor:
    return SpikedMatrixTensor(n1, delta_m, delta_t)


def se_branches(delta_m: float, delta_t: float, *, n_iter: int = 3000, tol: float = 1e-10):
    """Bayes-AMP state evolution from the uninformative and the informed start:
    ``(uninformative, informed)`` :class:`~hdcore.theory.MatrixTensorSE` results."""
    m = _model(delta_m, delta_t)
    return tuple(matrix_tensor_state_evolution(m, init=init, n_iter=n_iter, tol=tol)
                 for init in ("uninformative", "informed"))


def region_of(cos2: dict) -> str:
    """``nothing`` / ``matrix_only`` / ``both`` from the squared cosines of a fixed point."""
    if cos2["x"] >= EPS and cos2["y"] >= EPS:
        return "both"
    return "matrix_only" if cos2["u"] >= EPS else "nothing"


def _informed_recovers(delta_m: float, delta_t: float) -> bool:
    se = matrix_tensor_state_evolution(_model(delta_m, delta_t), init="informed", n_iter=3000,
                                       tol=1e-11)
    return se.fixed_point["x"] >= EPS


def _phi_gap(delta_m: float, delta_t: float) -> float:
    """Free entropy of the informed minus the uninformative branch."""
    lo, hi = se_branches(delta_m, delta_t)
    return float(hi.free_entropy - lo.free_entropy)


def _bisect(f, a: float, b: float, steps: int) -> float:
    """Boundary of a predicate ``f`` true at ``a`` and false at ``b`` (``steps`` halvings)."""
    for _ in range(steps):
        c = 0.5 * (a + b)
        if f(c):
            a = c
        else:
            b = c
    return 0.5 * (a + b)


def _tensor_dt(delta_m: float) -> float:
    return matrix_tensor_thresholds(_model(delta_m, DELTA_T)).tensor_delta_t


@register
class MatrixTensorStudy(Study):
    """Spiked matrix + tensor: phase diagram, the staircase of the four overlaps, Bayes-AMP vs
    the spectral curriculum vs joint GD (ERM)."""

    name = "matrix-tensor"
    title = "Spiked matrix + tensor (alpha2 = alpha3 = alpha4 = 1, Gaussian priors)"

    def n_seeds(self, quick=False):
        return 3 if quick else 4

    def sim_values(self, quick):
        if quick:
            return np.array([0.3, 0.55, 0.8, 1.05])
        return np.array([0.3, 0.45, 0.6, 0.7, 0.8, 0.95, 1.1])

    def grid(self, quick=False):
        n1, n_iter, gd_steps = (100, 600, 400) if quick else (300, 1000, 600)
        return [{"delta_m": float(dm), "delta_t": DELTA_T, "n1": n1, "n_iter": n_iter,
                 "gd_steps": gd_steps} for dm in self.sim_values(quick)]

    # ---------------------------------------------------------------- theory
    def theory(self, quick=False, *, progress=False):
        dms_grid = np.linspace(*DM_RANGE, 24 if quick else 66)
        dts_grid = np.linspace(*DT_RANGE, 20 if quick else 55)
        dms_line = np.linspace(DM_RANGE[0], DM_RANGE[1], 14 if quick else 40)
        dts_line = np.linspace(DT_RANGE[0], DT_RANGE[1], 60 if quick else 200)
        dms_stair = np.linspace(0.1, 1.25, 47 if quick else 231)
        steps = 9 if quick else 14
        total = dms_grid.size * dts_grid.size + dms_line.size + dms_stair.size + 1
        rows: list[dict] = []
        with progress_bar(progress, total=total, desc=f"{self.name}: theory",
                          unit="point") as bar:
            self._phase_grid(rows, dms_grid, dts_grid, bar)
            self._phase_lines(rows, dms_line, dts_line, steps, bar)
            self._staircase(rows, dms_stair, steps, bar)
        return pd.DataFrame(rows)

    @staticmethod
    def _phase_grid(rows, dms, dts, bar):
        for dm in dms:
            for dt in dts:
                lo, hi = se_branches(float(dm), float(dt), n_iter=2000, tol=1e-9)
                r_lo, r_hi = region_of(lo.fixed_point), region_of(hi.fixed_point)
                bayes = r_hi if hi.free_entropy > lo.free_entropy + 1e-12 else r_lo
                for series, r in (("region_uninformative", r_lo), ("region_informed", r_hi),
                                  ("region_bayes", bayes)):
                    rows.append({"panel": "phase", "series": series, "x": float(dm),
                                 "y": float(dt), "region": r})
                bar.update(1)

    @staticmethod
    def _phase_lines(rows, dms, dts, steps, bar):
        th0 = matrix_tensor_thresholds(_model(1.0, DELTA_T))
        rows.append({"panel": "phase", "series": "threshold_bbp", "x": th0.matrix_delta_m,
                     "y": np.nan})
        for dt in dts:  # the joint-ERM line depends on delta_t only
            e = matrix_tensor_thresholds(_model(DM_RANGE[1], float(dt))).erm_delta_m
            rows.append({"panel": "phase", "series": "erm_line", "x": e, "y": float(dt)})
        top = DT_RANGE[1] * 1.5
        for dm in dms:
            dm = float(dm)
            dtc = matrix_tensor_thresholds(_model(dm, DELTA_T)).tensor_delta_t
            rows.append({"panel": "phase", "series": "tensor_line", "x": dm, "y": dtc})
            # the informed branch recovers the tensor for delta_t < spinodal (>= dtc)
            lo = max(dtc, 1e-3)
            if _informed_recovers(dm, lo) and not _informed_recovers(dm, top):
                sp = _bisect(lambda t, dm=dm: _informed_recovers(dm, t), lo, top, steps)
                rows.append({"panel": "phase", "series": "spinodal_line", "x": dm, "y": sp})
                a, b = lo * (1 + 1e-6) + 1e-6, sp * (1 - 1e-3)
                if a < b and _phi_gap(dm, a) > 0 > _phi_gap(dm, b):
                    it = _bisect(lambda t, dm=dm: _phi_gap(dm, t) > 0, a, b, steps)
                    rows.append({"panel": "phase", "series": "it_line", "x": dm, "y": it})
                elif a < b and _phi_gap(dm, b) > 0:  # informed wins on the whole band
                    rows.append({"panel": "phase", "series": "it_line", "x": dm, "y": sp})
            bar.update(1)

    @staticmethod
    def _staircase(rows, dms, steps, bar):
        def add(series, factor, x, y):
            rows.append({"panel": "staircase", "factor": factor, "series": series,
                         "x": float(x), "y": float(y)})

        for dm in dms:
            m = _model(float(dm), DELTA_T)
            lo, hi = se_branches(float(dm), DELTA_T)
            best = hi if hi.free_entropy > lo.free_entropy + 1e-12 else lo
            ml = matrix_tensor_state_evolution(m, algorithm="ml", n_iter=3000, tol=1e-11)
            cur = curriculum_prediction(m)
            for k in FACTORS:
                add("se_uninformative", k, dm, lo.fixed_point[k])
                add("se_informed", k, dm, hi.fixed_point[k])
                add("bayes_optimal", k, dm, best.fixed_point[k])
                add("curriculum_theory", k, dm, cur[k])
                add("erm_se", k, dm, ml.fixed_point[k])
            bar.update(1)
        th = matrix_tensor_thresholds(_model(1.0, DELTA_T))
        bbp = th.matrix_delta_m
        # the tensor threshold along the cut: delta_t^c(delta_m) = DELTA_T
        from scipy.optimize import brentq

        tensor = (brentq(lambda d: _tensor_dt(d) - DELTA_T, 1e-6, bbp * (1 - 1e-9), xtol=1e-8)
                  if _tensor_dt(1e-6) > DELTA_T else np.nan)
        # spinodal: largest delta_m at which the informed branch still has the tensor
        far = 2.0 * bbp
        if _informed_recovers(far, DELTA_T):
            spin = np.inf
        else:
            start = 0.9 * (tensor if np.isfinite(tensor) else bbp)
            spin = _bisect(lambda d: _informed_recovers(d, DELTA_T), start, far, steps + 6)
        it = np.nan
        if np.isfinite(tensor):
            a = tensor * (1 + 1e-4)
            b = min(spin, far) * (1 - 1e-4)
            if _phi_gap(a, DELTA_T) > 0 > _phi_gap(b, DELTA_T):
                it = _bisect(lambda d: _phi_gap(d, DELTA_T) > 0, a, b, steps + 6)
            elif _phi_gap(b, DELTA_T) > 0:
                it = b
        for series, x in (("threshold_bbp", bbp), ("threshold_tensor", tensor),
                          ("threshold_spinodal", spin), ("threshold_it", it),
                          ("threshold_erm", th.erm_delta_m)):
            rows.append({"panel": "staircase", "series": series, "x": float(x), "y": np.nan})
        bar.update(1)

    # ------------------------------------------------------------ simulation
    def simulate(self, seed, *, delta_m, delta_t=DELTA_T, n1=100, n_iter=1000, gd_steps=600):
        sample = SpikedMatrixTensor(int(n1), float(delta_m), float(delta_t)).sample(seed)
        truth = sample.factors
        out: dict = {}
        a = matrix_tensor_amp(sample, n_iter=int(n_iter), seed=seed)
        for k in FACTORS:
            out[f"amp_{k}"] = a.final_cosine2[k]
            # |.|: the model is invariant under sign flips of pairs of factors
            out[f"amp_overlap_{k}"] = abs(float(a.estimates[k] @ truth[k])) / truth[k].size
            out[f"amp_q_{k}"] = float(a.q[k][-1])
        out["amp_iterations"], out["amp_converged"] = a.n_iter, bool(a.converged)
        c = curriculum(sample, refine=True, n_iter=200, seed=seed)
        for k in FACTORS:
            out[f"curriculum_spectral_{k}"] = c.spectral[k]
            out[f"curriculum_{k}"] = c.final_cosine2[k]
        g = joint_gd(sample, constraint="sphere", n_steps=int(gd_steps), seed=seed)
        for k in FACTORS:
            out[f"joint_gd_{k}"] = g.final_cosine2[k]
        out["joint_gd_converged"] = bool(g.converged)
        return out

    # ----------------------------------------------------------------- table
    SIM_SERIES = ("amp", "amp_overlap", "curriculum_spectral", "curriculum", "joint_gd")

    def _aggregated(self, simulation: pd.DataFrame) -> pd.DataFrame:
        from hdcore.plotting import aggregate

        parts = []
        ok = simulation[simulation["error"].isna()] if "error" in simulation else simulation
        if ok.empty:
            return pd.DataFrame(columns=["panel", "factor", "series", "x", "y", "yerr", "n",
                                         "n1"])
        for series in self.SIM_SERIES:
            for k in FACTORS:
                agg = aggregate(ok, ["n1", "delta_m"], f"{series}_{k}")
                parts.append(pd.DataFrame({"panel": "staircase", "factor": k, "series": series,
                                           "x": agg["delta_m"], "y": agg["mean"],
                                           "yerr": agg["sem"], "n": agg["count"],
                                           "n1": agg["n1"]}))
        return pd.concat(parts, ignore_index=True)

    def table(self, theory, simulation):
        sim = self._aggregated(simulation).assign(kind="simulation")
        th = theory.assign(kind="theory", yerr=np.nan, n=np.nan, n1=np.nan)
        out = pd.concat([th, sim], ignore_index=True)
        for col in ("factor", "region"):
            if col not in out:
                out[col] = np.nan
        out.insert(0, "study", self.name)
        return out[["study", "kind", "panel", "factor", "series", "x", "y", "region", "yerr",
                    "n", "n1"]]

    # ---------------------------------------------------------------- figure
    def figure(self, theory, simulation):
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        from hdcore.plotting import simulation_points, style, theory_line

        sim = self._aggregated(simulation)
        ph = theory[theory.panel == "phase"]
        st = theory[theory.panel == "staircase"]

        def thr(df, series):
            c = df[df.series == series]["x"]
            return float(c.iloc[0]) if len(c) else np.nan

        def line(df, series, factor=None):
            c = df[df.series == series]
            if factor is not None:
                c = c[c.factor == factor]
            c = c.sort_values("x")
            return c["x"].to_numpy(), c["y"].to_numpy()

        # simulation series side by side at each delta_m (a small horizontal dodge)
        dodge = {"amp": -0.018, "curriculum_spectral": -0.006, "curriculum": 0.006,
                 "joint_gd": 0.018}

        def points(series, factor):
            c = sim[(sim.series == series) & (sim.factor == factor)]
            c = c.assign(x=c["x"] + dodge.get(series, 0.0))
            return c.rename(columns={"y": "mean", "yerr": "sem"})

        colors = {"nothing": "0.93", "matrix_only": "#c6dbef", "both": "#c7e9c0"}
        amp_kw = dict(color="C0", fmt="o", ms=5, zorder=5)
        cur_kw = dict(color="C2", fmt="s", ms=5, zorder=4)
        spec_kw = dict(color="C2", fmt="^", ms=5, mfc="none", zorder=4)
        gd_kw = dict(color="C3", fmt="D", ms=4.5, mfc="none", zorder=4)
        with style():
            fig = Figure(figsize=(15, 8.6), layout="constrained")
            gs = fig.add_gridspec(2, 4)
            top = gs[0, :].subgridspec(1, 3, width_ratios=[1.3, 0.62, 1.45])
            ax_a = fig.add_subplot(top[0])
            ax_leg = fig.add_subplot(top[1])
            ax_leg.axis("off")
            ax_c = fig.add_subplot(top[2])
            stairs = [fig.add_subplot(gs[1, 0])]
            stairs += [fig.add_subplot(gs[1, i], sharey=stairs[0]) for i in range(1, 4)]

            # (a) phase diagram
            grid = ph[ph.series == "region_uninformative"]
            inf = ph[ph.series == "region_informed"]
            if len(grid):
                xs, ys = np.unique(grid["x"]), np.unique(grid["y"])
                code = {r: i for i, r in enumerate(REGIONS)}
                z = grid.pivot(index="y", columns="x", values="region").loc[ys, xs]
                zi = inf.pivot(index="y", columns="x", values="region").loc[ys, xs]
                zc = z.map(code.get).to_numpy(dtype=float)
                ax_a.pcolormesh(xs, ys, zc, shading="nearest", vmin=-0.5, vmax=2.5,
                                cmap=ListedColormap([colors[r] for r in REGIONS]))
                hyst = (zi.to_numpy() != z.to_numpy()).astype(float)
                if hyst.any():
                    ax_a.contourf(xs, ys, hyst, levels=[0.5, 1.5], colors="none",
                                  hatches=["///"])
            bbp = thr(ph, "threshold_bbp")
            ax_a.axvline(bbp, color="k", ls=":", lw=1.2)
            x, y = line(ph, "tensor_line")
            theory_line(ax_a, x, y, None, color="C0", lw=2)
            x, y = line(ph, "spinodal_line")
            theory_line(ax_a, x, y, None, color="C1", ls="--", lw=2)
            x, y = line(ph, "it_line")
            theory_line(ax_a, x, y, None, color="C1", ls=":", lw=2)
            c = ph[ph.series == "erm_line"].sort_values("y")
            theory_line(ax_a, c["x"], c["y"], None, color="C3", ls="-.")
            ax_a.axhline(DELTA_T, color="0.35", lw=0.8)
            ax_a.text(DM_RANGE[1] * 0.99, DELTA_T, "cut (b), (c)", ha="right", va="bottom",
                      fontsize=8, color="0.35")
            handles = [Patch(facecolor=colors[r], edgecolor="0.6", label=lab) for r, lab in
                       zip(REGIONS, ("AMP learns nothing", "AMP learns the matrix only",
                                     "AMP learns both"))]
            handles.append(Patch(facecolor="white", edgecolor="0.4", hatch="///",
                                 label="hysteresis: informed start also learns the tensor"))
            from matplotlib.lines import Line2D

            handles += [
                Line2D([], [], color="k", ls=":", label=f"BBP line delta_m = {bbp:.2f}"),
                Line2D([], [], color="C0", lw=2,
                       label="tensor threshold given the matrix, sqrt(a3 a4) m_u"),
                Line2D([], [], color="C1", ls="--", lw=2,
                       label="spinodal: informed start learns the tensor below"),
                Line2D([], [], color="C1", ls=":", lw=2,
                       label="informed branch Bayes-optimal (free entropy) below"),
                Line2D([], [], color="C3", ls="-.",
                       label="joint ERM leaves zero overlap left of this line"),
            ]
            ax_leg.legend(handles=handles, loc="center left", fontsize=7.5, borderaxespad=0)
            ax_a.set_xlim(*DM_RANGE)
            ax_a.set_ylim(*DT_RANGE)
            ax_a.set_xlabel("delta_m (matrix noise)")
            ax_a.set_ylabel("delta_t (tensor noise)")
            ax_a.set_title("(a) phase diagram (state evolution)")

            # (b) staircase
            tens, spin = thr(st, "threshold_tensor"), thr(st, "threshold_spinodal")
            for ax, k in zip(stairs, FACTORS):
                theory_line(ax, *line(st, "se_uninformative", k), "SE, random start",
                            color="C0")
                theory_line(ax, *line(st, "se_informed", k), "SE, informed start",
                            color="C0", ls="--", lw=1.0)
                theory_line(ax, *line(st, "curriculum_theory", k),
                            "curriculum spectral step (theory)", color="C2", ls=":", lw=1.3)
                simulation_points(ax, points("amp", k), "x", "Bayes AMP, random start",
                                  **amp_kw)
                simulation_points(ax, points("curriculum_spectral", k), "x",
                                  "curriculum, spectral step", **spec_kw)
                simulation_points(ax, points("curriculum", k), "x",
                                  "curriculum + AMP refinement", **cur_kw)
                simulation_points(ax, points("joint_gd", k), "x", "joint GD (sphere)",
                                  **gd_kw)
                ax.axvline(bbp, color="k", ls=":", lw=1)
                if np.isfinite(tens):
                    ax.axvspan(tens, min(spin, 1.25), color="0.9", lw=0, zorder=0,
                               label="hysteresis (SE branches differ)")
                ax.set_xlabel("delta_m")
                ax.set_title(f"(b) factor {k}")
                ax.set_ylim(-0.03, 1.0)
            stairs[0].set_ylabel(f"squared cosine with the truth (delta_t = {DELTA_T})")
            for ax in stairs[1:]:
                ax.tick_params(labelleft=False)
            h, lab = stairs[0].get_legend_handles_labels()
            fig.legend(h, lab, loc="outside lower center", ncol=4, fontsize=8)

            # (c) joint GD vs AMP / curriculum
            erm = thr(st, "threshold_erm")
            theory_line(ax_c, *line(st, "erm_se", "u"), "ML-AMP SE (joint ERM): u",
                        color="C3", ls="--", lw=1.2)
            theory_line(ax_c, *line(st, "erm_se", "x"), "ML-AMP SE (joint ERM): x",
                        color="C3")
            theory_line(ax_c, *line(st, "se_uninformative", "x"), "Bayes SE random start: x",
                        color="C0")
            simulation_points(ax_c, points("joint_gd", "u"), "x", "joint GD: u",
                              color="C3", fmt="D", ms=4.5, mfc="none")
            simulation_points(ax_c, points("joint_gd", "x"), "x", "joint GD: x",
                              color="C3", fmt="D", ms=4.5)
            simulation_points(ax_c, points("amp", "x"), "x", "Bayes AMP: x", **amp_kw)
            simulation_points(ax_c, points("curriculum", "x"), "x", "curriculum + AMP: x",
                              **cur_kw)
            ax_c.axvline(erm, color="C3", ls="-.", lw=1, label=f"ERM threshold {erm:.3f}")
            if np.isfinite(tens):
                ax_c.axvline(tens, color="C0", ls=":", lw=1,
                             label=f"AMP tensor threshold {tens:.3f}")
            ax_c.axvline(bbp, color="k", ls=":", lw=1, label=f"BBP {bbp:.2f}")
            ax_c.set_xlabel("delta_m")
            ax_c.set_ylabel("squared cosine with the truth")
            ax_c.set_ylim(-0.03, 1.0)
            ax_c.set_title(f"(c) joint ERM (GD on the spheres) vs AMP and curriculum, "
                           f"delta_t = {DELTA_T}")
            ax_c.legend(loc="upper right", fontsize=7, ncol=2)

            n1s = ", ".join(str(int(v)) for v in sorted(simulation["n1"].unique())) \
                if "n1" in simulation and len(simulation) else "?"
            seeds = simulation["replicate"].nunique() if "replicate" in simulation else "?"
            note = ""
            if "amp_q_u" in simulation and len(simulation):
                below = simulation[simulation["delta_m"] < bbp]
                dead = int((below["amp_q_u"] < COLLAPSED).sum())
                note = (f"\nBayes AMP from a random start: {dead} of {len(below)} runs below the "
                        f"BBP line ended with the matrix estimate collapsed to zero norm "
                        f"(|u_hat|^2/N1 < {COLLAPSED:g}); their points are the cosine of its "
                        f"direction")
            fig.suptitle(f"{self.title}: points = mean +- s.e. over {seeds} seeds at "
                         f"n1 = {n1s} (finite-size effects are large near the BBP line){note}")
        return fig
