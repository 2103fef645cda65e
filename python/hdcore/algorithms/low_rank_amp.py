"""Multi-factor low-rank AMP: rank-one factors observed through Gaussian channels of any order.

A *factor* ``k`` is a vector ``w_k`` of length ``N_k`` with a prior (or any denoiser). A
*channel* ``c`` observes a subset of the factors through

    Y_c = s_c  (outer product of w_k, k in c)  +  sqrt(delta_c) Z        (Z i.i.d. N(0, 1))

-- an order-2 channel is a (rectangular) spiked matrix, an order-3 channel a spiked 3-tensor.
Each channel adds to each of its factors a field, a precision and an Onsager term.

**Undamped iteration** (parallel schedule: every factor is updated from the iterates ``w^t``
of the others at the same time ``t``). With ``f_k(B, A)`` the denoiser, ``S_k^t = sum_i
d f_k / d B_i`` at ``(B_k^t, A_k^t)`` (for a posterior mean: the sum of posterior variances)::

    B_k^t = sum_{c ni k} (s_c/delta_c) Y_c(w_j^t : j in c, j != k)
            - sum_{c ni k} (s_c^2/delta_c) sum_{j in c, j != k} S_j^{t-1}
                           prod_{l in c, l != j, k} <w_l^{t-1}, w_l^t>  w_k^{t-1}
    A_k^t = sum_{c ni k} (s_c^2/delta_c) prod_{j in c, j != k} |w_j^t|^2
    w_k^{t+1} = f_k(B_k^t, A_k^t)                               (no Onsager term at t = 0)

Derivation (Stein's lemma on ``Y_c = signal + sqrt(delta_c) Z``): ``w_j^t`` depends on
``Y_c`` through ``B_j^{t-1}``, whose ``Y_c`` part is ``(s_c/delta_c) Y_c(w_m^{t-1} : m != j)``,
so ``d w_j^t / d (Y_c)_{i_1..i_p} = f_j' (s_c/delta_c) prod_{m != j} (w_m^{t-1})_{i_m}``.
The Onsager term of factor ``k`` is ``(s_c/delta_c) delta_c`` times the divergence of
``prod_{j != k} w_j^t`` with respect to the entries of ``Y_c`` on the other modes: one term per
``j != k`` (product rule), contracting ``w_l^{t-1}`` with ``w_l^t`` on the remaining modes and
leaving ``w_k^{t-1}``. Order 2, ``Y = u v^T/sqrt(N1) + sqrt(delta) Z``::

    B_u^t = Y v^t /(sqrt(N1) delta) - (S_v^{t-1}/(N1 delta)) u^{t-1},  A_u^t = |v^t|^2/(N1 delta)
    B_v^t = Y^T u^t/(sqrt(N1) delta) - (S_u^{t-1}/(N1 delta)) v^{t-1},  A_v^t = |u^t|^2/(N1 delta)

(Lesieur, Krzakala & Zdeborova 2017, Sec. 5, bipartite UV case; ``S_v ~ N2 var_v``, so the
ratio ``alpha2 = N2/N1`` enters through the sum). Order 3, ``Y = u (x) x (x) y/N1 + ...``::

    B_u^t = Y(., x^t, y^t)/(N1 delta) - [S_x^{t-1} <y^{t-1}, y^t> + S_y^{t-1} <x^{t-1}, x^t>]
            u^{t-1}/(N1^2 delta),           A_u^t = |x^t|^2 |y^t|^2/(N1^2 delta)

and cyclically for ``x`` and ``y``. (The alternating schedule of Montanari & Venkataramanan,
Ann. Stat. 49 (2021) 321, is the other valid ordering; its Onsager term uses the *current*
iterate of the factor being updated; the state evolution of
:mod:`hdcore.theory.matrix_tensor` is that of the parallel schedule.) At zero overlap with a
Gaussian prior (``f = B/(1 + A)``, ``A -> 0``) the order-2 iteration grows the norms as
``q_u^{t+1} = alpha2 q_v^t/delta``, ``q_v^{t+1} = q_u^t/delta``: growth below the BBP line
``delta < sqrt(alpha2)``.

**Damped iteration** ``w_k^{t+1} = (1 - d) f_k(B_k^t, A_k^t) + d w_k^t``. Then ``w_k^t =
sum_{tau < t} c_{t,tau} f_k(B_k^tau) + d^t w_k^0`` with ``c_{t,tau} = (1 - d) d^{t-1-tau}``: the
iterate depends on *all* past fields, and the Onsager term (same derivation, now for a
function of the whole past -- AMP with memory, Celentano, Montanari & Wu, COLT 2020) is::

    sum_{c ni k} (s_c^2/delta_c) sum_{tau < t} c_{t,tau} sum_{j in c, j != k} S_j^tau
                 prod_{l in c, l != j, k} <w_l^tau, w_l^t>  w_k^tau

with ``S_j^tau`` the derivative of the *undamped* denoiser at ``B_j^tau``. For ``d = 0`` it is the
undamped term. Subtracting instead ``(damped S) * w_k^{t-1}`` -- the damped variance times
the last iterate only, which this module did before -- over-corrects while the iterates grow
and drives small starts to zero: on the matrix alone (``delta = 0.6``, BBP at 1, ``n1 = 150``)
``q_u`` fell from 1e-6 to 1e-38 in 400 iterations with ``d = 0.5``. The memory is cut where the
dropped weight ``d^K`` falls below 1e-16 (``K = 54`` at ``d = 0.5``); the fixed points do not
depend on ``d``.

``f_k`` is the posterior mean and variance under the prior of ``w_k`` given the field
``B = A w + sqrt(A) xi`` (Bayes-AMP), or the spherical projection ``sqrt(N) B/|B|`` with its
derivative (ML-AMP: its fixed points are stationary points of the likelihood on the spheres).
The contractions run in Rust: mat-vecs for order 2, the one-pass fused contraction for order 3
(:func:`hdcore.linalg.tensor3_contract`). Rank-one factors only (a rank-r extension -- vector
denoisers and r x r precisions -- is what a rank-r spiked-covariance baseline needs).

References
----------
T. Lesieur, F. Krzakala, L. Zdeborova, "Constrained low-rank matrix estimation: phase
transitions, approximate message passing and applications", J. Stat. Mech. (2017) 073403
(arXiv:1701.00858). A. Montanari, R. Venkataramanan, "Estimation of low-rank matrices via
approximate message passing", Ann. Statist. 49 (2021) 321-345. M. Celentano, A. Montanari,
Y. Wu, "The estimation error of general first order methods", COLT 2020 (memory terms).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, track
from hdcore._results import Result
from hdcore._validation import check_instance, check_iteration, check_real
from hdcore.errors import NumericalError
from hdcore.ingredients.priors import Prior, get_prior
from hdcore.linalg import matvec

__all__ = [
    "Factor",
    "Channel",
    "MatrixChannel",
    "TensorChannel",
    "LowRankAMPResult",
    "low_rank_amp",
    "spherical_denoiser",
]

Denoiser = Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]]


def spherical_denoiser(b: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """ML / spherical denoiser: ``sqrt(N) b/|b|`` and the diagonal of its Jacobian,
    ``sqrt(N)/|b| (1 - b_i^2/|b|^2)`` (``a`` is unused: the projection ignores the precision).

    Parameters
    ----------
    b : array_like
        The field, a real vector of length ``N``.
    a : float
        The precision (unused).

    Returns
    -------
    mean : ndarray
        ``sqrt(N) b/|b|`` (zeros if ``b = 0``).
    variance : ndarray
        The diagonal of its Jacobian (zeros if ``b = 0``).

    Raises
    ------
    TypeError
        If `b` is not a real numeric array.
    ValueError
        If `b` is not one-dimensional or not finite.

    Examples
    --------
    >>> mean, var = spherical_denoiser([3.0, 4.0], 1.0)
    >>> mean.round(6).tolist(), round(float(mean @ mean), 12)  # on the sphere of radius sqrt(N)
    ([0.848528, 1.131371], 2.0)

    References
    ----------
    Lesieur, Krzakala & Zdeborova, "Constrained low-rank matrix estimation: phase transitions,
    approximate message passing and applications", J. Stat. Mech. (2017), arXiv:1701.00858.
    """
    try:
        b = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`b` must be a real vector, got {type(b).__name__}") from exc
    if b.ndim != 1:
        raise ValueError(f"`b` must be one-dimensional, got shape {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("`b` must be finite")
    n = b.size
    norm = float(np.linalg.norm(b))
    if norm == 0.0:
        return np.zeros(n), np.zeros(n)
    mean = math.sqrt(n) * b / norm
    return mean, math.sqrt(n) / norm * (1.0 - (b / norm) ** 2)


@dataclass(frozen=True)
class Factor:
    """One rank-one factor of a low-rank model.

    Parameters
    ----------
    name : str
        Its name (channels refer to it by name).
    size : int
        Its dimension ``N_k``.
    prior : Prior or str
        Prior of its entries (gives the Bayes denoiser).
    denoiser : callable, optional
        ``denoiser(b, a) -> (mean, variance)`` replacing the prior's (e.g.
        :func:`spherical_denoiser` for ML-AMP).
    """

    name: str
    size: int
    prior: Prior | str = "gaussian"
    denoiser: Denoiser | None = None

    def denoise(self, b: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
        f = self.denoiser if self.denoiser is not None else get_prior(self.prior).denoise
        mean, var = f(b, a)
        mean = np.asarray(mean, dtype=np.float64)
        var = np.broadcast_to(np.asarray(var, dtype=np.float64), b.shape)
        if mean.shape != b.shape:
            raise ValueError(f"the denoiser of factor {self.name!r} returned shape {mean.shape}, "
                             f"expected {b.shape}")
        return mean, var


class Channel(ABC):
    """A Gaussian observation ``Y = scale * (outer product of the factors) + sqrt(delta) Z``."""

    #: names of the observed factors, one per mode of ``Y``
    factors: tuple[str, ...]
    scale: float
    delta: float

    @abstractmethod
    def contract(self, est: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """For every mode ``k``: ``Y`` contracted with the estimates of all other modes."""

    @property
    def weight(self) -> float:
        """``scale^2 / delta``: the precision the channel gives per unit overlap."""
        return self.scale**2 / self.delta

    def _check(self, shape: tuple[int, ...], sizes: dict[str, int]) -> None:
        for k, n in zip(self.factors, shape):
            if k not in sizes:
                raise ValueError(f"channel observes unknown factor {k!r}")
            if sizes[k] != n:
                raise ValueError(f"factor {k!r} has size {sizes[k]} but the channel's mode has {n}")


@dataclass(frozen=True)
class MatrixChannel(Channel):
    """Order-2 channel: ``y`` (``N_rows x N_cols``, float64 or float32) observes
    ``scale * w_rows w_cols^T``."""

    y: np.ndarray = field(repr=False)
    rows: str
    cols: str
    scale: float
    delta: float
    n_threads: int | None = None

    @property
    def factors(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.rows, self.cols)

    def contract(self, est):
        y = self.y
        return {self.rows: matvec(y, est[self.cols], n_threads=self.n_threads),
                self.cols: matvec(y, est[self.rows], transpose=True, n_threads=self.n_threads)}


@dataclass(frozen=True)
class TensorChannel(Channel):
    """Order-3 channel: ``t`` (``N_a x N_b x N_c``, C order, float64 or float32) observes
    ``scale * w_a (x) w_b (x) w_c``; the three contractions take one pass over ``t``."""

    t: np.ndarray = field(repr=False)
    modes: tuple[str, str, str]
    scale: float
    delta: float
    n_threads: int | None = None

    @property
    def factors(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.modes)

    def contract(self, est):
        a, b, c = self.modes
        ra, rb, rc = _core.tensor3_contract(self.t, est[a], est[b], est[c],
                                            n_threads=self.n_threads)
        return {a: ra, b: rb, c: rc}


def _shape(ch: Channel) -> tuple[int, ...]:
    if isinstance(ch, MatrixChannel):
        return tuple(ch.y.shape)
    if isinstance(ch, TensorChannel):
        return tuple(ch.t.shape)
    return tuple(getattr(ch, "shape", ()))


@dataclass(frozen=True)
class LowRankAMPResult(Result):
    """Output of :func:`low_rank_amp`. Traces have ``n_iter + 1`` entries (start first).

    Attributes
    ----------
    estimates, variances : dict of str to ndarray
        Final iterate and denoiser variances per factor.
    cosine2 : dict of str to ndarray or None
        Squared cosine with the truth per iteration (when the truth was given).
    q : dict of str to ndarray
        ``|w_k^t|^2 / N_k`` per iteration.
    delta : ndarray
        ``max_k |w_k^{t+1} - w_k^t|^2 / |w_k^{t+1}|^2`` (relative change) per iteration.
    n_iter : int
    converged : bool
    """

    estimates: dict = field(repr=False)
    variances: dict = field(repr=False)
    cosine2: dict | None
    q: dict
    delta: np.ndarray = field(repr=False)
    n_iter: int
    converged: bool

    @property
    def final_cosine2(self) -> dict[str, float]:
        """Squared cosines of the last iterate."""
        return {k: float(v[-1]) for k, v in (self.cosine2 or {}).items()}


def _cos2(w: np.ndarray, truth: np.ndarray) -> float:
    den = float(w @ w) * float(truth @ truth)
    return float(w @ truth) ** 2 / den if den > 0 else 0.0


def low_rank_amp(factors: Sequence[Factor], channels: Sequence[Channel], init: dict, *,
                 n_iter: int = 100, damping: float = 0.0, tol: float = 1e-10,
                 truth: dict | None = None, callback: Callable | None = None,
                 progress: bool = False) -> LowRankAMPResult:
    """Run multi-factor low-rank AMP (module docs).

    Parameters
    ----------
    factors : sequence of Factor
        The unknowns.
    channels : sequence of Channel
        The observations (:class:`MatrixChannel`, :class:`TensorChannel`).
    init : dict of str to ndarray
        Start ``w_k^0`` of every factor.
    n_iter : int
        Maximal number of iterations.
    damping : float in [0, 1)
        ``w <- (1 - damping) f(B, A) + damping w``.
    tol : float
        Stop when every relative change ``|w_k^{t+1} - w_k^t|^2 / |w_k^{t+1}|^2 < tol``.
    truth : dict, optional
        Planted factors, to report ``cosine2``.
    callback : callable, optional
        ``callback(t, estimates)`` after every iteration.
    progress : bool
        Show a tqdm bar of the iterations on stderr.

    Returns
    -------
    LowRankAMPResult

    Raises
    ------
    ValueError
        On inconsistent factors, channels or starts.
    hdcore.NumericalError
        If an iterate becomes non-finite.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> n = 400; u, v = rng.standard_normal(n), rng.standard_normal(n)
    >>> y = np.outer(u, v) / np.sqrt(n) + 0.5 * rng.standard_normal((n, n))
    >>> fs = [Factor("u", n), Factor("v", n)]
    >>> ch = [MatrixChannel(y=y, rows="u", cols="v", scale=n**-0.5, delta=0.25)]
    >>> r = low_rank_amp(fs, ch, {"u": 1e-3 * rng.standard_normal(n), "v": np.zeros(n)},
    ...                  truth={"u": u, "v": v}, n_iter=50)
    >>> round(r.final_cosine2["u"], 2)   # rectangular BBP: (1 - 1/16)/(1 + 1/4) = 0.75
    0.75

    References
    ----------
    T. Lesieur, F. Krzakala, L. Zdeborova, J. Stat. Mech. (2017) 073403 (low-rank AMP);
    arXiv:2506.02664 (the matrix + tensor instance).
    """
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    progress = check_progress(progress)
    sizes: dict[str, int] = {}
    for f in factors:
        check_instance(f, "factors", Factor)
        if f.name in sizes:
            raise ValueError(f"factor {f.name!r} appears twice")
        sizes[f.name] = f.size
    byname = {f.name: f for f in factors}
    for ch in channels:
        check_instance(ch, "channels", Channel)
        check_real(ch.delta, "delta", min=0.0, min_inclusive=False)
        ch._check(_shape(ch), sizes)
    est: dict[str, np.ndarray] = {}
    for k, n in sizes.items():
        if k not in init:
            raise ValueError(f"`init` has no start for factor {k!r}")
        w = np.array(init[k], dtype=np.float64).ravel()
        if w.shape != (n,) or not np.isfinite(w).all():
            raise ValueError(f"`init[{k!r}]` must be a finite vector of length {n}")
        est[k] = w
    var: dict[str, np.ndarray] = {k: np.zeros(n) for k, n in sizes.items()}
    # memory of the damped iteration (module docs): (w^tau, S^tau) for tau = t-1, t-2, ...,
    # newest first; w^t = sum_tau (1 - damping) damping^(t-1-tau) f(B^tau) + damping^t w^0,
    # truncated where the neglected weight damping^K drops below 1e-16
    depth = 1 if damping == 0.0 else max(1, math.ceil(math.log(1e-16) / math.log(damping)))
    history: deque[tuple[dict[str, np.ndarray], dict[str, float]]] = deque(maxlen=depth)
    weights = [(1.0 - damping) * damping**age for age in range(depth)]
    touching = {k: [c for c in channels if k in c.factors] for k in sizes}
    if truth is not None:
        truth = {k: np.asarray(truth[k], dtype=np.float64) for k in sizes}
    cos = {k: [_cos2(est[k], truth[k])] for k in sizes} if truth is not None else None
    qs = {k: [float(est[k] @ est[k]) / n] for k, n in sizes.items()}
    deltas: list[float] = []
    converged = False
    for t in track(range(n_iter), progress, desc="low_rank_amp", unit="iter"):
        norms = {k: float(w @ w) for k, w in est.items()}
        # <w_l^tau, w_l^t> for every remembered tau
        cross = [{k: float(w_tau[k] @ est[k]) for k in sizes} for w_tau, _ in history]
        contractions = [ch.contract(est) for ch in channels]
        new: dict[str, np.ndarray] = {}
        s_new: dict[str, float] = {}
        for k in sizes:
            b = np.zeros(sizes[k])
            a = 0.0
            ons = [0.0] * len(history)
            for ch, con in ((c, contractions[channels.index(c)]) for c in touching[k]):
                others = [j for j in ch.factors if j != k]
                b += (ch.scale / ch.delta) * con[k]
                a += ch.weight * math.prod(norms[j] for j in others)
                for age, (_, s_tau) in enumerate(history):
                    ons[age] += weights[age] * ch.weight * sum(
                        s_tau[j] * math.prod(cross[age][l_] for l_ in others if l_ != j)
                        for j in others)
            for age, (w_tau, _) in enumerate(history):
                if ons[age] != 0.0:
                    b -= ons[age] * w_tau[k]
            mean, v = byname[k].denoise(b, a)
            s_new[k] = float(v.sum())
            new[k] = (1 - damping) * mean + damping * est[k]
            var[k] = (1 - damping) * v + damping * var[k]
            if not np.isfinite(new[k]).all():
                raise NumericalError(f"the AMP iterate of factor {k!r} became non-finite "
                                     "(try damping)")
        # relative change: a factor may shrink to 1e-50 on a plateau and regrow, an absolute
        # criterion would stop there
        diff = max(float(np.sum((new[k] - est[k]) ** 2))
                   / max(float(new[k] @ new[k]), 1e-300) for k in sizes)
        history.appendleft((est, s_new))
        est = new
        deltas.append(diff)
        for k, n in sizes.items():
            qs[k].append(float(est[k] @ est[k]) / n)
            if cos is not None and truth is not None:
                cos[k].append(_cos2(est[k], truth[k]))
        if callback is not None:
            callback(t, est)
        if diff < tol:
            converged = True
            break
    return LowRankAMPResult(
        estimates=est, variances=var,
        cosine2=None if cos is None else {k: np.array(v) for k, v in cos.items()},
        q={k: np.array(v) for k, v in qs.items()}, delta=np.array(deltas),
        n_iter=len(deltas), converged=converged)
