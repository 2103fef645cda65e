"""Binary-classification losses ``l(u)`` of the margin ``u = y z`` (``y = +-1``, ``z`` the
student's pre-activation).

A classification loss serves the ERM solver (:func:`hdcore.algorithms.classification_erm`) and
the replica theory (:func:`hdcore.theory.classification_fixed_point`): it knows ``l``, ``l'``,
``l''`` and its proximal map in margin form::

    u(t) = argmin_u l(u) + (u - t)^2/(2 V),   a root of  u + V l'(u) = t,

with ``du/dt = 1/(1 + V l''(u))``. All four losses are convex, so the prox is single-valued for
every ``V >= 0``.

==============  =========================  =====================================================
name            ``l(u)``                   prox ``u(t)``
==============  =========================  =====================================================
``logistic``    ``log(1 + e^{-u})``        safeguarded Newton on ``u - V sigma(-u) = t``
                                           (bracket ``[t, t + V]``)
``hinge``       ``max(0, 1 - u)``          ``t + V`` if ``t < 1 - V``; ``1`` if
                                           ``1 - V <= t <= 1``; ``t`` if ``t > 1``
``square_hinge``  ``max(0, 1 - u)^2/2``    ``(t + V)/(1 + V)`` if ``t < 1``; ``t`` otherwise
``square``      ``(1 - u)^2/2``            ``(t + V)/(1 + V)`` (ERM: least squares on ``y``)
==============  =========================  =====================================================

The logistic, hinge and squared-hinge losses are evaluated in the Rust core (the same code the
ERM solver runs), where they are stored in residual form ``rho(r) = l(-r)``: ERM of
``sum_mu l(y_mu z_mu)`` is ERM of ``sum_mu rho(0 - z'_mu)`` on the design ``diag(y) X``, and
``u(t) = -r(-t)`` for the residual prox ``r``. The square loss ``(1 - y z)^2/2 = (y - z)^2/2``
is the regression square loss on the labels themselves.
"""

from __future__ import annotations

import re

import numpy as np

from hdcore import _core
from hdcore._validation import check_real

__all__ = ["ClassificationLoss", "Logistic", "Hinge", "SquareHinge", "SquareMargin",
           "get_classification_loss", "CLASSIFICATION_LOSSES"]


def _flat(u) -> tuple[np.ndarray, tuple]:
    arr = np.asarray(u, dtype=np.float64)
    return np.ascontiguousarray(arr.ravel()), arr.shape


class ClassificationLoss:
    """Base class of the built-in margin losses ``l(y z)`` (see the module docs).

    Attributes
    ----------
    name : str
        The registry name (also the Rust loss name for the Rust-evaluated ones).
    smooth : bool
        Whether ``l`` is twice differentiable everywhere (the hinge is not).
    """

    name: str = ""
    smooth: bool = True

    def eval(self, u) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(l(u), l'(u), l''(u))`` elementwise."""
        flat, shape = _flat(u)
        v, a, b = _core.loss_eval(self.name, -flat)
        return v.reshape(shape), -a.reshape(shape), b.reshape(shape)

    def prox(self, t, V: float) -> tuple[np.ndarray, np.ndarray]:
        """Margin prox ``u(t)`` at variance ``V >= 0`` and its derivative ``du/dt``."""
        V = check_real(V, "V", min=0.0)
        flat, shape = _flat(t)
        r, dr = _core.loss_prox(self.name, -flat, V)
        return -r.reshape(shape), dr.reshape(shape)

    def value(self, u) -> np.ndarray:
        """``l(u)``."""
        return self.eval(u)[0]

    def prox_breakpoints(self, V: float) -> tuple[float, ...]:
        """Arguments ``t`` where the prox ``u(t)`` has a kink (quadrature panels)."""
        return ()

    def margin_threshold(self, V: float) -> float:
        """The ``t`` with ``u(t) = 0``, ``-V l'(0)``: a training sample is misclassified iff
        ``y omega < t``."""
        return float(-V * self.eval(0.0)[1])

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Logistic(ClassificationLoss):
    """``l(u) = log(1 + e^{-u})``."""

    name = "logistic"


class Hinge(ClassificationLoss):
    """``l(u) = max(0, 1 - u)`` (the prox has kinks at ``t = 1 - V`` and ``t = 1``)."""

    name = "hinge"
    smooth = False

    def prox_breakpoints(self, V):
        return (1.0 - V, 1.0)


class SquareHinge(ClassificationLoss):
    """``l(u) = max(0, 1 - u)^2/2``."""

    name = "square_hinge"

    def prox_breakpoints(self, V):
        return (1.0,)


class SquareMargin(ClassificationLoss):
    """``l(u) = (1 - u)^2/2``: least squares on the +-1 labels (closed forms, NumPy)."""

    name = "square"

    def eval(self, u):
        u = np.asarray(u, dtype=np.float64)
        return 0.5 * (1.0 - u) ** 2, u - 1.0, np.ones_like(u)

    def prox(self, t, V):
        V = check_real(V, "V", min=0.0)
        t = np.asarray(t, dtype=np.float64)
        return (t + V) / (1.0 + V), np.full_like(t, 1.0 / (1.0 + V))


CLASSIFICATION_LOSSES: dict[str, type[ClassificationLoss]] = {
    "logistic": Logistic, "hinge": Hinge, "square_hinge": SquareHinge, "square": SquareMargin}

_SPEC = re.compile(r"^\s*(\w+)\s*(?:\(\s*\))?\s*$")


def get_classification_loss(spec) -> ClassificationLoss:
    """A classification loss from an instance or a name (``"logistic"``, ``"hinge"``,
    ``"square_hinge"``, ``"square"``; ``"hinge()"`` is accepted too).

    Raises
    ------
    TypeError
        ``spec`` is neither a :class:`ClassificationLoss` nor a string.
    ValueError
        Unknown name, or a parameter given (these losses have none).
    """
    if isinstance(spec, ClassificationLoss):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"`loss` must be a ClassificationLoss or a string, got {type(spec).__name__}")
    m = _SPEC.match(spec)
    if not m or m.group(1) not in CLASSIFICATION_LOSSES:
        raise ValueError(f"unknown classification loss {spec!r}; expected one of "
                         f"{sorted(CLASSIFICATION_LOSSES)} (they take no parameter)")
    return CLASSIFICATION_LOSSES[m.group(1)]()
