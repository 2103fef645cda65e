"""The priors added for issue 22 (gauss_bernoulli, binary, exponential, positive, laplace,
gauss_mixture): closed-form denoisers and log-partitions against 1-d quadrature of the tilted
measure, samplers against their laws, the scalar-channel theory against Monte Carlo and its
identities, and AMP / GAMP on their state evolutions."""

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from hdcore.algorithms.amp import amp
from hdcore.algorithms.gamp import gamp
from hdcore.ingredients import (Binary, Exponential, GaussBernoulli, GaussMixture, Laplace,
                                Positive, ProductPrior, get_prior)
from hdcore.models.multi_index import MultiIndex
from hdcore.models.spiked import SpikedWigner, SpikedWishart
from hdcore.theory import glm, low_rank

SQ2 = np.sqrt(2.0)
MIX = "gauss_mixture([0.3, 0.7], [-1, 0.5], [0.2, 0.1])"
SPECS = ["gauss_bernoulli(0.1)", "gauss_bernoulli(1)", "binary(0.3)", "exponential", "positive",
         "laplace", MIX, "gauss_mixture([0.5, 0.5], [-1, 1], [0, 0])"]


def _lognorm(x, m, v):
    return -0.5 * (x - m) ** 2 / v - 0.5 * np.log(2 * np.pi * v)


def _law(prior):
    """(log-density and its support interval, atoms [(x, p)]) of a prior, written independently
    of the library's classes (from the definitions in the module docs)."""
    if isinstance(prior, GaussBernoulli):
        r = prior.rho
        return (lambda x: np.log(r) + _lognorm(x, 0.0, 1 / r), (-np.inf, np.inf)), [(0.0, 1 - r)]
    if isinstance(prior, Binary):
        r = prior.rho
        return None, [(0.0, 1 - r), (1 / np.sqrt(r), r)]
    if isinstance(prior, Exponential):
        return (lambda x: np.log(SQ2) - SQ2 * x, (0.0, np.inf)), []
    if isinstance(prior, Positive):
        return (lambda x: np.log(2.0) + _lognorm(x, 0.0, 1.0), (0.0, np.inf)), []
    if isinstance(prior, Laplace):
        return (lambda x: -SQ2 * abs(x) - np.log(SQ2), (-np.inf, np.inf)), []
    if isinstance(prior, GaussMixture):
        cont = [(w, m, v) for w, m, v in zip(prior.weights, prior.means, prior.variances) if v > 0]
        atoms = [(m, w) for w, m, v in zip(prior.weights, prior.means, prior.variances) if v == 0]
        if not cont:
            return None, atoms

        def logf(x):
            return np.logaddexp.reduce([np.log(w) + _lognorm(x, m, v) for w, m, v in cont])
        return (logf, (-np.inf, np.inf)), atoms
    raise AssertionError(prior)


def _tilted_moments(prior, b, a):
    """``(log Z, mean, var)`` of ``P(x) exp(b x - a x^2/2)`` by adaptive quadrature, split at
    the mode of the tilted density and at 0 (the kinks), in units of the largest exponent."""
    dens, atoms = _law(prior)
    atoms = [(x, p) for x, p in atoms if p > 0]
    logs = [np.log(p) + b * x - a * x * x / 2 for x, p in atoms]
    pieces = []
    if dens is not None:
        logf, (lo, hi) = dens

        def logg(x):
            return logf(x) + b * x - a * x * x / 2
        res = optimize.minimize_scalar(lambda x: -logg(x), bounds=(max(lo, -1e4), min(hi, 1e4)),
                                       method="bounded", options={"xatol": 1e-10})
        mode = float(res.x)
        logs.append(logg(mode))
        cuts = sorted({mode, 0.0} | {mode + k for k in (-5.0, 5.0)})
        pieces = [lo] + [c for c in cuts if lo < c < hi] + [hi]
    shift = max(logs)
    mom = np.zeros(3)
    for x, p in atoms:
        mom += np.exp(np.log(p) + b * x - a * x * x / 2 - shift) * np.array([1.0, x, x * x])
    for e0, e1 in zip(pieces[:-1], pieces[1:]):
        for k in range(3):
            def h(x, k=k):
                e = logg(x) - shift
                return x**k * np.exp(e) if e > -700 else 0.0
            mom[k] += integrate.quad(h, e0, e1,
                                     epsabs=0, epsrel=1e-13, limit=400)[0]
    mean = mom[1] / mom[0]
    return shift + np.log(mom[0]), mean, mom[2] / mom[0] - mean**2


