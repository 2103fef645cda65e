"""Random-matrix toolbox: spectral laws against sampled spectra, free convolution, RIE."""

import numpy as np
import pytest

from hdcore import _core, rmt

LAWS = {
    "semicircle": rmt.Semicircle(0.7),
    "mp_atom": rmt.MarchenkoPastur(0.5),
    "mp": rmt.MarchenkoPastur(2.5, scale=2.0),
    "mp_semicircle": rmt.MPSemicircle(0.5, 0.1),
    "mp_semicircle_small_noise": rmt.MPSemicircle(0.2, 1e-3),
    "rect_square": rmt.RectangularProductNoise(1.0, 0.3, 0.2),
    "rect": rmt.RectangularProductNoise(1.5, 0.5, 0.3),
}


@pytest.fixture(scope="module")
def spectra():
    """One spectrum per law, d = 2000 (the rectangular one: 1000 x 1500, to keep the SVD cheap);
    the expensive part of this module."""
    keys = ("semicircle", "mp_atom", "mp", "mp_semicircle")
    out = {k: LAWS[k].sample(2000, seed=11) for k in keys}
    out["rect"] = LAWS["rect"].sample(1000, seed=11)
    return out


@pytest.mark.parametrize("name", sorted(LAWS))
def test_every_density_integrates_to_one(name):
    law = LAWS[name]
    # Gauss rules on the cosine-mapped support panels: errors ~1e-9 for smooth densities
    assert law.total_mass() == pytest.approx(1.0, abs=1e-7)
    assert law.cdf(np.array([law.edges[-1] + 1.0]))[0] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", ["semicircle", "mp_atom", "mp", "mp_semicircle", "rect"])
def test_sampled_spectra_match_the_laws(spectra, name):
    # KS distance of a d = 2000 spectrum: eigenvalue rigidity makes it O(log d / d) ~ 0.005
    assert LAWS[name].ks_distance(spectra[name]) < 0.015


@pytest.mark.parametrize("name", ["semicircle", "mp", "mp_semicircle", "rect"])
def test_stieltjes_transforms_match_the_empirical_resolvent(spectra, name):
    law = LAWS[name]
    lo, hi = law.edges[0], law.edges[-1]
    z = np.linspace(lo - 0.5, hi + 0.5, 25) + 0.1j
    g = law.stieltjes(z)
    gn = rmt.empirical_stieltjes(spectra[name], z)
    # fluctuations of (1/d) Tr (z - Y)^{-1} are O(1/(d Im z)) ~ 5e-3
    assert np.max(np.abs(g - gn)) < 0.02


def test_density_is_minus_imaginary_part_of_stieltjes_over_pi():
    law = LAWS["mp_semicircle"]
    x = np.linspace(-0.3, 5.5, 17)
    assert np.allclose(law.density(x), np.maximum(-law.stieltjes(x).imag / np.pi, 0), atol=1e-12)
    # closed forms of the semicircle and MP agree with the polynomial root tracking
    for closed in (LAWS["semicircle"], LAWS["mp"]):
        xs = np.linspace(closed.edges[0] + 1e-3, closed.edges[-1] - 1e-3, 11)
        assert np.allclose(closed.density(xs), -closed.stieltjes(xs).imag / np.pi, atol=1e-10)


def test_mp_semicircle_limits():
    kappa, delta = 0.5, 0.3
    law = rmt.MPSemicircle(kappa, delta)
    assert law.mean == pytest.approx(1.0, abs=1e-8)
    assert law.second_moment == pytest.approx(1 + 1 / kappa + delta, abs=1e-8)  # Q0 + Delta
    # delta -> 0: Marchenko-Pastur (interior points; the correction is O(delta))
    mp = rmt.MarchenkoPastur(2.0)
    x = np.linspace(0.2, 2.7, 9)
    assert np.allclose(rmt.MPSemicircle(2.0, 1e-6).density(x), mp.density(x), atol=1e-3)
    # kappa -> infinity after centring: semicircle of variance 1/kappa + delta
    big = rmt.MPSemicircle(400.0, 0.2)
    sc = rmt.Semicircle(1 / 400 + 0.2)
    x = np.linspace(-0.8, 0.8, 9)
    assert np.allclose(big.density(x + 1.0), sc.density(x), atol=0.02)


