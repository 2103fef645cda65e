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

__all__ = ["SpikedWigner", "SpikedWignerSample", "SpikedWishart", "SpikedWishartSample"]

_DTYPES = ("float64", "float32")


def _dtype_name(dtype) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"`dtype` must be a numpy dtype, got {dtype!r}") from None
    return check_choice(name, "dtype", _DTYPES)


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
        dtype : {"float64", "float32"}
            Storage of ``Y`` (float32 halves the memory and the bytes AMP streams).
        storage : {"full", "packed"}
            ``"packed"`` stores the upper triangle row by row (``n(n+1)/2`` entries).
        """
        dtype = _dtype_name(dtype)
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
            y = y.astype(dtype)
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

    def dense(self) -> np.ndarray:
        """``Y`` as a dense ``n x n`` float64 array."""
        if self.storage == "full":
            return np.asarray(self.y, dtype=np.float64)
        n = self.model.n
        out = np.zeros((n, n))
        iu = np.triu_indices(n)
        out[iu] = self.y
        out.T[iu] = self.y
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
