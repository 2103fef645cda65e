"""Spectral estimators: PCA of the spiked models (matrix-free Lanczos)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch

import numpy as np

from hdcore._results import Result
from hdcore._validation import check_int
from hdcore.linalg import top_eigenpairs
from hdcore.models.spiked import SpikedWignerSample, SpikedWishartSample

__all__ = ["pca", "PCAResult"]


@dataclass(frozen=True)
class PCAResult(Result):
    """Top eigenpairs and their alignment with the planted spike.

    Attributes
    ----------
    eigenvalues : ndarray
        Largest eigenvalues of ``Y`` (Wigner) or of ``X^T X / n`` (Wishart), descending.
    estimate : ndarray
        Top eigenvector rescaled to norm ``sqrt(dim)`` (sign aligned with the truth).
    overlap : float
        ``|<v, x*>| / (||v|| ||x*||)``, the cosine with the spike.
    cosine2 : float
        ``overlap**2``, the quantity the BBP formula predicts.
    """

    eigenvalues: np.ndarray
    estimate: np.ndarray = field(repr=False)
    overlap: float
    cosine2: float
    n_matvec: int


def _result(eig, truth) -> PCAResult:
    v = eig.vectors[:, 0]
    cos = float(np.dot(v, truth) / (np.linalg.norm(v) * np.linalg.norm(truth)))
    est = np.sign(cos or 1.0) * v * np.sqrt(v.size)
    return PCAResult(eigenvalues=eig.values, estimate=est, overlap=abs(cos), cosine2=cos * cos,
                     n_matvec=eig.n_matvec)


@singledispatch
def pca(sample, *, k: int = 1, seed=0, tol: float = 1e-10, n_threads: int | None = None) -> PCAResult:
    """Principal component analysis of a spiked sample.

    For :class:`~hdcore.models.SpikedWignerSample` the top eigenpairs of ``Y``; for
    :class:`~hdcore.models.SpikedWishartSample` those of the sample covariance ``X^T X / n``
    (applied as two passes over ``X``, never formed).

    Parameters
    ----------
    sample
        A spiked sample.
    k : int
        Number of eigenvalues returned.
    seed : int or Generator
        Seed of the Lanczos start vector.
    tol : float
        Relative residual tolerance of the Ritz pairs, ``> 0``.
    n_threads : int, optional
        Threads (default ``HDCORE_NUM_THREADS`` or all cores).

    Returns
    -------
    PCAResult
        Top eigenvalues, the rescaled top eigenvector and its overlap with the spike.

    Raises
    ------
    TypeError
        ``sample`` is neither a ``SpikedWignerSample`` nor a ``SpikedWishartSample``, or ``k``
        is not an integer.
    ValueError
        ``k < 1`` or ``tol <= 0``.

    Examples
    --------
    >>> import hdcore
    >>> model = hdcore.models.SpikedWigner(n=200, snr=3.0)
    >>> res = hdcore.algorithms.pca(model.sample(seed=0))
    >>> abs(res.cosine2 - hdcore.theory.bbp(model).cosine2) < 0.1  # BBP: 1 - 1/snr^2
    True

    References
    ----------
    Baik, Ben Arous & Peche, Ann. Probab. 33 (2005). Benaych-Georges & Nadakuditi, Adv. Math. 227
    (2011) (the BBP limits of :func:`hdcore.theory.bbp`).
    """
    raise TypeError(f"pca does not know samples of type {type(sample).__name__}")


@pca.register
def _(sample: SpikedWignerSample, *, k=1, seed=0, tol=1e-10, n_threads=None) -> PCAResult:
    k = check_int(k, "k", min=1)
    eig = top_eigenpairs(sample.y, k, packed_n=sample.packed_n, seed=seed, tol=tol,
                         n_threads=n_threads)
    return _result(eig, sample.x)


@pca.register
def _(sample: SpikedWishartSample, *, k=1, seed=0, tol=1e-10, n_threads=None) -> PCAResult:
    k = check_int(k, "k", min=1)
    eig = top_eigenpairs(sample.x, k, gram=True, scale=1.0 / sample.x.shape[0], seed=seed,
                         tol=tol, n_threads=n_threads)
    return _result(eig, sample.u)
