"""GAMP for ERM (proximal GAMP) on contaminated regression: agreement with the replica-symmetric
fixed point at d = 1000, with the L-BFGS ERM on the same sample and with the ridge closed form;
validity flags (multivalued prox, A + lam <= 0); fixed-variance variant; bad input."""

import numpy as np
import pytest

from hdcore.algorithms import erm, erm_gamp
from hdcore.ingredients import CustomLoss, Huber, Tukey
from hdcore.models import ContaminatedRegression
from hdcore.theory import erm_fixed_point

MODEL = ContaminatedRegression(d=1000, alpha=10, eps=0.1, delta_in=0.1, delta_out=1.0)
SMALL = ContaminatedRegression(d=300, alpha=10, eps=0.1, delta_in=0.1, delta_out=1.0)

# (loss, lam, standard deviation of the per-seed deviations GAMP - theory in (m, q, V, estimation
#  error, excess error), measured over seeds 0-23 at d = 1000 with the fixed point conditional on
#  the realised teacher norm). The means of the 24 deviations are within one standard error
#  (sd/sqrt(24)) of 0, i.e. no visible bias. GAMP reaches the same point as L-BFGS ERM
#  (1 - cosine < 1e-14), so these are the finite-size fluctuations of the estimator itself,
#  O(d^-1/2): m 0.005, q 0.009, estimation error 0.001 (0.003 at the negative ridge). V is
#  self-averaging over the n samples (sd 2e-4 to 1e-3); with fixed_variance="theory" it is the
#  theory's by construction.
CASES = [
    (Huber(1.0), 0.5, [0.0051, 0.0094, 0.0002, 0.0012, 0.0008]),
    (Tukey(2.0), 0.5, [0.0045, 0.0085, 0.0006, 0.0008, 0.0007]),
    (Tukey(2.0), -1.0, [0.0063, 0.0153, 0.0011, 0.0029, 0.0041]),
]


@pytest.mark.parametrize("loss,lam,sd", CASES, ids=["huber", "tukey", "tukey-negative-ridge"])
@pytest.mark.parametrize("fixed_variance", [None, "theory"], ids=["adaptive", "fixed-variance"])
def test_gamp_agrees_with_the_replica_fixed_point(loss, lam, sd, fixed_variance):
    """GAMP at d = 1000, alpha = 10, eps = 0.1 (delta_in = 0.1, delta_out = 1) against the fixed
    point conditional on the realised teacher norm: each of 4 seeds within 5 sd, their mean within
    1.25 sd (2.5 standard errors of a 4-seed mean), with `sd` the measured spread (CASES)."""
    sd = np.array(sd)
    dev = []
    for seed in range(4):
        s = MODEL.sample(seed)
        fp = erm_fixed_point(MODEL, loss, lam, teacher_norm=s.teacher_norm)
        assert fp.valid, fp.reason
        r = erm_gamp(s, loss, lam, fixed_variance=fixed_variance)
        assert r.converged and r.prox_single_valued and r.reason == "", r.reason
        assert r.grad_norm < 1e-5  # a stationary point of the empirical risk
        if fixed_variance is not None:
            assert np.all(r.V == fp.V) and r.fixed_variance == fp.V
        dev.append([r.m[-1] - fp.m, r.q[-1] - fp.q, r.V[-1] - fp.V,
                    r.estimation_error - fp.estimation_error, r.excess_error - fp.excess_error])
    dev = np.array(dev)
    assert np.all(np.abs(dev) < 5 * sd), dev
    assert np.all(np.abs(dev.mean(0)) < 1.25 * sd), dev.mean(0)


@pytest.mark.parametrize("loss,lam", [("huber(1.0)", 0.5), ("tukey(2.0)", 0.5), ("huber(1.0)", None)],
                         ids=["huber", "tukey", "huber-sphere"])
def test_gamp_reaches_the_erm_estimate_on_the_same_sample(loss, lam):
    # convex loss: the unique minimiser; Tukey: the local minimum that L-BFGS reaches from its
    # Huber warm start (measured 1 - cosine ~ 5e-15 at d = 1000)
    s = SMALL.sample(7)
    kw = {"lam": lam} if lam is not None else {"q": 0.8}
    g = erm_gamp(s, loss, **kw)
    e = erm(s, loss, **kw, gtol=1e-10, hessian_check=False)
    cos = g.estimate @ e.estimate / np.linalg.norm(g.estimate) / np.linalg.norm(e.estimate)
    assert g.converged and 1 - cos < 1e-10
    assert abs(g.m[-1] - e.m) < 1e-6 and abs(g.q[-1] - e.q) < 1e-6
    assert abs(g.lam_effective - e.lam_effective) < 1e-5


