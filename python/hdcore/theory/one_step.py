"""Test error of the ridge read-out after one giant gradient step: the fixed point of Cui et al.
(arXiv:2402.04980) on the spiked-random-features surrogate, and its ``eta = 0`` limit, plain
random-features ridge, in closed form.

Everything is for the models of :mod:`hdcore.models.one_step` (read the normalisations there).
Gaussian coefficients come from :mod:`hdcore.ingredients.hermite` (Gauss-Hermite rules).

Fixed point (digest 10, Sec. 3; the authors' ``theory.ipynb``, read and re-implemented here, not
copied): conditional Gaussian equivalence given the spike projection ``kappa ~ N(0, 1)``,

* ``mu0(k) = E_z sigma(r k + sqrt(c) z)``, ``mu1(k) = E_z[z sigma(r k + sqrt(c) z)]/sqrt(c)``,
  ``mu2(k)^2 = E_z sigma(.)^2 - mu0(k)^2 - c mu1(k)^2``;
* teacher ``h(k) = E sigma*(gamma k + rho xi)``, ``h1(k) = E xi sigma*(.)``, ``hh(k) = E sigma*(.)^2``
  (``rho = sqrt(1 - gamma^2)``);
* spectral inputs from one draw of ``W = sqrt(c) W0``: ``Omega = W Pi W^T = U diag(D) U^T``
  (``Pi = I - v v^T``), ``F_k = (U^T W v)_k^2 d``, ``H_k = (U^T W zeta)_k^2 d``;
* seven order parameters ``(q1, q2, V1, V2, theta, psi, m)``; with ``V(k) = mu1^2 V1 + mu2^2 V2``,
  ``c(k) = mu0 m + mu1 k theta`` and
  ``E(k) = hh - 2 c h + c^2 - 2 mu1 psi h1 + mu1^2 q1 + mu2^2 q2``:
  ``q^1 = a E[mu1^2 E/(1 + V)^2]``, ``q^2 = a E[mu2^2 E/(1 + V)^2]``, ``V^1 = a E[mu1^2/(1 + V)]``,
  ``V^2 = a E[mu2^2/(1 + V)]``, ``theta^ = a E[k mu1 (h - c)/(1 + V)]``, ``psi^ = a E[h1 mu1/(1 + V)]``;
  ``S = lam + V^1 D + V^2``, ``N = q^1 D + q^2 + theta^2 F + psi^2 H``, ``q1 = <D N/S^2>``,
  ``q2 = <N/S^2>``, ``V1 = <D/S>``, ``V2 = <1/S>``, ``theta = theta^ <F/S>``, ``psi = psi^ <H/S>``
  (``<.>``: mean over the ``p`` eigenvalues), ``m = E[mu0 (h - mu1 k theta)/(1 + V)] /
  E[mu0^2/(1 + V)]``; **test error** ``E_k E(k)`` (noiseless ``hh``).

``a`` is the number of samples per feature, ``n/p``: the authors' code has ``p = d`` and writes
``alpha = n/d``; the ``n/p`` reading for ``p != d`` is derived here (the means run over ``p``
eigenvalues and the energetic term over ``n`` samples) and is not tested against simulation.
Label noise (absent from the authors' code) enters the training energy as ``hh + noise``
(derived here).

Closed form at ``eta = 0`` (:func:`rf_ridge_test_error`, derived here from Gaussian
equivalence, not read in the papers): features ``u = mu0 1 + mu1 W0 x + mu_star xi`` have
covariance ``C = mu1^2 W0 W0^T + mu_star^2 I`` with eigenvalues ``C_k`` (eigenvectors ``u_k``)
and cross-covariance with the label ``b_k = mu1 mu1* <u_k, W0 theta*>``; the label's part not
linearly explained by ``u`` has variance ``sigma_e^2 = mu2* - mu0*^2 - sum_k b_k^2/C_k + noise``.
The deterministic equivalent of ridge with ``n = a p`` samples (e.g. Bach 2024, SIAM J. Math.
Data Sci. 6, Eqs. (8)-(10)) with the effective regularisation ``t``::

    t = lam/a + (t/(a p)) sum_k C_k/(C_k + t)
    test error = (sigma_e^2 + t^2 sum_k b_k^2/(C_k (C_k + t)^2)) / (1 - (1/(a p)) sum_k C_k^2/(C_k + t)^2)
                 - noise

(the constant parts ``mu0``, ``mu0*`` are fitted exactly in the limit, as in the fixed point).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdcore import _core
from hdcore._results import Result
from hdcore._validation import check_instance, check_int, check_real
from hdcore.ingredients.hermite import (
    HermiteCoefficients,
    conditional_moments,
    hermite_coefficients,
)
from hdcore.ingredients.quadrature import gauss_hermite
from hdcore.models.one_step import OneStepNetwork, SpikedRandomFeatures
from hdcore.random import as_seed, spawn
from hdcore.rmt import eigh
from hdcore.theory.fixed_point import solve

__all__ = ["OneStepFixedPoint", "HermiteCoefficients", "hermite_coefficients",
           "one_step_test_error", "rf_ridge_test_error", "srf_spectral_inputs"]

_NAMES = ("q1", "q2", "V1", "V2", "theta", "psi", "m")


def _surrogate(model) -> SpikedRandomFeatures:
    check_instance(model, "model", (OneStepNetwork, SpikedRandomFeatures))
    return SpikedRandomFeatures.from_one_step(model) if isinstance(model, OneStepNetwork) else model


def srf_spectral_inputs(model, seed=0, *, n_threads: int | None = None):
    """``(D, F, H)`` of the fixed point (module docs) from one draw of ``W0``, ``v``, ``zeta``
    (the draw of ``model.sample(seed)`` for a :class:`~hdcore.models.SpikedRandomFeatures`).

    Parameters
    ----------
    model : OneStepNetwork or SpikedRandomFeatures
    seed : int or numpy.random.Generator
    n_threads : int, optional

    Returns
    -------
    tuple of ndarray
        ``D`` (eigenvalues of ``Omega``, ``p``), ``F``, ``H`` (``p`` each).
    """
    srf = _surrogate(model)
    s = srf.sample(seed, n_threads=n_threads)
    v = s.v
    zeta = s.theta - (s.theta @ v) * v
    nz = np.linalg.norm(zeta)
    zeta = zeta / nz if nz > 1e-12 else np.zeros_like(v)
    w = np.sqrt(srf.c) * s.w0
    wv, wz = w @ v, w @ zeta
    omega = w @ w.T - np.outer(wv, wv)
    omega = 0.5 * (omega + omega.T)
    dvals, u = eigh(omega, n_threads=n_threads)
    d = srf.d
    return dvals, (u.T @ wv) ** 2 * d, (u.T @ wz) ** 2 * d


@dataclass(frozen=True)
class OneStepFixedPoint(Result):
    """Output of :func:`one_step_test_error`.

    Attributes
    ----------
    test_error : float
        ``E_k E(k)`` (module docs).
    overlaps : dict
        ``q1, q2, V1, V2, theta, psi, m`` at the fixed point.
    alpha, lam : float
    r, c, gamma : float
        The surrogate's parameters.
    converged : bool
    n_iter : int
    """

    test_error: float
    overlaps: dict
    alpha: float
    lam: float
    r: float
    c: float
    gamma: float
    converged: bool
    n_iter: int


def one_step_test_error(model, alpha: float, lam: float, *, seed=0, n_kappa: int = 61,
                        n_nodes: int = 61, damping: float = 0.5, tol: float = 1e-9,
                        max_iter: int = 5000, spectral=None,
                        n_threads: int | None = None) -> OneStepFixedPoint:
    """The asymptotic test error of the ridge read-out on the spiked random features (the
    predecessor's fixed point, module docs), solved by :func:`hdcore.theory.fixed_point.solve`.

    Parameters
    ----------
    model : OneStepNetwork or SpikedRandomFeatures
        A network (mapped by :meth:`~hdcore.models.SpikedRandomFeatures.from_one_step`) or a
        surrogate.
    alpha : float
        Read-out samples per input dimension, ``n = alpha d``.
    lam : float
        Ridge penalty (``> 0``), as in :func:`hdcore.algorithms.ridge_readout`.
    seed : int or numpy.random.Generator
        Seed of the one draw of ``W0`` the spectral inputs come from.
    n_kappa, n_nodes : int
        Gauss-Hermite nodes of the outer (``kappa``) and inner integrals.
    damping : float
        Damping of the iteration (0.5 as in the authors' code).
    tol : float
        Tolerance on ``max |F(x) - x|``.
    max_iter : int
    spectral : tuple, optional
        Precomputed ``(D, F, H)`` of :func:`srf_spectral_inputs` (reused along a curve).
    n_threads : int, optional

    Returns
    -------
    OneStepFixedPoint

    Raises
    ------
    TypeError
        ``model`` is of another type.
    ValueError
        ``alpha`` or ``lam`` not positive and finite.
    hdcore.ConvergenceError
        The iteration did not converge.

    Examples
    --------
    >>> from hdcore.models import OneStepNetwork
    >>> net = OneStepNetwork(d=200, p=200, alpha0=20.0, eta=3.0)
    >>> fp = one_step_test_error(net, alpha=1.0, lam=0.1)
    >>> fp.converged, 0.0 < fp.test_error < 0.5
    (True, True)

    References
    ----------
    Cui, Pesce, Dandi, Krzakala, Lu, Zdeborova & Loureiro, arXiv:2402.04980, Sec. 3 and
    ``theory.ipynb`` of SPOC-group/OneStepGD_asymptotics.
    """
    srf = _surrogate(model)
    alpha = check_real(alpha, "alpha", min=0.0, min_inclusive=False)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    n_kappa = check_int(n_kappa, "n_kappa", min=2)
    n_nodes = check_int(n_nodes, "n_nodes", min=2)
    dv, fv, hv = srf_spectral_inputs(srf, seed, n_threads=n_threads) if spectral is None \
        else (np.asarray(x, dtype=np.float64) for x in spectral)
    a = alpha * srf.d / srf.p
    k, wk = gauss_hermite(n_kappa)
    sc = np.sqrt(srf.c)
    mu0, ez, e2 = conditional_moments(srf.activation, srf.r * k, sc, n_nodes)
    mu1 = ez / sc
    mu2sq = np.maximum(e2 - mu0 ** 2 - srf.c * mu1 ** 2, 0.0)
    rho = np.sqrt(max(1.0 - srf.gamma ** 2, 0.0))
    h, h1, hh = conditional_moments(srf.target, srf.gamma * k, rho, n_nodes)
    hh_train = hh + srf.noise

    def energy(x, hh_):
        cc = mu0 * x["m"] + mu1 * k * x["theta"]
        return hh_ - 2 * cc * h + cc * cc - 2 * mu1 * x["psi"] * h1 \
            + mu1 ** 2 * x["q1"] + mu2sq * x["q2"]

    def step(x):
        v = mu1 ** 2 * x["V1"] + mu2sq * x["V2"]
        e = energy(x, hh_train)
        cc = mu0 * x["m"] + mu1 * k * x["theta"]
        qh1 = a * wk @ (mu1 ** 2 * e / (1 + v) ** 2)
        qh2 = a * wk @ (mu2sq * e / (1 + v) ** 2)
        vh1 = a * wk @ (mu1 ** 2 / (1 + v))
        vh2 = a * wk @ (mu2sq / (1 + v))
        th = a * wk @ (k * mu1 * (h - cc) / (1 + v))
        ph = a * wk @ (h1 * mu1 / (1 + v))
        s = lam + vh1 * dv + vh2
        nn = qh1 * dv + qh2 + th ** 2 * fv + ph ** 2 * hv
        den = wk @ (mu0 ** 2 / (1 + v))
        m = (wk @ (mu0 * (h - mu1 * k * x["theta"]) / (1 + v)) / den) if den > 1e-14 else 0.0
        return {"q1": float(np.mean(dv * nn / s ** 2)), "q2": float(np.mean(nn / s ** 2)),
                "V1": float(np.mean(dv / s)), "V2": float(np.mean(1 / s)),
                "theta": float(th * np.mean(fv / s)), "psi": float(ph * np.mean(hv / s)),
                "m": float(m)}

    x0 = dict(zip(_NAMES, (0.1, 0.2, 3.0, 3.0, 0.5, 0.5, 1.5)))
    res = solve(step, x0, damping=damping, tol=tol, max_iter=max_iter)
    x = {n_: float(res.x[n_]) for n_ in _NAMES}
    err = float(wk @ energy(x, hh))
    return OneStepFixedPoint(test_error=err, overlaps=x, alpha=alpha, lam=lam, r=srf.r, c=srf.c,
                             gamma=srf.gamma, converged=bool(res.converged), n_iter=res.n_iter)


def rf_ridge_test_error(model, alpha: float, lam: float, *, seed=0, w0=None,
                        n_nodes: int = 201, n_threads: int | None = None) -> float:
    """Asymptotic test error of random-features ridge (the ``eta = 0`` network: first layer
    ``W0``, no step), in closed form (module docs; derived here from Gaussian equivalence).

    Parameters
    ----------
    model : OneStepNetwork or SpikedRandomFeatures
        Only ``d, p``, the activation, the target and the noise are used (the step is ignored).
    alpha : float
        Read-out samples per input dimension, ``n = alpha d``.
    lam : float
        Ridge penalty (``> 0``).
    seed : int or numpy.random.Generator
        Seed of the draw of ``W0`` and ``theta*`` (the one of ``model.sample(seed)`` for a
        network) when ``w0`` is not given.
    w0 : tuple, optional
        ``(W0, theta)`` to use instead.
    n_nodes : int
        Gauss-Hermite nodes of the Hermite coefficients.
    n_threads : int, optional

    Returns
    -------
    float
        The test error (noiseless labels).

    Raises
    ------
    TypeError
        ``model`` is of another type.
    ValueError
        ``alpha`` or ``lam`` not positive and finite.

    Examples
    --------
    >>> from hdcore.models import OneStepNetwork
    >>> net = OneStepNetwork(d=200, p=200, alpha0=1.0, eta=0.0)
    >>> e1 = rf_ridge_test_error(net, alpha=1.0, lam=0.1)
    >>> e4 = rf_ridge_test_error(net, alpha=4.0, lam=0.1)
    >>> bool(e4 < e1 < 0.5)
    True

    References
    ----------
    Mei & Montanari, "The generalization error of random features regression", CPAM 75 (2022);
    Gerace, Loureiro, Krzakala, Mezard & Zdeborova, ICML 2020, arXiv:2002.09339; Bach, "High-
    dimensional analysis of double descent for linear regression with random projections",
    SIAM J. Math. Data Sci. 6 (2024).
    """
    check_instance(model, "model", (OneStepNetwork, SpikedRandomFeatures))
    alpha = check_real(alpha, "alpha", min=0.0, min_inclusive=False)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    if w0 is None:
        w, theta = _core.two_layer_init(model.p, model.d, spawn(as_seed(seed), 0),
                                        n_threads=n_threads)
    else:
        w, theta = (np.asarray(x, dtype=np.float64) for x in w0)
    st = hermite_coefficients(model.activation, n_nodes)
    tt = hermite_coefficients(model.target, n_nodes)
    omega, u = eigh(w @ w.T, n_threads=n_threads)
    ck = st.mu1 ** 2 * np.maximum(omega, 0.0) + st.mu_star ** 2
    bk = st.mu1 * tt.mu1 * (u.T @ (w @ theta))
    p = model.p
    a = alpha * model.d / p
    explained = float(np.sum(bk ** 2 / ck))
    sig2 = tt.mu2 - tt.mu0 ** 2 - explained + model.noise

    def t_map(t):
        return lam / a + t * float(np.sum(ck / (ck + t))) / (a * p)

    t = solve(t_map, lam / a + 1.0, tol=1e-13, max_iter=100000).x
    df2 = float(np.sum(ck ** 2 / (ck + t) ** 2)) / (a * p)
    bias = t * t * float(np.sum(bk ** 2 / (ck * (ck + t) ** 2)))
    return float((sig2 + bias) / (1.0 - df2) - model.noise)
