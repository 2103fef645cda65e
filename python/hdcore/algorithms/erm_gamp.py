"""GAMP for empirical risk minimisation (proximal GAMP) on contaminated regression.

The estimator is the ERM of :func:`hdcore.algorithms.erm`, ``argmin_w sum_mu rho(y_mu - <w,
x_mu>/sqrt(d)) + (lam/2)||w||^2`` (``lam`` of any sign) or the same loss on the sphere
``||w||^2 = q d``; GAMP reaches it with the proximal output function of the loss and the input
function of the regulariser (Vilucchio et al., arXiv:2502.20003; digest 06, Sec. 2). With
``F = X/sqrt(d)`` (i.i.d. ``N(0, 1/d)`` entries) and ``g^{-1} = 0``::

    omega = F w - V g_prev
    g = (prox_{V rho(y - .)}(omega) - omega)/V = rho'(r),   r + V rho'(r) = y - omega
    A = (1/d) sum_mu rho''(r_mu)/(1 + V rho''(r_mu))                 (= -(1/d) sum dg/domega)
    B = F^T g + A w_bar
    ridge:  w = B/(A + lam),          V = 1/(A + lam)                (needs A + lam > 0)
    sphere: w = sqrt(q d) B/||B||,    V = sqrt(q d)(1 - 1/d)/||B||   (Lagrange multiplier
                                                                      ||B||/sqrt(q d) - A)

damped as Vila et al. (ICASSP 2015; see :mod:`hdcore.algorithms.gamp`). The loop is the general
GAMP engine of the Rust core (``rust/kernels/src/glm/gamp.rs``) with the adapters of
``glm/prox.rs``; one iteration streams ``X`` once.

* Every fixed point is a stationary point of the empirical risk, whatever ``V`` and ``A``
  (``r`` is then the residual ``y - F w`` and ``lam w = F^T rho'(r)``); the result reports the
  risk's gradient norm at the estimate (``grad_norm``, as :class:`~hdcore.algorithms.ERMResult`).
  For convex losses it is the ERM minimiser.
* With the state-evolution values of ``V`` and ``A`` the iterates follow the replica-symmetric
  fixed point of :func:`hdcore.theory.erm_fixed_point` (same ``m``, ``q``, ``V``; a test checks it
  at ``d = 1000``).
* The prox must be single-valued, ``V < -1/min rho''`` (Tukey ``5/4``, Cauchy ``8``). The loop
  checks it at every iteration and stops when it fails (``prox_single_valued=False``, ``reason``),
  as it stops when ``A + lam <= 0``.
* **Fixed-variance GAMP** (``fixed_variance=V``): ``V`` is held at the given value (e.g. the
  fixed point's, ``fixed_variance="theory"``) instead of ``1/(A + lam)``; ``A`` is still measured
  from the data. Its fixed points are the same stationary points; holding ``V`` below the prox
  threshold keeps the output function well defined along the way, which plain GAMP does not
  guarantee for non-convex losses (its transient ``V`` can exceed ``5/4`` for Tukey). The digest's
  reading of the authors' "fully TAP" GAMP also freezes ``A`` at ``V_hat`` [RECON]; both
  variants have the same fixed points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, progress_bar
from hdcore._results import Result
from hdcore._validation import as_array, check_int, check_real
from hdcore.algorithms.erm import _plain_start, _warm_loss
from hdcore.ingredients.losses import BuiltinLoss, Loss, get_loss
from hdcore.linalg import matvec
from hdcore.models.regression import ContaminatedRegressionSample
from hdcore.random import as_seed

__all__ = ["ERMGAMPResult", "erm_gamp"]

#: random-stream domain of the random start (``rng::domain::FREE + 16``)
INIT_DOMAIN = 64 + 16


@dataclass(frozen=True)
class ERMGAMPResult(Result):
    """Output of :func:`erm_gamp`. Traces have ``n_iter + 1`` entries (the start first).

    Attributes
    ----------
    estimate : ndarray
        The final ``w`` (``d``,).
    m, q, V : ndarray
        ``<w^t, theta*>/d``, ``||w^t||^2/d`` and the variance ``V^t`` per iterate (``V`` is the
        variance used with ``w^t`` in the next iteration).
    teacher_norm : float
        ``||theta*||^2/d`` of the sample.
    estimation_error, generalisation_error, excess_error : float
        Errors of the final estimate (:mod:`hdcore.models.regression`; ``estimation_error =
        ||w - theta*||^2/d``).
    a : float
        Last precision ``A`` (the fixed point's ``V_hat``).
    grad_norm : float
        ``||grad||_2/sqrt(n)`` of the empirical risk at ``w`` (tangent part on the sphere), as
        in :class:`~hdcore.algorithms.ERMResult`: small at a fixed point.
    lam_effective : float
        The ridge (sphere: the Lagrange multiplier ``-<w, grad L>/||w||^2``).
    n_iter : int
    converged : bool
        ``||w^{t+1} - w^t||^2/d < tol`` was reached.
    prox_single_valued : bool
        Whether the prox was single-valued at the last variance (False: the loop stopped there).
    reason : str
        Why the loop stopped early ("" if it did not): multivalued prox, ``A + lam <= 0``.
    fixed_variance : float or None
        The variance held fixed, if any.
    """

    estimate: np.ndarray = field(repr=False)
    m: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    V: np.ndarray = field(repr=False)
    teacher_norm: float
    estimation_error: float
    generalisation_error: float
    excess_error: float
    a: float
    grad_norm: float
    lam_effective: float
    n_iter: int
    converged: bool
    prox_single_valued: bool
    reason: str
    fixed_variance: float | None

    @property
    def estimation_error_trace(self) -> np.ndarray:
        """``||theta*||^2/d - 2 m^t + q^t`` per iterate."""
        return self.teacher_norm - 2 * self.m + self.q


def erm_gamp(sample: ContaminatedRegressionSample, loss, lam: float | None = None, *,
             q: float | None = None, fixed_variance: float | str | None = None, n_iter: int = 500,
             damping: float = 0.3, tol: float = 1e-14, init="auto", seed=0,
             n_threads: int | None = None, progress: bool = False) -> ERMGAMPResult:
    """Run GAMP for ERM (module docs) on a regression sample.

    Parameters
    ----------
    sample : ContaminatedRegressionSample
        Data and planted truth (the truth only serves the reported overlaps).
    loss : Loss or str
        A built-in loss: ``"square"``, ``"absolute"``, ``"huber(a)"``, ``"tukey(tau)"``,
        ``"cauchy(tau)"`` or the corresponding :class:`~hdcore.ingredients.Loss`.
    lam : float, optional
        Ridge strength, any sign. Give exactly one of ``lam`` and ``q``.
    q : float, optional
        Spherical constraint ``||w||^2 = q d``.
    fixed_variance : float or "theory", optional
        Hold ``V`` at this value (``0 < V < max_prox_variance`` of the loss); ``"theory"`` takes
        the ``V`` of :func:`hdcore.theory.erm_fixed_point` for this model (conditional on the
        sample's teacher norm). Default: ``V`` follows the input function.
    n_iter : int
        Maximal number of iterations.
    damping : float in [0, 1)
        Damping of ``g``, ``A`` and of the input-side average of ``w``.
    tol : float
        Stop when ``||w^{t+1} - w^t||^2/d < tol``.
    init : {"auto", "zeros", "convex", "random"} or ndarray
        Start: zeros (ridge) or the direction of ``X^T y`` (sphere); ``"convex"`` first runs this
        GAMP with the Huber loss of the same largest slope ``sup |rho'|`` (and ``max(lam, 0)``)
        and starts from its estimate and variance, the warm start of :func:`erm` (without it
        Tukey at a negative ridge can run away in the first iterations); ``"auto"`` is
        ``"convex"`` for non-convex losses and ``"zeros"`` otherwise; ``"random"`` a small
        Gaussian start from ``seed``. The start variance is the warm start's, else
        ``min(1, max_prox_variance)/2``.
    seed : int or Generator
        Seed of the random start.
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show a tqdm bar on stderr (the loop, and the warm start, run in Rust: the bar completes
        when the call returns).

    Returns
    -------
    ERMGAMPResult
        Check ``converged`` and ``prox_single_valued``: a loop that left the domain of its
        output or input function returns the last estimate inside it, with ``reason``.
    """
    if not isinstance(sample, ContaminatedRegressionSample):
        raise TypeError(f"`sample` must be a ContaminatedRegressionSample, got {type(sample).__name__}")
    loss = get_loss(loss)
    if not isinstance(loss, BuiltinLoss):
        raise TypeError(f"`loss` must be a built-in loss for erm_gamp, got {type(loss).__name__}")
    if (lam is None) == (q is None):
        raise ValueError("give exactly one of `lam` (ridge) and `q` (sphere ||w||^2 = q d)")
    lam = None if lam is None else check_real(lam, "lam")
    q = None if q is None else check_real(q, "q", min=0.0, min_inclusive=False)
    progress = check_progress(progress)
    opts = dict(n_iter=check_int(n_iter, "n_iter", min=0),
                damping=check_real(damping, "damping", min=0.0, max=1.0, max_inclusive=False),
                tol=check_real(tol, "tol", min=0.0))
    fixed = _fixed_variance(fixed_variance, sample, loss, lam, q)
    with progress_bar(progress, total=int(opts["n_iter"]), desc="erm_gamp", unit="iter") as bar:
        w0, v0 = _start(sample, loss, lam, q, init, opts, seed, n_threads)
        raw = _run(sample, loss, lam, q, w0, fixed if fixed is not None else v0,
                   fixed is not None, opts, n_threads)
        bar.update(int(raw["n_iter"]))
    w = np.asarray(raw["estimate"])[:, 0]
    err = sample.errors(w)
    trace = np.asarray(raw["v"])[:, 0, 0]
    grad_norm, lam_eff = _stationarity(sample, loss, lam, w, n_threads)
    reason = raw["stopped"] or ""
    return ERMGAMPResult(estimate=w, m=np.asarray(raw["m"])[:, 0, 0], q=np.asarray(raw["q"])[:, 0, 0],
                         V=trace, teacher_norm=sample.teacher_norm,
                         estimation_error=err.estimation_error,
                         generalisation_error=err.generalisation_error,
                         excess_error=err.excess_error, a=float(np.asarray(raw["a"])[0, 0]),
                         grad_norm=grad_norm, lam_effective=lam_eff, n_iter=int(raw["n_iter"]),
                         converged=bool(raw["converged"]),
                         prox_single_valued=loss.prox_single_valued(float(trace[-1])),
                         reason=reason, fixed_variance=fixed)


def _run(sample, loss: Loss, lam, q, w0, v0, fixed: bool, opts, n_threads) -> dict:
    return _core.gamp_erm(sample.x, sample.y, loss.name, np.ascontiguousarray(w0, dtype=np.float64),
                          float(v0), param=loss.param, lam=lam, q=q, fixed_variance=fixed,
                          truth=sample.theta, n_threads=n_threads, **opts)


def _fixed_variance(value, sample, loss: Loss, lam, q) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value != "theory":
            raise ValueError(f"`fixed_variance` must be a number, 'theory' or None, got {value!r}")
        from hdcore.theory import erm_fixed_point

        fp = erm_fixed_point(sample.model, loss, lam, q=q, teacher_norm=sample.teacher_norm)
        if not fp.valid:
            raise ValueError(f"`fixed_variance='theory'`: the replica-symmetric fixed point is not "
                             f"valid ({fp.reason})")
        return fp.V
    v = check_real(value, "fixed_variance", min=0.0, min_inclusive=False)
    if not loss.prox_single_valued(v):
        raise ValueError(f"`fixed_variance` = {v} makes the prox of the {loss.name} loss multivalued "
                         f"(needs V < {loss.max_prox_variance})")
    return v


def _start(sample, loss: Loss, lam, q, init, opts, seed, n_threads) -> tuple[np.ndarray, float]:
    d = sample.x.shape[1]
    v0 = min(0.5, 0.5 * loss.max_prox_variance)
    if not isinstance(init, str):
        return as_array(init, "init", ndim=1, shape=(d,)), v0
    if init not in ("auto", "zeros", "convex", "random"):
        raise ValueError(f"`init` must be 'auto', 'zeros', 'convex', 'random' or an array, got {init!r}")
    if init == "auto":
        init = "zeros" if loss.convex else "convex"
    if init == "random":
        w0 = 1e-3 * _core.standard_normal(d, as_seed(seed), INIT_DOMAIN)
        return (w0 if q is None else w0 * np.sqrt(q * d) / np.linalg.norm(w0)), v0
    w0 = _plain_start(sample, q, n_threads)
    if init == "zeros":
        return w0, v0
    warm = _run(sample, _warm_loss(loss), None if lam is None else max(lam, 0.0), q, w0, 1.0,
                False, opts, n_threads)
    return np.asarray(warm["estimate"])[:, 0], float(np.asarray(warm["variance"])[0, 0])


def _stationarity(sample, loss: Loss, lam, w, n_threads) -> tuple[float, float]:
    """``(||grad||/sqrt(n), lam_effective)`` of the empirical risk at ``w``."""
    x, y = sample.x, sample.y
    n, d = x.shape
    s = np.sqrt(d)
    _, d1, _ = loss.eval(y - matvec(x, w, n_threads=n_threads) / s)
    grad = -matvec(x, d1, transpose=True, n_threads=n_threads) / s
    lam_eff = lam if lam is not None else -float(w @ grad) / max(float(w @ w), 1e-300)
    return float(np.linalg.norm(grad + lam_eff * w)) / np.sqrt(n), float(lam_eff)
