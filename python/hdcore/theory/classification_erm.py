"""Replica-symmetric theory of ridge-regularised ERM in binary classification, and the classical
curves it reduces to: Gardner's max-margin capacity and the Candes-Sur existence threshold of
the logistic MLE.

Estimator: ``w = argmin sum_mu l(y_mu <w, x_mu>/sqrt(d)) + (lam/2)||w||^2`` for a convex margin
loss ``l`` (:mod:`hdcore.ingredients.classification_losses`) on the
:class:`~hdcore.models.BinaryClassification` model. Order parameters ``m = <w, theta*>/d``,
``q = ||w||^2/d``, ``V`` and their conjugates solve (Aubin, Krzakala, Lu & Zdeborova, NeurIPS
2020, arXiv:2006.06560, Eqs. (12)-(13); Gerace et al., ICML 2020, for the general form)::

    m = rho m_hat/(lam + V_hat),  q = (rho m_hat^2 + q_hat)/(lam + V_hat)^2,  V = 1/(lam + V_hat)

    m_hat = alpha E_xi sum_y  dZ(y, w*, V*) f(y, sqrt(q) xi)
    q_hat = alpha E_xi sum_y  Z(y, w*, V*) f(y, sqrt(q) xi)^2
    V_hat = -alpha E_xi sum_y Z(y, w*, V*) df(y, sqrt(q) xi)

with ``xi ~ N(0, 1)``, ``w* = (m/sqrt q) xi``, ``V* = rho - m^2/q``, the teacher's partition
function ``Z(y, w, V) = E_{z ~ N(w, V)} P(y | z)`` and its ``w``-derivative ``dZ``, and the
loss' output function ``f = y (u(y omega) - y omega)/V``, ``df = -(1 - u'(y omega))/V`` from the
margin prox ``u`` (module docs of the losses). Teachers: with ``s^2 = V* + 1/beta^2`` (``1/beta^2
= 0`` for the sign teacher), sign and probit have ``Z = f + (1 - 2f) Phi(y w*/s)``, ``dZ = (1 -
2f) y phi(w*/s)/s``; the logistic teacher's ``Z`` is a Gauss-Hermite integral over ``z``.

Predictions at the fixed point: generalisation error and angle from ``(m, q)``
(:meth:`BinaryClassification.errors`; ``arccos(m/sqrt(q rho))/pi`` for the noiseless sign
teacher), and, since a training sample's margin is the prox ``u(y omega)`` of a fresh field
``omega = sqrt(q) xi``, the training loss ``E sum_y Z l(u)`` and training error
``E sum_y Z 1{u < 0}``.

Classical limits (tested against the fixed point):

* Max-margin (Gardner & Derrida, J. Phys. A 21, 271 (1988); proven by Montanari, Ruan, Sohn &
  Yan, arXiv:1911.01544, Prop. 3.1): data are separable with normalised margin ``kappa`` iff
  ``1/alpha >= min_R G(kappa, R)`` with ``G(kappa, R) = E[(kappa - R y z - sqrt(1 - R^2) g)_+^2]
  /(1 - R^2)`` (``z, g ~ N(0, 1)`` independent, ``y`` the teacher's label of ``z``), and the
  max-margin classifier has overlap ``R`` at the minimiser (:func:`max_margin`). For random
  labels ``G`` does not depend on ``R`` and ``alpha_c(kappa) = 1/E[(kappa + g)_+^2]``: Gardner's
  capacity, ``alpha_c(0) = 2`` (Cover 1965). Hinge loss at ``lam -> 0`` is the max-margin
  classifier, with ``kappa = 1/sqrt(q)``.
* Logistic MLE (Candes & Sur, Ann. Statist. 48, 27 (2020), Thm. 1): the MLE (``lam = 0``)
  exists iff ``1/alpha < h(beta) = min_t E[(g - t y z)_+^2]``, the ``kappa = 0`` case of the
  above (:func:`separability_threshold`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import expit, ndtr

from hdcore._results import Result
from hdcore._validation import check_instance, check_int, check_real
from hdcore.ingredients.classification_losses import ClassificationLoss, get_classification_loss
from hdcore.models.classification import BinaryClassification
from hdcore.theory.fixed_point import OutOfDomain, solve

__all__ = ["ClassificationFixedPoint", "classification_fixed_point", "max_margin",
           "separability_threshold", "gardner_capacity"]

_SQ2PI = math.sqrt(2 * math.pi)
#: half-width of the xi range, Gauss-Legendre nodes per panel, largest panel width
_XI_MAX, _NODES, _PANEL = 10.0, 8, 0.2


@lru_cache(maxsize=4)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


@lru_cache(maxsize=4)
def _hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / _SQ2PI


def _panels(cuts, half_width: float = _XI_MAX, width: float = _PANEL) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on ``[-half_width, half_width]`` split at ``cuts`` and
    into panels no wider than ``width``."""
    pts = np.unique(np.clip(np.concatenate([[-half_width, half_width], np.asarray(cuts, float)]),
                            -half_width, half_width))
    a, b = pts[:-1], pts[1:]
    m = np.maximum(1, np.ceil((b - a) / width).astype(int))
    seg = np.repeat(np.arange(a.size), m)
    local = np.arange(seg.size) - np.repeat(np.cumsum(m) - m, m)
    h = ((b - a) / m)[seg]
    lo = a[seg] + local * h
    gx, gw = _legendre(_NODES)
    x = (lo[:, None] + 0.5 * h[:, None] * (gx + 1)).ravel()
    w = (0.5 * h[:, None] * gw).ravel()
    return x, w


