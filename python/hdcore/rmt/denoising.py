"""Matrix denoising: eigendecomposition / SVD, empirical Stieltjes transforms, rotationally
invariant estimators (RIE) and the denoising MMSE.

The problem is ``Y = S + sqrt(delta) Z`` with a rotationally invariant prior on ``S``:

* symmetric, spectral units (``S`` has an O(1) spectrum, ``Z`` is GOE with semicircle on
  ``[-2, 2]``, i.e. off-diagonal variance ``1/d``): the Bayes estimator keeps the eigenvectors of
  ``Y`` and shrinks its eigenvalues, ``lambda -> lambda - 2 delta Re g_Y(lambda)``, and
  ``MMSE = (1/d) E||S_hat - S||_F^2 = delta - (4 pi^2/3) delta^2 int rho_Y^3``;
* rectangular, entry units (``S`` is ``rows x cols`` with O(1) entries, ``Z`` i.i.d. N(0, 1)):
  with ``N = min``, ``beta = max/min`` and ``Y~ = Y/(rows cols)^(1/4)``, singular values shrink as
  ``s -> s - (2 delta / sqrt(beta)) ((beta - 1)/(2 s) + Re G(s))`` (``G`` the Stieltjes
  transform of the symmetrised singular-value law of ``Y~``) and, per entry,
  ``MMSE = delta - (delta^2 / beta^{3/2}) [(beta - 1)^2 int mu/x^2 + (4 pi^2/3) int mu^3]``.

Both are Tweedie's formula for rotationally invariant priors (digest S3; Bun et al. 2016;
Troiani et al. 2022, arXiv:2203.07752), used by Maillard et al. 2024 (arXiv:2408.03733) and
Erba et al. 2024 (arXiv:2410.18858); the MMSE is ``delta`` minus ``delta^2`` times the Fisher
information of the spectrum. ``Re g`` comes from the theory law of ``Y`` or, data-driven, from
the observed spectrum (``Re g_n(lambda + i eta)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hdcore import _core
from hdcore._validation import as_array, check_int, check_real
from hdcore.random import as_seed
from hdcore.rmt.laws import MPSemicircle, RectangularProductNoise, SpectralLaw, _CoreLaw

__all__ = [
    "ProductPrior",
    "RIEResult",
    "WishartPrior",
    "denoising_mmse",
    "eigh",
    "empirical_stieltjes",
    "rie",
    "svd",
]


def _matrix(a, name: str) -> np.ndarray:
    a = as_array(a, name, ndim=2)
    return a


def eigh(a, *, vectors: bool = True, n_threads: int | None = None):
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix (Rust/faer,
    parallel). Returns ``(values, vectors or None)``.

    ``a`` must be symmetric to a relative tolerance: ``max |a_ij - a_ji| <= 1e-8 max |a_ij|``
    (rounding in products such as ``Q @ D @ Q.T`` stays far below it), else ``ValueError``
    naming ``a``; within the tolerance the upper triangle (``a[i, j]``, ``j >= i``) is used.
    Unlike :func:`numpy.linalg.eigh`, a non-symmetric matrix is never silently
    decomposed through one of its triangles (symmetrise it with ``(a + a.T) / 2``).

    Parameters
    ----------
    a : array_like
        A finite, symmetric ``d x d`` matrix.
    vectors : bool
        Also compute the eigenvectors.
    n_threads : int, optional
        Threads (default ``HDCORE_NUM_THREADS`` or all cores).

    Returns
    -------
    values : ndarray
        The ``d`` eigenvalues, ascending.
    vectors : ndarray or None
        The eigenvectors as columns (``d x d``), or None with ``vectors=False``.

    Raises
    ------
    TypeError
        ``a`` is not array-like of floats.
    ValueError
        ``a`` is not two-dimensional, not square, not finite or not symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> values, vecs = eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> values.round(12).tolist(), bool(np.allclose(vecs.T @ vecs, np.eye(2)))
    ([1.0, 3.0], True)

    References
    ----------
    Bun, Allez, Bouchaud & Potters, "Rotational invariant estimator for general noisy matrices",
    IEEE Trans. Inf. Theory 62 (2016). Troiani, Erba, Krzakala, Maillard & Zdeborova, "Optimal
    denoising of rotationally invariant rectangular matrices", arXiv:2203.07752 (2022).
    """
    a = _matrix(a, "a")
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"`a` must be square, got shape {a.shape}")
    return _core.eigh(a, bool(vectors), n_threads)


