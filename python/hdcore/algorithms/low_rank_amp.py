"""Multi-factor low-rank AMP: rank-one factors observed through Gaussian channels of any order.

A *factor* ``k`` is a vector ``w_k`` of length ``N_k`` with a prior (or any denoiser). A
*channel* ``c`` observes a subset of the factors through

    Y_c = s_c  (outer product of w_k, k in c)  +  sqrt(delta_c) Z        (Z i.i.d. N(0, 1))

-- an order-2 channel is a (rectangular) spiked matrix, an order-3 channel a spiked 3-tensor.
Each channel adds to each of its factors a field, a precision and an Onsager term; with
``S_j^t = sum_i var_{j,i}^t`` (the sum of the denoiser's derivatives) and ``w^t`` the iterate
(parallel schedule, Lesieur, Krzakala & Zdeborova, J. Stat. Mech. (2017) 073403, Sec. 5, for
order 2; the order-p extension derived in ``docs/matrix_tensor.md``)::

    B_k^t = sum_{c ni k} (s_c/delta_c) Y_c(w_j^t : j != k)
            - sum_{c ni k} (s_c^2/delta_c) sum_{j in c, j != k} S_j^t
                           prod_{l in c, l != j, k} <w_l^{t-1}, w_l^t>  w_k^{t-1}
    A_k^t = sum_{c ni k} (s_c^2/delta_c) prod_{j in c, j != k} |w_j^t|^2
    w_k^{t+1}, var_k^{t+1} = f_k(B_k^t, A_k^t)

``f_k`` is the posterior mean and variance under the prior of ``w_k`` given the field
``B = A w + sqrt(A) xi`` (Bayes-AMP), or the spherical projection ``sqrt(N) B/|B|`` with its
derivative (ML-AMP: its fixed points are stationary points of the likelihood on the spheres).
The contractions run in Rust: mat-vecs for order 2, the one-pass fused contraction for order 3
(:func:`hdcore.linalg.tensor3_contract`). Rank-one factors only (a rank-r extension -- vector
denoisers and r x r precisions -- is what a rank-r spiked-covariance baseline needs).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
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

    Raises
    ------
    TypeError
        If `b` is not a real numeric array.
    ValueError
        If `b` is not one-dimensional or not finite.
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
    >>> round(r.final_cosine2["u"], 1)   # rectangular BBP: (1 - 1/16)/(1 + 1/4) = 0.75
    0.8

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
    prev = {k: np.zeros(n) for k, n in sizes.items()}
    var_sum = dict.fromkeys(sizes, 0.0)
    var: dict[str, np.ndarray] = {k: np.zeros(n) for k, n in sizes.items()}
    touching = {k: [c for c in channels if k in c.factors] for k in sizes}
    if truth is not None:
        truth = {k: np.asarray(truth[k], dtype=np.float64) for k in sizes}
    cos = {k: [_cos2(est[k], truth[k])] for k in sizes} if truth is not None else None
    qs = {k: [float(est[k] @ est[k]) / n] for k, n in sizes.items()}
    deltas: list[float] = []
    converged = False
    for t in track(range(n_iter), progress, desc="low_rank_amp", unit="iter"):
        norms = {k: float(w @ w) for k, w in est.items()}
        cross = {k: float(prev[k] @ est[k]) for k in sizes}
        contractions = [ch.contract(est) for ch in channels]
        new: dict[str, np.ndarray] = {}
        for k in sizes:
            b = np.zeros(sizes[k])
            a = 0.0
            ons = 0.0
            for ch, con in ((c, contractions[channels.index(c)]) for c in touching[k]):
                others = [j for j in ch.factors if j != k]
                b += (ch.scale / ch.delta) * con[k]
                a += ch.weight * math.prod(norms[j] for j in others)
                ons += ch.weight * sum(
                    var_sum[j] * math.prod(cross[l_] for l_ in others if l_ != j)
                    for j in others)
            b -= ons * prev[k]
            mean, v = byname[k].denoise(b, a)
            new[k] = (1 - damping) * mean + damping * est[k]
            var[k] = (1 - damping) * v + damping * var[k]
            if not np.isfinite(new[k]).all():
                raise NumericalError(f"the AMP iterate of factor {k!r} became non-finite "
                                     "(try damping)")
        # relative change: a factor may shrink to 1e-50 on a plateau and regrow, an absolute
        # criterion would stop there
        diff = max(float(np.sum((new[k] - est[k]) ** 2))
                   / max(float(new[k] @ new[k]), 1e-300) for k in sizes)
        prev, est = est, new
        var_sum = {k: float(var[k].sum()) for k in sizes}
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
