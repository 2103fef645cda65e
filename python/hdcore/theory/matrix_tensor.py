"""Theory of the spiked matrix-tensor model (:class:`~hdcore.models.SpikedMatrixTensor`).

Everything below is derived here for hdcore's normalisation (module docs of
:mod:`hdcore.models.matrix_tensor`) from the multi-factor low-rank AMP of
:mod:`hdcore.algorithms.low_rank_amp`; the paper's own equations (arXiv:2506.02664,
Def. 2.1-2.3, Prop. 2.1) were not available to us in full, see ``docs/matrix_tensor.md``.

**Bayes-AMP state evolution** (``m_k = <w_hat_k, w*_k>/N_k``, Nishimori ``q_k = m_k``)::

    mh_u = alpha2 m_v / delta_m + alpha3 alpha4 m_x m_y / delta_t
    mh_v = m_u / delta_m
    mh_x = alpha4 m_u m_y / delta_t
    mh_y = alpha3 m_u m_x / delta_t
    m_k  = overlap_{P_k}(mh_k)                    (= mh/(1 + mh) for a Gaussian prior)

**ML-AMP** (spherical denoiser ``w = sqrt(N) B/|B|``, ``q_k = 1``; its fixed points are the
stationary points of the joint likelihood on the spheres)::

    m_k = mh_k / sqrt(mh_k^2 + Qh_k),   Qh_u = alpha2/delta_m + alpha3 alpha4/delta_t,
    Qh_v = 1/delta_m,  Qh_x = alpha4/delta_t,  Qh_y = alpha3/delta_t

**Free entropy** of a Bayes SE state (stationary exactly at its fixed points)::

    phi = sum_k alpha_k psi_{P_k}(mh_k) - alpha2 m_u m_v / (2 delta_m)
          - alpha3 alpha4 m_u m_x m_y / delta_t

(the energy of an order-p Gaussian channel is ``(p - 1)/2`` times its precision-weighted
product of overlaps; ``psi`` is the prior's scalar-channel free entropy, ``psi(0) = 0``).

**Thresholds** (derived): matrix BBP ``delta_m < sqrt(alpha2)``; matrix-only branch
``m_u = (alpha2 - delta_m^2)/(alpha2 + delta_m)``, ``m_v = (alpha2 - delta_m^2)/(alpha2 (1 +
delta_m))`` (Gaussian priors); the tensor is weakly recovered from the matrix-only state iff
``delta_t < sqrt(alpha3 alpha4 s_x s_y) m_u`` (``s = overlap'(0)``, 1 for zero-mean unit
priors); pure tensor: ``m = 0`` is stable for every ``delta_t``; spherical ML-AMP / joint ERM
leaves ``m = 0`` iff ``alpha2 delta_m^2 + alpha3 alpha4 delta_m^3 / delta_t < alpha2^2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from hdcore._results import Result
from hdcore._validation import check_choice, check_instance, check_iteration, check_real
from hdcore.models.matrix_tensor import FACTORS, SpikedMatrixTensor
from hdcore.theory.fixed_point import branches, solve

__all__ = [
    "MatrixTensorSE",
    "MatrixTensorFixedPoints",
    "MatrixTensorThresholds",
    "matrix_tensor_state_evolution",
    "matrix_tensor_se_map",
    "matrix_tensor_fixed_points",
    "matrix_tensor_free_entropy",
    "matrix_tensor_thresholds",
    "curriculum_prediction",
    "rectangular_bbp",
]

#: start of the uninformative branch (AMP starts at overlaps ~ N^{-1/2})
UNINFORMATIVE = 1e-6


def _inv(delta: float) -> float:
    return 0.0 if math.isinf(delta) else 1.0 / delta


def _hats(model: SpikedMatrixTensor, m: np.ndarray) -> np.ndarray:
    """``(mh_u, mh_v, mh_x, mh_y)`` of overlaps ``m`` (module docs)."""
    _, a2, a3, a4 = model.alphas
    im, it = _inv(model.delta_m), _inv(model.delta_t)
    mu, mv, mx, my = m
    return np.array([a2 * mv * im + a3 * a4 * mx * my * it, mu * im,
                     a4 * mu * my * it, a3 * mu * mx * it])


def _noise_hats(model: SpikedMatrixTensor) -> np.ndarray:
    """Field variances of ML-AMP (``q = 1``)."""
    _, a2, a3, a4 = model.alphas
    im, it = _inv(model.delta_m), _inv(model.delta_t)
    return np.array([a2 * im + a3 * a4 * it, im, a4 * it, a3 * it])


def matrix_tensor_se_map(model: SpikedMatrixTensor, *, algorithm: str = "bayes",
                         floor: float = UNINFORMATIVE):
    """The state-evolution map ``m^t -> m^{t+1}`` (4 overlaps, parallel schedule).

    Parameters
    ----------
    model : SpikedMatrixTensor
    algorithm : {"bayes", "ml"}
        Bayes-AMP (posterior-mean denoisers) or spherical ML-AMP (module docs).
    floor : float
        Overlaps are kept >= ``floor``, the level of the finite-size fluctuations of AMP's
        overlaps (~N^{-1/2}): like AMP, the iteration then leaves unstable fixed points such as
        the matrix-only state inside the tensor-recovery region instead of converging to them
        from below (the tensor overlaps would otherwise first decay to 1e-50 and the escape take
        longer than any tolerance waits). ``0`` gives the bare map.

    Returns
    -------
    callable
        ``F(m) -> m'`` on arrays of shape ``(4,)`` (order u, v, x, y).
    """
    check_instance(model, "model", SpikedMatrixTensor)
    algorithm = check_choice(algorithm, "algorithm", ("bayes", "ml"))
    floor = check_real(floor, "floor", min=0.0, max=1e-2)
    priors = model.prior
    if algorithm == "ml":
        qh = _noise_hats(model)

        def F_ml(m):
            mh = _hats(model, np.asarray(m, dtype=np.float64))
            den = np.sqrt(mh**2 + qh)
            return np.maximum(np.divide(mh, den, out=np.zeros(4), where=den > 0), floor)
        return F_ml

    def F(m):
        mh = np.maximum(_hats(model, np.asarray(m, dtype=np.float64)), 0.0)
        return np.maximum(np.array([float(p.overlap(h)) for p, h in zip(priors, mh)]), floor)
    return F


def _start(model: SpikedMatrixTensor, init, algorithm: str) -> np.ndarray:
    if isinstance(init, str):
        init = check_choice(init, "init", ("uninformative", "informed", "matrix"))
        top = np.ones(4) if algorithm == "ml" else np.array([p.second_moment for p in model.prior])
        if init == "uninformative":
            return np.full(4, UNINFORMATIVE)
        if init == "informed":
            return top * (1 - 1e-9)
        return np.array([top[0], top[1], UNINFORMATIVE, UNINFORMATIVE])  # matrix known
    if isinstance(init, dict):
        unknown = set(init) - set(FACTORS)
        if unknown:
            raise ValueError(f"`init` has unknown factors {sorted(unknown)}; expected {FACTORS}")
        return np.array([float(init.get(k, UNINFORMATIVE)) for k in FACTORS])
    arr = np.asarray(init, dtype=np.float64)
    if arr.shape != (4,) or not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("`init` must be 'uninformative', 'informed', 'matrix', a dict of "
                         "overlaps or 4 non-negative numbers")
    return arr


def _cosine2(model: SpikedMatrixTensor, m: np.ndarray, algorithm: str) -> np.ndarray:
    rho = np.array([p.second_moment for p in model.prior])
    # Bayes: q = m (Nishimori), cos^2 = m^2/(q rho) = m/rho; ML: q = 1, cos^2 = m^2/rho
    return m / rho if algorithm == "bayes" else m**2 / rho


@dataclass(frozen=True)
class MatrixTensorSE(Result):
    """State evolution of AMP on the spiked matrix-tensor model.

    Attributes
    ----------
    overlap : dict of str to ndarray
        ``m_k^t`` per factor (``"u", "v", "x", "y"``), ``t = 0..n_iter``.
    cosine2 : dict of str to ndarray
        Predicted squared cosine of each factor with the truth per iteration (what
        :func:`hdcore.algorithms.matrix_tensor_amp` reports as ``cosine2``).
    algorithm : str
        ``"bayes"`` or ``"ml"``.
    n_iter : int
    converged : bool
    free_entropy : float or None
        Of the last state (Bayes only).
    """

    overlap: dict
    cosine2: dict
    algorithm: str
    n_iter: int
    converged: bool
    free_entropy: float | None = None

    @property
    def fixed_point(self) -> dict[str, float]:
        """Final squared cosines by factor."""
        return {k: float(v[-1]) for k, v in self.cosine2.items()}


def matrix_tensor_state_evolution(model: SpikedMatrixTensor, *, init="uninformative",
                                  algorithm: str = "bayes", n_iter: int = 2000,
                                  tol: float = 1e-12, damping: float = 0.0) -> MatrixTensorSE:
    """State evolution of Bayes-AMP (or spherical ML-AMP) on the four factors.

    Parameters
    ----------
    model : SpikedMatrixTensor
        The model (its size is irrelevant: this is the ``N1 -> infinity`` limit).
    init : {"uninformative", "informed", "matrix"}, dict or array
        Start overlaps: ``1e-6`` everywhere (random start), the truth, the matrix factors
        known (``u, v`` at the truth, ``x, y`` at ``1e-6``), or given ``m_k^0`` (e.g. the
        measured overlaps of an AMP start).
    algorithm : {"bayes", "ml"}
        Posterior-mean (Bayes) or spherical maximum-likelihood denoisers.
    n_iter, tol, damping
        Iteration cap, tolerance on ``max |F(m) - m|``, damping (as in the AMP run).

    Returns
    -------
    MatrixTensorSE

    Raises
    ------
    TypeError, ValueError
        On a bad argument.

    Examples
    --------
    >>> model = SpikedMatrixTensor(300, delta_m=0.5, delta_t=0.2)
    >>> se = matrix_tensor_state_evolution(model)
    >>> round(se.fixed_point["x"], 3) > 0
    True

    References
    ----------
    arXiv:2506.02664, Def. 2.1 and Prop. 2.1 (Bayes-AMP SE); Lesieur, Krzakala & Zdeborova,
    J. Stat. Mech. (2017) 073403 (multi-factor low-rank AMP). Derivation: module docs.
    """
    check_instance(model, "model", SpikedMatrixTensor)
    algorithm = check_choice(algorithm, "algorithm", ("bayes", "ml"))
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    x0 = _start(model, init, algorithm)
    res = solve(matrix_tensor_se_map(model, algorithm=algorithm), x0, damping=damping, tol=tol,
                max_iter=n_iter, raise_on_failure=False, trace=True)
    traj = np.array(res.trace)
    cos = _cosine2(model, traj, algorithm)
    phi = matrix_tensor_free_entropy(model, traj[-1]) if algorithm == "bayes" else None
    return MatrixTensorSE(overlap={k: traj[:, i] for i, k in enumerate(FACTORS)},
                          cosine2={k: cos[:, i] for i, k in enumerate(FACTORS)},
                          algorithm=algorithm, n_iter=res.n_iter, converged=res.converged,
                          free_entropy=phi)


def matrix_tensor_free_entropy(model: SpikedMatrixTensor, m) -> float:
    """Replica-symmetric free entropy of the overlaps ``m = (m_u, m_v, m_x, m_y)`` (module
    docs); at Bayes SE fixed points, the largest value is the Bayes-optimal branch.

    Parameters
    ----------
    model : SpikedMatrixTensor
    m : array of 4 floats or dict
        Overlaps.

    Returns
    -------
    float
    """
    check_instance(model, "model", SpikedMatrixTensor)
    m = _start(model, m, "bayes") if isinstance(m, dict) else np.asarray(m, dtype=np.float64)
    if m.shape != (4,):
        raise ValueError(f"`m` must hold 4 overlaps, got shape {m.shape}")
    mh = np.maximum(_hats(model, m), 0.0)
    _, a2, a3, a4 = model.alphas
    psi = sum(a * float(p.free_entropy(h)) for a, p, h in zip(model.alphas, model.prior, mh))
    mu, mv, mx, my = m
    return float(psi - a2 * mu * mv * _inv(model.delta_m) / 2
                 - a3 * a4 * mu * mx * my * _inv(model.delta_t))


@dataclass(frozen=True)
class MatrixTensorFixedPoints(Result):
    """Bayes SE fixed points from the uninformative, matrix-known and informed starts.

    Attributes
    ----------
    uninformative, matrix, informed : dict of str to float
        Squared cosines per factor reached from each start (``uninformative`` is what
        Bayes-AMP from a random start reaches).
    free_entropy : dict of str to float
        Free entropy of each branch.
    bayes : str
        The start whose branch has the largest free entropy (the Bayes-optimal estimator).
    coexist : bool
        Whether the branches differ (hard phase / hysteresis).
    """

    uninformative: dict
    matrix: dict
    informed: dict
    free_entropy: dict
    bayes: str
    coexist: bool


def matrix_tensor_fixed_points(model: SpikedMatrixTensor, *, tol: float = 1e-12,
                               max_iter: int = 20000) -> MatrixTensorFixedPoints:
    """Every Bayes SE branch (uninformative / matrix-known / informed starts) and the
    Bayes-optimal one (largest free entropy).

    Parameters
    ----------
    model : SpikedMatrixTensor
    tol, max_iter
        Of :func:`hdcore.theory.fixed_point.solve`.

    Returns
    -------
    MatrixTensorFixedPoints
    """
    check_instance(model, "model", SpikedMatrixTensor)
    F = matrix_tensor_se_map(model)
    starts = {k: _start(model, k, "bayes") for k in ("uninformative", "matrix", "informed")}
    br = branches(F, starts, tol=tol, max_iter=max_iter, anderson=0)
    out, phis = {}, {}
    for k, res in br.results.items():
        m = np.asarray(res.x)
        out[k] = dict(zip(FACTORS, map(float, _cosine2(model, m, "bayes"))))
        phis[k] = matrix_tensor_free_entropy(model, m)
    best = max(phis, key=lambda k: (round(phis[k], 12), k == "uninformative"))
    return MatrixTensorFixedPoints(uninformative=out["uninformative"], matrix=out["matrix"],
                                   informed=out["informed"], free_entropy=phis, bayes=best,
                                   coexist=br.coexist)


def rectangular_bbp(alpha: float, delta: float) -> tuple[float, float]:
    """Squared cosines of the top singular pair of ``Y = a b^T / sqrt(N) + sqrt(delta) Z``
    (``N x alpha N``, unit-variance factors): ``((alpha - delta^2)/(alpha + delta),
    (alpha - delta^2)/(alpha (1 + delta)))`` above the threshold ``delta < sqrt(alpha)``, else
    zeros. For Gaussian factors these are also the Bayes-AMP overlaps of the matrix alone.

    Parameters
    ----------
    alpha : float
        Columns per row.
    delta : float
        Noise variance (``inf`` gives zeros).

    Returns
    -------
    (float, float)
        Left and right squared cosines.

    References
    ----------
    Benaych-Georges & Nadakuditi, J. Multivariate Anal. 111 (2012), Sec. 3.1 (rectangular
    BBP), in this normalisation.
    """
    if not delta < math.sqrt(alpha):
        return 0.0, 0.0
    return (alpha - delta**2) / (alpha + delta), (alpha - delta**2) / (alpha * (1 + delta))


def curriculum_prediction(model: SpikedMatrixTensor) -> dict[str, float]:
    """Squared cosines of the sequential spectral curriculum (before refinement):
    ``u, v`` = top singular pair of ``Y_m`` (:func:`rectangular_bbp` at ``(alpha2, delta_m)``);
    ``x, y`` = top singular pair of ``M = Y_t(e, ., .)``, ``e = u_hat/|u_hat|``, a rectangular
    spiked matrix ``N3 x N4`` with ``delta_eff = delta_t / (alpha3 c_u^2)`` and aspect
    ``r = alpha4/alpha3`` (derived; see docs/matrix_tensor.md).

    Parameters
    ----------
    model : SpikedMatrixTensor

    Returns
    -------
    dict of str to float
    """
    check_instance(model, "model", SpikedMatrixTensor)
    cu, cv = rectangular_bbp(model.alpha2, model.delta_m)
    if cu == 0.0:
        return {"u": 0.0, "v": 0.0, "x": 0.0, "y": 0.0}
    cx, cy = rectangular_bbp(model.alpha4 / model.alpha3, model.delta_t / (model.alpha3 * cu))
    return {"u": cu, "v": cv, "x": cx, "y": cy}


@dataclass(frozen=True)
class MatrixTensorThresholds(Result):
    """Weak-recovery thresholds (module docs; all derived here).

    Attributes
    ----------
    matrix_delta_m : float
        Matrix BBP / Bayes-AMP threshold ``sqrt(alpha2)`` (zero-mean unit priors).
    matrix_only : dict of str to float
        The matrix-only Bayes branch (``x = y = 0``) at the model's ``delta_m``.
    tensor_delta_t : float
        Largest ``delta_t`` at which AMP and the curriculum recover ``x, y`` from the matrix
        branch at the model's ``delta_m`` (0 if the matrix is not recovered).
    erm_delta_m : float
        Largest ``delta_m`` at which spherical joint ERM / ML-AMP leaves ``m = 0`` at the
        model's ``delta_t`` (``< sqrt(alpha2)`` for finite ``delta_t``).
    curriculum : dict of str to float
        :func:`curriculum_prediction`.
    """

    matrix_delta_m: float
    matrix_only: dict
    tensor_delta_t: float
    erm_delta_m: float
    curriculum: dict


def _erm_delta_m(model: SpikedMatrixTensor) -> float:
    a2, a34, it = model.alpha2, model.alpha3 * model.alpha4, _inv(model.delta_t)

    def g(d):
        return a2 * d**2 + a34 * it * d**3 - a2**2
    return float(brentq(g, 0.0, math.sqrt(a2), xtol=1e-14)) if it > 0 else math.sqrt(a2)


def matrix_tensor_thresholds(model: SpikedMatrixTensor) -> MatrixTensorThresholds:
    """Thresholds of the model at its ``(delta_m, delta_t)`` (module docs).

    Parameters
    ----------
    model : SpikedMatrixTensor

    Returns
    -------
    MatrixTensorThresholds

    Examples
    --------
    >>> t = matrix_tensor_thresholds(SpikedMatrixTensor(100, 0.5, 0.3))
    >>> round(t.tensor_delta_t, 4)   # sqrt(alpha3 alpha4) m_u, m_u = 0.75/1.5
    0.5
    """
    check_instance(model, "model", SpikedMatrixTensor)
    F = matrix_tensor_se_map(model.with_deltas(delta_t=math.inf))
    res = solve(F, np.full(4, UNINFORMATIVE), tol=1e-13, max_iter=20000, raise_on_failure=False)
    m = np.asarray(res.x)
    cos = _cosine2(model, m, "bayes")
    su, sx, sy = (model.prior[k].overlap_slope() for k in (0, 2, 3))
    del su
    tensor = math.sqrt(model.alpha3 * model.alpha4 * sx * sy) * float(m[0])
    return MatrixTensorThresholds(
        matrix_delta_m=math.sqrt(model.alpha2),
        matrix_only=dict(zip(FACTORS, map(float, cos))),
        tensor_delta_t=tensor, erm_delta_m=_erm_delta_m(model),
        curriculum=curriculum_prediction(model))
