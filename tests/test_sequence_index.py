"""Sequence multi-index models and deep tied attention (arXiv:2502.00901): models, the attention
channel posterior, token-column state evolution, thresholds and GAMP."""

import numpy as np
import pytest
from scipy.special import ndtri
from scipy.stats import qmc

from hdcore.algorithms import gamp, sequence_gamp
from hdcore.algorithms.sequence_gamp import per_layer_cosines, token_column_channel
from hdcore.ingredients.attention_channel import (
    _last_preactivation,
    attention_link,
    attention_log_ratios,
    attention_posterior,
    invert_log_ratios,
)
from hdcore.models import DeepTiedAttention, MultiIndex, SequenceMultiIndex
from hdcore.theory import (
    sequence_generalisation_error,
    sequence_state_evolution,
    sequence_thresholds,
    state_evolution,
)
from hdcore.theory.sequence_index import _layer_rate, _normals

# ---- models ------------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["sign", "abs"])
def test_m1_is_the_multi_index_model(link):
    """M = 1: same draw as MultiIndex(d=D, alpha, p) with x_seq = sqrt(D) x_multi."""
    seq = SequenceMultiIndex(80, 1.5, M=1, P=1, link=link).sample(seed=3)
    mi = MultiIndex(d=80, alpha=1.5, p=1, link=link).sample(seed=3)
    np.testing.assert_allclose(seq.x, np.sqrt(80) * mi.x, rtol=1e-15)
    np.testing.assert_array_equal(seq.y[:, 0], mi.y)
    np.testing.assert_array_equal(seq.z[:, :, 0], mi.z)
    np.testing.assert_array_equal(seq.w, mi.w)


def test_tokenwise_link_is_multi_index_at_m_alpha():
    model = SequenceMultiIndex(60, 1.0, M=3, P=2, link="z1*z2")
    assert model.multi_index().alpha == pytest.approx(3.0)
    s = model.sample(seed=1)
    mi = model.multi_index().sample(seed=1)
    np.testing.assert_array_equal(s.y.reshape(-1), mi.y)
    # Z = W* x / sqrt(D), token columns
    x = s.x.reshape(model.n, 3, 60)
    np.testing.assert_allclose(s.z, np.einsum("nmd,dp->npm", x, s.w) / np.sqrt(60), atol=1e-12)


def test_attention_sample_and_threads():
    model = DeepTiedAttention(120, 1.0, skip=0.7)
    a = model.sample(seed=5, n_threads=1)
    b = model.sample(seed=5, n_threads=2)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.y.shape == (120, 2, 2) and a.z.shape == (120, 2, 2)
    np.testing.assert_allclose(a.y.sum(-1), 1.0)
    np.testing.assert_allclose(a.y, attention_link(a.z, 0.7))
    # the stored log-ratios are those of y, without the log(1/y - 1) cancellation
    np.testing.assert_allclose(a.log_ratios[:, 0], np.log(a.y[:, 0, 0] / a.y[:, 0, 1]),
                               rtol=1e-7, atol=1e-9)
    assert not np.array_equal(a.x, model.sample(seed=6).x)
    # x has N(0, 1) entries
    assert abs(a.x.std() - 1.0) < 0.02


def test_log_ratio_inversion_up_to_sign():
    z = np.random.default_rng(0).standard_normal((500, 2, 2)) * 1.5
    u = _last_preactivation(z, 1.3)
    u_hat = invert_log_ratios(attention_log_ratios(z, 1.3))
    err = np.minimum(np.abs(u_hat - u).max(1), np.abs(u_hat + u).max(1))
    assert err.max() < 1e-9


def test_three_layer_link_matches_recursion():
    z = np.random.default_rng(1).standard_normal((4, 3, 2))
    c = 0.5
    for k in range(4):
        z1, z2, z3 = z[k]
        sm = lambda h: np.exp(np.outer(h, h)) / np.exp(np.outer(h, h)).sum(1, keepdims=True)  # noqa
        a1 = sm(z1) + c * np.eye(2)
        a2 = sm(a1 @ z2) + c * np.eye(2)
        np.testing.assert_allclose(attention_link(z[k], c), sm(a2 @ a1 @ z3), rtol=1e-12)


