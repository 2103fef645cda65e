"""Study ``quadratic-erm``: weight-decay ERM of an over-parametrised quadratic network, the
nuclear route (Erba, Troiani, Zdeborova & Krzakala 2025, arXiv:2505.17958).

Teacher :class:`~hdcore.models.MatrixSensing` with the ``Wishart(kappa* = 1/2)`` prior and
quadratic sensing (the quadratic network of width ``m* = d/2`` in sensing units), ``n = alpha d^2``.
The student's ERM is the convex problem ``min_{S PSD} 1/2 sum (y - Tr(X S)/sqrt d)^2 + lam d Tr S``
(:mod:`hdcore.theory.quadratic_network_erm`), solved by GAMP
(:func:`hdcore.algorithms.nuclear_norm_gamp` with the raw penalty ``lam d``; its fixed point is
the minimiser), by FISTA (:func:`hdcore.algorithms.nuclear_norm`, same samples) and, for one
penalty, by gradient descent on the factors at a width above (``m = d``) and below (``m = d/8``)
the rank of the optimum (``weight_decay = lam/(2 alpha)``). ``lam = 0.001`` stands for
``lam -> 0+`` (minimal-trace interpolation). Sizes: quick ``d = 40``; full ``d = 70`` and ``100``
(FISTA and GD at ``d = 70``).

Panels: (a) noiseless test error vs alpha for three penalties with the Bayes-optimal error and
the thresholds ``alpha_BO < alpha_SR < alpha_inter`` marked; (b) label noise ``Delta = 0.5``:
test and train error for two penalties, FISTA and GD points; (c) rank fraction of the minimiser.

CSV columns: ``study, kind (theory | simulation), panel (noiseless | noisy), lam, series, x
(alpha = n/d^2), y, yerr (standard error over seeds), n (seeds), d``. Series: ``test_error``
(``E_x (f* - f_hat)^2 = 2 ||S_hat - S*||_F^2/d``, sensing units), ``train_error`` (mean squared
residual), ``rank_fraction`` (``rank(S_hat)/d``) -- simulation rows from GAMP --,
``fista_test_error`` / ``fista_train_error`` (FISTA on the same samples), ``bayes_optimal`` (test
error of the posterior mean), ``gd_wide`` / ``gd_narrow`` (test error of GD), ``threshold_bo`` /
``threshold_sr`` / ``threshold_inter`` (``x`` = the threshold, ``y`` and ``lam`` empty).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hdcore._progress import track
from hdcore.algorithms.factorised_gd import factorised_gd, nuclear_norm
from hdcore.algorithms.nuclear_norm_gamp import nuclear_norm_gamp
from hdcore.errors import NumericalError
from hdcore.models.matrix_sensing import MatrixSensing, Wishart
from hdcore.studies.base import Study, register
from hdcore.theory import matrix_sensing as bayes
from hdcore.theory.quadratic_network_erm import quadratic_erm_curve, quadratic_erm_thresholds

__all__ = ["QuadraticERMStudy"]

KAPPA = 0.5
NOISE = 0.5
#: (panel, label noise, penalties)
#: ``LAM_SMALL`` stands for ``lam -> 0+``: its test error is that of minimal-trace interpolation to
#: 1e-3, while its rank fraction is the ``lam -> 0+`` limit of the ranks, which above alpha_SR
#: exceeds the rank kappa* of the minimal-trace interpolator S* itself (docs/quadratic_erm.md)
LAM_SMALL = 0.001
PANELS = (("noiseless", 0.0, (LAM_SMALL, 0.05, 0.2)), ("noisy", NOISE, (0.05, 0.2)))
#: penalty of the GD comparison (noisy panel) and the two widths (ratios m/d)
GD_LAM, GD_WIDTHS = 0.2, (("gd_wide", 1.0), ("gd_narrow", 0.125))


def _model(d, alpha, noise):
    return MatrixSensing(d, d, alpha, Wishart(KAPPA), "quadratic", noise=noise)


@register
class QuadraticERMStudy(Study):
    """Quadratic networks trained by weight-decay ERM: test / train error and rank of the
    minimiser (nuclear-norm theory) against FISTA and gradient descent."""

    name = "quadratic-erm"
    title = "Quadratic network (kappa* = 1/2) trained by ERM with weight decay"

    def n_seeds(self, quick=False):
        return 2 if quick else 4

    def theory_grid(self, quick=False):
        return np.linspace(0.04, 0.8, 32 if quick else 96)

    def sim_alphas(self, quick):
        return (0.15, 0.3, 0.45, 0.6) if quick else (0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.75)

    def grid(self, quick=False):
        """GAMP at every point (FISTA's continuation for ``lam -> 0+``); FISTA and GD for the
        noisy ``lam = GD_LAM`` curve at the smaller size (GD at three alphas)."""
        sizes = (40,) if quick else (70, 100)
        gd_alphas = (0.45,) if quick else (0.2, 0.45, 0.6)
        fista_alphas = (0.3, 0.6) if quick else self.sim_alphas(quick)
        out = []
        for d in sizes:
            for p, nz, lams in PANELS:
                for lam in lams:
                    for a in self.sim_alphas(quick):
                        extra = p == "noisy" and lam == GD_LAM and d == sizes[0]
                        out.append({"panel": p, "noise": nz, "lam": lam, "alpha": float(a),
                                    "d": d, "fista": bool(extra and a in fista_alphas),
                                    "gd": bool(extra and a in gd_alphas)})
        return out

    def theory(self, quick=False, *, progress=False):
        rows = []
        alphas = self.theory_grid(quick)
        jobs = [(p, nz, lam) for p, nz, lams in PANELS for lam in lams]
        for p, nz, lam in track(jobs, progress, desc=f"{self.name} theory", unit="curve"):
            c = quadratic_erm_curve(_model(100, 0.5, nz), alphas, lam)
            for series in ("test_error", "train_error", "rank_fraction"):
                rows += [{"panel": p, "lam": lam, "series": series, "x": float(a), "y": float(v)}
                         for a, v in zip(alphas, c[series])]
        for p, nz, _ in PANELS:
            for a in alphas:
                fp = bayes.fixed_point(_model(100, float(a), nz))
                rows.append({"panel": p, "lam": np.nan, "series": "bayes_optimal", "x": float(a),
                             "y": 2.0 * fp.mse})
        th = quadratic_erm_thresholds(KAPPA)
        for key in ("bo", "sr", "inter"):
            rows.append({"panel": "noiseless", "lam": np.nan, "series": f"threshold_{key}",
                         "x": float(getattr(th, f"alpha_{key}")), "y": np.nan})
        return pd.DataFrame(rows)

    def simulate(self, seed, *, panel, noise, lam, alpha, d, fista=False, gd=False):
        sample = _model(d, alpha, noise).sample(seed)
        out: dict[str, float] = {}
        if lam == 0.0:  # FISTA's continuation towards the minimal-trace interpolator
            fit = nuclear_norm(sample, lam=None, lam_min=1e-4, psd=True, n_iter=4000, tol=1e-8)
            # the continuation stops at lam_min = 1e-4 ||A^T y||: eigenvalues that the exact
            # lam -> 0+ minimiser has at 0 are left small but positive, so count relative to
            # the largest one at 1e-3
            ev = np.linalg.eigvalsh(fit.estimate)
            out.update(test_error=2.0 * fit.mse, train_error=fit.train_error,
                       rank_fraction=float(np.mean(ev > 1e-3 * max(float(ev.max()), 1e-300))),
                       fista_iterations=fit.n_iter)
            return out
        # damping 0.5 as for GAMP-RIE; some samples at small alpha settle in a 2-cycle there
        # (or, at lam -> 0+ in the interpolation regime, let V run away) and converge at 0.8
        for damping, n_iter in ((0.5, 1000), (0.8, 3000)):
            try:
                res = nuclear_norm_gamp(sample, lam=lam * d, damping=damping, n_iter=n_iter,
                                        tol=1e-10)
            except NumericalError:
                if damping == 0.8:
                    raise
                continue
            if res.converged:
                break
        out.update(test_error=2.0 * res.mse, train_error=res.train_error,
                   rank_fraction=res.rank_fraction, gamp_iterations=res.n_iter,
                   gamp_damping=damping, gamp_converged=float(res.converged))
        if fista:
            fit = nuclear_norm(sample, lam=lam * d, psd=True, n_iter=3000, tol=1e-8)
            out.update(fista_test_error=2.0 * fit.mse, fista_train_error=fit.train_error,
                       fista_iterations=fit.n_iter)
        if gd:
            for key, ratio in GD_WIDTHS:
                g = factorised_gd(sample, width=max(1, round(ratio * d)),
                                  weight_decay=lam / (2.0 * alpha), lr=0.3, n_steps=3000,
                                  tol=0.0, seed=seed)
                out[key] = 2.0 * g.mse
        return out

    def table(self, theory, simulation):
        from hdcore.plotting import aggregate

        rows = [theory.assign(kind="theory", yerr=np.nan, n=np.nan, d=np.nan)]
        cols = (["test_error", "train_error", "rank_fraction", "fista_test_error",
                 "fista_train_error"] + [k for k, _ in GD_WIDTHS])
        for col in cols:
            if col not in simulation:
                continue
            agg = aggregate(simulation.dropna(subset=[col]), ["panel", "lam", "alpha", "d"], col)
            rows.append(pd.DataFrame({"panel": agg["panel"], "lam": agg["lam"], "series": col,
                                      "x": agg["alpha"], "y": agg["mean"], "yerr": agg["sem"],
                                      "n": agg["count"], "d": agg["d"], "kind": "simulation"}))
        out = pd.concat(rows, ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "panel", "lam", "series", "x", "y", "yerr", "n", "d"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import aggregate, simulation_points, style, subplots, theory_line

        def curve(panel, series, lam=None):
            c = theory[(theory.panel == panel) & (theory.series == series)]
            if lam is not None:
                c = c[c.lam == lam]
            return c["x"].to_numpy(), c["y"].to_numpy()

        sizes = sorted(simulation["d"].unique()) if len(simulation) else []
        marks = dict(zip(sizes, ("o", "s", "^")))
        colors = {LAM_SMALL: "C0", 0.05: "C1", 0.2: "C2"}

        def points(ax, panel, lam, col, label, **kw):
            sim = simulation[(simulation.panel == panel) & (simulation.lam == lam)]
            if col not in sim or sim[col].isna().all():
                return
            fmt = kw.pop("fmt", None)
            for d in sizes:
                sub = sim[sim.d == d].dropna(subset=[col])
                if not len(sub):
                    continue
                agg = aggregate(sub, ["alpha"], col)
                simulation_points(ax, agg, "alpha", f"{label}, d = {d}" if label else None,
                                  fmt=fmt or marks[d], **kw)

        def lam_label(lam):
            return f"lam = {lam} (~ min-trace)" if lam == LAM_SMALL else f"lam = {lam}"

        with style():
            fig, axes = subplots(1, 3, figsize=(14.0, 4.2), constrained_layout=True)
            ax = axes[0]
            for lam in PANELS[0][2]:
                theory_line(ax, *curve("noiseless", "test_error", lam), lam_label(lam),
                            color=colors[lam])
                points(ax, "noiseless", lam, "test_error", "GAMP" if lam == 0.05 else None,
                       color=colors[lam])
            theory_line(ax, *curve("noiseless", "bayes_optimal"), "Bayes-optimal", color="k",
                        ls="--", lw=1.0)
            styles = {"bo": ("k", ":"), "sr": ("C3", "-."), "inter": ("C4", "--")}
            names = {"bo": "alpha_BO", "sr": "alpha_SR (exact recovery)",
                     "inter": "alpha_inter (interpolation)"}
            for key, (col, ls) in styles.items():
                x = theory[theory.series == f"threshold_{key}"]["x"]
                if len(x):
                    ax.axvline(float(x.iloc[0]), color=col, ls=ls, lw=1,
                               label=f"{names[key]} = {float(x.iloc[0]):.3f}")
            ax.set_title("(a) noiseless: test error")
            ax.set_ylabel("test error  E(f* - f_hat)^2")
            ax.legend(loc="upper right")

            ax = axes[1]
            for lam in PANELS[1][2]:
                c = colors[lam]
                theory_line(ax, *curve("noisy", "test_error", lam), f"test, {lam_label(lam)}",
                            color=c)
                theory_line(ax, *curve("noisy", "train_error", lam), f"train, {lam_label(lam)}",
                            color=c, ls=":")
                points(ax, "noisy", lam, "test_error", None, color=c)
                points(ax, "noisy", lam, "train_error", None, color=c, mfc="none")
            points(ax, "noisy", GD_LAM, "fista_test_error", f"FISTA (lam = {GD_LAM})",
                   color="k", fmt="+", ms=8)
            for (key, ratio), c in zip(GD_WIDTHS, ("C5", "C7")):
                points(ax, "noisy", GD_LAM, key, f"GD width {ratio:g} d (lam = {GD_LAM})",
                       color=c, fmt="x")
            theory_line(ax, *curve("noisy", "bayes_optimal"), "Bayes-optimal", color="k",
                        ls="--", lw=1.0)
            ax.set_title(f"(b) label noise Delta = {NOISE}: test (solid), train (dotted)")
            ax.set_ylabel("error")
            ax.legend(loc="upper right")

            ax = axes[2]
            for p, _, lams in PANELS:
                for lam in lams:
                    ls = "-" if p == "noiseless" else "--"
                    theory_line(ax, *curve(p, "rank_fraction", lam), f"{p}, {lam_label(lam)}",
                                color=colors[lam], ls=ls)
                    points(ax, p, lam, "rank_fraction", None, color=colors[lam],
                           mfc=None if p == "noiseless" else "none")
            ax.axhline(KAPPA, color="0.5", lw=0.8, ls=":", label="teacher rank kappa* = 1/2")
            ax.axhline(GD_WIDTHS[1][1], color="C7", lw=0.8, ls="-.",
                       label=f"narrow GD width {GD_WIDTHS[1][1]:g}")
            ax.set_title("(c) rank fraction of the minimiser")
            ax.set_ylabel("rank(S_hat) / d")
            ax.legend(loc="lower right")
            for ax in axes:
                ax.set_xlabel("alpha = n / d^2")
            seeds = simulation["replicate"].nunique() if "replicate" in simulation else "?"
            dims = ", ".join(str(int(d)) for d in sizes)
            fig.suptitle(f"{self.title}: theory (lines), GAMP = the convex minimiser (points, "
                         f"d = {dims}, {seeds} seeds)")
        return fig
