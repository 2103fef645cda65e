"""Theory of weight-decay ERM in quadratic networks (nuclear route, arXiv:2505.17958): the
spectral integrals, the fixed point, the GAMP state evolution and the thresholds, against closed
forms, limits and the convex solver on data."""

import numpy as np
import pytest
from scipy.integrate import quad

import hdcore
from hdcore.algorithms import factorised_gd, nuclear_norm, nuclear_norm_gamp
from hdcore.rmt import MPSemicircle
from hdcore.theory import quadratic_network_erm as Q


def model(alpha, kappa=0.5, noise=0.2, d=40):
    return hdcore.models.MatrixSensing(d, d, alpha, hdcore.models.Wishart(kappa), "quadratic",
                                       noise=noise)


# ---- spectral integrals -----------------------------------------------------------------------

@pytest.mark.parametrize("t", [-2.5, -1.0, 0.0, 0.7, 1.9, 2.5])
def test_semicircle_tail_closed_form(t):
    ref = quad(lambda x: max(x - t, 0.0) ** 2 * np.sqrt(4 - x * x) / (2 * np.pi), -2, 2,
               epsabs=1e-13)[0]
    assert Q._tail2(t) == pytest.approx(ref, abs=1e-9)


def test_threshold_above_the_spectrum_gives_the_prior_error():
    t = Q.spectral_terms(0.5, 0.3, 50.0)
    assert t["divergence"] == 0.0 and t["rank_fraction"] == 0.0
    assert t["mse"] == pytest.approx(1 + 1 / 0.5, abs=1e-6)            # Q0


@pytest.mark.parametrize("kappa", [None, 2.0])
def test_shifted_identity_gives_sigma2_plus_theta2(kappa):
    # theta below the support: eta(x) = x - theta, error sigma^2 + theta^2, D = 1
    sigma2, theta = 0.3, -3.0
    t = Q.spectral_terms(kappa, sigma2, theta)
    assert t["divergence"] == pytest.approx(1.0, abs=1e-6)
    assert t["mse"] == pytest.approx(sigma2 + theta**2, abs=1e-5)


@pytest.mark.parametrize("s2", [0.1, 1.0, 7.0])
def test_pure_noise_projection_has_half_divergence(s2):
    # S* = 0, theta = 0: the PSD projection keeps half the spectrum, D = 1/2, so the ERM
    # interpolates iff 2 alpha < 1/2 (ellipsoid fitting at alpha = 1/4)
    t = Q.spectral_terms(None, s2, 0.0)
    assert t["divergence"] == pytest.approx(0.5, abs=1e-12)
    assert t["rank_fraction"] == pytest.approx(0.5, abs=1e-12)


def test_divergence_equals_the_double_integral():
    # Eq. (2): 2 int eta rho H == iint (eta(x) - eta(y))/(x - y) rho rho (eta' on the diagonal)
    kappa, s2, theta = 0.5, 0.05, 0.8
    q = MPSemicircle(kappa, s2).quadrature(600)
    x, w = q.x, q.w * q.rho
    eta = np.maximum(x - theta, 0.0)
    dx = x[:, None] - x[None, :]
    same = np.abs(dx) < 1e-13                           # the diagonal (and repeated nodes)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(same, (x[:, None] > theta).astype(float),
                     (eta[:, None] - eta[None, :]) / np.where(same, 1.0, dx))
    ref = float(w @ k @ w)
    assert Q.spectral_terms(kappa, s2, theta)["divergence"] == pytest.approx(ref, abs=2e-4)


def test_spectral_terms_converge_in_the_nodes():
    a = Q.spectral_terms(0.5, 0.01, 0.5, n_nodes=24)
    b = Q.spectral_terms(0.5, 0.01, 0.5, n_nodes=200)
    for k in ("divergence", "mse", "rank_fraction"):
        assert a[k] == pytest.approx(b[k], abs=1e-10)


