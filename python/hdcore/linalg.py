"""Dense mat-vecs and top eigenpairs of implicit symmetric operators (Rust, multithreaded).

Matrices are float64 or float32 numpy arrays, dense (``n x m``) or packed symmetric (the upper
triangle row by row, ``n(n+1)/2`` entries, pass ``packed_n=n``). Vectors are float64. A uint16
array is read as bfloat16 bit patterns (``SpikedWigner.sample(dtype="bfloat16")``,
:func:`hdcore.models.spiked.to_bfloat16_bits`); products accumulate in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._validation import as_array, check_int, check_real
from hdcore.errors import ConvergenceError
from hdcore.random import as_seed

__all__ = ["matvec", "top_eigenpairs", "Eigenpairs", "pack_symmetric", "memory_bandwidth"]


def _matrix(a, name: str = "a") -> np.ndarray:
    # uint16 arrays are bfloat16 bit patterns (hdcore.models.spiked.to_bfloat16_bits)
    if not isinstance(a, np.ndarray) or a.dtype not in (np.float64, np.float32, np.uint16):
        a = as_array(a, name)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a


def matvec(a, x, *, transpose: bool = False, packed_n: int | None = None,
           n_threads: int | None = None) -> np.ndarray:
    """``a @ x`` (or ``a.T @ x``), streaming ``a`` once, in parallel.

    Parameters
    ----------
    a : ndarray of float64, float32 or uint16 (bfloat16 bit patterns)
        Dense 2-D matrix, or packed upper triangle (1-D) when ``packed_n`` is given.
    x : array_like
        Vector of matching length.
    transpose : bool
        Compute ``a.T @ x``.
    packed_n : int, optional
        Dimension of a packed symmetric ``a``.
    n_threads : int, optional
        Threads (default ``HDCORE_NUM_THREADS`` or all cores).
    """
    x = as_array(x, "x", ndim=1)
    return _core.matvec(_matrix(a), x, transpose=transpose, packed_n=packed_n, n_threads=n_threads)


def pack_symmetric(a) -> np.ndarray:
    """Packed upper-triangle storage of a symmetric matrix (keeps its dtype)."""
    a = _matrix(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"`a` must be a square matrix, got shape {a.shape}")
    return np.ascontiguousarray(a[np.triu_indices(a.shape[0])])


@dataclass(frozen=True)
class Eigenpairs:
    """Top eigenpairs. ``vectors[:, i]`` is the unit eigenvector of ``values[i]``."""

    values: np.ndarray
    vectors: np.ndarray = field(repr=False)
    residuals: np.ndarray
    n_matvec: int
    n_restarts: int
    converged: bool


def top_eigenpairs(a, k: int = 1, *, n: int | None = None, gram: bool = False, scale: float = 1.0,
                   packed_n: int | None = None, seed=0, tol: float = 1e-10, ncv: int | None = None,
                   max_restarts: int = 500, raise_on_failure: bool = True,
                   n_threads: int | None = None) -> Eigenpairs:
    """The ``k`` largest eigenpairs of a symmetric operator (thick-restart Lanczos in Rust).

    Parameters
    ----------
    a : ndarray or callable
        A symmetric matrix (dense or packed), a data matrix ``X`` when ``gram=True`` (the
        operator is then ``scale * X^T X``, never formed), or a callable ``a(x) -> A x`` (then
        ``n`` is required).
    k : int
        Number of eigenpairs, largest algebraic first.
    scale : float
        Multiplies the operator (e.g. ``1/n`` for a sample covariance).
    seed : int or Generator
        Seed of the random start vector.
    tol : float
        Relative residual tolerance.
    raise_on_failure : bool
        Raise :class:`~hdcore.errors.ConvergenceError` if not converged (else return the
        current Ritz pairs with ``converged=False``).

    Returns
    -------
    Eigenpairs
    """
    k = check_int(k, "k", min=1)
    scale = check_real(scale, "scale")
    tol = check_real(tol, "tol", min=0.0, min_inclusive=False)
    max_restarts = check_int(max_restarts, "max_restarts", min=0)
    if callable(a):
        if n is None:
            raise ValueError("`n` is required when `a` is a callable")
        n = check_int(n, "n", min=1)
    else:
        a = _matrix(a)
        if packed_n is not None:
            n = check_int(packed_n, "packed_n", min=1)
        elif a.ndim != 2:
            raise ValueError(f"`a` must be 2-D (or packed with `packed_n`), got shape {a.shape}")
        else:
            n = a.shape[1]
    v0 = _core.standard_normal(n, as_seed(seed), 4)
    if callable(a):
        def op(x, _f=a):
            return np.ascontiguousarray(_f(x), dtype=np.float64) * scale
        out = _core.eigsh_top_callable(op, n, k, v0, tol=tol, ncv=ncv,
                                       max_restarts=max_restarts, n_threads=n_threads)
    else:
        out = _core.eigsh_top(a, k, v0, gram=gram, scale=scale, packed_n=packed_n, tol=tol,
                              ncv=ncv, max_restarts=max_restarts, n_threads=n_threads)
    res = Eigenpairs(**out)
    if raise_on_failure and not res.converged:
        raise ConvergenceError(
            f"Lanczos did not converge in {res.n_restarts} restarts "
            f"(residuals {res.residuals}); raise max_restarts or ncv")
    return res


def memory_bandwidth(n_bytes: int = 1 << 30, repeats: int = 5, *, n_threads: int | None = None) -> float:
    """Measured read bandwidth in bytes/s (best of ``repeats`` parallel passes over a buffer)."""
    n_bytes = check_int(n_bytes, "n_bytes", min=8)
    return _core.read_bandwidth_probe(n_bytes // 8, repeats, n_threads)
