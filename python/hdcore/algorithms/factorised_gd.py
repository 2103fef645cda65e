"""Baselines for matrix sensing: gradient descent on the factorised model (single runs and the
average over random initialisations), the minimal nuclear-norm estimator and ridge regression.

Gradient descent (MTM+24 Sec. 5, ETB+24 Sec. 5): full-batch GD on
``L = (1/2n) sum_mu (y_mu - <A_mu, S>)^2`` over the factors of ``S = W^T W / m`` (symmetric) or
``S = V U / sqrt(r)`` (rectangular), in the Rust core. The learning rate is dimensionless: the
gradient is rescaled so that one step moves ``S`` by ``O(lr)`` times the residual (symmetric:
``W <- W + lr W (S* - S)`` in the population limit). "Averaged GD" averages the final ``S`` of
``n_inits`` runs from independent Gaussian initialisations on the same data; in the noiseless
case the papers observe that it approaches the Bayes-optimal error while single runs have about
twice that error.

Minimal nuclear norm: ``argmin ||S||_* s.t. A(S) = y`` (trace norm on the PSD cone for the
Wishart prior), approximated by FISTA on ``(1/2)||y - A(S)||^2 + lam ||S||_*`` with ``lam``
decreased geometrically (continuation); spectral soft-thresholding uses the Rust
eigendecomposition / SVD. Meant for small sizes (the authors used cvxpy at ``D <= 20``).

Ridge: ``argmin ||y - A(S)||^2 + lam ||S||_F^2`` on the vectorised design (small sizes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, progress_bar
from hdcore._results import Result
from hdcore._validation import check_int, check_real
from hdcore.models.matrix_sensing import MatrixSensingSample
from hdcore.random import as_seed

__all__ = ["GDResult", "NuclearNormResult", "RidgeResult", "factorised_gd", "nuclear_norm", "ridge"]


def _check_sample(sample):
    if not isinstance(sample, MatrixSensingSample):
        raise TypeError(f"`sample` must be a MatrixSensingSample, got {type(sample).__name__}")
    return sample.sensing


@dataclass(frozen=True)
class GDResult(Result):
    """Output of :func:`factorised_gd`.

    Attributes
    ----------
    estimate : ndarray
        Average of the final ``S`` over the ``n_inits`` runs (the single run if ``n_inits=1``).
    mse : float
        Error of ``estimate``.
    single_mse : float
        Error of the first run.
    run_mse : ndarray
        Final error of every run.
    averaged_mse : ndarray
        Error of the average of the first ``k`` runs, ``k = 1..n_inits``.
    steps, loss, mse_trace : ndarray
        Training loss and error of the first run at the recorded steps.
    n_steps : int
        Steps of the first run.
    converged : bool
        Whether the first run reached the loss tolerance.
    """

    estimate: np.ndarray = field(repr=False)
    mse: float
    single_mse: float
    run_mse: np.ndarray
    averaged_mse: np.ndarray = field(repr=False)
    steps: np.ndarray = field(repr=False)
    loss: np.ndarray = field(repr=False)
    mse_trace: np.ndarray = field(repr=False)
    n_steps: int
    converged: bool


def factorised_gd(sample: MatrixSensingSample, *, width: int | None = None, n_inits: int = 1,
                  lr: float = 0.2, n_steps: int = 2000, tol: float = 1e-12,
                  weight_decay: float = 0.0, init_scale: float = 1.0, record_every: int = 10,
                  seed=0, n_threads: int | None = None, progress: bool = False) -> GDResult:
    """Gradient descent on the factorised model, averaged over ``n_inits`` initialisations.

    Parameters
    ----------
    sample : MatrixSensingSample
        The data.
    width : int, optional
        Width of the learner (``m`` or ``r``); default: the teacher's.
    n_inits : int
        Independent initialisations (run ``k`` uses the streams ``(seed, GD_INIT, k, .)``).
    lr : float
        Dimensionless learning rate.
    n_steps : int
        Maximal steps per run.
    tol : float
        Stop a run when its training loss is below ``tol``.
    weight_decay : float
        L2 penalty on the factors.
    init_scale : float
        Standard deviation of the initial factor entries.
    record_every : int
        Trace resolution of the first run.
    seed : int or Generator
        Seed of the initialisations.
    n_threads : int, optional
        Threads of the Rust kernel.
    progress : bool
        Show a tqdm bar on stderr (all runs happen in one Rust call: the bar completes when
        the call returns).

    Returns
    -------
    GDResult
    """
    progress = check_progress(progress)
    m = _check_sample(sample)
    width = m.width if width is None else check_int(width, "width", min=1)
    n_inits = check_int(n_inits, "n_inits", min=1)
    n_steps = check_int(n_steps, "n_steps", min=0)
    init_scale = check_real(init_scale, "init_scale", min=0.0, min_inclusive=False)
    lr = check_real(lr, "lr", min=0.0, min_inclusive=False)
    tol = check_real(tol, "tol", min=0.0)
    weight_decay = check_real(weight_decay, "weight_decay", min=0.0)
    record_every = check_int(record_every, "record_every", min=1)
    with progress_bar(progress, total=n_inits, desc="factorised_gd", unit="init") as bar:
        raw = _core.factorised_gd(
            m.operator_kind, sample.y, width, init_seed=as_seed(seed), n_inits=n_inits,
            init_scale=init_scale, truth=sample.s, lr=lr, n_steps=n_steps, tol=tol,
            weight_decay=weight_decay, record_every=record_every, n_threads=n_threads,
            **sample.operator_kwargs())
        bar.update(n_inits)
    est = raw["estimate"]
    single = sample.error(raw["single_estimate"])
    run_mse = np.asarray(raw.get("run_mse", [single]), dtype=float)
    return GDResult(estimate=est, mse=sample.error(est), single_mse=single, run_mse=run_mse,
                    averaged_mse=np.asarray(raw.get("averaged_mse", [single]), dtype=float),
                    steps=np.asarray(raw["steps"]), loss=np.asarray(raw["loss"]),
                    mse_trace=np.asarray(raw["mse"]), n_steps=int(raw["n_steps"]),
                    converged=bool(raw["converged"]))


@dataclass(frozen=True)
class NuclearNormResult(Result):
    """Output of :func:`nuclear_norm`.

    Attributes
    ----------
    estimate : ndarray
        The final iterate.
    mse : float
        Its error.
    test_error : float
        ``E (<A, S*> - <A, S_hat>)^2`` for a fresh sensing matrix: ``c mse`` with ``c = 2``
        (symmetric) or ``1`` (rectangular), the test error of the network without label noise.
    residual, train_error : float
        The mean squared residual ``||y - A(S)||^2 / n`` (the same number under two names).
    rank_fraction : float
        Fraction of eigenvalues (singular values) of ``estimate`` above ``1e-9`` times the
        largest in absolute value.
    objective : float
        ``(1/2) ||y - A(S)||^2 + lam ||S||_*`` (``lam Tr S`` for ``psd``) at the final penalty.
    n_iter : int
        FISTA iterations performed.
    """

    estimate: np.ndarray = field(repr=False)
    mse: float
    test_error: float
    residual: float
    train_error: float
    rank_fraction: float
    objective: float
    n_iter: int


def spectrum(s: np.ndarray, symmetric: bool) -> np.ndarray:
    """Eigenvalues of a symmetric ``s`` (of ``(s + s^T)/2``), singular values otherwise."""
    if symmetric:
        return np.linalg.eigvalsh(0.5 * (s + s.T))
    return np.linalg.svd(s, compute_uv=False)


def rank_fraction(values: np.ndarray) -> float:
    """Fraction of ``values`` whose modulus exceeds ``1e-9`` times the largest."""
    a = np.abs(np.asarray(values, dtype=float))
    top = float(a.max()) if a.size else 0.0
    return float(np.mean(a > 1e-9 * top)) if top > 0 else 0.0


def nuclear_objective(residual: np.ndarray, values: np.ndarray, lam: float, psd: bool) -> float:
    """``(1/2) ||residual||^2 + lam penalty``, the penalty ``sum values`` (trace, ``psd``) or
    ``sum |values|`` (nuclear norm) of the spectrum ``values``."""
    pen = float(np.sum(values)) if psd else float(np.sum(np.abs(values)))
    return 0.5 * float(np.sum(residual**2)) + lam * pen


def nuclear_norm(sample: MatrixSensingSample, *, lam: float | None = None, n_iter: int = 2000,
                 lam_min: float = 1e-6, decay: float = 0.98, tol: float = 1e-10,
                 psd: bool | None = None, step: float | None = None,
                 n_threads: int | None = None, progress: bool = False) -> NuclearNormResult:
    """Minimal nuclear-norm estimator (noiseless) or nuclear-norm-penalised least squares.

    Parameters
    ----------
    lam : float, optional
        Penalty. ``None``: continuation from ``||A^T y||_op`` down to ``lam_min`` times it
        (factor ``decay`` per iteration), approximating ``min ||S||_* s.t. A(S) = y``.
    psd : bool, optional
        Restrict to PSD matrices (trace norm); default for the Wishart prior.
    n_iter, tol : int, float
        FISTA iterations and relative-change tolerance.
    step : float, optional
        FISTA's step; default ``1 / (1.05 ||A^T A||)`` (30 power iterations from a Gaussian
        start on the design's seed).
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show a tqdm bar of the FISTA iterations on stderr (the Rust loop then runs in chunks
        of 25 iterations).

    Returns
    -------
    NuclearNormResult

    See Also
    --------
    hdcore.algorithms.nuclear_norm_gamp : the same minimiser (fixed ``lam``, symmetric) by GAMP.
    """
    m = _check_sample(sample)
    psd = m.symmetric if psd is None else bool(psd)
    n_iter = check_int(n_iter, "n_iter", min=1)
    tol = check_real(tol, "tol", min=0.0)
    progress = check_progress(progress)
    aty = sample.adjoint(sample.y, n_threads=n_threads)
    top = float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (aty + aty.T))))) if m.symmetric else \
        float(_core.svd(np.ascontiguousarray(aty), False, n_threads)[1][0])
    fixed = lam is not None
    lam_t = check_real(lam, "lam", min=0.0) if fixed else top
    floor = lam_t if fixed else check_real(lam_min, "lam_min", min=0.0) * top
    decay = 1.0 if fixed else check_real(decay, "decay", min=0.0, max=1.0)
    if decay == 0.0:
        raise ValueError("`decay` must be in (0, 1], got 0")
    # the whole FISTA loop runs in Rust (sensing::fista); a progress bar runs it in chunks
    step = None if step is None else check_real(step, "step", min=0.0)
    if step == 0.0:
        raise ValueError("`step` must be > 0, got 0")
    state: dict[str, Any] = {"estimate": np.zeros((m.d1, m.d2)), "z": None, "t": 1.0, "lam": lam_t,
             "step": step}
    chunk = max(1, min(n_iter, 25)) if progress else n_iter
    it = 0
    with progress_bar(progress, total=n_iter, desc="nuclear_norm", unit="iter") as bar:
        while it < n_iter:
            state = _core.nuclear_norm_fista(
                m.operator_kind, sample.y, state["lam"], state["estimate"], x=sample.x,
                seed=sample.design_seed, d1=m.d1, d2=m.d2, z=state["z"], t=state["t"],
                step=state["step"], lam_floor=floor, decay=decay, psd=psd and m.symmetric,
                n_iter=min(chunk, n_iter - it), tol=tol, n_threads=n_threads)
            it += state["n_iter"]
            bar.update(state["n_iter"])
            if state["converged"]:
                break
    x, lam_t = state["estimate"], state["lam"]
    res = sample.forward(x, n_threads=n_threads) - sample.y
    values = spectrum(x, m.symmetric)
    train = float(np.mean(res**2))
    mse = sample.error(x)
    return NuclearNormResult(estimate=x, mse=mse, test_error=(2.0 if m.symmetric else 1.0) * mse,
                             residual=train, train_error=train,
                             rank_fraction=rank_fraction(values),
                             objective=nuclear_objective(res, values, lam_t, psd and m.symmetric),
                             n_iter=it)


@dataclass(frozen=True)
class RidgeResult(Result):
    """Output of :func:`ridge`."""

    estimate: np.ndarray = field(repr=False)
    mse: float
    lam: float


def ridge(sample: MatrixSensingSample, lam: float | None = None) -> RidgeResult:
    """Ridge regression on the vectorised sensing matrices (``n x d1 d2`` design; small sizes).

    ``lam = None`` uses the label-noise variance (the Bayes-optimal choice for an i.i.d.
    Gaussian prior with unit variance per entry of ``S_bar``; ETB+24 ridge baseline).

    Parameters
    ----------
    sample : MatrixSensingSample
        The data (``n * d1 * d2 <= 4e7``: the design is materialised).
    lam : float, optional
        Ridge penalty ``>= 0`` (floored at ``1e-12``); default the label-noise variance.

    Returns
    -------
    RidgeResult
        The estimate (``d1 x d2``), its error (:meth:`MatrixSensingSample.error`) and ``lam``.

    Raises
    ------
    TypeError
        ``sample`` is not a ``MatrixSensingSample``, or ``lam`` is not a real number.
    ValueError
        The problem is too large, or ``lam`` is negative or not finite.

    Examples
    --------
    >>> from hdcore.models import MatrixSensing
    >>> sample = MatrixSensing(8, 8, 2.0, "wishart(0.5)").sample(seed=0)
    >>> ridge(sample).mse < 1e-6  # noiseless, n > d1 d2: the linear system is determined
    True

    References
    ----------
    Erba, Troiani, Biggio, Maillard & Zdeborova, "Bilinear sequence regression",
    arXiv:2410.18858 (2024) (ETB+24). Maillard, Troiani, Martin, Krzakala & Zdeborova,
    arXiv:2408.03733 (2024) (MTM+24).
    """
    m = _check_sample(sample)
    if m.n * m.d1 * m.d2 > 4e7:
        raise ValueError("ridge materialises the n x d1 d2 design; this problem is too large")
    lam = m.noise if lam is None else check_real(lam, "lam", min=0.0)
    a = sample.design().reshape(m.n, -1)
    # prior precision per entry of S: 1 (entry units) or d (spectral units, S = S_bar/sqrt(d))
    scale = m.d1 * m.d2 / m.units
    gram = a.T @ a + max(lam, 1e-12) * scale * np.eye(a.shape[1])
    est = np.linalg.solve(gram, a.T @ sample.y).reshape(m.d1, m.d2)
    return RidgeResult(estimate=est, mse=sample.error(est), lam=lam)
