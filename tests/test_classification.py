"""ERM theory added for issue 22 (hdcore.theory.classification): the lasso and elastic-net replica
fixed points against the Rust coordinate-descent solver on data (itself checked against a NumPy
FISTA), the Donoho-Tanner line and the ridge / lasso limits; and the compressed-sensing study's
scalar state evolution against the generic GLM state evolution."""

import numpy as np
import pytest
from scipy.special import ndtr

from hdcore.algorithms import lasso
from hdcore.models import ContaminatedRegression
from hdcore.models.multi_index import MultiIndex
from hdcore.studies.compressed_sensing import (bayes_free_entropy, bayes_state_evolution,
                                               cs_thresholds, lasso_fista, se_fixed_points)
from hdcore.theory import glm, ridge_closed_form
from hdcore.theory.classification import (donoho_tanner_alpha, donoho_tanner_rho,
                                          elastic_net_fixed_point, lasso_fixed_point)


def _sample(alpha, rho, noise, d, seed):
    return MultiIndex(d=d, alpha=alpha, p=1, link="linear", prior=f"gauss_bernoulli({rho})",
                      noise=noise).sample(seed)


def _lasso_on_data(alpha, rho, noise, lam, d, *, n_seeds, lam2=0.0, tol=1e-10):
    """Per-seed MSE and sparsity of the lasso / elastic net on compressed-sensing samples."""
    mse, spars = [], []
    for seed in range(n_seeds):
        res = lasso(_sample(alpha, rho, noise, d, seed), lam, lam2=lam2, tol=tol)
        assert res.converged, res.message
        mse.append(res.estimation_error)
        spars.append(res.sparsity)
    return mse, spars


@pytest.mark.parametrize("lam1, lam2", [(0.05, 0.0), (0.02, 0.1), (1e-3, 0.0)])
def test_coordinate_descent_lasso_agrees_with_the_numpy_fista_reference(lam1, lam2):
    s = _sample(0.6, 0.2, 1e-2 if lam1 > 1e-2 else 0.0, 400, 1)
    res = lasso(s, lam1, lam2=lam2, tol=1e-12)
    assert res.converged and res.kkt <= 1e-12
    w, _ = lasso_fista(s.x, s.y, lam1, lam2=lam2, tol=1e-20, max_iter=200000)
    fista_obj = (0.5 * np.sum((s.y - s.x @ w) ** 2) + lam1 * np.sum(np.abs(w))
                 + 0.5 * lam2 * np.sum(w * w))
    assert res.objective <= fista_obj * (1 + 1e-12)
    assert res.objective == pytest.approx(fista_obj, rel=1e-9)
    assert np.max(np.abs(res.estimate - w)) < 1e-5
    assert res.sparsity == pytest.approx(np.mean(w != 0), abs=2 / 400)
    # float32 storage solves the problem of the rounded design; any thread count gives the same w
    x32 = s.x.astype(np.float32)
    r32 = lasso((x32, s.y), lam1, lam2=lam2, tol=1e-12, n_threads=1)
    r32b = lasso((x32, s.y), lam1, lam2=lam2, tol=1e-12, n_threads=2)
    r64 = lasso((x32.astype(np.float64), s.y), lam1, lam2=lam2, tol=1e-12)
    assert np.array_equal(r32.estimate, r64.estimate) and np.array_equal(r32.estimate, r32b.estimate)
    assert np.isnan(r32.m) and r32.q == pytest.approx(res.q, rel=1e-3)


def test_lasso_validates_its_arguments():
    s = _sample(0.5, 0.1, 1e-2, 50, 0)
    with pytest.raises(ValueError, match="`lam1`"):
        lasso(s, -1.0)
    with pytest.raises(ValueError, match="`lam2`"):
        lasso(s, 0.1, lam2=float("nan"))
    with pytest.raises(ValueError, match="`y`"):
        lasso((s.x, s.y[:-1]), 0.1)
    with pytest.raises(ValueError, match="`w0`"):
        lasso(s, 0.1, w0=np.zeros(3))
    with pytest.raises(ValueError, match="`x`"):
        bad = s.x.copy()
        bad[0, 0] = np.nan
        lasso((bad, s.y), 0.1)
    with pytest.raises(TypeError, match="`sample`"):
        lasso([s.x, s.y], 0.1)
    with pytest.raises(TypeError, match="`x`"):
        lasso((s.x.astype(int), s.y), 0.1)
    with pytest.raises(ValueError, match="p = 2"):
        lasso(MultiIndex(d=20, alpha=2.0, p=2, link="linear").sample(0), 0.1)
    res = lasso(s, 0.1, max_sweeps=1, tol=1e-15)
    assert not res.converged and "max_sweeps" in res.message


