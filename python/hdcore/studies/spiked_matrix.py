"""Studies ``spiked-wigner`` and ``spiked-wishart``: overlap of Bayes AMP and PCA with the spike
versus the signal strength, against state evolution, the BBP formula and the information-
theoretic threshold (Lesieur, Krzakala & Zdeborova, J. Stat. Mech. 2017; Baik, Ben Arous &
Peche 2005). The sparse-Rademacher panel shows the hard phase: between the information-
theoretic threshold and the algorithmic one, AMP from a random start stays at zero overlap
while the Bayes-optimal estimator does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hdcore._progress import advance, progress_bar
from hdcore.algorithms import amp, pca
from hdcore.models import SpikedWigner, SpikedWishart
from hdcore.studies.base import Study, register
from hdcore.theory import (
    algorithmic_threshold,
    bbp,
    fixed_points,
    information_theoretic_threshold,
)

__all__ = ["SpikedWignerStudy", "SpikedWishartStudy"]

PRIORS = ("rademacher", "gaussian", "sparse_rademacher(0.05)")


class _LowRankStudy(Study):
    strength: str = ""
    dimension: str = ""
    xlabel: str = ""

    def model(self, prior: str, value: float, dim: int):
        raise NotImplementedError

    def dim(self, quick: bool) -> int:
        raise NotImplementedError

    def theory_grid(self, quick: bool) -> np.ndarray:
        raise NotImplementedError

    def sim_values(self, quick: bool) -> np.ndarray:
        raise NotImplementedError

    def grid(self, quick=False):
        return [{"prior": p, self.strength: float(v), self.dimension: self.dim(quick)}
                for p in PRIORS for v in self.sim_values(quick)]

    def theory(self, quick=False, *, progress=False):
        rows = []
        values = self.theory_grid(quick)
        # one point per grid value and one for the two thresholds of each prior
        with progress_bar(progress, total=len(PRIORS) * (len(values) + 1),
                          desc=f"{self.name}: theory", unit="point") as bar:
            for p in PRIORS:
                for v in advance(values, bar):
                    m = self.model(p, float(v), 10)
                    fp = fixed_points(m)
                    b = bbp(m)
                    for series, y in (("se_uninformative", fp.uninformative),
                                      ("se_informative", fp.informative),
                                      ("bayes_optimal", fp.bayes_optimal),
                                      ("bbp_cosine2", b.cosine2),
                                      ("bbp_eigenvalue", b.top_eigenvalue)):
                        rows.append({"prior": p, "x": float(v), "series": series, "y": float(y)})
                m = self.model(p, 1.0, 10)
                rows.append({"prior": p, "x": information_theoretic_threshold(m),
                             "series": "threshold_it", "y": np.nan})
                rows.append({"prior": p, "x": algorithmic_threshold(m), "series": "threshold_alg",
                             "y": np.nan})
                bar.update(1)
        return pd.DataFrame(rows)

    def simulate(self, seed, *, prior, **params):
        model = self.model(prior, params[self.strength], params[self.dimension])
        sample = model.sample(seed)
        r = amp(sample, n_iter=300, tol=1e-10, seed=seed)
        p = pca(sample, seed=seed)
        return {"amp_cosine2": r.final_cosine2, "amp_overlap": r.final_overlap,
                "amp_iterations": r.n_iter, "pca_cosine2": p.cosine2,
                "pca_eigenvalue": float(p.eigenvalues[0])}

    def table(self, theory, simulation):
        from hdcore.plotting import aggregate

        rows = [theory.assign(kind="theory", yerr=np.nan, n=np.nan)]
        for col, series in (("amp_cosine2", "amp"), ("pca_cosine2", "pca"),
                            ("pca_eigenvalue", "pca_eigenvalue")):
            agg = aggregate(simulation, ["prior", self.strength], col)
            rows.append(pd.DataFrame({"prior": agg["prior"], "x": agg[self.strength],
                                      "series": series, "y": agg["mean"], "yerr": agg["sem"],
                                      "n": agg["count"], "kind": "simulation"}))
        out = pd.concat(rows, ignore_index=True)
        out.insert(0, "study", self.name)
        return out[["study", "kind", "prior", "series", "x", "y", "yerr", "n"]]

    def figure(self, theory, simulation):
        from hdcore.plotting import aggregate, simulation_points, style, subplots, theory_line

        with style():
            fig, axes = subplots(1, len(PRIORS), figsize=(4.2 * len(PRIORS), 3.6),
                                 sharey=True, constrained_layout=True)
            for ax, p in zip(np.atleast_1d(axes), PRIORS):
                th = theory[theory.prior == p]

                def curve(series, th=th):
                    c = th[th.series == series]
                    return c["x"].to_numpy(), c["y"].to_numpy()

                theory_line(ax, *curve("se_uninformative"), "SE (random start)", color="C0")
                theory_line(ax, *curve("se_informative"), "SE (informed start)", color="C0",
                            ls="--", lw=1.0)
                theory_line(ax, *curve("bbp_cosine2"), "BBP (PCA)", color="C1")
                sim = simulation[simulation.prior == p]
                simulation_points(ax, aggregate(sim, [self.strength], "amp_cosine2"),
                                  self.strength, "AMP", color="C0")
                simulation_points(ax, aggregate(sim, [self.strength], "pca_cosine2"),
                                  self.strength, "PCA", color="C1", fmt="s", mfc="none")
                it = th[th.series == "threshold_it"]["x"].iloc[0]
                alg = th[th.series == "threshold_alg"]["x"].iloc[0]
                ax.axvline(it, color="k", ls=":", lw=1, label="IT threshold")
                ax.axvline(alg, color="gray", ls="-.", lw=1, label="algorithmic threshold")
                if alg - it > 1e-3:
                    ax.axvspan(it, alg, color="0.85", lw=0, label="hard phase")
                ax.set_title(f"{p}\nIT {it:.3f}, algorithmic {alg:.3f}")
                ax.set_xlabel(self.xlabel)
            np.atleast_1d(axes)[0].set_ylabel("squared cosine with the spike")
            np.atleast_1d(axes)[0].legend(loc="upper left")
            dims = ", ".join(str(v) for v in sorted(simulation[self.dimension].unique()))
            seeds = simulation["replicate"].nunique() if "replicate" in simulation else "?"
            fig.suptitle(f"{self.title} ({self.dimension} = {dims}, {seeds} seeds per point)")
        return fig


@register
class SpikedWignerStudy(_LowRankStudy):
    """Spiked Wigner ``Y = (snr/n) x x^T + W/sqrt(n)``: AMP, PCA, SE, BBP, IT threshold."""

    name = "spiked-wigner"
    title = "Spiked Wigner: Bayes AMP vs PCA"
    strength = "snr"
    dimension = "n"
    xlabel = "snr"

    def dim(self, quick):
        return 600 if quick else 2000

    def model(self, prior, value, dim):
        return SpikedWigner(n=dim, snr=value, prior=prior)

    def theory_grid(self, quick):
        return np.linspace(0.3, 2.2, 39 if quick else 96)

    def sim_values(self, quick):
        return np.linspace(0.4, 2.2, 7 if quick else 19)


@register
class SpikedWishartStudy(_LowRankStudy):
    """Spiked covariance ``Cov = I + beta u u^T/d`` at ``alpha = 2``: AMP, PCA, SE, BBP."""

    name = "spiked-wishart"
    title = "Spiked covariance, alpha = n/d = 2: Bayes AMP vs PCA"
    strength = "beta"
    dimension = "d"
    xlabel = "beta"
    alpha = 2.0

    def dim(self, quick):
        return 300 if quick else 1000

    def model(self, prior, value, dim):
        return SpikedWishart(d=dim, alpha=self.alpha, beta=value, prior=prior)

    def theory_grid(self, quick):
        return np.linspace(0.2, 2.0, 37 if quick else 91)

    def sim_values(self, quick):
        return np.linspace(0.3, 2.0, 7 if quick else 18)
