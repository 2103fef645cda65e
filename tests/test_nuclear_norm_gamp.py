"""Nuclear-norm GAMP: its fixed point is the trace-norm ERM minimiser (FISTA's), its variance
obeys the state-evolution relation ``V = D / (2 alpha - D)`` there, and the Rust spectral soft
threshold matches NumPy."""

import numpy as np
import pytest

from hdcore import _core
from hdcore.algorithms import NuclearNormGampResult, nuclear_norm, nuclear_norm_gamp
from hdcore.algorithms.nuclear_norm_gamp import spectral_soft_threshold
from hdcore.models import BilinearSequenceRegression, MatrixSensing, Wishart

GAUSS = MatrixSensing(30, 30, 0.6, Wishart(0.5), "gaussian", noise=0.1).sample(seed=0)
QUAD = MatrixSensing(40, 40, 0.6, Wishart(0.5), "quadratic", noise=0.3).sample(seed=1)
DAMPING = {"gaussian": 0.0, "quadratic": 0.5}  # undamped quadratic sensing settles in a 2-cycle


def _sym(d, seed):
    a = np.random.default_rng(seed).standard_normal((d, d))
    return (a + a.T) / np.sqrt(2 * d)


def _soft_numpy(a, theta, psd):
    lam, u = np.linalg.eigh(a)
    eta = np.maximum(lam - theta, 0.0) if psd else np.sign(lam) * np.maximum(np.abs(lam) - theta, 0)
    deta = (lam > theta) if psd else (np.abs(lam) > theta)
    gap = lam[:, None] - lam[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(np.abs(gap) > 1e-12, (eta[:, None] - eta[None, :]) / gap, deta[:, None])
    d = len(lam)
    return (u * eta) @ u.T, (np.sum(deta) + np.sum(q)) / d**2


@pytest.mark.parametrize("psd", [True, False])
def test_soft_threshold_matches_numpy_eigh(psd):
    a = _sym(50, 3)
    est, div = spectral_soft_threshold(a, 0.4, psd=psd)
    ref, ref_div = _soft_numpy(a, 0.4, psd)
    assert np.max(np.abs(est - ref)) < 1e-10
    assert abs(div - ref_div) < 1e-10
    raw = _core.spectral_soft_threshold(a, 0.4, psd, None)
    assert np.array_equal(raw[0], est) and raw[1] == div


def _fista_numpy(sample, lam, step, n_iter, psd):
    """FISTA in NumPy on the sample's own operators (the reference of the Rust loop)."""
    est = np.zeros(sample.s.shape)
    z, t = est.copy(), 1.0
    for _ in range(n_iter):
        w = z - step * sample.adjoint(sample.forward(z) - sample.y)
        if sample.sensing.symmetric:
            val, vec = np.linalg.eigh(0.5 * (w + w.T))
            val = np.maximum(val - step * lam, 0.0) if psd else \
                np.sign(val) * np.maximum(np.abs(val) - step * lam, 0.0)
            new = (vec * val) @ vec.T
        else:
            u, sv, vt = np.linalg.svd(w, full_matrices=False)
            new = (u * np.maximum(sv - step * lam, 0.0)) @ vt
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        z = new + (t - 1) / t_new * (new - est)
        est, t = new, t_new
    return est


@pytest.mark.parametrize("psd", [True, False])
def test_rust_fista_is_fista(psd):
    # the whole FISTA loop of nuclear_norm runs in Rust: the same iterates as NumPy's FISTA
    rect = BilinearSequenceRegression(D=8, beta=1.0, rho=0.5, alpha=0.8).sample(seed=0)
    cases = [(GAUSS, 3.0), (QUAD, 4.0)] + ([] if psd else [(rect, 0.5)])
    for smp, lam in cases:
        ref = _fista_numpy(smp, lam, 0.01, 12, psd)
        out = nuclear_norm(smp, lam=lam, step=0.01, n_iter=12, tol=0.0, psd=psd)
        assert out.n_iter == 12
        assert np.max(np.abs(out.estimate - ref)) < 1e-10 * max(1.0, np.max(np.abs(ref)))
        # chunked (progress bar) = one call, bit for bit
        chunked = nuclear_norm(smp, lam=lam, step=0.01, n_iter=60, tol=0.0, psd=psd,
                               progress=True)
        whole = nuclear_norm(smp, lam=lam, step=0.01, n_iter=60, tol=0.0, psd=psd)
        assert np.array_equal(chunked.estimate, whole.estimate)


def test_fista_rejects_bad_input():
    with pytest.raises(ValueError, match="step"):
        nuclear_norm(GAUSS, lam=1.0, step=0.0)
    with pytest.raises(ValueError, match="decay"):
        nuclear_norm(GAUSS, decay=0.0)
    y, x0 = GAUSS.y, np.zeros((30, 30))
    with pytest.raises(ValueError, match="lam_floor"):
        _core.nuclear_norm_fista("gaussian_symmetric", y, 1.0, x0, d1=30, d2=30, decay=0.5)
    with pytest.raises(ValueError, match="init"):
        _core.nuclear_norm_fista("gaussian_symmetric", y, 1.0, np.zeros((3, 3)), d1=30, d2=30)
    with pytest.raises(ValueError, match="psd"):
        _core.nuclear_norm_fista("gaussian_rect", y, 1.0, np.zeros((30, 20)), d1=30, d2=20,
                                 psd=True)


def test_soft_threshold_rejects_bad_input():
    a = _sym(6, 1)
    with pytest.raises(ValueError, match="theta"):
        spectral_soft_threshold(a, -1.0)
    with pytest.raises(ValueError, match="theta"):
        _core.spectral_soft_threshold(a, float("nan"), True, None)
    with pytest.raises(ValueError, match="`a`"):
        _core.spectral_soft_threshold(a + np.triu(np.ones((6, 6)), 1), 0.1, True, None)
    with pytest.raises(ValueError, match="square"):
        spectral_soft_threshold(np.ones((2, 3)), 0.1)
    with pytest.raises(TypeError, match="psd"):
        spectral_soft_threshold(a, 0.1, psd="yes")


_FISTA: dict = {}


def _fista(sample, lam):
    key = (sample.sensing.sensing, lam)
    if key not in _FISTA:
        _FISTA[key] = nuclear_norm(sample, lam=lam, psd=True, n_iter=5000, tol=1e-13)
    return _FISTA[key]


CASES = [(s, f) for s in (GAUSS, QUAD) for f in (0.5, 2.0)]


@pytest.mark.parametrize("sample,factor", CASES,
                         ids=[f"{s.sensing.sensing}-lam{f}d" for s, f in CASES])
def test_gamp_fixed_point_is_the_fista_minimiser(sample, factor):
    d = sample.sensing.d1
    lam = factor * d
    res = nuclear_norm_gamp(sample, lam=lam, damping=DAMPING[sample.sensing.sensing])
    ref = _fista(sample, lam)
    assert isinstance(res, NuclearNormGampResult)
    assert res.converged and res.n_iter < 200
    rel = np.linalg.norm(res.estimate - ref.estimate) / np.linalg.norm(ref.estimate)
    assert rel < 1e-5, rel  # FISTA's own tolerance limits the agreement (about 1e-6)
    assert abs(res.objective - ref.objective) <= 1e-9 * abs(ref.objective)
    assert abs(res.train_error - ref.train_error) <= 1e-5 * ref.train_error
    assert res.rank_fraction == ref.rank_fraction
    assert 0.0 < res.rank_fraction < 1.0
    assert abs(res.mse - ref.mse) <= 1e-5 * ref.mse
    assert len(res.mse_trace) == res.n_iter + 1 and res.mse_trace[-1] == pytest.approx(res.mse)
    assert res.theta.shape == res.variance.shape == res.divergence.shape == (res.n_iter,)


@pytest.mark.parametrize("sample", [GAUSS, QUAD], ids=["gaussian", "quadratic"])
def test_variance_obeys_the_state_evolution_relation_at_the_fixed_point(sample):
    m = sample.sensing
    d, n = m.d1, m.n
    lam = 0.5 * d
    res = nuclear_norm_gamp(sample, lam=lam, damping=DAMPING[m.sensing], tol=1e-18)
    assert res.converged
    s, v, theta = res.estimate, res.variance[-1], res.theta[-1]
    # at the fixed point g = y - A(S): R = S + A^T(y - A S) (1 + V) / field_gain
    r = s + sample.adjoint(sample.y - sample.forward(s)) * (1 + v) / (2 * n / d)
    est, div = spectral_soft_threshold(0.5 * (r + r.T), theta)
    assert np.max(np.abs(est - s)) < 1e-7
    alpha = n / d**2
    assert abs(v - div / (2 * alpha - div)) < 1e-6 * v
    assert abs(theta - (lam / d) / (2 * alpha - div)) < 1e-6 * theta
    assert abs(res.divergence[-1] - div) < 1e-6 * div


def test_fista_reports_train_error_rank_and_objective():
    ref = _fista(GAUSS, 0.5 * 30)
    assert ref.train_error == ref.residual
    res = GAUSS.y - GAUSS.forward(ref.estimate)
    lam_s = np.linalg.eigvalsh(ref.estimate)
    assert ref.objective == pytest.approx(0.5 * np.sum(res**2) + 15.0 * np.sum(lam_s), rel=1e-12)
    assert ref.rank_fraction == np.mean(np.abs(lam_s) > 1e-9 * np.abs(lam_s).max())


def test_symmetric_nuclear_norm_matches_fista():
    lam = 0.5 * 30
    res = nuclear_norm_gamp(GAUSS, lam=lam, psd=False)
    ref = nuclear_norm(GAUSS, lam=lam, psd=False, n_iter=5000, tol=1e-13)
    assert res.converged
    rel = np.linalg.norm(res.estimate - ref.estimate) / np.linalg.norm(ref.estimate)
    assert rel < 1e-5, rel
    assert np.min(np.linalg.eigvalsh(res.estimate)) < -1e-3  # negative eigenvalues survive


def test_thread_count_does_not_change_the_numbers():
    a = nuclear_norm_gamp(QUAD, lam=20.0, damping=0.5, n_iter=30, n_threads=1)
    b = nuclear_norm_gamp(QUAD, lam=20.0, damping=0.5, n_iter=30, n_threads=2)
    assert np.array_equal(a.estimate, b.estimate)
    assert np.array_equal(a.variance, b.variance) and np.array_equal(a.theta, b.theta)
    x = _sym(250, 2)
    e1, d1 = spectral_soft_threshold(x, 0.1, n_threads=1)
    e2, d2 = spectral_soft_threshold(x, 0.1, n_threads=2)
    assert np.array_equal(e1, e2) and d1 == d2


def test_init_is_used():
    ref = nuclear_norm_gamp(GAUSS, lam=15.0)
    warm = nuclear_norm_gamp(GAUSS, lam=15.0, init=ref.estimate)
    assert warm.n_iter < ref.n_iter
    assert np.linalg.norm(warm.estimate - ref.estimate) < 1e-5 * np.linalg.norm(ref.estimate)


@pytest.mark.parametrize("kw,exc,name", [
    ({"lam": -1.0}, ValueError, "lam"),
    ({"lam": float("nan")}, ValueError, "lam"),
    ({"lam": float("inf")}, ValueError, "lam"),
    ({"lam": "1"}, TypeError, "lam"),
    ({"lam": 1.0, "damping": 1.0}, ValueError, "damping"),
    ({"lam": 1.0, "damping": -0.1}, ValueError, "damping"),
    ({"lam": 1.0, "n_iter": 0}, ValueError, "n_iter"),
    ({"lam": 1.0, "n_iter": 2.5}, TypeError, "n_iter"),
    ({"lam": 1.0, "tol": -1.0}, ValueError, "tol"),
    ({"lam": 1.0, "psd": "yes"}, TypeError, "psd"),
    ({"lam": 1.0, "progress": "no"}, TypeError, "progress"),
    ({"lam": 1.0, "init": np.zeros((3, 3))}, ValueError, "init"),
    ({"lam": 1.0, "init": np.triu(np.ones((30, 30)))}, ValueError, "init"),
])
def test_bad_arguments_raise_naming_them(kw, exc, name):
    with pytest.raises(exc, match=name):
        nuclear_norm_gamp(GAUSS, **kw)


def test_non_symmetric_or_non_sample_inputs_raise():
    rect = BilinearSequenceRegression(D=8, beta=1.0, rho=0.5, alpha=0.8).sample(seed=0)
    with pytest.raises(ValueError, match="symmetric"):
        nuclear_norm_gamp(rect, lam=1.0)
    with pytest.raises(TypeError, match="sample"):
        nuclear_norm_gamp(GAUSS.sensing, lam=1.0)
    with pytest.raises(ValueError, match="symmetric"):
        _core.nuclear_norm_gamp("gaussian_rect", rect.y, 1.0, True, np.zeros((8, 8)), 1.0,
                                seed=0, d1=8, d2=8)


def test_a_huge_penalty_gives_the_zero_matrix():
    # every eigenvalue is killed at once; the iteration still waits for V to settle
    res = nuclear_norm_gamp(GAUSS, lam=1e6)
    assert res.converged and res.n_iter >= 2
    assert res.rank_fraction == 0.0 and not res.estimate.any()