@pytest.mark.parametrize("kw, exc", [
    ({"D": 0}, ValueError), ({"alpha": -1.0}, ValueError), ({"M": 3, "link": "attention"},
                                                            ValueError),
    ({"link": "nope"}, ValueError), ({"prior": "rademacher"}, ValueError),
    ({"skip": 0.0}, ValueError), ({"P": 9}, ValueError), ({"D": 2.5}, TypeError),
    ({"link": "attention", "noise": 0.1}, ValueError),
])
def test_bad_model_input(kw, exc):
    args = {"D": 10, "alpha": 1.0, "M": 2, "P": 2, "link": "sign", **kw}
    with pytest.raises(exc):
        SequenceMultiIndex(**args)


def test_bad_layers_and_dtype():
    with pytest.raises(ValueError, match="layers"):
        DeepTiedAttention(10, 1.0, layers=1)
    with pytest.raises(ValueError, match="dtype"):
        DeepTiedAttention(10, 1.0).sample(seed=0, dtype="int8")


# ---- the attention channel ----------------------------------------------------------------


def _brute_force(r, omega, v, skip, n_draws, rng):
    """Importance sampling over z1 ~ N(omega_1, V_11 I) with randomised (scrambled Sobol) normal
    draws, no cubature."""
    u = invert_log_ratios(r[None])[0]
    sd = np.sqrt(v[0, 0])
    beta, s2 = v[1, 0] / v[0, 0], v[1, 1] - v[1, 0] ** 2 / v[0, 0]
    acc = np.zeros(9)
    block = 2 ** 19
    sobol = qmc.Sobol(2, scramble=True, seed=rng)
    for _ in range(max(1, n_draws // block)):
        z1 = omega[0] + sd * ndtri(np.clip(sobol.random(block), 1e-16, 1 - 1e-16))
        sm = np.exp(z1[:, :, None] * z1[:, None, :])
        sm /= sm.sum(-1, keepdims=True)
        amat = sm + skip * np.eye(2)
        for sign in (1.0, -1.0):
            z2 = np.linalg.solve(amat, sign * u[None, :, None])[..., 0]
            mu = omega[1] + beta * (z1 - omega[0])
            w = np.exp(-((z2 - mu) ** 2).sum(1) / (2 * s2)) / np.abs(np.linalg.det(amat))
            acc += np.array([w.sum(), *(w[:, None] * z1).sum(0), *(w[:, None] * z2).sum(0),
                             (w * z1[:, 0] ** 2).sum(), (w * z2[:, 1] ** 2).sum(),
                             (w * z1[:, 0] * z2[:, 0]).sum(), (w * z2[:, 0] * z2[:, 1]).sum()])
    return acc[1:] / acc[0]


@pytest.mark.parametrize("n_samples, n_draws, atol", [
    (1, 2 ** 20, 1e-4),
    pytest.param(4, 2 ** 22, 2e-5, marks=pytest.mark.slow),
])
def test_channel_posterior_vs_brute_force_monte_carlo(n_samples, n_draws, atol):
    rng = np.random.default_rng(7)
    v = np.array([[0.8, 0.1], [0.1, 0.6]])
    z = rng.standard_normal((n_samples, 2, 2))
    r = attention_log_ratios(z, 0.8)
    omega = 0.5 * rng.standard_normal((n_samples, 2, 2))
    _, mean, full = attention_posterior(r, omega, v, skip=0.8, n_nodes=64, full_cov=True)
    for k in range(n_samples):
        bf = _brute_force(r[k], omega[k], v, 0.8, n_draws, rng)
        e = mean[k]
        ours = np.array([e[0, 0], e[0, 1], e[1, 0], e[1, 1],
                         full[k, 0, 0] + e[0, 0] ** 2, full[k, 3, 3] + e[1, 1] ** 2,
                         full[k, 0, 2] + e[0, 0] * e[1, 0], full[k, 2, 3] + e[1, 0] * e[1, 1]])
        np.testing.assert_allclose(ours, bf, atol=atol)


def test_channel_cubature_converges_in_the_node_count():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((50, 2, 2))
    r = attention_log_ratios(z, 1.0)
    v = np.array([[0.9, 0.0], [0.0, 0.7]])
    omega = 0.3 * z
    errs = []
    _, ref, cref = attention_posterior(r, omega, v, n_nodes=64)
    for n in (8, 16, 32):
        _, mean, cov = attention_posterior(r, omega, v, n_nodes=n)
        errs.append(max(np.abs(mean - ref).max(), np.abs(cov - cref).max()))
    assert errs[2] < errs[1] < errs[0] and errs[2] < 1e-3


def test_channel_nishimori_identity():
    """E[g g^T] = -E[dg] for data drawn from the model (checks the |det A| Jacobian)."""
    rng = np.random.default_rng(3)
    q = np.diag([0.3, 0.5])
    v = np.eye(2) - q
    n = 4000
    omega = np.sqrt(q)[None] @ rng.standard_normal((n, 2, 2))
    z = omega + np.sqrt(v)[None] @ rng.standard_normal((n, 2, 2))
    model = DeepTiedAttention(50, 1.0)
    sample = type("S", (), {"model": model, "log_ratios": attention_log_ratios(z, 1.0)})
    model_n = DeepTiedAttention(n, 1.0)
    sample = type("S", (), {"model": model_n, "log_ratios": attention_log_ratios(z, 1.0),
                            "y": None})
    g, dg = token_column_channel(sample, n_nodes=20)(None, omega.transpose(0, 2, 1)
                                                    .reshape(-1, 2), v)
    lhs = np.einsum("np,nq->pq", g, g) / n
    rhs = -dg.sum(0) / n
    se = np.sqrt(np.einsum("np,nq->npq", g, g).var(0) / n)
    assert np.all(np.abs(lhs - rhs) < 5 * se + 1e-3)
    assert lhs[1, 1] > 0.1


def test_bad_channel_input():
    r = np.zeros((2, 2)) + 0.5
    with pytest.raises(ValueError, match="omega"):
        attention_posterior(r, np.zeros((3, 2, 2)), np.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        attention_posterior(r, np.zeros((2, 2, 2)), -np.eye(2))
    with pytest.raises(ValueError, match="skip"):
        attention_posterior(r, np.zeros((2, 2, 2)), np.eye(2), skip=0.0)


# ---- state evolution and thresholds ---------------------------------------------------------


@pytest.mark.parametrize("m", [1, 2])
def test_tokenwise_se_threshold_is_phase_retrieval_over_m(m):
    """Phase retrieval alpha_c = 1/2 (landed multi-index theory) becomes 1/(2M)."""
    lo = sequence_state_evolution(SequenceMultiIndex(10, 0.45 / m, M=m, P=1, link="abs"),
                                  damping=0.5)
    hi = sequence_state_evolution(SequenceMultiIndex(10, 0.6 / m, M=m, P=1, link="abs"),
                                  damping=0.5, tol=1e-12, n_iter=5000)
    assert lo.fixed_point[0, 0] < 1e-3 < 0.05 < hi.fixed_point[0, 0]
    ref = state_evolution(MultiIndex(d=10, alpha=0.6, p=1, link="abs"), damping=0.5,
                          tol=1e-12, n_iter=5000)
    assert hi.fixed_point[0, 0] == pytest.approx(ref.fixed_point[0, 0], abs=1e-6)


def test_attention_se_learns_the_last_layer_first():
    opts = {"n_mc": 384, "n_nodes": 12, "n_iter": 40, "seed": 1}
    se = state_evolution(DeepTiedAttention(10, 0.5), **opts)
    q = se.fixed_point
    assert q[1, 1] > 0.3 and q[0, 0] < 0.02
    below = sequence_state_evolution(DeepTiedAttention(10, 0.1), **opts)
    assert below.fixed_point.max() < 1e-3
    # plug-in error: informed layers give zero error, the last-layer-only state a plateau
    model = DeepTiedAttention(10, 1.0)
    plateau = sequence_generalisation_error(model, np.diag([0.0, 0.999]), n_mc=4000)
    blank = sequence_generalisation_error(model, np.zeros((2, 2)), n_mc=4000)
    assert 0 < plateau < blank


def test_first_threshold_operator_matches_se_onset():
    """Thm. 2.3's operator and the growth rate of the SE map itself (two Monte-Carlo estimators
    of the same linearisation) agree on the last layer's threshold, the first one."""
    model = DeepTiedAttention(10, 1.0)
    zs, us = _normals(4, 3000, 2, 2)
    zero = np.zeros((2, 2))
    op = [_layer_rate(model, zero, k, zs, us, 12, "operator", 0.0) for k in (0, 1)]
    se = _layer_rate(model, zero, 1, zs, us, 12, "se_onset", 1e-6)
    assert op[1] > 10 * op[0]                      # the last layer is learned first
    assert 1 / op[1] == pytest.approx(1 / se, rel=0.1)
    assert 0.16 < 1 / op[1] < 0.21


@pytest.mark.slow
def test_thresholds_layer_by_layer():
    model = DeepTiedAttention(10, 1.0)
    kw = {"n_mc": 1024, "n_nodes": 16, "seed": 2, "se_options": {"n_iter": 40}}
    th = sequence_thresholds(model, **kw)
    assert th.order.tolist() == [1, 0]
    assert 2 * th.thresholds[1] < th.thresholds[0] < th.first[0]


def test_bad_theory_input():
    with pytest.raises(TypeError):
        sequence_state_evolution(MultiIndex(d=10, alpha=1.0, p=1))
    with pytest.raises(ValueError, match="init"):
        sequence_state_evolution(DeepTiedAttention(10, 1.0), init="nope")
    with pytest.raises(ValueError, match="method"):
        sequence_thresholds(DeepTiedAttention(10, 1.0), method="nope")
    with pytest.raises(ValueError):
        sequence_thresholds(SequenceMultiIndex(10, 1.0, M=2, P=1, link="sign"))


# ---- GAMP ------------------------------------------------------------------------------------


def test_tokenwise_gamp_equals_multi_index_gamp_on_token_rows():
    model = SequenceMultiIndex(200, 1.0, M=2, P=1, link="sign")
    s = model.sample(seed=4)
    ours = gamp(s, n_iter=15)
    ref = gamp(model.multi_index().sample(seed=4), n_iter=15, open_path=True)
    np.testing.assert_allclose(ours.estimate, ref.estimate, rtol=1e-9, atol=1e-12)
    a = sequence_gamp(s, n_iter=15, n_threads=1)
    b = sequence_gamp(s, n_iter=15, n_threads=2)
    np.testing.assert_array_equal(a.estimate, b.estimate)


def test_gamp_bad_input():
    with pytest.raises(TypeError):
        sequence_gamp(MultiIndex(d=10, alpha=1.0, p=1).sample(seed=0))
    s = DeepTiedAttention(30, 1.0).sample(seed=0)
    with pytest.raises(ValueError):
        sequence_gamp(s, damping=1.5)
    with pytest.raises(ValueError):
        sequence_gamp(s, init="nope")


@pytest.mark.slow
def test_attention_gamp_follows_state_evolution():
    """Last-layer cosine of GAMP vs SE at alpha = 0.5, D = 500 and 1000 (gap shrinking)."""
    alpha = 0.5
    se = sequence_state_evolution(DeepTiedAttention(10, alpha), n_mc=2048, n_nodes=16,
                                  n_iter=60, seed=0)
    target = se.overlaps[-1]
    gaps = []
    for d, seeds in ((500, range(3)), (1000, range(2))):
        cos = []
        for k in seeds:
            s = DeepTiedAttention(d, alpha).sample(seed=100 + k)
            res = sequence_gamp(s, n_iter=60, damping=0.5, n_nodes=16, seed=k)
            cos.append(per_layer_cosines(res)[-1])
        gaps.append(np.abs(np.mean(cos, 0) - target))
    assert gaps[1][1] < 0.08 and gaps[0][0] < 0.15 and gaps[1][0] < 0.15
    assert gaps[1][1] <= gaps[0][1] + 0.02
