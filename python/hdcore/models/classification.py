"""Binary classification with a linear teacher (the perceptron teacher-student model).

``n = alpha d`` samples ``x_mu ~ N(0, I_d)``, teacher ``theta* ~ N(0, I_d)`` (so
``rho = ||theta*||^2/d -> 1``), ``z_mu = <theta*, x_mu>/sqrt(d)`` and labels ``y_mu = +-1`` with

    sign      ``y = sign(z)``
    logistic  ``P(y = 1 | z) = sigma(beta z)``  (``sigma(t) = 1/(1 + e^{-t})``)
    probit    ``P(y = 1 | z) = Phi(beta z)``, i.e. ``y = sign(z + xi/beta)``

each label then flipped with probability ``flip`` (``flip = 1/2``: pure noise, the random
labels of Gardner's capacity problem). ``beta`` is the signal strength ``gamma`` of Candes &
Sur (2020), whose ``Var(x^T beta_0) = gamma^2`` is ``beta^2 rho`` here.

Errors of a linear classifier ``sign(<w, x>/sqrt(d))`` with ``m = <w, theta*>/d``,
``q = ||w||^2/d``: the student field ``omega`` and ``z`` are jointly Gaussian with covariance
``[[rho, m], [m, q]]``, so

    angle                 ``theta = arccos(m/sqrt(q rho))``
    generalisation error  ``P(y_new != sign(omega)) = f + (1 - 2f) e_0`` with ``f = flip`` and
                          sign: ``e_0 = theta/pi``; probit: ``e_0 = arccos(m/sqrt(q (rho + 1/beta^2)))/pi``
                          (Sheppard's formula for the orthant of a Gaussian pair);
                          logistic: ``e_0 = 2 E[1{omega > 0} sigma(-beta z)]`` (quadrature)

(Engel & Van den Broeck, *Statistical Mechanics of Learning*, CUP 2001, Eq. (2.3) for
``theta/pi``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import expit, ndtr

from hdcore import _core
from hdcore._validation import check_choice, check_int, check_real
from hdcore.random import as_seed, spawn

__all__ = ["BinaryClassification", "BinaryClassificationSample", "ClassificationErrors"]

_TEACHERS = ("sign", "logistic", "probit")


@lru_cache(maxsize=4)
def _nodes(n_leg: int, n_her: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    s, ws = np.polynomial.legendre.leggauss(n_leg)
    eta, we = np.polynomial.hermite_e.hermegauss(n_her)
    return s, ws, eta, we / math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class ClassificationErrors:
    """Errors of a linear classifier (module docs).

    Attributes
    ----------
    generalisation_error : float
        Probability of misclassifying a fresh sample of the model (label noise included).
    angle : float
        ``arccos(m/sqrt(q rho))`` in radians.
    """

    generalisation_error: float
    angle: float


@dataclass(frozen=True)
class BinaryClassification:
    """Binary classification with a linear teacher (module docs).

    Parameters
    ----------
    d : int
        Dimension.
    alpha : float
        Samples per dimension, ``n = round(alpha d)``.
    teacher : {"sign", "logistic", "probit"}
        Link from ``z`` to the label.
    beta : float
        Signal strength of the logistic and probit teachers (ignored by ``"sign"``).
    flip : float in [0, 1/2]
        Probability that a label is flipped.

    Examples
    --------
    >>> model = BinaryClassification(d=500, alpha=3.0, teacher="logistic", beta=2.0)
    >>> sample = model.sample(seed=0)
    >>> sample.x.shape, set(sample.y.tolist())
    ((1500, 500), {-1.0, 1.0})
    """

    d: int
    alpha: float
    teacher: str = "sign"
    beta: float = 1.0
    flip: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "d", check_int(self.d, "d", min=1))
        object.__setattr__(self, "alpha", check_real(self.alpha, "alpha", min=0.0, min_inclusive=False))
        object.__setattr__(self, "teacher", check_choice(self.teacher, "teacher", _TEACHERS))
        object.__setattr__(self, "beta", check_real(self.beta, "beta", min=0.0, min_inclusive=False))
        object.__setattr__(self, "flip", check_real(self.flip, "flip", min=0.0, max=0.5))
        if self.n < 1:
            raise ValueError(f"`alpha` * `d` must give at least one sample, got alpha={self.alpha}, "
                             f"d={self.d}")

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(round(self.alpha * self.d))

    def label_probability(self, z) -> np.ndarray:
        """``P(y = 1 | z)`` before the flips (for ``"sign"``: the indicator ``z > 0``)."""
        z = np.asarray(z, dtype=np.float64)
        if self.teacher == "sign":
            return (z > 0).astype(np.float64)
        if self.teacher == "logistic":
            return expit(self.beta * z)
        return ndtr(self.beta * z)

    def errors(self, m: float, q: float, teacher_norm: float = 1.0) -> ClassificationErrors:
        """Generalisation error and angle of a classifier with overlaps ``m``, ``q`` (module docs).

        Raises
        ------
        ValueError
            ``q <= 0`` or ``m^2 > q rho`` (no Gaussian pair has these overlaps).
        """
        m = check_real(m, "m")
        q = check_real(q, "q", min=0.0, min_inclusive=False)
        rho = check_real(teacher_norm, "teacher_norm", min=0.0, min_inclusive=False)
        c = m / math.sqrt(q * rho)
        if abs(c) > 1 + 1e-9:
            raise ValueError(f"`m`: m^2 = {m * m:.6g} exceeds q rho = {q * rho:.6g}")
        c = min(max(c, -1.0), 1.0)
        angle = math.acos(c)
        if self.teacher == "sign":
            e0 = angle / math.pi
        elif self.teacher == "probit":
            e0 = math.acos(min(max(m / math.sqrt(q * (rho + self.beta**-2)), -1.0), 1.0)) / math.pi
        else:
            e0 = _logistic_error(m, q, rho, self.beta)
        f = self.flip
        return ClassificationErrors(generalisation_error=f + (1 - 2 * f) * e0, angle=angle)

    def sample(self, seed=None, *, n_threads: int | None = None) -> BinaryClassificationSample:
        """Draw ``(X, y, theta*)``; the same seed gives the same sample for any number of
        threads (``X`` and ``theta*`` come from the Rust streams of
        :class:`~hdcore.models.ContaminatedRegression`, the labels from a NumPy stream spawned
        from the same seed).

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
        n_threads : int, optional
            Threads of the Rust sampler.
        """
        s = as_seed(seed)
        x, z, theta, _ = _core.sample_contaminated_regression(
            self.n, self.d, 0.0, 0.0, 0.0, 1.0, s, dtype="float64", n_threads=n_threads)
        rng = np.random.default_rng(spawn(s, 1))
        if self.teacher == "sign":
            y = np.where(z > 0, 1.0, -1.0)
        else:
            y = np.where(rng.random(z.size) < self.label_probability(z), 1.0, -1.0)
        if self.flip > 0:
            y = np.where(rng.random(z.size) < self.flip, -y, y)
        return BinaryClassificationSample(model=self, x=x, y=y, theta=theta)


def _logistic_error(m: float, q: float, rho: float, beta: float) -> float:
    """``2 E[1{omega > 0} sigma(-beta z)]``: ``omega = sqrt(q) s``, ``z = (m/sqrt q) s + sqrt(rho -
    m^2/q) eta``; Gauss-Legendre on ``s in [0, 12]``, Gauss-Hermite in ``eta``."""
    s, ws, eta, we = _nodes(200, 60)
    s, ws = 6.0 * (s + 1.0), 6.0 * ws
    vs = max(rho - m * m / q, 0.0)
    z = (m / math.sqrt(q)) * s[:, None] + math.sqrt(vs) * eta[None, :]
    inner = expit(-beta * z) @ we
    return float(2.0 * np.sum(ws * np.exp(-0.5 * s * s) / math.sqrt(2 * math.pi) * inner))


@dataclass(frozen=True)
class BinaryClassificationSample:
    """A draw of :class:`BinaryClassification`: data ``x`` (``n x d``), labels ``y`` (+-1) and
    teacher ``theta``."""

    model: BinaryClassification
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)

    @property
    def teacher_norm(self) -> float:
        """``||theta*||^2 / d`` (1 in the limit)."""
        return float(self.theta @ self.theta) / self.theta.size

    def overlaps(self, w) -> tuple[float, float]:
        """``(m, q) = (<w, theta*>/d, ||w||^2/d)``."""
        w = np.asarray(w, dtype=np.float64)
        return float(w @ self.theta) / w.size, float(w @ w) / w.size

    def errors(self, w) -> ClassificationErrors:
        """Errors of the classifier ``sign(<w, x>/sqrt(d))`` (with the realised teacher norm)."""
        m, q = self.overlaps(w)
        return self.model.errors(m, q, self.teacher_norm)