def svd(a, *, vectors: bool = True, n_threads: int | None = None):
    """Thin SVD ``(U, s, V)`` with ``a = U diag(s) V^T`` and ``s`` descending (Rust/faer).

    Parameters
    ----------
    a : array_like
        A finite ``rows x cols`` matrix.
    vectors : bool
        Also compute the singular vectors.
    n_threads : int, optional
        Threads (default ``HDCORE_NUM_THREADS`` or all cores).

    Returns
    -------
    U : ndarray or None
        Left singular vectors (``rows x min(rows, cols)``), None with ``vectors=False``.
    s : ndarray
        Singular values, descending.
    V : ndarray or None
        Right singular vectors (``cols x min(rows, cols)``), None with ``vectors=False``.

    Raises
    ------
    TypeError
        ``a`` is not array-like of floats.
    ValueError
        ``a`` is not two-dimensional or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[3.0, 0.0], [0.0, 4.0], [0.0, 0.0]])
    >>> u, s, v = svd(a)
    >>> s.tolist(), bool(np.allclose(u @ np.diag(s) @ v.T, a))
    ([4.0, 3.0], True)

    References
    ----------
    Bun, Allez, Bouchaud & Potters, "Rotational invariant estimator for general noisy matrices",
    IEEE Trans. Inf. Theory 62 (2016). Troiani, Erba, Krzakala, Maillard & Zdeborova, "Optimal
    denoising of rotationally invariant rectangular matrices", arXiv:2203.07752 (2022).
    """
    return _core.svd(_matrix(a, "a"), bool(vectors), n_threads)


def empirical_stieltjes(eigenvalues, z, *, symmetrised: bool = False,
                        n_threads: int | None = None) -> np.ndarray:
    """``g_n(z) = (1/n) sum_j 1/(z - lambda_j)`` (``O(n k)`` in Rust, parallel).

    With ``symmetrised=True`` the ``lambda_j >= 0`` are singular values and the measure is
    ``(1/2n) sum_j (delta_{lambda_j} + delta_{-lambda_j})``.

    Parameters
    ----------
    eigenvalues : array_like
        The ``n`` eigenvalues (or singular values), a finite vector.
    z : complex or array_like
        Evaluation points (any shape; real values are taken as they are, not as ``x + i0``).
    symmetrised : bool
        Use the symmetrised measure of singular values.
    n_threads : int, optional
        Threads (default ``HDCORE_NUM_THREADS`` or all cores).

    Returns
    -------
    ndarray
        ``g_n(z)``, complex, with the shape of ``z``.

    Raises
    ------
    TypeError
        ``eigenvalues`` is not array-like of floats.
    ValueError
        ``eigenvalues`` is not one-dimensional or not finite, or ``z`` contains NaN or infinity.

    Examples
    --------
    >>> complex(empirical_stieltjes([1.0, -1.0], 2.0))  # (1/2)(1/(2 - 1) + 1/(2 + 1))
    (0.6666666666666666+0j)

    References
    ----------
    Bun, Allez, Bouchaud & Potters, "Rotational invariant estimator for general noisy matrices",
    IEEE Trans. Inf. Theory 62 (2016). Troiani, Erba, Krzakala, Maillard & Zdeborova, "Optimal
    denoising of rotationally invariant rectangular matrices", arXiv:2203.07752 (2022).
    """
    e = as_array(eigenvalues, "eigenvalues", ndim=1)
    zz = np.asarray(z, dtype=complex)
    if not np.isfinite(zz).all():
        raise ValueError("`z` contains NaN or infinity")
    flat = zz.ravel()
    re, im = _core.empirical_stieltjes(e, np.ascontiguousarray(flat.real),
                                       np.ascontiguousarray(flat.imag), bool(symmetrised), n_threads)
    return (re + 1j * im).reshape(zz.shape)


@dataclass(frozen=True)
class RIEResult:
    """Output of :func:`rie`.

    Attributes
    ----------
    estimate : ndarray
        The denoised matrix (units of the input).
    values : ndarray
        Eigenvalues (ascending) or singular values of the scaled observation (descending).
    shrunk : ndarray
        The shrunk values (same scaling as ``values``).
    hilbert : ndarray
        ``Re g`` at each value.
    """

    estimate: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    shrunk: np.ndarray = field(repr=False)
    hilbert: np.ndarray = field(repr=False)