def test_stein_error_matches_a_sampled_denoiser():
    # eta applied to Y = S* + sigma Z at d = 800: error (3) and rank fraction within 1/d-ish
    d, kappa, s2, theta = 800, 0.5, 0.2, 0.6
    rng = np.random.default_rng(0)
    w = rng.standard_normal((int(kappa * d), d))
    s = w.T @ w / w.shape[0]
    z = rng.standard_normal((d, d))
    z = (z + z.T) / np.sqrt(2 * d)
    lam, vec = np.linalg.eigh(s + np.sqrt(s2) * z)
    est = (vec * np.maximum(lam - theta, 0.0)) @ vec.T
    t = Q.spectral_terms(kappa, s2, theta)
    assert np.sum((est - s) ** 2) / d == pytest.approx(t["mse"], rel=0.02)
    assert np.mean(lam > theta) == pytest.approx(t["rank_fraction"], abs=0.01)


# ---- the fixed point --------------------------------------------------------------------------

def test_fixed_point_equations_hold():
    fp = Q.quadratic_erm(model(0.5), 0.05)
    t = Q.spectral_terms(0.5, fp.sigma2, fp.theta)
    assert fp.sigma2 == pytest.approx((0.2 / 2 + t["mse"]) / (2 * 0.5), rel=1e-9)
    assert fp.theta * (2 * 0.5 - t["divergence"]) == pytest.approx(0.05, rel=1e-9)
    assert fp.test_error == 2 * fp.mse
    assert fp.variance == pytest.approx(t["divergence"] / (1 - t["divergence"]))


def test_huge_penalty_gives_the_null_estimator():
    fp = Q.quadratic_erm(model(0.5), 1e4)
    assert fp.rank_fraction == 0.0
    assert fp.mse == pytest.approx(3.0, abs=1e-6)                       # Q0
    assert fp.train_error == pytest.approx(0.2 + 2 * 3.0, rel=1e-6)      # Var y


def test_error_decreases_with_alpha_and_train_below_test():
    errs = [Q.quadratic_erm(model(a), 0.05) for a in (0.2, 0.35, 0.5, 0.8)]
    mse = [e.mse for e in errs]
    assert all(np.diff(mse) < 0)
    assert all(e.train_error < e.test_error + e.noise for e in errs)


def test_interpolation_regime_at_vanishing_penalty():
    below, above = Q.quadratic_erm(model(0.25), 0.0), Q.quadratic_erm(model(0.6), 0.0)
    assert below.interpolating and below.train_error == 0.0 and below.theta > 0
    assert below.divergence == pytest.approx(2 * 0.25, abs=1e-9)
    assert not above.interpolating and above.theta == 0.0 and above.train_error > 0
    # a small penalty is continuous with lam = 0+
    near = Q.quadratic_erm(model(0.25), 1e-6)
    assert near.mse == pytest.approx(below.mse, rel=1e-3)


def test_noiseless_exact_recovery_above_alpha_sr():
    th = Q.quadratic_erm_thresholds(0.5)
    lo = Q.quadratic_erm(model(th.alpha_sr - 0.02, noise=0.0), 0.0)
    hi = Q.quadratic_erm(model(th.alpha_sr + 0.02, noise=0.0), 0.0)
    assert lo.mse > 1e-4 and not lo.exact_recovery
    assert hi.mse == 0.0 and hi.exact_recovery and hi.rank_fraction == 0.5


def test_width_flag():
    fp = Q.quadratic_erm(model(0.5), 0.05, width=0.3)
    assert not fp.width_sufficient and fp.rank_fraction > 0.3
    assert Q.quadratic_erm(model(0.5), 0.05, width=1.0).width_sufficient


def test_state_evolution_converges_to_the_fixed_point():
    m = model(0.8)
    se = Q.quadratic_erm_state_evolution(m, 0.2, n_iter=400)
    fp = Q.quadratic_erm(m, 0.2)
    assert se.converged
    assert se.mse[-1] == pytest.approx(fp.mse, abs=1e-8)
    assert se.variance[-1] == pytest.approx(fp.variance, rel=1e-6)
    assert se.theta[-1] == pytest.approx(fp.theta, rel=1e-6)


