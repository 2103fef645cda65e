"""Channels of GLMs and multi-index models: closed forms of G(y), the weak-recovery threshold,
the output function, product priors, and argument checking."""

import numpy as np
import pytest
from scipy import integrate, special

from hdcore.ingredients import CallableLink, ProductPrior, get_channel
from hdcore.models import MultiIndex
from hdcore.theory import weak_recovery_threshold


@pytest.mark.parametrize("link,p,expected", [
    ("square", 1, 0.5),            # phase retrieval: 1/E[(z^2 - 1)^2] = 1/2
    ("abs", 1, 0.5),               # |z| carries the same information as z^2
    ("||z||^2/p", 1, 0.5),
    ("||z||^2/p", 2, 1.0),         # G(y) = (y - 1) I, y ~ chi2_p / p: alpha_c = p/2
    ("||z||^2/p", 3, 1.5),
    ("||z||^2/p", 4, 2.0),
    ("z1/z2", 2, 1.0),             # G(y) is a reflection: F(I) = I, ||F|| <= 1
    ("sign(z1*z2)", 2, np.pi**2 / 4),  # G = +-(2/pi) [[0, 1], [1, 0]]
])
def test_weak_recovery_threshold_closed_forms(link, p, expected):
    wr = weak_recovery_threshold(get_channel(link, p))
    assert not wr.trivial
    assert wr.alpha_c == pytest.approx(expected, abs=1e-6)
    # the top eigenvector M_1 is positive semi-definite with unit Frobenius norm
    assert np.linalg.eigvalsh(wr.m1).min() > -1e-8
    assert np.linalg.norm(wr.m1) == pytest.approx(1.0)


def test_z1_z2_threshold_matches_the_bessel_integral():
    # G(y) has eigenvalues |y| K1(|y|)/K0(|y|) - 1 +- y (paper, App. E.2.3), y has density
    # K0(|y|)/pi, so 1/alpha_c = 1 + E[(|y| K1/K0 - 1)^2] (one-dimensional quadrature)
    def f(y):
        return (y * special.k1e(y) / special.k0e(y) - 1) ** 2 * 2 * special.k0(y) / np.pi

    e = integrate.quad(f, 0, 1, limit=200)[0] + integrate.quad(f, 1, np.inf, limit=200)[0]
    wr = weak_recovery_threshold(get_channel("z1*z2", 2))
    assert wr.alpha_c == pytest.approx(1 / (1 + e), abs=1e-8)
    # the two blocks (1, 1) and (1, -1) are degenerate: nu_1 = nu_2 = 1/alpha_c
    assert wr.nu[1] == pytest.approx(wr.nu[0], rel=1e-8)


def test_links_with_trivial_directions_have_zero_threshold():
    for link, p in (("sign", 1), ("relu", 1), ("linear", 1), ("committee", 3)):
        wr = weak_recovery_threshold(get_channel(link, p))
        assert wr.trivial and wr.alpha_c == 0.0


def test_channel_matrix_closed_forms():
    y = np.array([-2.3, -0.4, 0.05, 0.7, 3.1])
    g = get_channel("z1*z2", 2).G(y)
    a = np.abs(y) * special.k1(np.abs(y)) / special.k0(np.abs(y)) - 1
    u = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    lam = np.einsum("kl,nkm,ml->nl", u, g, u)
    np.testing.assert_allclose(lam[:, 0], a + y, atol=1e-8)
    np.testing.assert_allclose(lam[:, 1], a - y, atol=1e-8)
    # z1/z2: E[z z^T | y] = 2 v v^T / |v|^2 with v = (y, 1): G = 2 P_v - I
    g = get_channel("z1/z2", 2).G(y)
    v = np.stack([y, np.ones_like(y)], axis=1)
    expected = 2 * v[:, :, None] * v[:, None, :] / (1 + y**2)[:, None, None] - np.eye(2)
    np.testing.assert_allclose(g, expected, atol=1e-10)
    yp = np.abs(y)
    np.testing.assert_allclose(get_channel("||z||^2/p", 2).G(yp)[:, 0, 0], yp - 1, atol=1e-8)
    np.testing.assert_allclose(get_channel("square").G(yp)[:, 0, 0], yp - 1, atol=1e-12)
    # relu at y = 0: z | y ~ N(0, 1) restricted to z < 0, E[z^2 | y = 0] = 1
    assert get_channel("relu").G(np.array([0.0]))[0, 0, 0] == pytest.approx(0.0, abs=1e-12)


def test_optimal_preprocessing_is_one_minus_inverse_second_moment():
    y = np.array([0.2, 1.0, 4.0])
    t = get_channel("square").T(y)[:, 0, 0]
    np.testing.assert_allclose(t, 1 - 1 / y, rtol=1e-12)
    np.testing.assert_allclose(get_channel("square").T(y, clip=2.0)[:, 0, 0], [-2.0, 0.0, 0.75])