class _Teacher:
    """``Z(y, w, V)`` and ``dZ/dw`` of the model's label channel (module docs)."""

    def __init__(self, model: BinaryClassification):
        self.kind, self.beta, self.flip = model.teacher, model.beta, model.flip

    def z_dz(self, y: float, w: np.ndarray, V: float) -> tuple[np.ndarray, np.ndarray]:
        f = self.flip
        if self.kind == "logistic":
            eta, we = _hermite(48)
            t = self.beta * y * (w[:, None] + math.sqrt(V) * eta[None, :])
            p = expit(t)
            z0 = p @ we
            dz0 = (self.beta * y) * ((p * (1 - p)) @ we)
        else:
            s = math.sqrt(V + (0.0 if self.kind == "sign" else self.beta**-2))
            z0 = ndtr(y * w / s)
            dz0 = y * np.exp(-0.5 * (w / s) ** 2) / (_SQ2PI * s)
        return f + (1 - 2 * f) * z0, (1 - 2 * f) * dz0

    def feature_width(self, V: float) -> float:
        """Width in ``w`` of the steepest feature of ``Z``."""
        b2 = 0.0 if self.kind == "sign" else self.beta**-2
        return math.sqrt(V + b2)


class _Problem:
    def __init__(self, model: BinaryClassification, loss: ClassificationLoss, lam: float, rho: float):
        self.model, self.loss, self.lam, self.rho = model, loss, lam, rho
        self.alpha = model.alpha
        self.teacher = _Teacher(model)

    def grid(self, m: float, q: float, V: float, extra=()) -> tuple[np.ndarray, np.ndarray, float, float]:
        Vs = self.rho - m * m / q
        if Vs < -1e-9 * self.rho:
            raise OutOfDomain(f"m^2 = {m * m:.6g} > q rho = {q * self.rho:.6g}")
        Vs = max(Vs, 1e-300)
        sq = math.sqrt(q)
        cuts = [0.0]
        for t in (*self.loss.prox_breakpoints(V), *extra):
            cuts += [t / sq, -t / sq]
        if m != 0:
            # Z varies on the scale sqrt(V*) in w* = (m/sqrt q) xi: panels refined around 0
            wid = self.teacher.feature_width(Vs) * sq / abs(m)
            if wid < 4 * _PANEL:
                cuts += list(np.linspace(-8 * wid, 8 * wid, 65))
        xi, wx = _panels(cuts)
        return xi, wx * np.exp(-0.5 * xi * xi) / _SQ2PI, Vs, sq

    def hats(self, m: float, q: float, V: float) -> tuple[float, float, float]:
        if not (V > 0 and math.isfinite(V)):
            raise OutOfDomain(f"V = {V} is not positive")
        if not q > 0:
            raise OutOfDomain("non-positive q")
        xi, w, Vs, sq = self.grid(m, q, V)
        ws = (m / sq) * xi
        mh = qh = vh = 0.0
        for y in (1.0, -1.0):
            t = y * sq * xi
            u, du = self.loss.prox(t, V)
            Z, dZ = self.teacher.z_dz(y, ws, Vs)
            mh += float(np.sum(w * dZ * y * (u - t))) / V
            qh += float(np.sum(w * Z * (u - t) ** 2)) / V**2
            vh += float(np.sum(w * Z * (1.0 - du))) / V
        a = self.alpha
        return a * mh, a * qh, a * vh

    def step(self, x: np.ndarray) -> np.ndarray:
        mh, qh, vh = self.hats(*x)
        den = vh + self.lam
        return np.array([self.rho * mh / den, (self.rho * mh * mh + qh) / den**2, 1.0 / den])

    def training(self, m: float, q: float, V: float) -> tuple[float, float]:
        t0 = self.loss.margin_threshold(V)
        xi, w, Vs, sq = self.grid(m, q, V, extra=(t0,))
        ws = (m / sq) * xi
        loss = err = 0.0
        for y in (1.0, -1.0):
            t = y * sq * xi
            u, _ = self.loss.prox(t, V)
            Z, _ = self.teacher.z_dz(y, ws, Vs)
            loss += float(np.sum(w * Z * self.loss.value(u)))
            err += float(np.sum(w * Z * (u < 0)))
        return loss, err


