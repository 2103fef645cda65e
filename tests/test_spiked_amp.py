"""Bayes AMP on the spiked models follows its state evolution; both code paths agree."""

import numpy as np
import pytest

from hdcore.algorithms import amp
from hdcore.ingredients import Prior, Rademacher
from hdcore.models import SpikedWigner, SpikedWishart
from hdcore.theory import fixed_points, state_evolution

SEEDS = range(3)


def _mean_cosine2(model, seeds=SEEDS, **kw):
    return np.mean([amp(model.sample(seed=100 + s), n_iter=400, tol=1e-11, seed=s, **kw)
                    .final_cosine2 for s in seeds])


# Tolerance: at n = 4000 the per-seed standard deviation of the final squared cosine is
# <= 0.03 away from the transitions (measured: 0.004-0.026; sparse priors fluctuate most), so
# the mean over 3 seeds lies within 0.03 of the n -> infinity value unless the code is wrong
# (a wrong Onsager term or precision shifts it by >= 0.1).
@pytest.mark.parametrize("prior,snrs", [
    ("rademacher", [0.7, 1.5, 2.0]),
    ("gaussian", [0.7, 1.5, 2.0]),
    ("sparse_rademacher(0.1)", [0.7, 1.6, 2.2]),
])
def test_amp_follows_state_evolution_on_both_sides_of_the_threshold(prior, snrs):
    for snr in snrs:
        model = SpikedWigner(n=4000, snr=snr, prior=prior)
        pred = fixed_points(model).uninformative
        assert _mean_cosine2(model) == pytest.approx(pred, abs=0.03), (prior, snr)


def test_amp_trace_follows_state_evolution_iteration_by_iteration():
    model = SpikedWigner(n=4000, snr=1.8, prior="rademacher")
    runs = [amp(model.sample(seed=10 + s), init="informative", n_iter=8, tol=0)
            for s in range(3)]
    se = state_evolution(model, init="informative", n_iter=8, tol=0)
    trace = np.mean([r.cosine2 for r in runs], axis=0)
    np.testing.assert_allclose(trace, se.overlap, atol=0.03)


@pytest.mark.parametrize("prior,betas", [
    ("gaussian", [0.5, 1.5]),
    ("rademacher", [0.5, 1.5]),
    ("sparse_rademacher(0.1)", [0.5, 1.5]),
])
def test_wishart_amp_follows_state_evolution(prior, betas):
    # n = 4000 samples in d = 2000: same finite-size argument as for the Wigner model
    for beta in betas:
        model = SpikedWishart(d=2000, alpha=2.0, beta=beta, prior=prior)
        pred = fixed_points(model).uninformative
        assert _mean_cosine2(model) == pytest.approx(pred, abs=0.03), (prior, beta)


def test_hard_phase_amp_stays_uninformative_while_bayes_optimal_does_not():
    model = SpikedWigner(n=3000, snr=0.95, prior="sparse_rademacher(0.05)")
    fp = fixed_points(model)
    assert fp.hard_phase and fp.bayes_optimal > 0.5 and fp.uninformative == 0
    assert _mean_cosine2(model, seeds=range(2)) < 0.02
    # Informed AMP reaches the informative branch. With rho n = 150 non-zeros, the realised
    # signal power fluctuates by ~8% between seeds, which moves the overlap on this steep branch
    # by up to ~0.1 per seed: 4 seeds, tolerance 0.08.
    informed = np.mean([amp(model.sample(seed=s), init="informative").final_cosine2
                        for s in range(4)])
    assert informed == pytest.approx(fp.informative, abs=0.08)


@pytest.mark.parametrize("storage", ["full", "packed"])
def test_open_path_equals_fast_path_on_builtin_priors(storage):
    for prior in ("rademacher", "sparse_rademacher(0.2)", "gaussian", "spherical"):
        s = SpikedWigner(n=500, snr=1.6, prior=prior).sample(seed=2, storage=storage)
        fast = amp(s, n_iter=30, tol=0)
        slow = amp(s, n_iter=30, tol=0, open_path=True)
        np.testing.assert_allclose(slow.estimate, fast.estimate, atol=1e-10)
        np.testing.assert_allclose(slow.overlap, fast.overlap, atol=1e-12)
    w = SpikedWishart(d=300, alpha=2, beta=1.5, prior="rademacher").sample(seed=3)
    fast, slow = amp(w, n_iter=30, tol=0), amp(w, n_iter=30, tol=0, open_path=True)
    np.testing.assert_allclose(slow.estimate, fast.estimate, atol=1e-10)
    np.testing.assert_allclose(slow.latent_overlap, fast.latent_overlap, atol=1e-12)


def test_amp_is_identical_for_one_and_two_threads_and_storages_agree():
    m = SpikedWigner(n=800, snr=1.5, prior="rademacher")
    s = m.sample(seed=4)
    r1, r2 = amp(s, n_threads=1), amp(s, n_threads=2)
    assert np.array_equal(r1.estimate, r2.estimate)
    packed = amp(m.sample(seed=4, storage="packed"))
    single = amp(m.sample(seed=4, dtype="float32"))
    assert packed.final_cosine2 == pytest.approx(r1.final_cosine2, abs=1e-10)
    assert single.final_cosine2 == pytest.approx(r1.final_cosine2, abs=1e-5)


class Ternary(Prior):
    """A user prior (x in {-1, 0, 1} w.p. 1/4, 1/2, 1/4, rescaled to unit variance), written in
    pure NumPy: AMP runs on the open path and the theory integrates the same denoiser."""

    s = np.sqrt(2.0)

    def denoise(self, b, a):
        w1 = 0.25 * np.exp(self.s * np.abs(b) - a * self.s**2 / 2)
        e = np.exp(-2 * self.s * np.abs(b))
        den = 0.5 + w1 * (1 + e)
        mean = np.sign(b) * self.s * w1 * (1 - e) / den
        return mean, self.s**2 * w1 * (1 + e) / den - mean**2

    def log_partition(self, b, a):
        return np.log(0.5 + 0.5 * np.exp(-a) * np.cosh(self.s * b))

    def sample(self, n, seed=None, *, n_threads=None):
        return np.random.default_rng(seed).choice([-self.s, 0, self.s], size=n, p=[.25, .5, .25])

    def support(self):
        return np.array([-self.s, 0, self.s]), np.array([0.25, 0.5, 0.25])


def test_custom_prior_runs_on_the_open_path_and_matches_its_theory():
    model = SpikedWigner(n=3000, snr=1.6, prior=Ternary())
    pred = fixed_points(model).uninformative
    assert _mean_cosine2(model, seeds=range(2)) == pytest.approx(pred, abs=0.03)


def test_user_denoiser_overrides_the_prior():
    s = SpikedWigner(n=400, snr=1.5, prior="rademacher").sample(seed=1)
    calls = []

    def den(b, a):
        calls.append(a)
        return Rademacher().denoise(b, a)

    r = amp(s, denoiser=den, n_iter=5, tol=0)
    assert len(calls) == 5 and r.n_iter == 5
    with pytest.raises(TypeError, match="denoiser"):
        amp(s, denoiser=3)
