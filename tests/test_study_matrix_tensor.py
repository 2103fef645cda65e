"""The matrix-tensor study: registered, its quick theory is consistent with the closed forms
of hdcore.theory.matrix_tensor, a tiny simulation gives the documented table, the figure builds
(without pyplot or a backend switch)."""

import io
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from hdcore import sweep
from hdcore.models import SpikedMatrixTensor
from hdcore.studies import get_study, list_studies
from hdcore.studies.matrix_tensor import DELTA_T
from hdcore.theory.matrix_tensor import matrix_tensor_thresholds, rectangular_bbp

COLUMNS = ["study", "kind", "panel", "factor", "series", "x", "y", "region", "yerr", "n", "n1"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md"


@pytest.fixture(scope="module")
def study():
    return get_study("matrix-tensor")


@pytest.fixture(scope="module")
def theory(study):
    return study.theory(quick=True)


@pytest.fixture(scope="module")
def runs(study):
    # two points (joint phase and matrix-only window), two seeds, tiny sizes: a few seconds
    grid = [{"delta_m": dm, "delta_t": DELTA_T, "n1": 30, "n_iter": 60, "gd_steps": 40}
            for dm in (0.4, 0.85)]
    return sweep(study.simulate, grid, seeds=2, progress=False)


def test_registered():
    assert "matrix-tensor" in list_studies()


def test_quick_theory_columns_and_regions(theory):
    assert {"panel", "factor", "series", "x", "y", "region"} <= set(theory.columns)
    assert set(theory["panel"]) == {"phase", "staircase"}
    ph = theory[theory.panel == "phase"]
    assert set(ph[ph.series == "region_uninformative"]["region"]) == {"nothing", "matrix_only",
                                                                       "both"}
    st = theory[theory.panel == "staircase"]
    for series in ("se_uninformative", "se_informed", "bayes_optimal", "curriculum_theory",
                   "erm_se"):
        assert set(st[st.series == series]["factor"]) == {"u", "v", "x", "y"}, series


def test_matrix_only_branch_is_rectangular_bbp(theory):
    st = theory[(theory.panel == "staircase") & (theory.series == "se_uninformative")]
    tensor = theory[theory.series == "threshold_tensor"]["x"].iloc[0]
    # a delta_m in the matrix-only window (between the tensor threshold and the BBP line)
    xs = np.unique(st["x"])
    dm = xs[np.argmin(np.abs(xs - 0.5 * (tensor + 1.0)))]
    assert tensor < dm < 1.0
    at = st[st.x == dm].set_index("factor")["y"]
    cu, cv = rectangular_bbp(1.0, dm)
    assert at["u"] == pytest.approx(cu, abs=1e-6)
    assert at["v"] == pytest.approx(cv, abs=1e-6)
    assert at["x"] < 1e-4 and at["y"] < 1e-4
    # above the BBP line nothing is learned from a random start
    far = st[st.x == xs[-1]].set_index("factor")["y"]
    assert far.max() < 1e-4


def test_staircase_thresholds_are_consistent(theory):
    thr = theory[theory.series.str.startswith("threshold_") & (theory.panel == "staircase")]
    t = thr.set_index("series")["x"]
    # the tensor threshold solves delta_t^c(delta_m) = DELTA_T
    dtc = matrix_tensor_thresholds(SpikedMatrixTensor(10, t["threshold_tensor"], DELTA_T))
    assert dtc.tensor_delta_t == pytest.approx(DELTA_T, abs=1e-6)
    assert t["threshold_tensor"] <= t["threshold_it"] <= t["threshold_spinodal"]
    assert t["threshold_spinodal"] < t["threshold_bbp"] == pytest.approx(1.0)
    assert t["threshold_erm"] < t["threshold_tensor"]
    # inside the hysteresis band the two SE branches differ on x
    st = theory[(theory.panel == "staircase") & (theory.factor == "x")]
    mid = 0.5 * (t["threshold_tensor"] + t["threshold_spinodal"])
    xs = np.unique(st["x"])
    dm = xs[np.argmin(np.abs(xs - mid))]
    lo = st[(st.series == "se_uninformative") & (st.x == dm)]["y"].iloc[0]
    hi = st[(st.series == "se_informed") & (st.x == dm)]["y"].iloc[0]
    assert lo < 1e-3 < 0.2 < hi


def test_tiny_simulation_gives_the_documented_table(study, theory, runs):
    assert runs["error"].isna().all()
    table = study.table(theory, runs)
    assert list(table.columns) == COLUMNS
    assert set(table["kind"]) == {"theory", "simulation"}
    sim = table[table.kind == "simulation"]
    assert set(sim["series"]) == {"amp", "amp_overlap", "curriculum_spectral", "curriculum",
                                  "joint_gd"}
    assert (sim["n"] == 2).all() and (sim["n1"] == 30).all()
    assert sim["y"].between(0, 1).all() and np.isfinite(sim["yerr"]).all()
    # every column and series is named in the data dictionary's matrix-tensor row
    row = next(line for line in DOCS.read_text().splitlines()
               if line.startswith("| `matrix-tensor`"))
    for word in ("panel", "factor", "region", "n1", *set(table["series"])):
        assert f"`{word}`" in row, word


def test_figure_builds_without_pyplot(study, theory, runs):
    backend = matplotlib.get_backend()
    fig = study.figure(theory, runs)
    assert isinstance(fig, Figure)
    assert len(fig.axes) >= 6
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.tell() > 10_000
    assert matplotlib.get_backend() == backend
