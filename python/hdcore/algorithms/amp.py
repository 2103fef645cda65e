"""Bayes-optimal approximate message passing for the spiked models.

Two paths give the same numbers (a test checks it):

* fast path -- the whole loop in Rust, for the built-in priors;
* open path -- the loop in Python around the Rust mat-vecs, for any denoiser
  ``denoiser(b, a) -> (mean, variance)`` (variance = derivative of the mean in ``b``).

Iterations (``s = snr``, ``lambda = s^2``; Lesieur, Krzakala & Zdeborova, J. Stat. Mech. 2017,
Sec. 4; Deshpande & Montanari 2014)::

    B^t = s Y xh^t - s^2 <var^t> xh^{t-1},   A^t = s^2 ||xh^t||^2 / n,   xh^{t+1} = f(B^t, A^t)

and for the spiked covariance (``X`` is ``n x d``, ``alpha = n/d``, latent ``v ~ N(0, 1)``)::

    B_v = sqrt(beta/d) X uh^t - beta <var_u^t> vh^{t-1},       A_v = beta ||uh^t||^2 / d
    vh^t = B_v / (1 + A_v)
    B_u = sqrt(beta/d) X^T vh^t - beta alpha <var_v^t> uh^t,   A_u = beta ||vh^t||^2 / d
    uh^{t+1} = f(B_u, A_u)

:func:`hdcore.theory.state_evolution` predicts the overlap of every iterate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch

import numpy as np

from hdcore import _core
from hdcore._progress import progress_bar, track
from hdcore._results import Result
from hdcore._validation import as_array, check_int, check_real
from hdcore.ingredients.priors import BuiltinPrior
from hdcore.linalg import matvec
from hdcore.models.spiked import SpikedWignerSample, SpikedWishartSample
from hdcore.random import as_seed

__all__ = ["amp", "AMPResult"]


@dataclass(frozen=True)
class AMPResult(Result):
    """Output of :func:`amp`. Traces have ``n_iter + 1`` entries (the initial iterate first).

    Attributes
    ----------
    estimate : ndarray
        Final posterior-mean estimate of the spike.
    variance : ndarray
        Final posterior variances.
    overlap : ndarray
        ``|<xh^t, x*>| / dim`` per iterate (the model is invariant under ``x -> -x``).
    q : ndarray
        ``||xh^t||^2 / dim`` per iterate.
    mse : ndarray
        ``min_sign ||xh^t -+ x*||^2 / dim`` per iterate.
    cosine2 : ndarray
        Squared cosine ``<xh^t, x*>^2 / (||xh^t||^2 ||x*||^2)`` per iterate; for Bayes AMP it
        tracks the state-evolution overlap ``m^t`` (Nishimori: ``q = m``) and, unlike
        ``overlap``, does not fluctuate with the realised norm of ``x*``.
    delta : ndarray
        ``||xh^{t+1} - xh^t||^2 / dim`` per iteration.
    n_iter : int
        Iterations performed.
    converged : bool
        Whether ``delta`` fell below ``tol``.
    latent_overlap : ndarray or None
        Spiked covariance only: ``|<vh^t, v>| / n`` per iteration.
    """

    estimate: np.ndarray = field(repr=False)
    variance: np.ndarray = field(repr=False)
    overlap: np.ndarray
    q: np.ndarray
    mse: np.ndarray
    cosine2: np.ndarray
    delta: np.ndarray = field(repr=False)
    n_iter: int
    converged: bool
    latent_overlap: np.ndarray | None = None

    @property
    def final_overlap(self) -> float:
        """Overlap of the last iterate."""
        return float(self.overlap[-1])

    @property
    def final_cosine2(self) -> float:
        """Squared cosine of the last iterate with the truth."""
        return float(self.cosine2[-1])


def _init(init, dim: int, truth: np.ndarray, seed) -> np.ndarray:
    if isinstance(init, str):
        if init == "random":
            # small i.i.d. start: AMP begins in its linear regime, as state evolution from m ~ 0
            return 1e-3 * _core.standard_normal(dim, as_seed(seed), 4)
        if init == "informative":
            return np.array(truth, dtype=np.float64)
        raise ValueError(f"`init` must be 'random', 'informative' or an array, got {init!r}")
    return as_array(init, "init", ndim=1, shape=(dim,)).copy()


def _result(raw: dict, truth: np.ndarray) -> AMPResult:
    m2 = float(np.dot(truth, truth)) / truth.size
    overlap = np.asarray(raw["overlap"])
    q = np.asarray(raw["q"])
    lat = raw.get("overlap_latent")
    return AMPResult(
        estimate=raw["estimate"], variance=raw["variance"], overlap=overlap, q=q,
        mse=q - 2 * overlap + m2,
        cosine2=np.divide(overlap**2, q * m2, out=np.zeros_like(q), where=q * m2 > 0),
        delta=np.asarray(raw["delta"]), n_iter=int(raw["n_iter"]),
        converged=bool(raw["converged"]),
        latent_overlap=None if lat is None or len(lat) == 0 else np.asarray(lat),
    )


@singledispatch
def amp(sample, *, n_iter: int = 100, damping: float = 0.0, tol: float = 1e-12, init="random",
        denoiser=None, open_path: bool = False, seed=0, n_threads: int | None = None,
        progress: bool = False) -> AMPResult:
    """Bayes-optimal AMP on a spiked sample.

    Parameters
    ----------
    sample : SpikedWignerSample or SpikedWishartSample
        The data and its planted truth (used only to report overlaps).
    n_iter : int
        Maximal number of iterations.
    damping : float in [0, 1)
        ``new = (1 - damping) * update + damping * old``.
    tol : float
        Stop when ``||xh^{t+1} - xh^t||^2 / dim < tol``.
    init : {"random", "informative"} or ndarray
        Start: a small random vector (uninformative), the truth itself, or a given vector.
    denoiser : callable, optional
        ``denoiser(b, a) -> (mean, variance)``; defaults to the model prior's. Forces the open
        (Python-loop) path.
    open_path : bool
        Run the Python loop even for a built-in prior (for testing and custom code).
    seed : int or Generator
        Seed of the random start.
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show a tqdm bar of the iterations on stderr (the Rust fast path runs in one call: its
        bar advances when the call returns).

    Returns
    -------
    AMPResult
    """
    raise TypeError(f"amp does not know samples of type {type(sample).__name__}")


def _check_opts(n_iter, damping, tol):
    return (check_int(n_iter, "n_iter", min=0),
            check_real(damping, "damping", min=0.0, max=1.0, max_inclusive=False),
            check_real(tol, "tol", min=0.0))


def _open_denoiser(prior, denoiser):
    if denoiser is None:
        return prior.denoise
    if not callable(denoiser):
        raise TypeError("`denoiser` must be callable: denoiser(b, a) -> (mean, variance)")
    return denoiser


def _apply(denoise, b, a):
    mean, var = denoise(b, a)
    mean = np.asarray(mean, dtype=np.float64)
    var = np.broadcast_to(np.asarray(var, dtype=np.float64), b.shape)
    if mean.shape != b.shape:
        raise ValueError(f"denoiser returned means of shape {mean.shape}, expected {b.shape}")
    return mean, var


@amp.register
def _(sample: SpikedWignerSample, *, n_iter=100, damping=0.0, tol=1e-12, init="random",
      denoiser=None, open_path=False, seed=0, n_threads=None, progress=False) -> AMPResult:
    model = sample.model
    n_iter, damping, tol = _check_opts(n_iter, damping, tol)
    x0 = _init(init, model.n, sample.x, seed)
    prior = model.prior
    if denoiser is None and not open_path and isinstance(prior, BuiltinPrior):
        with progress_bar(progress, total=n_iter, desc="amp", unit="iter") as bar:
            raw = _core.amp_wigner(sample.y, model.snr, prior.name, x0, rho=prior._rho,
                                   truth=sample.x, packed_n=sample.packed_n, n_iter=n_iter,
                                   damping=damping, tol=tol, n_threads=n_threads)
            bar.update(int(raw["n_iter"]))
        return _result(raw, sample.x)
    denoise = _open_denoiser(prior, denoiser)
    s, n = model.snr, model.n
    est, var, prev = x0, np.zeros(n), np.zeros(n)
    onsager = 0.0
    trace = {"overlap": [abs(est @ sample.x) / n], "q": [est @ est / n], "delta": []}
    converged = False
    for _ in track(range(n_iter), progress, desc="amp", unit="iter"):
        field_ = s * matvec(sample.y, est, packed_n=sample.packed_n, n_threads=n_threads)
        field_ -= onsager * prev
        a = s * s * float(est @ est) / n
        mean, v = _apply(denoise, field_, a)
        prev = est
        est = (1 - damping) * mean + damping * prev
        var = (1 - damping) * v + damping * var
        if not np.isfinite(est).all():
            raise _core.NumericalError("the AMP iterate became non-finite (try damping)")
        onsager = s * s * float(var.mean())
        diff = float(np.sum((est - prev) ** 2)) / n
        trace["delta"].append(diff)
        trace["overlap"].append(abs(est @ sample.x) / n)
        trace["q"].append(est @ est / n)
        if diff < tol:
            converged = True
            break
    return _result(dict(trace, estimate=est, variance=var, n_iter=len(trace["delta"]),
                        converged=converged), sample.x)


@amp.register
def _(sample: SpikedWishartSample, *, n_iter=100, damping=0.0, tol=1e-12, init="random",
      denoiser=None, open_path=False, seed=0, n_threads=None, progress=False) -> AMPResult:
    model = sample.model
    n_iter, damping, tol = _check_opts(n_iter, damping, tol)
    u0 = _init(init, model.d, sample.u, seed)
    prior = model.prior
    if denoiser is None and not open_path and isinstance(prior, BuiltinPrior):
        with progress_bar(progress, total=n_iter, desc="amp", unit="iter") as bar:
            raw = _core.amp_wishart(sample.x, model.beta, prior.name, u0, rho=prior._rho,
                                    truth_u=sample.u, truth_v=sample.v, n_iter=n_iter,
                                    damping=damping, tol=tol, n_threads=n_threads)
            bar.update(int(raw["n_iter"]))
        return _result(raw, sample.u)
    denoise = _open_denoiser(prior, denoiser)
    n, d = sample.x.shape
    beta, alpha = model.beta, n / d
    scale = np.sqrt(beta / d)
    est, var, latent = u0, np.zeros(d), np.zeros(n)
    var_u = 0.0
    trace = {"overlap": [abs(est @ sample.u) / d], "q": [est @ est / d], "delta": [],
             "overlap_latent": []}
    converged = False
    for _ in track(range(n_iter), progress, desc="amp", unit="iter"):
        a_v = beta * float(est @ est) / d
        bv = scale * matvec(sample.x, est, n_threads=n_threads) - beta * var_u * latent
        latent = bv / (1 + a_v)
        var_v = 1 / (1 + a_v)
        a_u = beta * float(latent @ latent) / d
        bu = scale * matvec(sample.x, latent, transpose=True, n_threads=n_threads)
        bu -= beta * alpha * var_v * est
        mean, v = _apply(denoise, bu, a_u)
        prev = est
        est = (1 - damping) * mean + damping * prev
        var = (1 - damping) * v + damping * var
        if not np.isfinite(est).all():
            raise _core.NumericalError("the AMP iterate became non-finite (try damping)")
        var_u = float(var.mean())
        diff = float(np.sum((est - prev) ** 2)) / d
        trace["delta"].append(diff)
        trace["overlap"].append(abs(est @ sample.u) / d)
        trace["q"].append(est @ est / d)
        trace["overlap_latent"].append(abs(latent @ sample.v) / n)
        if diff < tol:
            converged = True
            break
    return _result(dict(trace, estimate=est, variance=var, n_iter=len(trace["delta"]),
                        converged=converged), sample.u)
