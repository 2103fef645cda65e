"""Sample-complexity exponents of hierarchical targets (Dandi, Pesce, Zdeborova & Krzakala,
arXiv:2502.13961, Sec. 3, Theorems 1-2 and the effective-dimension discussion): which learner
needs ``n = d^kappa`` samples for which part of the target (``kappa = log n / log d``).

Rules, for a target tree with exponents ``eps_0 = 1 > eps_1 > ... > eps_{L-1} > eps_L = 0``
(``d^{eps_l}`` features at level ``l``; level 1 linear, ``z = W* x``) and polynomial degrees
``k_l`` of the levels ``l = 2 .. L`` (``k_1 = 1``, the linear level):

* **Effective-dimension rule** [TEXT for ``L = 2`` and the deep example "d -> d^{eps1} ->
  d^{eps2} -> 1 at kappa = 1 + eps1, k eps1 + eps2, k' eps2"; the general form is
  DERIVED/heuristic]: recovering level ``l`` from level ``l - 1`` costs
  ``kappa_l = k_l eps_{l-1} + eps_l`` (``d^{eps_l}`` features, each a degree-``k_l``
  function of ``d^{eps_{l-1}}`` inputs), so ``kappa(W*) = 1 + eps_1`` and, for SIGHT,
  ``kappa(h*) = k eps_1``.
* **Three-layer network** (layer-wise or joint; Theorem 1 for ``L = 2``, Theorem 2 for deeper
  levels given the ones below): reaches level ``l`` at ``max_{j <= l} kappa_j``; the read-out
  needs only ``d^delta`` more, so ``f*`` is learnt with ``h*``. Without the pre-conditioning of
  the second step, ``W2`` needs ``2 k eps_1`` [TEXT].
* **Two-layer network**: learns ``W*`` at ``1 + eps_1``, then acts as random features in
  dimension ``d^{eps_1}``: the degree-``j`` part of ``f*`` as a function of ``z`` costs
  ``max(1 + eps_1, j eps_1)`` [TEXT]; ``f* = g(h*)`` with ``g`` non-polynomial has all degrees,
  so it is never fitted to ``o(1)`` at a finite ``kappa``.
* **Kernels / random features**: the degree-``kappa`` polynomial approximation of ``f*`` in
  ``x`` at ``n = d^kappa``; they beat the trivial error at ``kappa = q``, the lowest degree of
  ``f*`` in ``x`` [TEXT]. Quadratic-kernel ridge ``K = (x . x')^2 + x . x' + 1`` has its
  interpolation (double-descent) peak at ``n_peak = d(d - 1)/2 + d + 1 = d(d + 1)/2 + 1``, the
  paper's count [TEXT]; the kernel's explicit features number ``d(d + 1)/2 + d + 1 = n_peak + d``
  (squares, cross terms, linear, constant), so the measured peak may sit up to ``d`` later.
* **Compositional information exponent** (Def. 1; its formula was not decoded) -- HEURISTIC
  here: ``CIE(h*)`` = the smallest ``j >= 1`` with ``E[g(h) He_j(h)] != 0`` for Gaussian
  ``h`` of the variance of ``h*``, and ``CIE(W*)`` = the smallest degree ``j >= 1`` of ``P``
  with a non-zero coefficient times ``CIE(h*)`` (the lowest Hermite degree of ``f*`` in ``z``
  to first order). Flagged in the result (``heuristic``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hdcore._results import Result
from hdcore.ingredients.quadrature import gauss_hermite
from hdcore.models.hierarchical import MIGHT, DeepMIGHT, hermite_series

__all__ = ["HierarchicalExponents", "hierarchical_exponents", "quadratic_kernel_peak"]

_TOL = 1e-10


def quadratic_kernel_peak(d: int) -> int:
    """``n_peak = d(d - 1)/2 + d + 1``, the double-descent peak of quadratic-kernel ridge
    (module docs).

    Parameters
    ----------
    d : int

    Returns
    -------
    int

    Examples
    --------
    >>> quadratic_kernel_peak(64)
    2081
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"`d` must be an integer >= 1, got {d!r}")
    return int(d) * (int(d) - 1) // 2 + int(d) + 1


