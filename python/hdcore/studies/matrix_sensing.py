"""Studies of paper 05 (Xu, Maillard, Zdeborova & Krzakala 2025, arXiv:2503.14121) and its two
applications, plus a gallery of the random-matrix laws they rest on.

* ``extensive-width-quadratic`` -- normalised error ``kappa x MSE`` of learning an extensive-width
  quadratic network vs ``alpha = n/d^2``: Bayes-optimal theory, GAMP-RIE, single and averaged
  gradient descent, the perfect-recovery threshold ``alpha_PR``; a noisy panel (pre-activation
  noise) (Maillard et al. 2024, arXiv:2408.03733, Figs. 1-2).
* ``bilinear-sequence-regression`` -- MMSE vs ``alpha = n/(L D)`` for several ``(beta, rho)``:
  theory, GAMP-RIE, the ridge baseline and ``alpha_PR`` (Erba et al. 2024, arXiv:2410.18858,
  Figs. 1-2).
* ``rmt-gallery`` -- sampled spectra over the predicted densities of every law of
  :mod:`hdcore.rmt` (semicircle, Marchenko-Pastur with and without atom, MP (+) semicircle, the
  rectangular product-plus-noise law, and a numerical free convolution of a user-given law).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from hdcore._progress import advance, progress_bar
from hdcore.algorithms import factorised_gd, gamp_rie
from hdcore.models import BilinearSequenceRegression, QuadraticNetwork
from hdcore.rmt import (
    CustomLaw,
    FreeConvolution,
    MarchenkoPastur,
    MPSemicircle,
    RectangularProductNoise,
    Semicircle,
)
from hdcore.studies.base import Study, register
from hdcore.theory import matrix_sensing as ms

__all__ = ["BilinearSequenceRegressionStudy", "ExtensiveWidthQuadraticStudy", "RMTGalleryStudy"]


def _sim_table(name, simulation, keys, columns):
    """Aggregate simulation columns into the tidy (series, x, y, yerr, n) layout."""
    from hdcore.plotting import aggregate

    rows = []
    for col, series in columns:
        if col not in simulation:
            continue
        sub = simulation.dropna(subset=[col])
        if sub.empty:
            continue
        agg = aggregate(sub, keys + ["alpha"], col)
        frame = agg[keys].copy()
        frame["series"] = series
        frame["x"] = agg["alpha"]
        frame["y"] = agg["mean"]
        frame["yerr"] = agg["sem"]
        frame["n"] = agg["count"]
        frame["kind"] = "simulation"
        rows.append(frame)
    return rows


def _legend(fig, axes):
    """One legend for all panels (each label once), below the panels."""
    seen = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if not lab.startswith("alpha_PR"):
                seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center", ncol=len(seen))


def _curve(model, grid, bar, key: str) -> list[float]:
    """``ms.fixed_point_curve(model, grid)[key]``, point by point, advancing ``bar``."""
    return [getattr(ms.fixed_point(replace(model, alpha=float(a))), key) for a in advance(grid, bar)]


# ---- extensive-width quadratic network -----------------------------------------------------

PANELS_QN = ((0.25, 0.0), (0.5, 0.0), (1.0, 0.0), (0.5, 0.25))


@register
class ExtensiveWidthQuadraticStudy(Study):
    """Bayes-optimal learning of an extensive-width quadratic network (MTM+24)."""

    name = "extensive-width-quadratic"
    title = "Extensive-width quadratic network: normalised error vs alpha = n/d^2"

    def n_seeds(self, quick=False):
        return 2 if quick else 4

    def theory(self, quick=False, *, progress=False):
        rows = []
        n = 16 if quick else 100
        with progress_bar(progress, total=len(PANELS_QN) * n, desc=f"{self.name}: theory",
                          unit="point") as bar:
            for kappa, sigma in PANELS_QN:
                model = QuadraticNetwork(d=1000, kappa=kappa, alpha=0.1, noise=sigma)
                a_pr = ms.perfect_recovery_threshold(model)
                hi = 0.6 if sigma == 0 else 1.0
                grid = np.linspace(0.005, hi, n)
                for a, e in zip(grid, _curve(model, grid, bar, "normalised_mse")):
                    rows.append({"kappa": kappa, "sigma": sigma, "series": "bayes_optimal", "x": a,
                                 "y": e})
                rows.append({"kappa": kappa, "sigma": sigma, "series": "alpha_pr", "x": a_pr,
                             "y": np.nan})
        return pd.DataFrame(rows).assign(kind="theory")

    def grid(self, quick=False):
        pts = []
        for kappa, sigma in PANELS_QN:
            if quick and (kappa, sigma) not in ((0.5, 0.0), (0.5, 0.25)):
                continue
            alphas = (0.1, 0.25, 0.45) if quick else (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
            for a in alphas:
                pts.append({"kappa": kappa, "sigma": sigma, "alpha": a, "method": "gamp",
                            "d": 40 if quick else 120})
                if sigma == 0 and (not quick or a == 0.25):
                    pts.append({"kappa": kappa, "sigma": sigma, "alpha": a, "method": "gd",
                                "d": 20 if quick else 40})
        return pts

    def simulate(self, seed, *, kappa, sigma, alpha, method, d):
        model = QuadraticNetwork(d=d, kappa=kappa, alpha=alpha, noise=sigma)
        smp = model.sample(seed)
        var = smp.sensing.prior_variance
        if method == "gamp":
            r = gamp_rie(smp, n_iter=120 if d <= 50 else 300, tol=1e-6)
            return {"gamp": r.final_mse / var, "iterations": r.n_iter}
        g = factorised_gd(smp, n_inits=4 if d <= 20 else 8, n_steps=1500, lr=0.5, seed=seed)
        return {"gd": g.single_mse / var, "gd_averaged": g.mse / var, "iterations": g.n_steps}

    def table(self, theory, simulation):
        rows = [theory.assign(yerr=np.nan, n=np.nan)]
        rows += _sim_table(self.name, simulation, ["kappa", "sigma"],
                           [("gamp", "gamp_rie"), ("gd", "gd"), ("gd_averaged", "gd_averaged")])
        out = pd.concat(rows, ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "kappa", "sigma", "series", "x", "y", "yerr", "n"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import aggregate, simulation_points, style, subplots, theory_line

        with style():
            fig, axes = subplots(1, len(PANELS_QN), figsize=(4.0 * len(PANELS_QN), 3.5),
                                 sharey=True, constrained_layout=True)
            for ax, (kappa, sigma) in zip(axes, PANELS_QN):
                th = theory[(theory.kappa == kappa) & (theory.sigma == sigma)]
                c = th[th.series == "bayes_optimal"]
                theory_line(ax, c["x"], c["y"], "Bayes-optimal (theory)", color="k")
                a_pr = th[th.series == "alpha_pr"]["x"].iloc[0]
                if sigma == 0:
                    ax.axvline(a_pr, color="gray", ls=":", lw=1, label=f"alpha_PR = {a_pr:.3f}")
                    ax.text(a_pr, 0.95, f" alpha_PR = {a_pr:.3f}", fontsize=8, va="top")
                sim = simulation[(simulation.kappa == kappa) & (simulation.sigma == sigma)]
                for col, label, color, fmt in (("gamp", "GAMP-RIE", "C0", "o"), ("gd", "GD", "C3", "s"),
                                               ("gd_averaged", "averaged GD", "C2", "^")):
                    if col in sim and sim[col].notna().any():
                        agg = aggregate(sim.dropna(subset=[col]), ["alpha"], col)
                        simulation_points(ax, agg, "alpha", label, color=color, fmt=fmt)
                noise = "noiseless" if sigma == 0 else f"sigma = {sigma}"
                ax.set_title(f"kappa = {kappa}, {noise}")
                ax.set_xlabel("alpha = n / d^2")
            axes[0].set_ylabel("normalised error  kappa x MSE")
            _legend(fig, axes)
            fig.suptitle(self.title)
        return fig


# ---- bilinear sequence regression -------------------------------------------------------------

PANELS_BSR = ((1.0, 0.5, 0.0), (2.0, 0.5, 0.0), (1.0, 1.0, 0.0), (2.0, 0.5, 0.1))


@register
class BilinearSequenceRegressionStudy(Study):
    """Bayes-optimal bilinear sequence regression (ETB+24)."""

    name = "bilinear-sequence-regression"
    title = "Bilinear sequence regression: MMSE vs alpha = n/(L D)"

    def n_seeds(self, quick=False):
        return 2 if quick else 3

    def theory(self, quick=False, *, progress=False):
        rows = []
        n = 16 if quick else 100
        with progress_bar(progress, total=len(PANELS_BSR) * n, desc=f"{self.name}: theory",
                          unit="point") as bar:
            for beta, rho, noise in PANELS_BSR:
                model = BilinearSequenceRegression(D=1000, beta=beta, rho=rho, alpha=0.1,
                                                   noise=noise)
                grid = np.linspace(0.005, 1.2, n)
                for a, e in zip(grid, _curve(model, grid, bar, "mse")):
                    rows.append({"beta": beta, "rho": rho, "noise": noise,
                                 "series": "bayes_optimal", "x": a, "y": e})
                    rows.append({"beta": beta, "rho": rho, "noise": noise, "series": "ridge",
                                 "x": a, "y": ms.ridge_mse(a, noise)})
                rows.append({"beta": beta, "rho": rho, "noise": noise, "series": "alpha_pr",
                             "x": ms.perfect_recovery_threshold(model), "y": np.nan})
        return pd.DataFrame(rows).assign(kind="theory")

    def grid(self, quick=False):
        pts = []
        for beta, rho, noise in PANELS_BSR:
            if quick and (beta, rho, noise) != (1.0, 0.5, 0.0):
                continue
            alphas = (0.2, 0.5, 0.8) if quick else (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
            for a in alphas:
                pts.append({"beta": beta, "rho": rho, "noise": noise, "alpha": a, "D": 25 if quick else 60})
        return pts

    def simulate(self, seed, *, beta, rho, noise, alpha, D):
        smp = BilinearSequenceRegression(D=D, beta=beta, rho=rho, alpha=alpha, noise=noise).sample(seed)
        r = gamp_rie(smp, n_iter=120 if D <= 30 else 300, tol=1e-6)
        return {"gamp": r.final_mse, "iterations": r.n_iter}

    def table(self, theory, simulation):
        rows = [theory.assign(yerr=np.nan, n=np.nan)]
        rows += _sim_table(self.name, simulation, ["beta", "rho", "noise"], [("gamp", "gamp_rie")])
        out = pd.concat(rows, ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "beta", "rho", "noise", "series", "x", "y", "yerr", "n"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import aggregate, simulation_points, style, subplots, theory_line

        with style():
            fig, axes = subplots(1, len(PANELS_BSR), figsize=(4.0 * len(PANELS_BSR), 3.5),
                                 sharey=True, constrained_layout=True)
            for ax, (beta, rho, noise) in zip(axes, PANELS_BSR):
                th = theory[(theory.beta == beta) & (theory.rho == rho) & (theory.noise == noise)]
                curves = (("bayes_optimal", "Bayes-optimal (theory)", {"color": "k"}),
                          ("ridge", "ridge (lambda = Delta)", {"color": "C1", "ls": "--"}))
                for series, label, style_kw in curves:
                    c = th[th.series == series]
                    theory_line(ax, c["x"], c["y"], label, **style_kw)
                a_pr = th[th.series == "alpha_pr"]["x"].iloc[0]
                if noise == 0:
                    ax.axvline(a_pr, color="gray", ls=":", lw=1, label=f"alpha_PR = {a_pr:.3f}")
                    ax.text(a_pr, 0.95, f" alpha_PR = {a_pr:.3f}", fontsize=8, va="top")
                sim = simulation[(simulation.beta == beta) & (simulation.rho == rho)
                                 & (simulation.noise == noise)]
                if not sim.empty:
                    simulation_points(ax, aggregate(sim, ["alpha"], "gamp"), "alpha", "GAMP-RIE", color="C0")
                ax.set_title(f"beta = {beta}, rho = {rho}, Delta = {noise}")
                ax.set_xlabel("alpha = n / (L D)")
            axes[0].set_ylabel("MSE per entry")
            _legend(fig, axes)
            fig.suptitle(self.title)
        return fig


# ---- gallery of spectral laws ---------------------------------------------------------------

def _gallery_laws():
    uniform = CustomLaw(lambda x: np.ones_like(x), (-1.0, 1.0), name="uniform[-1,1]")
    return {
        "semicircle(1)": Semicircle(1.0),
        "MP(kappa=0.5)": MarchenkoPastur(0.5),
        "MP(kappa=2)": MarchenkoPastur(2.0),
        "MP(0.5) + SC(0.1)": MPSemicircle(0.5, 0.1),
        "rect(2, 0.5, 0.3)": RectangularProductNoise(2.0, 0.5, 0.3),
        "uniform + SC(0.2)": FreeConvolution(uniform, Semicircle(0.2), n_scan=120),
    }


@register
class RMTGalleryStudy(Study):
    """Histograms of sampled spectra over the densities predicted by :mod:`hdcore.rmt`."""

    name = "rmt-gallery"
    title = "Spectral laws of hdcore.rmt: sampled spectra (histograms) vs theory (lines)"

    def n_seeds(self, quick=False):
        return 1 if quick else 3

    def theory(self, quick=False):
        rows = []
        for name, law in _gallery_laws().items():
            lo, hi = law.edges[0], law.edges[-1]
            pad = 0.05 * (hi - lo)
            x = np.linspace(lo - pad, hi + pad, 150 if quick else 400)
            for xi, yi in zip(x, law.density(x)):
                rows.append({"law": name, "series": "density", "x": xi, "y": yi})
            for loc, mass in law.atoms():
                rows.append({"law": name, "series": "atom", "x": loc, "y": mass})
        return pd.DataFrame(rows).assign(kind="theory")

    def grid(self, quick=False):
        return [{"law": name, "d": 300 if quick else 1500} for name in _gallery_laws()]

    def simulate(self, seed, *, law, d):
        lw = _gallery_laws()[law]
        s = lw.sample(d, seed)
        return {"ks": lw.ks_distance(s), "second_moment": float(np.mean(s**2)),
                "second_moment_theory": lw.second_moment}

    def table(self, theory, simulation):
        from hdcore.plotting import aggregate

        rows = [theory.assign(yerr=np.nan, n=np.nan)]
        for col in ("ks", "second_moment"):
            agg = aggregate(simulation, ["law", "d"], col)
            rows.append(pd.DataFrame({"law": agg["law"], "series": col, "x": agg["d"], "y": agg["mean"],
                                      "yerr": agg["sem"], "n": agg["count"], "kind": "simulation"}))
        out = pd.concat(rows, ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "law", "series", "x", "y", "yerr", "n"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import style, subplots

        laws = _gallery_laws()
        d = int(simulation["d"].max())
        with style():
            fig, axes = subplots(2, 3, figsize=(12, 6.5), constrained_layout=True)
            for ax, (name, law) in zip(axes.ravel(), laws.items()):
                s = law.sample(d, seed=0)
                atoms = law.atoms()
                keep = np.ones(s.size, dtype=bool)
                for loc, _ in atoms:  # the histogram shows the continuous part
                    keep &= np.abs(s - loc) > 1e-8 * (1 + np.ptp(s))
                # normalised by all d values: the bars integrate to the continuous mass
                counts, edges = np.histogram(s[keep], bins=60)
                ax.stairs(counts / (s.size * np.diff(edges)), edges, fill=True, alpha=0.45,
                          color="C0", label=f"sample, d = {d}")
                th = theory[(theory.law == name) & (theory.series == "density")]
                ax.plot(th["x"], th["y"], color="k", lw=1.4, label="theory")
                for loc, mass in atoms:
                    ax.annotate(f"atom {mass:.2f}", xy=(loc, 0), xytext=(loc, 0.8 * ax.get_ylim()[1]),
                                arrowprops={"arrowstyle": "->"}, ha="center", fontsize=8)
                ks = simulation[simulation.law == name]["ks"].mean()
                ax.set_title(f"{name}   KS = {ks:.3f}")
            axes[0, 0].legend()
            fig.suptitle(self.title)
        return fig
