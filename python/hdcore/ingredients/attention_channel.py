"""The deep tied attention link and its Bayes posterior (Troiani, Cui, Dandi, Krzakala &
Zdeborova 2025, "Fundamental limits of learning in sequence multi-index models and deep attention
networks", arXiv:2502.00901, Sec. 3).

Tokens are the ``M`` columns of the pre-activation ``Z = W* x / sqrt(D)`` (``P x M``, one row per
layer, rank one per layer). With ``h_1 = z_1`` and, for ``l >= 2``,
``h_l = A_{l-1} ... A_1 z_l``, ``A_l = softmax_row(h_l h_l^T) + c I_M``, the output is the last
attention matrix ``y = softmax_row(h_L h_L^T)`` (paper, Sec. 3, the deep tied low-rank attention
as a sequence multi-index model with ``P = L``).

Exact inversion (``L = 2``, ``M = 2``): with ``u = h_2 = A_1(z_1) z_2``,
``r_0 = log(y_00 / y_01) = u_0 (u_0 - u_1)`` and ``r_1 = log(y_11 / y_10) = u_1 (u_1 - u_0)``, so
``(u_0 - u_1)^2 = r_0 + r_1`` and ``u = +-(r_0, -r_1) / sqrt(r_0 + r_1)``. The sampler stores the
log-ratios ``r`` directly (computed from ``u``, no ``log(1/y - 1)`` cancellation).

Posterior over ``Z`` given ``y`` and the cavity ``N(omega_m, V)`` per token column: the density of
``u`` given ``z_1`` is ``N(A(z_1)^{-1} u; ...) / |det A(z_1)|``, so

    E[phi(Z) | y] = sum_{s = +-1} int dz_1 N(z_1; omega_1, V_11 I) N(z_2(s); mu_2|1, s_2|1 I)
                    phi(z_1, z_2(s)) / |det A(z_1)|  /  (same without phi),

``z_2(s) = A(z_1)^{-1} s u``; the 2-d integral over ``z_1`` is a tensor Gauss-Hermite rule centred
and scaled on the cavity marginal of ``z_1``. The integrand ``N(z_2(s); ...) / |det A|`` is bounded,
so the rule converges in the node count (tested); it converges slowly when ``V`` is small (the
posterior of ``z_1`` concentrates near a curve), where more nodes are needed. A re-centred
Gaussian proposal (adaptive Gauss-Hermite) was tried and rejected: the posterior of ``z_1`` is
banana-shaped, and the importance ratio of a Gaussian proposal is not polynomial-like.
"""

from __future__ import annotations

import numpy as np

from hdcore._validation import check_int, check_real
from hdcore.ingredients.quadrature import gauss_hermite

__all__ = ["attention_link", "attention_log_ratios", "attention_posterior", "invert_log_ratios"]

#: default Gauss-Hermite nodes per axis of the ``z_1`` cubature
DEFAULT_NODES = 24


def _softmax_gram(h: np.ndarray) -> np.ndarray:
    logits = h[..., :, None] * h[..., None, :]
    logits = logits - logits.max(-1, keepdims=True)
    ex = np.exp(logits)
    return ex / ex.sum(-1, keepdims=True)


def _last_preactivation(z: np.ndarray, skip: float) -> np.ndarray:
    """``h_L`` for ``z`` of shape ``(..., L, M)``."""
    n_layers, m = z.shape[-2], z.shape[-1]
    eye = np.eye(m)
    prod = np.broadcast_to(eye, z.shape[:-2] + (m, m)).copy()
    h = z[..., 0, :]
    for layer in range(1, n_layers):
        prod = (_softmax_gram(h) + skip * eye) @ prod
        h = np.einsum("...ab,...b->...a", prod, z[..., layer, :])
    return h


