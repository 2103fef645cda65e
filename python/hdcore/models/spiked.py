"""Spiked matrix models: spiked Wigner and spiked covariance (Wishart).

Normalisations (hdcore's, stated once here and used by algorithms and theory alike):

* :class:`SpikedWigner`: ``Y = (snr/n) x x^T + W/sqrt(n)`` with ``W`` symmetric, off-diagonal
  entries N(0, 1), diagonal entries N(0, 2) (a GOE matrix whose spectrum fills [-2, 2]), and
  ``x_i`` i.i.d. from the prior (``E x^2 = 1``). The spike eigenvalue is ``snr``; PCA detects it
  for ``snr > 1`` (BBP). In the usual ``sqrt(lambda/n) x x^T + W`` convention ``lambda = snr^2``.
* :class:`SpikedWishart`: ``n = alpha d`` samples ``x_mu ~ N(0, I_d + beta u u^T / d)`` with
  ``u_i`` i.i.d. from the prior, generated as ``x_mu = z_mu + sqrt(beta/d) v_mu u``,
  ``v_mu ~ N(0, 1)``. PCA detects the spike for ``beta > 1/sqrt(alpha)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from hdcore import _core
from hdcore._validation import check_choice, check_int, check_real
from hdcore.ingredients.priors import BuiltinPrior, Prior, get_prior
from hdcore.random import as_seed, spawn

__all__ = ["SpikedWigner", "SpikedWignerSample", "SpikedWishart", "SpikedWishartSample",
           "to_bfloat16_bits", "from_bfloat16_bits"]

_DTYPES = ("float64", "float32")
_WIGNER_DTYPES = ("float64", "float32", "bfloat16")


def _dtype_name(dtype, choices: tuple[str, ...] = _DTYPES) -> str:
    if isinstance(dtype, str):  # a name: ValueError unless one of the choices
        return check_choice(dtype if dtype in choices else _numpy_name(dtype), "dtype", choices)
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"`dtype` must be a numpy dtype or one of {choices}, got {dtype!r}") from None
    return check_choice(name, "dtype", choices)


def _numpy_name(name: str) -> str:
    try:
        return np.dtype(name).name
    except TypeError:
        return name


def to_bfloat16_bits(a) -> np.ndarray:
    """Round to bfloat16 (nearest, ties to even) and return the uint16 bit patterns.

    numpy has no bfloat16 type: hdcore holds bfloat16 storage as these bit patterns (what
    ``SpikedWigner.sample(dtype="bfloat16")`` returns and the AMP / mat-vec kernels read).
    The rounding goes through float32 (exact for float32 input).

    Parameters
    ----------
    a : array_like
        Values (any shape).

    Returns
    -------
    ndarray of uint16
        The bit patterns, same shape.

    Examples
    --------
    >>> to_bfloat16_bits(np.array([1.0, -2.0, 1.0 + 2.0**-8]))
    array([16256, 49152, 16256], dtype=uint16)
    """
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    return (rounded >> np.uint32(16)).astype(np.uint16)


def from_bfloat16_bits(bits) -> np.ndarray:
    """The float32 values of bfloat16 bit patterns (exact), the inverse of :func:`to_bfloat16_bits`.

    Parameters
    ----------
    bits : array_like of uint16
        Bit patterns.

    Returns
    -------
    ndarray of float32
        The values, same shape.

    Examples
    --------
    >>> from_bfloat16_bits(np.array([16256, 49152], dtype=np.uint16))
    array([ 1., -2.], dtype=float32)
    """
    b = np.asarray(bits, dtype=np.uint16)
    return (b.astype(np.uint32) << np.uint32(16)).view(np.float32)


@dataclass(frozen=True)
class SpikedWigner:
    """Spiked Wigner model ``Y = (snr/n) x x^T + W/sqrt(n)``.

    Parameters
    ----------
    n : int
        Dimension.
    snr : float
        Spike strength (the spike eigenvalue; BBP threshold at 1).
    prior : Prior or str
        Prior of the entries of ``x`` (``"gaussian"``, ``"rademacher"``,
        ``"sparse_rademacher(rho)"``, ``"spherical"`` or a :class:`~hdcore.ingredients.Prior`).

    Examples
    --------
    >>> model = SpikedWigner(n=2000, snr=1.5, prior="rademacher")
    >>> sample = model.sample(seed=0)
    >>> sample.y.shape
    (2000, 2000)
    """

    n: int
    snr: float
    prior: Prior = "rademacher"  # type: ignore[assignment]  # a name, converted below

    if TYPE_CHECKING:  # the generated __init__ takes a Prior or its name
        def __init__(self, n: int, snr: float, prior: Prior | str = "rademacher") -> None: ...

    def __post_init__(self):
        object.__setattr__(self, "n", check_int(self.n, "n", min=1))
        object.__setattr__(self, "snr", check_real(self.snr, "snr", min=0.0))
        object.__setattr__(self, "prior", get_prior(self.prior))

    @property
    def lam(self) -> float:
        """``lambda = snr^2``, the SNR of the ``sqrt(lambda/n) x x^T + W`` convention."""
        return self.snr**2

    def sample(self, seed=None, *, dtype="float64", storage: str = "full",
               n_threads: int | None = None) -> SpikedWignerSample:
        """Draw ``(Y, x)``.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
            Same seed, same sample, whatever the number of threads.
        dtype : {"float64", "float32", "bfloat16"}
            Storage of ``Y`` (float32 halves the memory and the bytes AMP streams).
            ``"bfloat16"`` quarters them: each entry is sampled from the same Gaussian draws
            as the float64 sample of the seed and rounded once to bfloat16 (8 significand
            bits: relative error at most ``2^-8``), with no float64 temporary; ``y`` then holds
            the uint16 bit patterns (see :func:`from_bfloat16_bits`, :meth:`SpikedWignerSample.dense`).
            With ``storage="packed"`` an ``n = 10^5`` matrix takes 10 GB. AMP reads it and
            accumulates in float64: the rounding acts like extra noise of variance at most
            ``2^-16 E[Y_ij^2] ~ 1.5e-5 / n`` per entry against the model's ``1/n``
            (docs/storage.md).
        storage : {"full", "packed"}
            ``"packed"`` stores the upper triangle row by row (``n(n+1)/2`` entries).
        n_threads : int, optional
            Threads of the sampler (the sample does not depend on them).

        Returns
        -------
        SpikedWignerSample

        Raises
        ------
        ValueError
            If ``dtype`` or ``storage`` is not one of the choices.
        MemoryError
            If the matrix does not fit in the memory still available (checked before
            allocating; the message states the bytes).
        """
        dtype = _dtype_name(dtype, _WIGNER_DTYPES)
        storage = check_choice(storage, "storage", ("full", "packed"))
        s = as_seed(seed)
        packed = storage == "packed"
        if isinstance(self.prior, BuiltinPrior):
            y, x = _core.sample_spiked_wigner(self.n, self.snr, self.prior.name, s,
                                              rho=self.prior._rho, dtype=dtype, packed=packed,
                                              n_threads=n_threads)
        else:  # custom prior: noise from the core, signal from the prior's own sampler
            y, _ = _core.sample_spiked_wigner(self.n, 0.0, "gaussian", s, dtype="float64",
                                              packed=packed, n_threads=n_threads)
            x = np.asarray(self.prior.sample(self.n, spawn(s, 1)), dtype=np.float64)
            if x.shape != (self.n,):
                raise ValueError(f"prior.sample returned shape {x.shape}, expected ({self.n},)")
            outer = (self.snr / self.n) * np.outer(x, x)
            y = y + (outer[np.triu_indices(self.n)] if packed else outer)
            y = to_bfloat16_bits(y) if dtype == "bfloat16" else y.astype(dtype)
        return SpikedWignerSample(model=self, y=y, x=x, storage=storage)


@dataclass(frozen=True)
class SpikedWignerSample:
    """A spiked Wigner draw: the observation ``y`` and the planted ``x``."""

    model: SpikedWigner
    y: np.ndarray = field(repr=False)
    x: np.ndarray = field(repr=False)
    storage: str = "full"

    @property
    def packed_n(self) -> int | None:
        return self.model.n if self.storage == "packed" else None

    @property
    def dtype(self) -> str:
        """Storage of ``y``: ``"float64"``, ``"float32"`` or ``"bfloat16"`` (uint16 bits)."""
        return "bfloat16" if self.y.dtype == np.uint16 else self.y.dtype.name

    def dense(self) -> np.ndarray:
        """``Y`` as a dense ``n x n`` float64 array."""
        y = from_bfloat16_bits(self.y) if self.dtype == "bfloat16" else self.y
        if self.storage == "full":
            return np.asarray(y, dtype=np.float64)
        n = self.model.n
        out = np.zeros((n, n))
        iu = np.triu_indices(n)
        out[iu] = y
        out.T[iu] = y
        return out


@dataclass(frozen=True)
class SpikedWishart:
    """Spiked covariance model: ``n = alpha d`` samples ``x_mu ~ N(0, I_d + beta u u^T / d)``.

    Parameters
    ----------
    d : int
        Dimension.
    alpha : float
        Samples per dimension, ``n = round(alpha d)``.
    beta : float
        Spike strength (BBP threshold ``beta = 1/sqrt(alpha)``).
    prior : Prior or str
        Prior of the entries of ``u`` (``E u_i^2 = 1``).
    """

    d: int
    alpha: float
    beta: float
    prior: Prior = "gaussian"  # type: ignore[assignment]  # a name, converted below

    if TYPE_CHECKING:  # the generated __init__ takes a Prior or its name
        def __init__(self, d: int, alpha: float, beta: float,
                     prior: Prior | str = "gaussian") -> None: ...

    def __post_init__(self):
        object.__setattr__(self, "d", check_int(self.d, "d", min=1))
        object.__setattr__(self, "alpha",
                           check_real(self.alpha, "alpha", min=0.0, min_inclusive=False))
        object.__setattr__(self, "beta", check_real(self.beta, "beta", min=0.0))
        object.__setattr__(self, "prior", get_prior(self.prior))
        if self.n < 1:
            raise ValueError("`alpha` * `d` must give at least one sample, "
                             f"got alpha={self.alpha}, d={self.d}")

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(round(self.alpha * self.d))

    def sample(self, seed=None, *, dtype="float64", n_threads: int | None = None) -> SpikedWishartSample:
        """Draw the data ``X`` (``n x d``), the spike ``u`` and the latent ``v``."""
        dtype = _dtype_name(dtype)
        s = as_seed(seed)
        if isinstance(self.prior, BuiltinPrior):
            x, u, v = _core.sample_spiked_wishart(self.n, self.d, self.beta, self.prior.name, s,
                                                  rho=self.prior._rho, dtype=dtype,
                                                  n_threads=n_threads)
        else:
            z, _, v = _core.sample_spiked_wishart(self.n, self.d, 0.0, "gaussian", s,
                                                  n_threads=n_threads)
            u = np.asarray(self.prior.sample(self.d, spawn(s, 1)), dtype=np.float64)
            x = (z + np.sqrt(self.beta / self.d) * np.outer(v, u)).astype(dtype)
        return SpikedWishartSample(model=self, x=x, u=u, v=v)


@dataclass(frozen=True)
class SpikedWishartSample:
    """A spiked covariance draw: data ``x`` (rows are samples), spike ``u``, latent ``v``."""

    model: SpikedWishart
    x: np.ndarray = field(repr=False)
    u: np.ndarray = field(repr=False)
    v: np.ndarray = field(repr=False)

    def covariance(self) -> np.ndarray:
        """The sample covariance ``X^T X / n`` (dense, ``d x d``)."""
        x = np.asarray(self.x, dtype=np.float64)
        return x.T @ x / x.shape[0]
