"""Mat-vecs and Lanczos against NumPy/SciPy, plus property tests of the binding layer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdcore import _core
from hdcore.errors import ConvergenceError
from hdcore.linalg import matvec, pack_symmetric, top_eigenpairs


def _sym(n, rng):
    a = rng.standard_normal((n, n))
    return (a + a.T) / 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matvec_matches_numpy(rng, dtype):
    a = rng.standard_normal((37, 2100)).astype(dtype)
    x = rng.standard_normal(2100)
    xt = rng.standard_normal(37)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(matvec(a, x), a.astype(np.float64) @ x, rtol=tol, atol=tol)
    np.testing.assert_allclose(matvec(a, xt, transpose=True), a.astype(np.float64).T @ xt,
                               rtol=tol, atol=tol)


def test_packed_symmetric_matvec_matches_dense(rng):
    a = _sym(301, rng)
    x = rng.standard_normal(301)
    np.testing.assert_allclose(matvec(pack_symmetric(a), x, packed_n=301), a @ x, atol=1e-10)


def test_lanczos_top_eigenpairs_match_numpy(rng):
    a = _sym(400, rng)
    w, v = np.linalg.eigh(a)
    e = top_eigenpairs(a, 3, seed=1)
    np.testing.assert_allclose(e.values, w[::-1][:3], atol=1e-8)
    for i in range(3):
        assert abs(abs(e.vectors[:, i] @ v[:, -1 - i]) - 1) < 1e-6
    # packed storage, gram operator and Python callable give the same spectrum
    ep = top_eigenpairs(pack_symmetric(a), 3, packed_n=400, seed=1)
    np.testing.assert_allclose(ep.values, e.values, atol=1e-8)
    ec = top_eigenpairs(lambda x: a @ x, 3, n=400, seed=1)
    np.testing.assert_allclose(ec.values, e.values, atol=1e-8)
    x = rng.standard_normal((500, 60))
    eg = top_eigenpairs(x, 2, gram=True, scale=1 / 500)
    np.testing.assert_allclose(eg.values, np.linalg.eigvalsh(x.T @ x / 500)[::-1][:2], atol=1e-8)


def test_lanczos_reports_non_convergence(rng):
    a = _sym(300, rng)
    with pytest.raises(ConvergenceError):
        top_eigenpairs(a, 1, max_restarts=0, ncv=3, tol=1e-14)
    e = top_eigenpairs(a, 1, max_restarts=0, ncv=3, tol=1e-14, raise_on_failure=False)
    assert not e.converged


def test_lanczos_rejects_non_symmetric_input(rng):
    with pytest.raises(ValueError, match="symmetric"):
        top_eigenpairs(rng.standard_normal((10, 10)), 1)


def test_callable_operator_errors_propagate():
    def bad(x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        top_eigenpairs(bad, 1, n=5)
    with pytest.raises(ValueError, match="op"):
        top_eigenpairs(lambda x: np.ones(3), 1, n=5)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(0, 40), n=st.integers(0, 40), extra=st.integers(-2, 2),
       dtype=st.sampled_from(["float64", "float32", "int64"]), bad=st.booleans())
def test_binding_validates_shapes_dtypes_and_values(m, n, extra, dtype, bad):
    """Random shapes and values: the binding either computes A @ x or raises a clear
    ValueError/TypeError naming the argument -- never crashes."""
    a = np.ones((m, n), dtype=dtype)
    x = np.ones(max(n + extra, 0))
    if bad and x.size:
        x[0] = np.nan
    try:
        y = _core.matvec(a, x)
    except TypeError as e:
        assert dtype == "int64" and "`a`" in str(e)
    except ValueError as e:
        assert "`x`" in str(e)
        assert (bad and x.size) or x.size != n
    else:
        assert dtype != "int64" and x.size == n and not (bad and x.size)
        np.testing.assert_allclose(y, a.astype(float) @ x)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 30), length=st.integers(0, 500))
def test_binding_checks_packed_length(n, length):
    a = np.zeros(length)
    if length == n * (n + 1) // 2:
        assert _core.matvec(a, np.zeros(n), packed_n=n).shape == (n,)
    else:
        with pytest.raises(ValueError, match="packed `a`"):
            _core.matvec(a, np.zeros(n), packed_n=n)


def test_non_contiguous_arrays_are_rejected_by_the_core_and_fixed_by_the_api(rng):
    a = rng.standard_normal((20, 20))[:, ::2]
    with pytest.raises(ValueError, match="contiguous"):
        _core.matvec(a, np.ones(10))
    np.testing.assert_allclose(matvec(a, np.ones(10)), a @ np.ones(10))