def attention_link(z, skip: float = 1.0) -> np.ndarray:
    """Deep tied attention output ``y = softmax_row(h_L h_L^T)`` (module docs).

    Parameters
    ----------
    z : array_like
        Pre-activations, shape ``(..., L, M)`` (layers by tokens).
    skip : float
        Skip strength ``c``.

    Returns
    -------
    ndarray
        ``y``, shape ``(..., M, M)``, rows summing to one.

    Examples
    --------
    >>> y = attention_link(np.zeros((2, 2)))
    >>> float(y.sum())
    2.0

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Sec. 3.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim < 2:
        raise ValueError(f"`z` must have shape (..., L, M), got {z.shape}")
    return _softmax_gram(_last_preactivation(z, float(skip)))


def attention_log_ratios(z, skip: float = 1.0) -> np.ndarray:
    """``r_a = log(y_aa / y_ab) = u_a (u_a - u_b)`` for ``M = 2`` (``u = h_L``), shape ``(..., 2)``.

    Parameters
    ----------
    z : array_like
        Pre-activations, shape ``(..., L, 2)``.
    skip : float
        Skip strength ``c``.

    Returns
    -------
    ndarray
        The two log-ratios per sample.

    Raises
    ------
    ValueError
        ``z`` does not have two tokens.

    Examples
    --------
    >>> attention_log_ratios(np.array([[0.0, 0.0], [1.0, -1.0]])).round(6).tolist()
    [2.0, 2.0]

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Sec. 3.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim < 2 or z.shape[-1] != 2:
        raise ValueError(f"`z` must have shape (..., L, 2), got {z.shape}")
    u = _last_preactivation(z, float(skip))
    d = u[..., 0] - u[..., 1]
    return np.stack([u[..., 0] * d, -u[..., 1] * d], axis=-1)


def invert_log_ratios(r) -> np.ndarray:
    """``u`` (one of the two signs) from the log-ratios: ``u = (r_0, -r_1)/sqrt(r_0 + r_1)``.

    Parameters
    ----------
    r : array_like
        Log-ratios, shape ``(..., 2)``.

    Returns
    -------
    ndarray
        ``u`` with ``u_0 - u_1 >= 0``, shape ``(..., 2)``.

    Examples
    --------
    >>> invert_log_ratios([2.0, 2.0]).tolist()
    [1.0, -1.0]

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Sec. 3.
    """
    r = np.asarray(r, dtype=np.float64)
    s = np.sqrt(np.clip(r[..., 0] + r[..., 1], 1e-300, None))
    return np.stack([r[..., 0] / s, -r[..., 1] / s], axis=-1)


def _branches(centre, chol, tt, logw, log_phi, om, u, skip, v11, beta, s2):
    """Nodes ``z1 = centre + chol t`` per sign and the log of (integrand / proposal) x weight."""
    z1 = centre[:, :, None, :] + np.einsum("bsij,kj->bski", chol, tt)   # (b, sign, K, 2)
    a, b = z1[..., 0], z1[..., 1]
    p0 = 0.5 * (1.0 + np.tanh(0.5 * (a * a - a * b)))   # softmax row 0, diagonal entry
    p1 = 0.5 * (1.0 + np.tanh(0.5 * (b * b - a * b)))
    a00, a01, a10, a11 = p0 + skip, 1.0 - p0, 1.0 - p1, p1 + skip
    det = a00 * a11 - a01 * a10
    sign = np.array([1.0, -1.0])[None, :, None]
    ua, ub = sign * u[:, 0, None, None], sign * u[:, 1, None, None]
    z2 = np.stack([(a11 * ua - a01 * ub) / det, (-a10 * ua + a00 * ub) / det], -1)
    mu = om[:, None, None, 1, :] + beta * (z1 - om[:, None, None, 0, :])
    log_prior = (-((z1 - om[:, None, None, 0, :]) ** 2).sum(-1) / (2 * v11)
                 - np.log(2 * np.pi * v11))
    log_lik = -((z2 - mu) ** 2).sum(-1) / (2 * s2) - np.log(2 * np.pi * s2) - np.log(np.abs(det))
    log_det_chol = np.log(np.abs(chol[..., 0, 0] * chol[..., 1, 1] - chol[..., 0, 1] * chol[..., 1, 0]))
    # proposal density of z1 = centre + chol t is N(t; 0, I) / |det chol|
    logi = logw + log_prior + log_lik - (log_phi - log_det_chol[..., None])
    return z1, z2, logi


