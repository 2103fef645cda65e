"""Sharp asymptotics of weight-decay ERM in over-parametrised quadratic networks: the nuclear route
(Erba, Troiani, Zdeborova & Krzakala 2025, arXiv:2505.17958, "ETZK25").

The model and the convex problem
--------------------------------
The teacher is :class:`~hdcore.models.QuadraticNetwork` (or the symmetric quadratic-sensing
:class:`~hdcore.models.MatrixSensing` with the ``Wishart(kappa*)`` prior): in hdcore's sensing
units (:mod:`hdcore.models.matrix_sensing`) ``y_mu = Tr(X_mu S*)/sqrt(d) + sqrt(Delta) xi_mu``,
``X_mu = x_mu x_mu^T - I``, ``S* = W*^T W*/m*`` (Marchenko-Pastur spectrum, ``Q0 = 1 + 1/kappa*``),
``n = alpha d^2``. A student network of width ``m >= d`` trained with weight decay reaches every PSD
``S = W^T W/m``, and its ERM is the convex problem (ETZK25 Sec. 2)::

    S_hat = argmin_{S PSD}  1/2 sum_mu (y_mu - Tr(X_mu S)/sqrt(d))^2 + lam d Tr S          (1)

hdcore's ``lam`` is this dimensionless penalty. The same minimiser is computed by

* :func:`hdcore.algorithms.nuclear_norm` with ``lam = lam * d`` (its raw penalty), ``psd=True``;
* :func:`hdcore.algorithms.factorised_gd` with ``weight_decay = lam / (2 alpha)`` and any width
  ``m >= rank(S_hat)`` (its objective is ``(1/2n) sum r^2 + weight_decay ||W||_F^2 field_gain /
  (m n)`` with ``field_gain = 2 alpha d`` and ``||W||_F^2 = m Tr S``).

The state evolution in the normalisation of the reconstruction of digest 03 (Frobenius-orthonormal
GOE sensing, ``Var <G, S> = ||S||_F^2``) maps to hdcore's (``Var Tr(X S) = 2 ||S||_F^2``) by
``y_hdcore = sqrt(2) y_recon``: ``Delta_recon = Delta / 2`` and ``lam_recon = lam / 2``.

The fixed point (derived here; ETZK25 Sec. 3 obtain it by GAMP and Gaussian universality)
--------------------------------------------------------------------------------------------
Writing (1) as a linear regression on the ``p = d(d+1)/2`` orthonormal coordinates of ``S``
(``delta = n/p = 2 alpha``), the standard convex-GAMP fixed point (Bayati & Montanari 2012,
Thm. 1.5; Thrampoulidis, Abbasi & Hassibi 2018) reads, in hdcore units:

* the estimator is a spectral soft threshold of an effective observation
  ``Y = S* + sigma Z`` (``Z`` GOE, semicircle on ``[-2, 2]``, so ``Y`` has the spectrum
  ``rho_Y = MP(kappa*) (+) SC(sigma^2)``, :class:`~hdcore.rmt.MPSemicircle`):
  ``S_hat = eta(Y)``, ``eta(x) = (x - theta)_+`` on the eigenvalues;
* the normalised divergence of the spectral map::

      D(sigma, theta) = iint (eta(x) - eta(y))/(x - y) rho_Y(x) rho_Y(y) dx dy
                      = 2 int eta(x) rho_Y(x) H(x) dx,    H(x) = P.V. int rho_Y(t)/(x - t) dt   (2)

  (``D = 1`` for the identity, ``0`` for ``eta = 0``);
* the error of the denoiser by Stein's identity::

      MSE(sigma, theta) = int min(x, theta)^2 rho_Y(x) dx + sigma^2 (2 D - 1)                  (3)

* the two fixed-point equations::

      sigma^2 = (Delta/2 + MSE) / (2 alpha),        lam = theta (2 alpha - D)                 (4)

* train error (mean squared residual) ``(Delta + 2 MSE)(1 - D/(2 alpha))^2``, test error
  ``E_x (f*(x) - f_hat(x))^2 = 2 MSE`` (noiseless test labels, sensing units; times ``kappa*`` in
  the network units ``y_net = sqrt(kappa*) y``), rank fraction ``P_{rho_Y}(x > theta)`` (the
  fraction of non-zero eigenvalues of ``S_hat``: a width-``kappa`` network reaches the convex
  optimum iff ``kappa >= rank_fraction``).

At ``lam -> 0+`` (minimal-trace interpolation) the second equation of (4) becomes ``D = 2 alpha``
when that has a root ``theta >= 0`` (interpolating regime, zero train error) and ``theta = 0``
otherwise (PSD least squares).

Solving
-------
Plain iteration of (4) diverges at small ``alpha`` (digest 03 Sec. 3.3): at fixed ``sigma`` the
second equation is solved for ``theta`` by Brent's method (``theta (2 alpha - D)`` increases past
its last zero), then the first one for ``sigma^2`` by Brent's method in ``log sigma^2``. The
integrals (2)-(3) use Gauss-Legendre rules on each support interval of ``rho_Y``, split at
``theta`` (cosine map at the edges, so that the square-root edges are integrated exactly).
:func:`quadratic_erm_state_evolution` iterates the GAMP state evolution instead (the prediction,
iterate by iterate, of :func:`hdcore.algorithms.nuclear_norm_gamp`).

Thresholds (``lam -> 0+``, derived from conic statistical dimensions; Amelunxen, Lotz, McCoy &
Tropp 2014, Thm. II and Prop. 4.5)
------------------------------------------------------------------------------------------------
* Bayes-optimal perfect recovery ``alpha_BO = kappa* - kappa*^2/2`` (:func:`~hdcore.theory.
  matrix_sensing.perfect_recovery_threshold`);
* exact recovery by minimal-trace PSD interpolation (noiseless): the statistical dimension of the
  descent cone of ``Tr`` on the PSD cone at ``S*``::

      alpha_SR = kappa* - kappa*^2/2 + inf_{t >= 0} [ kappa*(1 - kappa*) t^2/2
                                                      + (1 - kappa*)^2/2 int (x - t)_+^2 dsc(x) ]

* interpolation of vanishing label noise: the statistical dimension of the tangent cone of the
  PSD cone at ``S*``, ``alpha_inter = kappa* - kappa*^2/2 + (1 - kappa*)^2/4``; with label noise
  ``Delta > 0`` the interpolation threshold of (4) lies below it and tends to the ellipsoid-
  fitting value ``1/4`` as ``Delta -> infinity`` (:func:`interpolation_threshold`).

All three equal ``1/2`` for ``kappa* >= 1``, and ``alpha_BO < alpha_SR < alpha_inter`` for
``0 < kappa* < 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from hdcore import _core
from hdcore._progress import check_progress, track
from hdcore._results import Result
from hdcore._validation import check_int, check_real
from hdcore.errors import ConvergenceError
from hdcore.models.matrix_sensing import MatrixSensing, Wishart, as_sensing
from hdcore.rmt.laws import Semicircle

__all__ = [
    "QuadraticERMFixedPoint",
    "QuadraticERMStateEvolution",
    "QuadraticERMThresholds",
    "interpolation_threshold",
    "quadratic_erm",
    "quadratic_erm_curve",
    "quadratic_erm_state_evolution",
    "quadratic_erm_thresholds",
    "spectral_terms",
]

#: relative curvature (in the cosine variable) of the density above which a support interval is
#: cut at its shoulder
SHOULDER = 2.0

#: effective noise below which the noiseless problem counts as exactly recovered (times Q0)
SIGMA2_FLOOR = 1e-10


# ---- the spectral integrals (2)-(3) ------------------------------------------------------------

@dataclass(frozen=True)
class _Law:
    """``rho_Y = MP(kappa) (+) SC(sigma2)`` (``kappa = None``: ``S* = 0``, ``rho_Y = SC(sigma2)``)."""

    kappa: float | None
    sigma2: float

    def _core_args(self) -> tuple[str, list[float]]:
        if self.kappa is None:
            return "semicircle", [self.sigma2]
        return "mp_semicircle", [self.kappa, self.sigma2]

    def support(self) -> list[tuple[float, float]]:
        kind, params = self._core_args()
        return [(float(a), float(b)) for a, b in _core.rmt_support(kind, params)]

    def pieces(self) -> list[tuple[float, float]]:
        """The support intervals, cut at the interior minima of the density (the near-cusps
        where two bands are about to merge), so that a cosine-mapped rule on each piece
        resolves them."""
        return list(_pieces_of(self.kappa, self.sigma2))

    def density_hilbert(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kind, params = self._core_args()
        re, im = _core.rmt_stieltjes(kind, params, np.ascontiguousarray(x), np.zeros_like(x), 1)
        return np.maximum(-im / np.pi, 0.0), re


@lru_cache(maxsize=512)
def _pieces_of(kappa: float | None, sigma2: float) -> tuple[tuple[float, float], ...]:
    """Support intervals cut at the points of largest curvature of the density (the shoulder
    left where two bands have just merged), found on a grid of the cosine variable."""
    law = _Law(kappa, sigma2)
    out = []
    phi = np.linspace(0.0, np.pi, 513)[1:-1]
    for a, b in law.support():
        x = a + (b - a) * (1.0 - np.cos(phi)) / 2.0
        rho, _ = law.density_hilbert(x)
        # second differences in the cosine variable (where square-root edges are linear),
        # relative to the density scale: a shoulder stands out, the edges do not
        d2 = np.abs(np.diff(rho, 2)) / max(float(rho.max()), 1e-300) * (phi.size / np.pi) ** 2
        i = int(np.argmax(d2))
        cuts = [a, float(x[i + 1]), b] if d2[i] > SHOULDER else [a, b]
        out += list(zip(cuts[:-1], cuts[1:]))
    return tuple(out)


_NODES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n not in _NODES:
        t, w = np.polynomial.legendre.leggauss(n)
        phi = 0.5 * np.pi * (t + 1.0)
        _NODES[n] = ((1.0 - np.cos(phi)) / 2.0, w * 0.25 * np.pi * np.sin(phi))
    return _NODES[n]


def _pieces(support, theta, n):
    """Nodes, weights and a flag ``above theta`` of a rule on each support interval split at
    ``theta`` (cosine map on each piece)."""
    u, wu = _rule(n)
    xs, ws, up = [], [], []
    for a, b in support:
        cuts = [a, b] if not a < theta < b else [a, theta, b]
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            xs.append(lo + (hi - lo) * u)
            ws.append((hi - lo) * wu)
            up.append(np.full(n, lo >= theta))
    return np.concatenate(xs), np.concatenate(ws), np.concatenate(up)


def spectral_terms(kappa: float | None, sigma2: float, theta: float, *,
                   n_nodes: int = 48) -> dict[str, float]:
    """The integrals of the soft-threshold denoiser ``eta(x) = (x - theta)_+`` on
    ``rho_Y = MP(kappa) (+) SC(sigma2)``.

    Parameters
    ----------
    kappa : float or None
        Teacher width ratio ``kappa*`` (``None``: pure noise, ``S* = 0``).
    sigma2 : float
        Variance of the effective GOE noise (``> 0``).
    theta : float
        Threshold.
    n_nodes : int
        Gauss-Legendre nodes per piece of the support.

    Returns
    -------
    dict
        ``divergence`` (``D``, Eq. (2)), ``mse`` (Eq. (3)), ``rank_fraction``
        (``P(x > theta)``), ``below`` (``int min(x, theta)^2 rho_Y``) and ``second_moment``.

    Examples
    --------
    >>> from hdcore.theory.quadratic_network_erm import spectral_terms
    >>> t = spectral_terms(None, 1.0, -10.0)        # eta = x + 10 on the semicircle: D = 1
    >>> round(t["divergence"], 10), round(t["mse"], 8)
    (1.0, 101.0)
    """
    sigma2 = check_real(sigma2, "sigma2", min=0.0, min_inclusive=False)
    theta = check_real(theta, "theta")
    n_nodes = check_int(n_nodes, "n_nodes", min=4)
    law = _Law(None if kappa is None else check_real(kappa, "kappa", min=0.0, min_inclusive=False),
               sigma2)
    x, w, up = _pieces(law.pieces(), theta, n_nodes)
    rho, h = law.density_hilbert(x)
    wr = w * rho
    eta = np.where(up, x - theta, 0.0)
    div = 2.0 * float(np.sum(wr * eta * h))
    below = float(np.sum(wr * np.minimum(x, theta) ** 2))
    return {"divergence": div, "mse": below + sigma2 * (2.0 * div - 1.0),
            "rank_fraction": float(np.sum(wr[up])), "below": below,
            "second_moment": float(np.sum(wr * x * x)),
            "ddivergence": -2.0 * float(np.sum((wr * h)[up]))}


# ---- the fixed point (4) -----------------------------------------------------------------------

@dataclass(frozen=True)
class QuadraticERMFixedPoint(Result):
    """Sharp asymptotics of the minimiser of (1).

    Attributes
    ----------
    mse : float
        ``lim ||S_hat - S*||_F^2 / d``.
    test_error : float
        ``E_x (f*(x) - f_hat(x))^2 = 2 mse`` (sensing units, noiseless test labels).
    train_error : float
        ``lim (1/n) sum_mu (y_mu - Tr(X_mu S_hat)/sqrt(d))^2``.
    rank_fraction : float
        ``rank(S_hat)/d``: the smallest student width ratio that reaches this minimiser. At
        ``lam = 0`` with exact recovery it is the rank ``min(kappa, 1)`` of ``S*``; the limit of
        the rank fraction as ``lam -> 0+`` is larger there (small eigenvalues that vanish with
        ``lam``; docs/quadratic_erm.md).
    sigma2 : float
        Variance of the effective noise of ``Y = S* + sigma Z``.
    theta : float
        Spectral threshold.
    divergence : float
        ``D`` of Eq. (2).
    variance : float
        GAMP's output variance ``V = D/(2 alpha - D)`` (``inf`` when interpolating at ``lam = 0``).
    interpolating : bool
        Zero train error (only at ``lam = 0``).
    exact_recovery : bool
        ``mse = 0`` (noiseless, above the exact-recovery threshold).
    width_sufficient : bool
        ``width is None`` or ``width >= rank_fraction`` (the theory describes a width-``width``
        network only then).
    alpha, lam, noise, kappa : float
        The parameters (``noise`` is ``Delta`` in sensing units).
    """

    mse: float
    test_error: float
    train_error: float
    rank_fraction: float
    sigma2: float
    theta: float
    divergence: float
    variance: float
    interpolating: bool
    exact_recovery: bool
    width_sufficient: bool
    alpha: float
    lam: float
    noise: float
    kappa: float


def _model(model) -> MatrixSensing:
    m = as_sensing(model)
    if not (m.symmetric and isinstance(m._prior, Wishart)):
        raise ValueError("`model` must be a QuadraticNetwork or a symmetric MatrixSensing with a "
                         "Wishart prior")
    return m


def _kappa(m: MatrixSensing) -> float:
    prior = m._prior
    assert isinstance(prior, Wishart)  # checked by _model
    return float(prior.kappa)


def _root(fun, lo: float, hi: float, x0: float | None, xtol: float = 1e-13) -> float:
    """Root of an increasing ``fun`` (returning value and derivative) in ``[lo, hi]``
    (``fun(lo) < 0 < fun(hi)``): Newton steps, bisection when a step leaves the bracket."""
    x = 0.5 * (lo + hi) if x0 is None or not lo < x0 < hi else x0
    for _ in range(100):
        f, df = fun(x)
        if f == 0.0:
            return x
        if f < 0:
            lo = x
        else:
            hi = x
        step = f / df if df > 0 else np.inf
        new = x - step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - x) < xtol * (1.0 + abs(x)) or hi - lo < xtol * (1.0 + abs(x)):
            return new
        x = new
    raise ConvergenceError("quadratic_erm: the threshold equation did not converge")


def _theta(kappa, s2, alpha, lam, n_nodes, x0=None) -> float:
    """Solve ``lam = theta (2 alpha - D(sigma, theta))`` for ``theta >= 0`` (largest root at
    ``lam = 0``): ``theta (2 alpha - D)`` increases past its last zero, and ``D`` decreases."""
    def terms(t):
        return spectral_terms(kappa, s2, t, n_nodes=n_nodes)

    top = max(b for _, b in _Law(kappa, s2).support())
    if lam == 0.0:
        if terms(0.0)["divergence"] <= 2.0 * alpha:
            return 0.0

        def g(t):  # 2 alpha - D, increasing
            tt = terms(t)
            return 2.0 * alpha - tt["divergence"], -tt["ddivergence"]

        return _root(g, 0.0, top, x0)

    def f(t):
        tt = terms(t)
        return (t * (2.0 * alpha - tt["divergence"]) - lam,
                2.0 * alpha - tt["divergence"] - t * tt["ddivergence"])

    hi = max(top, lam / (2.0 * alpha))
    while f(hi)[0] <= 0:
        hi *= 2.0
    # below the last zero of 2 alpha - D the function is negative: start above it
    return _root(f, 0.0, hi, x0 if x0 is not None else hi)


def _point(kappa, s2, alpha, lam, noise, n_nodes, x0=None):
    th = _theta(kappa, s2, alpha, lam, n_nodes, x0)
    return th, spectral_terms(kappa, s2, th, n_nodes=n_nodes)


def _solve(kappa, q0, alpha, lam, noise, n_nodes, xtol, start=None):
    """``sigma^2`` solving the first equation of (4) (``None``: exact recovery); ``start``: a
    guess (the solution at a neighbouring point) around which the bracket is sought first."""
    last: list[float] = []
    memo: dict[float, float] = {}

    def g(t):
        if t not in memo:
            s2 = float(np.exp(t))
            th, terms = _point(kappa, s2, alpha, lam, noise, n_nodes, last[-1] if last else None)
            last.append(th)
            memo[t] = float(np.log((noise / 2.0 + max(terms["mse"], 0.0)) / (2.0 * alpha)
                                   + 1e-300) - t)
        return memo[t]

    floor = float(np.log(SIGMA2_FLOOR * max(q0, 1.0)))
    if start is not None and start > np.exp(floor):
        lo, hi = max(floor, np.log(start) - 0.25), np.log(start) + 0.25
        while g(lo) <= 0 and lo > floor:
            lo = max(floor, lo - 2.0)
    else:
        lo = floor
        hi = np.log((noise / 2.0 + q0 + 1.0) / (2.0 * alpha)) + 1.0
    if g(lo) <= 0:
        return None
    k = 0
    while g(hi) >= 0:
        hi += 2.0
        k += 1
        if k > 40:
            raise ConvergenceError("quadratic_erm: no bracket for the effective noise")
    return float(np.exp(brentq(g, lo, hi, xtol=xtol)))


def quadratic_erm(model, lam: float, *, width: float | None = None, n_nodes: int = 48,
                  xtol: float = 1e-12, sigma2_start: float | None = None) -> QuadraticERMFixedPoint:
    """Sharp asymptotics of weight-decay ERM of a quadratic network: test error, train error and
    rank of the minimiser of the nuclear-norm problem (1).

    Parameters
    ----------
    model : QuadraticNetwork or MatrixSensing
        The teacher (symmetric, Wishart prior); only ``alpha``, ``kappa`` and the label noise
        ``Delta`` (``model.delta`` of a ``QuadraticNetwork``) matter.
    lam : float
        Dimensionless penalty of (1), ``>= 0`` (``0``: the limit ``lam -> 0+``, minimal-trace
        interpolation below the interpolation threshold). ``nuclear_norm(sample, lam=lam*d)``
        computes the same minimiser.
    width : float, optional
        Student width ratio ``m/d``; sets ``width_sufficient``.
    n_nodes : int
        Gauss-Legendre nodes per piece of the support of ``rho_Y``.
    xtol : float
        Tolerance of the root finder in ``log sigma^2``.
    sigma2_start : float, optional
        A guess of ``sigma^2`` (e.g. the solution at a neighbouring ``alpha``): the root is
        bracketed around it first (faster along a curve; the same solution).

    Returns
    -------
    QuadraticERMFixedPoint

    Raises
    ------
    ValueError
        ``lam < 0`` or NaN, a model that is not a symmetric Wishart sensing model.
    hdcore.ConvergenceError
        No solution bracketed.

    Examples
    --------
    >>> import hdcore
    >>> fp = hdcore.theory.quadratic_erm(hdcore.models.QuadraticNetwork(100, 0.5, 0.6), lam=0.1)
    >>> 0 < fp.rank_fraction < 1 and fp.test_error == 2 * fp.mse
    True

    References
    ----------
    Erba, Troiani, Zdeborova & Krzakala, "The nuclear route: sharp asymptotics of ERM in
    overparameterized quadratic networks", arXiv:2505.17958 (2025). Bayati & Montanari, "The
    LASSO risk for Gaussian matrices", IEEE Trans. Inf. Theory 58 (2012).
    """
    m = _model(model)
    lam = check_real(lam, "lam", min=0.0)
    n_nodes = check_int(n_nodes, "n_nodes", min=4)
    xtol = check_real(xtol, "xtol", min=0.0, min_inclusive=False)
    if width is not None:
        width = check_real(width, "width", min=0.0, min_inclusive=False)
    kappa = _kappa(m)
    alpha, noise = float(m.alpha), float(m.noise)
    q0 = 1.0 + 1.0 / kappa
    if sigma2_start is not None:
        sigma2_start = check_real(sigma2_start, "sigma2_start", min=0.0, min_inclusive=False)
    s2 = _solve(kappa, q0, alpha, lam, noise, n_nodes, xtol, sigma2_start)
    if s2 is None:  # noiseless exact recovery: S_hat = S*
        s2 = SIGMA2_FLOOR * max(q0, 1.0)
        th, terms = _point(kappa, s2, alpha, lam, noise, n_nodes)
        mse, exact = 0.0, True
    else:
        th, terms = _point(kappa, s2, alpha, lam, noise, n_nodes)
        mse, exact = max(terms["mse"], 0.0), False
    d = terms["divergence"]
    interp = lam == 0.0 and th > 0.0 and not exact
    train = 0.0 if interp else (noise + 2.0 * mse) * (1.0 - d / (2.0 * alpha)) ** 2
    var = np.inf if interp or 2.0 * alpha - d <= 0.0 else d / (2.0 * alpha - d)
    rank = terms["rank_fraction"] if not exact else min(kappa, 1.0)
    return QuadraticERMFixedPoint(
        mse=mse, test_error=2.0 * mse, train_error=float(train), rank_fraction=float(rank),
        sigma2=s2, theta=th, divergence=d, variance=float(var), interpolating=bool(interp),
        exact_recovery=exact, width_sufficient=bool(width is None or width >= rank),
        alpha=alpha, lam=lam, noise=noise, kappa=kappa)


def quadratic_erm_curve(model, alphas, lam: float, *, progress: bool = False,
                        **kw) -> dict[str, np.ndarray]:
    """:func:`quadratic_erm` over ``alphas`` (``model`` gives ``kappa`` and the noise).

    Parameters
    ----------
    model : QuadraticNetwork or MatrixSensing
        The other parameters (its ``alpha`` is replaced by each of ``alphas``).
    alphas : array_like
        Sample ratios ``n/d^2``.
    lam : float
        Penalty of (1).
    progress : bool
        Show a tqdm bar of the points on stderr.
    **kw
        Passed to :func:`quadratic_erm`.

    Returns
    -------
    dict of str to ndarray
        ``alpha``, ``mse``, ``test_error``, ``train_error``, ``rank_fraction``, ``theta``,
        ``sigma2``.

    Examples
    --------
    >>> import hdcore
    >>> from hdcore.theory.quadratic_network_erm import quadratic_erm_curve
    >>> c = quadratic_erm_curve(hdcore.models.QuadraticNetwork(50, 0.5, 0.5), [0.3, 0.6], 0.1)
    >>> bool(c["mse"][1] < c["mse"][0])
    True
    """
    m = _model(model)
    progress = check_progress(progress)
    alphas = np.asarray(alphas, dtype=float).ravel()
    keys = ("mse", "test_error", "train_error", "rank_fraction", "theta", "sigma2")
    out = {"alpha": alphas, **{k: np.empty_like(alphas) for k in keys}}
    start = None
    for i, a in enumerate(track(alphas, progress, desc="quadratic_erm", unit="alpha")):
        fp = quadratic_erm(_with_alpha(m, float(a)), lam, sigma2_start=start, **kw)
        start = None if fp.exact_recovery else fp.sigma2
        for k in keys:
            out[k][i] = getattr(fp, k)
    return out


def _with_alpha(m: MatrixSensing, alpha: float) -> MatrixSensing:
    from dataclasses import replace
    return replace(m, alpha=alpha)


# ---- the state evolution of GAMP -----------------------------------------------------------------

@dataclass(frozen=True)
class QuadraticERMStateEvolution(Result):
    """Per-iteration prediction for :func:`hdcore.algorithms.nuclear_norm_gamp`.

    Attributes
    ----------
    mse : ndarray
        ``mse[t]`` of the iterate ``t`` (``mse[0]``: the start).
    variance : ndarray
        Output variance ``V^t`` entering iteration ``t``.
    theta, sigma2 : ndarray
        Threshold and effective noise of iteration ``t``.
    converged : bool
        The last change is below ``tol``.
    """

    mse: np.ndarray
    variance: np.ndarray
    theta: np.ndarray
    sigma2: np.ndarray
    converged: bool


def quadratic_erm_state_evolution(model, lam: float, *, n_iter: int = 100, init_mse: float | None = None,
                                  init_variance: float | None = None, tol: float = 1e-12,
                                  n_nodes: int = 48) -> QuadraticERMStateEvolution:
    """State evolution of (undamped) GAMP for (1), started from ``S^0 = 0``.

    With ``MSE^t`` and ``V^t`` of iterate ``t``: ``sigma_t^2 = (Delta/2 + MSE^t)/(2 alpha)``,
    ``theta_t = lam (1 + V^t)/(2 alpha)``, ``MSE^{t+1} = MSE(sigma_t, theta_t)``,
    ``V^{t+1} = (1 + V^t) D(sigma_t, theta_t)/(2 alpha)``; its fixed point is (4).

    Parameters
    ----------
    model : QuadraticNetwork or MatrixSensing
        The teacher.
    lam : float
        Penalty of (1) (``> 0``).
    n_iter : int
        Iterations.
    init_mse, init_variance : float, optional
        ``MSE^0`` (default ``Q0``, the error of ``S^0 = 0``) and ``V^0`` (default
        ``Delta + 2 Q0``, the mean squared residual of ``S^0 = 0``, as
        :func:`~hdcore.algorithms.nuclear_norm_gamp` starts).
    tol : float
        Stop when ``|MSE^{t+1} - MSE^t| < tol``.
    n_nodes : int
        Quadrature nodes per piece.

    Returns
    -------
    QuadraticERMStateEvolution

    Raises
    ------
    ValueError
        ``lam <= 0``, bad sizes.

    Examples
    --------
    >>> import hdcore
    >>> from hdcore.theory.quadratic_network_erm import quadratic_erm_state_evolution
    >>> m = hdcore.models.QuadraticNetwork(50, 0.5, 0.8)
    >>> se = quadratic_erm_state_evolution(m, 0.2, n_iter=300)
    >>> bool(abs(se.mse[-1] - hdcore.theory.quadratic_erm(m, 0.2).mse) < 1e-6)
    True

    References
    ----------
    Rangan, "Generalized approximate message passing", ISIT 2011; ETZK25 Sec. 3.
    """
    m = _model(model)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    n_iter = check_int(n_iter, "n_iter", min=0)
    tol = check_real(tol, "tol", min=0.0)
    kappa, alpha, noise = _kappa(m), float(m.alpha), float(m.noise)
    q0 = 1.0 + 1.0 / kappa
    mse = q0 if init_mse is None else check_real(init_mse, "init_mse", min=0.0)
    v = noise + 2.0 * q0 if init_variance is None else check_real(init_variance, "init_variance",
                                                                   min=0.0)
    out: dict[str, list[float]] = {"mse": [mse], "variance": [v], "theta": [], "sigma2": []}
    converged = False
    floor = SIGMA2_FLOOR * q0
    for _ in range(n_iter):
        s2 = max((noise / 2.0 + mse) / (2.0 * alpha), floor)
        th = lam * (1.0 + v) / (2.0 * alpha)
        terms = spectral_terms(kappa, s2, th, n_nodes=n_nodes)
        new = max(terms["mse"], 0.0)
        v = (1.0 + v) * terms["divergence"] / (2.0 * alpha)
        out["theta"].append(th)
        out["sigma2"].append(s2)
        out["mse"].append(new)
        out["variance"].append(v)
        done = abs(new - mse) < tol
        mse = new
        if done:
            converged = True
            break
    return QuadraticERMStateEvolution(mse=np.array(out["mse"]), variance=np.array(out["variance"]),
                                      theta=np.array(out["theta"]), sigma2=np.array(out["sigma2"]),
                                      converged=converged)


# ---- thresholds ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuadraticERMThresholds(Result):
    """The three sample-complexity thresholds of ``kappa*`` (``lam -> 0+``, ``n = alpha d^2``).

    Attributes
    ----------
    alpha_bo : float
        Bayes-optimal perfect recovery ``kappa - kappa^2/2`` (``1/2`` for ``kappa >= 1``).
    alpha_sr : float
        Exact recovery by minimal-trace PSD interpolation (noiseless).
    alpha_inter : float
        Interpolation of vanishing label noise (the tangent cone of the PSD cone).
    t_star : float
        Minimiser ``t`` of the statistical-dimension formula of ``alpha_sr``.
    kappa : float
        Teacher width ratio.
    """

    alpha_bo: float
    alpha_sr: float
    alpha_inter: float
    t_star: float
    kappa: float


def _tail2(t: float) -> float:
    """``int (x - t)_+^2 dsc(x)`` for the semicircle on ``[-2, 2]`` (closed form)."""
    if t >= 2.0:
        return 0.0
    if t <= -2.0:
        return 1.0 + t * t
    a = np.arccos(t / 2.0)  # x = 2 cos(phi), phi in [0, a]
    # int_0^a (2 cos p - t)^2 (2/pi) sin^2 p  * 2 ... written with the density sqrt(4-x^2)/(2 pi)
    s = np.sin(a)
    c = np.cos(a)
    i0 = (a - s * c) / 2.0                       # int_0^a sin^2
    i1 = s**3 / 3.0                              # int_0^a cos sin^2
    i2 = a / 8.0 - np.sin(4 * a) / 32.0          # int_0^a cos^2 sin^2
    # rho(x) dx = (1/(2 pi)) 2 sin(p) * 2 sin(p) dp = (2/pi) sin^2 p dp
    return float((2.0 / np.pi) * (4.0 * i2 - 4.0 * t * i1 + t * t * i0))


def quadratic_erm_thresholds(kappa: float) -> QuadraticERMThresholds:
    """Bayes-optimal, exact-recovery and interpolation thresholds of the quadratic network with
    teacher width ratio ``kappa`` (see the module docs for the formulas).

    Parameters
    ----------
    kappa : float
        ``m*/d > 0``.

    Returns
    -------
    QuadraticERMThresholds

    Raises
    ------
    ValueError
        ``kappa <= 0`` or NaN.

    Examples
    --------
    >>> from hdcore.theory import quadratic_erm_thresholds
    >>> th = quadratic_erm_thresholds(0.5)
    >>> th.alpha_bo < th.alpha_sr < th.alpha_inter
    True

    References
    ----------
    Amelunxen, Lotz, McCoy & Tropp, "Living on the edge: phase transitions in convex programs
    with random data", Inf. Inference 3 (2014); ETZK25 Sec. 4.
    """
    k = check_real(kappa, "kappa", min=0.0, min_inclusive=False)
    if k >= 1.0:
        return QuadraticERMThresholds(alpha_bo=0.5, alpha_sr=0.5, alpha_inter=0.5, t_star=0.0, kappa=k)
    base = k - k * k / 2.0

    def excess(t):
        return k * (1 - k) * t * t / 2.0 + (1 - k) ** 2 / 2.0 * _tail2(t)

    r = minimize_scalar(excess, bounds=(0.0, 2.0), method="bounded", options={"xatol": 1e-12})
    t_star = float(r.x) if r.fun < excess(0.0) else 0.0
    return QuadraticERMThresholds(alpha_bo=base, alpha_sr=base + float(excess(t_star)),
                                  alpha_inter=base + (1 - k) ** 2 / 4.0, t_star=t_star, kappa=k)


def interpolation_threshold(model, *, n_nodes: int = 48, xtol: float = 1e-10) -> float:
    """Interpolation threshold of the ``lam -> 0+`` minimiser at the model's label noise: the
    ``alpha`` above which the PSD least-squares solution of (4) (``theta = 0``) stops having
    ``D >= 2 alpha``.

    Parameters
    ----------
    model : QuadraticNetwork or MatrixSensing
        ``kappa`` and the noise ``Delta > 0`` (its ``alpha`` is ignored).
    n_nodes, xtol : int, float
        Quadrature nodes and the tolerance in ``alpha``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Noiseless model (the threshold is then ``alpha_inter`` of
        :func:`quadratic_erm_thresholds`, reached as ``Delta -> 0``).

    Examples
    --------
    >>> import hdcore
    >>> from hdcore.theory.quadratic_network_erm import interpolation_threshold
    >>> a = interpolation_threshold(hdcore.models.MatrixSensing(50, 50, 0.3,
    ...     hdcore.models.Wishart(0.5), "quadratic", noise=0.5))
    >>> 0.25 < a < hdcore.theory.quadratic_erm_thresholds(0.5).alpha_inter
    True
    """
    m = _model(model)
    if m.noise <= 0:
        raise ValueError("`model` must have label noise > 0 (noiseless: see quadratic_erm_thresholds)")
    kappa, noise = _kappa(m), float(m.noise)
    q0 = 1.0 + 1.0 / kappa

    def gap(alpha):
        # theta = 0 branch: sigma^2 = (Delta/2 + MSE(sigma, 0))/(2 alpha)
        def g(t):
            s2 = float(np.exp(t))
            mse = spectral_terms(kappa, s2, 0.0, n_nodes=n_nodes)["mse"]
            return np.log((noise / 2.0 + mse) / (2.0 * alpha)) - t

        hi = np.log((noise / 2.0 + q0 + 1.0) / (2.0 * alpha)) + 1.0
        top = hi + 12.0
        while g(hi) >= 0:
            hi += 2.0
            if hi > top:  # no theta = 0 solution (alpha <= 1/4 at large noise): interpolating
                return 1.0
        s2 = float(np.exp(brentq(g, np.log(1e-12), hi, xtol=1e-12)))
        return spectral_terms(kappa, s2, 0.0, n_nodes=n_nodes)["divergence"] - 2.0 * alpha

    # alpha <= 1/4: always interpolating (D >= 1/2 at theta = 0); alpha = 1/2: never (D < 1)
    return float(brentq(gap, 0.25, 0.5, xtol=xtol))
