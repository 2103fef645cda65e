"""State evolution and replica free entropy of the rank-one spiked models.

Spiked Wigner (``lambda = snr^2``; Lesieur, Krzakala & Zdeborova 2017, Eqs. (65)-(66); Lelarge &
Miolane 2019, Thm. 1)::

    m^{t+1} = overlap_P(lambda m^t)
    phi(m)  = psi_P(lambda m) - lambda m^2 / 4

Spiked covariance (rows ``z + sqrt(beta/d) v_mu u``, ``alpha = n/d``, Gaussian latent ``v``;
Miolane 2017; derived for this normalisation in :mod:`hdcore.algorithms.amp`)::

    m_v^t     = beta m_u^t / (1 + beta m_u^t)
    m_u^{t+1} = overlap_P(alpha beta m_v^t)
    phi(m_u, m_v) = psi_P(alpha beta m_v) + alpha psi_G(beta m_u) - alpha beta m_u m_v / 2

``overlap_P(a)`` and ``psi_P(a)`` are the prior's scalar-channel overlap and free entropy
(:mod:`hdcore.ingredients.priors`). Stationary points of ``phi`` are the SE fixed points; the
Bayes-optimal overlap is the fixed point of largest ``phi`` (the others are metastable), so the
information-theoretic threshold is where that choice jumps, and the algorithmic one is where the
uninformative fixed point ``m = 0`` loses stability.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import singledispatch
from typing import Any

import numpy as np
from scipy.optimize import brentq

from hdcore._results import Result
from hdcore._validation import check_instance, check_iteration, check_real
from hdcore.models.spiked import SpikedWigner, SpikedWishart
from hdcore.theory.fixed_point import OutOfDomain, solve, transition

__all__ = [
    "StateEvolution",
    "FixedPoints",
    "state_evolution",
    "state_evolution_map",
    "fixed_points",
    "free_entropy",
    "algorithmic_threshold",
    "information_theoretic_threshold",
]

#: overlap of the "uninformative" start (AMP starts at m ~ n^{-1/2}; the fixed point reached
#: does not depend on the exact small value away from the threshold)
UNINFORMATIVE = 1e-6


@dataclass(frozen=True)
class StateEvolution(Result):
    """Per-iteration overlaps predicted for AMP.

    Attributes
    ----------
    overlap : ndarray
        ``m^t`` for ``t = 0..n_iter`` (``m^0`` is the start).
    mse : ndarray
        ``E x^2 - m^t``, the MSE of the Bayes estimator at iteration ``t``.
    latent_overlap : ndarray or None
        Spiked covariance: ``m_v^t`` of the Gaussian latent.
    converged : bool
        ``|F(m^t) - m^t| < tol`` was reached (F: the SE map).
    """

    overlap: np.ndarray
    mse: np.ndarray
    latent_overlap: np.ndarray | None
    n_iter: int
    converged: bool

    @property
    def fixed_point(self) -> float:
        """Final overlap."""
        return float(self.overlap[-1])


@dataclass(frozen=True)
class FixedPoints(Result):
    """SE fixed points from uninformative and informative starts, with their free entropies."""

    uninformative: float
    informative: float
    phi_uninformative: float
    phi_informative: float

    @property
    def bayes_optimal(self) -> float:
        """Overlap of the Bayes-optimal estimator: the fixed point of largest free entropy."""
        if self.phi_informative > self.phi_uninformative + 1e-12:
            return self.informative
        return self.uninformative

    @property
    def hard_phase(self) -> bool:
        """AMP (uninformative) is strictly worse than Bayes-optimal."""
        return self.bayes_optimal - self.uninformative > 1e-6


# ---- model-specific maps -----------------------------------------------------------------

@singledispatch
def _se_step(model, m: float | np.ndarray) -> tuple[Any, Any]:
    # one SE step at overlap(s) ``m``: (new overlap, latent overlap or None); vectorised in m
    raise TypeError(f"no state evolution for models of type {type(model).__name__}")


@_se_step.register
def _(model: SpikedWigner, m):
    return model.prior.overlap(model.snr**2 * m), None


@_se_step.register
def _(model: SpikedWishart, m):
    mv = model.beta * m / (1.0 + model.beta * m)
    return model.prior.overlap(model.alpha * model.beta * mv), mv


@singledispatch
def _phi(model, m: float) -> float:
    raise TypeError(f"no free entropy for models of type {type(model).__name__}")


@_phi.register
def _(model: SpikedWigner, m):
    lam = model.snr**2
    return model.prior.free_entropy(lam * m) - lam * m * m / 4


@_phi.register
def _(model: SpikedWishart, m):
    a, b = model.alpha, model.beta
    mv = b * m / (1 + b * m)  # stationary in m_u given m_v <=> this m_v; evaluated on the SE curve
    psi_gauss = 0.5 * b * m - 0.5 * np.log1p(b * m)
    return model.prior.free_entropy(a * b * mv) + a * psi_gauss - a * b * m * mv / 2


@singledispatch
def _strength(model) -> str:
    raise TypeError(f"no signal-strength parameter for {type(model).__name__}")


@_strength.register
def _(model: SpikedWigner):
    return "snr"


@_strength.register
def _(model: SpikedWishart):
    return "beta"


def _start(model, init) -> float:
    if isinstance(init, str):
        if init == "uninformative":
            return UNINFORMATIVE
        if init == "informative":
            return float(model.prior.second_moment)
        raise ValueError(f"`init` must be 'uninformative', 'informative' or a number, got {init!r}")
    return check_real(init, "init", min=0.0)


# ---- public API ----------------------------------------------------------------------------

def state_evolution(model, *, n_iter: int = 2000, init="uninformative", tol: float = 1e-12,
                    damping: float = 0.0) -> StateEvolution:
    """State evolution of Bayes-optimal AMP.

    Parameters
    ----------
    model : SpikedWigner or SpikedWishart
        The model (its dimension is irrelevant: this is the ``n -> infinity`` limit).
    n_iter : int
        Maximal number of iterations.
    init : {"uninformative", "informative"} or float
        Start overlap: ``1e-6``, ``E x^2`` (the truth), or a given ``m^0`` (e.g. the measured
        overlap of an AMP start).
    tol : float
        Stop when ``|F(m^t) - m^t| < tol`` (F: :func:`state_evolution_map`).
    damping : float
        Same damping as the AMP run it predicts.

    Returns
    -------
    StateEvolution
        Overlaps ``m^t``, MSEs, latent overlaps (covariance) and convergence flag.

    Raises
    ------
    TypeError
        ``model`` is not a spiked model, or ``n_iter`` / ``tol`` / ``damping`` / ``init`` have
        the wrong type.
    ValueError
        ``n_iter < 0``, ``damping`` outside ``[0, 1)``, ``tol < 0``, or an unknown / negative
        ``init``.

    Examples
    --------
    >>> from hdcore.models import SpikedWigner
    >>> se = state_evolution(SpikedWigner(n=10, snr=2.0, prior="gaussian"))
    >>> se.converged, round(se.fixed_point, 6)
    (True, 0.75)

    References
    ----------
    Lesieur, Krzakala & Zdeborova, "Constrained low-rank matrix estimation: phase transitions,
    approximate message passing and applications", J. Stat. Mech. (2017), arXiv:1701.00858.
    Lelarge & Miolane, "Fundamental limits of symmetric low-rank matrix estimation", Probab.
    Theory Relat. Fields 173 (2019). Miolane, "Fundamental limits of low-rank matrix estimation:
    the non-symmetric case", arXiv:1702.00473 (2017).
    """
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    res = solve(state_evolution_map(model, aux=True), _start(model, init), damping=damping, tol=tol,
                max_iter=n_iter, raise_on_failure=False, trace=True, has_aux=True)
    overlap = np.array(res.trace)
    assert res.aux_trace is not None  # trace=True, has_aux=True
    mvs = [mv for mv in res.aux_trace[:-1] if mv is not None]
    return StateEvolution(overlap=overlap, mse=model.prior.second_moment - overlap,
                          latent_overlap=np.array(mvs) if mvs else None,
                          n_iter=res.n_iter, converged=res.converged)


def state_evolution_map(model, *, aux: bool = False):
    """The state-evolution map ``m^t -> m^{t+1}`` of ``model`` (module docs), for
    :mod:`hdcore.theory.fixed_point` (e.g. :func:`~hdcore.theory.fixed_point.branches` from the
    uninformative and informative starts, or a :func:`~hdcore.theory.fixed_point.continuation`
    in the signal strength).

    Parameters
    ----------
    model : SpikedWigner or SpikedWishart
        The model.
    aux : bool
        Return ``(m^{t+1}, m_v^t)`` (the latent overlap of the spiked covariance; None for Wigner).

    Returns
    -------
    callable
        ``F(m)``.

    Examples
    --------
    >>> from hdcore.models import SpikedWigner
    >>> F = state_evolution_map(SpikedWigner(n=10, snr=2.0, prior="gaussian"))
    >>> round(F(0.5), 6)  # overlap_P(4 * 0.5) = 2/3 for a Gaussian prior
    0.666667
    """
    _se_step(model, 0.0)  # type check

    def step(m):
        if not m >= 0:
            raise OutOfDomain(f"the overlap must be >= 0, got {m}")
        new, mv = _se_step(model, m)
        return (float(new), mv) if aux else float(new)

    return step


def free_entropy(model, overlap: float) -> float:
    """Replica-symmetric potential ``phi(m)`` (see the module docs); its maximiser over SE fixed
    points is the Bayes-optimal overlap. ``phi(0) = 0`` for zero-mean priors.

    Parameters
    ----------
    model : SpikedWigner or SpikedWishart
        The model (``n -> infinity`` limit).
    overlap : float
        The overlap ``m >= 0`` (``m_u`` for the spiked covariance, with ``m_v`` on the SE curve).

    Returns
    -------
    float
        ``phi(m)``.

    Raises
    ------
    TypeError
        ``overlap`` is not a real number, or ``model`` is not a spiked model.
    ValueError
        ``overlap`` is negative or not finite.

    Examples
    --------
    >>> from hdcore.models import SpikedWigner
    >>> free_entropy(SpikedWigner(n=10, snr=2.0, prior="gaussian"), 0.0)
    0.0

    References
    ----------
    Lesieur, Krzakala & Zdeborova, "Constrained low-rank matrix estimation: phase transitions,
    approximate message passing and applications", J. Stat. Mech. (2017), arXiv:1701.00858.
    Lelarge & Miolane, "Fundamental limits of symmetric low-rank matrix estimation", Probab.
    Theory Relat. Fields 173 (2019). Miolane, "Fundamental limits of low-rank matrix estimation:
    the non-symmetric case", arXiv:1702.00473 (2017).
    """
    overlap = check_real(overlap, "overlap", min=0.0)
    return float(_phi(model, overlap))


def _fixed_point(model, which: str) -> float:
    """Smallest ("uninformative") or largest ("informative") fixed point of the monotone SE map,
    by a sign scan of ``g(m) = step(m) - m`` on a log/linear grid refined with Brent's method
    (exact where plain iteration slows down near a threshold)."""
    m_max = float(model.prior.second_moment)
    grid = np.concatenate([np.geomspace(1e-9, 1e-2, 36), np.linspace(1e-2, m_max, 100)[1:]])
    g = np.asarray(_se_step(model, grid)[0]) - grid  # one vectorised pass over the grid

    def root(lo, hi):
        return brentq(lambda m: _se_step(model, m)[0] - m, lo, hi, xtol=1e-13)

    if which == "uninformative":
        if g[0] <= 0:
            return 0.0
        neg = np.flatnonzero(g <= 0)
        return m_max if neg.size == 0 else root(grid[neg[0] - 1], grid[neg[0]])
    pos = np.flatnonzero(g > 0)
    if pos.size == 0:
        return 0.0
    i = pos[-1]
    return m_max if i == grid.size - 1 else root(grid[i], grid[i + 1])


def fixed_points(model) -> FixedPoints:
    """SE fixed points reached from uninformative and informative starts, and their free
    entropies (the map is monotone, so these are its smallest and largest stable fixed points).

    Parameters
    ----------
    model : SpikedWigner or SpikedWishart
        The model (``n -> infinity`` limit).

    Returns
    -------
    FixedPoints
        ``uninformative`` and ``informative`` overlaps and their free entropies
        (:func:`free_entropy`); ``bayes_optimal`` is the one of largest free entropy.

    Raises
    ------
    TypeError
        ``model`` is neither a ``SpikedWigner`` nor a ``SpikedWishart``.

    Examples
    --------
    >>> from hdcore.models import SpikedWigner
    >>> fp = fixed_points(SpikedWigner(n=10, snr=2.0, prior="gaussian"))
    >>> round(fp.bayes_optimal, 6), fp.hard_phase  # 1 - 1/snr^2 for a Gaussian prior
    (0.75, False)

    References
    ----------
    Lesieur, Krzakala & Zdeborova, "Constrained low-rank matrix estimation: phase transitions,
    approximate message passing and applications", J. Stat. Mech. (2017), arXiv:1701.00858.
    Lelarge & Miolane, "Fundamental limits of symmetric low-rank matrix estimation", Probab.
    Theory Relat. Fields 173 (2019). Miolane, "Fundamental limits of low-rank matrix estimation:
    the non-symmetric case", arXiv:1702.00473 (2017).
    """
    check_instance(model, "model", (SpikedWigner, SpikedWishart))
    lo = _fixed_point(model, "uninformative")
    hi = _fixed_point(model, "informative")
    return FixedPoints(uninformative=lo, informative=hi, phi_uninformative=free_entropy(model, lo),
                       phi_informative=free_entropy(model, hi))


def algorithmic_threshold(model) -> float:
    """Signal strength above which ``m = 0`` is linearly unstable for SE (AMP from a random
    start achieves weak recovery): ``snr = 1/E x^2`` (Wigner), ``beta = 1/(sqrt(alpha) E u^2)``
    (covariance).

    Parameters
    ----------
    model : SpikedWigner or SpikedWishart
        The model; its own signal strength is ignored (only the prior and ``alpha`` matter).

    Returns
    -------
    float
        The critical ``snr`` (Wigner) or ``beta`` (covariance).

    Raises
    ------
    TypeError
        ``model`` is neither a ``SpikedWigner`` nor a ``SpikedWishart``.

    Examples
    --------
    >>> from hdcore.models import SpikedWigner, SpikedWishart
    >>> algorithmic_threshold(SpikedWigner(n=10, snr=2.0, prior="rademacher"))
    1.0
    >>> algorithmic_threshold(SpikedWishart(d=10, alpha=4.0, beta=1.0))
    0.5

    References
    ----------
    Lesieur, Krzakala & Zdeborova, "Constrained low-rank matrix estimation: phase transitions,
    approximate message passing and applications", J. Stat. Mech. (2017), arXiv:1701.00858.
    Lelarge & Miolane, "Fundamental limits of symmetric low-rank matrix estimation", Probab.
    Theory Relat. Fields 173 (2019). Miolane, "Fundamental limits of low-rank matrix estimation:
    the non-symmetric case", arXiv:1702.00473 (2017).
    """
    check_instance(model, "model", (SpikedWigner, SpikedWishart))
    slope = model.prior.overlap_slope()
    if isinstance(model, SpikedWigner):
        return float(1.0 / np.sqrt(slope))
    if isinstance(model, SpikedWishart):
        return float(1.0 / np.sqrt(model.alpha * slope))
    raise TypeError(f"no threshold for models of type {type(model).__name__}")


def information_theoretic_threshold(model, *, lower: float | None = None,
                                    xtol: float = 1e-5) -> float:
    """Smallest signal strength at which the Bayes-optimal overlap is positive.

    Located by bisection on "the informative fixed point has higher free entropy than the
    uninformative one", below the algorithmic threshold (when the transition is continuous,
    both thresholds coincide).

    Parameters
    ----------
    model : SpikedWigner or SpikedWishart
        The model; its own signal strength is ignored.
    lower : float, optional
        Lower end of the bisection bracket, ``>= 0`` (default ``0.05`` times
        :func:`algorithmic_threshold`); returned as is if the informative branch already wins
        there.
    xtol : float
        Bisection tolerance on the signal strength.

    Returns
    -------
    float
        The critical ``snr`` (Wigner) or ``beta`` (covariance); :func:`algorithmic_threshold`
        when the transition is continuous.

    Raises
    ------
    TypeError
        ``model`` is not a spiked model, or ``lower`` is not a real number.
    ValueError
        ``lower`` is negative or not finite.

    Examples
    --------
    >>> from hdcore.models import SpikedWigner
    >>> information_theoretic_threshold(SpikedWigner(n=10, snr=2.0, prior="rademacher"))
    1.0

    References
    ----------
    Lesieur, Krzakala & Zdeborova, "Constrained low-rank matrix estimation: phase transitions,
    approximate message passing and applications", J. Stat. Mech. (2017), arXiv:1701.00858.
    Lelarge & Miolane, "Fundamental limits of symmetric low-rank matrix estimation", Probab.
    Theory Relat. Fields 173 (2019). Miolane, "Fundamental limits of low-rank matrix estimation:
    the non-symmetric case", arXiv:1702.00473 (2017).
    """
    name = _strength(model)
    upper = algorithmic_threshold(model)
    lower = 0.05 * upper if lower is None else check_real(lower, "lower", min=0.0)

    def informative_wins(s: float) -> bool:
        fp = fixed_points(replace(model, **{name: s}))
        return fp.informative > 1e-4 and fp.phi_informative > fp.phi_uninformative + 1e-12

    probe = upper * (1 - 1e-9)
    if not informative_wins(probe):
        return upper
    lo, hi = lower, probe
    if informative_wins(lo):
        return lo
    return transition(informative_wins, lo, hi, xtol=xtol)
