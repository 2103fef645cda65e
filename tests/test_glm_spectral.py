"""Spectral methods of multi-index models: the matrix-free operators L and T, Arnoldi, the
spectrum of L and the top eigenvalue of T against the predictions of Defilippis et al. 2025."""

import numpy as np
import pytest

from hdcore.algorithms import asymmetric_spectral, asymmetric_spectrum, symmetric_spectral
from hdcore.algorithms.spectral_glm import eigs_top, spectral_operators
from hdcore.models import MultiIndex
from hdcore.theory import spectral_prediction


def _dense_operators(sample, t):
    x = np.asarray(sample.x, dtype=np.float64)
    n, d = x.shape
    p = sample.model.p
    g = sample.model.channel.G(sample.y)
    k = x @ x.T - np.eye(n)
    lmat = (k[:, None, :, None] * g.transpose(1, 0, 2)[None]).reshape(n * p, n * p)
    tmat = np.einsum("mi,mj,mkl->ikjl", x, x, t).reshape(d * p, d * p)
    return lmat, tmat


def test_operators_match_their_dense_definitions():
    sample = MultiIndex(d=30, alpha=2.0, p=2, link="z1*z2").sample(seed=3)
    lop, top = spectral_operators(sample)
    t = sample.model.channel.T(sample.y, clip=20.0)
    lmat, tmat = _dense_operators(sample, t)
    rng = np.random.default_rng(0)
    om = rng.standard_normal((60, 2))
    np.testing.assert_allclose(lop(om).ravel(), lmat @ om.ravel(), atol=1e-10)
    w = rng.standard_normal((30, 2))
    # T acts on w = vec of the d x p matrix, index (i, k) -> i p + k in this dense layout
    np.testing.assert_allclose(top(w).ravel(), tmat @ w.ravel(), atol=1e-10)


def test_linearised_gamp_links_the_two_operators():
    # Prop. 2.12 of the paper, at finite n: with omega = (I + G)^{-1} vec(X W),
    # L omega - omega = X (T W - W) for every W (so T W = W <=> L omega = omega)
    sample = MultiIndex(d=200, alpha=1.5, p=2, link="z1*z2").sample(seed=1)
    lop, top = spectral_operators(sample, preprocessing=lambda y: sample.model.channel.T(y))
    g = sample.model.channel.G(sample.y)
    w = np.random.default_rng(2).standard_normal((200, 2))
    xw = sample.x @ w
    omega = np.linalg.solve(np.eye(2)[None] + g, xw[:, :, None])[:, :, 0]
    np.testing.assert_allclose(lop(omega) - omega, sample.x @ (top(w) - w), atol=1e-9)


def test_arnoldi_matches_dense_eigenvalues():
    sample = MultiIndex(d=150, alpha=2.0, p=2, link="sign(z1*z2)").sample(seed=0)
    dense = asymmetric_spectrum(sample)
    dense = dense[np.argsort(-dense.real)]
    res = asymmetric_spectral(sample, k=3, tol=1e-10, raise_on_failure=True)
    np.testing.assert_allclose(res.eigenvalues, dense[:3], atol=1e-7)
    # a non-normal matrix with complex eigenvalues through the callable interface
    a = np.random.default_rng(5).standard_normal((200, 200)) / np.sqrt(200)
    a[0, 0] = 3.0
    vals, vecs, ok = eigs_top(lambda v: a @ v, 200, k=3, tol=1e-10)
    ev = np.linalg.eigvals(a)
    ev = ev[np.lexsort((-ev.imag, -ev.real))]
    assert ok
    np.testing.assert_allclose(vals, ev[:3], atol=1e-8)
    np.testing.assert_allclose(a @ vecs, vecs * vals[None], atol=1e-7)


def test_dense_spectrum_uses_the_joint_diagonalisation_correctly():
    # the block reduction for jointly diagonalisable links gives the full spectrum of L
    sample = MultiIndex(d=60, alpha=1.0, p=2, link="z1*z2").sample(seed=4)
    lmat, _ = _dense_operators(sample, np.zeros((60, 2, 2)))
    full = np.sort_complex(np.linalg.eigvals(lmat))
    blocks = np.sort_complex(asymmetric_spectrum(sample))
    np.testing.assert_allclose(blocks, full, atol=1e-8)


@pytest.mark.slow
def test_spectrum_of_l_for_z1_z2_at_alpha_one():
    # Conjecture 2.5 / Thm. 2.3 of the paper at alpha = 1, p = 2: the bulk fills the disc of
    # radius sqrt(alpha/alpha_c) = 1.2978, and (at n = 5000) real outliers near
    # alpha/alpha_c = 1.6842 carry informative eigenvectors. Finite-size fluctuations are large
    # because G(y) is unbounded: over eight seeds at n = 5000 the informative outliers ranged
    # over 1.55 - 2.0 and extra real eigenvalues up to 2.6 appeared; the 0.995-quantile of |eig|
    # (robust to those) was within 6% of the radius at n = 1500 and 2500 (four seeds each).
    pred = spectral_prediction(MultiIndex(d=10, alpha=1.0, p=2, link="z1*z2"))
    assert pred.bulk_radius == pytest.approx(1.29777, abs=1e-4)
    assert pred.outlier == pytest.approx(1.68421, abs=1e-4)
    # bulk: the full dense spectrum at n = 1500 (p n = 3000 eigenvalues)
    eig = asymmetric_spectrum(MultiIndex(d=1500, alpha=1.0, p=2, link="z1*z2").sample(seed=0))
    assert np.quantile(np.abs(eig), 0.995) == pytest.approx(pred.bulk_radius, rel=0.08)
    assert np.mean(np.abs(eig) > 1.1 * pred.bulk_radius) < 5e-3
    # outliers at n = 5000: Arnoldi on the implicit operator L; among the real eigenvalues
    # above the bulk, those whose estimators correlate with the teacher sit near alpha/alpha_c
    model = MultiIndex(d=5000, alpha=1.0, p=2, link="z1*z2")
    sample = model.sample(seed=3, dtype="float32")
    lop, _ = spectral_operators(sample)
    vals, vecs, _ = eigs_top(lambda v: lop(v.reshape(5000, 2)).ravel(), 10000, k=4, tol=1e-7)
    g = model.channel.G(sample.y)
    x = np.asarray(sample.x, dtype=np.float64)
    found = []
    for val, vec in zip(vals, vecs.T):
        if abs(val.imag) > 1e-6 or val.real < 1.1 * pred.bulk_radius:
            continue
        om = np.real(vec * np.exp(-1j * np.angle(vec[np.argmax(np.abs(vec))]))).reshape(5000, 2)
        found.append((sample.overlap(x.T @ np.einsum("nkl,nl->nk", g, om)), val.real))
    informative = [v for ov, v in found if ov > 0.15]
    assert min(abs(v / pred.outlier - 1) for v in informative) < 0.12, found


