"""Replica-symmetric theory of the ERM problems added in issue 22: the lasso / elastic net on a
linear-Gaussian teacher (compressed sensing), with the Donoho-Tanner line as its noiseless limit.

Model (the :class:`~hdcore.models.MultiIndex` normalisation): ``n = alpha d`` rows
``x_mu ~ N(0, I_d/d)``, a teacher ``w*`` with i.i.d. entries of ``E w*^2 = 1`` and
``y = X w* + sqrt(noise) xi``.

Lasso / elastic net
-------------------
``w = argmin (1/2) ||y - X w||^2 + lam1 ||w||_1 + (lam2/2) ||w||^2`` (:func:`lasso_fixed_point`
for ``lam2 = 0``, :func:`elastic_net_fixed_point` for ``lam2 > 0``). With the square loss the
output side is explicit (``V_hat = m_hat = alpha/(1 + V)``,
``q_hat = alpha (noise + 1 - 2 m + q)/(1 + V)^2``) and the input side is the soft threshold of
the scalar channel ``b = m_hat w* + sqrt(q_hat) xi``: ``w = soft(b, lam1)/(V_hat + lam2)`` (Bayati &
Montanari, IEEE Trans. Inf. Theory 58, 1997 (2012), Thm. 1.5 and Eq. (1.6), calibration in
their Eq. (1.8); Gerace et al. 2020 for the replica form)::

    m = E[w* w],   q = E[w^2],   V = P(|b| > lam1)/(V_hat + lam2)

For a Gaussian-mixture teacher with zero-mean components (``gauss_bernoulli``, ``gaussian``)
every expectation is a closed form in ``Phi``: for ``u ~ N(0, s^2)`` and ``t = lam1/s``,
``P(|u| > lam1) = 2 Phi(-t)``, ``E[u soft(u)] = 2 s^2 Phi(-t)`` and
``E[soft(u)^2] = 2((s^2 + lam1^2) Phi(-t) - lam1 s phi(t))``.
Errors: ``estimation_error = 1 - 2 m + q`` (per-entry MSE of ``w``) and
``generalisation_error = noise + 1 - 2 m + q`` (squared error on a fresh label).

Noiseless limit ``lam1 -> 0`` (basis pursuit): ``w*`` is recovered exactly above the
Donoho-Tanner line, ``k/n < rho_DT(delta)`` with ``delta = alpha`` and
``rho_DT(delta) = max_z [1 - (2/delta)((1 + z^2) Phi(-z) - z phi(z))] /
[1 + z^2 - 2((1 + z^2) Phi(-z) - z phi(z))]`` (Donoho, Maleki & Montanari, PNAS 106, 18914
(2009), Eq. (2.3) for the sign-symmetric case, which is also the weak polytope threshold of
Donoho & Tanner 2009).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import ndtr

from hdcore._validation import check_real
from hdcore.ingredients.priors import get_prior
from hdcore.theory.fixed_point import OutOfDomain, solve, solve_many

__all__ = ["LassoFixedPoint", "lasso_fixed_point", "elastic_net_fixed_point", "donoho_tanner_rho",
           "donoho_tanner_alpha"]

_PHI0 = 1.0 / np.sqrt(2.0 * np.pi)


def _npdf(t):
    return _PHI0 * np.exp(-0.5 * t * t)


def _zero_mean_components(prior):
    comps = prior._components() if hasattr(prior, "_components") else None
    if prior.name == "gaussian":
        comps = (np.ones(1), np.zeros(1), np.ones(1))
    if comps is None or np.any(np.asarray(comps[1]) != 0):
        raise ValueError(f"`prior`: the lasso theory needs a zero-mean Gaussian-mixture teacher "
                         f"('gaussian', 'gauss_bernoulli(rho)', centred mixtures), got {prior!r}")
    w, _, v = (np.asarray(c, dtype=np.float64) for c in comps)
    return w, v


@dataclass(frozen=True)
class LassoFixedPoint:
    """A replica fixed point of the lasso / elastic net (module docs).

    Attributes
    ----------
    m, q, V : float
        Overlaps ``<w, w*>/d``, ``||w||^2/d`` and the response ``V``.
    m_hat, q_hat, V_hat : float
        Conjugates.
    estimation_error, generalisation_error : float
        ``1 - 2m + q`` and ``noise + 1 - 2m + q``.
    sparsity : float
        Fraction of non-zero entries of ``w``, ``P(|b| > lam1)``.
    converged : bool
    n_iter : int
    lam1, kappa, tau2 : float
        The penalty, the threshold in units of ``tau`` and the effective noise ``tau^2``
        (for the elastic net: ``tau^2 = q_hat/m_hat^2``, threshold ``lam1/m_hat``).
    lam2 : float
        The ridge (0 for the lasso).
    """

    m: float
    q: float
    V: float
    m_hat: float
    q_hat: float
    V_hat: float
    estimation_error: float
    generalisation_error: float
    sparsity: float
    converged: bool
    n_iter: int
    lam1: float = float("nan")
    kappa: float = float("nan")
    tau2: float = float("nan")
    lam2: float = 0.0


class _SoftThresholdChannel:
    """Moments of ``eta(u; theta) = soft(u, theta)`` with ``u = w* + tau z`` for a zero-mean
    Gaussian-mixture ``w*`` (``w*`` in component ``k``: ``N(0, v_k)``, ``u ~ N(0, v_k + tau^2)``,
    ``E[w* | u] = v_k u/(v_k + tau^2)``)."""

    def __init__(self, prior):
        self.w, self.v = _zero_mean_components(get_prior(prior))

    def moments(self, tau2, theta):
        """``(m, q, P)`` = ``E[w* eta]``, ``E[eta^2]``, ``P(eta != 0)`` (elementwise in
        ``tau2`` and ``theta``)."""
        tau2 = np.asarray(tau2, dtype=np.float64)[..., None]
        theta = np.asarray(theta, dtype=np.float64)[..., None]
        s2 = self.v + tau2
        s = np.sqrt(s2)
        t = theta / s
        tail = ndtr(-t)
        m = np.sum(self.w * self.v * 2.0 * tail, axis=-1)
        q = np.sum(self.w * 2.0 * ((s2 + theta**2) * tail - theta * s * _npdf(t)), axis=-1)
        P = np.sum(self.w * 2.0 * tail, axis=-1)
        if m.ndim == 0:
            return float(m), float(q), float(P)
        return m, q, P

    def scan(self, alpha, noise, kappas, n_iter=3000, t2=None):
        """``lam1(kappa)`` on a grid of ``kappa`` (vectorised plain iteration of ``tau^2``);
        with ``t2`` given, also returns the ``tau^2`` reached."""
        kappas = np.asarray(kappas, dtype=np.float64)
        want_t2 = t2 is not None
        t2 = np.full(kappas.shape, (noise + 1.0) / alpha) if t2 is None else np.array(t2, dtype=np.float64)

        def step(t2, i):
            m, q, _ = self.moments(t2, kappas.ravel()[i] * np.sqrt(t2))
            return np.minimum((noise + 1.0 - 2.0 * m + q) / alpha, 1e8)

        # converged, or diverging (no fixed point: off the calibration branch; capped at 1e8)
        t2 = solve_many(step, t2, tol=1e-12, max_iter=n_iter, scale=lambda t: np.maximum(t, 1e-12),
                        stop=lambda t: t >= 1e8).x
        _, _, P = self.moments(t2, kappas * np.sqrt(t2))
        lam = kappas * np.sqrt(t2) * (alpha - P)
        return (lam, t2) if want_t2 else lam

    def tau2(self, alpha, noise, kappa, tol, max_iter, start=None):
        """Fixed point of ``tau^2 = (noise + E(tau, kappa tau))/alpha`` (Bayati & Montanari
        2012, Eq. (1.6)), iterated from ``tau^2 = (noise + 1)/alpha`` (its stable fixed point)."""
        def step(t2):
            m, q, _ = self.moments(t2, kappa * np.sqrt(t2))
            return (noise + 1.0 - 2.0 * m + q) / alpha

        def domain(t2):
            return None if t2 > 0 else "tau^2 must be positive"
        res = solve(step, (noise + 1.0) / alpha if start is None else start, tol=tol, max_iter=max_iter,
                    domain=domain, scale=lambda t2: max(abs(t2), 1e-12), raise_on_failure=False)
        return float(res.x), res


def _lasso_from_kappa(ch, alpha, noise, kappa, tol, max_iter):
    # a fast vectorised warm-up, then the engine from there
    from hdcore.errors import ConvergenceError

    _, t0 = ch.scan(alpha, noise, np.array([kappa]), n_iter=max_iter, t2=[(noise + 1.0) / alpha])
    if t0[0] >= 1e8:
        raise ConvergenceError(f"lasso: tau^2 diverges at kappa = {kappa:.6g} (no fixed point: "
                               "the threshold is below the calibration branch)")
    tau2, res = ch.tau2(alpha, noise, kappa, tol, max_iter, start=float(t0[0]))
    m, q, P = ch.moments(tau2, kappa * np.sqrt(tau2))
    lam = kappa * np.sqrt(tau2) * (alpha - P)
    return lam, tau2, m, q, P, res


def lasso_fixed_point(alpha: float, prior="gauss_bernoulli(0.1)", *, lam1: float | None = None,
                      kappa: float | None = None, noise: float = 0.0, tol: float = 1e-11,
                      max_iter: int = 20000) -> LassoFixedPoint:
    """Replica fixed point of the lasso ``(1/2)||y - X w||^2 + lam1 ||w||_1``.

    Solved in the threshold calibration of Bayati & Montanari: for a threshold
    ``theta = kappa tau`` the effective noise solves ``tau^2 = (noise + E)/alpha`` (a stable
    scalar iteration) and the penalty is ``lam1 = kappa tau (alpha - P)``; a given ``lam1`` is
    matched by Brent's method in ``kappa`` on the branch where ``lam1(kappa)`` increases.

    Parameters
    ----------
    alpha : float
        ``n/d``.
    prior : Prior or str
        Teacher prior (zero-mean Gaussian mixture: ``gauss_bernoulli(rho)``, ``gaussian``).
    lam1 : float, optional
        The l1 penalty (``> 0``).
    kappa : float, optional
        Alternatively, the threshold in units of the effective noise ``tau`` (exactly one of
        ``lam1`` and ``kappa``).
    noise : float
        Label-noise variance.
    tol, max_iter : float, int
        Of the inner fixed point (:func:`hdcore.theory.fixed_point.solve`).

    Returns
    -------
    LassoFixedPoint

    Raises
    ------
    hdcore.ConvergenceError
        The inner iteration did not converge.
    ValueError
        ``lam1`` is out of the range reached on the calibration branch.

    References
    ----------
    Bayati & Montanari, IEEE Trans. Inf. Theory 58 (2012), Thm. 1.5, Eqs. (1.6), (1.8).
    """
    from hdcore.errors import ConvergenceError

    alpha = check_real(alpha, "alpha", min=0.0, min_inclusive=False)
    noise = check_real(noise, "noise", min=0.0)
    if (lam1 is None) == (kappa is None):
        raise ValueError("give exactly one of `lam1` and `kappa`")
    ch = _SoftThresholdChannel(prior)
    if kappa is None:
        lam1 = check_real(lam1, "lam1", min=0.0, min_inclusive=False)
        ks = np.geomspace(1e-3, 12.0, 60)
        lams = ch.scan(alpha, noise, ks)
        # the calibration branch: kappa above the last point where lam1(kappa) <= 0 / decreases
        good = np.concatenate([[False], (lams[1:] > lams[:-1]) & (lams[1:] > 0)])
        if not good[-1]:
            raise ValueError("`lam1`: no calibration branch found")
        bad = np.flatnonzero(~good)
        seg = np.arange(bad[-1], ks.size)  # the last increasing run, up to large kappa
        hit = np.flatnonzero(lams[seg] >= lam1)
        if hit.size == 0 or seg[hit[0]] == 0:
            raise ValueError(f"`lam1` = {lam1} is outside the range of the calibration branch "
                             f"[{lams[seg].min():.3g}, {lams[seg].max():.3g}]")
        k1 = seg[hit[0]]
        kappa = brentq(lambda k: float(ch.scan(alpha, noise, np.array([k]), n_iter=max_iter)[0]) - lam1,
                       ks[k1 - 1], ks[k1], xtol=1e-14, rtol=1e-13)
    kappa = check_real(kappa, "kappa", min=0.0, min_inclusive=False)
    lam, tau2, m, q, P, res = _lasso_from_kappa(ch, alpha, noise, kappa, tol, max_iter)
    if not res.converged:
        raise ConvergenceError(f"lasso fixed point at kappa = {kappa:.6g}: {res.reason}")
    if P >= alpha:
        raise ValueError(f"`kappa` = {kappa:.6g} is below the calibration branch (P >= alpha)")
    V = P / (alpha - P)
    vhat = alpha - P
    err = 1.0 - 2.0 * m + q
    return LassoFixedPoint(m=m, q=q, V=float(V), m_hat=float(vhat),
                           q_hat=float(alpha * (noise + err) / (1 + V) ** 2), V_hat=float(vhat),
                           estimation_error=float(err), generalisation_error=float(noise + err),
                           sparsity=P, converged=True, n_iter=res.n_iter, lam1=float(lam),
                           kappa=float(kappa), tau2=tau2)


def donoho_tanner_rho(delta: float) -> float:
    """``rho_DT(delta)``: largest ``k/n`` at undersampling ``delta = n/d`` for which l1
    minimisation recovers a sparse vector with symmetric signs (module docs).

    Parameters
    ----------
    delta : float
        Undersampling ratio ``n/d`` in ``(0, 1]``.

    Returns
    -------
    float
        ``rho_DT(delta)``.

    Raises
    ------
    TypeError
        ``delta`` is not a real number.
    ValueError
        ``delta`` outside ``(0, 1]`` or not finite.

    Examples
    --------
    >>> round(donoho_tanner_rho(0.5), 4)
    0.3857

    References
    ----------
    Donoho & Tanner, "Counting faces of randomly projected polytopes when the projection radically
    lowers dimension", J. Amer. Math. Soc. 22 (2009). Donoho, Maleki & Montanari,
    "Message-passing algorithms for compressed sensing", PNAS 106 (2009), arXiv:0907.3574.
    """
    delta = check_real(delta, "delta", min=0.0, max=1.0, min_inclusive=False)

    def neg(z):
        g = (1 + z * z) * ndtr(-z) - z * _npdf(z)
        return -(1 - 2 * g / delta) / (1 + z * z - 2 * g)

    res = minimize_scalar(neg, bounds=(1e-9, 12.0), method="bounded", options={"xatol": 1e-12})
    return float(-res.fun)


def donoho_tanner_alpha(rho: float) -> float:
    """Critical ``alpha = n/d`` of basis pursuit for a teacher with a fraction ``rho`` of
    non-zeros: the root of ``rho/alpha = rho_DT(alpha)``.

    Parameters
    ----------
    rho : float
        Fraction of non-zero entries of the teacher, in ``(0, 1)``.

    Returns
    -------
    float
        The critical ``alpha`` in ``(rho, 1)``.

    Raises
    ------
    TypeError
        ``rho`` is not a real number.
    ValueError
        ``rho`` outside ``(0, 1)`` or not finite.

    Examples
    --------
    >>> a = donoho_tanner_alpha(0.1)
    >>> abs(0.1 / a - donoho_tanner_rho(a)) < 1e-9
    True

    References
    ----------
    Donoho & Tanner, "Counting faces of randomly projected polytopes when the projection radically
    lowers dimension", J. Amer. Math. Soc. 22 (2009). Donoho, Maleki & Montanari,
    "Message-passing algorithms for compressed sensing", PNAS 106 (2009), arXiv:0907.3574.
    """
    rho = check_real(rho, "rho", min=0.0, max=1.0, min_inclusive=False, max_inclusive=False)
    return float(brentq(lambda a: rho / a - donoho_tanner_rho(a), rho * (1 + 1e-9), 1 - 1e-9,
                        xtol=1e-12))


def elastic_net_fixed_point(alpha: float, prior="gauss_bernoulli(0.1)", *, lam1: float, lam2: float,
                            noise: float = 0.0, init=None, tol: float = 1e-12,
                            max_iter: int = 20000) -> LassoFixedPoint:
    """Replica fixed point of the elastic net ``(1/2)||y - X w||^2 + lam1 ||w||_1 + (lam2/2)||w||^2``.

    The (module-docs) equations iterated on ``(m, q, V)`` by
    :func:`hdcore.theory.fixed_point.solve`: the square loss gives
    ``V_hat = m_hat = alpha/(1 + V)``, ``q_hat = alpha (noise + 1 - 2m + q)/(1 + V)^2``, and the
    input side is ``w = soft(b, lam1)/(V_hat + lam2)`` with ``b = m_hat w* + sqrt(q_hat) xi``,
    i.e. ``m_hat/(V_hat + lam2)`` times the soft threshold of ``u = w* + tau xi`` at
    ``theta = lam1/m_hat`` (``tau^2 = q_hat/m_hat^2``)::

        m = m_hat E[w* eta(u; theta)]/(V_hat + lam2),  q = m_hat^2 E[eta^2]/(V_hat + lam2)^2,
        V = P(eta != 0)/(V_hat + lam2)

    (Bayati & Montanari 2012 with the ridge added to the denominator; at ``lam1 = 0`` these are
    the ridge equations of :func:`hdcore.theory.ridge_closed_form`, at ``lam2 -> 0`` the lasso
    of :func:`lasso_fixed_point`.)

    Parameters
    ----------
    alpha : float
        ``n/d``.
    prior : Prior or str
        Zero-mean Gaussian-mixture teacher (``gauss_bernoulli(rho)``, ``gaussian``).
    lam1 : float
        l1 penalty, ``>= 0``.
    lam2 : float
        Ridge, ``> 0`` (for ``lam2 = 0`` use :func:`lasso_fixed_point`, whose calibration
        handles ``alpha < 1``).
    noise : float
        Label-noise variance.
    init : (m, q, V), optional
        Start; default ``(0.5, 0.5, 1/(alpha + lam2))``.
    tol, max_iter : float, int
        Of :func:`hdcore.theory.fixed_point.solve` (relative tolerance).

    Returns
    -------
    LassoFixedPoint

    Raises
    ------
    hdcore.ConvergenceError
        The iteration did not converge.
    """
    from hdcore.errors import ConvergenceError

    alpha = check_real(alpha, "alpha", min=0.0, min_inclusive=False)
    lam1 = check_real(lam1, "lam1", min=0.0)
    lam2 = check_real(lam2, "lam2", min=0.0, min_inclusive=False)
    noise = check_real(noise, "noise", min=0.0)
    ch = _SoftThresholdChannel(prior)

    def hats(x):
        m, q, V = x
        if not (V > 0 and q >= 0):
            raise OutOfDomain(f"V = {V}, q = {q} out of the domain")
        vh = alpha / (1.0 + V)
        qh = alpha * (noise + 1.0 - 2.0 * m + q) / (1.0 + V) ** 2
        return vh, qh

    def step(x):
        vh, qh = hats(x)
        t2 = max(qh, 1e-300) / vh**2
        em, eq, P = ch.moments(t2, lam1 / vh)
        den = vh + lam2
        return np.array([vh * em / den, vh * vh * eq / den**2, P / den])

    x0 = np.array([0.5, 0.5, 1.0 / (alpha + lam2)] if init is None else [float(v) for v in init])
    res = solve(step, x0, anderson=3, damping=0.3, tol=tol, max_iter=max_iter,
                scale=lambda x: np.maximum(np.abs(x), 1e-12), raise_on_failure=False)
    if not res.converged:
        raise ConvergenceError(f"elastic net fixed point (lam1 = {lam1}, lam2 = {lam2}): {res.reason}")
    m, q, V = (float(v) for v in res.x)
    vh, qh = hats(res.x)
    t2 = qh / vh**2
    _, _, P = ch.moments(t2, lam1 / vh)
    err = 1.0 - 2.0 * m + q
    return LassoFixedPoint(m=m, q=q, V=V, m_hat=float(vh), q_hat=float(qh), V_hat=float(vh),
                           estimation_error=err, generalisation_error=noise + err, sparsity=float(P),
                           converged=True, n_iter=res.n_iter, lam1=lam1,
                           kappa=lam1 / (vh * math.sqrt(t2)) if t2 > 0 else math.inf, tau2=float(t2),
                           lam2=lam2)
