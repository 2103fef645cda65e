"""Replica-symmetric theory of ERM: closed-form ridge limits, the replicon edge at
lam = -(sqrt(alpha) - 1)^2, validity flags (multivalued Tukey prox), sphere = Lagrange ridge, and
the tuning of (lam, loss parameter)."""

import math

import numpy as np
import pytest

from hdcore.ingredients import Huber, Square, Tukey
from hdcore.models import ContaminatedRegression
from hdcore.theory import erm_fixed_point, ridge_closed_form, tune


def model(alpha=10.0, eps=0.1, delta_in=0.1, delta_out=1.0, beta=0.0):
    return ContaminatedRegression(d=100, alpha=alpha, eps=eps, delta_in=delta_in, delta_out=delta_out,
                                  beta=beta)


def delta_eff(m):
    """Variance of y - bbar z: label noise plus the spread of the slopes."""
    return (1 - m.eps) * m.delta_in + m.eps * m.delta_out + m.eps * (1 - m.eps) * (1 - m.beta) ** 2


@pytest.mark.parametrize("alpha,lam", [(10, 1.0), (10, 0.3), (10, 0.0), (10, -1.0), (10, -4.0),
                                       (4, -0.8), (0.5, 0.2), (0.5, 2.0)])
@pytest.mark.parametrize("method", ["auto", "quadrature"])
def test_square_loss_fixed_point_matches_closed_form_ridge(alpha, lam, method):
    m = model(alpha=alpha, beta=0.3)
    fp = erm_fixed_point(m, "square", lam, method=method)
    cf = ridge_closed_form(m, lam)
    assert fp.valid, fp.reason
    for key in ("m", "q", "V", "replicon"):
        assert getattr(fp, key) == pytest.approx(cf[key], rel=1e-8, abs=1e-12), key


def test_least_squares_error_is_delta_over_alpha_minus_one():
    # classical OLS risk d/(n - d) * noise variance, for the effective noise of the mixture
    for alpha in (2.0, 5.0, 30.0):
        m = model(alpha=alpha, eps=0.0, delta_in=0.3)
        fp = erm_fixed_point(m, "square", 0.0)
        assert fp.m == pytest.approx(1.0, abs=1e-10)
        assert fp.estimation_error == pytest.approx(0.3 / (alpha - 1), rel=1e-9)
        assert fp.replicon == pytest.approx(1 / alpha, rel=1e-9)


@pytest.mark.parametrize("alpha", [4.0, 10.0, 30.0])
def test_replicon_becomes_marginal_exactly_at_the_spectrum_edge(alpha):
    edge = -(math.sqrt(alpha) - 1) ** 2
    m = model(alpha=alpha)
    values = []
    for gap in (1e-1, 1e-2, 1e-4, 1e-6):
        fp = erm_fixed_point(m, "square", edge + gap)
        assert fp.valid, fp.reason
        values.append(fp.replicon)
        # at the edge V = 1/(sqrt(alpha) - 1); the replicon 1 - O(sqrt(gap)) approaches 1 from below
        assert 1 - fp.replicon < 5 * math.sqrt(gap)
    assert all(a < b < 1 for a, b in zip(values, values[1:]))
    below = erm_fixed_point(m, "square", edge - 1e-4)
    assert not below.valid and math.isnan(below.m) and math.isnan(below.excess_error)
    # the closed form has no real solution below the edge either
    assert math.isnan(ridge_closed_form(m, edge - 1e-4)["V"])


def test_tukey_with_multivalued_prox_is_flagged_not_reported():
    # small alpha: the Tukey fixed point is pushed to V >= 5/4
    fp = erm_fixed_point(model(alpha=1.5), Tukey(1.0), 0.05)
    assert not fp.valid
    assert not fp.prox_single_valued
    assert "multivalued" in fp.reason
    for key in ("m", "q", "V", "estimation_error", "generalisation_error", "excess_error"):
        assert math.isnan(getattr(fp, key)), key
    assert fp.last_iterate["V"] > 1.2  # the diagnosis is kept
    # the same loss is valid at larger alpha, with V < 5/4 and replicon < 1
    ok = erm_fixed_point(model(alpha=10), Tukey(1.0), 0.05)
    assert ok.valid and ok.V < 1.25 and ok.replicon < 1


def test_huber_with_a_large_transition_is_the_square_loss():
    m = model()
    a = erm_fixed_point(m, Huber(50.0), 0.4)
    b = erm_fixed_point(m, Square(), 0.4)
    assert (a.m, a.q, a.V) == pytest.approx((b.m, b.q, b.V), rel=1e-9)


@pytest.mark.parametrize("loss", ["huber(0.8)", "tukey(2.0)", "cauchy(1.0)"])
def test_sphere_constraint_is_the_ridge_at_its_lagrange_multiplier(loss):
    m = model()
    sphere = erm_fixed_point(m, loss, q=0.8)
    assert sphere.valid, sphere.reason
    assert sphere.q == pytest.approx(0.8, abs=1e-12)
    ridge = erm_fixed_point(m, loss, sphere.lam)
    assert (ridge.m, ridge.q, ridge.V) == pytest.approx((sphere.m, sphere.q, sphere.V), rel=1e-7)