@dataclass(frozen=True)
class ClassificationFixedPoint(Result):
    """A replica-symmetric fixed point of classification ERM (module docs).

    Attributes
    ----------
    m, q, V, m_hat, q_hat, V_hat : float
        Order parameters and conjugates.
    generalisation_error, angle : float
        From ``(m, q)`` (:meth:`hdcore.models.BinaryClassification.errors`).
    training_loss, training_error : float
        ``E l(u)`` and ``P(u < 0)`` of the training margins (module docs).
    margin : float
        ``1/sqrt(q)``: the normalised margin of the hinge solution at ``lam -> 0``.
    converged : bool
    n_iter : int
    reason : str
        Why the iteration stopped without converging (``""`` when it converged).
    """

    m: float
    q: float
    V: float
    m_hat: float
    q_hat: float
    V_hat: float
    generalisation_error: float
    angle: float
    training_loss: float
    training_error: float
    margin: float
    converged: bool
    n_iter: int
    reason: str

    @property
    def state(self) -> tuple[float, float, float]:
        """``(m, q, V)``, to warm-start a neighbouring fixed point."""
        return (self.m, self.q, self.V)


def _domain(x: np.ndarray) -> str | None:
    if not x[1] > 0:
        return "non-positive q"
    if x[1] > 1e10 or x[2] > 1e10:
        return (f"q or V diverges (q = {x[1]:.3g}, V = {x[2]:.3g}): the data are separable and "
                "lam is too small for a finite minimiser")
    return None


