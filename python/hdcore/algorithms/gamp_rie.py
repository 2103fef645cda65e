"""GAMP-RIE for matrix sensing: approximate message passing with a Gaussian output channel and
the rotationally invariant estimator as input denoiser (Maillard et al. 2024, arXiv:2408.03733,
Sec. 4; Erba et al. 2024, arXiv:2410.18858; proved optimal by Xu et al. 2025,
arXiv:2503.14121).

With the channel constants of the model (symmetric: ``c = 2``, ``field_gain = 2n/d``,
``noise_gain = 4n/d^2``; rectangular: ``c = 1``, ``field_gain = noise_gain = n/(d1 d2)``)::

    V^t     = c mmse^{t-1}
    omega^t = <A_mu, S^t> - V^t g^{t-1}_mu              (damped with omega^{t-1}, V^{t-1})
    g^t     = (y - omega^t) / (Delta + V^t),   a^t = mean (g^t)^2
    R^t     = S^t + sum_mu g^t_mu A_mu / (field_gain a^t)
    S^{t+1} = RIE(R^t; delta^t = 1/(noise_gain a^t)),   mmse^t = mmse_den(delta^t)

Two paths give the same numbers (a test checks it): the fast path runs the loop in Rust; the
open path runs it in Python around the Rust sensing operators, so any denoiser
``denoiser(R, delta) -> (estimate, mmse)`` can be plugged in. The loop is specific to this
channel; the RIE denoiser itself is a reusable component (``hdcore.rmt``).

State evolution and the fixed point are in :mod:`hdcore.theory.matrix_sensing`; damping 0.5
(as in the authors' code) is needed at moderate sizes: undamped iterations can settle in a
2-cycle with a larger error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, progress_bar, track
from hdcore._results import Result
from hdcore._validation import as_array, check_iteration, check_real
from hdcore.models.matrix_sensing import MatrixSensing, MatrixSensingSample
from hdcore.random import as_seed, spawn
from hdcore.rmt.denoising import WishartPrior

__all__ = ["GampRieResult", "channel_constants", "gamp_rie"]


@dataclass(frozen=True)
class GampRieResult(Result):
    """Output of :func:`gamp_rie`.

    Attributes
    ----------
    estimate : ndarray
        Final estimate of ``S`` (model units).
    mse : ndarray
        ``||S^t - S*||^2 / units`` for ``t = 0..n_iter`` (initial iterate first).
    normalised_mse : ndarray
        ``mse / prior_variance`` (1 at the prior mean; MTM+24's plotted error).
    delta_eff : ndarray
        Effective denoising noise per iteration.
    mmse : ndarray
        Error predicted by the algorithm for each new iterate (``mmse_den(delta_eff)``).
    diff : ndarray
        ``||S^{t+1} - S^t||^2 / units``.
    n_iter : int
        Iterations performed.
    converged : bool
        Whether ``diff`` fell below ``tol``.
    """

    estimate: np.ndarray = field(repr=False)
    mse: np.ndarray
    normalised_mse: np.ndarray
    delta_eff: np.ndarray = field(repr=False)
    mmse: np.ndarray = field(repr=False)
    diff: np.ndarray = field(repr=False)
    n_iter: int
    converged: bool

    @property
    def final_mse(self) -> float:
        """MSE of the final estimate."""
        return float(self.mse[-1])


def channel_constants(model: MatrixSensing) -> tuple[float, float, float]:
    """``(c, field_gain, noise_gain)`` of the Gaussian channel of ``model`` (see module docs)."""
    n = float(model.n)
    if model.symmetric:
        d = float(model.d1)
        return 2.0, 2.0 * n / d, 4.0 * n / (d * d)
    g = n / (model.d1 * model.d2)
    return 1.0, g, g


def _initial(sample: MatrixSensingSample, init, init_mmse, seed):
    m = sample.sensing
    prior = m.rie_prior
    mean = np.eye(m.d1) if m.symmetric else np.zeros((m.d1, m.d2))
    if isinstance(init, str):
        if init == "prior":
            return mean, prior.variance
        if init == "random":
            # an independent draw from the prior (teacher streams of the child seed
            # spawn(seed, 1)): its error is twice the prior variance
            s = spawn(as_seed(seed), 1)
            if m.symmetric:
                est = _core.sample_wishart_teacher(m.d1, m.width, s, None)[1]
            else:
                est = _core.sample_product_teacher(m.d1, m.d2, m.width, s, None)[2]
            return est, 2.0 * prior.variance
        raise ValueError(f"`init` must be 'prior', 'random' or an array, got {init!r}")
    est = as_array(init, "init", ndim=2, shape=(m.d1, m.d2)).copy()
    mm = prior.variance if init_mmse is None else check_real(init_mmse, "init_mmse", min=0.0,
                                                             min_inclusive=False)
    return est, mm


def gamp_rie(sample: MatrixSensingSample, *, n_iter: int = 200, damping: float = 0.5,
             tol: float = 1e-7, init="prior", init_mmse: float | None = None, seed=0,
             denoiser=None, open_path: bool = False, n_threads: int | None = None,
             progress: bool = False) -> GampRieResult:
    """Bayes-optimal GAMP-RIE on a matrix-sensing sample.

    Parameters
    ----------
    sample : MatrixSensingSample
        Data and planted truth (the truth is used only to report errors).
    n_iter : int
        Maximal number of iterations.
    damping : float in [0, 1)
        Damping of ``(omega, V)``.
    tol : float
        Stop when ``||S^{t+1} - S^t||^2 / units < tol``.
    init : {"prior", "random"} or ndarray
        Start at the prior mean (error = prior variance), at an independent draw from the prior,
        or at a given matrix (its assumed error ``init_mmse``, default the prior variance).
    denoiser : callable, optional
        ``denoiser(R, delta) -> (estimate, mmse)`` replacing the RIE (forces the open path).
    open_path : bool
        Run the Python loop.
    seed : int or Generator
        Seed of the random start.
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show a tqdm bar of the iterations on stderr (the Rust fast path runs in one call: its
        bar advances when the call returns).

    Returns
    -------
    GampRieResult
    """
    if not isinstance(sample, MatrixSensingSample):
        raise TypeError(f"`sample` must be a MatrixSensingSample, got {type(sample).__name__}")
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    progress = check_progress(progress)
    m = sample.sensing
    est, mm = _initial(sample, init, init_mmse, seed)
    prior = m.rie_prior
    if denoiser is not None and not callable(denoiser):
        raise TypeError("`denoiser` must be callable: denoiser(R, delta) -> (estimate, mmse)")
    if denoiser is None and not open_path:
        kind, params = (("wishart", [prior.kappa]) if isinstance(prior, WishartPrior)
                        else ("product", [prior.aspect, prior.rank]))
        with progress_bar(progress, total=n_iter, desc="gamp_rie", unit="iter") as bar:
            raw = _core.gamp_rie(m.operator_kind, sample.y, m.noise, kind, params, est, mm,
                                 truth=sample.s, n_iter=n_iter, damping=damping, tol=tol,
                                 n_threads=n_threads, **sample.operator_kwargs())
            bar.update(int(raw["n_iter"]))
        return _result(raw, m)
    if denoiser is None:
        def denoiser(r, delta, _p=prior):
            return _p.denoise(r, delta, n_threads=n_threads), _p.mmse(delta)
    c, field_gain, noise_gain = channel_constants(m)
    n = m.n
    omega, g_prev = np.zeros(n), np.zeros(n)
    v = c * mm
    trace: dict[str, list[float]] = {"mse": [], "delta_eff": [], "mmse": [], "diff": []}
    converged = False
    for t in track(range(n_iter), progress, desc="gamp_rie", unit="iter"):
        trace["mse"].append(sample.error(est))
        v_new = c * mm
        h = sample.forward(est, n_threads=n_threads)
        dmp = 0.0 if t == 0 else damping
        omega = (1 - dmp) * (h - v_new * g_prev) + dmp * omega
        v = (1 - dmp) * v_new + dmp * v
        g = (sample.y - omega) / (m.noise + v)
        a = float(np.mean(g * g))
        if not (np.isfinite(a) and a > 0):
            raise _core.NumericalError(f"mean squared output function is {a} (try damping)")
        r = est + sample.adjoint(g, n_threads=n_threads) / (field_gain * a)
        delta = 1.0 / (noise_gain * a)
        new, mm_new = denoiser(r, delta)
        new = np.asarray(new, dtype=float)
        if new.shape != est.shape or not np.isfinite(new).all():
            raise _core.NumericalError("the denoiser returned a non-finite or misshaped estimate")
        diff = float(np.sum((new - est) ** 2) / m.units)
        est, mm, g_prev = new, max(float(mm_new), 1e-300), g
        trace["delta_eff"].append(delta)
        trace["mmse"].append(float(mm_new))
        trace["diff"].append(diff)
        if diff < tol:
            converged = True
            break
    trace["mse"].append(sample.error(est))
    return _result(dict(trace, estimate=est, n_iter=len(trace["diff"]), converged=converged), m)


def _result(raw: dict, model: MatrixSensing) -> GampRieResult:
    mse = np.asarray(raw["mse"], dtype=float)
    return GampRieResult(estimate=np.asarray(raw["estimate"]), mse=mse,
                         normalised_mse=mse / model.prior_variance,
                         delta_eff=np.asarray(raw["delta_eff"], dtype=float),
                         mmse=np.asarray(raw["mmse"], dtype=float),
                         diff=np.asarray(raw["diff"], dtype=float), n_iter=int(raw["n_iter"]),
                         converged=bool(raw["converged"]))
