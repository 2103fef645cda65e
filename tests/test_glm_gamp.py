"""Bayes GAMP for GLMs and multi-index models: state evolution, paths, determinism, errors."""

import dataclasses

import numpy as np
import pytest

from hdcore.algorithms import gamp
from hdcore.models import MultiIndex
from hdcore.theory import state_evolution


# Per-seed standard deviations of the final overlap measured at d = 2000 (six seeds each):
# 0.006 (linear, sign and relu with Gaussian prior), 0.019 (sign with Rademacher prior at
# alpha = 1, z1 z2 at alpha = 1.5). The tolerances are about 4 of those standard deviations.
@pytest.mark.parametrize("link,p,prior,alpha,noise,tol", [
    ("linear", 1, "gaussian", 1.0, 0.1, 0.025),
    ("sign", 1, "gaussian", 2.0, 0.0, 0.025),
    ("sign", 1, "rademacher", 1.0, 0.0, 0.075),
    ("relu", 1, "gaussian", 1.5, 0.0, 0.025),
    ("z1*z2", 2, "gaussian", 1.5, 0.0, 0.075),
])
def test_gamp_follows_state_evolution(link, p, prior, alpha, noise, tol):
    model = MultiIndex(d=2000, alpha=alpha, p=p, link=link, prior=prior, noise=noise)
    res = gamp(model.sample(seed=11), seed=11)
    se = state_evolution(model, tol=1e-8)
    assert res.converged
    assert res.final_overlap == pytest.approx(se.final_overlap, abs=tol)
    # Nishimori: M = Q for the Bayes estimator up to the symmetries of the link (z1 z2 is
    # invariant under swapping and sign flips, so compare singular values of M with the
    # eigenvalues of Q), and A tracks Qhat (looser: A averages n fluctuating Jacobians)
    m, q = res.m[-1], res.q[-1]
    np.testing.assert_allclose(np.linalg.svd(m, compute_uv=False), np.linalg.eigvalsh(q)[::-1],
                               atol=3 * tol)
    np.testing.assert_allclose(np.linalg.eigvalsh(res.a), np.linalg.eigvalsh(se.qhat[-1]),
                               rtol=0.25, atol=0.1)


def test_fast_and_open_paths_give_the_same_numbers():
    for model in (MultiIndex(d=400, alpha=2.0, p=1, link="sign", prior="rademacher"),
                  MultiIndex(d=300, alpha=2.0, p=2, link="z1*z2", prior="gaussian"),
                  MultiIndex(d=300, alpha=1.5, p=1, link="square", prior="sparse_rademacher(0.5)")):
        s = model.sample(seed=2)
        fast = gamp(s, n_iter=25, tol=0.0)
        slow = gamp(s, n_iter=25, tol=0.0, open_path=True)
        assert fast.n_iter == slow.n_iter
        np.testing.assert_allclose(fast.overlap, slow.overlap, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(fast.estimate, slow.estimate, rtol=1e-7, atol=1e-10)
        # user callables with the same signatures (the open path's plug-in points)
        ch, pp = model.channel, model.product_prior
        custom = gamp(s, n_iter=25, tol=0.0, channel=lambda y, om, v, ch=ch: ch.g_out(y, om, v),
                      denoiser=lambda b, a, pp=pp: pp.denoise(b, a))
        np.testing.assert_array_equal(custom.estimate, slow.estimate)


def test_results_do_not_depend_on_the_thread_count():
    s = MultiIndex(d=600, alpha=2.0, p=2, link="sign(z1*z2)").sample(seed=5, n_threads=1)
    s2 = MultiIndex(d=600, alpha=2.0, p=2, link="sign(z1*z2)").sample(seed=5, n_threads=2)
    np.testing.assert_array_equal(s.x, s2.x)
    np.testing.assert_array_equal(s.y, s2.y)
    a = gamp(s, n_iter=15, n_threads=1)
    b = gamp(s, n_iter=15, n_threads=2)
    np.testing.assert_array_equal(a.estimate, b.estimate)
    np.testing.assert_array_equal(a.q, b.q)


def test_binary_perceptron_reaches_perfect_recovery_and_stops():
    # alpha = 2 is above alpha_alg = 1.49: the posterior collapses onto the teacher
    res = gamp(MultiIndex(d=1000, alpha=2.0, p=1, link="sign", prior="rademacher").sample(seed=0))
    assert res.converged and res.n_iter < 40
    assert res.final_overlap == pytest.approx(1.0, abs=1e-12)


def test_float32_design_and_callable_links():
    model = MultiIndex(d=800, alpha=2.0, p=1, link="relu")
    a = gamp(model.sample(seed=1), n_iter=40)
    b = gamp(model.sample(seed=1, dtype="float32"), n_iter=40)
    assert b.final_overlap == pytest.approx(a.final_overlap, abs=2e-3)
    # a Python link (open path: sampling and output function in NumPy, cubature with noise)
    cubic = MultiIndex(d=500, alpha=2.0, p=1, link=lambda z: z[:, 0] ** 3 - 2 * z[:, 0],
                       noise=0.5)
    res = gamp(cubic.sample(seed=0), n_iter=60)
    assert res.final_overlap > 0.5


def test_bad_input_raises_clear_errors():
    s = MultiIndex(d=50, alpha=2.0, p=1, link="abs").sample(seed=0)
    with pytest.raises(ValueError, match="`y`.*outside the range"):
        gamp(dataclasses.replace(s, y=s.y - 10.0))
    with pytest.raises(ValueError, match="`y`.*non-finite"):
        gamp(dataclasses.replace(s, y=np.where(np.arange(s.y.size) == 3, np.inf, s.y)))
    with pytest.raises(ValueError, match="damping"):
        gamp(s, damping=1.0)
    with pytest.raises(ValueError, match="channel"):
        gamp(s, channel=lambda y, om, v: (om[:, :1], np.zeros((om.shape[0], 2, 2))))
    with pytest.raises(ValueError, match="init"):
        gamp(s, init=np.zeros((50, 2)))
    with pytest.raises(TypeError, match="MultiIndexSample"):
        gamp(object())
    with pytest.raises(ValueError, match="noise"):
        gamp(MultiIndex(d=40, alpha=2.0, p=4, link="||z||^2/p").sample(seed=0))
    with pytest.raises(ValueError, match="link"):
        MultiIndex(d=40, alpha=2.0, p=1, link="softplus")
    with pytest.raises(ValueError, match="prior"):
        MultiIndex(d=40, alpha=2.0, p=1, link="sign", prior="student_t")
    with pytest.raises(ValueError, match="p = 2"):
        MultiIndex(d=40, alpha=2.0, p=3, link="z1/z2")
