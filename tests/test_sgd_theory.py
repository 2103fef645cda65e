"""Theory of online SGD: population loss, its derivatives, the ODE limit against simulations,
the sequence information exponent and the attention landscape."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hdcore.algorithms import online_sgd
from hdcore.models import AttentionStudent, SequenceSingleIndex, TiedStudent, UntiedStudent
from hdcore.theory import (
    attention_landscape,
    population_loss,
    population_loss_derivatives,
    positional_semantic_phase_diagram,
    sequence_information_exponent,
    sgd_ode,
)

ATTN0 = SequenceSingleIndex(d=10, L=2, target="attention", positional="opposite",
                            target_kw={"omega": 0.0})


def test_population_loss_closed_forms():
    # f = f* = z1, squared loss: R = (1 + 1 - 2m)/2 = 1 - m
    lin = SequenceSingleIndex(d=10, L=1, target="z1")
    m = np.linspace(-0.9, 0.9, 7)
    np.testing.assert_allclose(population_loss(lin, "ssi", m), 1 - m, atol=1e-13)
    # f = f* = z1 z2: E f* f = m^2, E f^2 = 1 -> R = 1 - m^2
    pair = SequenceSingleIndex(d=10, L=2, target="z1z2")
    np.testing.assert_allclose(population_loss(pair, "ssi", m), 1 - m**2, atol=1e-12)
    # attention at omega = 0: the semantic points are exact zeros, R is even in m and in e
    R = population_loss(ATTN0, "attention", [1.0, -1.0, 0.3, -0.3, 0.3], [0.0, 0.0, 0.4, 0.4, -0.4])
    assert abs(R[0]) < 1e-14 and abs(R[1]) < 1e-14
    assert R[2] == pytest.approx(R[3], rel=1e-10) and R[2] == pytest.approx(R[4], rel=1e-10)


def test_population_loss_gradient_and_hessian_match_finite_differences():
    model = SequenceSingleIndex(d=10, L=2, target="attention", positional="opposite",
                                target_kw={"omega": 0.4, "a": 0.9})
    m, e, h = 0.35, 0.25, 1e-5
    der = population_loss_derivatives(model, "attention", m, e)

    def R(a, b):
        return float(population_loss(model, "attention", a, b))

    fd = np.array([(R(m + h, e) - R(m - h, e)) / (2 * h), (R(m, e + h) - R(m, e - h)) / (2 * h)])
    np.testing.assert_allclose(der.gradient, fd, rtol=1e-6, atol=1e-9)
    h2 = 1e-3
    hmm = (R(m + h2, e) - 2 * R(m, e) + R(m - h2, e)) / h2**2
    hme = (R(m + h2, e + h2) - R(m + h2, e - h2) - R(m - h2, e + h2) + R(m - h2, e - h2)) / (4 * h2**2)
    assert der.hessian[0, 0] == pytest.approx(hmm, rel=1e-4)
    assert der.hessian[0, 1] == pytest.approx(hme, rel=1e-3, abs=1e-6)


def test_ode_matches_the_closed_form_of_the_linear_model():
    """f = f* = z1, L = 1, label noise sigma: dm/dt = lr (1 - m^2) - lr^2 m (2(1 - m) + s^2)/2
    (the O(lr^2) term: E g^2 = E (z - z* - sigma xi)^2 = 2 (1 - m) + sigma^2)."""
    sigma = 0.5
    lin = SequenceSingleIndex(d=10, L=1, target="z1", noise=sigma)
    lr, m0 = 0.8, 0.05

    def rhs(t, m):
        return lr * (1 - m**2) - 0.5 * lr**2 * m * (2 * (1 - m) + sigma**2)

    ode = sgd_ode(lin, "ssi", lr, 8.0, m0=m0)
    ref = solve_ivp(rhs, (0, 8.0), [m0], t_eval=ode.t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ode.m, ref.y[0], atol=1e-5)
    # the noise keeps the fixed point below 1, where the two terms balance
    assert abs(rhs(0, ode.m[-1])) < 1e-3 and ode.m[-1] < 0.98
    assert ode.loss[-1] == pytest.approx(1 - ode.m[-1] + sigma**2 / 2, abs=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("model,student,lr,t_max,m0", [
    (SequenceSingleIndex(d=20000, L=2, target="staircase2"), "ssi", 0.3, 3.0, 0.3),
    (SequenceSingleIndex(d=20000, L=2, target="sum"), TiedStudent("tanh"), 0.5, 2.5, 0.1),
])
def test_full_simulation_at_d_20000_follows_the_ode(model, student, lr, t_max, m0):
    """The d = 20000 trajectory stays within 4 standard deviations (measured on 300 runs of the
    exact reduced chain at the same d) of the ODE at every recorded time."""
    steps = int(t_max * model.d)
    record = np.unique(np.linspace(0, steps, 16).astype(int))
    ode = sgd_ode(model, student, lr, t_max, m0=m0, nodes=10)
    sim = online_sgd(model, student, lr, steps, seed=2, m0=m0, record=record)
    spread = online_sgd(model, student, lr, steps, seed=3, m0=m0, record=record, n_runs=300,
                        mode="reduced").m.std(0)
    pred = np.interp(sim.t, ode.t, ode.m)
    dev = np.abs(sim.m[0] - pred)
    assert (dev <= 4 * spread + 1e-4).all(), np.c_[sim.t, sim.m[0], pred, spread]
    # the trajectory actually moves: the test would see a wrong drift
    assert abs(pred[-1] - m0) > 0.3


@pytest.mark.parametrize("model,student,kw", [
    (SequenceSingleIndex(d=20000, L=2, target="attention", positional="opposite",
                         target_kw={"omega": 0.3}), AttentionStudent(), {"m0": 0.2, "e0": 0.2}),
    (SequenceSingleIndex(d=20000, L=3, target="sum"), UntiedStudent(), {"m0": 0.1}),
    (SequenceSingleIndex(d=20000, L=2, target="z1z2"), "ssi", {"m0": 0.4, "batch": 3}),
    (SequenceSingleIndex(d=20000, L=2, target="sum"), TiedStudent("tanh"),
     {"m0": 0.1, "spherical": False}),
])
def test_reduced_chain_mean_follows_the_ode(model, student, kw):
    """Mean of 100 reduced runs at d = 20000 vs the ODE (positional overlap, untied blocks,
    mini-batch and plain SGD)."""
    t_max = 4.0
    steps = int(t_max * model.d)
    # polynomial models get exact quadrature by default; tanh and softmax: 8 nodes per axis
    nonpoly = kw.get("e0") or (isinstance(student, TiedStudent)
                               and student.activation.name == "tanh")
    ode = sgd_ode(model, student, 0.5, t_max, nodes=8 if nonpoly else None, **kw)
    r = online_sgd(model, student, 0.5, steps, seed=4, n_runs=100, record=9, mode="reduced", **kw)
    ov = r.overlap
    se = ov.std(0) / 10 + 2e-3  # standard error, plus the quadrature/finite-d bias budget
    assert (np.abs(ov.mean(0) - np.interp(r.t, ode.t, ode.overlap)) <= 4 * se).all()
    if model.positional is not None:
        assert (np.abs(r.e.mean(0) - np.interp(r.t, ode.t, ode.e)) <= 4 * se).all()
    if not kw.get("spherical", True):
        assert (np.abs(r.q.mean(0) - np.interp(r.t, ode.t, ode.q)) <= 4 * (r.q.std(0) / 10 + 2e-3)).all()


@pytest.mark.parametrize("target,L,sie", [("sum", 3, 1), ("z1", 2, 1), ("z1z2", 2, 2),
                                          ("he2sum", 2, 2), ("z1z2z3", 3, 3),
                                          ("staircase2", 2, 1), ("staircase3", 3, 1),
                                          ("he2difference", 2, 2)])
def test_sequence_information_exponents_of_the_targets(target, L, sie):
    s = sequence_information_exponent(SequenceSingleIndex(d=10, L=L, target=target))
    assert s.teacher == sie and s.pair == sie


def test_attention_semantic_direction_has_exponent_two():
    s = sequence_information_exponent(ATTN0)
    assert s.teacher == 2 and s.pair == 2  # softmax(z z^T) is even in z


def test_attention_landscape_at_zero_omega_is_semantic():
    ls = attention_landscape(1.0, 0.0, n_grid=21, nodes=8)
    assert ls.global_semantic and ls.global_min == (1.0, 0.0)
    assert ls.escape_semantic and ls.hessian_origin[0, 0] < 0 < ls.hessian_origin[1, 1]
    # the moment-based landscape equals the direct quadrature
    model = SequenceSingleIndex(d=10, L=2, target="attention", positional="opposite",
                                target_kw={"omega": 0.0, "a": 1.0})
    i, j = 7, 9
    assert ls.loss[i, j] == pytest.approx(
        float(population_loss(model, "attention", ls.m[i, j], ls.e[i, j], nodes=8)), rel=1e-10)


def test_phase_diagram_escape_turns_positional_before_the_global_minimum():
    pd = positional_semantic_phase_diagram([0.85, 1.0], np.linspace(0.0, 1.0, 21), n_grid=31,
                                           nodes=8)
    assert not pd.global_positional[:, 0].any() and not pd.escape_positional[:, 0].any()
    assert np.isfinite(pd.omega_escape).all() and np.isfinite(pd.omega_global).all()
    assert (pd.omega_escape <= pd.omega_global).all()
    # monotone in omega: once positional, stays positional
    for row in pd.escape_positional:
        k = np.argmax(row)
        assert row[k:].all()
    assert math.isclose(pd.region.max(), 7) or pd.region.max() >= 6