def test_curve_and_progress():
    c = Q.quadratic_erm_curve(model(0.5), [0.3, 0.6], 0.1)
    assert c["mse"].shape == (2,) and c["mse"][1] < c["mse"][0]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "x"])
def test_bad_penalty_raises(bad):
    with pytest.raises((ValueError, TypeError), match="lam"):
        Q.quadratic_erm(model(0.5), bad)


def test_rectangular_model_is_rejected():
    m = hdcore.models.MatrixSensing(20, 30, 0.5, hdcore.models.Product(0.5))
    with pytest.raises(ValueError, match="model"):
        Q.quadratic_erm(m, 0.1)


# ---- thresholds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kappa", [0.05, 0.3, 0.5, 0.8, 0.95])
def test_threshold_ordering(kappa):
    th = Q.quadratic_erm_thresholds(kappa)
    assert th.alpha_bo < th.alpha_sr < th.alpha_inter < 0.5
    assert th.alpha_bo == pytest.approx(
        hdcore.theory.perfect_recovery_threshold(model(0.5, kappa=kappa)))


def test_thresholds_limits():
    one = Q.quadratic_erm_thresholds(1.0)
    assert one.alpha_bo == one.alpha_sr == one.alpha_inter == 0.5
    assert Q.quadratic_erm_thresholds(1e-6).alpha_inter == pytest.approx(0.25, abs=1e-5)
    assert Q.quadratic_erm_thresholds(1 - 1e-6).alpha_sr == pytest.approx(0.5, abs=1e-5)


def test_noisy_interpolation_threshold_between_ellipsoid_fitting_and_the_tangent_cone():
    inter = Q.quadratic_erm_thresholds(0.5).alpha_inter
    # the tangent-cone value is the Delta -> 0 limit (approached slowly: 0.428 at Delta = 1e-4,
    # 0.4354 at 1e-6, 0.4370 at 1e-8 for kappa = 1/2)
    small = Q.interpolation_threshold(model(0.3, noise=1e-8))
    mid = Q.interpolation_threshold(model(0.3, noise=0.5))
    large = Q.interpolation_threshold(model(0.3, noise=1e4))
    assert large < mid < small < inter
    assert small == pytest.approx(inter, abs=1.5e-3)
    assert large == pytest.approx(0.25, abs=5e-3)
    # at the threshold the lam = 0+ solution switches from interpolating to not
    assert Q.quadratic_erm(model(mid - 0.01, noise=0.5), 0.0).interpolating
    assert not Q.quadratic_erm(model(mid + 0.01, noise=0.5), 0.0).interpolating


# ---- against the convex solver on data -----------------------------------------------------------

def _fista(d, alpha, lam, noise, seeds):
    out = []
    for seed in seeds:
        s = model(alpha, noise=noise, d=d).sample(seed=seed)
        r = nuclear_norm(s, lam=lam * d, psd=True, n_iter=3000, tol=1e-8)
        ev = np.linalg.eigvalsh(r.estimate)
        out.append((r.mse, r.residual, np.mean(ev > 1e-6 * ev.max())))
    return np.array(out)


def _gamp(d, alpha, lam, noise, seeds, sensing="quadratic"):
    out = []
    for seed in seeds:
        m = hdcore.models.MatrixSensing(d, d, alpha, hdcore.models.Wishart(0.5), sensing,
                                        noise=noise)
        r = nuclear_norm_gamp(m.sample(seed), lam=lam * d, damping=0.5, n_iter=500, tol=1e-10)
        assert r.converged
        out.append((r.mse, r.train_error, r.rank_fraction))
    return np.array(out)


