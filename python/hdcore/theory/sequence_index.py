"""State evolution and weak-recovery thresholds of Bayes GAMP with token columns (Troiani, Cui,
Dandi, Krzakala & Zdeborova 2025, arXiv:2502.00901, Lemma 2.2 and Thm. 2.3).

State evolution (Lemma 2.2; ``P x P`` overlap ``Q``, Nishimori ``M = Q``, ``V = I - Q``)::

    Qhat = alpha E[ sum_m g_m g_m^T ],   omega = Q^{1/2} Z,  z = omega + (I - Q)^{1/2} U,  y = g(z)
    Q    = Qhat (I + Qhat)^{-1}                                          (Gaussian prior)

``Z, U`` have i.i.d. ``N(0, 1)`` entries (``P x M``) and ``g_m = V^{-1}(E[Z_m | y, omega] -
omega_m)`` is the output function of token column ``m``. For a token-wise link the columns are
independent and the SE is the multi-index SE at ``alpha M`` (:mod:`hdcore.models.sequence_index`);
for the attention link the expectation is a Monte Carlo average with common random numbers
(``Z, U`` drawn once) and the posterior of :func:`~hdcore.ingredients.attention_channel.
attention_posterior`.

Weak-recovery thresholds (derived here by linearising the SE at ``Q = 0``, which is the content
of Thm. 2.3 for a link with ``E[Z | y] = 0``): with ``V = I`` and ``omega = Q^{1/2} Z -> 0``,
``g_m = sum_m' G_mm'(y) omega_m' + O(omega^2)``, ``G_mm' = E[z_m z_m'^T | y] - delta_mm' I_P``,
and ``E[omega_m' omega_m''^T | y] = delta Q + O(Q^2)``, so

    Qhat = alpha F(Q) + O(Q^2),   F(Q) = sum_{m, m'} E_y[ G_mm'(y) Q G_mm'(y)^T ],
    alpha_c = 1 / lambda_max(F)      (on symmetric P x P matrices).

For the attention link ``z_1 -> -z_1`` and ``z_2 -> -z_2`` leave ``y`` unchanged, so ``F`` is
diagonal in the layer blocks and ``alpha_c(layer p) = 1 / sum_mm' E[(G_mm'^{pp})^2]``. The later
threshold of a layer is the same linearisation around the partially informed fixed point (``Q_pp
-> 0`` with the layers already learned at their SE fixed point ``Q*(alpha)``):
``alpha lambda_p(alpha) = 1``, ``lambda_p(alpha) = sum_mm' E[(Cov(z_p, z_p^T | y, omega)_{mm'} -
delta_mm')^2]`` averaged over ``y`` and the cavity of the learned layers. Both are cross-checked
(:func:`sequence_thresholds`, ``method="se_onset"``) against the growth rate of the SE map itself
from ``Q_pp = epsilon``, which does not use the formula for ``F``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from hdcore._results import Result
from hdcore._validation import check_choice, check_instance, check_int, check_iteration
from hdcore.ingredients.attention_channel import (
    DEFAULT_NODES,
    attention_log_ratios,
    attention_posterior,
)
from hdcore.models.sequence_index import SequenceMultiIndex
from hdcore.random import as_seed
from hdcore.theory.fixed_point import solve
from hdcore.theory.glm import gamp_state_evolution

__all__ = [
    "SequenceStateEvolution",
    "SequenceThresholds",
    "sequence_generalisation_error",
    "sequence_state_evolution",
    "sequence_thresholds",
]

#: ``Q`` is kept below ``(1 - CLIP) I`` (the cubature over ``z_1`` needs ``V`` > 0)
CLIP = 1e-4
#: overlap of the uninformative start (the authors' code starts at 0.05 I)
UNINFORMATIVE = 1e-4


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(0.5 * (a + a.T))
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _clip(q: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(0.5 * (q + q.T))
    return (vecs * np.clip(vals, 0.0, 1.0 - CLIP)) @ vecs.T


def _normals(seed, n_mc: int, p: int, m: int):
    rng = np.random.default_rng(as_seed(seed))
    return rng.standard_normal((n_mc, p, m)), rng.standard_normal((n_mc, p, m))


def _attention_step(model: SequenceMultiIndex, q: np.ndarray, zs, us, n_nodes: int,
                    alpha: float | None = None):
    """``(Qhat, per-sample g)`` of the attention channel at overlap ``Q`` (common numbers)."""
    p = model.P
    v = np.eye(p) - q
    omega = np.einsum("pq,nqm->npm", _sqrtm_psd(q), zs)
    z = omega + np.einsum("pq,nqm->npm", _sqrtm_psd(v), us)
    r = attention_log_ratios(z, model.skip)
    _, mean, _ = attention_posterior(r, omega, v, skip=model.skip, n_nodes=n_nodes)
    g = np.einsum("pq,nqm->npm", np.linalg.inv(v), mean - omega)
    a = model.alpha if alpha is None else alpha
    qhat = a * np.einsum("npm,nqm->pq", g, g) / zs.shape[0]
    return 0.5 * (qhat + qhat.T)


@dataclass(frozen=True)
class SequenceStateEvolution(Result):
    """State evolution of Bayes GAMP with token columns.

    Attributes
    ----------
    q : ndarray
        ``Q^t`` (``(n_iter + 1) x P x P``).
    qhat : ndarray
        ``Qhat^t`` (``n_iter x P x P``).
    overlaps : ndarray
        Per-layer cosines ``sqrt(Q_pp)`` per iteration (``(n_iter + 1) x P``), comparable with
        the per-direction cosines of GAMP.
    n_iter : int
    converged : bool
    """

    q: np.ndarray
    qhat: np.ndarray
    overlaps: np.ndarray
    n_iter: int
    converged: bool

    @property
    def fixed_point(self) -> np.ndarray:
        """Final ``Q``."""
        return self.q[-1]


def sequence_state_evolution(model: SequenceMultiIndex, *, init="uninformative",
                             n_iter: int = 200, tol: float = 1e-6, damping: float = 0.0,
                             n_mc: int = 4096, n_nodes: int = DEFAULT_NODES,
                             seed=0) -> SequenceStateEvolution:
    """State evolution of Bayes GAMP with token columns (module docs, Lemma 2.2).

    Parameters
    ----------
    model : SequenceMultiIndex
        The model (``D`` is irrelevant).
    init : {"uninformative", "informative"} or array
        ``Q^0 = 1e-4 I``, ``(1 - 1e-4) I`` or a ``P x P`` matrix.
    n_iter : int
        Maximal number of iterations.
    tol : float
        Stop when ``max |F(Q) - Q| < tol``.
    damping : float
        ``Q <- (1 - damping) F(Q) + damping Q``.
    n_mc : int
        Monte-Carlo samples of ``(Z, U)`` (attention link; drawn once: common random numbers).
    n_nodes : int
        Gauss-Hermite nodes per axis of the posterior cubature (attention link).
    seed : int or numpy.random.Generator
        Seed of the common random numbers.

    Returns
    -------
    SequenceStateEvolution
        The iterates and per-layer overlaps.

    Raises
    ------
    TypeError
        ``model`` is not a ``SequenceMultiIndex``.
    ValueError
        Bad iteration settings, ``init`` or sizes, or the attention link with ``P != 2``
        (the posterior kernel covers two layers).

    Examples
    --------
    >>> from hdcore.models import SequenceMultiIndex
    >>> se = sequence_state_evolution(SequenceMultiIndex(10, 1.0, M=1, P=1, link="sign"))
    >>> 0 < se.fixed_point[0, 0] < 1
    True

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Lemma 2.2.
    """
    check_instance(model, "model", SequenceMultiIndex)
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    n_mc = check_int(n_mc, "n_mc", min=1)
    n_nodes = check_int(n_nodes, "n_nodes", min=2)
    p = model.P
    if isinstance(init, str):
        check_choice(init, "init", ("uninformative", "informative"))
        q0 = UNINFORMATIVE * np.eye(p) if init == "uninformative" else (1 - CLIP) * np.eye(p)
    else:
        q0 = np.atleast_2d(np.asarray(init, dtype=np.float64))
        if q0.shape != (p, p) or not np.isfinite(q0).all():
            raise ValueError(f"`init` must be a finite {p} x {p} matrix, got shape {q0.shape}")
        q0 = _clip(q0)
    if model.tokenwise:
        se = gamp_state_evolution(model.multi_index(), n_iter=n_iter, init=q0, tol=tol,
                                  damping=damping)
        return SequenceStateEvolution(q=se.q, qhat=se.qhat, overlaps=_cosines(se.q),
                                      n_iter=se.n_iter, converged=se.converged)
    if p != 2:
        raise ValueError(f"the attention state evolution covers P = 2 layers, got P = {p}")
    zs, us = _normals(seed, n_mc, p, model.M)

    def step(q):
        qhat = _attention_step(model, q, zs, us, n_nodes)
        return _clip(qhat @ np.linalg.inv(np.eye(p) + qhat)), qhat

    res = solve(step, q0, damping=damping, tol=tol, max_iter=n_iter, raise_on_failure=False,
                trace=True, has_aux=True)
    q_arr = np.array(res.trace)
    assert res.aux_trace is not None
    qhats = np.array(res.aux_trace[:-1]).reshape(-1, p, p)
    return SequenceStateEvolution(q=q_arr, qhat=qhats, overlaps=_cosines(q_arr),
                                  n_iter=res.n_iter, converged=res.converged)


def _cosines(q_arr: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(np.diagonal(q_arr, axis1=-2, axis2=-1), 0.0, None))


def sequence_generalisation_error(model: SequenceMultiIndex, q, *, n_mc: int = 100_000,
                                  seed=0) -> float:
    """Plug-in generalisation error ``E ||g(z) - g(omega)||_F^2`` at overlap ``Q``, with
    ``omega = Q^{1/2} Z`` and ``z = omega + (I - Q)^{1/2} U`` (the error of the figures of
    arXiv:2502.00901, computed as in the authors' code; not the Bayes predictor's).

    Parameters
    ----------
    model : SequenceMultiIndex
        The model (attention link).
    q : array_like
        ``P x P`` overlap.
    n_mc : int
        Monte-Carlo samples.
    seed : int or numpy.random.Generator
        Seed.

    Returns
    -------
    float
        The plug-in error.

    Raises
    ------
    TypeError
        ``model`` is not a ``SequenceMultiIndex``.
    ValueError
        ``q`` is not a finite ``P x P`` matrix or the link is token-wise.

    Examples
    --------
    >>> from hdcore.models import DeepTiedAttention
    >>> sequence_generalisation_error(DeepTiedAttention(10, 1.0), np.eye(2), n_mc=100)
    0.0

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Sec. 4 (figures).
    """
    from hdcore.ingredients.attention_channel import attention_link
    check_instance(model, "model", SequenceMultiIndex)
    if model.tokenwise:
        raise ValueError("the plug-in error is implemented for the attention link")
    p = model.P
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    if q.shape != (p, p) or not np.isfinite(q).all():
        raise ValueError(f"`q` must be a finite {p} x {p} matrix, got shape {q.shape}")
    q = 0.5 * (q + q.T)
    zs, us = _normals(seed, check_int(n_mc, "n_mc", min=1), p, model.M)
    omega = np.einsum("pq,nqm->npm", _sqrtm_psd(q), zs)
    z = omega + np.einsum("pq,nqm->npm", _sqrtm_psd(np.eye(p) - q), us)
    diff = attention_link(z, model.skip) - attention_link(omega, model.skip)
    return float((diff ** 2).sum((-1, -2)).mean())


@dataclass(frozen=True)
class SequenceThresholds(Result):
    """Layer-by-layer weak-recovery thresholds.

    Attributes
    ----------
    first : ndarray
        ``alpha_c`` of each layer from ``Q = 0`` (``1 / F_pp``; ``inf`` if ``F_pp = 0``).
    order : ndarray
        Layers in the order they are learned (0-based).
    thresholds : ndarray
        Threshold of each layer, the first from ``Q = 0``, the later ones conditional on the
        layers already learned at their SE fixed point.
    method : str
        ``"operator"`` (``F`` from posterior second moments) or ``"se_onset"`` (growth rate
        of the SE map from ``Q_pp = epsilon``).
    f_diag : ndarray
        ``F_pp`` at ``Q = 0`` (per unit ``alpha``).
    """

    first: np.ndarray
    order: np.ndarray
    thresholds: np.ndarray
    method: str
    f_diag: np.ndarray


def _layer_rate(model, q_fixed: np.ndarray, layer: int, zs, us, n_nodes: int, method: str,
                eps: float) -> float:
    """``lambda_p``: ``Qhat_pp = alpha lambda_p Q_pp + O(Q_pp^2)`` around ``q_fixed``."""
    p = model.P
    if method == "se_onset":
        q = q_fixed.copy()
        q[layer, layer] = eps
        qhat = _attention_step(model, q, zs, us, n_nodes, alpha=1.0)
        qhat0 = _attention_step(model, q_fixed, zs, us, n_nodes, alpha=1.0)
        return float((qhat[layer, layer] - qhat0[layer, layer]) / eps)
    # operator: sum_mm' E[(Cov(z_p, z_p | y, omega) - delta)^2] with the unlearned layer blank
    v = np.eye(p) - q_fixed
    omega = np.einsum("pq,nqm->npm", _sqrtm_psd(q_fixed), zs)
    z = omega + np.einsum("pq,nqm->npm", _sqrtm_psd(v), us)
    r = attention_log_ratios(z, model.skip)
    _, _, full = attention_posterior(r, omega, v, skip=model.skip, n_nodes=n_nodes,
                                     full_cov=True)
    m = model.M
    block = full[:, layer * m:(layer + 1) * m, layer * m:(layer + 1) * m]
    # second moments (the posterior mean of the unlearned layer vanishes by symmetry)
    mean_sq = block - np.eye(m)
    return float((mean_sq ** 2).sum((1, 2)).mean())


def sequence_thresholds(model: SequenceMultiIndex, *, method: str = "operator",
                        n_mc: int = 4096, n_nodes: int = DEFAULT_NODES, eps: float = 1e-4,
                        seed=0, se_options: dict | None = None) -> SequenceThresholds:
    """Layer-by-layer weak-recovery thresholds of the two-layer attention model (module docs).

    The first threshold is ``min_p 1 / F_pp`` at ``Q = 0``; the other layer's threshold is the
    root of ``alpha lambda_p(alpha) = 1`` with the first layer at its SE fixed point.

    Parameters
    ----------
    model : SequenceMultiIndex
        Attention link, ``P = 2`` (``alpha`` and ``D`` are irrelevant).
    method : {"operator", "se_onset"}
        ``F`` from the posterior covariances (Thm. 2.3 linearisation) or from the growth of the
        SE map at ``Q_pp = eps`` (independent cross-check).
    n_mc : int
        Monte-Carlo samples (common random numbers).
    n_nodes : int
        Cubature nodes per axis.
    eps : float
        ``Q_pp`` of the ``se_onset`` finite difference.
    seed : int or numpy.random.Generator
        Seed of the common random numbers.
    se_options : dict, optional
        Passed to :func:`sequence_state_evolution` for the fixed point of the learned layer.

    Returns
    -------
    SequenceThresholds
        Per-layer thresholds, order and method.

    Raises
    ------
    TypeError
        ``model`` is not a ``SequenceMultiIndex``.
    ValueError
        A token-wise link, ``P != 2`` or an unknown ``method``.

    Examples
    --------
    >>> from hdcore.models import DeepTiedAttention
    >>> th = sequence_thresholds(DeepTiedAttention(10, 1.0), n_mc=256, n_nodes=12)
    >>> th.order.tolist()
    [1, 0]

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Thm. 2.3.
    """
    check_instance(model, "model", SequenceMultiIndex)
    method = check_choice(method, "method", ("operator", "se_onset"))
    if model.tokenwise or model.P != 2:
        raise ValueError("`sequence_thresholds` covers the two-layer attention link")
    n_mc = check_int(n_mc, "n_mc", min=1)
    zs, us = _normals(seed, n_mc, model.P, model.M)
    zero = np.zeros((2, 2))
    f_diag = np.array([_layer_rate(model, zero, k, zs, us, n_nodes, method, eps)
                       for k in range(2)])
    first = np.where(f_diag > 0, 1.0 / np.maximum(f_diag, 1e-300), np.inf)
    lead = int(np.argmin(first))
    other = 1 - lead
    opts = {"n_mc": n_mc, "n_nodes": n_nodes, "seed": seed, **(se_options or {})}

    def excess(alpha: float) -> float:
        m = SequenceMultiIndex(model.D, alpha, M=model.M, P=2, link="attention",
                               skip=model.skip)
        init = np.diag([0.0, 0.0])
        init[lead, lead] = 0.5
        se = sequence_state_evolution(m, init=init, **opts)
        qf = np.zeros((2, 2))
        qf[lead, lead] = se.fixed_point[lead, lead]
        return alpha * _layer_rate(model, qf, other, zs, us, n_nodes, method, eps) - 1.0

    lo, hi = first[lead] * 1.0001, max(4 * first[lead], 1.0)
    while excess(hi) < 0 and hi < 64:
        hi *= 2
    second = brentq(excess, lo, hi, xtol=1e-3) if excess(hi) > 0 else np.inf
    thresholds = np.empty(2)
    thresholds[lead] = first[lead]
    thresholds[other] = second
    return SequenceThresholds(first=first, order=np.array([lead, other]),
                              thresholds=thresholds, method=method, f_diag=f_diag)