def rie(y, delta: float, law: SpectralLaw | None = None, *, rectangular: bool = False,
        eta: float | None = None, n_threads: int | None = None) -> RIEResult:
    """Rotationally invariant estimator of ``S`` from ``Y = S + sqrt(delta) Z``.

    Parameters
    ----------
    y : ndarray
        The observation: symmetric ``d x d`` in spectral units, or ``rows x cols`` in entry units
        when ``rectangular``.
    delta : float
        Noise variance.
    law : SpectralLaw, optional
        Limiting law of the observation's spectrum (e.g. :class:`~hdcore.rmt.MPSemicircle`, or
        :class:`~hdcore.rmt.RectangularProductNoise` for rectangular matrices; any
        :class:`~hdcore.rmt.SpectralLaw` works). ``None``: the Hilbert transform is estimated
        from the observed spectrum itself, ``Re g_n(lambda_k + i eta)``.
    rectangular : bool
        Singular-value RIE (see the module docs for the normalisation).
    eta : float, optional
        Smoothing of the data-driven estimate (default: spread of the spectrum / sqrt(n)).

    Returns
    -------
    RIEResult
    """
    y = _matrix(y, "y")
    delta = check_real(delta, "delta", min=0.0, min_inclusive=False)
    if eta is not None:
        eta = check_real(eta, "eta", min=0.0, min_inclusive=False)
    if not rectangular and y.shape[0] != y.shape[1]:
        raise ValueError(f"`y` must be square for the symmetric RIE, got shape {y.shape}")
    if law is not None and not isinstance(law, SpectralLaw):
        raise TypeError(f"`law` must be a SpectralLaw or None, got {type(law).__name__}")
    if law is None or isinstance(law, _CoreLaw):
        kw: dict[str, Any] = ({} if law is None
                              else {"law_kind": law._kind, "law_params": law._params})
        out = _core.rie(y, delta, eta=eta, rectangular=bool(rectangular), n_threads=n_threads, **kw)
        return RIEResult(**out)
    # a Python law: decomposition and reconstruction in Rust, shrinkage here
    if rectangular:
        rows, cols = y.shape
        c = (rows * cols) ** 0.25
        beta = max(rows, cols) / min(rows, cols)
        u, s, v = _core.svd(np.ascontiguousarray(y / c), True, n_threads)
        assert u is not None and v is not None  # vectors=True
        h = law.hilbert(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            shrunk = np.where(s > 0, s - 2 * delta / np.sqrt(beta) * ((beta - 1) / (2 * s) + h), 0.0)
        est = _core.spectral_reconstruct(u, np.ascontiguousarray(c * shrunk), v, n_threads)
        return RIEResult(estimate=est, values=s, shrunk=shrunk, hilbert=h)
    lam, vec = _core.eigh(y, True, n_threads)
    assert vec is not None  # vectors=True
    h = law.hilbert(lam)
    shrunk = lam - 2 * delta * h
    est = _core.spectral_reconstruct(vec, np.ascontiguousarray(shrunk), vec, n_threads)
    return RIEResult(estimate=est, values=lam, shrunk=shrunk, hilbert=h)


def denoising_mmse(law: SpectralLaw, delta: float | None = None, *, aspect: float | None = None) -> float:
    """Denoising MMSE from the law of the observation (Tweedie/Fisher-information formula).

    Parameters
    ----------
    law : SpectralLaw
        Law of the noisy observation (eigenvalues, or symmetrised singular values for
        rectangular problems).
    delta : float, optional
        Noise variance (read from ``law.delta`` for the built-in noisy laws).
    aspect : float, optional
        ``max/min`` side for a rectangular problem (read from ``law.aspect`` for
        :class:`RectangularProductNoise`); ``None`` means symmetric.

    Returns
    -------
    float
        Symmetric: ``delta - (4 pi^2/3) delta^2 int rho^3`` (per ``(1/d)||.||_F^2``).
        Rectangular: ``delta - delta^2/aspect^{3/2} [(aspect-1)^2 int mu/x^2 +
        (4 pi^2/3) int mu^3]`` (per entry).
    """
    if not isinstance(law, SpectralLaw):
        raise TypeError(f"`law` must be a SpectralLaw, got {type(law).__name__}")
    if delta is None:
        if not hasattr(law, "delta"):
            raise ValueError("`delta` is required for this law")
        delta = law.delta
    delta = check_real(delta, "delta", min=0.0, min_inclusive=False)
    if aspect is None and isinstance(law, RectangularProductNoise):
        aspect = law.aspect
    if (isinstance(law, (MPSemicircle, RectangularProductNoise)) and delta == law.delta
            and (aspect is None or aspect == getattr(law, "aspect", None))):
        return float(_core.rmt_denoising_mmse(law._kind, law._params))
    q = law.quadrature()
    cube = float(np.sum(q.w * q.rho**3))
    if aspect is None:
        return delta - 4 * np.pi**2 / 3 * delta**2 * cube
    aspect = check_real(aspect, "aspect", min=1.0)
    inv2 = float(np.sum(q.w * q.rho / q.x**2)) if aspect > 1 else 0.0
    return delta - delta**2 / aspect**1.5 * ((aspect - 1) ** 2 * inv2 + 4 * np.pi**2 / 3 * cube)


@dataclass(frozen=True)
class WishartPrior:
    """``S = W^T W / m``, ``W`` of shape ``m x d`` with i.i.d. N(0, 1) entries, ``kappa = m/d``.

    Spectral units: the spectrum of ``S`` is Marchenko-Pastur with mean 1 and
    ``Q0 = (1/d) E Tr S^2 = 1 + 1/kappa``; the MMSE at zero SNR is ``Q0 - 1 = 1/kappa``.
    """

    kappa: float

    def __post_init__(self):
        object.__setattr__(self, "kappa", check_real(self.kappa, "kappa", min=0.0, min_inclusive=False))

    symmetric = True

    @property
    def q0(self) -> float:
        """``(1/d) E Tr S^2``."""
        return 1.0 + 1.0 / self.kappa

    @property
    def variance(self) -> float:
        """``(1/d) E ||S - E S||_F^2 = 1/kappa``."""
        return 1.0 / self.kappa

    def spectrum(self):
        """Limiting spectrum of ``S``."""
        from hdcore.rmt.laws import MarchenkoPastur
        return MarchenkoPastur(self.kappa)

    def observation_law(self, delta: float) -> MPSemicircle:
        """Law of the spectrum of ``S + sqrt(delta) Z``."""
        return MPSemicircle(self.kappa, delta)

    def mmse(self, delta: float) -> float:
        """Denoising MMSE at noise ``delta`` (per ``(1/d)||.||_F^2``)."""
        return denoising_mmse(self.observation_law(delta))

    def denoise(self, y, delta: float, *, n_threads: int | None = None) -> np.ndarray:
        """Bayes-optimal (RIE) estimate of ``S`` from ``y = S + sqrt(delta) Z``."""
        return rie(y, delta, self.observation_law(delta), n_threads=n_threads).estimate

    def sample(self, d: int, seed=None, *, n_threads: int | None = None) -> np.ndarray:
        """A draw of ``S`` (``d x d``, ``m = round(kappa d)``)."""
        d = check_int(d, "d", min=1)
        m = max(1, round(self.kappa * d))
        return _core.sample_wishart_teacher(d, m, as_seed(seed), n_threads)[1]


@dataclass(frozen=True)
class ProductPrior:
    """``S = V U / sqrt(r)`` with ``V`` (``rows x r``) and ``U`` (``r x cols``) i.i.d. N(0, 1).

    Entry units (``E S_ij^2 = 1``); the MMSE at zero SNR is 1. ``aspect = max/min`` side and
    ``rank = r / min`` side define the limiting laws.
    """

    aspect: float
    rank: float

    def __post_init__(self):
        object.__setattr__(self, "aspect", check_real(self.aspect, "aspect", min=1.0))
        object.__setattr__(self, "rank", check_real(self.rank, "rank", min=0.0, min_inclusive=False))

    symmetric = False
    q0 = 1.0
    variance = 1.0

    def observation_law(self, delta: float) -> RectangularProductNoise:
        """Symmetrised singular-value law of ``(S + sqrt(delta) Z)/(rows cols)^(1/4)``."""
        return RectangularProductNoise(self.aspect, self.rank, delta)

    def mmse(self, delta: float) -> float:
        """Denoising MMSE at noise ``delta`` (per entry)."""
        return denoising_mmse(self.observation_law(delta))

    def denoise(self, y, delta: float, *, n_threads: int | None = None) -> np.ndarray:
        """Bayes-optimal (RIE) estimate of ``S`` from ``y = S + sqrt(delta) Z``."""
        y = _matrix(y, "y")
        asp = max(y.shape) / min(y.shape)
        if abs(asp - self.aspect) > 1e-9 * asp:
            raise ValueError(f"`y` has aspect {asp}, the prior was built for {self.aspect}")
        return rie(y, delta, self.observation_law(delta), rectangular=True, n_threads=n_threads).estimate