@pytest.mark.parametrize("lam", [0.5, -2.0, -4.0])
def test_square_loss_ridge_matches_the_closed_form(lam):
    # lam = -4 is inside the bottom edge -(sqrt(10) - 1)^2 = -4.68 of the spectrum of X^T X/d
    s = SMALL.sample(3)
    x, y = s.x, s.y
    d = x.shape[1]
    w = np.linalg.solve(x.T @ x / d + lam * np.eye(d), x.T @ y / np.sqrt(d))
    r = erm_gamp(s, "square", lam, tol=1e-24)
    assert r.converged
    assert np.max(np.abs(r.estimate - w)) < 1e-8
    # for the square loss A = (n/d)/(1 + V) does not depend on the data, so GAMP's variance
    # recursion V = 1/(A + lam) is the fixed-point equation itself: V is the asymptotic one (the
    # Marchenko-Pastur Stieltjes transform), not the empirical (1/d) tr (X^T X/d + lam)^-1 (which
    # differs by ~1e-3 here)
    fp = erm_fixed_point(SMALL, "square", lam)
    assert abs(r.V[-1] - fp.V) < 1e-10


def test_negative_ridge_beyond_the_spectrum_edge_is_flagged():
    # the theory has no fixed point below lam = -4.68 and the objective is unbounded below
    r = erm_gamp(SMALL.sample(3), "square", -6.0)
    assert not r.converged and "A + lam" in r.reason
    assert not erm_fixed_point(SMALL, "square", -6.0).valid


def test_tukey_at_small_alpha_is_flagged_as_multivalued():
    # Tukey(1) at alpha = 1.5, lam = 0.05: the fixed point is pushed to V = 5/4, GAMP's variance
    # (already that of its Huber warm start, ~2.4) exceeds it: the loop stops and says why
    m = ContaminatedRegression(d=400, alpha=1.5, eps=0.1, delta_in=0.1, delta_out=1.0)
    s = m.sample(0)
    assert not erm_fixed_point(m, "tukey(1.0)", 0.05).valid
    for init in ("auto", "zeros"):
        r = erm_gamp(s, "tukey(1.0)", 0.05, init=init)
        assert not r.converged and not r.prox_single_valued
        assert r.V[-1] >= 1.25 and "multivalued" in r.reason
        assert np.all(np.isfinite(r.estimate))


def test_fixed_variance_reaches_the_same_stationary_point():
    s = SMALL.sample(2)
    a = erm_gamp(s, "tukey(2.0)", 0.5)
    b = erm_gamp(s, "tukey(2.0)", 0.5, fixed_variance=0.3)
    assert a.converged and b.converged and np.all(b.V == 0.3)
    assert np.max(np.abs(a.estimate - b.estimate)) < 1e-6


def test_results_do_not_depend_on_the_thread_count():
    s = SMALL.sample(4)
    a = erm_gamp(s, "tukey(2.0)", 0.5, n_threads=1)
    b = erm_gamp(s, "tukey(2.0)", 0.5, n_threads=2)
    assert np.array_equal(a.estimate, b.estimate) and np.array_equal(a.m, b.m)


def test_random_start_and_float32_design_run():
    s = SMALL.sample(5)
    r = erm_gamp(s, "huber(1.0)", 0.5, init="random", seed=3)
    ref = erm_gamp(s, "huber(1.0)", 0.5)
    assert r.converged and np.max(np.abs(r.estimate - ref.estimate)) < 1e-5
    s32 = SMALL.sample(5, dtype="float32")
    r32 = erm_gamp(s32, "huber(1.0)", 0.5)
    assert r32.converged and abs(r32.m[-1] - ref.m[-1]) < 1e-3


def test_bad_input_raises_naming_the_argument():
    s = SMALL.sample(0)
    with pytest.raises(ValueError, match="lam"):
        erm_gamp(s, "huber(1.0)", float("nan"))
    with pytest.raises(ValueError, match="exactly one"):
        erm_gamp(s, "huber(1.0)", 0.5, q=1.0)
    with pytest.raises(ValueError, match="tau"):
        erm_gamp(s, Tukey(0.0), 0.5)
    with pytest.raises(ValueError, match="tau|param"):
        erm_gamp(s, "tukey(-1)", 0.5)
    with pytest.raises(ValueError, match="fixed_variance"):
        erm_gamp(s, "tukey(2.0)", 0.5, fixed_variance=1.25)
    with pytest.raises(ValueError, match="fixed_variance"):
        erm_gamp(s, "huber(1.0)", 0.5, fixed_variance=-0.1)
    with pytest.raises(ValueError, match="init"):
        erm_gamp(s, "huber(1.0)", 0.5, init=np.zeros(5))
    with pytest.raises(ValueError, match="init"):
        erm_gamp(s, "huber(1.0)", 0.5, init="informative")
    with pytest.raises(ValueError, match="damping"):
        erm_gamp(s, "huber(1.0)", 0.5, damping=1.0)
    with pytest.raises(ValueError, match="q"):
        erm_gamp(s, "huber(1.0)", q=0.0)
    with pytest.raises(TypeError, match="sample"):
        erm_gamp(s.x, "huber(1.0)", 0.5)
    with pytest.raises(TypeError, match="loss"):
        erm_gamp(s, CustomLoss(lambda r: r**2 / 2, lambda r: r), 0.5)
