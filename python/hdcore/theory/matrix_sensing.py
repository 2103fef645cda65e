"""Bayes-optimal matrix sensing: fixed point, state evolution, free entropy, perfect-recovery
thresholds, limits and the ridge baseline.

Xu, Maillard, Zdeborova & Krzakala 2025 (arXiv:2503.14121) prove that the Bayes-optimal error
of sensing a rotationally invariant matrix equals the MMSE of an equivalent *denoising* problem
``Y = S + sqrt(delta_eff) Z`` whose noise solves a scalar fixed point (the predictions of
Maillard et al. 2024, arXiv:2408.03733, and Erba et al. 2024, arXiv:2410.18858). In hdcore's
normalisation (:mod:`hdcore.models.matrix_sensing`)::

    symmetric  (Var <A, S> = 2 ||S||^2/d):  q_hat = 2 alpha / (Delta/2 + mmse(1/q_hat))
    rectangular (Var <A, S> = ||S||^2/(d1 d2)):  q_hat = alpha / (Delta + mmse(1/q_hat))

with ``delta_eff = 1/q_hat``, ``mmse`` the denoising MMSE of the prior (:mod:`hdcore.rmt`) and
``MSE = mmse(delta_eff)`` (MTM+24 ``Theory_noise.py``: ``q_hat = 2 alpha/(mmse + Delta/2)``;
ETB+24 ``main.jl``: ``q_hat = alpha/(Delta + 1 - q)``). The map ``delta -> mmse(delta)/delta`` is
decreasing, so the fixed point is unique (no hard phase): it is found by Brent's method in
``log delta_eff``. Noiseless, ``mmse(delta)/delta`` tends to the fraction of degrees of freedom
of the prior as ``delta -> 0``, which gives the perfect-recovery thresholds
``alpha_PR = kappa - kappa^2/2`` (``kappa < 1``) or ``1/2`` (Wishart) and
``alpha_PR = min(1, r (d1 + d2 - r)/(d1 d2)) = min(1, rho (1 + beta - rho)/beta)`` (product,
``r <= min(d1, d2)``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq

from hdcore._progress import check_progress, track
from hdcore._results import Result
from hdcore._validation import check_int, check_real
from hdcore.models.matrix_sensing import MatrixSensing, Wishart, as_sensing
from hdcore.rmt.denoising import ProductPrior, WishartPrior
from hdcore.theory.fixed_point import solve

__all__ = [
    "SensingFixedPoint",
    "SensingStateEvolution",
    "bsr_large_beta_mse",
    "bsr_low_rank_mse",
    "fixed_point",
    "fixed_point_curve",
    "free_entropy",
    "limit_prior",
    "perfect_recovery_threshold",
    "quadratic_large_width_limit",
    "ridge_mse",
    "state_evolution",
]

#: below this effective noise (relative to the prior variance) the noiseless problem is solved
DELTA_FLOOR = 1e-9


@dataclass(frozen=True)
class SensingFixedPoint(Result):
    """Bayes-optimal error of matrix sensing.

    Attributes
    ----------
    mse : float
        ``lim E||S_hat - S*||^2 / units`` (per entry of ``S_bar``).
    normalised_mse : float
        ``mse / prior_variance`` (MTM+24's ``kappa x MMSE``; 1 at ``alpha = 0``).
    q : float
        Overlap ``<S_hat, S*>/units = Q0 - mse``.
    q_hat : float
        Conjugate overlap, the SNR of the equivalent denoising problem (``inf`` at perfect
        recovery).
    delta_eff : float
        ``1/q_hat``.
    alpha_pr : float
        Noiseless perfect-recovery threshold of the model.
    """

    mse: float
    normalised_mse: float
    q: float
    q_hat: float
    delta_eff: float
    alpha_pr: float


@dataclass(frozen=True)
class SensingStateEvolution(Result):
    """Per-iteration prediction for GAMP-RIE: ``mse[t]`` of the iterate ``t`` (``mse[0]`` is the
    prior variance) and the effective noise ``delta_eff[t]`` of iteration ``t``."""

    mse: np.ndarray
    delta_eff: np.ndarray
    converged: bool


def limit_prior(model) -> WishartPrior | ProductPrior:
    """The prior of the ``d -> infinity`` limit (exact ratios ``kappa`` or ``(beta, rho)``)."""
    m = as_sensing(model)
    prior = m._prior
    if isinstance(prior, Wishart):
        return WishartPrior(prior.kappa)
    lo, hi = min(m.d1, m.d2), max(m.d1, m.d2)
    return ProductPrior(hi / lo, prior.rho * m.d2 / lo)


def _constants(m: MatrixSensing) -> tuple[float, float]:
    """``(c, k)`` with ``delta_eff = (Delta + c mmse)/k``: (2, 4 alpha) or (1, alpha)."""
    return (2.0, 4.0 * m.alpha) if m.symmetric else (1.0, m.alpha)


def perfect_recovery_threshold(model) -> float:
    """Noiseless perfect-recovery threshold ``alpha_PR`` (number of degrees of freedom of the
    prior per measurement unit).

    * Wishart (quadratic network, MTM+24): ``kappa - kappa^2/2`` for ``kappa < 1``, else ``1/2``.
    * Product (BSR, ETB+24): ``min(1, r (d1 + d2 - r)/(d1 d2))`` with ``r`` capped at
      ``min(d1, d2)``; for ``d1 = beta D``, ``d2 = D``, ``r = rho D``:
      ``min(1, rho (1 + beta - rho)/beta)``.

    Parameters
    ----------
    model : MatrixSensing, QuadraticNetwork or BilinearSequenceRegression
        The model; only its prior (``kappa``, or ``rho`` and the aspect ratio) matters.

    Returns
    -------
    float
        ``alpha_PR``.

    Raises
    ------
    TypeError
        ``model`` is not a matrix-sensing model.

    Examples
    --------
    >>> import hdcore
    >>> perfect_recovery_threshold(hdcore.models.QuadraticNetwork(10, 0.5, 0.5))  # 1/2 - 1/8
    0.375

    References
    ----------
    Maillard, Troiani, Martin, Krzakala & Zdeborova, "Bayes-optimal learning of an extensive-width
    neural network from quadratically many samples", arXiv:2408.03733 (2024) (MTM+24). Erba,
    Troiani, Biggio, Maillard & Zdeborova, "Bilinear sequence regression", arXiv:2410.18858 (2024)
    (ETB+24). Xu, Maillard, Zdeborova & Krzakala, arXiv:2503.14121 (2025).
    """
    m = as_sensing(model)
    prior = m._prior
    if isinstance(prior, Wishart):
        k = prior.kappa
        return k - k * k / 2 if k < 1 else 0.5
    beta = m.d1 / m.d2
    rho = min(prior.rho, 1.0, beta)
    return min(1.0, rho * (1 + beta - rho) / beta)


def _residual(prior, delta_e, noise, c, k):
    return noise / c + prior.mmse(delta_e) - k / c * delta_e


def fixed_point(model, *, xtol: float = 1e-10) -> SensingFixedPoint:
    """Bayes-optimal error of ``model`` (``MatrixSensing``, ``QuadraticNetwork`` or
    ``BilinearSequenceRegression``; only its ratios matter).

    Solves ``Delta/c + mmse(delta) = (k/c) delta`` for the effective noise ``delta``
    (``c, k = 2, 4 alpha`` symmetric; ``1, alpha`` rectangular) by Brent's method in
    ``log delta``; without label noise and with ``mmse(delta)/delta < k/c`` down to
    :data:`DELTA_FLOOR`, the error is 0 (perfect recovery).
    """
    m = as_sensing(model)
    prior = limit_prior(m)
    c, k = _constants(m)
    var = prior.variance
    lo = DELTA_FLOOR * var
    hi = 2.0 * (m.noise / c + var) / (k / c) + 1e-12
    def f(t):
        return _residual(prior, np.exp(t), m.noise, c, k)

    alpha_pr = perfect_recovery_threshold(m)
    if f(np.log(lo)) <= 0:
        return SensingFixedPoint(mse=0.0, normalised_mse=0.0, q=prior.q0, q_hat=np.inf,
                                 delta_eff=0.0, alpha_pr=alpha_pr)
    t = brentq(f, np.log(lo), np.log(hi), xtol=xtol)
    de = float(np.exp(t))
    mse = float(prior.mmse(de))
    return SensingFixedPoint(mse=mse, normalised_mse=mse / var, q=prior.q0 - mse, q_hat=1.0 / de,
                             delta_eff=de, alpha_pr=alpha_pr)


def fixed_point_curve(model, alphas, *, progress: bool = False) -> dict[str, np.ndarray]:
    """:func:`fixed_point` over ``alphas`` (``model`` gives the other parameters).

    Parameters
    ----------
    model : MatrixSensing
        The other parameters (its ``alpha`` is replaced by each of ``alphas``).
    alphas : array_like
        Sample ratios.
    progress : bool
        Show a tqdm bar of the points on stderr.

    Returns
    -------
    dict of str to ndarray
        ``alpha``, ``mse``, ``normalised_mse``, ``delta_eff``.
    """
    progress = check_progress(progress)
    alphas = np.asarray(alphas, dtype=float).ravel()
    out = {"alpha": alphas, "mse": np.empty_like(alphas), "normalised_mse": np.empty_like(alphas),
           "delta_eff": np.empty_like(alphas)}
    for i, a in enumerate(track(alphas, progress, desc="fixed_point_curve")):
        fp = fixed_point(replace(model, alpha=float(a)))
        out["mse"][i], out["normalised_mse"][i], out["delta_eff"][i] = fp.mse, fp.normalised_mse, fp.delta_eff
    return out


def state_evolution(model, *, n_iter: int = 200, tol: float = 1e-12,
                    init_mse: float | None = None) -> SensingStateEvolution:
    """State evolution of (undamped) GAMP-RIE: ``delta^t = (Delta + c mse^{t-1})/k``,
    ``mse^t = mmse(delta^t)``, from ``mse^0`` = the prior variance (or ``init_mse``)."""
    m = as_sensing(model)
    prior = limit_prior(m)
    c, k = _constants(m)
    n_iter = check_int(n_iter, "n_iter", min=0)
    tol = check_real(tol, "tol", min=0.0)
    floor = DELTA_FLOOR * prior.variance

    def step(mse):
        de = (m.noise + c * mse) / k
        return (0.0 if de <= floor else float(prior.mmse(de))), de

    start = prior.variance if init_mse is None else check_real(init_mse, "init_mse", min=0.0)
    res = solve(step, float(start), tol=tol, max_iter=n_iter, raise_on_failure=False, trace=True,
                has_aux=True)
    assert res.aux_trace is not None  # trace=True, has_aux=True
    return SensingStateEvolution(mse=np.array(res.trace), delta_eff=np.array(res.aux_trace[:-1]),
                                 converged=res.converged)


def _mutual_information(prior, q_hat: float, n_nodes: int = 24) -> float:
    """``I(q_hat) = int_0^q_hat mmse(1/t) dt`` (I-MMSE; the caller applies the factor 1/4
    (symmetric) or 1/2 (rectangular))."""
    if q_hat <= 0:
        return 0.0
    # t = q_hat u^2 concentrates nodes near 0 where mmse(1/t) varies on the scale of q_hat
    u, w = np.polynomial.legendre.leggauss(n_nodes)
    u = 0.5 * (u + 1)
    w = 0.5 * w
    vals = np.array([prior.mmse(1.0 / (q_hat * ui * ui)) for ui in u])
    return float(np.sum(w * vals * 2 * u) * q_hat)


def free_entropy(model, q: float) -> float:
    """Replica-symmetric free entropy as a function of the overlap ``q`` (up to a constant),
    ``Phi(q) = Phi(q, q_hat(q))`` with ``q_hat`` the channel's response to ``q``.

    Symmetric: ``Phi = q_hat (Q0 - q)/4 - I(q_hat)/4 - (alpha/2) log(Delta/2 + Q0 - q)``,
    ``q_hat = 2 alpha/(Delta/2 + Q0 - q)``; rectangular: ``Phi = q_hat (1 - q)/2 - I(q_hat)/2
    - (alpha/2) log(Delta + 1 - q)``, ``q_hat = alpha/(Delta + 1 - q)``, with
    ``I(q_hat) = int_0^q_hat mmse(1/t) dt`` (I-MMSE). ``dPhi/dq`` vanishes exactly where
    ``q = Q0 - mmse(1/q_hat)``, so the maximiser is the fixed point; a unimodal ``Phi`` shows
    the fixed point is unique. [DERIVED from the fixed point and the I-MMSE relation; ETB+24
    write the rectangular one with log-potential integrals, equivalent up to a constant.]
    """
    m = as_sensing(model)
    prior = limit_prior(m)
    q = check_real(q, "q", min=-np.inf)
    q0 = prior.q0
    if not q < q0 + m.noise / (2 if m.symmetric else 1):
        raise ValueError(f"`q` must be below Q0 + noise/c = {q0}, got {q}")
    if m.symmetric:
        gap = m.noise / 2 + q0 - q
        q_hat = 2 * m.alpha / gap
        return q_hat * (q0 - q) / 4 - _mutual_information(prior, q_hat) / 4 - m.alpha / 2 * np.log(gap)
    gap = m.noise + q0 - q
    q_hat = m.alpha / gap
    return q_hat * (q0 - q) / 2 - _mutual_information(prior, q_hat) / 2 - m.alpha / 2 * np.log(gap)


# ---- baselines and limits --------------------------------------------------------------

def ridge_mse(alpha: float, noise: float = 0.0, lam: float | None = None) -> float:
    """Asymptotic MSE of ridge regression with an i.i.d. Gaussian design (entries
    ``N(0, 1/N)``, ``alpha = n/N``), a target with unit-variance entries and label noise
    ``noise`` (ETB+24 ridge baseline; here derived from the Marchenko-Pastur law of
    ``A^T A``: ``MSE = lam^2 m'(-lam) + noise (m(-lam) - lam m'(-lam))`` with
    ``m(z) = int dnu/(t - z)``).

    ``lam = None`` (or ``lam = noise``) is the Bayes-optimal linear estimator:
    ``MSE = (1 - alpha - noise + sqrt((alpha - 1)^2 + 2 (alpha + 1) noise + noise^2)) / 2``,
    ``1 - alpha`` noiselessly for ``alpha < 1``.
    """
    alpha = check_real(alpha, "alpha", min=0.0)
    noise = check_real(noise, "noise", min=0.0)
    if lam is None or (lam == noise and noise > 0):
        s = np.sqrt((alpha - 1) ** 2 + 2 * (alpha + 1) * noise + noise**2)
        return float((1 - alpha - noise + s) / 2)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    # MP law of A^T A (N x N) with n = alpha N rows of variance 1/N: ratio c = 1/alpha, mean alpha
    # m(z) solves z m^2 + (z + 1 - alpha) m + 1 = 0 scaled: use the explicit root at z = -lam.
    z = -lam

    def m_of(zz):
        b = zz + 1 - alpha
        disc = np.sqrt(b * b - 4 * zz)
        r1, r2 = (-b + disc) / (2 * zz), (-b - disc) / (2 * zz)
        return r1 if r1 > 0 else r2  # m(-lam) > 0 for a positive measure

    h = 1e-6 * lam
    m0 = m_of(z)
    dm = (m_of(z + h) - m_of(z - h)) / (2 * h)
    return float(lam * lam * dm + noise * (m0 - lam * dm))


def bsr_large_beta_mse(alpha: float, rho: float, noise: float = 0.0) -> float:
    """BSR error in the limit ``beta -> infinity`` (ETB+24 ``main.jl``, ``eqs_larbebeta``):
    ``q`` solves ``1 - q - d + (d/2)(sqrt(1 + rho((d + 2) rho d + 2 d + rho - 2)) - (rho - 1)
    - d rho) = 0`` with ``d = (1 + Delta - q)/alpha``; returns ``1 - q``. Noiselessly this is
    ``(1 - alpha)(1 - alpha/rho)`` for ``alpha < min(1, rho)`` and 0 above. [CODE]"""
    alpha = check_real(alpha, "alpha", min=0.0, min_inclusive=False)
    rho = check_real(rho, "rho", min=0.0, min_inclusive=False)
    noise = check_real(noise, "noise", min=0.0)

    def f(q):
        d = (1 + noise - q) / alpha
        root = np.sqrt(max(1 + rho * ((d + 2) * rho * d + 2 * d + rho - 2), 0.0))
        return 1 - q - d + d / 2 * (root - (rho - 1) - d * rho)

    hi = 1.0 + noise - 1e-14
    if f(hi - 1e-12) > 0:  # no interior root: perfect recovery (noiseless)
        return 0.0
    return float(1 - brentq(f, -1e-12, hi - 1e-12, xtol=1e-14))


def bsr_low_rank_mse(alpha_lr: float, beta: float, noise: float = 0.0, *, n_iter: int = 10000,
                     damping: float = 0.5, tol: float = 1e-13) -> float:
    """BSR error in the low-rank limit ``rho -> 0`` at fixed ``alpha_LR = alpha beta/(rho (1 +
    beta))`` (ETB+24 ``low_rank_solution``): the problem becomes rank-``r`` rectangular matrix
    estimation with Gaussian factors, whose factor overlaps are the BBP expressions (digest
    S11) at effective noise ``1/((1 + beta) q_hat)``::

        q_hat = alpha_LR / (Delta + 1 - g_a g_b)
        g_a = (1 - beta e^2)/(1 + e),  g_b = (1 - beta e^2)/(1 + beta e),  e = 1/((1+beta) q_hat)

    (clipped at 0 below the BBP threshold); returns ``1 - g_a g_b``. ``beta = inf`` gives the
    closed form ``q = (1 + Delta + alpha_LR - sqrt((alpha_LR - 1)^2 + 2 (alpha_LR + 1) Delta +
    Delta^2))/2``. [CODE + DERIVED consistency]"""
    a = check_real(alpha_lr, "alpha_lr", min=0.0)
    noise = check_real(noise, "noise", min=0.0)
    if beta == np.inf:
        s = np.sqrt((a - 1) ** 2 + 2 * (a + 1) * noise + noise**2)
        return float(1 - (1 + noise + a - s) / 2)
    beta = check_real(beta, "beta", min=0.0, min_inclusive=False)

    def step(q):
        qh = a / (noise + 1 - q)
        e = 1.0 / ((1 + beta) * qh) if qh > 0 else np.inf
        ga = max((1 - beta * e * e) / (1 + e), 0.0)
        gb = max((1 - beta * e * e) / (1 + beta * e), 0.0)
        return ga * gb

    res = solve(step, 0.5, damping=damping, tol=tol, max_iter=n_iter, raise_on_failure=False)
    return float(1 - res.x)


def quadratic_large_width_limit(alpha: float, sigma: float = 0.0) -> float:
    """Normalised error ``kappa x MMSE`` of the quadratic network as ``kappa -> infinity`` at
    fixed pre-activation noise ``sigma`` (``S - I`` becomes GOE-like, the RIE linear):
    ``epsilon = (2 - 4 alpha - s + sqrt((4 alpha + s - 2)^2 + 8 s))/4`` with
    ``s = 2 sigma^2 (2 + sigma^2)``; noiselessly ``1 - 2 alpha`` for ``alpha < 1/2``. [DERIVED]"""
    alpha = check_real(alpha, "alpha", min=0.0)
    sigma = check_real(sigma, "sigma", min=0.0)
    s = 2 * sigma**2 * (2 + sigma**2)
    b = 4 * alpha + s - 2
    return float((-b + np.sqrt(b * b + 8 * s)) / 4)
