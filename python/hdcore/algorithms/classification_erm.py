"""Empirical risk minimisation for binary classification with a ridge.

``w = argmin_w sum_mu l(y_mu <w, x_mu>/sqrt(d)) + (lam/2) ||w||^2`` for the margin losses of
:mod:`hdcore.ingredients.classification_losses`; :func:`hdcore.theory.classification_fixed_point`
predicts ``m``, ``q`` and the errors.

Solver: the Rust ERM kernel (``rust/kernels/src/erm``). The logistic, hinge and squared-hinge
losses run in their residual form on the design ``diag(y) X`` with labels 0 (a copy of ``X``
with its rows signed), by L-BFGS for the smooth losses and, for the hinge, by L-BFGS on its
Huber smoothing with the smoothing width decreased ``1, 0.1, 0.01, 1e-3`` (the minimiser moves
by ``O(1e-3)``; the smoothed objective exceeds the exact one by at most ``1e-3/2`` per sample).
The square loss runs as least squares on ``(X, y)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, progress_bar
from hdcore._results import Result
from hdcore._validation import check_instance, check_int, check_real
from hdcore.ingredients.classification_losses import get_classification_loss
from hdcore.linalg import matvec
from hdcore.models.classification import BinaryClassificationSample

__all__ = ["classification_erm", "ClassificationERMResult"]


@dataclass(frozen=True)
class ClassificationERMResult(Result):
    """Output of :func:`classification_erm`.

    Attributes
    ----------
    estimate : ndarray
        The minimiser ``w``.
    m, q : float
        ``<w, theta*>/d`` and ``||w||^2/d``.
    teacher_norm : float
        ``||theta*||^2/d`` of the sample.
    training_loss : float
        ``(1/n) sum_mu l(y_mu z_mu)`` (without the ridge).
    training_error : float
        Fraction of training samples with ``y_mu z_mu < 0``.
    generalisation_error, angle : float
        As in :mod:`hdcore.models.classification`, from ``m``, ``q`` and the teacher norm.
    objective : float
        ``sum l + (lam/2)||w||^2`` (for the hinge: of the final smoothed loss).
    grad_norm : float
        ``||grad||_2/sqrt(n)`` at ``w`` (of the final smoothed loss for the hinge).
    converged : bool
        ``grad_norm <= gtol``.
    n_iter : int
        L-BFGS iterations (all smoothing stages).
    message : str
        Why the solver stopped.
    """

    estimate: np.ndarray = field(repr=False)
    m: float
    q: float
    teacher_norm: float
    training_loss: float
    training_error: float
    generalisation_error: float
    angle: float
    objective: float
    grad_norm: float
    converged: bool
    n_iter: int
    message: str


def classification_erm(sample: BinaryClassificationSample, loss, lam: float, *, max_iter: int = 5000,
                       gtol: float = 1e-8, history: int = 10, max_sq_norm: float = 1e4,
                       n_threads: int | None = None,
                       progress: bool = False) -> ClassificationERMResult:
    """Minimise the regularised empirical risk of a classification sample.

    Parameters
    ----------
    sample : BinaryClassificationSample
        Data and planted truth (the truth only serves the reported overlaps).
    loss : ClassificationLoss or str
        ``"logistic"``, ``"hinge"``, ``"square_hinge"`` or ``"square"``.
    lam : float
        Ridge strength, ``> 0`` (at ``lam = 0`` the logistic and hinge minimisers do not exist
        on separable data).
    max_iter, gtol, history : int, float, int
        L-BFGS iterations, tolerance on ``||grad||/sqrt(n)``, correction pairs.
    max_sq_norm : float
        ``||w||^2/d`` beyond which the solver stops with an error (the objective decreases
        without bound, e.g. separable data at a tiny ``lam``).
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show a tqdm bar on stderr (the solve is one Rust call: the bar completes when it
        returns).

    Returns
    -------
    ClassificationERMResult

    Raises
    ------
    hdcore.NumericalError
        ``||w||^2/d`` exceeded ``max_sq_norm``.
    """
    check_instance(sample, "sample", BinaryClassificationSample)
    loss = get_classification_loss(loss)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", min=1)
    gtol = check_real(gtol, "gtol", min=0.0, min_inclusive=False)
    history = check_int(history, "history", min=1)
    max_sq_norm = check_real(max_sq_norm, "max_sq_norm", min=0.0, min_inclusive=False)
    progress = check_progress(progress)
    x, y = sample.x, sample.y
    n, d = x.shape
    if loss.name == "square":
        design, target = x, y
    else:
        design, target = x * y[:, None], np.zeros(n)
    with progress_bar(progress, total=1, desc="classification_erm", unit="solve") as bar:
        raw = _core.erm_solve(design, target, "square" if loss.name == "square" else loss.name,
                              np.zeros(d), lam=lam, max_iter=max_iter, gtol=gtol, history=history,
                              max_sq_norm=max_sq_norm, hessian_check=False, hessian_tol=1e-2,
                              n_restarts=0, seed=0, n_threads=n_threads)
        bar.update(1)
    w = np.asarray(raw["w"])
    margins = y * matvec(x, w, n_threads=n_threads) / np.sqrt(d)
    m, q = sample.overlaps(w)
    err = sample.errors(w)
    return ClassificationERMResult(
        estimate=w, m=m, q=q, teacher_norm=sample.teacher_norm,
        training_loss=float(np.mean(loss.value(margins))), training_error=float(np.mean(margins < 0)),
        generalisation_error=err.generalisation_error, angle=err.angle,
        objective=float(raw["objective"]), grad_norm=float(raw["grad_norm"]),
        converged=bool(raw["converged"]), n_iter=int(raw["n_iter"]), message=str(raw["message"]))
