"""Empirical risk minimisation for (contaminated) linear regression.

``w = argmin_w sum_mu rho(y_mu - <w, x_mu>/sqrt(d)) + (lam/2) ||w||^2`` with ``lam`` of any sign,
or the same loss on the sphere ``||w||^2 = q d`` (Vilucchio et al., arXiv:2502.20003; digest 06,
Sec. 1-2). :func:`hdcore.theory.erm_fixed_point` predicts ``m``, ``q`` and the errors.

Two paths give the same minimiser (a test checks it):

* fast path -- L-BFGS in Rust for the built-in losses (two streaming passes over ``X`` per
  iteration, the line search costs O(n) per trial; see ``rust/kernels/src/erm``);
* open path -- :func:`scipy.optimize.minimize` (L-BFGS-B) in Python with the Rust mat-vecs, for a
  :class:`~hdcore.ingredients.CustomLoss` (or ``open_path=True``).

Both report the final gradient norm, whether the Hessian ``X^T diag(rho'') X/d + lam I`` (tangent
part on the sphere) is positive at the solution -- a local minimum -- and fail with
:class:`~hdcore.errors.NumericalError` when the objective is unbounded below (negative ``lam``
beyond the bottom edge of the spectrum for the square loss; for sub-quadratic losses every
``lam < 0`` is unbounded far from the origin, and the solver returns the local minimum reached
from the start, or fails if the iterates run away).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from hdcore import _core
from hdcore._progress import check_progress, progress_bar
from hdcore._results import Result
from hdcore._validation import as_array, check_int, check_real
from hdcore.errors import NumericalError
from hdcore.ingredients.losses import BuiltinLoss, Cauchy, Huber, Loss, Tukey, get_loss
from hdcore.linalg import matvec, top_eigenpairs
from hdcore.models.regression import ContaminatedRegressionSample
from hdcore.random import as_seed

__all__ = ["erm", "ERMResult"]


@dataclass(frozen=True)
class ERMResult(Result):
    """Output of :func:`erm`.

    Attributes
    ----------
    estimate : ndarray
        The minimiser ``w``.
    m, q : float
        ``<w, theta*>/d`` and ``||w||^2/d``.
    teacher_norm : float
        ``||theta*||^2/d`` of the sample (the theory's ``teacher_norm``).
    estimation_error, generalisation_error, excess_error : float
        As in :mod:`hdcore.models.regression` (``estimation_error = ||w - theta*||^2/d``).
    objective : float
        ``sum rho + (lam/2)||w||^2`` (sphere: ``sum rho``).
    grad_norm : float
        ``||grad||_2/sqrt(n)`` at ``w`` (Riemannian gradient on the sphere).
    converged : bool
        ``grad_norm <= gtol``.
    hessian_min : float
        Smallest Hessian eigenvalue (an upper bound within ``hessian_tol``; NaN if not computed).
    local_minimum : bool or None
        ``hessian_min > 0`` (None if not computed).
    lam_effective : float
        The ridge (sphere: the Lagrange multiplier ``-<w, grad L>/||w||^2``).
    n_iter, n_pass : int
        Iterations, and passes over ``X`` (fast path; -1 on the open path).
    n_restarts : int
        Escapes from saddles.
    message : str
        Why the solver stopped.
    path : str
        ``"rust"`` or ``"python"``.
    """

    estimate: np.ndarray = field(repr=False)
    m: float
    q: float
    teacher_norm: float
    estimation_error: float
    generalisation_error: float
    excess_error: float
    objective: float
    grad_norm: float
    converged: bool
    hessian_min: float
    local_minimum: bool | None
    lam_effective: float
    n_iter: int
    n_pass: int
    n_restarts: int
    message: str
    path: str


def _result(sample: ContaminatedRegressionSample, raw: dict, path: str) -> ERMResult:
    w = np.asarray(raw["w"])
    m, q = sample.overlaps(w)
    err = sample.errors(w)
    h = float(raw["hessian_min"])
    return ERMResult(estimate=w, m=m, q=q, teacher_norm=sample.teacher_norm,
                     estimation_error=err.estimation_error,
                     generalisation_error=err.generalisation_error, excess_error=err.excess_error,
                     objective=float(raw["objective"]), grad_norm=float(raw["grad_norm"]),
                     converged=bool(raw["converged"]), hessian_min=h,
                     local_minimum=None if np.isnan(h) else bool(h > 0),
                     lam_effective=float(raw["lam_effective"]), n_iter=int(raw["n_iter"]),
                     n_pass=int(raw.get("n_pass", -1)), n_restarts=int(raw.get("n_restarts", 0)),
                     message=str(raw["message"]), path=path)


def _warm_loss(loss: Loss) -> Loss:
    """The convex loss a non-convex one is warm-started from (Huber with the same largest slope)."""
    if isinstance(loss, Tukey):
        return Huber(loss.tau * 16 / (25 * np.sqrt(5)))
    if isinstance(loss, Cauchy):
        return Huber(0.5 * loss.tau)
    return Huber(1.0)


def erm(sample: ContaminatedRegressionSample, loss, lam: float | None = None, *, q: float | None = None,
        init="auto", max_iter: int = 2000, gtol: float = 1e-8, history: int = 10,
        max_sq_norm: float = 1e4, hessian_check: bool = True, hessian_tol: float = 1e-2,
        n_restarts: int = 3, open_path: bool = False, seed=0, n_threads: int | None = None,
        progress: bool = False) -> ERMResult:
    """Minimise the empirical risk of a regression sample.

    Parameters
    ----------
    sample : ContaminatedRegressionSample
        Data and planted truth (the truth only serves the reported overlaps).
    loss : Loss or str
        ``"square"``, ``"absolute"``, ``"huber(a)"``, ``"tukey(tau)"``, ``"cauchy(tau)"``, a
        :class:`~hdcore.ingredients.Loss` or a :class:`~hdcore.ingredients.CustomLoss`.
    lam : float, optional
        Ridge strength, any sign. Give exactly one of ``lam`` and ``q``.
    q : float, optional
        Spherical constraint ``||w||^2 = q d``.
    init : {"auto", "zeros", "convex"} or ndarray
        Start: zeros (ridge) or the direction of ``X^T y`` (sphere); ``"convex"`` first solves
        the Huber problem with the same largest slope ``sup |rho'|`` (and ``max(lam, 0)``), the
        warm start of the authors' code for Tukey; ``"auto"`` is ``"convex"`` for non-convex
        losses and ``"zeros"`` otherwise.
    max_iter, gtol, history : int, float, int
        L-BFGS iterations, tolerance on ``||grad||/sqrt(n)``, correction pairs.
    max_sq_norm : float
        ``||w||^2/d`` beyond which the objective is declared unbounded below.
    hessian_check : bool
        Compute the smallest Hessian eigenvalue (Lanczos; costs about as much as the solve).
    hessian_tol : float
        Its relative accuracy.
    n_restarts : int
        Escapes from saddles along the negative-curvature direction.
    open_path : bool
        Use the Python path (scipy L-BFGS-B) even for a built-in loss.
    seed : int or Generator
        Seed of the Lanczos start vector.
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show a tqdm bar of the two stages (warm start, solve) on stderr; each stage is one
        Rust call (or one scipy run), so the bar advances when it returns.

    Returns
    -------
    ERMResult

    Raises
    ------
    NumericalError
        The objective is unbounded below (see the module docs).
    """
    if not isinstance(sample, ContaminatedRegressionSample):
        raise TypeError(f"`sample` must be a ContaminatedRegressionSample, got {type(sample).__name__}")
    loss = get_loss(loss)
    if (lam is None) == (q is None):
        raise ValueError("give exactly one of `lam` (ridge) and `q` (sphere ||w||^2 = q d)")
    lam = None if lam is None else check_real(lam, "lam")
    q = None if q is None else check_real(q, "q", min=0.0, min_inclusive=False)
    opts = dict(max_iter=check_int(max_iter, "max_iter", min=1),
                gtol=check_real(gtol, "gtol", min=0.0, min_inclusive=False),
                history=check_int(history, "history", min=1),
                max_sq_norm=check_real(max_sq_norm, "max_sq_norm", min=0.0, min_inclusive=False),
                hessian_check=bool(hessian_check),
                hessian_tol=check_real(hessian_tol, "hessian_tol", min=0.0, min_inclusive=False),
                n_restarts=check_int(n_restarts, "n_restarts", min=0))
    progress = check_progress(progress)
    d = sample.x.shape[1]
    seed = as_seed(seed)
    fast = isinstance(loss, BuiltinLoss) and not open_path
    if loss.name == "absolute" and not fast:
        raise ValueError("the absolute loss is not differentiable: use the fast path (open_path=False)")
    with progress_bar(progress, total=2, desc="erm", unit="stage") as bar:
        w0 = _start(sample, loss, lam, q, init, opts, seed, n_threads, open_path)
        bar.update(1)
        if fast:
            raw = _core.erm_solve(sample.x, sample.y, loss.name, w0, param=loss.param, lam=lam,
                                  q=q, seed=seed, n_threads=n_threads,
                                  **opts)  # type: ignore[arg-type]
            bar.update(1)
            return _result(sample, raw, "rust")
        if w0.shape != (d,):
            raise ValueError(f"`init` has shape {w0.shape}, expected ({d},)")
        out = _open_path(sample, loss, lam, q, w0, opts, seed, n_threads)
        bar.update(1)
    return _result(sample, out, "python")


def _start(sample, loss, lam, q, init, opts, seed, n_threads, open_path) -> np.ndarray:
    d = sample.x.shape[1]
    if not isinstance(init, str):
        return as_array(init, "init", ndim=1, shape=(d,))
    if init not in ("auto", "zeros", "convex"):
        raise ValueError(f"`init` must be 'auto', 'zeros', 'convex' or an array, got {init!r}")
    if init == "auto":
        init = "zeros" if loss.convex else "convex"
    if init == "convex":
        warm = _warm_loss(loss)
        kw = dict(opts, hessian_check=False)
        if q is None:
            res = erm(sample, warm, max(lam, 0.0), init="zeros", open_path=open_path, seed=seed,
                      n_threads=n_threads, **kw)
        else:
            res = erm(sample, warm, q=q, init="zeros", open_path=open_path, seed=seed,
                      n_threads=n_threads, **kw)
        return res.estimate
    return _plain_start(sample, q, n_threads)


def _plain_start(sample, q, n_threads) -> np.ndarray:
    """Zeros (ridge) or the direction of ``X^T y`` (sphere ``q``)."""
    d = sample.x.shape[1]
    if q is None:
        return np.zeros(d)
    w = matvec(sample.x, sample.y, transpose=True, n_threads=n_threads)
    return w if np.any(w) else np.ones(d)


def _open_path(sample, loss: Loss, lam, q, w0, opts, seed, n_threads) -> dict:
    x, y = sample.x, sample.y
    n, d = x.shape
    s = np.sqrt(d)
    radius = None if q is None else np.sqrt(q * d)
    lam_r = 0.0 if lam is None else lam

    def unbounded(w):
        return NumericalError(f"numerical failure in erm: the objective is unbounded below: ||w||^2/d = "
                              f"{float(w @ w) / d:.3e} exceeded max_sq_norm = {opts['max_sq_norm']} "
                              f"(lam = {lam})")

    class _Escape(Exception):
        pass

    def data_term(w):
        if not np.all(np.isfinite(w)) or float(w @ w) / d > opts["max_sq_norm"]:
            raise _Escape(w)
        r = y - matvec(x, w, n_threads=n_threads) / s
        v, d1, _ = loss.eval(r)
        return float(np.sum(v)), -matvec(x, d1, transpose=True, n_threads=n_threads) / s

    if radius is None:
        def fun(w):
            f, g = data_term(w)
            return f + 0.5 * lam_r * float(w @ w), g + lam_r * w
        start = w0
    else:
        def fun(u):  # w = radius u/||u||
            nu = np.linalg.norm(u)
            w = radius * u / nu
            f, g = data_term(w)
            return f, (radius / nu) * (g - (w @ g) / (radius**2) * w)
        start = w0 * (radius / np.linalg.norm(w0))
    pgtol = opts["gtol"] * np.sqrt(n / d)
    try:
        res = minimize(fun, start, jac=True, method="L-BFGS-B",
                       options={"maxiter": opts["max_iter"], "gtol": pgtol, "ftol": 1e-15,
                                "maxcor": opts["history"]})
    except _Escape as e:
        with np.errstate(over="ignore", invalid="ignore"):
            raise unbounded(np.nan_to_num(e.args[0], nan=np.inf)) from None
    w = res.x if radius is None else radius * res.x / np.linalg.norm(res.x)
    try:
        f, gl = data_term(w)
    except _Escape:
        raise unbounded(w) from None
    if radius is None:
        g, lam_eff, f = gl + lam_r * w, lam_r, f + 0.5 * lam_r * float(w @ w)
    else:
        lam_eff = -float(w @ gl) / radius**2
        g = gl + lam_eff * w
    if not np.isfinite(f):
        raise unbounded(w)
    hmin = np.nan
    if opts["hessian_check"] or (loss.grows_quadratically and lam_r < 0):
        _, _, d2 = loss.eval(y - matvec(x, w, n_threads=n_threads) / s)
        u = w / np.linalg.norm(w) if radius is not None and np.any(w) else None

        # on the sphere: P H P on the tangent space, and a large eigenvalue (above the tangent
        # spectrum, bounded by n/d max rho'' ~ (1 + sqrt(n/d))^2) on the radial direction
        radial = 10.0 * (1 + np.sqrt(n / d)) ** 2 * max(1.0, float(np.max(np.abs(d2)))) + abs(lam_eff)

        def neg_h(v):
            vt = v if u is None else v - (u @ v) * u
            hv = matvec(x, d2 * matvec(x, vt, n_threads=n_threads), transpose=True, n_threads=n_threads) / d
            hv = hv + lam_eff * vt
            if u is not None:
                hv = hv - (u @ hv) * u + radial * (u @ v) * u
            return -hv

        top = top_eigenpairs(neg_h, 1, n=d, seed=seed, tol=opts["hessian_tol"], raise_on_failure=False)
        hmin = -float(top.values[0])
        if loss.grows_quadratically and radius is None and hmin < 0:
            raise NumericalError(f"numerical failure in erm: the objective is unbounded below: the "
                                 f"Hessian has the negative eigenvalue {hmin:.6e} (lam = {lam})")
    gn = float(np.linalg.norm(g)) / np.sqrt(n)
    return {"w": w, "objective": f, "grad_norm": gn, "converged": gn <= opts["gtol"],
            "hessian_min": hmin, "lam_effective": lam_eff, "n_iter": int(res.nit), "n_pass": -1,
            "n_restarts": 0, "message": str(res.message)}
