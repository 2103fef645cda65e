"""The lasso and the elastic net on a linear sample (compressed sensing).

``w = argmin_w (1/2) ||y - X w||^2 + lam1 ||w||_1 + (lam2/2) ||w||^2``

in the :class:`~hdcore.models.MultiIndex` normalisation (rows ``x_mu ~ N(0, I_d/d)``), the
normalisation of the replica fixed points :func:`hdcore.theory.lasso_fixed_point` and
:func:`hdcore.theory.elastic_net_fixed_point`, which predict ``m``, ``q`` and the errors.

Solver: cyclic coordinate descent on an active set in Rust (``rust/kernels/src/erm/elastic_net.rs``;
Friedman, Hastie & Tibshirani, J. Stat. Softw. 33(1), 2010, Eq. (5) and Sec. 2.6). It stops when
every KKT violation is at most ``tol * lam_max`` (``lam_max = ||X^T y||_inf``, the smallest
``lam1`` with ``w = 0``), checked on the exact residual of the returned ``w``. The sweeps are
sequential; the full passes (transposition of ``X``, KKT check, residual) run on the thread
pool, and the result is bit-identical for any number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._progress import progress_bar
from hdcore._validation import check_int, check_real
from hdcore._results import Result
from hdcore.models.multi_index import MultiIndexSample

__all__ = ["lasso", "LassoResult"]


@dataclass(frozen=True)
class LassoResult(Result):
    """Output of :func:`lasso`.

    Attributes
    ----------
    estimate : ndarray
        The minimiser ``w`` (length ``d``).
    lam1, lam2 : float
        The l1 penalty and the ridge.
    m, q : float
        ``<w, w*>/d`` and ``||w||^2/d`` (NaN without a planted ``w*``).
    estimation_error : float
        ``||w - w*||^2/d`` (NaN without a planted ``w*``).
    sparsity : float
        Fraction of non-zero entries of ``w``.
    objective : float
        ``(1/2)||y - X w||^2 + lam1 ||w||_1 + (lam2/2)||w||^2``.
    kkt : float
        Largest violation of the optimality conditions divided by ``lam_max`` (0 at the exact
        minimiser).
    lam_max : float
        ``||X^T y||_inf``, the smallest ``lam1`` for which ``w = 0``.
    converged : bool
        ``kkt <= tol``.
    n_sweeps : int
        Coordinate-descent sweeps over the active set.
    n_check : int
        Full passes that checked the optimality conditions.
    message : str
        Why the solver stopped.
    """

    estimate: np.ndarray = field(repr=False)
    lam1: float
    lam2: float
    m: float
    q: float
    estimation_error: float
    sparsity: float
    objective: float
    kkt: float
    lam_max: float
    converged: bool
    n_sweeps: int
    n_check: int
    message: str


def lasso(sample, lam1: float, *, lam2: float = 0.0, tol: float = 1e-9, max_sweeps: int = 100_000,
          w0=None, n_threads: int | None = None, progress: bool = False) -> LassoResult:
    """Minimise ``(1/2)||y - X w||^2 + lam1 ||w||_1 + (lam2/2)||w||^2`` (lasso, elastic net).

    Parameters
    ----------
    sample : MultiIndexSample or tuple of (ndarray, ndarray)
        A linear sample with one index (``p = 1``; its teacher serves the reported overlaps),
        or a pair ``(x, y)`` of an ``n x d`` design (float64 or float32) and ``n`` labels.
    lam1 : float
        The l1 penalty, ``>= 0``.
    lam2 : float, default 0
        The ridge, ``>= 0`` (the elastic net for ``lam2 > 0``). With ``lam1 = lam2 = 0`` and
        ``n < d`` the minimiser is not unique: the solver returns one of them.
    tol : float, default 1e-9
        Stop when every KKT violation is at most ``tol * lam_max``.
    max_sweeps : int, default 100000
        Maximal number of coordinate sweeps; not converging is reported by ``converged``.
    w0 : array_like, optional
        Starting point (default zeros; a warm start along a path of ``lam1``).
    n_threads : int, optional
        Threads of the full passes (the result does not depend on it).
    progress : bool, default False
        Show a progress bar (it completes when the Rust solver returns).

    Returns
    -------
    LassoResult

    Raises
    ------
    ValueError
        A negative or non-finite penalty, shapes that do not match, NaN in the data, a sample
        with ``p != 1``.
    TypeError
        ``sample`` is neither a :class:`MultiIndexSample` nor a pair of arrays.

    References
    ----------
    J. Friedman, T. Hastie, R. Tibshirani, "Regularization paths for generalized linear models
    via coordinate descent", J. Stat. Softw. 33(1), 2010.

    Examples
    --------
    >>> import hdcore
    >>> s = hdcore.models.MultiIndex(d=400, alpha=0.5, p=1, link="linear",
    ...                              prior="gauss_bernoulli(0.1)", noise=1e-4).sample(0)
    >>> res = hdcore.algorithms.lasso(s, lam1=1e-2)
    >>> res.converged, res.estimation_error < 0.05
    (True, True)
    """
    if isinstance(sample, MultiIndexSample):
        if sample.w.shape[1] != 1:
            raise ValueError(f"`sample`: the lasso needs one index (p = 1), got p = {sample.w.shape[1]}")
        x, y, wstar = sample.x, sample.y, sample.w[:, 0]
    elif isinstance(sample, tuple) and len(sample) == 2:
        x, y = sample
        wstar = None
    else:
        raise TypeError(f"`sample` must be a MultiIndexSample or a pair (x, y), got {type(sample).__name__}")
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype not in (np.float64, np.float32):
        raise TypeError("`x` must be a 2-D float64 or float32 numpy array")
    x = np.ascontiguousarray(x)
    n, d = x.shape
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.shape != (n,):
        raise ValueError(f"`y` has shape {y.shape}, expected ({n},) (the rows of `x`)")
    lam1 = check_real(lam1, "lam1", min=0.0)
    lam2 = check_real(lam2, "lam2", min=0.0)
    tol = check_real(tol, "tol", min=0.0, min_inclusive=False)
    max_sweeps = check_int(max_sweeps, "max_sweeps", min=1)
    w0 = np.zeros(d) if w0 is None else np.ascontiguousarray(w0, dtype=np.float64)
    if w0.shape != (d,):
        raise ValueError(f"`w0` has shape {w0.shape}, expected ({d},) (the columns of `x`)")
    with progress_bar(progress, total=1, desc="lasso", unit="solve") as bar:
        raw = _core.elastic_net_solve(x, y, w0, lam1=lam1, lam2=lam2, tol=tol,
                                      max_sweeps=max_sweeps, n_threads=n_threads)
        bar.update(1)
    w = np.asarray(raw["w"])
    if wstar is None:
        m = est = float("nan")
    else:
        m = float(w @ wstar) / d
        est = float(np.mean((w - wstar) ** 2))
    return LassoResult(
        estimate=w, lam1=lam1, lam2=lam2, m=m, q=float(w @ w) / d, estimation_error=est,
        sparsity=int(raw["n_nonzero"]) / d, objective=float(raw["objective"]),
        kkt=float(raw["kkt"]), lam_max=float(raw["lam_max"]), converged=bool(raw["converged"]),
        n_sweeps=int(raw["n_sweeps"]), n_check=int(raw["n_check"]), message=str(raw["message"]))