def classification_fixed_point(model: BinaryClassification, loss, lam: float, *, teacher_norm: float = 1.0,
                               init=None, damping: float = 0.5, anderson: int = 3, tol: float = 1e-10,
                               max_iter: int = 5000, raise_on_failure: bool = True) -> ClassificationFixedPoint:
    """Replica-symmetric fixed point of ridge-regularised classification ERM (module docs).

    Parameters
    ----------
    model : BinaryClassification
        The data model (its dimension is irrelevant: this is the ``d -> infinity`` limit).
    loss : ClassificationLoss or str
        ``"logistic"``, ``"hinge"``, ``"square_hinge"`` or ``"square"``.
    lam : float
        Ridge, ``> 0``.
    teacher_norm : float
        ``||theta*||^2/d`` (1 in the model; a sample's value for its conditional prediction).
    init : (m, q, V), optional
        Start (e.g. a neighbour's ``state``); default ``(0.5, 1, 1/(alpha + lam))`` scaled by
        ``teacher_norm``.
    damping, anderson, tol, max_iter
        Of :func:`hdcore.theory.fixed_point.solve` (relative tolerance).
    raise_on_failure : bool
        Raise :class:`hdcore.ConvergenceError` if the iteration does not converge (otherwise
        the last iterate is returned with ``converged=False``).

    Returns
    -------
    ClassificationFixedPoint
    """
    from hdcore.errors import ConvergenceError

    check_instance(model, "model", BinaryClassification)
    loss = get_classification_loss(loss)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    rho = check_real(teacher_norm, "teacher_norm", min=0.0, min_inclusive=False)
    damping = check_real(damping, "damping", min=0.0, max=1.0, max_inclusive=False)
    anderson = check_int(anderson, "anderson", min=0)
    tol = check_real(tol, "tol", min=0.0, min_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", min=1)
    pb = _Problem(model, loss, lam, rho)
    if init is None:
        x0 = np.array([0.5 * rho, rho, 1.0 / (model.alpha + lam)])
    else:
        x0 = np.array([float(v) for v in init])
        if x0.shape != (3,) or not np.all(np.isfinite(x0)):
            raise ValueError(f"`init` must be a finite (m, q, V), got {init!r}")
    res = solve(pb.step, x0, damping=damping, anderson=anderson, tol=tol, max_iter=max_iter,
                domain=_domain, scale=lambda x: np.maximum(np.abs(x), 1e-8), raise_on_failure=False)
    if not res.converged and raise_on_failure:
        raise ConvergenceError(f"classification fixed point ({loss.name}, lam = {lam}): {res.reason}")
    m, q, V = (float(v) for v in res.x)
    mh, qh, vh = pb.hats(m, q, V)
    err = model.errors(m, min(q, 1e300), rho) if q > 0 else None
    tl, te = pb.training(m, q, V)
    return ClassificationFixedPoint(
        m=m, q=q, V=V, m_hat=mh, q_hat=qh, V_hat=vh,
        generalisation_error=err.generalisation_error if err else math.nan,
        angle=err.angle if err else math.nan, training_loss=tl, training_error=te,
        margin=1.0 / math.sqrt(q), converged=res.converged, n_iter=res.n_iter, reason=res.reason)


# ---- classical curves ------------------------------------------------------------------------

def _positive_part_moment(a: np.ndarray, s: float) -> np.ndarray:
    """``E[(a - s g)_+^2] = (a^2 + s^2) Phi(a/s) + a s phi(a/s)`` for ``g ~ N(0, 1)``, ``s > 0``."""
    t = a / s
    return (a * a + s * s) * ndtr(t) + a * s * np.exp(-0.5 * t * t) / _SQ2PI


def _label_expect(model: BinaryClassification, fn) -> float:
    """``E_z sum_y P(y | z) fn(y z)`` over ``z ~ N(0, 1)`` (teacher norm 1)."""
    x, w = _panels([0.0], half_width=9.0, width=0.15)
    w = w * np.exp(-0.5 * x * x) / _SQ2PI
    p1 = model.label_probability(x)
    f = model.flip
    tot = 0.0
    for y, py in ((1.0, p1), (-1.0, 1.0 - p1)):
        tot += float(np.sum(w * (f + (1 - 2 * f) * py) * fn(y * x)))
    return tot


def _G(model: BinaryClassification, kappa: float, R: float) -> float:
    s = math.sqrt(1 - R * R)
    return _label_expect(model, lambda yz: _positive_part_moment(kappa - R * yz, s)) / (s * s)


def max_margin(model: BinaryClassification) -> dict:
    """Normalised margin ``kappa`` and overlap ``R`` of the max-margin classifier at the model's
    ``alpha`` (module docs): ``kappa`` is the root of ``min_R G(kappa, R) = 1/alpha``.

    Parameters
    ----------
    model : BinaryClassification
        The model at its ``alpha`` (``teacher``, ``beta`` and ``flip`` set the labels).

    Returns
    -------
    dict
        ``kappa``, ``R`` and ``generalisation_error`` (of the classifier with overlap ``R``,
        :meth:`BinaryClassification.errors` at ``m = R``, ``q = 1``).

    Raises
    ------
    ValueError
        The data are not separable at this ``alpha`` (``alpha`` above
        :func:`separability_threshold`).
    TypeError
        ``model`` is not a ``BinaryClassification``.

    Examples
    --------
    >>> from hdcore.models import BinaryClassification
    >>> mm = max_margin(BinaryClassification(d=10, alpha=1.0))
    >>> 0 < mm["kappa"] and 0 < mm["R"] < 1 and 0 < mm["generalisation_error"] < 0.5
    True

    References
    ----------
    Aubin, Krzakala, Lu & Zdeborova, "Generalization error in high-dimensional perceptrons:
    approaching Bayes error with convex optimization", NeurIPS 2020, arXiv:2006.06560.
    Gardner, "The space of interactions in neural network models", J. Phys. A 21 (1988).
    Candes & Sur, "The phase transition for the existence of the maximum likelihood estimate in
    high-dimensional logistic regression", Ann. Statist. 48 (2020), arXiv:1804.09753.
    """
    check_instance(model, "model", BinaryClassification)
    a = model.alpha

    def best(kappa: float) -> tuple[float, float]:
        r = minimize_scalar(lambda R: _G(model, kappa, R), bounds=(-0.999999, 0.999999), method="bounded",
                            options={"xatol": 1e-10})
        return float(r.fun), float(r.x)

    if best(0.0)[0] > 1 / a:
        raise ValueError(f"`model`: the data are not separable at alpha = {a} (above the "
                         "separability threshold)")
    hi = 1.0
    while best(hi)[0] < 1 / a:
        hi *= 2
    kappa = brentq(lambda k: best(k)[0] - 1 / a, 0.0, hi, xtol=1e-12)
    R = best(kappa)[1]
    return {"kappa": float(kappa), "R": R,
            "generalisation_error": model.errors(R, 1.0).generalisation_error}


def separability_threshold(model: BinaryClassification) -> float:
    """``alpha`` above which the data are a.s. not linearly separable: ``1/h`` with
    ``h = min_t E[(g - t y z)_+^2]`` (Candes & Sur 2020, Thm. 1; ``inf`` for a noiseless sign
    teacher, 2 for random labels). Only ``teacher``, ``beta`` and ``flip`` of ``model`` matter.

    Parameters
    ----------
    model : BinaryClassification
        The model (its ``alpha`` is ignored).

    Returns
    -------
    float
        The threshold ``alpha`` (``inf`` for a noiseless sign teacher).

    Raises
    ------
    TypeError
        ``model`` is not a ``BinaryClassification``.

    Examples
    --------
    >>> from hdcore.models import BinaryClassification
    >>> round(separability_threshold(BinaryClassification(d=10, alpha=1.0, flip=0.5)), 6)
    2.0
    >>> separability_threshold(BinaryClassification(d=10, alpha=1.0))
    inf

    References
    ----------
    Aubin, Krzakala, Lu & Zdeborova, "Generalization error in high-dimensional perceptrons:
    approaching Bayes error with convex optimization", NeurIPS 2020, arXiv:2006.06560.
    Gardner, "The space of interactions in neural network models", J. Phys. A 21 (1988).
    Candes & Sur, "The phase transition for the existence of the maximum likelihood estimate in
    high-dimensional logistic regression", Ann. Statist. 48 (2020), arXiv:1804.09753.
    """
    check_instance(model, "model", BinaryClassification)
    if model.teacher == "sign" and model.flip == 0:
        return math.inf  # y z = |z| >= 0: the infimum 0 is approached as t -> infinity
    r = minimize_scalar(lambda t: _label_expect(model, lambda yz: _positive_part_moment(-t * yz, 1.0)),
                        bounds=(0.0, 50.0), method="bounded", options={"xatol": 1e-10})
    return 1.0 / float(r.fun)


def gardner_capacity(kappa: float) -> float:
    """Gardner's capacity for random labels, ``alpha_c(kappa) = 1/E[(kappa + g)_+^2]``
    (closed form ``E[(kappa + g)_+^2] = (1 + kappa^2) Phi(kappa) + kappa phi(kappa)``).

    Parameters
    ----------
    kappa : float
        Margin, ``>= 0``.

    Returns
    -------
    float
        ``alpha_c(kappa)`` (a NumPy float).

    Raises
    ------
    TypeError
        ``kappa`` is not a real number.
    ValueError
        ``kappa < 0`` or not finite.

    Examples
    --------
    >>> float(gardner_capacity(0.0))  # Cover's 2
    2.0
    >>> bool(gardner_capacity(1.0) < 1)
    True

    References
    ----------
    Aubin, Krzakala, Lu & Zdeborova, "Generalization error in high-dimensional perceptrons:
    approaching Bayes error with convex optimization", NeurIPS 2020, arXiv:2006.06560.
    Gardner, "The space of interactions in neural network models", J. Phys. A 21 (1988).
    Candes & Sur, "The phase transition for the existence of the maximum likelihood estimate in
    high-dimensional logistic regression", Ann. Statist. 48 (2020), arXiv:1804.09753.
    """
    kappa = check_real(kappa, "kappa", min=0.0)
    e = (1 + kappa * kappa) * ndtr(kappa) + kappa * math.exp(-0.5 * kappa * kappa) / _SQ2PI
    return 1.0 / e