def test_theory_matches_gamp_at_two_sizes():
    # GAMP's fixed point is the convex minimiser (tests/test_nuclear_norm_gamp.py); at
    # d = 40 / 120 the MSE gap to the theory falls like ~3/d (0.058 -> 0.029 here)
    alpha, lam, noise = 0.45, 0.2, 0.5
    fp = Q.quadratic_erm(model(alpha, noise=noise), lam)
    small = _gamp(40, alpha, lam, noise, range(4)).mean(0)
    large = _gamp(120, alpha, lam, noise, range(2)).mean(0)
    assert abs(large[0] - fp.mse) < abs(small[0] - fp.mse)
    assert large[0] == pytest.approx(fp.mse, rel=0.12)
    assert large[1] == pytest.approx(fp.train_error, rel=0.05)
    assert large[2] == pytest.approx(fp.rank_fraction, abs=0.02)


def test_state_evolution_tracks_the_gamp_iterates():
    # undamped GAMP on Gaussian sensing, iterate by iterate (d = 120: within 2%)
    m = hdcore.models.MatrixSensing(120, 120, 0.6, hdcore.models.Wishart(0.5), "gaussian",
                                    noise=0.3)
    r = nuclear_norm_gamp(m.sample(1), lam=0.2 * 120, n_iter=12, tol=0.0)
    se = Q.quadratic_erm_state_evolution(m, 0.2, n_iter=12)
    np.testing.assert_allclose(r.mse_trace[:12], se.mse[:12], rtol=0.03)


@pytest.mark.slow
def test_theory_matches_fista_at_two_sizes():
    alpha, lam, noise = 0.5, 0.05, 0.2
    fp = Q.quadratic_erm(model(alpha, noise=noise), lam)
    small = _fista(24, alpha, lam, noise, range(3)).mean(0)
    large = _fista(48, alpha, lam, noise, range(2)).mean(0)
    gap_small, gap_large = abs(small[0] - fp.mse), abs(large[0] - fp.mse)
    assert gap_large < gap_small                      # the finite-size gap shrinks
    assert large[0] == pytest.approx(fp.mse, rel=0.25)
    assert large[1] == pytest.approx(fp.train_error, rel=0.1)
    assert large[2] == pytest.approx(fp.rank_fraction, abs=0.05)


def test_gd_at_the_mapped_weight_decay_reaches_the_convex_optimum_iff_wide_enough():
    d, alpha, lam = 20, 0.5, 0.1
    s = model(alpha, d=d).sample(seed=1)
    cvx = nuclear_norm(s, lam=lam * d, psd=True, n_iter=5000, tol=1e-11).estimate
    rank = int(np.sum(np.linalg.eigvalsh(cvx) > 1e-6))
    wide = factorised_gd(s, width=d, weight_decay=lam / (2 * alpha), n_steps=8000, lr=0.3, tol=0)
    narrow = factorised_gd(s, width=max(rank // 2, 1), weight_decay=lam / (2 * alpha),
                           n_steps=8000, lr=0.3, tol=0)
    rel = [np.linalg.norm(g.estimate - cvx) / np.linalg.norm(cvx) for g in (wide, narrow)]
    assert rel[0] < 1e-3 < 0.03 < rel[1]


def test_noiseless_min_trace_fista_recovers_above_alpha_sr_and_not_below():
    # lam -> 0+ (FISTA's continuation): alpha_SR(1/2) = 0.422; theory MSE 0.32 at alpha = 0.3
    d = 24
    below = [nuclear_norm(model(0.3, noise=0.0, d=d).sample(seed=s), lam=None, lam_min=1e-4,
                          n_iter=4000, tol=1e-9).mse for s in range(2)]
    above = [nuclear_norm(model(0.6, noise=0.0, d=d).sample(seed=s), lam=None, lam_min=1e-4,
                          n_iter=4000, tol=1e-9).mse for s in range(2)]
    fp = Q.quadratic_erm(model(0.3, noise=0.0), 0.0)
    assert min(below) > 0.5 * fp.mse > 0.1
    assert max(above) < 1e-3
