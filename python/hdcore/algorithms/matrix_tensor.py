"""Algorithms on the spiked matrix-tensor model (:class:`~hdcore.models.SpikedMatrixTensor`).

* :func:`matrix_tensor_amp` (also ``hdcore.algorithms.amp(sample)``): Bayes-AMP on the four
  factors, or spherical ML-AMP -- the multi-factor engine of
  :mod:`hdcore.algorithms.low_rank_amp` with a matrix channel on ``(u, v)`` (scale
  ``1/sqrt(N1)``) and a tensor channel on ``(u, x, y)`` (scale ``1/N1``).
* :func:`joint_gd`: gradient descent on the joint likelihood
  ``L = |Y_m - u v^T/sqrt(N1)|^2/(2 delta_m) + |Y_t - u x y/N1|^2/(2 delta_t)``, on the spheres
  ``|w_k|^2 = N_k`` (projected GD) or with a ridge penalty from a small start -- the joint ERM
  of the paper (arXiv:2506.02664, Sec. 4).
* :func:`curriculum`: sequential spectral curriculum -- top singular pair of ``Y_m``, then of
  ``M = Y_t(e, ., .)`` with ``e = u_hat/|u_hat|`` -- optionally refined by Bayes-AMP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, progress_bar, track
from hdcore._results import Result
from hdcore._validation import check_choice, check_instance, check_int, check_iteration, check_real
from hdcore.algorithms.amp import amp
from hdcore.algorithms.low_rank_amp import (
    Factor,
    _cos2,
    LowRankAMPResult,
    MatrixChannel,
    TensorChannel,
    low_rank_amp,
    spherical_denoiser,
)
from hdcore.errors import NumericalError
from hdcore.linalg import matvec, top_eigenpairs
from hdcore.models.matrix_tensor import FACTORS, SpikedMatrixTensorSample
from hdcore.random import as_seed

__all__ = ["matrix_tensor_amp", "joint_gd", "JointGDResult", "curriculum", "CurriculumResult",
           "tensor3_contract"]


def tensor3_contract(t, u, x, y, *, n_threads: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(T(., x, y), T(u, ., y), T(u, x, .))`` of a 3-tensor in one pass (Rust, parallel,
    bit-identical for any number of threads).

    Parameters
    ----------
    t : ndarray, shape (n1, n3, n4), float64 or float32, C order
    u, x, y : ndarray of float64
        Vectors of lengths ``n1``, ``n3``, ``n4``.
    n_threads : int, optional

    Returns
    -------
    tuple of three ndarrays
        ``a_i = sum_jk t_ijk x_j y_k``, ``b_j = sum_ik u_i t_ijk y_k``,
        ``c_k = sum_ij u_i t_ijk x_j``.
    """
    return _core.tensor3_contract(t, _vec(u, "u"), _vec(x, "x"), _vec(y, "y"),
                                  n_threads=n_threads)