def attention_posterior(r, omega, v, *, skip: float = 1.0, n_nodes: int = DEFAULT_NODES,
                        chunk: int = 256, full_cov: bool = False):
    """Posterior moments of ``Z`` (``2 x 2``: layers by tokens) of the two-layer attention channel.

    Parameters
    ----------
    r : array_like
        Log-ratios, shape ``(N, 2)`` (:func:`attention_log_ratios`).
    omega : array_like
        Cavity means, shape ``(N, 2, 2)`` (``omega[mu, :, m]`` is token column ``m``).
    v : array_like
        Cavity covariance ``V`` (``2 x 2``, positive definite), shared by the token columns.
    skip : float
        Skip strength ``c > 0`` (``A(z_1)`` is singular at ``c = 0``).
    n_nodes : int
        Gauss-Hermite nodes per axis of the ``z_1`` cubature.
    chunk : int
        Samples per vectorised block (memory bound).
    full_cov : bool
        Return the full ``4 x 4`` covariance of ``vec(Z)`` (index ``p M + m``) instead of the
        token blocks.

    Returns
    -------
    log_z : ndarray
        ``log`` of the evidence up to a ``y``-only constant, shape ``(N,)``.
    mean : ndarray
        ``E[Z | y, omega, V]``, shape ``(N, 2, 2)``.
    cov : ndarray
        Token-block covariances ``Cov(Z[:, m])``, shape ``(N, 2, 2, 2)`` (``cov[mu, m]``), or
        with ``full_cov`` the ``(N, 4, 4)`` covariance of ``vec(Z)``.

    Raises
    ------
    ValueError
        Bad shapes, ``V`` not positive definite, ``skip <= 0`` or ``n_nodes < 2``.

    Examples
    --------
    >>> r = attention_log_ratios(np.array([[[0.3, -0.2], [1.0, -0.5]]]))
    >>> _, mean, _ = attention_posterior(r, np.zeros((1, 2, 2)), np.eye(2), n_nodes=8)
    >>> mean.shape
    (1, 2, 2)

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Sec. 3 and App. (AMP).
    """
    r = np.asarray(r, dtype=np.float64)
    omega = np.asarray(omega, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != 2:
        raise ValueError(f"`r` must have shape (N, 2), got {r.shape}")
    n = r.shape[0]
    if omega.shape != (n, 2, 2):
        raise ValueError(f"`omega` must have shape ({n}, 2, 2), got {omega.shape}")
    if v.shape != (2, 2) or not np.isfinite(v).all():
        raise ValueError(f"`v` must be a finite 2 x 2 matrix, got shape {v.shape}")
    skip = check_real(skip, "skip", min=0.0, min_inclusive=False)
    n_nodes = check_int(n_nodes, "n_nodes", min=2)
    v = 0.5 * (v + v.T)
    if v[0, 0] <= 0 or np.linalg.det(v) <= 0:
        raise ValueError("`v` must be positive definite")
    t, wt = gauss_hermite(n_nodes)
    # tensor Gauss-Hermite rule in R^2
    tt = np.stack([np.repeat(t, n_nodes), np.tile(t, n_nodes)], -1)      # (K, 2)
    logw = np.log(np.repeat(wt, n_nodes) * np.tile(wt, n_nodes))
    log_phi = -0.5 * (tt ** 2).sum(-1) - np.log(2 * np.pi)               # N(t; 0, I)
    sd1 = np.sqrt(v[0, 0])
    beta = v[1, 0] / v[0, 0]
    s2 = v[1, 1] - v[1, 0] ** 2 / v[0, 0]
    u_all = invert_log_ratios(r)
    log_z = np.empty(n)
    mean = np.empty((n, 2, 2))
    full = np.empty((n, 4, 4))
    step = max(1, int(chunk))
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        om = omega[lo:hi]
        u = u_all[lo:hi]
        # stage 0: nodes on the cavity marginal N(omega_1, V_11 I) of z1, shared by both signs
        centre = np.broadcast_to(om[:, 0, None, :], (hi - lo, 2, 2))     # (b, sign, 2)
        chol = np.zeros((hi - lo, 2, 2, 2))
        chol[..., 0, 0] = chol[..., 1, 1] = sd1
        z1, z2, logi = _branches(centre, chol, tt, logw, log_phi, om, u, skip, v[0, 0], beta,
                                 s2)
        lmax = logi.max(axis=(1, 2), keepdims=True)
        wgt = np.exp(logi - lmax)                                          # (b, sign, K)
        tot = wgt.sum(axis=(1, 2))
        log_z[lo:hi] = np.log(tot) + lmax[:, 0, 0]
        wgt /= tot[:, None, None]
        var = np.concatenate([z1, z2], -1)                                 # (b, sign, K, 4)
        e = np.einsum("bsk,bski->bi", wgt, var)
        e2 = np.einsum("bsk,bski,bskj->bij", wgt, var, var)
        mean[lo:hi] = e.reshape(-1, 2, 2)
        full[lo:hi] = e2 - e[:, :, None] * e[:, None, :]
    if full_cov:
        return log_z, mean, full
    # token blocks: cov[mu, m] = Cov((z1_m, z2_m))
    idx = np.array([[0, 2], [1, 3]])
    cov = full[:, idx[:, :, None], idx[:, None, :]]
    return log_z, mean, cov
