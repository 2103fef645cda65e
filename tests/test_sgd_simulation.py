"""Online SGD simulations: reproducible across thread counts, the exact reduced mode has the
law of the full simulation, and the simulator's Monte-Carlo loss is the quadrature R(e, m)."""

import numpy as np
import pytest
from scipy.stats import ks_2samp

from hdcore.algorithms import online_sgd
from hdcore.models import SequenceSingleIndex, TiedStudent, UntiedStudent
from hdcore.theory import population_loss

ATTENTION = SequenceSingleIndex(d=1000, L=2, target="attention", positional="opposite",
                                target_kw={"omega": 0.3, "a": 1.0})


@pytest.mark.parametrize("mode", ["full", "reduced"])
def test_trajectories_identical_for_one_and_two_threads(mode):
    model = SequenceSingleIndex(d=5000, L=3, target="staircase2", noise=0.1)
    kw = {"seed": 3, "n_runs": 3, "m0": 0.2, "record": 20, "batch": 2, "mode": mode}
    a = online_sgd(model, TiedStudent("tanh"), 0.4, 3000, n_threads=1, return_weights=True, **kw)
    b = online_sgd(model, TiedStudent("tanh"), 0.4, 3000, n_threads=2, return_weights=True, **kw)
    np.testing.assert_array_equal(a.m, b.m)
    np.testing.assert_array_equal(a.loss, b.loss)
    if mode == "full":
        np.testing.assert_array_equal(a.weights, b.weights)
        # a run does not depend on the other runs of the call
        c = online_sgd(model, TiedStudent("tanh"), 0.4, 3000, n_threads=2, return_weights=True,
                       **{**kw, "n_runs": 1})
        np.testing.assert_array_equal(c.weights[0], a.weights[0])


def test_full_mode_reports_consistent_weights_and_overlaps():
    r = online_sgd(ATTENTION, "attention", 0.5, 2000, seed=1, m0=0.3, e0=0.2, record=[0, 2000],
                   return_weights=True)
    w, ws, p = r.weights[0], r.teacher[0], r.positional[0]
    d = ATTENTION.d
    assert r.m[0, 0] == pytest.approx(0.3, abs=1e-12)
    assert r.e[0, 0] == pytest.approx(0.2, abs=1e-12)
    assert w @ w == pytest.approx(d, rel=1e-10)
    assert ws @ ws == pytest.approx(d, rel=1e-12) and abs(ws @ p) < 1e-9
    assert r.m[0, -1] == pytest.approx(w @ ws / d, abs=1e-12)
    assert r.e[0, -1] == pytest.approx(w @ p / np.sqrt(d), abs=1e-12)
    np.testing.assert_array_equal(ATTENTION.teacher(1, 0)[0], ws)


def test_early_stop_records_the_escape_step():
    model = SequenceSingleIndex(d=2000, L=2, target="sum")
    r = online_sgd(model, "ssi", 0.5, 50_000, seed=0, n_runs=4, stop_overlap=0.5, mode="reduced")
    assert r.stopped.all() and (np.abs(r.final_m) >= 0.5).all()
    assert (r.final_step < 50_000).all()
    assert np.isnan(r.m[:, -1]).all()  # nothing recorded after the stop


CASES = [
    # attention with positional encoding, prescribed start, squared loss
    (ATTENTION, "attention", {"lr": 0.5, "steps": 3000, "m0": 0.3, "e0": 0.3}),
    # untied network, random start, mini-batch and label noise, mse loss
    (SequenceSingleIndex(d=1000, L=2, target="sum", noise=0.3), UntiedStudent("tanh"),
     {"lr": 0.4, "steps": 2000, "batch": 2, "loss": "mse"}),
]


@pytest.mark.parametrize("model,student,kw", CASES)
def test_reduced_mode_has_the_law_of_the_full_simulation(model, student, kw):
    """Two-sample Kolmogorov-Smirnov tests on the overlaps at several times, d = 1000: the
    reduced chain is exact in law, so only sampling noise separates the two samples."""
    record = [0, kw["steps"] // 10, kw["steps"] // 2, kw["steps"]]
    full = online_sgd(model, student, seed=11, n_runs=150, record=record, **kw)
    red = online_sgd(model, student, seed=12, n_runs=1500, record=record, mode="reduced", **kw)
    pvals = []
    for i in range(1, len(record)):
        a, b = full.overlap[:, i], red.overlap[:, i]
        if a.ndim == 2:
            a, b = a.ravel(), b.ravel()
        pvals.append(ks_2samp(a, b).pvalue)
        if model.positional is not None:
            pvals.append(ks_2samp(full.e[:, i], red.e[:, i]).pvalue)
        # and the spread is not degenerate (the test can fail)
        assert np.std(b) > 1e-3
    # 6 tests at most: a Bonferroni level of 1e-3 each
    assert min(pvals) > 1e-3, pvals
    # a biased chain is detected: the same test rejects a shifted learning rate
    wrong = online_sgd(model, student, seed=12, n_runs=1500, record=record, mode="reduced",
                       **{**kw, "lr": kw["lr"] * 1.3})
    assert ks_2samp(full.overlap[:, -1].ravel(), wrong.overlap[:, -1].ravel()).pvalue < 1e-3


@pytest.mark.parametrize("model,student,m0,e0", [
    (ATTENTION, "attention", 0.4, -0.3),
    (SequenceSingleIndex(d=1000, L=2, target="z1z2"), "ssi", 0.6, None),
    (SequenceSingleIndex(d=1000, L=3, target="staircase2"), TiedStudent("tanh"), -0.2, None),
])
def test_simulator_monte_carlo_loss_is_the_quadrature_population_loss(model, student, m0, e0):
    """With lr = 0 the weights stay put and the recorded mean training loss over fresh samples
    is a Monte-Carlo estimate of R(e, m) from the d-dimensional simulator."""
    steps = 40_000
    r = online_sgd(model, student, 0.0, steps, seed=5, m0=m0, e0=e0, record=[0, steps])
    mc = r.loss[0, 1]
    R = float(population_loss(model, student, m0, e0 or 0.0))
    # standard error from the spread of the per-sample loss, estimated by the quadrature of
    # loss^2 being unavailable: use batches of the same simulator (20 independent runs)
    reps = online_sgd(model, student, 0.0, 2000, seed=6, n_runs=20, m0=m0, e0=e0,
                      record=[0, 2000]).loss[:, 1]
    se = np.std(reps, ddof=1) / np.sqrt(steps / 2000)
    assert abs(mc - R) < 4 * se + 1e-12, (mc, R, se)