@pytest.mark.parametrize("spec", SPECS)
def test_closed_form_denoiser_matches_quadrature_of_the_tilted_measure(spec):
    prior = get_prior(spec)
    for b, a in [(0.3, 0.5), (-2.0, 3.0), (1.0, 1e-8), (4.0, 10.0), (-0.7, 0.0), (25.0, 40.0)]:
        if isinstance(prior, (Exponential, Laplace)) and a == 0 and abs(b) >= SQ2:
            continue  # improper at a = 0
        lz, mean, var = _tilted_moments(prior, b, a)
        m, v = prior.denoise(np.array([b]), a)
        z = prior.log_partition(np.array([b]), a)
        assert m[0] == pytest.approx(mean, rel=1e-8, abs=1e-11), (b, a)
        assert v[0] == pytest.approx(var, rel=1e-7, abs=1e-11), (b, a)
        assert z[0] == pytest.approx(lz, rel=1e-9, abs=1e-11), (b, a)


def test_small_precision_limits_of_the_truncated_priors_are_exact():
    # a -> 0 with b below the rate: the exponential tilted by exp(b x) has mean 1/(sqrt2 - b);
    # the closed forms switch to the asymptotic Mills series there (no cancellation)
    for b in (0.0, 0.5, -3.0):
        for a in (1e-6, 1e-10, 0.0):
            m, v = Exponential().denoise(np.array([b]), a)
            assert m[0] == pytest.approx(1 / (SQ2 - b), rel=1e-5)
            assert v[0] == pytest.approx(1 / (SQ2 - b) ** 2, rel=1e-5)
    m, _ = Laplace().denoise(np.array([0.5]), 0.0)
    assert m[0] == pytest.approx(2 * 0.5 / (2 - 0.25), rel=1e-10)  # mean of the tilted Laplace


@pytest.mark.parametrize("spec", ["gauss_bernoulli(0.2)", "binary(0.3)", "exponential",
                                  "positive", "laplace", MIX])
def test_sampler_draws_from_the_prior(spec):
    prior = get_prior(spec)
    n = 200_000
    x = prior.sample(n, seed=5)
    assert np.mean(x**2) == pytest.approx(prior.second_moment, abs=6 * np.std(x**2) / np.sqrt(n))
    assert np.mean(x) == pytest.approx(prior.first_moment, abs=6 * np.std(x) / np.sqrt(n))
    dens, atoms = _law(prior)
    cont = x
    for a, p in atoms:
        frac = np.mean(x == a)
        assert frac == pytest.approx(p, abs=6 * np.sqrt(p * (1 - p) / n))
        cont = cont[cont != a]
    if dens is not None and cont.size:
        logf, (lo, hi) = dens
        mass = integrate.quad(lambda t: np.exp(logf(t)), lo, hi)[0]
        sub = np.sort(cont[:2000])
        # CDF at the sorted sample by cumulative quadrature between consecutive points
        steps = [integrate.quad(lambda t: np.exp(logf(t)), lo, sub[0])[0]]
        steps += [integrate.quad(lambda t: np.exp(logf(t)), u, v)[0]
                  for u, v in zip(sub[:-1], sub[1:])]
        cdf_sorted = np.cumsum(steps) / mass
        ks = np.max(np.maximum(np.arange(1, sub.size + 1) / sub.size - cdf_sorted,
                               cdf_sorted - np.arange(sub.size) / sub.size))
        assert stats.kstwo.sf(ks, sub.size) > 1e-4
    assert np.array_equal(prior.sample(1000, seed=3, n_threads=1),
                          prior.sample(1000, seed=3, n_threads=2))