def test_top_eigenvalue_of_t_is_one_above_threshold():
    # Thm. 2.11: for jointly diagonalisable links the top eigenvalue of T tends to 1 above
    # alpha_c; Lu & Li's formula (theory) gives exactly 1, the simulation at d = 2000 within
    # a few percent (fluctuations of the top eigenvalue at this size: about 2%)
    model = MultiIndex(d=2000, alpha=1.6, p=2, link="z1*z2")
    pred = spectral_prediction(model, clip=None)
    assert pred.t_top == pytest.approx(1.0, abs=1e-6)
    res = symmetric_spectral(model.sample(seed=0), k=2)
    assert res.eigenvalues[0] == pytest.approx(1.0, abs=0.06)
    below = spectral_prediction(MultiIndex(d=10, alpha=0.4, p=2, link="z1*z2"), clip=None)
    assert below.t_top < 1.0 and below.overlap_symmetric == 0.0


def test_spectral_overlaps_follow_the_theory_for_phase_retrieval():
    # phase retrieval at alpha = 1 (alpha_c = 1/2), d = 2000, two seeds. Measured spread of
    # the overlaps at this size: about 0.03 (asymmetric) and 0.01 (symmetric) per seed, so the
    # tolerances are about three standard deviations of the two-seed mean.
    model = MultiIndex(d=2000, alpha=1.0, p=1, link="square")
    pred = spectral_prediction(model)
    assert pred.alpha_c == pytest.approx(0.5, abs=1e-6)
    # p = 1 closed form of the asymmetric overlap: m^2 = (1 - ac/a) / (1 + ac^2 E[G^3]/a), E[G^3] = 8
    assert pred.overlap_asymmetric == pytest.approx(np.sqrt(0.5 / 3.0), abs=1e-6)
    asym, sym = [], []
    for seed in (0, 1):
        s = model.sample(seed=seed)
        asym.append(asymmetric_spectral(s, seed=seed).overlap)
        sym.append(symmetric_spectral(s, seed=seed).overlap)
    assert np.mean(asym) == pytest.approx(pred.overlap_asymmetric, abs=0.06)
    assert np.mean(sym) == pytest.approx(pred.overlap_symmetric, abs=0.025)
    # below alpha_c neither method correlates with the teacher
    low = MultiIndex(d=2000, alpha=0.3, p=1, link="square").sample(seed=0)
    assert symmetric_spectral(low).overlap < 0.15


def test_spectral_methods_reject_bad_input():
    sample = MultiIndex(d=50, alpha=2.0, p=1, link="square").sample(seed=0)
    with pytest.raises(ValueError, match="preprocessing"):
        symmetric_spectral(sample, preprocessing=lambda y: np.ones((y.size, 2, 2)))
    with pytest.raises(ValueError, match="preprocessing"):
        symmetric_spectral(sample, preprocessing=lambda y: np.full(y.size, np.nan))
    with pytest.raises(TypeError, match="MultiIndexSample"):
        asymmetric_spectral(object())
    with pytest.raises(ValueError, match="k"):
        asymmetric_spectral(sample, k=0)
    # plain PCA of phase retrieval through a user preprocessing
    res = symmetric_spectral(sample, preprocessing=lambda y: y - 1.0)
    assert res.eigenvalues[0] > 0 and 0 <= res.overlap <= 1


@pytest.mark.slow
def test_outlier_of_L_concentrates_at_alpha_over_alpha_c():
    """Phase retrieval at alpha = 2: the informative outlier of L sits at alpha/alpha_c = 4 with
    seed-to-seed spread that shrinks with d (std about 1.1 at d = 400, 0.15 at d = 6400); at
    very small d (the d = 50 docstring example) it has not separated from the bulk yet."""
    pred = spectral_prediction(MultiIndex(d=400, alpha=2.0, p=1, link="phase_retrieval"))
    assert pred.outlier == pytest.approx(4.0)
    spread, centre = {}, {}
    for d in (400, 6400):
        model = MultiIndex(d=d, alpha=2.0, p=1, link="phase_retrieval")
        top = np.array([asymmetric_spectral(model.sample(seed=s)).eigenvalues[0].real
                        for s in range(6)])
        spread[d], centre[d] = top.std(), np.median(top)
    assert spread[6400] < 0.5 * spread[400]
    assert abs(centre[6400] - pred.outlier) < 0.25
