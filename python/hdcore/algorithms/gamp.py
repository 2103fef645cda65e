"""Bayes-optimal generalised approximate message passing (GAMP) for multi-index models, with
``p x p`` matrix variances (``p = 1`` is scalar GAMP).

Iteration (Rangan 2011; multi-index form of Aubin et al. 2018 and Troiani et al. 2024,
arXiv:2405.15480; ``X`` has i.i.d. ``N(0, 1/d)`` entries, ``g^{-1} = 0``)::

    omega_mu = W^T x_mu - V g_mu^{t-1}
    g_mu, dg_mu = g_out(y_mu, omega_mu, V)          # channel (output function)
    A = -(1/d) sum_mu dg_mu,   B = X^T g + W_bar A
    W, V = f_in(B, A), (1/d) sum_i d f_in/d b_i     # prior (input function)

Damping follows Vila, Schniter, Rangan, Krzakala & Zdeborova (ICASSP 2015, Alg. 1): from the
second iteration, ``g`` and ``A`` are averaged with their previous values and ``W_bar`` is the
running average of ``W`` (``damping = 0`` is plain GAMP). Channels with ``E[z | y] = 0`` (phase
retrieval, ``z1*z2``, ...) need it: without damping their uninformative fixed point is unstable
along ``V`` (multiplier ``-alpha`` for ``y = z^2``), hence the default ``damping = 0.5``.

Two paths give the same numbers (a test checks it): the fast path runs the whole loop in Rust
(one pass over ``X`` per iteration) for built-in channels and priors; the open path runs the
loop in Python around the Rust products with ``X`` and accepts any ``channel(y, omega, V) ->
(g, dg)`` and ``denoiser(B, A) -> (W, C)``, e.g. proximal (ERM) output functions.
:func:`hdcore.theory.state_evolution` predicts the overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, progress_bar, track
from hdcore._results import Result
from hdcore._validation import as_array, check_iteration
from hdcore.errors import NumericalError
from hdcore.ingredients.channels import BuiltinChannel
from hdcore.models.multi_index import MultiIndexSample, _orthonormal_teacher
from hdcore.random import as_seed

__all__ = ["GAMPResult", "gamp"]

#: random-stream domain of GAMP's random start (``rng::domain::FREE + 13``)
INIT_DOMAIN = 64 + 13
#: ``tr V / p`` below which the posterior has collapsed onto a point (as in the Rust loop)
COLLAPSED = 1e-13


@dataclass(frozen=True)
class GAMPResult(Result):
    """Output of :func:`gamp`. Traces have ``n_iter + 1`` entries (the start first).

    Attributes
    ----------
    estimate : ndarray
        Final estimate ``W`` (``d x p``), the posterior mean.
    variance : ndarray
        Final ``V`` (``p x p``), the average posterior covariance.
    m : ndarray
        ``M^t = W^T W* / d`` per iterate (``(n_iter + 1) x p x p``).
    q : ndarray
        ``Q^t = W^T W / d`` per iterate.
    overlap : ndarray
        The paper's overlap ``||M||_F / sqrt(tr Q)`` per iterate, with the teacher made
        orthonormal (Defilippis et al. 2025, Sec. 2), in ``[0, 1]``. For Bayes GAMP state
        evolution predicts ``||Q||_F / sqrt(tr Q)`` (``sqrt(q)`` for ``p = 1``).
    delta : ndarray
        ``||W^{t+1} - W^t||_F^2 / d`` per iteration.
    a : ndarray
        Last precision ``A`` (``p x p``); state evolution predicts ``Qhat``.
    n_iter : int
    converged : bool
        ``delta < tol`` was reached, or the posterior collapsed onto a point.
    """

    estimate: np.ndarray = field(repr=False)
    variance: np.ndarray
    m: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    overlap: np.ndarray
    delta: np.ndarray = field(repr=False)
    a: np.ndarray
    n_iter: int
    converged: bool

    @property
    def final_overlap(self) -> float:
        """Overlap of the last iterate."""
        return float(self.overlap[-1])


def _overlap_trace(m, q, wstar):
    d = wstar.shape[0]
    g = wstar.T @ wstar / d
    vals, vecs = np.linalg.eigh(g)
    inv_sqrt = (vecs / np.sqrt(np.clip(vals, 1e-300, None))) @ vecs.T
    mt = m @ inv_sqrt
    num = np.linalg.norm(mt.reshape(mt.shape[0], -1), axis=1)
    tr = np.trace(q, axis1=1, axis2=2)
    return num / np.sqrt(np.maximum(tr, 1e-300))


def _start(init, sample, seed):
    d, p = sample.model.d, sample.model.p
    if isinstance(init, str):
        if init == "random":
            # small i.i.d. start: GAMP begins in its linear regime, as state evolution from Q ~ 0
            w0 = 1e-3 * _core.standard_normal(d * p, as_seed(seed), INIT_DOMAIN).reshape(d, p)
        elif init == "informative":
            w0 = np.array(sample.w, dtype=np.float64)
        else:
            raise ValueError(f"`init` must be 'random', 'informative' or an array, got {init!r}")
    else:
        w0 = as_array(init, "init")
        if w0.shape not in ((d, p),) + (((d,),) if p == 1 else ()):
            raise ValueError(f"`init` has shape {w0.shape}, expected ({d}, {p})")
        w0 = w0.reshape(d, p).copy()
    # Nishimori-consistent start V = I - Q0 (floored so that V stays positive definite)
    q0 = w0.T @ w0 / d
    vals, vecs = np.linalg.eigh(np.eye(p) - q0)
    v0 = (vecs * np.maximum(vals, 1e-3)) @ vecs.T
    return w0, np.ascontiguousarray(v0)


def _result(raw, wstar) -> GAMPResult:
    m, q = np.asarray(raw["m"]), np.asarray(raw["q"])
    return GAMPResult(estimate=raw["estimate"], variance=raw["variance"], m=m, q=q,
                      overlap=_overlap_trace(m, q, wstar), delta=np.asarray(raw["delta"]),
                      a=raw["a"], n_iter=int(raw["n_iter"]), converged=bool(raw["converged"]))


def gamp(sample: MultiIndexSample, *, n_iter: int = 300, damping: float = 0.5,
         tol: float = 1e-10, init="random", channel=None, denoiser=None, open_path: bool = False,
         seed=0, n_threads: int | None = None, progress: bool = False) -> GAMPResult:
    """Bayes-optimal GAMP on a multi-index sample.

    Parameters
    ----------
    sample : MultiIndexSample or SequenceIndexSample
        Data and planted teacher (used only to report overlaps); a sequence sample runs
        :func:`hdcore.algorithms.sequence_gamp` (GAMP with token columns).
    n_iter : int
        Maximal number of iterations.
    damping : float in [0, 1)
        Damping of ``g``, ``A`` and of the input-side average of ``W`` (see the module docs).
    tol : float
        Stop when ``||W^{t+1} - W^t||_F^2 / d < tol``.
    init : {"random", "informative"} or ndarray
        A small random start (uninformative), the teacher itself, or a given ``d x p`` array.
    channel : callable, optional
        ``channel(y, omega, V) -> (g (n, p), dg (n, p, p))``; defaults to the model's Bayes
        output function. Forces the open path.
    denoiser : callable, optional
        ``denoiser(B, A) -> (W (d, p), C (p, p))`` with ``C`` the average Jacobian; defaults to
        the prior's posterior mean. Forces the open path.
    open_path : bool
        Run the Python loop even for built-in ingredients.
    seed : int or Generator
        Seed of the random start.
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show a tqdm bar of the iterations on stderr (the Rust fast path runs in one call: its
        bar advances when the call returns).

    Returns
    -------
    GAMPResult
    """
    from hdcore.models.sequence_index import SequenceIndexSample
    if isinstance(sample, SequenceIndexSample):
        # GAMP with token columns (the same loop on the token rows)
        from hdcore.algorithms.sequence_gamp import sequence_gamp
        return sequence_gamp(sample, n_iter=n_iter, damping=damping, tol=tol, init=init,
                             seed=seed, n_threads=n_threads, progress=progress)
    if not isinstance(sample, MultiIndexSample):
        raise TypeError(f"gamp needs a MultiIndexSample, got {type(sample).__name__}")
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    progress = check_progress(progress)
    model = sample.model
    ch, pp = model.channel, model.product_prior
    y = ch.check_labels(sample.y)
    w0, v0 = _start(init, sample, seed)
    fast = (channel is None and denoiser is None and not open_path
            and isinstance(ch, BuiltinChannel) and ch.has_output_function and pp.is_builtin)
    if fast:
        prior: Any = model.prior  # a BuiltinPrior (checked by pp.is_builtin)
        with progress_bar(progress, total=n_iter, desc="gamp", unit="iter") as bar:
            raw = _core.gamp_glm(sample.x, y, ch.name, model.p, prior.name, w0, v0,
                                 rho=prior._rho,
                                 noise=ch.noise, n_nodes=ch.n_nodes,  # type: ignore[attr-defined]
                                 truth=np.ascontiguousarray(sample.w), n_iter=n_iter,
                                 damping=damping, tol=tol, n_threads=n_threads)
            bar.update(int(raw["n_iter"]))
        return _result(raw, sample.w)
    g_out = _callable(channel, "channel", "channel(y, omega, V) -> (g, dg)") or ch.g_out
    f_in = _callable(denoiser, "denoiser", "denoiser(B, A) -> (W, C)") or pp.denoise
    return _result(_open_loop(sample, y, g_out, f_in, w0, v0, n_iter, damping, tol, n_threads,
                              progress), sample.w)


def _callable(fn, name, signature):
    if fn is None:
        return None
    if not callable(fn):
        raise TypeError(f"`{name}` must be callable: {signature}")
    return fn


def _checked(out, shapes, name):
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(f"`{name}` must return a pair of arrays")
    res = []
    for arr, shape, what in zip(out, shapes, ("first", "second")):
        arr = np.asarray(arr, dtype=np.float64)
        if arr.shape != shape:
            raise ValueError(f"`{name}` returned a {what} array of shape {arr.shape}, expected {shape}")
        if not np.isfinite(arr).all():
            raise NumericalError(f"`{name}` returned NaN or infinity (try damping)")
        res.append(arr)
    return res


def _open_loop(sample, y, g_out, f_in, w0, v0, n_iter, damping, tol, n_threads,
               progress=False):
    """The GAMP loop of the Rust fast path, in Python, around the Rust products with X."""
    x = sample.x
    n, d = x.shape
    p = w0.shape[1]
    wstar = np.ascontiguousarray(sample.w)
    w, v = w0.copy(), v0.copy()
    w_bar = w.copy()
    a = np.zeros((p, p))
    g = np.zeros((n, p))
    ms, qs, deltas = [w.T @ wstar / d], [w.T @ w / d], []
    converged = False
    for t in track(range(n_iter), progress, desc="gamp", unit="iter"):
        damp = 0.0 if t == 0 else damping
        omega = _core.glm_x_times(x, np.ascontiguousarray(w), n_threads=n_threads) - g @ v.T
        g_new, dg = _checked(g_out(y, omega, v), ((n, p), (n, p, p)), "channel")
        g = (1.0 - damp) * g_new + damp * g
        a_new = -dg.sum(axis=0) / d
        a_new = 0.5 * (a_new + a_new.T)
        a = (1.0 - damp) * a_new + damp * a
        w_bar = (1.0 - damp) * w + damp * w_bar
        b = _core.glm_xt_times(x, np.ascontiguousarray(g), n_threads=n_threads) + w_bar @ a
        w_new, c = _checked(f_in(b, a), ((d, p), (p, p)), "denoiser")
        diff = float(np.sum((w_new - w) ** 2)) / d
        w, v = w_new, 0.5 * (c + c.T)
        deltas.append(diff)
        ms.append(w.T @ wstar / d)
        qs.append(w.T @ w / d)
        if diff < tol or np.trace(v) / p < COLLAPSED:
            converged = True
            break
    return {"estimate": w, "variance": v, "m": np.array(ms), "q": np.array(qs), "a": a,
            "delta": np.array(deltas), "n_iter": len(deltas), "converged": converged}


def overlap_with_teacher(estimate, wstar) -> float:
    """The paper's overlap ``||W^T U / d||_F / sqrt(tr W^T W / d)`` with ``U`` the orthonormalised
    teacher (see :meth:`hdcore.models.MultiIndexSample.overlap`)."""
    w = np.asarray(estimate, dtype=np.float64).reshape(np.shape(wstar)[0], -1)
    u = _orthonormal_teacher(np.asarray(wstar, dtype=np.float64))
    d = u.shape[0]
    return float(np.linalg.norm(w.T @ u / d) / np.sqrt(max(np.trace(w.T @ w / d), 1e-300)))
