"""Priors: one definition serves algorithm and theory; its identities must hold."""

import numpy as np
import pytest

from hdcore.ingredients import Gaussian, Rademacher, SparseRademacher, Spherical, get_prior

PRIORS = [Gaussian(), Rademacher(), SparseRademacher(0.1), SparseRademacher(0.5)]


@pytest.mark.parametrize("prior", PRIORS, ids=repr)
@pytest.mark.parametrize("a", [0.05, 0.7, 3.0, 20.0])
def test_i_mmse_nishimori_and_mmse_identities(prior, a):
    h = 1e-5 * max(a, 1)
    dpsi = (prior.free_entropy(a + h) - prior.free_entropy(a - h)) / (2 * h)
    m = prior.overlap(a)
    assert dpsi == pytest.approx(m / 2, abs=1e-6)            # I-MMSE: psi'(a) = m/2
    assert prior.mmse(a) == pytest.approx(1 - m, abs=1e-12)
    # Nishimori: E[f^2] = E[x f] = m
    xs, px = prior.support()
    from hdcore.ingredients.quadrature import gaussian_grid

    z, wz = gaussian_grid()
    ef2 = sum(p * np.dot(wz, prior.denoise(a * x + np.sqrt(a) * z, a)[0] ** 2)
              for x, p in zip(xs, px))
    assert ef2 == pytest.approx(m, abs=1e-8)


def test_closed_forms():
    assert Gaussian().overlap(2.0) == pytest.approx(2 / 3)
    # Rademacher overlap by an independent quadrature
    from scipy.integrate import quad

    a = 1.7
    ref = quad(lambda z: np.tanh(a + np.sqrt(a) * z) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi),
               -30, 30, limit=200)[0]
    assert Rademacher().overlap(a) == pytest.approx(ref, abs=1e-10)
    # the generic quadrature reproduces the Gaussian closed forms
    g = Gaussian()
    generic = super(Gaussian, g)
    assert generic.overlap(2.0) == pytest.approx(2 / 3, abs=1e-9)
    assert generic.free_entropy(2.0) == pytest.approx(1.0 - 0.5 * np.log(3), abs=1e-9)


@pytest.mark.parametrize("prior", PRIORS, ids=repr)
def test_quadrature_has_converged(prior):
    for a in (0.5, 30.0):
        assert prior.overlap(a, n_nodes=2001) == pytest.approx(prior.overlap(a, n_nodes=8001),
                                                                abs=1e-9)


@pytest.mark.parametrize("prior", PRIORS, ids=repr)
def test_variance_is_the_derivative_of_the_denoiser(prior):
    b = np.linspace(-6, 6, 41)
    h = 1e-6
    fp, _ = prior.denoise(b + h, 1.3)
    fm, _ = prior.denoise(b - h, 1.3)
    _, var = prior.denoise(b, 1.3)
    np.testing.assert_allclose((fp - fm) / (2 * h), var, atol=1e-6)


def test_samples_have_the_stated_law():
    x = SparseRademacher(0.2).sample(200_000, seed=1)
    vals, counts = np.unique(np.round(x, 12), return_counts=True)
    np.testing.assert_allclose(vals, [-np.sqrt(5), 0, np.sqrt(5)])
    # binomial standard error of the zero fraction is ~1e-3
    assert counts[1] / x.size == pytest.approx(0.8, abs=5e-3)
    s = Spherical().sample(1000, seed=2)
    assert np.dot(s, s) == pytest.approx(1000)


def test_prior_parsing_and_errors():
    assert get_prior("sparse_rademacher(0.3)") == SparseRademacher(0.3)
    assert get_prior("sparse_rademacher(rho=0.3)") == SparseRademacher(0.3)
    assert isinstance(get_prior("rademacher"), Rademacher)
    with pytest.raises(ValueError, match="unknown prior"):
        get_prior("student_t")
    with pytest.raises(ValueError, match="density"):
        get_prior("sparse_rademacher")
    with pytest.raises(ValueError, match="rho"):
        SparseRademacher(0.0)
    with pytest.raises(TypeError, match="prior"):
        get_prior(3)
    with pytest.raises(ValueError, match="`a`"):
        Rademacher().denoise(np.zeros(3), -1.0)
    with pytest.raises(ValueError, match="`b`"):
        Rademacher().denoise(np.array([np.nan]), 1.0)
