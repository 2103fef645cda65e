"""``progress=True`` on the long single calls and on the studies' theory step: the same numbers
as ``progress=False`` (bit for bit), a bar on stderr, and a TypeError naming ``progress`` for a
value that is not a bool."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from hdcore._progress import advance, check_progress, progress_bar, track
from hdcore.algorithms import (
    Factor,
    MatrixChannel,
    amp,
    classification_erm,
    curriculum,
    erm,
    erm_gamp,
    factorised_gd,
    gamp,
    gamp_rie,
    joint_gd,
    low_rank_amp,
    matrix_tensor_amp,
    nuclear_norm,
    nuclear_norm_gamp,
    online_sgd,
)
from hdcore.models import (
    BinaryClassification,
    ContaminatedRegression,
    MatrixSensing,
    MultiIndex,
    SequenceSingleIndex,
    SpikedMatrixTensor,
    SpikedWigner,
)
from hdcore.studies.base import Study
from hdcore.theory import matrix_sensing as ms
from hdcore.theory.fixed_point import continuation
from hdcore.theory.quadratic_network_erm import quadratic_erm_curve
from hdcore.theory.sgd import positional_semantic_phase_diagram, sgd_ode


def same(a, b) -> bool:
    """Bit-identical results: arrays (NaN equal to NaN), dicts, tuples, dataclasses."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# ---- the single calls -------------------------------------------------------------------------

_MI = MultiIndex(d=60, alpha=2.0, p=1, link="sign", prior="rademacher").sample(seed=1)
_MS = MatrixSensing(12, 12, 0.8, "wishart(0.5)", "gaussian").sample(seed=2)
_MT = SpikedMatrixTensor(20, 0.5, 0.2).sample(seed=3)
_REG = ContaminatedRegression(d=60, alpha=5, eps=0.1, delta_in=0.1, delta_out=1.0).sample(seed=4)
_SEQ = SequenceSingleIndex(d=50, L=2, target="sum")


def _low_rank(**kw):
    rng = np.random.default_rng(0)
    n = 40
    u, v = rng.standard_normal(n), rng.standard_normal(n)
    y = np.outer(u, v) / np.sqrt(n) + 0.5 * rng.standard_normal((n, n))
    return low_rank_amp([Factor("u", n), Factor("v", n)],
                        [MatrixChannel(y=y, rows="u", cols="v", scale=n**-0.5, delta=0.25)],
                        {"u": 1e-3 * rng.standard_normal(n), "v": np.zeros(n)},
                        truth={"u": u, "v": v}, n_iter=20, **kw)


CALLS = {
    "gamp": lambda **kw: gamp(_MI, n_iter=20, **kw),
    "gamp-open": lambda **kw: gamp(_MI, n_iter=20, open_path=True, **kw),
    "amp-matrix-tensor": lambda **kw: amp(_MT, n_iter=10, **kw),
    "matrix_tensor_amp": lambda **kw: matrix_tensor_amp(_MT, n_iter=10, **kw),
    "joint_gd": lambda **kw: joint_gd(_MT, n_steps=10, **kw),
    "curriculum": lambda **kw: curriculum(_MT, n_iter=5, **kw),
    "low_rank_amp": _low_rank,
    "gamp_rie": lambda **kw: gamp_rie(_MS, n_iter=10, **kw),
    "gamp_rie-open": lambda **kw: gamp_rie(_MS, n_iter=10, open_path=True, **kw),
    "factorised_gd": lambda **kw: factorised_gd(_MS, n_inits=2, n_steps=50, **kw),
    "nuclear_norm": lambda **kw: nuclear_norm(_MS, n_iter=20, **kw),
    "nuclear_norm_gamp": lambda **kw: nuclear_norm_gamp(_MS, lam=6.0, n_iter=20, **kw),
    "erm_gamp": lambda **kw: erm_gamp(_REG, "huber(1.0)", 0.1, n_iter=30, **kw),
    "erm": lambda **kw: erm(_REG, "tukey(2.0)", 0.1, max_iter=50, **kw),
    "erm-open": lambda **kw: erm(_REG, "huber(1.0)", 0.1, max_iter=50, open_path=True, **kw),
    "classification_erm": lambda **kw: classification_erm(
        BinaryClassification(d=40, alpha=2.0, teacher="sign").sample(seed=6), "logistic", 0.1,
        **kw),
    "online_sgd": lambda **kw: online_sgd(_SEQ, "ssi", 0.3, 200, n_runs=5, m0=0.2, record=5,
                                          n_threads=2, **kw),
    "online_sgd-reduced": lambda **kw: online_sgd(_SEQ, "ssi", 0.3, 200, n_runs=3, m0=0.2,
                                                  mode="reduced", seed=np.random.default_rng(5),
                                                  **kw),  # a Generator seed: read once
    "sgd_ode": lambda **kw: sgd_ode(_SEQ, "ssi", 0.3, 2.0, m0=0.1, n_points=20, **kw),
    "fixed_point_curve": lambda **kw: ms.fixed_point_curve(MatrixSensing(10, 10, 0.5, "wishart(0.5)",
                                                                          "gaussian"),
                                                           [0.2, 0.5, 0.9], **kw),
    "quadratic_erm_curve": lambda **kw: quadratic_erm_curve(
        MatrixSensing(10, 10, 0.5, "wishart(0.5)", "quadratic", noise=0.1), [0.3, 0.6], 0.1, **kw),
    "continuation": lambda **kw: continuation(lambda m, b: np.tanh(b * m), [0.5, 1.5, 2.0], 0.5,
                                              direction="both", warm=lambda m: max(m, 0.1), **kw),
    "phase_diagram": lambda **kw: positional_semantic_phase_diagram([0.9, 1.0], [0.0, 0.5, 1.0],
                                                                    n_grid=9, nodes=4, **kw),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_progress_bar_same_numbers(name, capsys):
    call = CALLS[name]
    quiet = call(progress=False)
    assert capsys.readouterr().err == ""
    loud = call(progress=True)
    assert capsys.readouterr().err.strip(), f"{name}: nothing on stderr with progress=True"
    assert same(quiet, loud)


def test_online_sgd_chunks_match_one_call(monkeypatch):
    # more runs than threads: the bar splits them into several Rust calls
    import hdcore._core as core

    calls = []
    simulate = core.sgd_simulate

    def counting(*args, **kw):
        calls.append(list(args[5]))
        return simulate(*args, **kw)

    monkeypatch.setattr(core, "sgd_simulate", counting)
    kw = dict(n_runs=7, m0=0.2, record=4, n_threads=1, return_weights=True)
    quiet = online_sgd(_SEQ, "ssi", 0.3, 150, **kw)
    loud = online_sgd(_SEQ, "ssi", 0.3, 150, progress=True, **kw)
    assert same(quiet, loud)
    assert calls == [list(range(7))] + [[r] for r in range(7)]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_progress_must_be_a_bool(name):
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match="progress"):
            CALLS[name](progress=bad)