def test_rectangular_law_moments_and_symmetry():
    aspect, rank, delta = 2.0, 0.5, 0.3
    law = rmt.RectangularProductNoise(aspect, rank, delta)
    # E s^2 = (1/N) E Tr(Y Y^T) / sqrt(N M) with E Y_ij^2 = 1 + delta
    assert law.second_moment == pytest.approx(np.sqrt(aspect) * (1 + delta), abs=1e-8)
    x = np.linspace(0.3, 3.0, 7)
    assert np.allclose(law.density(x), law.density(-x), atol=1e-13)
    # many ranks: V U / sqrt(r) is Gaussian, the law is that of a pure-noise matrix of variance
    # 1 + delta, which does not depend on the split between "signal" and "noise"
    a = rmt.RectangularProductNoise(aspect, 500.0, delta)
    b = rmt.RectangularProductNoise(aspect, 500.0, delta + 0.5)
    c = rmt.RectangularProductNoise(aspect, 1e4, delta)
    assert np.max(np.abs(a.density(x) - c.density(x))) < 5e-3
    assert np.max(np.abs(a.density(x) - b.density(x))) > 0.05


def test_free_convolution_reproduces_the_mp_semicircle_cubic():
    fc = rmt.FreeConvolution(rmt.MarchenkoPastur(2.0), rmt.Semicircle(0.3), n_scan=60)
    ref = rmt.MPSemicircle(2.0, 0.3)
    z = np.array([0.5 + 0.2j, 2.0 + 0.05j, -1.0 + 1.0j])
    assert np.max(np.abs(fc.stieltjes(z) - ref.stieltjes(z))) < 1e-9
    x = np.linspace(-0.4, 3.0, 8)
    # real arguments are smoothed at eta = 1e-7 x spread: error ~1e-6
    assert np.max(np.abs(fc.density(x) - ref.density(x))) < 1e-5
    assert np.allclose(fc.edges, ref.edges, atol=1e-5)


def test_custom_law_stieltjes_matches_the_closed_form():
    law = rmt.CustomLaw(lambda x: np.sqrt(np.maximum(4 - x * x, 0)), (-2, 2))
    ref = rmt.Semicircle(1.0)
    z = np.array([0.3 + 0.5j, -1.5 + 0.2j, 3.0 + 0j, 0.7 + 0j])
    assert np.max(np.abs(law.stieltjes(z) - ref.stieltjes(z))) < 1e-5
    assert law.moment(2) == pytest.approx(1.0, abs=1e-6)