@pytest.mark.parametrize("spec", ["gauss_bernoulli(0.1)", "binary(0.3)", "exponential",
                                  "positive", "laplace", MIX])
def test_scalar_channel_theory_matches_monte_carlo_and_i_mmse(spec):
    prior = get_prior(spec)
    rng = np.random.default_rng(0)
    n = 400_000
    for a in (0.3, 3.0, 30.0):
        x = prior.sample(n, seed=11)
        b = a * x + np.sqrt(a) * rng.standard_normal(n)
        m, _ = prior.denoise(b, a)
        err = (m - x) ** 2
        # Monte Carlo error of the mean squared error, 5 sigma
        assert prior.mmse(a) == pytest.approx(err.mean(), abs=5 * err.std() / np.sqrt(n) + 1e-7)
        # I-MMSE: psi'(a) = overlap(a)/2
        h = 1e-4 * a
        dpsi = (prior.free_entropy(a + h) - prior.free_entropy(a - h)) / (2 * h)
        assert dpsi == pytest.approx(prior.overlap(a) / 2, rel=1e-6)
    # a = 0: the posterior mean is E x, so mmse = Var x; psi(0) = 0
    assert prior.mmse(0.0) == pytest.approx(prior.second_moment - prior.first_moment**2, abs=1e-12)
    assert prior.free_entropy(0.0) == pytest.approx(0.0, abs=1e-12)
    # vectorised evaluation agrees with the scalar one
    aa = np.array([0.5, 2.0])
    assert np.allclose(prior.overlap(aa), [prior.overlap(0.5), prior.overlap(2.0)], rtol=1e-13)


def test_gauss_bernoulli_overlap_matches_an_independent_double_integral():
    rho, a = 0.1, 5.0
    prior = GaussBernoulli(rho)
    s2 = 1 / rho

    def f(bb):  # posterior mean, written out (Krzakala et al. 2012, Eq. (26))
        l1 = np.log(rho / (1 - rho)) - 0.5 * np.log1p(a * s2) + bb * bb * s2 / (2 * (1 + a * s2))
        return bb * s2 / (1 + a * s2) / (1 + np.exp(-l1))

    # E f(b)^2 over the marginal of b: (1 - rho) N(0, a) + rho N(0, a^2/rho + a)
    def integrand(bb):
        return f(bb) ** 2 * ((1 - rho) * stats.norm.pdf(bb, scale=np.sqrt(a))
                             + rho * stats.norm.pdf(bb, scale=np.sqrt(a * a * s2 + a)))
    ref = integrate.quad(integrand, -np.inf, np.inf, epsrel=1e-12, limit=400)[0]
    assert prior.overlap(a) == pytest.approx(ref, rel=1e-9)


