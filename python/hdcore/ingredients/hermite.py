"""Pointwise functions of two-layer networks and their Gaussian (Hermite) coefficients.

The names are the ones the Rust network kernels (``hdcore._core.one_step_step``,
``two_layer_readout``) know: ``tanh``, ``relu``, ``sin``, ``erf``, ``linear``, ``he2``
(``He_2(x)/sqrt(2) = (x^2 - 1)/sqrt(2)``). For ``z ~ N(0, 1)`` (Cui et al. 2024,
arXiv:2402.04980, Sec. 3; the authors' ``theory.ipynb``)::

    mu0 = E f(z),   mu1 = E z f(z) (= E f'(z), Stein),   mu2 = E f(z)^2,
    mu_star^2 = mu2 - mu0^2 - mu1^2   (the variance of the non-linear part),
    s = E (f'(z) - mu1)^2.

Expectations are probabilists' Gauss-Hermite rules
(:func:`hdcore.ingredients.quadrature.gauss_hermite`): exponentially accurate for the analytic
functions, algebraically (about ``n^-1.5``) for ``relu``, whose kink the rule does not resolve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from hdcore._validation import check_choice, check_int
from hdcore.ingredients.quadrature import gauss_hermite

__all__ = ["FUNCTIONS", "HermiteCoefficients", "pointwise", "hermite_coefficients",
           "conditional_moments"]

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)
_F: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(np.float64)),
    "sin": (np.sin, np.cos),
    "erf": (erf, lambda x: _TWO_OVER_SQRT_PI * np.exp(-x * x)),
    "linear": (lambda x: np.asarray(x, dtype=np.float64), lambda x: np.ones_like(x, dtype=np.float64)),
    "he2": (lambda x: (x * x - 1.0) / np.sqrt(2.0), lambda x: np.sqrt(2.0) * x),
}
#: names of the pointwise functions shared with the Rust kernels
FUNCTIONS = tuple(_F)


def pointwise(name: str, what: str = "activation"):
    """``(f, f')`` of the function ``name`` as vectorised NumPy callables."""
    return _F[check_choice(name, what, FUNCTIONS)]


@dataclass(frozen=True)
class HermiteCoefficients:
    """Gaussian coefficients of one function (see the module docs)."""

    name: str
    mu0: float
    mu1: float
    mu2: float
    mu_star: float
    s: float


def hermite_coefficients(name: str, n_nodes: int = 201) -> HermiteCoefficients:
    """The coefficients ``mu0, mu1, mu2, mu_star, s`` of ``name`` (module docs), by an
    ``n_nodes``-point Gauss-Hermite rule."""
    f, df = pointwise(name)
    z, w = gauss_hermite(check_int(n_nodes, "n_nodes", min=2))
    fz = f(z)
    mu0, mu1, mu2 = float(w @ fz), float(w @ (z * fz)), float(w @ (fz * fz))
    s = float(w @ (df(z) - mu1) ** 2)
    return HermiteCoefficients(name=name, mu0=mu0, mu1=mu1, mu2=mu2,
                               mu_star=float(np.sqrt(max(mu2 - mu0 * mu0 - mu1 * mu1, 0.0))), s=s)


def conditional_moments(name: str, shift, scale: float, n_nodes: int = 61):
    """``(E f(u), E z f(u), E f(u)^2)`` with ``u = shift + scale z``, ``z ~ N(0, 1)``, for every
    entry of ``shift`` (arrays of its shape)."""
    f, _ = pointwise(name)
    z, w = gauss_hermite(check_int(n_nodes, "n_nodes", min=2))
    u = np.asarray(shift, dtype=np.float64)[..., None] + scale * z
    fu = f(u)
    return fu @ w, fu @ (w * z), (fu * fu) @ w
