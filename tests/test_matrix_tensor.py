"""Issue 13: spiked matrix + tensor (arXiv:2506.02664).

Sampler (reproducible, thread-count independent, float32 = rounded float64, delta = inf), the
fused one-pass tensor contraction (= einsum), the multi-factor low-rank AMP against its state
evolution (two sizes, the gap shrinking), closed forms of the theory (rectangular BBP, pure
tensor, free-entropy stationarity, thresholds), the curriculum's spectral step against its
prediction, spherical joint GD against the top singular pair.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hdcore
from hdcore import _core
from hdcore.algorithms import (
    Factor,
    MatrixChannel,
    amp,
    curriculum,
    joint_gd,
    low_rank_amp,
    matrix_tensor_amp,
    tensor3_contract,
)
from hdcore.models import SpikedMatrixTensor
from hdcore.theory import (
    curriculum_prediction,
    matrix_tensor_fixed_points,
    matrix_tensor_free_entropy,
    matrix_tensor_se_map,
    matrix_tensor_state_evolution,
    matrix_tensor_thresholds,
    rectangular_bbp,
    state_evolution,
)
from hdcore.theory.fixed_point import solve

# ---------------------------------------------------------------------------------------------
# model and sampler


def test_model_dims_and_validation():
    m = SpikedMatrixTensor(50, 0.5, 0.2, alpha2=2.0, alpha3=0.5, alpha4=1.5)
    assert m.dims == (50, 100, 25, 75)
    assert m.tensor_bytes() == 50 * 25 * 75 * 8
    assert m.tensor_bytes("float32") == 50 * 25 * 75 * 4
    with pytest.raises(ValueError, match="delta_m"):
        SpikedMatrixTensor(50, -1.0, 0.2)
    with pytest.raises(ValueError, match="delta_t"):
        SpikedMatrixTensor(50, 1.0, math.nan)
    with pytest.raises(TypeError, match="delta_m"):
        SpikedMatrixTensor(50, "1", 0.2)
    with pytest.raises(ValueError, match="prior"):
        SpikedMatrixTensor(50, 1.0, 1.0, prior=("gaussian", "rademacher"))
    with pytest.raises(ValueError, match="n1"):
        SpikedMatrixTensor(0, 1.0, 1.0)


def test_sample_shapes_normalisation_and_seed():
    m = SpikedMatrixTensor(60, 0.5, 0.3, alpha3=0.5)
    s = m.sample(seed=3)
    assert s.y_m.shape == (60, 60) and s.y_t.shape == (60, 30, 60)
    f = s.factors
    assert set(f) == {"u", "v", "x", "y"}
    # the noise of each modality has the stated variance
    rm = s.y_m - np.outer(f["u"], f["v"]) / math.sqrt(60)
    rt = s.y_t - np.einsum("i,j,k->ijk", f["u"], f["x"], f["y"]) / 60
    assert abs(rm.var() - 0.5) < 0.05 and abs(rt.var() - 0.3) < 0.01
    assert abs(rt.mean()) < 0.01
    s2 = m.sample(seed=3)
    np.testing.assert_array_equal(s.y_t, s2.y_t)
    np.testing.assert_array_equal(s.y_m, s2.y_m)
    s3 = m.sample(seed=np.random.default_rng(3))
    assert s3.y_t.shape == s.y_t.shape
    assert not np.array_equal(m.sample(seed=4).y_t, s.y_t)


def test_sample_thread_independent_and_float32_is_rounded_float64():
    m = SpikedMatrixTensor(40, 0.5, 0.3, prior=("rademacher", "gaussian", "gaussian",
                                                "rademacher"))
    a = m.sample(seed=11, n_threads=1)
    b = m.sample(seed=11, n_threads=2)
    np.testing.assert_array_equal(a.y_t, b.y_t)
    np.testing.assert_array_equal(a.y_m, b.y_m)
    for k in "uvxy":
        np.testing.assert_array_equal(a.factors[k], b.factors[k])
    assert set(np.unique(a.factors["u"])) <= {-1.0, 1.0}
    c = m.sample(seed=11, dtype="float32")
    assert c.y_t.dtype == np.float32
    np.testing.assert_array_equal(c.y_t, a.y_t.astype(np.float32))
    np.testing.assert_array_equal(c.y_m, a.y_m.astype(np.float32))


def test_infinite_delta_drops_modality():
    s = SpikedMatrixTensor(30, math.inf, 0.3).sample(seed=0)
    assert s.y_m is None and s.y_t.shape == (30, 30, 30)
    s = SpikedMatrixTensor(30, 0.3, math.inf).sample(seed=0)
    assert s.y_t is None and s.y_m.shape == (30, 30)


def test_oversize_sample_is_a_memory_error_before_allocating():
    with pytest.raises(MemoryError, match="bytes"):
        SpikedMatrixTensor(200_000, 1.0, 1.0).sample(seed=0)


# ---------------------------------------------------------------------------------------------
# the fused contraction


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_contraction_equals_einsum_and_is_thread_independent(dtype):
    rng = np.random.default_rng(0)
    t = rng.standard_normal((37, 23, 41)).astype(dtype)
    u, x, y = rng.standard_normal(37), rng.standard_normal(23), rng.standard_normal(41)
    a, b, c = tensor3_contract(t, u, x, y, n_threads=1)
    t64 = t.astype(np.float64)
    np.testing.assert_allclose(a, np.einsum("ijk,j,k->i", t64, x, y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b, np.einsum("ijk,i,k->j", t64, u, y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c, np.einsum("ijk,i,j->k", t64, u, x), rtol=1e-12, atol=1e-12)
    a2, b2, c2 = tensor3_contract(t, u, x, y, n_threads=2)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(c, c2)
    mm = _core.tensor3_mode_contract(t, u, n_threads=2)
    np.testing.assert_allclose(mm, np.einsum("i,ijk->jk", u, t64), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(mm, _core.tensor3_mode_contract(t, u, n_threads=1))


def test_contraction_bad_input():
    t = np.zeros((3, 4, 5))
    with pytest.raises(ValueError, match="x"):
        tensor3_contract(t, np.zeros(3), np.zeros(5), np.zeros(5))
    with pytest.raises(TypeError, match="t"):
        tensor3_contract(t.astype(int), np.zeros(3), np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="C-contiguous"):
        tensor3_contract(np.asfortranarray(t), np.zeros(3), np.zeros(4), np.zeros(5))
    bad = t.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tensor3_contract(bad, np.ones(3), np.ones(4), np.ones(5))


# ---------------------------------------------------------------------------------------------
# theory: closed forms and limits


@pytest.mark.parametrize("alpha,delta", [(1.0, 0.5), (2.0, 0.8), (0.5, 0.3)])
def test_matrix_only_se_is_rectangular_bbp(alpha, delta):
    model = SpikedMatrixTensor(100, delta, math.inf, alpha2=alpha)
    se = matrix_tensor_state_evolution(model, n_iter=20000, tol=1e-14)
    cu, cv = rectangular_bbp(alpha, delta)
    assert se.fixed_point["u"] == pytest.approx(cu, abs=1e-7)
    assert se.fixed_point["v"] == pytest.approx(cv, abs=1e-7)
    # spherical ML-AMP on the matrix alone = the top singular pair
    ml = matrix_tensor_state_evolution(model, algorithm="ml", n_iter=20000, tol=1e-14)
    assert ml.fixed_point["u"] == pytest.approx(cu, abs=1e-7)
    assert ml.fixed_point["v"] == pytest.approx(cv, abs=1e-7)
    # below BBP nothing is learned
    assert rectangular_bbp(alpha, 1.01 * math.sqrt(alpha)) == (0.0, 0.0)


def test_pure_tensor_uninformative_point_is_stable():
    F = matrix_tensor_se_map(SpikedMatrixTensor(100, math.inf, 0.01), floor=0.0)
    m = np.full(4, 1e-3)
    for _ in range(50):
        m = F(m)
    assert np.all(m < 1e-5)  # order-3 channel: m = 0 attracts even at delta_t = 0.01
    # from the truth it stays informed at low noise
    fp = matrix_tensor_fixed_points(SpikedMatrixTensor(100, math.inf, 0.05))
    assert fp.informed["u"] > 0.9 and fp.uninformative["u"] < 1e-5 and fp.coexist


def test_free_entropy_is_stationary_at_se_fixed_points():
    model = SpikedMatrixTensor(100, 0.5, 0.3, alpha2=1.5, alpha3=0.8, alpha4=1.2)
    se = matrix_tensor_state_evolution(model, init="informed", n_iter=20000, tol=1e-14)
    m = np.array([se.overlap[k][-1] for k in "uvxy"])
    g = np.array([(matrix_tensor_free_entropy(model, m + h * e)
                   - matrix_tensor_free_entropy(model, m - h * e)) / (2 * h)
                  for e, h in zip(np.eye(4), [1e-6] * 4)])
    assert np.max(np.abs(g)) < 1e-6
    # and not stationary elsewhere
    g2 = (matrix_tensor_free_entropy(model, m * 0.9 + 1e-6 * np.eye(4)[0])
          - matrix_tensor_free_entropy(model, m * 0.9 - 1e-6 * np.eye(4)[0])) / 2e-6
    assert abs(g2) > 1e-3


def test_se_gaussian_fixed_point_closed_form():
    # at a fixed point m_k = mh_k/(1 + mh_k) with mh from the module's equations
    model = SpikedMatrixTensor(100, 0.7, 0.25, alpha3=1.3)
    m = np.array([matrix_tensor_state_evolution(model, init="informed", n_iter=20000,
                                                tol=1e-14).overlap[k][-1] for k in "uvxy"])
    a2, a3, a4 = 1.0, 1.3, 1.0
    mh = np.array([a2 * m[1] / 0.7 + a3 * a4 * m[2] * m[3] / 0.25, m[0] / 0.7,
                   a4 * m[0] * m[3] / 0.25, a3 * m[0] * m[2] / 0.25])
    np.testing.assert_allclose(m, mh / (1 + mh), atol=1e-10)


def test_tensor_threshold_is_the_curriculum_threshold_and_the_se_transition():
    model = SpikedMatrixTensor(100, 0.5, 0.3)
    th = matrix_tensor_thresholds(model)
    assert th.matrix_delta_m == 1.0
    assert th.matrix_only["u"] == pytest.approx(0.5, abs=1e-9)  # (1 - 1/4)/(1 + 1/2)
    assert th.tensor_delta_t == pytest.approx(0.5, abs=1e-9)
    # the spectral curriculum's step 2 has its BBP transition at the same delta_t
    below = curriculum_prediction(model.with_deltas(delta_t=0.499))
    above = curriculum_prediction(model.with_deltas(delta_t=0.501))
    assert below["x"] > 0 and above["x"] == 0.0
    # and the Bayes-AMP SE leaves the matrix-only state exactly there
    lo = matrix_tensor_fixed_points(model.with_deltas(delta_t=0.45)).uninformative["x"]
    hi = matrix_tensor_fixed_points(model.with_deltas(delta_t=0.55)).uninformative["x"]
    assert lo > 0.05 and hi < 1e-4
    # joint ERM threshold solves alpha2 d^2 + alpha3 alpha4 d^3/delta_t = alpha2^2
    d = th.erm_delta_m
    assert d**2 + d**3 / 0.3 == pytest.approx(1.0, abs=1e-12) and d < 1.0


def test_dispatch_and_theory_bad_input():
    model = SpikedMatrixTensor(100, 0.5, 0.3)
    se = state_evolution(model)
    assert se.fixed_point == matrix_tensor_state_evolution(model).fixed_point
    with pytest.raises(ValueError, match="algorithm"):
        matrix_tensor_state_evolution(model, algorithm="map")
    with pytest.raises(ValueError, match="init"):
        matrix_tensor_state_evolution(model, init=[1.0, 2.0])
    with pytest.raises(TypeError, match="model"):
        matrix_tensor_thresholds("model")
    with pytest.raises(ValueError, match="m"):
        matrix_tensor_free_entropy(model, [0.1, 0.2])


# ---------------------------------------------------------------------------------------------
# AMP against state evolution


def _amp_vs_se(n1, delta_m, delta_t, seeds, init):
    model = SpikedMatrixTensor(n1, delta_m, delta_t)
    cos = []
    for seed in seeds:
        r = amp(model.sample(seed=seed), init=init, seed=seed, n_iter=300)
        cos.append([r.final_cosine2[k] for k in "uvxy"])
    return np.mean(cos, axis=0)


def test_low_rank_amp_engine_on_a_rectangular_matrix():
    rng = np.random.default_rng(0)
    n = 500
    u, v = rng.standard_normal(n), rng.standard_normal(n)
    y = np.outer(u, v) / np.sqrt(n) + math.sqrt(0.5) * rng.standard_normal((n, n))
    r = low_rank_amp([Factor("u", n), Factor("v", n)],
                     [MatrixChannel(y=y, rows="u", cols="v", scale=n**-0.5, delta=0.5)],
                     {"u": 1e-3 * rng.standard_normal(n), "v": np.zeros(n)},
                     truth={"u": u, "v": v}, n_iter=200, damping=0.3)
    cu, cv = rectangular_bbp(1.0, 0.5)
    assert abs(r.final_cosine2["u"] - cu) < 0.06 and abs(r.final_cosine2["v"] - cv) < 0.06
    with pytest.raises(ValueError, match="init"):
        low_rank_amp([Factor("u", n), Factor("v", n)],
                     [MatrixChannel(y=y, rows="u", cols="v", scale=n**-0.5, delta=0.5)],
                     {"u": np.zeros(n)})


def test_matrix_only_amp_reaches_bbp_gap_shrinking():
    # delta_t = inf: the engine on the matrix channel alone must reach rectangular BBP,
    # cos2_u = cos2_v = 0.7 at (alpha2, delta_m) = (1, 0.3); measured gaps +0.02 (n1=200),
    # +0.01 (800), -0.01 (2000) over 4 seeds
    theory = np.array(rectangular_bbp(1.0, 0.3))
    gaps = []
    for n1 in (200, 1500):
        cos = []
        for seed in (0, 1, 2):
            s = SpikedMatrixTensor(n1, 0.3, math.inf).sample(seed=seed)
            r = matrix_tensor_amp(s, init="informative", seed=seed)
            cos.append([r.final_cosine2[k] for k in "uv"])
        gaps.append(np.abs(np.mean(cos, axis=0) - theory).max())
    assert gaps[1] < 0.02, gaps
    assert gaps[1] < gaps[0] + 0.005, gaps


def test_amp_informative_start_near_se_fixed_point():
    # joint model: AMP sits within 0.05 of the informed SE fixed point at n1 = 200. (The
    # "+0.03 on x, y at n1 = 300" once reported here was seed noise: seeds 0-5 give
    # (0.841, 0.740, 0.767, 0.767) against SE (0.843, 0.738, 0.763, 0.763), sem 0.01-0.02.)
    model = SpikedMatrixTensor(100, 0.3, 0.2)
    se = matrix_tensor_state_evolution(model, init="informed", n_iter=20000, tol=1e-14)
    theory = np.array([se.fixed_point[k] for k in "uvxy"])
    large = _amp_vs_se(200, 0.3, 0.2, [0, 1], "informative")
    assert np.abs(large - theory).max() < 0.05, (large, theory)


@pytest.mark.slow
def test_amp_random_start_reaches_the_se_fixed_point():
    model = SpikedMatrixTensor(100, 0.3, 0.2)
    theory = np.array([matrix_tensor_state_evolution(model).fixed_point[k] for k in "uvxy"])
    large = _amp_vs_se(250, 0.3, 0.2, [0, 1], "random")
    gap_l = np.abs(large - theory).max()
    assert gap_l < 0.06, (large, theory)


def _gaussian_se_mq(model, m, q, n_iter):
    """State evolution of Bayes-AMP with Gaussian priors from a start with ``q != m`` (not on
    the Nishimori line): the field of factor k is ``mu_k w* + sqrt(sig_k) xi`` with ``mu`` the
    SE hats of ``m`` and ``sig`` those of ``q``, AMP's precision is ``A_k = sig_k``, so
    ``m' = mu/(1 + sig)``, ``q' = (mu^2 + sig)/(1 + sig)^2``. Returns cos2 = m^2/q per step."""
    _, a2, a3, a4 = model.alphas
    im, it = 1 / model.delta_m, 1 / model.delta_t

    def hats(w):
        return np.array([a2 * w[1] * im + a3 * a4 * w[2] * w[3] * it, w[0] * im,
                         a4 * w[0] * w[3] * it, a3 * w[0] * w[2] * it])
    out = [m**2 / q]
    for _ in range(n_iter):
        mu, sig = hats(m), hats(q)
        m, q = mu / (1 + sig), (mu**2 + sig) / (1 + sig) ** 2
        out.append(m**2 / q)
    return np.array(out)


def test_amp_trajectory_follows_se_iteration_by_iteration():
    # planted u, v; x, y = 0.3 x* + sqrt(0.91) xi, i.e. m = 0.3 but q = 1: off the Nishimori
    # line, so the Bayes SE map (q = m) is not the prediction -- against it AMP looked
    # 0.1-0.3 "below SE" in its first iterations (the former xfail). Against the (m, q) SE,
    # undamped AMP steps with it (6 seeds, n1 = 200: |mean gap| <= 0.06, sem 0.02-0.07).
    n1, n_it = 200, 8
    model = SpikedMatrixTensor(n1, 0.4, 0.25)
    gaps, gaps_nish = [], []
    for seed in range(6):
        s = model.sample(seed=seed)
        f = s.factors
        rng = np.random.default_rng(100 + seed)
        init = {k: (f[k] if k in "uv" else 0.3 * f[k] + math.sqrt(0.91) * rng.standard_normal(n1))
                for k in "uvxy"}
        r = matrix_tensor_amp(s, init=init, n_iter=n_it, damping=0.0, tol=0.0)
        got = np.array([r.cosine2[k] for k in "uvxy"]).T
        rho = np.array([float(f[k] @ f[k]) / n1 for k in "uvxy"])
        m0 = np.array([float(init[k] @ f[k]) / n1 for k in "uvxy"]) / np.sqrt(rho)
        q0 = np.array([float(init[k] @ init[k]) / n1 for k in "uvxy"])
        gaps.append(got - _gaussian_se_mq(model, m0, q0, n_it))
        se = matrix_tensor_state_evolution(model, init=dict(zip("uvxy", m0)), n_iter=n_it,
                                           tol=0.0)
        gaps_nish.append(got - np.array([se.cosine2[k] for k in "uvxy"]).T)
    mean_gap = np.mean(gaps, axis=0)[1:]
    assert np.abs(mean_gap).max() < 0.07, mean_gap
    # the Nishimori map is the wrong reference for this start (x, y more than 0.15 off early)
    assert np.mean(gaps_nish, axis=0)[1:3, 2:].min() < -0.15


def _q_linear_se(a2, dm, d, m0, q0, n_iter):
    """Linearised SE (f(B) = B, A -> 0) of damped rectangular AMP with the memory Onsager term
    (module docs of hdcore.algorithms.low_rank_amp): the field noises form a Gaussian process,
    Cov(g_u^i, g_u^j) = a2 Q_v(i, j)/dm, Cov(g_v^i, g_v^j) = Q_u(i, j)/dm; u^{t+1} =
    (1 - d) (mu_u^t u* + g_u^t) + d u^t. Returns q_u^t."""
    coef, other = {"u": a2 / dm, "v": 1 / dm}, {"u": "v", "v": "u"}
    m = {k: [m0[k]] for k in "uv"}
    Q = {k: np.zeros((n_iter + 1, n_iter + 1)) for k in "uv"}
    C = {k: np.zeros((n_iter + 1, n_iter + 1)) for k in "uv"}
    for k in "uv":
        Q[k][0, 0] = q0[k]
    for t in range(n_iter):
        for k in "uv":
            m[k].append((1 - d) * coef[k] * m[other[k]][t] + d * m[k][t])
            C[k][t + 1] = d * C[k][t]
            C[k][t + 1, t] += 1 - d
        for k in "uv":
            G = coef[k] * Q[other[k]][: t + 1, : t + 1]
            for s in range(t + 2):
                Q[k][t + 1, s] = Q[k][s, t + 1] = (
                    C[k][t + 1, : t + 1] @ G @ C[k][s, : t + 1]
                    + d ** (t + 1 + s) * (q0[k] - m0[k] ** 2) + m[k][t + 1] * m[k][s])
    return np.diag(Q["u"])


@pytest.mark.parametrize("damping", [0.5, 0.0])
@pytest.mark.parametrize("alpha2", [1.0, 2.0])
def test_matrix_only_random_start_grows_as_linearised_se(alpha2, damping):
    # issue 13: at zero overlap the norms must follow the linearised SE (delta_m = 0.6 <
    # sqrt(alpha2): growth). Noise-only SE (m = 0) for t <= 4, where the signal is still small
    # (cos2 <= 0.15, undamped alpha2 = 2: <= 0.27); later the signal only adds to q. Measured
    # (8 seeds, n1 = 300): mean log10 gap <= 0.07 decades for t <= 4 (sd <= 0.13). The former Onsager term
    # (damped variance x last iterate) gave, at damping 0.5, q_u 8.5e-7 -> 1.9e-7 in 10 steps
    # where this SE grows it by 10^0.43.
    n1, n_it = 300, 10
    model = SpikedMatrixTensor(n1, 0.6, math.inf, alpha2=alpha2)
    diff = []
    for seed in range(8):
        s = model.sample(seed=seed)
        f = s.factors
        rng = np.random.default_rng(seed)
        init = {k: 1e-3 * rng.standard_normal(f[k].size) for k in "uv"}
        r = matrix_tensor_amp(s, init=init, n_iter=n_it, damping=damping, tol=0.0)
        q0 = {k: float(init[k] @ init[k]) / f[k].size for k in "uv"}
        q_se = _q_linear_se(alpha2, 0.6, damping, {"u": 0.0, "v": 0.0}, q0, n_it)
        assert q_se[-1] > q_se[0]
        diff.append(np.log10(r.q["u"]) - np.log10(q_se))
    diff = np.array(diff)
    assert np.abs(diff[:, :5].mean(axis=0)).max() < 0.1, diff.mean(axis=0)
    assert np.abs(diff[:, :5]).max() < 0.4, diff
    assert diff[:, -1].mean() > -0.1, diff[:, -1]


@pytest.mark.slow
def test_matrix_only_random_start_reaches_bbp_without_collapse():
    # issue 13 repro (delta_m = 0.6, BBP line at 1): default damped AMP from 1e-3 starts.
    # Gaussian priors: an AMP fixed point is a singular pair of Y_m (u (1 + A_u + c_u) ∝ Y v),
    # so check that exactly, and its overlap against rectangular BBP (0.4, 0.4). Measured
    # (seeds 0-7, n1 = 300): cos2 (0.428, 0.421), q (0.403, 0.403), per-seed sd 0.06-0.08.
    n1 = 300
    model = SpikedMatrixTensor(n1, 0.6, math.inf)
    theory = rectangular_bbp(1.0, 0.6)
    cos, qs = [], []
    for seed in range(8):
        s = model.sample(seed=seed)
        r = matrix_tensor_amp(s, n_iter=1000, tol=1e-13, seed=seed)
        assert r.converged
        assert min(r.q["u"]) > 0.3 * r.q["u"][0]          # never collapses
        u_sv, _, vt = np.linalg.svd(s.y_m)
        e = r.estimates
        assert 1 - abs(u_sv[:, 0] @ e["u"]) / np.linalg.norm(e["u"]) < 1e-8
        assert 1 - abs(vt[0] @ e["v"]) / np.linalg.norm(e["v"]) < 1e-8
        cos.append([r.final_cosine2[k] for k in "uv"])
        qs.append([r.q[k][-1] for k in "uv"])
    cos, qs = np.array(cos), np.array(qs)
    assert np.abs(cos - theory).max() < 0.2, cos
    assert np.abs(cos.mean(axis=0) - theory).max() < 0.06, cos
    assert np.abs(qs.mean(axis=0) - theory).max() < 0.06, qs   # Nishimori: q = m = cos2


@pytest.mark.slow
@pytest.mark.parametrize("delta_t", [0.25, 0.8])
def test_amp_random_start_below_and_above_tensor_threshold_two_sizes(delta_t):
    # delta_m = 0.4: tensor threshold delta_t^c = m_u = 0.6. Default (damped) AMP from 1e-3
    # starts. Measured (means of seeds 0-7 at n1 = 150, 0-5 at 300, 300 iterations; sem
    # 0.01-0.04):
    #   delta_t = 0.25, SE (0.777, 0.660, 0.678, 0.678): n1 = 150 (0.782, 0.644, 0.663, 0.653),
    #     300 (0.781, 0.667, 0.690, 0.693); before the fix (0.709, 0.619, 0.529, 0.515) and
    #     (0.760, 0.662, 0.656, 0.662).
    #   delta_t = 0.8, SE (0.6, 0.6, 0, 0): 150 (0.606, 0.583, 0.071, 0.060), 300 (0.621,
    #     0.618, 0.044, 0.047): the x, y residual (finite-size, ~1/N1) shrinks, but 3 seeds
    #     do not resolve that, so only its size is asserted.
    model = SpikedMatrixTensor(100, 0.4, delta_t)
    theory = np.array([matrix_tensor_state_evolution(model).fixed_point[k] for k in "uvxy"])
    below = delta_t < 0.6
    res = {}
    for n1, seeds in ((150, range(6)), (300, range(6) if below else range(3))):
        m = SpikedMatrixTensor(n1, 0.4, delta_t)
        res[n1] = np.mean([[r.final_cosine2[k] for k in "uvxy"] for r in
                           (matrix_tensor_amp(m.sample(seed=sd), seed=sd,
                                              n_iter=300 if below else 120)
                            for sd in seeds)], axis=0)
    if below:
        assert np.abs(res[150] - theory).max() < 0.05, res
        assert np.abs(res[300] - theory).max() < 0.03, res
    else:
        assert np.abs(res[150][:2] - theory[:2]).max() < 0.05, res
        assert np.abs(res[300][:2] - theory[:2]).max() < 0.05, res
        assert res[150][2:].max() < 0.12 and res[300][2:].max() < 0.1, res


def test_amp_bad_input():
    s = SpikedMatrixTensor(20, 0.5, 0.3).sample(seed=0)
    with pytest.raises(ValueError, match="denoiser"):
        matrix_tensor_amp(s, denoiser="map")
    with pytest.raises(ValueError, match="init"):
        matrix_tensor_amp(s, init="truth")
    with pytest.raises(ValueError, match="init"):
        matrix_tensor_amp(s, init={"z": np.zeros(20)})
    with pytest.raises(ValueError, match="damping"):
        matrix_tensor_amp(s, damping=1.0)
    with pytest.raises(TypeError, match="sample"):
        matrix_tensor_amp("sample")


def test_amp_reproducible():
    s = SpikedMatrixTensor(40, 0.5, 0.3).sample(seed=0)
    a = matrix_tensor_amp(s, seed=2, n_iter=20, n_threads=1)
    b = matrix_tensor_amp(s, seed=2, n_iter=20, n_threads=2)
    for k in "uvxy":
        np.testing.assert_array_equal(a.estimates[k], b.estimates[k])


# ---------------------------------------------------------------------------------------------
# curriculum and joint GD


def test_curriculum_spectral_step_matches_prediction():
    # step 1 is rectangular BBP; step 2 is rectangular BBP at delta_t/(alpha3 c_u), evaluated
    # at the realised c_u (this removes step 1's fluctuations from step 2's check)
    gaps = []
    for n1 in (100, 220):
        model = SpikedMatrixTensor(n1, 0.5, 0.2)
        err = []
        for seed in (0, 1):
            c = curriculum(model.sample(seed=seed), refine=False, seed=seed)
            pred_x = rectangular_bbp(1.0, 0.2 / c.spectral["u"])[0]
            err.append([c.spectral["u"] - 0.5, c.spectral["x"] - pred_x])
        gaps.append(np.abs(np.mean(err, axis=0)))
    assert gaps[1].max() < 0.1, gaps
    pred = curriculum_prediction(SpikedMatrixTensor(100, 0.5, 0.2))
    assert pred["u"] == 0.5 and pred["x"] == pytest.approx((1 - 0.16) / 1.4)


def test_curriculum_needs_both_modalities_and_refines():
    with pytest.raises(ValueError, match="both"):
        curriculum(SpikedMatrixTensor(20, 0.5, math.inf).sample(seed=0))
    s = SpikedMatrixTensor(120, 0.5, 0.2).sample(seed=0)
    c = curriculum(s, refine=True, n_iter=100)
    se = matrix_tensor_state_evolution(SpikedMatrixTensor(120, 0.5, 0.2), init="informed")
    assert abs(c.final_cosine2["x"] - se.fixed_point["x"]) < 0.1


def test_joint_gd_sphere_on_the_matrix_is_the_top_singular_pair():
    model = SpikedMatrixTensor(400, 0.5, math.inf)
    s = model.sample(seed=0)
    g = joint_gd(s, constraint="sphere", n_steps=800, lr=0.2)
    u_svd = np.linalg.svd(s.y_m)[0][:, 0]
    cos_svd = float(u_svd @ s.factors["u"]) ** 2 / float(s.factors["u"] @ s.factors["u"])
    assert g.final_cosine2["u"] == pytest.approx(cos_svd, abs=1e-3)
    assert abs(g.final_cosine2["u"] - rectangular_bbp(1.0, 0.5)[0]) < 0.08
    # the loss decreases
    assert g.loss[-1] < g.loss[0]


def test_joint_gd_bad_input():
    s = SpikedMatrixTensor(20, 0.5, 0.3).sample(seed=0)
    with pytest.raises(ValueError, match="constraint"):
        joint_gd(s, constraint="box")
    with pytest.raises(ValueError, match="lr"):
        joint_gd(s, lr=-1.0)
    r = joint_gd(s, constraint="ridge", n_steps=10)
    assert r.constraint == "ridge" and np.isfinite(r.loss).all()


def test_errors_are_hdcore_errors():
    assert issubclass(hdcore.NumericalError, hdcore.HdcoreError)
