"""ERM on contaminated regression: agreement with the replica-symmetric fixed point at d = 1000,
determinism across thread counts, fast vs open path, local-minimum check, unboundedness."""

import numpy as np
import pytest

from hdcore.algorithms import erm
from hdcore.errors import NumericalError
from hdcore.ingredients import CustomLoss, Huber, Tukey
from hdcore.models import ContaminatedRegression
from hdcore.theory import erm_fixed_point

MODEL = ContaminatedRegression(d=1000, alpha=10, eps=0.1, delta_in=0.1, delta_out=1.0)


# (loss, lam, standard deviation and mean of the per-seed deviations ERM - theory in
#  (m, q, estimation error, excess error), measured over 24 seeds at d = 1000)
CASES = [
    (Huber(1.0), 0.5, [0.0050, 0.0090, 0.0012, 0.0009], [0.0, 0.0, 0.0, 0.0]),
    (Tukey(2.0), 0.5, [0.0046, 0.0085, 0.0009, 0.0006], [0.0, 0.0, 0.0, 0.0]),
    (Tukey(2.0), -1.0, [0.0045, 0.0110, 0.0021, 0.0029], [0.0020, 0.0053, 0.0012, 0.0016]),
]


@pytest.mark.parametrize("loss,lam,sd,bias", CASES, ids=["huber", "tukey", "tukey-negative-ridge"])
def test_erm_agrees_with_the_replica_fixed_point(loss, lam, sd, bias):
    """ERM at d = 1000, alpha = 10, eps = 0.1 against the fixed point conditional on the
    realised teacher norm ||theta*||^2/d (which alone moves m and q by ~4% at d = 1000).

    Tolerances from the measured spread (CASES): the per-seed deviations are O(d^-1/2)
    fluctuations with the standard deviations `sd`; at the negative ridge they also have a small
    mean `bias` (about 2 standard errors, presumably O(1/d)). Each seed must lie within
    5 sd + bias, the mean of 4 seeds within 1.25 sd + bias (2.5 standard errors)."""
    sd, bias = np.array(sd), np.array(bias)
    dev = []
    for seed in range(4):
        s = MODEL.sample(seed)
        fp = erm_fixed_point(MODEL, loss, lam, teacher_norm=s.teacher_norm)
        assert fp.valid, fp.reason
        r = erm(s, loss, lam, hessian_check=seed == 0)
        assert r.converged, r.message
        if seed == 0:
            assert r.local_minimum and r.hessian_min > 0
        dev.append([r.m - fp.m, r.q - fp.q, r.estimation_error - fp.estimation_error,
                    r.excess_error - fp.excess_error])
    dev = np.array(dev)
    assert np.all(np.abs(dev) < 5 * sd + bias), dev
    assert np.all(np.abs(dev.mean(0)) < 1.25 * sd + bias), dev.mean(0)


def test_the_agreement_test_discriminates_huber_from_tukey():
    # the tolerances above are smaller than the differences they must resolve
    h = erm_fixed_point(MODEL, "huber(1.0)", 0.5)
    t = erm_fixed_point(MODEL, "tukey(2.0)", 0.5)
    assert abs(h.m - t.m) > 3 * 1.25 * 0.005
    assert abs(h.estimation_error - t.estimation_error) > 3 * 1.25 * 0.0012


def test_sample_and_solution_do_not_depend_on_the_thread_count():
    m = ContaminatedRegression(d=300, alpha=20, eps=0.1, delta_in=0.1, delta_out=1.0)
    a, b = m.sample(5, n_threads=1), m.sample(5, n_threads=2)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and np.array_equal(a.theta, b.theta)
    assert np.array_equal(a.outlier, b.outlier)
    for loss in ("huber(1.0)", "tukey(2.0)"):
        r1 = erm(a, loss, 0.3, n_threads=1)
        r2 = erm(a, loss, 0.3, n_threads=2)
        assert np.array_equal(r1.estimate, r2.estimate)
        assert r1.objective == r2.objective and r1.hessian_min == r2.hessian_min


def test_seeds_change_the_sample():
    m = ContaminatedRegression(d=50, alpha=2, eps=0.1, delta_in=0.1, delta_out=1.0)
    assert not np.array_equal(m.sample(1).y, m.sample(2).y)
    rng = np.random.default_rng(0)
    assert not np.array_equal(m.sample(rng).y, m.sample(rng).y)


@pytest.mark.parametrize("loss", ["huber(0.8)", "tukey(1.5)", "cauchy(1.0)"])
def test_fast_and_open_paths_give_the_same_minimiser(loss):
    s = ContaminatedRegression(d=200, alpha=8, eps=0.1, delta_in=0.1, delta_out=1.0).sample(3)
    fast = erm(s, loss, 0.4)
    slow = erm(s, loss, 0.4, open_path=True)
    assert fast.path == "rust" and slow.path == "python"
    assert np.max(np.abs(fast.estimate - slow.estimate)) < 1e-5
    assert fast.objective == pytest.approx(slow.objective, rel=1e-10)
    assert fast.hessian_min == pytest.approx(slow.hessian_min, rel=2e-2)