def _goe(d, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    return (a + a.T) / np.sqrt(2 * d)


def test_rie_on_pure_noise_returns_zero():
    d, delta = 500, 0.5
    y = np.sqrt(delta) * _goe(d, 1)
    theory = rmt.rie(y, delta, rmt.Semicircle(delta)).estimate
    data = rmt.rie(y, delta).estimate
    # inside the bulk the shrinkage is exactly 0 with the theory law; the data-driven Hilbert
    # transform has O(n^{-1/2}) errors
    assert np.sum(theory**2) / d < 1e-3 * delta
    assert np.sum(data**2) / d < 0.02 * delta
    rng = np.random.default_rng(2)
    rows, cols = 400, 600
    yr = np.sqrt(delta) * rng.standard_normal((rows, cols))
    est = rmt.rie(yr, delta, rectangular=True).estimate
    assert np.mean(est**2) < 0.02 * delta


def test_rie_mmse_matches_the_measured_denoising_error_at_d1000():
    d, kappa, delta = 1000, 0.5, 0.3
    prior = rmt.WishartPrior(kappa)
    s = prior.sample(d, seed=3)
    y = s + np.sqrt(delta) * _goe(d, 4)
    est = prior.denoise(y, delta)
    measured = np.sum((est - s) ** 2) / d
    # self-averaging: fluctuations of the error are O(1/d)
    assert measured == pytest.approx(prior.mmse(delta), rel=0.02)
    # rectangular, N = 1000 x M = 1500, r = 500
    rows, cols, r, dl = 1000, 1500, 500, 0.5
    _, _, sr = _core.sample_product_teacher(rows, cols, r, 5, None)
    yr = sr + np.sqrt(dl) * np.random.default_rng(6).standard_normal((rows, cols))
    pr = rmt.ProductPrior(cols / rows, r / rows)
    err = np.mean((pr.denoise(yr, dl) - sr) ** 2)
    assert err == pytest.approx(pr.mmse(dl), rel=0.02)


def test_denoising_mmse_limits():
    # small noise: mmse/delta -> fraction of degrees of freedom; large noise: prior variance
    w = rmt.WishartPrior(0.5)
    assert w.mmse(1e-7) / 1e-7 == pytest.approx(2 * 0.5 - 0.5**2, rel=1e-4)
    assert w.mmse(1e4) == pytest.approx(w.variance, rel=1e-3)
    assert rmt.WishartPrior(3.0).mmse(1e-7) / 1e-7 == pytest.approx(1.0, rel=1e-4)
    p = rmt.ProductPrior(2.0, 0.5)  # beta = 2, rho = 0.5: rho (1 + beta - rho)/beta
    assert p.mmse(1e-7) / 1e-7 == pytest.approx(0.5 * 2.5 / 2, rel=1e-4)
    assert p.mmse(1e4) == pytest.approx(1.0, rel=1e-3)
    # the Python formula on the quadrature agrees with the core's
    law = rmt.MPSemicircle(0.7, 0.4)
    q = law.quadrature()
    expected = 0.4 - 4 * np.pi**2 / 3 * 0.16 * np.sum(q.w * q.rho**3)
    assert rmt.denoising_mmse(law) == pytest.approx(expected, rel=1e-12)


def test_rmt_kernels_are_thread_independent():
    y = _goe(300, 7)
    e1 = _core.eigh(y, True, 1)
    e2 = _core.eigh(y, True, 2)
    assert np.array_equal(e1[0], e2[0]) and np.array_equal(e1[1], e2[1])
    a = np.random.default_rng(8).standard_normal((250, 400))
    s1, s2 = _core.svd(a, True, 1), _core.svd(a, True, 2)
    assert all(np.array_equal(u, v) for u, v in zip(s1, s2))
    law = rmt.RectangularProductNoise(1.5, 0.5, 0.3)
    assert np.array_equal(law.sample(300, seed=1, n_threads=1), law.sample(300, seed=1, n_threads=2))
    r1 = rmt.rie(y, 0.2, rmt.MPSemicircle(1.0, 0.2), n_threads=1).estimate
    r2 = rmt.rie(y, 0.2, rmt.MPSemicircle(1.0, 0.2), n_threads=2).estimate
    assert np.array_equal(r1, r2)


def test_bad_input_raises_errors_naming_the_argument():
    with pytest.raises(ValueError, match="kappa"):
        rmt.MarchenkoPastur(0.0)
    with pytest.raises(ValueError, match="delta"):
        rmt.MPSemicircle(0.5, float("nan"))
    with pytest.raises(ValueError, match="aspect"):
        rmt.RectangularProductNoise(0.5, 0.3, 0.1)
    with pytest.raises(ValueError, match="y"):
        rmt.rie(np.ones((3, 4)), 0.1)
    with pytest.raises(ValueError, match="NaN"):
        rmt.rie(np.full((3, 3), np.nan), 0.1)
    with pytest.raises(ValueError, match="x"):
        LAWS["semicircle"].density([0.0, np.nan])
    with pytest.raises(TypeError, match="z"):
        LAWS["mp"].stieltjes(np.array(["a"]))
    with pytest.raises(ValueError, match="law"):
        _core.rmt_support("wigner", [1.0])
    with pytest.raises(ValueError, match="a"):
        rmt.eigh(np.ones((2, 3)))
    with pytest.raises(TypeError, match="law"):
        rmt.rie(np.eye(3), 0.1, law="semicircle")