def _vec(v, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(v, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D, got shape {arr.shape}")
    return arr


def _channels(sample: SpikedMatrixTensorSample, n_threads):
    model = sample.model
    n1 = model.n1
    chans: list = []
    if sample.y_m is not None:
        chans.append(MatrixChannel(y=sample.y_m, rows="u", cols="v", scale=n1**-0.5,
                                   delta=model.delta_m, n_threads=n_threads))
    if sample.y_t is not None:
        chans.append(TensorChannel(t=sample.y_t, modes=("u", "x", "y"), scale=1.0 / n1,
                                   delta=model.delta_t, n_threads=n_threads))
    return chans


def _init(sample: SpikedMatrixTensorSample, init, seed) -> dict[str, np.ndarray]:
    dims = dict(zip(FACTORS, sample.model.dims))
    if isinstance(init, str):
        init = check_choice(init, "init", ("random", "informative"))
        if init == "informative":
            return {k: np.array(v) for k, v in sample.factors.items()}
        s = as_seed(seed)
        return {k: 1e-3 * _core.standard_normal(n, s + i, 4) for i, (k, n) in
                enumerate(dims.items())}
    if not isinstance(init, dict):
        raise TypeError("`init` must be 'random', 'informative' or a dict of start vectors")
    unknown = set(init) - set(FACTORS)
    if unknown:
        raise ValueError(f"`init` has unknown factors {sorted(unknown)}; expected {FACTORS}")
    s = as_seed(seed)
    out = {}
    for i, (k, n) in enumerate(dims.items()):
        if k in init:
            w = np.asarray(init[k], dtype=np.float64)
            if w.shape != (n,):
                raise ValueError(f"`init[{k!r}]` must have shape ({n},), got {w.shape}")
            out[k] = w.copy()
        else:
            out[k] = 1e-3 * _core.standard_normal(n, s + i, 4)
    return out


def matrix_tensor_amp(sample: SpikedMatrixTensorSample, *, n_iter: int = 300,
                      damping: float = 0.5, tol: float = 1e-10, init="random",
                      denoiser: str = "bayes", seed=0, n_threads: int | None = None,
                      progress: bool = False) -> LowRankAMPResult:
    """Bayes-AMP (or spherical ML-AMP) on the four factors of a matrix-tensor sample.

    Parameters
    ----------
    sample : SpikedMatrixTensorSample
    n_iter : int
        Iteration cap. From a random start the tensor factors may sit on a long plateau (their
        norms decay by many decades while ``u`` is learned, then regrow): keep it in the
        hundreds near the tensor transition.
    damping : float in [0, 1)
        ``w <- (1 - damping) f + damping w``, with the Onsager term of the damped iteration
        (memory over past iterates, :mod:`hdcore.algorithms.low_rank_amp`). Undamped, the
        parallel schedule runs two interleaved chains ``(u^even, v^odd)``, ``(u^odd, v^even)``;
        from a random start their signs can disagree, and then ``sign(m_v)`` alternates while
        ``sign(m_x m_y)`` does not, so the matrix and tensor fields on ``u`` fight and ``q``
        locks into a period-2 cycle. Damping couples the chains and removes it (the fixed
        points are unchanged).
    tol : float
        Stop when the relative change of every factor is below ``tol``.
    init : {"random", "informative"} or dict
        Small random starts (``1e-3`` N(0, 1): AMP in its linear regime, as state evolution
        from ``m ~ 0``), the planted factors, or given start vectors (missing factors random).
    denoiser : {"bayes", "ml"}
        Posterior means under the model's priors, or the spherical projection (ML-AMP).
    seed : int or Generator
        Seed of the random starts.
    n_threads : int, optional
        Threads of the Rust contractions.
    progress : bool
        Show a tqdm bar of the iterations on stderr.

    Returns
    -------
    LowRankAMPResult
        ``cosine2`` per factor and iteration; compare with
        :func:`hdcore.theory.matrix_tensor_state_evolution`.

    Examples
    --------
    >>> from hdcore.models import SpikedMatrixTensor
    >>> s = SpikedMatrixTensor(120, delta_m=0.5, delta_t=0.2).sample(seed=0)
    >>> r = matrix_tensor_amp(s)            # SE fixed point: x cos2 = 0.75
    >>> r.converged, round(r.final_cosine2["x"], 2)
    (True, 0.74)
    """
    check_instance(sample, "sample", SpikedMatrixTensorSample)
    denoiser = check_choice(denoiser, "denoiser", ("bayes", "ml"))
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    progress = check_progress(progress)
    model = sample.model
    den = spherical_denoiser if denoiser == "ml" else None
    factors = [Factor(k, n, model.prior[i], den) for i, (k, n) in
               enumerate(zip(FACTORS, model.dims))]
    w0 = _init(sample, init, seed)
    if denoiser == "ml":  # start on the spheres
        w0 = {k: math.sqrt(w.size) * w / max(float(np.linalg.norm(w)), 1e-300)
              for k, w in w0.items()}
    return low_rank_amp(factors, _channels(sample, n_threads), w0, n_iter=n_iter,
                        damping=damping, tol=tol, truth=sample.factors, progress=progress)


# amp() is declared to return AMPResult (one spike); multi-factor samples give LowRankAMPResult
@amp.register  # type: ignore[arg-type]
def _(sample: SpikedMatrixTensorSample, *, n_iter=300, damping=0.5, tol=1e-10, init="random",
      denoiser="bayes", seed=0, n_threads=None, progress=False, **_unused) -> LowRankAMPResult:
    return matrix_tensor_amp(sample, n_iter=n_iter, damping=damping, tol=tol, init=init,
                             denoiser=denoiser, seed=seed, n_threads=n_threads, progress=progress)


@dataclass(frozen=True)
class JointGDResult(Result):
    """Output of :func:`joint_gd`; traces every ``record_every`` steps (start first).

    Attributes
    ----------
    estimates : dict of str to ndarray
        Final factors.
    steps : ndarray
        Step numbers of the trace.
    cosine2 : dict of str to ndarray
        Squared cosines with the planted factors.
    loss : ndarray
        ``L / N1`` (module docs; ridge term included).
    constraint : str
    converged : bool
        Whether the relative change of the factors fell below ``tol``.
    """

    estimates: dict = field(repr=False)
    steps: np.ndarray
    cosine2: dict
    loss: np.ndarray
    constraint: str
    converged: bool

    @property
    def final_cosine2(self) -> dict[str, float]:
        """Squared cosines at the end."""
        return {k: float(v[-1]) for k, v in self.cosine2.items()}


def joint_gd(sample: SpikedMatrixTensorSample, *, constraint: str = "sphere", lr: float = 0.2,
             n_steps: int = 500, lam: float = 1e-3, init_scale: float = 0.1, tol: float = 1e-10,
             record_every: int = 1, seed=0, n_threads: int | None = None,
             progress: bool = False) -> JointGDResult:
    """Gradient descent on the joint likelihood of both modalities (joint ERM).

    The gradients need ``Y_m v``, ``Y_m^T u`` and the three tensor contractions: one mat-vec
    pair and one fused pass over the tensor per step.

    Parameters
    ----------
    sample : SpikedMatrixTensorSample
    constraint : {"sphere", "ridge"}
        ``"sphere"``: projected GD on ``|w_k|^2 = N_k`` from a random point of the spheres;
        ``"ridge"``: plain GD on ``L + lam/2 sum_k |w_k|^2`` from ``init_scale`` N(0, 1).
    lr : float
        Step size in units of ``min(delta_m, delta_t)`` (the inverse curvature scale).
    n_steps : int
        Number of steps.
    lam : float
        Ridge strength (``"ridge"`` only).
    init_scale : float
        Standard deviation of the ridge start.
    tol : float
        Stop when ``max_k |w_k^{t+1} - w_k^t|^2 / N_k < tol``.
    record_every : int
        Trace resolution.
    seed : int or Generator
        Seed of the start.
    n_threads : int, optional
        Threads of the Rust contractions.
    progress : bool
        Show a tqdm bar of the steps on stderr.

    Returns
    -------
    JointGDResult

    Raises
    ------
    hdcore.NumericalError
        If the iterate diverges (lower ``lr``).
    """
    check_instance(sample, "sample", SpikedMatrixTensorSample)
    constraint = check_choice(constraint, "constraint", ("sphere", "ridge"))
    lr = check_real(lr, "lr", min=0.0, min_inclusive=False)
    n_steps = check_int(n_steps, "n_steps", min=0)
    lam = check_real(lam, "lam", min=0.0)
    init_scale = check_real(init_scale, "init_scale", min=0.0, min_inclusive=False)
    _, _, tol = check_iteration(1, 0.0, tol)
    record_every = check_int(record_every, "record_every", min=1)
    progress = check_progress(progress)
    model = sample.model
    n1 = model.n1
    dm, dt = model.delta_m, model.delta_t
    im = 0.0 if math.isinf(dm) else 1.0 / dm
    it = 0.0 if math.isinf(dt) else 1.0 / dt
    eta = lr * min(dm, dt)
    s = as_seed(seed)
    w = {k: _core.standard_normal(n, s + i, 4) for i, (k, n) in enumerate(zip(FACTORS, model.dims))}
    if constraint == "sphere":
        w = {k: v * math.sqrt(v.size) / np.linalg.norm(v) for k, v in w.items()}
    else:
        w = {k: init_scale * v for k, v in w.items()}
    truth = sample.factors

    def grads_and_loss(w):
        u, v, x, y = (w[k] for k in FACTORS)
        nu, nv, nx, ny = (float(w[k] @ w[k]) for k in FACTORS)
        g = {k: np.zeros(n) for k, n in zip(FACTORS, model.dims)}
        loss = 0.0
        if sample.y_m is not None:
            ymv = matvec(sample.y_m, v, n_threads=n_threads) / math.sqrt(n1)
            ymu = matvec(sample.y_m, u, transpose=True, n_threads=n_threads) / math.sqrt(n1)
            g["u"] -= im * (ymv - u * nv / n1)
            g["v"] -= im * (ymu - v * nu / n1)
            # |Y - uv/sqrt(N)|^2 = |Y|^2 - 2 u.Y v/sqrt(N) + |u|^2|v|^2/N  (|Y|^2 dropped)
            loss += im * (-2 * float(u @ ymv) + nu * nv / n1) / 2
        if sample.y_t is not None:
            a, b, c = _core.tensor3_contract(sample.y_t, u, x, y, n_threads=n_threads)
            g["u"] -= it * (a / n1 - u * nx * ny / n1**2)
            g["x"] -= it * (b / n1 - x * nu * ny / n1**2)
            g["y"] -= it * (c / n1 - y * nu * nx / n1**2)
            loss += it * (-2 * float(u @ a) / n1 + nu * nx * ny / n1**2) / 2
        if constraint == "ridge":
            for k in FACTORS:
                g[k] += lam * w[k]
            loss += lam * (nu + nv + nx + ny) / 2
        return g, loss / n1

    steps, losses = [0], []
    cos = {k: [_cos2(w[k], truth[k])] for k in FACTORS}
    g, loss = grads_and_loss(w)
    losses.append(loss)
    converged = False
    for step in track(range(1, n_steps + 1), progress, desc="joint_gd", unit="step"):
        new = {k: w[k] - eta * g[k] for k in FACTORS}
        if constraint == "sphere":
            new = {k: v * math.sqrt(v.size) / max(float(np.linalg.norm(v)), 1e-300)
                   for k, v in new.items()}
        if not all(np.isfinite(v).all() for v in new.values()):
            raise NumericalError("joint GD diverged (lower `lr`)")
        diff = max(float(np.sum((new[k] - w[k]) ** 2)) / w[k].size for k in FACTORS)
        w = new
        g, loss = grads_and_loss(w)
        done = diff < tol
        if step % record_every == 0 or done or step == n_steps:
            steps.append(step)
            losses.append(loss)
            for k in FACTORS:
                cos[k].append(_cos2(w[k], truth[k]))
        if done:
            converged = True
            break
    return JointGDResult(estimates=w, steps=np.array(steps),
                         cosine2={k: np.array(v) for k, v in cos.items()},
                         loss=np.array(losses), constraint=constraint, converged=converged)


@dataclass(frozen=True)
class CurriculumResult(Result):
    """Output of :func:`curriculum`.

    Attributes
    ----------
    spectral : dict of str to float
        Squared cosines of the spectral estimates (steps 1-2); compare with
        :func:`hdcore.theory.curriculum_prediction`.
    estimates : dict of str to ndarray
        Spectral unit vectors scaled to ``|w_k|^2 = N_k`` (or the refined AMP iterate).
    singular_values : tuple of float
        Top singular values of ``Y_m`` and of ``M``.
    refined : LowRankAMPResult or None
        The Bayes-AMP run started from the spectral estimates (``refine=True``).
    """

    spectral: dict
    estimates: dict = field(repr=False)
    singular_values: tuple
    refined: LowRankAMPResult | None = None

    @property
    def final_cosine2(self) -> dict[str, float]:
        """Squared cosines after refinement (or of the spectral step)."""
        return self.refined.final_cosine2 if self.refined is not None else dict(self.spectral)


def _top_pair(mat: np.ndarray, seed, n_threads) -> tuple[float, np.ndarray, np.ndarray]:
    """Top singular triple of ``mat`` (Lanczos on the smaller Gram operator)."""
    rows, cols = mat.shape
    if cols <= rows:
        e = top_eigenpairs(mat, 1, gram=True, seed=seed, n_threads=n_threads)
        right = e.vectors[:, 0]
        left = matvec(mat, right, n_threads=n_threads)
    else:
        e = top_eigenpairs(np.ascontiguousarray(mat.T), 1, gram=True, seed=seed,
                           n_threads=n_threads)
        left = e.vectors[:, 0]
        right = matvec(mat, left, transpose=True, n_threads=n_threads)
    sv = math.sqrt(max(float(e.values[0]), 0.0))
    ln, rn = np.linalg.norm(left), np.linalg.norm(right)
    return sv, left / max(ln, 1e-300), right / max(rn, 1e-300)


def curriculum(sample: SpikedMatrixTensorSample, *, refine: bool = True, n_iter: int = 100,
               seed=0, n_threads: int | None = None, progress: bool = False) -> CurriculumResult:
    """Sequential curriculum: learn the matrix first, then use it to read the tensor.

    1. ``u_hat, v_hat`` = top singular pair of ``Y_m`` (matrix-free Lanczos);
    2. ``M = sum_i e_i Y_t[i]`` with ``e = u_hat`` (unit), ``x_hat, y_hat`` = its top singular
       pair -- a rectangular spiked matrix whose signal is ``<e, u*>/sqrt(N1) x* y*^T``;
    3. optionally, Bayes-AMP on all four factors started there.

    Parameters
    ----------
    sample : SpikedMatrixTensorSample
        Needs both modalities.
    refine : bool
        Run step 3.
    n_iter : int
        AMP iterations of step 3.
    seed : int or Generator
        Seed of the Lanczos start vectors.
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show tqdm bars on stderr: one of the two spectral steps, then one of the AMP
        iterations of step 3.

    Returns
    -------
    CurriculumResult

    Raises
    ------
    ValueError
        If a modality is missing.
    """
    check_instance(sample, "sample", SpikedMatrixTensorSample)
    if sample.y_m is None or sample.y_t is None:
        raise ValueError("the curriculum needs both modalities (finite delta_m and delta_t)")
    n_iter = check_int(n_iter, "n_iter", min=0)
    progress = check_progress(progress)
    with progress_bar(progress, total=2, desc="curriculum (spectral)", unit="step") as bar:
        s1, uh, vh = _top_pair(sample.y_m, seed, n_threads)
        bar.update(1)
        m = _core.tensor3_mode_contract(sample.y_t, uh, n_threads=n_threads)
        s2, xh, yh = _top_pair(m, seed, n_threads)
        bar.update(1)
    unit = {"u": uh, "v": vh, "x": xh, "y": yh}
    truth = sample.factors
    spectral = {k: _cos2(unit[k], truth[k]) for k in FACTORS}
    est = {k: math.sqrt(w.size) * w for k, w in unit.items()}
    refined = None
    if refine:
        refined = matrix_tensor_amp(sample, init=est, n_iter=n_iter, seed=seed,
                                    n_threads=n_threads, progress=progress)
        est = refined.estimates
    return CurriculumResult(spectral=spectral, estimates=est, singular_values=(s1, s2),
                            refined=refined)
