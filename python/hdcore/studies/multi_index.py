"""Studies ``multi-index-spectral`` and ``glm``.

``multi-index-spectral`` reproduces the headline pictures of Defilippis, Dandi, Mergny, Krzakala
& Loureiro 2025 (arXiv:2502.02545): (1) the complex spectrum of the asymmetric operator ``L``
for ``y = z1 z2`` at ``alpha = 1`` (``n = 5000``) with the predicted bulk circle of radius
``sqrt(alpha/alpha_c)`` and the outliers at ``alpha/alpha_c`` (Conj. 2.5, Fig. 1); (2) the
overlap of the asymmetric and symmetric spectral estimators and of Bayes GAMP versus ``alpha``,
simulation (error bars over seeds) on theory, with the optimal threshold ``alpha_c`` marked, for
``z1 z2`` and for phase retrieval ``y = z^2`` (Figs. 2-4).

``glm`` compares Bayes GAMP with its state evolution for the sign, ReLU and absolute-value links
with Gaussian and Rademacher priors (Barbier, Krzakala, Macris, Miolane & Zdeborova 2019), with
the uninformative and informative branches and the Bayes-optimal overlap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hdcore._progress import advance, progress_bar, track
from hdcore.algorithms import asymmetric_spectral, asymmetric_spectrum, gamp, symmetric_spectral
from hdcore.models import MultiIndex
from hdcore.studies.base import Study, register
from hdcore.theory import gamp_fixed_points, gamp_state_evolution, spectral_prediction

__all__ = ["GLMStudy", "MultiIndexSpectralStudy"]

#: (link, p) of the overlap panels
SPECTRAL_LINKS = (("z1*z2", 2), ("square", 1))


def _se_curve(link, p, alphas, se_options, prior="gaussian"):
    """Uninformative GAMP state evolution along a sweep, warm-started from the previous point."""
    out, q = [], None
    for a in alphas:
        m = MultiIndex(d=10, alpha=float(a), p=p, link=link, prior=prior)
        init = "uninformative" if q is None or np.trace(q) < 1e-3 else q
        se = gamp_state_evolution(m, init=init, tol=1e-7, se_options=se_options)
        q = se.fixed_point
        out.append(se.final_overlap)
    return np.array(out)


@register
class MultiIndexSpectralStudy(Study):
    """Optimal spectral transitions in multi-index models: spectrum of ``L`` and overlaps."""

    name = "multi-index-spectral"
    title = "Optimal spectral methods for multi-index models (Defilippis et al. 2025)"
    spectrum_alpha = 1.0

    def __init__(self):
        self._spectrum: tuple[np.ndarray, float] | None = None

    def dim(self, quick):
        return 400 if quick else 2000

    def sim_alphas(self, link, quick):
        if link == "z1*z2":
            return np.array([0.4, 0.9, 1.6]) if quick else np.array([0.3, 0.5, 0.7, 0.9, 1.2, 1.6, 2.0])
        return np.array([0.3, 0.8, 1.5]) if quick else np.array([0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.6])

    def theory(self, quick=False, *, progress=False):
        rows = []
        sweeps = []
        for link, p in SPECTRAL_LINKS:
            lo, hi = (0.2, 2.1) if link == "z1*z2" else (0.2, 1.7)
            alphas = np.linspace(lo, hi, 8 if quick else 40)
            # Bayes GAMP state evolution (p = 2: Sobol points, every other alpha)
            se_alphas = alphas[::2] if (quick or p > 1) else alphas
            sweeps.append((link, p, alphas, se_alphas))
        total = sum(len(a) + len(s) for *_, a, s in sweeps)
        with progress_bar(progress, total=total, desc=f"{self.name}: theory", unit="point") as bar:
            for link, p, alphas, se_alphas in sweeps:
                for a in advance(alphas, bar):
                    pred = spectral_prediction(MultiIndex(d=10, alpha=float(a), p=p, link=link))
                    for series, y in (("asymmetric", pred.overlap_asymmetric),
                                      ("symmetric", pred.overlap_symmetric),
                                      ("outlier_L", pred.outlier), ("bulk_L", pred.bulk_radius),
                                      ("top_T", pred.t_top)):
                        rows.append({"link": link, "x": float(a), "series": series, "y": float(y)})
                se_opts = ({"log2n": 12 if quick else 14} if p > 1 else None)
                se = _se_curve(link, p, advance(se_alphas, bar), se_opts)
                for a, y in zip(se_alphas, se):
                    rows.append({"link": link, "x": float(a), "series": "gamp_se", "y": float(y)})
                rows.append({"link": link, "x": pred.alpha_c, "series": "alpha_c", "y": np.nan})
        return pd.DataFrame(rows)

    def grid(self, quick=False):
        return [{"link": link, "p": p, "alpha": float(a), "d": self.dim(quick)}
                for link, p in SPECTRAL_LINKS for a in self.sim_alphas(link, quick)]

    def simulate(self, seed, *, link, p, alpha, d):
        sample = MultiIndex(d=d, alpha=alpha, p=p, link=link).sample(seed)
        asym = asymmetric_spectral(sample, k=2 * p, seed=seed)
        sym = symmetric_spectral(sample, k=p, seed=seed)
        g = gamp(sample, seed=seed)
        return {"asymmetric": asym.overlap, "symmetric": sym.overlap, "gamp": g.final_overlap,
                "top_L": float(asym.eigenvalues[0].real), "top_T": float(sym.eigenvalues[0])}

    def run_simulations(self, *, quick=False, seed=0, **options):
        sim = super().run_simulations(quick=quick, seed=seed, **options)
        n = 800 if quick else 5000
        model = MultiIndex(d=n, alpha=self.spectrum_alpha, p=2, link="z1*z2")
        eig = asymmetric_spectrum(model.sample(seed))
        self._spectrum = (eig, spectral_prediction(model).alpha_c)
        return sim

    def _spectrum_rows(self):
        if self._spectrum is None:
            return pd.DataFrame()
        eig, _ = self._spectrum
        return pd.DataFrame({"study": self.name, "kind": "simulation", "link": "z1*z2",
                             "series": "spectrum_L", "x": eig.real, "y": eig.imag,
                             "yerr": np.nan, "n": 1})

    def table(self, theory, simulation):
        from hdcore.plotting import aggregate

        rows = [theory.assign(kind="theory", yerr=np.nan, n=np.nan)]
        for col in ("asymmetric", "symmetric", "gamp", "top_L", "top_T"):
            agg = aggregate(simulation, ["link", "alpha"], col)
            rows.append(pd.DataFrame({"link": agg["link"], "x": agg["alpha"], "series": col,
                                      "y": agg["mean"], "yerr": agg["sem"], "n": agg["count"],
                                      "kind": "simulation"}))
        out = pd.concat(rows, ignore_index=True)
        out.insert(0, "study", self.name)
        out = pd.concat([out, self._spectrum_rows()], ignore_index=True)
        return out[["study", "kind", "link", "series", "x", "y", "yerr", "n"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import aggregate, simulation_points, style, subplots, theory_line

        with style():
            fig, axes = subplots(1, 3, figsize=(13.5, 4.0), constrained_layout=True)
            ax = axes[0]
            if self._spectrum is not None:
                eig, alpha_c = self._spectrum
                a = self.spectrum_alpha
                ax.scatter(eig.real, eig.imag, s=1.5, color="C0", alpha=0.5, lw=0,
                           label=f"eigenvalues of L (n p = {eig.size})")
                t = np.linspace(0, 2 * np.pi, 400)
                r = np.sqrt(a / alpha_c)
                ax.plot(r * np.cos(t), r * np.sin(t), color="C3", lw=1.2,
                        label=rf"$\sqrt{{\alpha/\alpha_c}}$ = {r:.3f}")
                ax.plot([a / alpha_c], [0.0], "x", color="C3", ms=9, mew=2,
                        label=rf"$\alpha/\alpha_c$ = {a / alpha_c:.3f}")
                ax.set_aspect("equal")
                ax.set_title(rf"spectrum of L, $y = z_1 z_2$, $\alpha$ = {a}")
                ax.set_xlabel("Re")
                ax.set_ylabel("Im")
                ax.legend(loc="lower left")
            for ax, (link, _) in zip(axes[1:], SPECTRAL_LINKS):
                th = theory[theory.link == link]

                def curve(series, th=th):
                    c = th[th.series == series].sort_values("x")
                    return c["x"].to_numpy(), c["y"].to_numpy()

                theory_line(ax, *curve("asymmetric"), "asymmetric (theory)", color="C0")
                theory_line(ax, *curve("symmetric"), "symmetric (theory)", color="C1")
                theory_line(ax, *curve("gamp_se"), "Bayes GAMP (SE)", color="C2")
                sim = simulation[simulation.link == link]
                for col, color, fmt in (("asymmetric", "C0", "o"), ("symmetric", "C1", "s"),
                                        ("gamp", "C2", "^")):
                    simulation_points(ax, aggregate(sim, ["alpha"], col), "alpha", None,
                                      color=color, fmt=fmt, mfc="none")
                ac = th[th.series == "alpha_c"]["x"].iloc[0]
                ax.axvline(ac, color="k", ls=":", lw=1, label=rf"$\alpha_c$ = {ac:.4f}")
                ax.set_title("$y = z_1 z_2$" if link == "z1*z2" else "phase retrieval $y = z^2$")
                ax.set_xlabel(r"$\alpha = n/d$")
                ax.set_ylabel("overlap $m$")
                ax.set_ylim(-0.02, 1.02)
                ax.legend(loc="lower right")
            dims = sorted(set(simulation["d"])) if "d" in simulation else []
            fig.suptitle(self.title + (f", simulations at d = {dims[-1]}" if dims else ""))
        return fig


#: (link, prior) panels of the glm study
GLM_CASES = (("sign", "gaussian"), ("sign", "rademacher"), ("relu", "gaussian"),
             ("relu", "rademacher"), ("abs", "gaussian"), ("abs", "rademacher"))


@register
class GLMStudy(Study):
    """Bayes GAMP versus state evolution for single-index models (p = 1)."""

    name = "glm"
    title = "Bayes GAMP vs state evolution for GLMs (sign, ReLU, abs; Gaussian, Rademacher)"

    def dim(self, quick):
        return 500 if quick else 2000

    def sim_alphas(self, quick):
        return np.array([0.5, 1.5, 2.5]) if quick else np.linspace(0.25, 3.0, 12)

    def theory(self, quick=False, *, progress=False):
        rows = []
        points = [(link, prior, float(a)) for link, prior in GLM_CASES
                  for a in np.linspace(0.1, 3.0, 10 if quick else 59)]
        for link, prior, a in track(points, progress, desc=f"{self.name}: theory"):
            fp = gamp_fixed_points(MultiIndex(d=10, alpha=a, p=1, link=link, prior=prior), tol=1e-8)
            for series, y in (("se_uninformative", fp.overlap_uninformative),
                              ("se_informative", fp.overlap_informative),
                              ("bayes_optimal", fp.overlap_bayes_optimal)):
                rows.append({"link": link, "prior": prior, "x": a, "series": series,
                             "y": float(y) ** 2})
        return pd.DataFrame(rows)

    def grid(self, quick=False):
        return [{"link": link, "prior": prior, "alpha": float(a), "d": self.dim(quick)}
                for link, prior in GLM_CASES for a in self.sim_alphas(quick)]

    def simulate(self, seed, *, link, prior, alpha, d):
        sample = MultiIndex(d=d, alpha=alpha, p=1, link=link, prior=prior).sample(seed)
        r = gamp(sample, seed=seed)
        return {"gamp_q": r.final_overlap**2, "gamp_iterations": r.n_iter}

    def table(self, theory, simulation):
        from hdcore.plotting import aggregate

        agg = aggregate(simulation, ["link", "prior", "alpha"], "gamp_q")
        sim = pd.DataFrame({"link": agg["link"], "prior": agg["prior"], "x": agg["alpha"],
                            "series": "gamp", "y": agg["mean"], "yerr": agg["sem"],
                            "n": agg["count"], "kind": "simulation"})
        out = pd.concat([theory.assign(kind="theory", yerr=np.nan, n=np.nan), sim],
                        ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "link", "prior", "series", "x", "y", "yerr", "n"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import aggregate, simulation_points, style, subplots, theory_line

        with style():
            fig, axes = subplots(2, 3, figsize=(12.5, 7.0), sharex=True, sharey=True,
                                 constrained_layout=True)
            for ax, (link, prior) in zip(axes.T.ravel(), GLM_CASES):
                th = theory[(theory.link == link) & (theory.prior == prior)]

                def curve(series, th=th):
                    c = th[th.series == series].sort_values("x")
                    return c["x"].to_numpy(), c["y"].to_numpy()

                theory_line(ax, *curve("se_uninformative"), "SE (random start)", color="C0")
                theory_line(ax, *curve("se_informative"), "SE (informed start)", color="C0",
                            ls="--", lw=1.0)
                theory_line(ax, *curve("bayes_optimal"), "Bayes-optimal", color="k", ls=":",
                            lw=1.2)
                sim = simulation[(simulation.link == link) & (simulation.prior == prior)]
                simulation_points(ax, aggregate(sim, ["alpha"], "gamp_q"), "alpha", "GAMP",
                                  color="C0")
                ax.set_title(f"y = {link}(z), {prior} prior")
            for ax in axes[-1]:
                ax.set_xlabel(r"$\alpha = n/d$")
            for ax in axes[:, 0]:
                ax.set_ylabel(r"$q = m^2$")
            axes[0, 0].legend(loc="lower right")
            dims = sorted(set(simulation["d"])) if "d" in simulation else []
            fig.suptitle(self.title + (f", d = {dims[-1]}" if dims else ""))
        return fig