def test_output_function_jacobian_is_the_derivative():
    rng = np.random.default_rng(0)
    for link, p, y in (("sign", 1, [-1.0, 1.0]), ("abs", 1, [0.3, 1.7]),
                       ("z1*z2", 2, [0.4, -1.1]), ("z1/z2", 2, [0.4, -3.0]),
                       ("sign(z1*z2)", 2, [1.0, -1.0])):
        ch = get_channel(link, p)
        y = np.array(y)
        v = np.eye(p) * 0.6 + (0.1 if p == 2 else 0.0) * (1 - np.eye(p))
        om = 0.5 * rng.standard_normal((y.size, p))
        _, dg = ch.g_out(y, om, v)
        h = 1e-6
        for j in range(p):
            e = np.zeros(p)
            e[j] = h
            gp, _ = ch.g_out(y, om + e, v)
            gm, _ = ch.g_out(y, om - e, v)
            np.testing.assert_allclose((gp - gm) / (2 * h), dg[:, :, j], atol=1e-5)


def test_callable_link_agrees_with_the_builtin_cubature():
    # a smooth noisy link: the Rust cubature and the NumPy one use the same Gauss-Hermite rule
    builtin = get_channel("square", 1, noise=0.2, n_nodes=64)
    custom = CallableLink(lambda z: z[:, 0] ** 2, 1, 0.2, n_nodes=64)
    y = np.array([-0.1, 0.4, 2.3])
    om = np.array([[0.2], [-0.5], [0.8]])
    v = np.array([[0.7]])
    for a, b in zip(builtin.posterior(y, om, v), custom.posterior(y, om, v)):
        np.testing.assert_allclose(a, b, atol=1e-10)
    # relu with label noise: exact truncated-Gaussian formulas versus cubature, which converges
    # only algebraically across the kink at z = 0 (about 1e-3 at 200 nodes)
    builtin = get_channel("relu", 1, noise=0.3)
    custom = CallableLink(lambda z: np.maximum(z[:, 0], 0.0), 1, 0.3, n_nodes=200)
    for a, b in zip(builtin.posterior(y, om, v), custom.posterior(y, om, v)):
        np.testing.assert_allclose(a, b, atol=3e-3)


def test_product_prior_matches_the_scalar_prior_and_closed_forms():
    for prior in ("rademacher", "sparse_rademacher(0.3)", "gaussian"):
        pp = ProductPrior(prior, 2)
        qhat = np.diag([0.8, 2.0])
        q = pp.overlap(qhat)
        scalar = ProductPrior(prior, 1)
        assert q[0, 0] == pytest.approx(scalar.overlap(0.8)[0, 0], abs=2e-6)
        assert q[1, 1] == pytest.approx(scalar.overlap(2.0)[0, 0], abs=2e-6)
        assert abs(q[0, 1]) < 1e-8
        psi = pp.free_entropy(qhat)
        assert psi == pytest.approx(scalar.free_entropy(0.8) + scalar.free_entropy(2.0), abs=2e-6)
    # Gaussian prior: Q = (I + Qhat)^{-1} Qhat for any Qhat
    qhat = np.array([[1.0, 0.4], [0.4, 0.5]])
    np.testing.assert_allclose(ProductPrior("gaussian", 2).overlap(qhat),
                               np.linalg.solve(np.eye(2) + qhat, qhat), atol=1e-12)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown link"):
        get_channel("tanh")
    with pytest.raises(ValueError, match="p = 2"):
        get_channel("z1*z2", 3)
    with pytest.raises(ValueError, match="p"):
        MultiIndex(d=10, alpha=1.0, p=2, link="sign")
    with pytest.raises(ValueError, match="noise"):
        CallableLink(np.tanh, 1, 0.0)
    with pytest.raises(TypeError, match="link"):
        get_channel(3.0, 1)
    ch = get_channel("abs")
    with pytest.raises(ValueError, match="`y`.*outside the range"):
        ch.check_labels(np.array([0.5, -0.1]))
    with pytest.raises(ValueError, match="`y`.*non-finite"):
        ch.check_labels(np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="`y`.*-1 or \\+1"):
        get_channel("sign").check_labels(np.array([1.0, 0.5]))
    with pytest.raises(ValueError, match="noise"):
        get_channel("||z||^2/p", 4).g_out(np.ones(2), np.zeros((2, 4)), np.eye(4))
    with pytest.raises(ValueError, match="omega"):
        get_channel("sign").g_out(np.ones(2), np.zeros((3, 1)), np.eye(1))
