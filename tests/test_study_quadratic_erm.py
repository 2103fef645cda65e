"""The quadratic-erm study: registered, its quick theory holds the documented series and the
thresholds, a small simulation lands on the theory and gives the documented table, the figure
builds without pyplot."""

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from hdcore import sweep
from hdcore.studies import get_study, list_studies
from hdcore.studies.quadratic_erm import GD_LAM, KAPPA, LAM_SMALL, NOISE
from hdcore.theory import quadratic_erm, quadratic_erm_thresholds
from hdcore.models import MatrixSensing, Wishart

COLUMNS = ["study", "kind", "panel", "lam", "series", "x", "y", "yerr", "n", "d"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md"


@pytest.fixture(scope="module")
def study():
    return get_study("quadratic-erm")


@pytest.fixture(scope="module")
def theory(study):
    return study.theory(quick=True)


@pytest.fixture(scope="module")
def runs(study):
    grid = [{"panel": "noisy", "noise": NOISE, "lam": GD_LAM, "alpha": 0.45, "d": 40,
             "fista": True, "gd": True},
            {"panel": "noiseless", "noise": 0.0, "lam": LAM_SMALL, "alpha": 0.6, "d": 40}]
    return sweep(study.simulate, grid, seeds=2, progress=False)


def test_registered():
    assert "quadratic-erm" in list_studies()


def test_quick_theory_series_and_thresholds(theory):
    assert set(theory.panel) == {"noiseless", "noisy"}
    for series in ("test_error", "train_error", "rank_fraction", "bayes_optimal"):
        assert (theory.series == series).any(), series
    th = quadratic_erm_thresholds(KAPPA)
    for key in ("bo", "sr", "inter"):
        x = theory[theory.series == f"threshold_{key}"]["x"].iloc[0]
        assert x == pytest.approx(getattr(th, f"alpha_{key}"))
    # ERM is never better than Bayes-optimal
    for panel in ("noiseless", "noisy"):
        bo = theory[(theory.panel == panel) & (theory.series == "bayes_optimal")]
        for lam in theory[(theory.panel == panel) & (theory.series == "test_error")].lam.unique():
            te = theory[(theory.panel == panel) & (theory.series == "test_error")
                        & (theory.lam == lam)]
            assert np.all(te.y.to_numpy() >= bo.y.to_numpy() - 1e-6), (panel, lam)


def test_simulation_lands_on_the_theory(runs):
    assert runs["error"].isna().all()
    noisy = runs[runs.panel == "noisy"]
    fp = quadratic_erm(MatrixSensing(40, 40, 0.45, Wishart(KAPPA), "quadratic", noise=NOISE),
                       GD_LAM)
    # GAMP and FISTA reach the same minimiser; d = 40 sits ~15% above the d -> inf error
    np.testing.assert_allclose(noisy.test_error, noisy.fista_test_error, rtol=1e-3)
    assert noisy.test_error.mean() == pytest.approx(fp.test_error, rel=0.3)
    assert noisy.train_error.mean() == pytest.approx(fp.train_error, rel=0.15)
    # GD at width d reaches the optimum, at width d/8 (below the rank ~ d/2) it does not
    np.testing.assert_allclose(noisy.gd_wide, noisy.test_error, rtol=0.02)
    assert (noisy.gd_narrow > 1.5 * noisy.test_error).all()
    # above alpha_SR the noiseless lam -> 0+ minimiser recovers S* (test error ~ 0)
    assert (runs[runs.panel == "noiseless"].test_error < 1e-2).all()


def test_table_and_figure(study, theory, runs):
    table = study.table(theory, runs)
    assert list(table.columns) == COLUMNS
    assert set(table.kind) == {"theory", "simulation"}
    sim = table[table.kind == "simulation"]
    assert {"test_error", "train_error", "rank_fraction", "fista_test_error", "gd_wide",
            "gd_narrow"} <= set(sim.series)
    assert (sim.n == 2).all()
    fig = study.figure(theory, runs)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert "`quadratic-erm`" in DOCS.read_text()