def test_helpers():
    assert check_progress(True) is True and check_progress(False) is False
    with pytest.raises(TypeError, match="progress"):
        check_progress("no")
    assert list(track(range(3), False, desc="x")) == [0, 1, 2]

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    assert list(advance("ab", bar)) + list(advance("cd", bar)) == list("abcd")
    assert bar.n == 4
    with progress_bar(False, total=4, desc="x") as quiet:
        assert list(advance("ab", quiet)) == ["a", "b"]


# ---- the studies' theory step -----------------------------------------------------------------

class _Plain(Study):
    name, title = "plain", "theory(quick) without progress"

    def theory(self, quick=False):
        return pd.DataFrame({"x": [1.0]})

    def grid(self, quick=False):
        return [{"a": 1}]

    def simulate(self, seed, **params):
        return {"y": 1.0}

    def figure(self, theory, simulation):
        from matplotlib.figure import Figure
        return Figure()

    def table(self, theory, simulation):
        return theory


class _WithProgress(_Plain):
    name = "with-progress"

    def theory(self, quick=False, *, progress=False):
        return pd.DataFrame({"x": [float(v) for v in track(range(3), progress, desc="t")]})


class _WithKwargs(_Plain):
    name = "with-kwargs"

    def theory(self, quick=False, **kw):
        return pd.DataFrame({"progress": [kw["progress"]]})


def test_study_theory_gets_progress_only_if_it_takes_it(capsys):
    assert _Plain()._theory(True, True)["x"].tolist() == [1.0]
    assert _WithKwargs()._theory(True, True)["progress"].tolist() == [True]
    capsys.readouterr()
    assert _WithProgress()._theory(True, True)["x"].tolist() == [0.0, 1.0, 2.0]
    assert capsys.readouterr().err.strip()
    assert _WithProgress()._theory(True, False)["x"].tolist() == [0.0, 1.0, 2.0]
    assert capsys.readouterr().err == ""


def test_reproduce_quiet_draws_no_theory_bar(tmp_path, capsys):
    _WithProgress().reproduce(tmp_path, quick=True, progress=False, n_workers=1)
    assert capsys.readouterr().err == ""


def _tiny(study, monkeypatch):
    """A real study on a small theory grid (a few seconds in all)."""
    import hdcore.studies.robust_regression as rr
    import hdcore.studies.spiked_matrix as sm
    from hdcore.studies import get

    s = get(study)
    if study == "robust-regression":
        monkeypatch.setattr(rr, "OBJECTIVES", ("excess_error",))
        monkeypatch.setattr(rr, "LOSSES", (("square", "square"), ("huber", "huber(1.0)")))
        s.alphas = lambda quick: np.array([4.0, 8.0])
    elif study == "spiked-wigner":
        monkeypatch.setattr(sm, "PRIORS", ("rademacher", "gaussian"))
        s.theory_grid = lambda quick: np.array([0.5, 1.5])
    return s


@pytest.mark.parametrize("study", ["robust-regression", "spiked-wigner"])
def test_study_theory_progress(study, capsys, monkeypatch):
    s = _tiny(study, monkeypatch)
    quiet = s.theory(True)
    capsys.readouterr()
    loud = s.theory(True, progress=True)
    assert capsys.readouterr().err.strip()
    pd.testing.assert_frame_equal(quiet, loud)
    with pytest.raises(TypeError, match="progress"):
        s.theory(True, progress="yes")


def test_every_touched_study_takes_progress():
    import inspect

    from hdcore.studies import get

    for name in ("robust-regression", "multi-index-spectral", "glm", "spiked-wigner",
                 "spiked-wishart", "extensive-width-quadratic", "bilinear-sequence-regression",
                 "ssi-sgd", "attention-positional-semantic", "compressed-sensing", "matrix-tensor",
                 "quadratic-erm"):
        params = inspect.signature(get(name).theory).parameters
        assert params["progress"].default is False, name