@pytest.mark.slow
def test_donoho_tanner_line_is_where_the_noiseless_lasso_error_stops_vanishing():
    for rho in (0.1, 0.3):
        a_dt = donoho_tanner_alpha(rho)
        # independent check of the DT formula: at alpha_DT the slope at tau = 0 of the
        # noiseless calibration map, minimised over the threshold kappa, equals 1
        k = np.linspace(1e-3, 6, 20001)
        phi = np.exp(-k * k / 2) / np.sqrt(2 * np.pi)
        slope = (rho * (1 + k * k) + (1 - rho) * 2 * ((1 + k * k) * ndtr(-k) - k * phi)) / a_dt
        assert slope.min() == pytest.approx(1.0, abs=1e-6)
        # above the line the lasso error vanishes like lam^2; below it it does not
        above = [lasso_fixed_point(1.15 * a_dt, f"gauss_bernoulli({rho})", lam1=lam).estimation_error
                 for lam in (1e-2, 1e-3)]
        below = [lasso_fixed_point(0.85 * a_dt, f"gauss_bernoulli({rho})", lam1=lam).estimation_error
                 for lam in (1e-2, 1e-3)]
        assert above[1] < 1e-5 and above[0] / above[1] > 50
        assert below[1] > 1e-3 and below[0] / below[1] < 2
    # rho_DT(delta) is increasing with rho_DT(1) -> 1
    r = [donoho_tanner_rho(d) for d in (0.1, 0.3, 0.6, 0.999)]
    assert np.all(np.diff(r) > 0) and r[-1] > 0.95


def test_lasso_on_data_matches_the_replica_fixed_point():
    # alpha = 0.6, rho = 0.2, noise 1e-2, lam = 0.05, d = 1000 and 3000, 3 seeds: the relative
    # MSE gap to theory is below 10% at d = 3000 (about 3 standard errors), sparsity within 0.03
    alpha, rho, noise, lam = 0.6, 0.2, 1e-2, 0.05
    fp = lasso_fixed_point(alpha, f"gauss_bernoulli({rho})", lam1=lam, noise=noise)
    gaps = []
    for d in (1000, 3000):
        mse, spars = _lasso_on_data(alpha, rho, noise, lam, d, n_seeds=3)
        gaps.append(abs(np.mean(mse) / fp.estimation_error - 1))
        assert np.mean(spars) == pytest.approx(fp.sparsity, abs=0.03)
    assert gaps[1] < 0.1


def test_lasso_fixed_point_by_lam_and_by_kappa_agree():
    fp = lasso_fixed_point(0.5, "gauss_bernoulli(0.1)", lam1=0.05, noise=1e-3)
    again = lasso_fixed_point(0.5, "gauss_bernoulli(0.1)", kappa=fp.kappa, noise=1e-3)
    assert again.lam1 == pytest.approx(0.05, rel=1e-8)
    assert again.estimation_error == pytest.approx(fp.estimation_error, rel=1e-8)
    assert fp.V == pytest.approx(fp.sparsity / (0.5 - fp.sparsity))
    with pytest.raises(ValueError, match="exactly one"):
        lasso_fixed_point(0.5, lam1=0.1, kappa=1.0)
    with pytest.raises(ValueError, match="prior"):
        lasso_fixed_point(0.5, "rademacher", lam1=0.1)


def test_compressed_sensing_scalar_se_matches_the_generic_glm_state_evolution():
    rho, noise = 0.1, 1e-4
    for alpha in (0.15, 0.25):
        model = MultiIndex(d=10, alpha=alpha, p=1, link="linear", prior=f"gauss_bernoulli({rho})",
                           noise=noise)
        for init, which in (("uninformative", 0), ("informative", 1)):
            se = glm.gamp_state_evolution(model, init=init, tol=1e-13, n_iter=5000)
            ours = bayes_state_evolution(alpha, rho, noise, init=init)[0]
            assert ours == pytest.approx(se.mse, rel=1e-4)
            assert se_fixed_points(alpha, rho, noise)[which][0] == pytest.approx(ours, rel=1e-6)
            phi = bayes_free_entropy(alpha, rho, noise, ours)
            assert phi == pytest.approx(glm.glm_free_entropy(model, 1 - ours), abs=1e-6)