def test_custom_loss_runs_on_the_open_path():
    s = ContaminatedRegression(d=200, alpha=8, eps=0.1, delta_in=0.1, delta_out=1.0).sample(4)
    a = 0.9
    huber = CustomLoss(lambda r: np.where(np.abs(r) <= a, 0.5 * r * r, a * np.abs(r) - 0.5 * a * a),
                       lambda r: np.clip(r, -a, a), lambda r: (np.abs(r) <= a).astype(float),
                       min_second_derivative=0.0, breakpoints=(-a, a))
    custom = erm(s, huber, 0.2)
    builtin = erm(s, Huber(a), 0.2)
    assert custom.path == "python"
    assert np.max(np.abs(custom.estimate - builtin.estimate)) < 1e-5


def test_sphere_constraint_holds_and_matches_its_theory():
    s = ContaminatedRegression(d=500, alpha=10, eps=0.1, delta_in=0.1, delta_out=1.0).sample(6)
    r = erm(s, "tukey(2.0)", q=0.8)
    assert r.converged and r.q == pytest.approx(0.8, abs=1e-10)
    fp = erm_fixed_point(s.model, "tukey(2.0)", q=0.8, teacher_norm=s.teacher_norm)
    # d = 500, seeds 6-9 measured: |m - m_theory| <= 0.001 (q is fixed, so m barely fluctuates)
    # and |lam_eff - lam_theory| <= 0.07 for lam ~ 0.7-1.1; tolerances about twice those
    assert r.m == pytest.approx(fp.m, abs=0.005)
    assert r.lam_effective == pytest.approx(fp.lam, abs=0.15)
    assert r.local_minimum


def test_absolute_loss_agrees_with_its_theory():
    m = ContaminatedRegression(d=400, alpha=5, eps=0.1, delta_in=0.1, delta_out=1.0)
    devs = []
    for seed in range(2):
        s = m.sample(seed)
        r = erm(s, "absolute", 0.3, hessian_check=False)
        fp = erm_fixed_point(m, "absolute", 0.3, teacher_norm=s.teacher_norm)
        devs.append([r.m - fp.m, r.estimation_error - fp.estimation_error])
    # d = 400: fluctuations ~1.6x those at d = 1000; the Huber smoothing a = 1e-3 adds O(1e-3)
    assert np.all(np.abs(np.array(devs)) < [0.05, 0.02]), devs


def test_square_loss_beyond_the_spectrum_edge_fails_clearly():
    m = ContaminatedRegression(d=200, alpha=4, eps=0.1, delta_in=0.1, delta_out=1.0)
    s = m.sample(0)
    edge = -(np.sqrt(4) - 1) ** 2  # -1 in the limit; the finite-d edge is close
    ok = erm(s, "square", 0.7 * edge)
    assert ok.converged and ok.local_minimum
    for open_path in (False, True):
        with pytest.raises(NumericalError, match="unbounded below"):
            erm(s, "square", 1.5 * edge, open_path=open_path)


def test_negative_ridge_beyond_any_local_minimum_fails_clearly():
    s = ContaminatedRegression(d=200, alpha=4, eps=0.1, delta_in=0.1, delta_out=1.0).sample(1)
    with pytest.raises(NumericalError, match="unbounded below"):
        erm(s, "tukey(1.0)", -3.0)


def test_warm_start_from_the_solution_converges_immediately():
    s = ContaminatedRegression(d=200, alpha=8, eps=0.1, delta_in=0.1, delta_out=1.0).sample(2)
    r = erm(s, "tukey(2.0)", 0.3)
    again = erm(s, "tukey(2.0)", 0.3, init=r.estimate)
    assert again.n_iter <= 1
    assert np.allclose(again.estimate, r.estimate, atol=1e-10)


def test_sphere_fast_and_open_paths_agree():
    s = ContaminatedRegression(d=200, alpha=8, eps=0.1, delta_in=0.1, delta_out=1.0).sample(7)
    fast = erm(s, "cauchy(1.0)", q=0.9)
    slow = erm(s, "cauchy(1.0)", q=0.9, open_path=True)
    assert np.max(np.abs(fast.estimate - slow.estimate)) < 1e-5
    assert fast.lam_effective == pytest.approx(slow.lam_effective, rel=1e-6)
    # tangent-space Hessian: both Lanczos runs bound the same smallest eigenvalue within 1e-2
    assert fast.hessian_min == pytest.approx(slow.hessian_min, rel=2e-2)
    assert fast.local_minimum and slow.local_minimum