@dataclass(frozen=True)
class HierarchicalExponents(Result):
    """Predicted exponents ``kappa = log n / log d`` (module docs).

    Attributes
    ----------
    level_kappa : tuple of float
        ``kappa_l = k_l eps_{l-1} + eps_l`` for ``l = 1 .. L`` (the cost of each level alone).
    three_layer : tuple of float
        ``max_{j <= l} kappa_j``: where the three-layer network has level ``l``
        (``three_layer[0]`` is ``W*``, ``three_layer[-1]`` the whole target).
    two_layer_wstar : float
        ``1 + eps_1``.
    two_layer_degree : tuple of float
        ``max(1 + eps_1, j eps_1)`` for ``j = 1 .. 2 k`` (the degree-``j`` part in ``z``).
    kernel_degree : int
        ``q``, the lowest Hermite degree of ``f*`` in ``x`` (kernels beat the trivial error at
        ``kappa = q``).
    kernel_peak : int
        ``n_peak = d(d - 1)/2 + d + 1``.
    kernel_peak_kappa : float
        ``log n_peak / log d``.
    unpreconditioned_h : float
        ``2 k eps_1``: online SGD on ``W2`` without the pre-conditioner.
    cie : tuple of int
        The HEURISTIC compositional information exponents ``(CIE(W*), CIE(h*))``.
    heuristic : tuple of str
        The names of the fields that rest on heuristics (not theorems).
    """

    level_kappa: tuple[float, ...]
    three_layer: tuple[float, ...]
    two_layer_wstar: float
    two_layer_degree: tuple[float, ...]
    kernel_degree: int
    kernel_peak: int
    kernel_peak_kappa: float
    unpreconditioned_h: float
    cie: tuple[int, ...]
    heuristic: tuple[str, ...]


def _lowest_link_degree(link: str, scale: float, var: float, n_nodes: int = 121) -> int:
    """Smallest ``j >= 1`` with ``E[g(h) He_j(h)] != 0``, ``h ~ N(0, var)`` (quadrature)."""
    z, w = gauss_hermite(n_nodes)
    h = np.sqrt(var) * z
    g = np.tanh(scale * h) if link == "tanh" else scale * h
    he_prev, he = np.ones_like(z), z.copy()
    for j in range(1, 12):
        c = float(w @ (g * he))
        if abs(c) > _TOL * (1.0 + float(np.sqrt(w @ g ** 2))):
            return j
        he_prev, he = he, z * he - j * he_prev
    raise ValueError("the link has no Hermite component of degree 1..11")


def hierarchical_exponents(model) -> HierarchicalExponents:
    """The predicted exponents of every learner for ``model`` (module docs).

    Parameters
    ----------
    model : SIGHT, MIGHT or DeepMIGHT

    Returns
    -------
    HierarchicalExponents

    Raises
    ------
    TypeError
        If ``model`` is not a hierarchical target.

    Examples
    --------
    >>> from hdcore.models import SIGHT
    >>> e = hierarchical_exponents(SIGHT(d=64))
    >>> e.three_layer, e.two_layer_wstar, e.kernel_degree, e.kernel_peak
    ((1.5, 1.5), 1.5, 2, 2081)

    References
    ----------
    Dandi, Pesce, Zdeborova & Krzakala, arXiv:2502.13961, Sec. 3 and Theorems 1-2.
    """
    eps: tuple[float, ...]
    polys: tuple[tuple[float, ...], ...]
    if isinstance(model, MIGHT):
        eps = (model.eps1,)
        polys = (model.poly,)
    elif isinstance(model, DeepMIGHT):
        eps = model.eps
        polys = model.polys or ()
    else:
        raise TypeError(f"`model` must be a SIGHT, MIGHT or DeepMIGHT, got "
                        f"{type(model).__name__}")
    ext = (1.0,) + tuple(eps) + (0.0,)
    coefs = [np.asarray(p, dtype=np.float64) for p in polys]
    degrees = [1] + [int(np.flatnonzero(c)[-1]) for c in coefs]
    level = tuple(float(degrees[i] * ext[i] + ext[i + 1]) for i in range(len(degrees)))
    three = tuple(float(v) for v in np.maximum.accumulate(np.asarray(level)))
    e1, k = float(eps[0]), degrees[1]
    two_deg = tuple(float(max(1.0 + e1, j * e1)) for j in range(1, 2 * k + 1))
    # lowest degree of each level's polynomial (ignoring the constant) and of the link
    low = [int(np.flatnonzero(c[1:])[0]) + 1 for c in coefs]
    series = hermite_series(polys[-1], model.hermite)
    var_top = float(np.sum(series[1:] ** 2 * np.array(
        [math.factorial(j) for j in range(1, series.size)], dtype=np.float64)))
    if isinstance(model, DeepMIGHT) and len(eps) > 1:
        var_top = 1.0  # heuristic: the top inputs are standardised, treat h as unit Gaussian
    g_low = _lowest_link_degree(model.link, model.link_scale, max(var_top, 1e-12))
    q = g_low * int(np.prod(low))
    peak = quadratic_kernel_peak(model.d)
    return HierarchicalExponents(
        level_kappa=level, three_layer=three, two_layer_wstar=1.0 + e1,
        two_layer_degree=two_deg, kernel_degree=q, kernel_peak=peak,
        kernel_peak_kappa=float(np.log(peak) / np.log(model.d)),
        unpreconditioned_h=float(2 * k * e1), cie=(q, g_low),
        heuristic=("cie", "kernel_degree", "level_kappa[2:]", "three_layer[2:]"))