def test_compressed_sensing_thresholds_are_ordered_and_consistent():
    th = cs_thresholds(0.1, 1e-4, xtol=1e-4)
    assert th["alpha_sp"] < th["alpha_it"] < th["alpha_alg"]
    # noiseless-limit bounds: the IT threshold is above rho, AMP needs less than basis pursuit
    assert 0.1 < th["alpha_it"] and th["alpha_alg"] < donoho_tanner_alpha(0.1)
    lo, hi = se_fixed_points(np.array([0.5 * (th["alpha_it"] + th["alpha_alg"])]), 0.1, 1e-4)
    assert lo[0] > 10 * hi[0]  # two branches inside the hard phase


def test_elastic_net_reduces_to_the_lasso_and_to_ridge():
    alpha, prior, noise = 0.6, "gauss_bernoulli(0.2)", 1e-2
    lasso = lasso_fixed_point(alpha, prior, lam1=0.05, noise=noise)
    en = elastic_net_fixed_point(alpha, prior, lam1=0.05, lam2=1e-7, noise=noise)
    for k in ("m", "q", "V", "sparsity"):
        assert getattr(en, k) == pytest.approx(getattr(lasso, k), rel=1e-5), k
    ridge = ridge_closed_form(ContaminatedRegression(d=10, alpha=alpha, eps=0.0, delta_in=noise,
                                                     delta_out=0.0), 0.3)
    en = elastic_net_fixed_point(alpha, prior, lam1=0.0, lam2=0.3, noise=noise)
    for k in ("m", "q", "V"):
        assert getattr(en, k) == pytest.approx(ridge[k], rel=1e-9), k
    assert en.sparsity == 1.0


def test_elastic_net_on_data_matches_the_replica_fixed_point():
    alpha, rho, noise, lam1, lam2 = 0.6, 0.2, 1e-2, 0.05, 0.1
    fp = elastic_net_fixed_point(alpha, f"gauss_bernoulli({rho})", lam1=lam1, lam2=lam2, noise=noise)
    mse, spars = _lasso_on_data(alpha, rho, noise, lam1, 2000, n_seeds=3, lam2=lam2)
    assert np.mean(mse) == pytest.approx(fp.estimation_error, rel=0.1)
    assert np.mean(spars) == pytest.approx(fp.sparsity, abs=0.03)


def test_elastic_net_validates_its_arguments():
    with pytest.raises(ValueError, match="`lam2`"):
        elastic_net_fixed_point(0.5, lam1=0.1, lam2=0.0)
    with pytest.raises(ValueError, match="`lam1`"):
        elastic_net_fixed_point(0.5, lam1=-0.1, lam2=0.1)


@pytest.mark.slow
def test_noiseless_lasso_on_data_recovers_above_the_donoho_tanner_line_at_two_sizes():
    # rho = 0.1 (alpha_DT = 0.329), noise 0, lam1 = 1e-3, 4 seeds. Above the line (1.3 alpha_DT)
    # the lasso on data matches the replica MSE (2.1e-6, i.e. exact recovery up to the O(lam^2)
    # shrinkage bias): measured 2.8e-6 (d = 300) and 2.0e-6 (d = 1200). Below it (0.75 alpha_DT)
    # recovery fails at both sizes: MSE O(0.1), five orders of magnitude above.
    rho, lam = 0.1, 1e-3
    a_dt = donoho_tanner_alpha(rho)

    def sim(alpha, d, lam1):
        mse, _ = _lasso_on_data(alpha, rho, 0.0, lam1, d, n_seeds=4, tol=1e-11)
        return float(np.mean(mse))

    above = 1.3 * a_dt
    theory = lasso_fixed_point(above, f"gauss_bernoulli({rho})", lam1=lam, noise=0.0).estimation_error
    assert theory < 1e-5
    rel = {d: abs(sim(above, d, lam) / theory - 1) for d in (300, 1200)}
    assert rel[300] < 0.6 and rel[1200] < 0.25, rel
    below = 0.75 * a_dt
    assert lasso_fixed_point(below, f"gauss_bernoulli({rho})", lam1=1e-2,
                             noise=0.0).estimation_error > 0.1
    assert min(sim(below, d, 1e-2) for d in (200, 400)) > 1e-2
