"""Hierarchical Gaussian targets and the computational advantage of depth (issue 17,
arXiv:2502.13961): target generators, the network engine's gradients, the layer-wise protocol,
the kernel baseline and the exponent calculator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hdcore import _core
from hdcore.algorithms.hierarchical import (
    layerwise,
    preactivation_overlap,
    quadratic_kernel_ridge,
    w1_overlap,
)
from hdcore.models.hierarchical import MIGHT, SIGHT, DeepMIGHT, hermite_series, round_power


# ---------------------------------------------------------------------------------- models

def test_rounding_is_explicit():
    assert round_power(64, 0.5) == 8            # 64**0.5 floored without the 7.99.. trap
    assert round_power(128, 0.5) == 11          # int(11.31)
    assert round_power(200, 0.5, "round") == 14  # 14.14
    assert round_power(120, 0.5, "floor") == 10 and round_power(120, 0.5, "round") == 11
    assert round_power(5, 0.0) == 1
    assert SIGHT(d=128).d_eff == 11 and SIGHT(d=128, rounding="round").d_eff == 11
    assert SIGHT(d=120, rounding="round").d_eff == 11


def test_hermite_normalisations_match_closed_forms():
    z = np.linspace(-3, 3, 7)
    from numpy.polynomial import hermite_e
    fac = hermite_e.hermeval(z, hermite_series((0, 0, 1, 1), "factorial"))
    np.testing.assert_allclose(fac, (z ** 2 - 1) / 2 + (z ** 3 - 3 * z) / 6)
    pro = hermite_e.hermeval(z, hermite_series((0, 0, 1, 1), "probabilists"))
    np.testing.assert_allclose(pro, (z ** 2 - 1) + (z ** 3 - 3 * z))
    orth = hermite_e.hermeval(z, hermite_series((0, 0, 1), "orthonormal"))
    np.testing.assert_allclose(orth, (z ** 2 - 1) / np.sqrt(2))


def test_orthonormal_wstar_and_branches():
    m = MIGHT(d=64, eps1=0.5, n_branches=3)
    assert m.level_sizes == (24, 3)
    t = m.teacher(seed=3)
    np.testing.assert_allclose(t.wstar @ t.wstar.T, np.eye(24), atol=1e-12)
    assert set(np.unique(t.a[0])) <= {-1.0, 1.0}
    assert np.all(MIGHT(d=64, weights="ones").teacher(0).a[0] == 1.0)


def test_feature_gaussianity_and_target_formula():
    # z = W* x ~ N(0, I) exactly; h* = a^T P(z)/sqrt(D) has mean 0 and
    # variance sum_k c_k^2 N_k^2 k! = 1/2 + 1/6 (He_k/k!) -- a closed form; and is close to
    # Gaussian (excess kurtosis of a sum of D i.i.d. terms = kurt(P)/D)
    m = SIGHT(d=256, eps1=0.5)
    s = m.sample(40000, seed=11)
    z, h = s.features[0], s.hstar[:, 0]
    assert z.shape == (40000, 16)
    np.testing.assert_allclose(z.mean(0), 0, atol=0.03)
    np.testing.assert_allclose(np.cov(z.T), np.eye(16), atol=0.04)
    assert abs(h.mean()) < 0.02
    assert h.var() == pytest.approx(2 / 3, rel=0.03)
    from numpy.polynomial import hermite_e
    p = hermite_e.hermeval(z, hermite_series((0, 0, 1, 1)))
    h_direct = p @ s.teacher.a[0][0] / 4.0
    np.testing.assert_allclose(h, h_direct, atol=1e-12)
    np.testing.assert_allclose(s.y, np.tanh(3 * h), atol=1e-12)
    # kurtosis of P(u) = E P^4 / (E P^2)^2 - 3 (quadrature), divided by D = 16
    u, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()
    pu = (u ** 2 - 1) / 2 + (u ** 3 - 3 * u) / 6
    kurt_p = (w @ pu ** 4) / (w @ pu ** 2) ** 2 - 3
    kurt_h = np.mean(h ** 4) / h.var() ** 2 - 3
    assert kurt_h == pytest.approx(kurt_p / 16, rel=0.15)  # heavy tails: a loose check


def test_deep_tree_sizes_and_standardised_levels():
    m = DeepMIGHT(d=256, eps=(0.5, 0.25))
    assert m.level_sizes == (16, 4, 1) and m.degrees == (3, 3)
    s = m.sample(30000, seed=2)
    assert [f.shape[1] for f in s.features] == [16, 4, 1]
    assert s.features[1].var() == pytest.approx(1.0, rel=0.05)  # standardised level


def test_determinism_and_fresh_stream():
    m = SIGHT(d=32)
    a, b = m.sample(50, seed=4), m.sample(50, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    t = m.teacher(seed=1)
    it = t.stream(10, seed=9)
    b0, b1 = next(it), next(it)
    assert not np.allclose(b0.x, b1.x)
    again = next(t.stream(10, seed=9))
    np.testing.assert_array_equal(again.x, b0.x)
    assert not np.allclose(m.sample(50, seed=5).x, a.x)


@pytest.mark.parametrize("kwargs, exc", [
    (dict(d=1), ValueError), (dict(d=64.0), TypeError), (dict(d=64, eps1=1.0), ValueError),
    (dict(d=64, eps1=0.0), ValueError), (dict(d=64, link="bogus"), ValueError),
    (dict(d=64, poly=(0, 0, 0)), ValueError), (dict(d=64, hermite="x"), ValueError),
    (dict(d=64, rounding="ceil"), ValueError), (dict(d=64, weights="gauss"), ValueError),
    (dict(d=64, n_branches=2), ValueError),
])
def test_bad_input(kwargs, exc):
    with pytest.raises(exc):
        SIGHT(**kwargs)


def test_bad_input_deep_and_might():
    with pytest.raises(ValueError, match="eps"):
        DeepMIGHT(d=64, eps=(0.3, 0.5))
    with pytest.raises(ValueError, match="polys"):
        DeepMIGHT(d=64, eps=(0.5, 0.25), polys=((0, 0, 1),))
    with pytest.raises(ValueError, match="n_branches"):
        MIGHT(d=16, eps1=0.9, n_branches=3)
    with pytest.raises(ValueError, match="n"):
        SIGHT(d=16).sample(0, seed=0)
    with pytest.raises(ValueError, match="x"):
        SIGHT(d=16).teacher(0).features(np.zeros((3, 5)))


# ---------------------------------------------------------------------------------- engine

def _net(rng, d, p1, p2):
    return (rng.standard_normal((p1, d)) / np.sqrt(d), rng.uniform(-1, 1, p1),
            rng.standard_normal((p2, p1)) / np.sqrt(p1), rng.uniform(-1, 1, p2),
            rng.standard_normal(p2))


def _numpy_loss(x, y, w1, b1, w2, b2, a, loss):
    h2 = np.tanh(np.tanh(x @ w1.T + b1) @ w2.T + b2)
    f = h2 @ a
    return np.mean(0.5 * (f - y) ** 2) if loss == "square" else np.mean(-f * y)


@pytest.mark.parametrize("loss", ["square", "correlation"])
def test_engine_gradients_match_finite_differences(loss):
    rng = np.random.default_rng(0)
    d, p1, p2, n = 6, 9, 5, 700
    x, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    w1, b1, w2, b2, a = _net(rng, d, p1, p2)
    out = _core.network_gradients(x, y, w1, b1, a, w2=w2, b2=b2, activation1="tanh",
                                  activation2="tanh", loss=loss, preact=True)
    assert out["loss"] == pytest.approx(_numpy_loss(x, y, w1, b1, w2, b2, a, loss), rel=1e-12)
    np.testing.assert_allclose(out["preact"], np.tanh(x @ w1.T + b1) @ w2.T + b2, atol=1e-12)
    params = dict(w1=w1, b1=b1, w2=w2, b2=b2, a=a)
    grads = dict(w1="grad_w1", b1="grad_b1", w2="grad_w2", b2="grad_b2", a="grad_readout")
    h = 1e-6
    for name, arr in params.items():
        g = out[grads[name]]
        for idx in [(0,) * arr.ndim, tuple(s - 1 for s in arr.shape)]:
            old = arr[idx]
            arr[idx] = old + h
            lp = _numpy_loss(x, y, **{k: v for k, v in params.items()}, loss=loss)
            arr[idx] = old - h
            lm = _numpy_loss(x, y, **{k: v for k, v in params.items()}, loss=loss)
            arr[idx] = old
            assert g[idx] == pytest.approx((lp - lm) / (2 * h), rel=1e-5, abs=1e-8), name


def test_engine_two_layer_freeze_and_threads():
    rng = np.random.default_rng(1)
    d, p, n = 7, 130, 1100
    x, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    w1, b1, a = rng.standard_normal((p, d)), rng.uniform(-1, 1, p), rng.standard_normal(p)
    one = _core.network_gradients(x, y, w1, b1, a, n_threads=1)
    two = _core.network_gradients(x, y, w1, b1, a, n_threads=2)
    np.testing.assert_array_equal(one["grad_w1"], two["grad_w1"])
    np.testing.assert_array_equal(one["grad_readout"], two["grad_readout"])
    assert one["loss"] == two["loss"] and one["grad_w2"] is None
    # closed form of the two-layer gradient (relu)
    z = x @ w1.T + b1
    r = np.maximum(z, 0) @ a - y
    np.testing.assert_allclose(one["grad_w1"], ((r[:, None] * a) * (z > 0)).T @ x / n,
                               atol=1e-12)
    frozen = _core.network_gradients(x, y, w1, b1, a, train_w1=False)
    assert frozen["grad_w1"] is None
    np.testing.assert_array_equal(frozen["grad_readout"], one["grad_readout"])


def test_engine_bad_input():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal(5)
    w1, b1, a = rng.standard_normal((4, 3)), np.zeros(4), np.zeros(4)
    with pytest.raises(ValueError, match="y"):
        _core.network_gradients(x, y[:4], w1, b1, a)
    with pytest.raises(ValueError, match="w1"):
        _core.network_gradients(x, y, w1[:, :2], b1, a)
    with pytest.raises(ValueError, match="readout"):
        _core.network_gradients(x, y, w1, b1, a[:3])
    with pytest.raises(ValueError, match="b2"):
        _core.network_gradients(x, y, w1, b1, a, w2=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="loss"):
        _core.network_gradients(x, y, w1, b1, a, loss="hinge")
    with pytest.raises(ValueError, match="activation1"):
        _core.network_gradients(x, y, w1, b1, a, activation1="bogus")
    with pytest.raises(TypeError, match="x"):
        _core.network_gradients(x.astype(np.float32), y, w1, b1, a)


# ---------------------------------------------------------------------------------- metrics

def test_overlap_metrics_closed_forms():
    rng = np.random.default_rng(3)
    wstar = np.linalg.qr(rng.standard_normal((20, 4)))[0].T
    # rows inside span(W*) -> 1; random rows -> sqrt(D/d) on average
    assert w1_overlap(rng.standard_normal((10, 4)) @ wstar, wstar) == pytest.approx(1.0)
    assert w1_overlap(rng.standard_normal((4000, 20)), wstar) == pytest.approx(
        math.sqrt(4 / 20), rel=0.05)
    h = rng.standard_normal(500)
    u = np.stack([3 * h + 1, h + rng.standard_normal(500)], axis=1)
    assert preactivation_overlap(u, h) == pytest.approx(math.sqrt((1 + 0.5) / 2), abs=0.05)


# ---------------------------------------------------------------------------------- protocol

def test_layerwise_d64_learns_wstar_above_1_plus_eps1_only():
    # acceptance: d = 64, eps1 = 1/2; W* is learnt at kappa = 1 + eps1 + 0.3 and not at 1
    m = SIGHT(d=64)
    kw = dict(p1=256, p2=32, n_test=1000)
    hi = layerwise(m, int(round(64 ** 1.8)), seed=2, **kw)
    lo = layerwise(m, 64, seed=2, **kw)
    assert hi.w1_overlap > 0.8 > 0.6 > lo.w1_overlap
    assert hi.overlap_trajectory.shape == (10,)
    # and the three-layer net beats the trivial error there, the kappa = 1 run does not
    assert hi.test_error < 0.85 * hi.trivial_error and lo.test_error > 0.95 * lo.trivial_error
    assert hi.h_overlap > lo.h_overlap + 0.2


@pytest.mark.slow
def test_layerwise_d64_medians_over_seeds():
    m = SIGHT(d=64)
    kw = dict(p1=256, p2=32, n_test=1000)
    hi = [layerwise(m, int(round(64 ** 1.8)), seed=s, **kw).w1_overlap for s in range(5)]
    lo = [layerwise(m, 64, seed=s, **kw).w1_overlap for s in range(5)]
    assert np.median(hi) > 0.8 and np.median(lo) < 0.6


def test_kernel_explicit_features_equal_kernel_solve():
    m = SIGHT(d=8)
    a = quadratic_kernel_ridge(m, 60, seed=3, features="kernel", n_test=50)
    b = quadratic_kernel_ridge(m, 60, seed=3, features="explicit", n_test=50)
    assert a.test_error == pytest.approx(b.test_error, rel=1e-6)


def test_layerwise_is_thread_independent_and_seeded():
    m = SIGHT(d=16)
    kw = dict(p1=32, p2=8, n_steps=3, n_test=100)
    a = layerwise(m, 300, seed=4, n_threads=1, **kw)
    b = layerwise(m, 300, seed=4, n_threads=2, **kw)
    assert a.test_error == b.test_error and a.w1_overlap == b.w1_overlap
    np.testing.assert_array_equal(a.overlap_trajectory, b.overlap_trajectory)
    c = layerwise(m, 300, seed=5, **kw)
    assert c.test_error != a.test_error


def test_layerwise_bad_input():
    m = SIGHT(d=16)
    with pytest.raises(TypeError, match="model"):
        layerwise("sight", 100, seed=0)
    with pytest.raises(ValueError, match="learner"):
        layerwise(m, 100, seed=0, learner="five_layer")
    with pytest.raises(ValueError, match="n"):
        layerwise(m, 1, seed=0)
    with pytest.raises(ValueError, match="lam"):
        quadratic_kernel_ridge(m, 100, seed=0, lam=0.0)


# ---------------------------------------------------------------------------------- theory

def test_exponents_closed_forms():
    from hdcore.theory.hierarchical import hierarchical_exponents, quadratic_kernel_peak
    e = hierarchical_exponents(SIGHT(d=64))  # eps1 = 1/2, k = 3: max(1 + eps1, k eps1) = 1.5
    assert e.three_layer == (1.5, 1.5) and e.two_layer_wstar == 1.5
    assert e.two_layer_degree[3:] == (2.0, 2.5, 3.0)  # j eps1 for j = 4, 5, 6
    assert e.kernel_degree == 2 and e.unpreconditioned_h == pytest.approx(3.0)
    assert e.kernel_peak == 64 * 63 // 2 + 64 + 1 == quadratic_kernel_peak(64)
    assert e.kernel_peak_kappa == pytest.approx(math.log(2081) / math.log(64))
    e = hierarchical_exponents(SIGHT(d=64, eps1=0.3, poly=(0, 0, 0, 0, 1)))  # k = 4
    assert e.level_kappa == pytest.approx((1.3, 1.2)) and e.three_layer == pytest.approx(
        (1.3, 1.3))
    assert e.kernel_degree == 4
    d = hierarchical_exponents(DeepMIGHT(d=256, eps=(0.5, 0.25)))
    # d -> d^{eps1} -> d^{eps2} -> 1 at 1 + eps1, k eps1 + eps2, k eps2
    assert d.level_kappa == pytest.approx((1.5, 1.75, 0.75))
    assert d.three_layer == pytest.approx((1.5, 1.75, 1.75))
    assert "cie" in d.heuristic
    with pytest.raises(TypeError):
        hierarchical_exponents(object())


@pytest.mark.slow
def test_kernel_double_descent_peak_near_n_peak():
    # quadratic-kernel ridge at a tiny ridge: the error at the interpolation threshold
    # exceeds the errors well below and well above it
    from hdcore.theory.hierarchical import quadratic_kernel_peak
    m, d = SIGHT(d=24), 24
    peak = quadratic_kernel_peak(d) + d  # the explicit feature count (theory module docs)
    errs = {n: np.median([quadratic_kernel_ridge(m, n, seed=s, lam=1e-8, n_test=500).test_error
                          for s in range(3)]) for n in (peak // 3, peak, 3 * peak)}
    assert errs[peak] > errs[peak // 3] and errs[peak] > errs[3 * peak]
