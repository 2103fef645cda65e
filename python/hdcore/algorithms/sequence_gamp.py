"""Bayes GAMP with token columns for sequence multi-index models (Troiani, Cui, Dandi, Krzakala &
Zdeborova 2025, arXiv:2502.00901, Sec. 2, AMP of Lemma 2.2).

The token rows ``x_{mu, m} / sqrt(D)`` form the ``(N M) x D`` design of a multi-index model
(:mod:`hdcore.models.sequence_index`), so the iteration is the landed GAMP loop
(:mod:`hdcore.algorithms.gamp`, same damping and determinism rules) on that design, with one
``omega`` per token column (its own Onsager term ``V g``) and the channel evaluated on the ``M``
columns of a sample together::

    omega_{mu, m} = W^T x_{mu, m} / sqrt(D) - V g_{mu, m}^{t-1}
    g_mu, dg_mu   = g_out(y_mu, omega_mu[:, 1..M], V)        (P x M and M blocks of P x P)
    A = -(1/D) sum_{mu, m} dg_{mu, m},   B = X^T g / sqrt(D) + W_bar A
    W = B (I + A)^{-1},   V = (I + A)^{-1}                     (Gaussian prior)

with ``g_m = V^{-1}(E[Z_m | y, omega] - omega_m)`` and ``dg_m = V^{-1} Cov(Z_m) V^{-1} - V^{-1}``
(token-diagonal blocks of the Jacobian).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from hdcore import _core
from hdcore._validation import check_int, check_iteration
from hdcore.algorithms.gamp import GAMPResult, _open_loop, _result, _start
from hdcore.ingredients.attention_channel import DEFAULT_NODES, attention_posterior
from hdcore.ingredients.channels import get_channel
from hdcore.models.sequence_index import SequenceIndexSample

__all__ = ["sequence_gamp", "token_column_channel"]


def token_column_channel(sample: SequenceIndexSample, *, n_nodes: int = DEFAULT_NODES):
    """The output function ``(y, omega, V) -> (g, dg)`` of a sequence sample on token rows.

    Parameters
    ----------
    sample : SequenceIndexSample
        The sample (its model fixes the link).
    n_nodes : int
        Cubature nodes per axis of the attention posterior.

    Returns
    -------
    callable
        ``g_out(y, omega, v)`` with ``omega`` of shape ``(N M, P)`` (token-major rows), returning
        ``g`` (``(N M, P)``) and ``dg`` (``(N M, P, P)``).

    Raises
    ------
    ValueError
        ``n_nodes < 2``.

    Examples
    --------
    >>> from hdcore.models import DeepTiedAttention
    >>> s = DeepTiedAttention(50, 1.0).sample(seed=0)
    >>> g, dg = token_column_channel(s, n_nodes=8)(None, np.zeros((100, 2)), np.eye(2))
    >>> g.shape, dg.shape
    ((100, 2), (100, 2, 2))

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Sec. 2.
    """
    model = sample.model
    n_nodes = check_int(n_nodes, "n_nodes", min=2)
    n, m, p = model.n, model.M, model.P
    if model.tokenwise:
        ch = get_channel(model.link, p, model.noise)
        y_rows = np.ascontiguousarray(sample.y.reshape(-1))

        def g_tok(_y, omega, v):
            return ch.g_out(y_rows, omega, v)
        return g_tok
    r = sample.log_ratios
    assert r is not None

    def g_att(_y, omega, v):
        om = omega.reshape(n, m, p).transpose(0, 2, 1)
        _, mean, cov = attention_posterior(r, om, v, skip=model.skip, n_nodes=n_nodes)
        vinv = np.linalg.inv(v)
        g = np.einsum("pq,nqm->nmp", vinv, mean - om).reshape(n * m, p)
        dg = (np.einsum("pq,nmqr,rs->nmps", vinv, cov, vinv) - vinv).reshape(n * m, p, p)
        return g, dg
    return g_att


def _gaussian_denoiser(b, a):
    p = a.shape[0]
    c = np.linalg.inv(np.eye(p) + a)
    return b @ c, c


def sequence_gamp(sample: SequenceIndexSample, *, n_iter: int = 100, damping: float = 0.5,
                  tol: float = 1e-8, init="random", n_nodes: int = DEFAULT_NODES, seed=0,
                  n_threads: int | None = None, progress: bool = False) -> GAMPResult:
    """Bayes GAMP with token columns on a sequence multi-index sample (module docs).

    Parameters
    ----------
    sample : SequenceIndexSample
        A draw of :class:`~hdcore.models.SequenceMultiIndex` (Gaussian prior).
    n_iter : int
        Maximal number of iterations.
    damping : float in [0, 1)
        Damping of ``g``, ``A`` and ``W`` (as :func:`hdcore.algorithms.gamp`).
    tol : float
        Stop when ``||W^{t+1} - W^t||^2 / D < tol``.
    init : {"random", "informative"} or array
        Start ``W^0`` (``D x P``): small random, the teacher, or given.
    n_nodes : int
        Cubature nodes per axis of the attention posterior.
    seed : int or numpy.random.Generator
        Seed of the random start.
    n_threads : int, optional
        Threads of the products with ``X`` (results do not depend on it).
    progress : bool
        Show a progress bar.

    Returns
    -------
    GAMPResult
        As :func:`hdcore.algorithms.gamp`; ``m`` and ``q`` are ``W^T W* / D`` and ``W^T W / D``
        (per-layer cosines: ``m_pp / sqrt(q_pp)``).

    Raises
    ------
    TypeError
        ``sample`` is not a ``SequenceIndexSample``.
    ValueError
        Bad iteration settings or ``init``.

    Examples
    --------
    >>> from hdcore.models import SequenceMultiIndex
    >>> s = SequenceMultiIndex(100, 2.0, M=2, P=1, link="sign").sample(seed=0)
    >>> sequence_gamp(s, n_iter=5).m.shape
    (6, 1, 1)

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Sec. 2.
    """
    if not isinstance(sample, SequenceIndexSample):
        raise TypeError(f"`sample` must be a SequenceIndexSample, got {type(sample).__name__}")
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    model = sample.model
    d = model.D
    x = np.ascontiguousarray(sample.x, dtype=np.float64) / np.sqrt(d)
    rows = SimpleNamespace(x=x, w=sample.w,
                           model=SimpleNamespace(d=d, p=model.P))
    w0, v0 = _start(init, rows, seed)
    g_out = token_column_channel(sample, n_nodes=n_nodes)
    raw = _open_loop(rows, None, g_out, _gaussian_denoiser, w0, v0, n_iter, damping, tol,
                     n_threads, progress=progress)
    return _result(raw, np.ascontiguousarray(sample.w))


def per_layer_cosines(res: GAMPResult) -> np.ndarray:
    """``|m_pp| / sqrt(q_pp)`` per iterate (``(n_iter + 1) x P``), the per-layer cosines of a
    :func:`sequence_gamp` result (the teacher has ``||w*_p||^2 / D ~ 1``)."""
    m = np.abs(np.diagonal(res.m, axis1=-2, axis2=-1))
    q = np.diagonal(res.q, axis1=-2, axis2=-1)
    return m / np.sqrt(np.maximum(q, 1e-300))


_ = _core  # the products with X run in Rust through the shared loop
