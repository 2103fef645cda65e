"""Epsilon-contaminated linear regression (Vilucchio et al., arXiv:2502.20003; digest 06, Sec. 1).

``n = alpha d`` samples ``x_mu ~ N(0, I_d)``, teacher ``theta* ~ N(0, I_d)`` (so
``||theta*||^2/d -> 1``), ``z_mu = <theta*, x_mu>/sqrt(d)``; with probability ``1 - eps`` the label
is an inlier ``y = z + sqrt(delta_in) xi``, otherwise an outlier ``y = beta z + sqrt(delta_out) xi``
(``xi ~ N(0, 1)``; ``beta = 0``: the outliers carry no signal).

Errors of an estimate ``w`` with ``m = <w, theta*>/d``, ``q = ||w||^2/d`` and teacher norm
``rho = ||theta*||^2/d`` (digest 06, Sec. 1; the authors' code uses ``rho = 1``)::

    estimation error      E_est = rho - 2m + q                       (= ||w - theta*||^2/d)
    generalisation error  E_gen = E[(beta_k z - <w, x>/sqrt(d))^2]   (label noise excluded)
                                = (1-eps)(rho - 2m + q) + eps(beta^2 rho - 2 beta m + q)
    excess error          E_gen - rho eps(1-eps)(1-beta)^2

The subtracted constant is the smallest ``E_gen`` of any linear predictor (``w = (1 - eps + eps
beta) theta*``), so the excess error is non-negative and vanishes for that predictor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._validation import check_choice, check_int, check_real
from hdcore.random import as_seed

__all__ = ["ContaminatedRegression", "ContaminatedRegressionSample", "RegressionErrors"]


@dataclass(frozen=True)
class RegressionErrors:
    """Errors of a linear estimate (see the module docs)."""

    estimation_error: float
    generalisation_error: float
    excess_error: float


@dataclass(frozen=True)
class ContaminatedRegression:
    """Epsilon-contaminated linear regression.

    Parameters
    ----------
    d : int
        Dimension.
    alpha : float
        Samples per dimension, ``n = round(alpha d)``.
    eps : float in [0, 1]
        Fraction of outliers.
    delta_in, delta_out : float >= 0
        Noise variances of inliers and outliers.
    beta : float
        Slope of the outliers' labels on ``z`` (0: pure noise).

    Examples
    --------
    >>> model = ContaminatedRegression(d=500, alpha=10, eps=0.1, delta_in=0.1, delta_out=1.0)
    >>> sample = model.sample(seed=0)
    >>> sample.x.shape
    (5000, 500)
    """

    d: int
    alpha: float
    eps: float
    delta_in: float
    delta_out: float
    beta: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "d", check_int(self.d, "d", min=1))
        object.__setattr__(self, "alpha", check_real(self.alpha, "alpha", min=0.0, min_inclusive=False))
        object.__setattr__(self, "eps", check_real(self.eps, "eps", min=0.0, max=1.0))
        object.__setattr__(self, "delta_in", check_real(self.delta_in, "delta_in", min=0.0))
        object.__setattr__(self, "delta_out", check_real(self.delta_out, "delta_out", min=0.0))
        object.__setattr__(self, "beta", check_real(self.beta, "beta"))
        if self.n < 1:
            raise ValueError(f"`alpha` * `d` must give at least one sample, got alpha={self.alpha}, "
                             f"d={self.d}")

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(round(self.alpha * self.d))

    @property
    def components(self) -> tuple[tuple[float, float, float], ...]:
        """``(weight, slope, noise variance)`` of each label component with positive weight."""
        comps = ((1.0 - self.eps, 1.0, self.delta_in), (self.eps, self.beta, self.delta_out))
        return tuple(c for c in comps if c[0] > 0)

    @property
    def excess_floor(self) -> float:
        """``eps (1 - eps) (1 - beta)^2``: the smallest generalisation error of a linear predictor
        (for ``||theta*||^2/d = 1``)."""
        return self.eps * (1 - self.eps) * (1 - self.beta) ** 2

    def errors(self, m, q, teacher_norm: float = 1.0) -> RegressionErrors:
        """Estimation, generalisation and excess errors from ``m``, ``q`` (module docs)."""
        rho, e, b = teacher_norm, self.eps, self.beta
        est = rho - 2 * m + q
        gen = (1 - e) * est + e * (b * b * rho - 2 * b * m + q)
        return RegressionErrors(estimation_error=est, generalisation_error=gen,
                                excess_error=gen - rho * self.excess_floor)

    def sample(self, seed=None, *, dtype="float64",
               n_threads: int | None = None) -> ContaminatedRegressionSample:
        """Draw ``(X, y, theta*, outlier mask)``; the same seed gives the same sample for any
        number of threads.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
        dtype : {"float64", "float32"}
            Storage of ``X`` (float32 halves the memory and the bytes ERM streams).
        """
        dtype = check_choice(np.dtype(dtype).name if not isinstance(dtype, str) else dtype,
                             "dtype", ("float64", "float32"))
        x, y, theta, outlier = _core.sample_contaminated_regression(
            self.n, self.d, self.eps, self.delta_in, self.delta_out, self.beta, as_seed(seed),
            dtype=dtype, n_threads=n_threads)
        return ContaminatedRegressionSample(model=self, x=x, y=y, theta=theta, outlier=outlier)


@dataclass(frozen=True)
class ContaminatedRegressionSample:
    """A draw of :class:`ContaminatedRegression`: data ``x`` (``n x d``), labels ``y``, teacher
    ``theta`` and the outlier indicators."""

    model: ContaminatedRegression
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
    outlier: np.ndarray = field(repr=False)

    @property
    def teacher_norm(self) -> float:
        """``||theta*||^2 / d`` (1 in the limit)."""
        return float(self.theta @ self.theta) / self.theta.size

    def overlaps(self, w) -> tuple[float, float]:
        """``(m, q) = (<w, theta*>/d, ||w||^2/d)``."""
        w = np.asarray(w, dtype=np.float64)
        return float(w @ self.theta) / w.size, float(w @ w) / w.size

    def errors(self, w) -> RegressionErrors:
        """Errors of the estimate ``w`` (with the realised teacher norm)."""
        m, q = self.overlaps(w)
        return self.model.errors(m, q, self.teacher_norm)