def test_errors_follow_the_model_definitions_and_excess_is_non_negative():
    m = model(beta=0.4)
    for loss, lam in (("square", 0.3), ("huber(1.0)", -0.5), ("tukey(1.5)", 0.2), ("absolute", 0.1)):
        fp = erm_fixed_point(m, loss, lam)
        assert fp.valid, (loss, fp.reason)
        e = m.errors(fp.m, fp.q)
        assert fp.estimation_error == pytest.approx(1 - 2 * fp.m + fp.q)
        assert fp.generalisation_error == pytest.approx(e.generalisation_error)
        assert fp.excess_error >= 0
        assert fp.excess_error == pytest.approx(fp.generalisation_error - m.eps * (1 - m.eps) * 0.6**2)


def test_starts_and_warm_starts_reach_the_same_fixed_point():
    m = model()
    a = erm_fixed_point(m, "tukey(2.0)", 0.5, init="informed")
    b = erm_fixed_point(m, "tukey(2.0)", 0.5, init="uninformed")
    c = erm_fixed_point(m, "tukey(2.0)", 0.5, init=(0.5, 0.5, 0.3))
    assert a.valid and b.valid and c.valid
    assert a.state == pytest.approx(b.state, rel=1e-9)
    assert a.state == pytest.approx(c.state, rel=1e-9)
    warm = erm_fixed_point(m, "tukey(2.0)", 0.5, init=a.state)
    assert warm.n_iter <= 1


def test_tuned_square_loss_has_the_bayes_ridge():
    # the square-loss risk depends on the second moments only: the optimal ridge is that of the
    # Gaussian surrogate y = bbar z + noise of variance delta_eff, lam* = delta_eff / bbar^2
    for beta in (0.0, 0.5):
        m = model(alpha=5.0, beta=beta)
        bbar = 1 - m.eps + m.eps * beta
        res = tune(m, "square", xatol=1e-7)
        assert res.success and res.fixed_point.valid
        assert res.lam == pytest.approx(delta_eff(m) / bbar**2, rel=1e-4)


def test_tuned_robust_losses_beat_the_square_loss_and_stay_valid():
    m = model(alpha=20.0)
    sq = tune(m, "square")
    hub = tune(m, "huber(1.0)")
    tuk = tune(m, "tukey(2.0)")
    for r in (hub, tuk):
        assert r.success and r.fixed_point.valid
        assert r.fixed_point.replicon < 1 and r.fixed_point.prox_single_valued
        assert r.value < sq.value
    assert tuk.fixed_point.V < 1.25
    # tuning more cannot be worse than a fixed parameter
    fixed = tune(m, "huber(1.0)", tune_param=False)
    assert hub.value <= fixed.value + 1e-9


def test_optimal_ridge_for_the_estimation_error_is_negative_at_large_alpha():
    # with outliers the robust estimator is shrunk (m < 1): a negative ridge undoes it
    m = model(alpha=200.0)
    for loss in ("square", "huber(1.0)", "tukey(2.0)"):
        r = tune(m, loss, objective="estimation_error")
        assert r.success and r.fixed_point.valid, loss
        assert r.lam < 0, (loss, r.lam)
    # the excess generalisation error targets (1 - eps) theta*: its optimal ridge is positive
    assert tune(m, "huber(1.0)").lam > 0


def test_theory_arguments_are_checked():
    m = model()
    with pytest.raises(ValueError, match="exactly one"):
        erm_fixed_point(m, "square")
    with pytest.raises(ValueError, match="exactly one"):
        erm_fixed_point(m, "square", 0.1, q=1.0)
    with pytest.raises(ValueError, match="lam"):
        erm_fixed_point(m, "square", float("nan"))
    with pytest.raises(ValueError, match="`q`"):
        erm_fixed_point(m, "square", q=-1.0)
    with pytest.raises(ValueError, match="unknown loss"):
        erm_fixed_point(m, "hinge", 0.1)
    with pytest.raises(ValueError, match="tau"):
        erm_fixed_point(m, "tukey(-1)", 0.1)
    with pytest.raises(TypeError, match="model"):
        erm_fixed_point("model", "square", 0.1)
    with pytest.raises(ValueError, match="init"):
        erm_fixed_point(m, "square", 0.1, init="random")
    with pytest.raises(ValueError, match="objective"):
        tune(m, "square", objective="training_error")
    with pytest.raises(ValueError, match="teacher_norm"):
        erm_fixed_point(m, "square", 0.1, teacher_norm=0.0)


def test_fixed_points_are_deterministic_and_finite_on_a_grid():
    vals = []
    for alpha in np.geomspace(2, 1000, 7):
        for loss in ("huber(1.0)", "tukey(2.0)", "cauchy(1.0)"):
            fp = erm_fixed_point(model(alpha=alpha), loss, 0.5)
            assert fp.valid, (alpha, loss, fp.reason)
            vals.append(fp.state)
    again = [erm_fixed_point(model(alpha=alpha), loss, 0.5).state
             for alpha in np.geomspace(2, 1000, 7) for loss in ("huber(1.0)", "tukey(2.0)", "cauchy(1.0)")]
    assert vals == again
