"""Spiked matrix + spiked 3-tensor sharing a factor: multi-modal learning.

Normalisation (Tabanelli, Mergny, Zdeborova & Krzakala, arXiv:2506.02664, Sec. 2), stated once
here and used by the algorithms and the theory::

    Y_m[i, j]    = u_i v_j / sqrt(N1)  + sqrt(delta_m) Z_ij          (N1 x N2)
    Y_t[i, j, k] = u_i x_j y_k / N1    + sqrt(delta_t) Z'_ijk        (N1 x N3 x N4)

with ``N_k = round(alpha_k N1)`` (``alpha_1 = 1``), ``Z, Z'`` i.i.d. N(0, 1) and the factors
``u, v, x, y`` i.i.d. from their priors (``E w^2 = 1``). Note the two scalings: the matrix
spike carries ``1/sqrt(N1)``, the tensor spike ``1/N1``. ``delta = inf`` drops a modality
(pure tensor or pure matrix). The factor ``u`` is shared: the matrix informs the tensor.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from hdcore import _core
from hdcore._validation import check_int, check_real
from hdcore.ingredients.priors import BuiltinPrior, Prior, get_prior
from hdcore.models.spiked import _dtype_name
from hdcore.random import as_seed

__all__ = ["SpikedMatrixTensor", "SpikedMatrixTensorSample", "FACTORS"]

#: names of the four factors, in the order of the dimensions ``N1..N4``
FACTORS = ("u", "v", "x", "y")


def _check_delta(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or value <= 0.0:
        raise ValueError(f"`{name}` must be > 0 (math.inf drops the modality), got {value}")
    return value


def _priors(spec) -> tuple[Prior, Prior, Prior, Prior]:
    if isinstance(spec, (str, Prior)):
        p = get_prior(spec)
        return (p, p, p, p)
    if isinstance(spec, (tuple, list)):
        if len(spec) != 4:
            raise ValueError(f"`prior` must be one prior or four (u, v, x, y), got {len(spec)}")
        a, b, c, d = (get_prior(s) for s in spec)
        return (a, b, c, d)
    raise TypeError(f"`prior` must be a Prior, a name or a 4-tuple of them, got {type(spec).__name__}")


@dataclass(frozen=True)
class SpikedMatrixTensor:
    """Spiked matrix and spiked 3-tensor with a shared factor ``u`` (module docs).

    Parameters
    ----------
    n1 : int
        Dimension of the shared factor ``u``.
    delta_m, delta_t : float
        Noise variances of the matrix and tensor modalities (inverse SNRs), > 0;
        ``math.inf`` drops that modality.
    alpha2, alpha3, alpha4 : float
        Aspect ratios ``N_k / N1`` of ``v``, ``x`` and ``y``.
    prior : Prior, str or 4-tuple
        Prior of every factor, or one per factor ``(u, v, x, y)`` (e.g. ``"gaussian"``,
        ``"rademacher"``); each with ``E w^2 = 1``.

    Raises
    ------
    ValueError, TypeError
        On an invalid argument (named in the message).

    Examples
    --------
    >>> model = SpikedMatrixTensor(100, delta_m=0.5, delta_t=0.3)
    >>> s = model.sample(seed=0)
    >>> s.y_m.shape, s.y_t.shape
    ((100, 100), (100, 100, 100))

    References
    ----------
    H. Tabanelli, P. Mergny, L. Zdeborova, F. Krzakala, "Computational thresholds in multi-modal
    learning via the spiked matrix-tensor model", arXiv:2506.02664 (2025), Sec. 2.
    """

    n1: int
    delta_m: float
    delta_t: float
    alpha2: float = 1.0
    alpha3: float = 1.0
    alpha4: float = 1.0
    prior: tuple[Prior, Prior, Prior, Prior] = "gaussian"  # type: ignore[assignment]

    if TYPE_CHECKING:  # the generated __init__ takes names too
        def __init__(self, n1: int, delta_m: float, delta_t: float, *, alpha2: float = 1.0,
                     alpha3: float = 1.0, alpha4: float = 1.0,
                     prior: Prior | str | tuple = "gaussian") -> None: ...

    def __post_init__(self):
        object.__setattr__(self, "n1", check_int(self.n1, "n1", min=1))
        object.__setattr__(self, "delta_m", _check_delta(self.delta_m, "delta_m"))
        object.__setattr__(self, "delta_t", _check_delta(self.delta_t, "delta_t"))
        for name in ("alpha2", "alpha3", "alpha4"):
            object.__setattr__(self, name, check_real(getattr(self, name), name, min=0.0,
                                                      min_inclusive=False))
        object.__setattr__(self, "prior", _priors(self.prior))
        if min(self.dims) < 1:
            raise ValueError(f"every dimension round(alpha_k n1) must be >= 1, got {self.dims}")

    @property
    def alphas(self) -> tuple[float, float, float, float]:
        """``(1, alpha2, alpha3, alpha4)``."""
        return (1.0, self.alpha2, self.alpha3, self.alpha4)

    @property
    def dims(self) -> tuple[int, int, int, int]:
        """``(N1, N2, N3, N4)``."""
        n = self.n1
        return (n, int(round(self.alpha2 * n)), int(round(self.alpha3 * n)),
                int(round(self.alpha4 * n)))

    def with_deltas(self, delta_m: float | None = None, delta_t: float | None = None
                    ) -> SpikedMatrixTensor:
        """The same model at other noise levels."""
        return SpikedMatrixTensor(self.n1, self.delta_m if delta_m is None else delta_m,
                                  self.delta_t if delta_t is None else delta_t,
                                  alpha2=self.alpha2, alpha3=self.alpha3, alpha4=self.alpha4,
                                  prior=self.prior)

    def tensor_bytes(self, dtype="float64") -> int:
        """Bytes of the dense tensor ``Y_t`` in the given storage."""
        n1, _, n3, n4 = self.dims
        return n1 * n3 * n4 * np.dtype(_dtype_name(dtype)).itemsize

    def sample(self, seed=None, *, dtype="float64", n_threads: int | None = None
               ) -> SpikedMatrixTensorSample:
        """Draw the observations and the four planted factors.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
            Same seed, same sample, whatever the number of threads (keyed streams).
        dtype : {"float64", "float32"}
            Storage of ``Y_m`` and ``Y_t`` (float32 holds the float64 sample rounded and halves
            the bytes each tensor pass reads).
        n_threads : int, optional
            Threads of the Rust sampler.

        Returns
        -------
        SpikedMatrixTensorSample

        Raises
        ------
        MemoryError
            If the tensor does not fit in memory (checked before allocating; the message gives
            the bytes).
        TypeError
            For a prior that is not built in (the sampler runs in Rust).
        """
        dtype = _dtype_name(dtype)
        for p in self.prior:
            if not isinstance(p, BuiltinPrior):
                raise TypeError("SpikedMatrixTensor.sample needs built-in priors, got "
                                f"{type(p).__name__}")
        names = [p.name for p in self.prior]
        rhos = [p._rho for p in self.prior]  # type: ignore[attr-defined]
        y_m, y_t, (u, v, x, y) = _core.sample_matrix_tensor(
            list(self.dims), self.delta_m, self.delta_t, names, as_seed(seed), rhos=rhos,
            dtype=dtype, n_threads=n_threads)
        return SpikedMatrixTensorSample(model=self, y_m=y_m, y_t=y_t, u=u, v=v, x=x, y=y)


@dataclass(frozen=True)
class SpikedMatrixTensorSample:
    """A spiked matrix-tensor draw.

    Attributes
    ----------
    y_m : ndarray or None
        ``Y_m`` (``N1 x N2``); None when ``delta_m`` is infinite.
    y_t : ndarray or None
        ``Y_t`` (``N1 x N3 x N4``, C order); None when ``delta_t`` is infinite.
    u, v, x, y : ndarray
        The planted factors.
    """

    model: SpikedMatrixTensor
    y_m: np.ndarray | None = field(repr=False)
    y_t: np.ndarray | None = field(repr=False)
    u: np.ndarray = field(repr=False)
    v: np.ndarray = field(repr=False)
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)

    @property
    def factors(self) -> dict[str, np.ndarray]:
        """The planted factors by name (``"u"``, ``"v"``, ``"x"``, ``"y"``)."""
        return {"u": self.u, "v": self.v, "x": self.x, "y": self.y}