def test_spec_strings_and_validation():
    assert get_prior("gauss_bernoulli(rho=0.2)") == GaussBernoulli(0.2)
    assert get_prior("binary(p=0.4)") == Binary(0.4)
    assert isinstance(get_prior("exponential"), Exponential)
    mix = get_prior(MIX)
    assert mix.second_moment == pytest.approx(1.0, abs=1e-14)
    # the canonical name round-trips, and the Rust core reads it (same denoiser)
    again = get_prior(mix.name)
    assert again == mix
    b = np.linspace(-3, 3, 7)
    assert np.allclose(again.denoise(b, 1.5)[0], mix.denoise(b, 1.5)[0], rtol=1e-14)
    raw = GaussMixture([1, 1], [0, 2], [1, 1], normalize=False)
    assert raw.second_moment == pytest.approx(3.0) and raw.first_moment == pytest.approx(1.0)
    with pytest.raises(ValueError, match="rho"):
        get_prior("gauss_bernoulli(0)")
    with pytest.raises(ValueError, match="gauss_bernoulli"):
        get_prior("gauss_bernoulli")
    with pytest.raises(ValueError, match="variances"):
        GaussMixture([1.0], [0.0], [-1.0])
    with pytest.raises(ValueError, match="same length"):
        GaussMixture([0.5, 0.5], [0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="components"):
        GaussMixture(np.ones(9), np.zeros(9), np.ones(9))
    with pytest.raises(ValueError, match="cannot read"):
        get_prior("gauss_mixture([1, 2])")
    with pytest.raises(ValueError, match="p = 1"):
        ProductPrior("laplace", 2)
    # discrete priors work for p > 1 (atoms), and their entropy is finite
    pp = ProductPrior("binary(0.3)", 2)
    assert np.isfinite(pp.entropy) and ProductPrior("laplace", 1).entropy == np.inf


# ---- algorithms on their state evolutions ------------------------------------------------

@pytest.mark.parametrize("spec,snr", [("gauss_bernoulli(0.1)", 1.3), ("binary(0.3)", 1.2),
                                      ("exponential", 1.2), ("positive", 1.2),
                                      ("laplace", 1.6), (MIX, 1.4)])
def test_spiked_wigner_amp_follows_state_evolution(spec, snr):
    # n = 4000: the overlap of one AMP run fluctuates by O(n^{-1/2}) around SE (and by more
    # close to a threshold); 0.05 is about 3 standard deviations measured over seeds
    model = SpikedWigner(n=4000, snr=snr, prior=spec)
    res = amp(model.sample(seed=3), n_iter=200)
    se = low_rank.state_evolution(model)
    assert res.final_cosine2 == pytest.approx(se.fixed_point, abs=0.05)


def test_gauss_bernoulli_amp_gap_to_state_evolution_shrinks_with_n():
    snr = 1.3
    gaps = []
    for n in (1000, 4000):
        model = SpikedWigner(n=n, snr=snr, prior="gauss_bernoulli(0.1)")
        se = low_rank.state_evolution(model).fixed_point
        cos = [amp(model.sample(seed=s), n_iter=200).final_cosine2 for s in range(4)]
        gaps.append(abs(np.mean(cos) - se))
    assert gaps[1] < gaps[0] + 0.005 and gaps[1] < 0.02


def test_spiked_wishart_amp_follows_state_evolution_with_a_sparse_prior():
    model = SpikedWishart(d=2000, alpha=2.0, beta=1.5, prior="gauss_bernoulli(0.2)")
    res = amp(model.sample(seed=1), n_iter=200)
    se = low_rank.state_evolution(model)
    assert res.final_cosine2 == pytest.approx(se.fixed_point, abs=0.05)


@pytest.mark.parametrize("spec", ["gauss_bernoulli(0.1)", "binary(0.3)", "exponential",
                                  "positive", pytest.param("laplace", marks=pytest.mark.slow),
                                  MIX])
def test_gamp_linear_channel_follows_state_evolution(spec):
    # y = X w / sqrt(d) + noise: the per-entry MSE of GAMP at d = 4000 against SE; relative
    # finite-size error of an MSE estimated from d entries is a few percent
    model = MultiIndex(d=4000, alpha=0.8, p=1, link="linear", prior=spec, noise=0.01)
    sample = model.sample(seed=4)
    res = gamp(sample, n_iter=300)
    mse = float(np.mean((res.estimate[:, 0] - sample.w[:, 0]) ** 2))
    se = glm.gamp_state_evolution(model)
    assert mse == pytest.approx(se.mse, rel=0.15, abs=2e-3)
    # fast (Rust) and open (Python) paths agree
    if spec == "laplace":
        res_open = gamp(sample, n_iter=300, open_path=True)
        assert np.allclose(res_open.estimate, res.estimate, atol=1e-8)
