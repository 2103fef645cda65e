r"""Theory of online SGD on sequence single-index models and single-layer attention
(Arnaboldi, Loureiro, Stephan, Krzakala & Zdeborova, arXiv:2506.02651, Secs. 3-4).

Everything is a low-dimensional Gaussian integral over the teacher projections ``z*`` and an
independent ``eta`` (both ``N(0, I_L)``), computed by tensor Gauss-Hermite quadrature in ``2L``
dimensions (exact for polynomial targets and students with the default node count), or by Monte
Carlo with fixed common random numbers when the tensor grid would be too large.

Population loss (spherical weights, ``||w||^2 = d``; the paper's "closed form", Sec. 4)::

    R(e, m) = E loss(f*(z*), f(z)),   z = m z* + sqrt(1 - m^2) eta + s e        (tied students)

(``e pi + rho xi`` of the two independent directions ``p`` and ``w_perp`` merge into
``sqrt(1 - m^2) eta``, so on the sphere ``e`` enters only through the positional shift ``s e``).

ODE limit of online SGD (derived in ``docs/online_sgd.md``; the paper's exact statement was not
available to us: this is the standard high-dimensional limit, checked against simulations by
``tests/test_sgd_theory.py``). Write ``g_l = d loss/d z_l`` and, for the tied student with
``q = ||w||^2/d`` and ``sigma = sqrt(q - m^2)``,

    G1 = E sum_l g_l z*_l,   G2 = E sum_l g_l eta_l,   S = E sum_l g_l s_l,
    Gz = E sum_l g_l z_l,    V  = E sum_l g_l^2.

Plain SGD, ``t = steps/d``, mini-batch ``B``::

    dm/dt = -lr G1,    de/dt = -lr (e G2/sigma + S),    dq/dt = -2 lr Gz + lr^2 V/B.

Spherical SGD keeps ``q = 1`` and subtracts the radial part::

    dm/dt = -lr (G1 - m Gz) - (lr^2/2B) m V,   de/dt = -lr (e G2/sigma + S - e Gz) - (lr^2/2B) e V,

i.e. ``d(m, e)/dt = -lr (I - (m, e)(m, e)^T) grad R(e, m) - (lr^2/2B) (m, e) V``. The untied
student has one ``(m_l, q_l)`` per block with ``z_l = m_l z*_l + sqrt(q_l - m_l^2) eta_l`` and the
global normalisation ``sum_l q_l = L``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

from hdcore._progress import check_progress, progress_bar, track
from hdcore._results import Result
from hdcore._validation import check_choice, check_int, check_real
from hdcore.errors import NumericalError
from hdcore.ingredients.activations import AttentionTarget, ScalarTarget, get_activation
from hdcore.ingredients.quadrature import gauss_hermite
from hdcore.models.sequence import (
    LOSSES,
    AttentionStudent,
    SequenceSingleIndex,
    SSIStudent,
    TiedStudent,
    get_student,
    loss_and_grad,
)

__all__ = [
    "REGIONS",
    "SGDODE",
    "SIE",
    "AttentionLandscape",
    "LossDerivatives",
    "PhaseDiagram",
    "attention_landscape",
    "population_loss",
    "population_loss_derivatives",
    "positional_semantic_phase_diagram",
    "sequence_information_exponent",
    "sgd_ode",
]

#: largest tensor grid before falling back to Monte Carlo
MAX_NODES = 1_500_000
#: Monte-Carlo samples of the fallback (fixed seed: common random numbers along a trajectory)
MC_SAMPLES = 1 << 18


def _degree(model: SequenceSingleIndex, student) -> int | None:
    """Largest degree in any single variable of target and student (None if either is not a
    polynomial). The integrands (``loss``, ``g z*``, ``g^2``) then have degree at most
    ``4 deg`` per variable, integrated exactly by ``2 deg + 1`` Gauss-Hermite nodes per axis."""
    target = model.target
    if not isinstance(target, ScalarTarget):
        return None
    if isinstance(student, SSIStudent):
        function = student.resolve(model).function
        assert isinstance(function, ScalarTarget)  # resolved by SSIStudent.__post_init__
        return max(target.variable_degree, function.variable_degree)
    if isinstance(student, TiedStudent):
        activation = get_activation(student.activation)
        deg = {"identity": 1, "square": 2, "he2": 2}.get(activation.name)
        return None if deg is None else max(target.variable_degree, deg)
    return None


@dataclass(frozen=True)
class _Rule:
    zs: np.ndarray  # (n, L)
    eta: np.ndarray  # (n, L)
    w: np.ndarray  # (n,)
    y: np.ndarray | None = None  # teacher output at zs (n, n_out)

    def with_target(self, model) -> _Rule:
        return _Rule(self.zs, self.eta, self.w, model.target(self.zs))


def _rule(model, student, nodes: int | None, loss: str) -> _Rule:
    L = model.L
    if nodes is None:
        deg = _degree(model, student)
        nodes = 2 * deg + 1 if deg is not None else 12
    nodes = check_int(nodes, "nodes", min=1)
    # The unsquared loss has a kink where yhat = y, on which Gauss-Hermite converges slowly
    # (drift errors of 10% at 12 nodes per axis): Monte Carlo is more accurate there.
    if nodes ** (2 * L) <= MAX_NODES and loss != "frobenius":
        x, w = gauss_hermite(nodes)
        grids = np.meshgrid(*([x] * (2 * L)), indexing="ij")
        pts = np.stack([g.ravel() for g in grids], axis=-1)
        idx = np.unravel_index(np.arange(pts.shape[0]), (nodes,) * (2 * L))
        wts = np.prod(np.stack([w[i] for i in idx]), axis=0)
        return _Rule(pts[:, :L], pts[:, L:], wts)
    rng = np.random.default_rng(20250602)
    pts = rng.standard_normal((MC_SAMPLES, 2 * L))
    return _Rule(pts[:, :L], pts[:, L:], np.full(MC_SAMPLES, 1.0 / MC_SAMPLES))


def _prepare(model, student, loss, nodes):
    if not isinstance(model, SequenceSingleIndex):
        raise TypeError(f"`model` must be a SequenceSingleIndex, got {type(model).__name__}")
    student = get_student(student, model)
    check_choice(loss, "loss", LOSSES)
    return student, _rule(model, student, nodes, loss).with_target(model)


def _s(model) -> np.ndarray:
    return np.zeros(model.L) if model.positional is None else np.asarray(model.positional)


def _tied_moments(model, student, loss, rule, m, e, q=1.0):
    """(R, G1, G2, S, Gz, V) at one state of a tied student."""
    s = _s(model)
    sig = math.sqrt(max(q - m * m, 0.0))
    z = m * rule.zs + sig * rule.eta + s * e
    val, g = loss_and_grad(model, student, rule.zs, z, loss, rule.y)
    w = rule.w
    shift, extra = _noise_terms(model, student, z, loss)
    return (float(w @ val) + shift, float(w @ (g * rule.zs).sum(-1)),
            float(w @ (g * rule.eta).sum(-1)), float(w @ (g @ s)), float(w @ (g * z).sum(-1)),
            float(w @ ((g * g).sum(-1) + extra.sum(-1))))


def _noise_terms(model, student, z, loss):
    """Label noise ``y = f*(z*) + sigma xi``: with ``g = J^T c (yhat - y)`` (``c = 1`` squared,
    ``2/n_out`` mse) the noise averages out of the drift and adds ``c^2 sigma^2 ||J^T||^2``
    to ``E g g^T`` and ``sigma^2 n_out/2`` (squared) or ``sigma^2`` (mse) to the loss.
    Returns the loss shift and the per-token extra ``E g_l^2``."""
    sigma = model.noise
    if sigma == 0.0:
        return 0.0, np.zeros_like(z)
    if loss == "frobenius":
        raise ValueError("`loss`: the theory with label noise supports 'squared' and 'mse'")
    n_out = model.n_out
    c = 1.0 if loss == "squared" else 2.0 / n_out
    extra = np.zeros_like(z)
    for k in range(n_out):
        r = np.zeros(z.shape[:-1] + (n_out,))
        r[..., k] = 1.0
        extra += student.backprop(z, r) ** 2
    shift = 0.5 * sigma**2 * n_out if loss == "squared" else sigma**2
    return shift, (c * sigma) ** 2 * extra


def population_loss(model: SequenceSingleIndex, student, m, e=0.0, *, loss: str = "squared",
                    nodes: int | None = None) -> np.ndarray:
    """Population loss ``R(e, m)`` of a tied student on the sphere (arXiv:2506.02651, Sec. 4).

    Parameters
    ----------
    model : SequenceSingleIndex
    student : Student or str
        A tied student (SSI, tied network or attention).
    m, e : float or array
        Semantic and positional overlaps (broadcast together; ``m^2 + e^2 <= 1``).
    loss : {"squared", "mse", "frobenius"}
        Per-sample loss; the paper's analytic landscape uses ``"squared"`` (``||T - S||^2/2``).
    nodes : int, optional
        Gauss-Hermite nodes per axis (default: exact for polynomial models, else 12).

    Returns
    -------
    ndarray
        ``R`` with the broadcast shape of ``m`` and ``e``.
    """
    student, rule = _prepare(model, student, loss, nodes)
    if student.untied:
        raise ValueError("`student`: population_loss takes a tied student (SSI, tied, attention)")
    m, e = np.broadcast_arrays(np.asarray(m, dtype=np.float64), np.asarray(e, dtype=np.float64))
    if (m**2 + e**2 > 1 + 1e-12).any():
        raise ValueError("`m`, `e` must satisfy m^2 + e^2 <= 1")
    out = np.empty(m.shape)
    for idx in np.ndindex(m.shape):
        out[idx] = _tied_moments(model, student, loss, rule, float(m[idx]), float(e[idx]))[0]
    return out


@dataclass(frozen=True)
class LossDerivatives(Result):
    """``R``, its gradient and Hessian in ``(m, e)`` on the sphere.

    The gradient is exact (quadrature of the pathwise derivative:
    ``dR/dm = G1 - m G2/sqrt(1 - m^2)``, ``dR/de = S``); the Hessian is the central difference
    of that gradient (step ``h``), symmetrised.
    """

    value: float
    gradient: np.ndarray
    hessian: np.ndarray


def _grad(model, student, loss, rule, m, e):
    R, G1, G2, S, _, _ = _tied_moments(model, student, loss, rule, m, e)
    sig = math.sqrt(max(1.0 - m * m, 1e-300))
    return R, np.array([G1 - m * G2 / sig, S])


def population_loss_derivatives(model: SequenceSingleIndex, student, m: float, e: float = 0.0, *,
                                loss: str = "squared", nodes: int | None = None,
                                h: float = 1e-4) -> LossDerivatives:
    """Value, gradient ``(dR/dm, dR/de)`` and Hessian of :func:`population_loss` at ``(m, e)``
    (``|m| < 1``).

    Parameters
    ----------
    model : SequenceSingleIndex
        The teacher.
    student : Student or str
        A tied student (SSI, tied network or attention), or its name.
    m : float
        Semantic overlap, ``-1 < m < 1``.
    e : float
        Positional overlap, in ``[-1, 1]``.
    loss : {"squared", "mse", "frobenius"}
        Per-sample loss (as :func:`population_loss`).
    nodes : int, optional
        Gauss-Hermite nodes per axis (default: exact for polynomial models, else 12).
    h : float
        Step of the central difference of the gradient (Hessian).

    Returns
    -------
    LossDerivatives
        ``value``, ``gradient`` (2,) and symmetrised ``hessian`` (2, 2) in ``(m, e)``.

    Raises
    ------
    TypeError
        ``model`` is not a ``SequenceSingleIndex``, ``student`` is not a student or a name,
        or ``m`` / ``e`` is not a real number.
    ValueError
        An unknown ``student`` or ``loss`` name, ``|m| >= 1`` or ``|e| > 1``.

    Examples
    --------
    >>> from hdcore.models import SequenceSingleIndex
    >>> der = population_loss_derivatives(SequenceSingleIndex(d=10, L=2, target="z1z2"), "ssi", 0.5)
    >>> der.gradient.round(6).tolist(), der.hessian.shape
    ([-1.0, 0.0], (2, 2))

    References
    ----------
    Arnaboldi, Loureiro, Stephan, Krzakala & Zdeborova, arXiv:2506.02651 (2025), Secs. 3-4.
    """
    student, rule = _prepare(model, student, loss, nodes)
    m = check_real(m, "m", min=-1.0, max=1.0, min_inclusive=False, max_inclusive=False)
    e = check_real(e, "e", min=-1.0, max=1.0)
    R, grad = _grad(model, student, loss, rule, m, e)
    H = np.empty((2, 2))
    for k, (dm, de) in enumerate(((h, 0.0), (0.0, h))):
        gp = _grad(model, student, loss, rule, m + dm, e + de)[1]
        gm = _grad(model, student, loss, rule, m - dm, e - de)[1]
        H[:, k] = (gp - gm) / (2 * h)
    return LossDerivatives(value=R, gradient=grad, hessian=0.5 * (H + H.T))


@dataclass(frozen=True)
class SGDODE(Result):
    """Solution of :func:`sgd_ode`.

    Attributes
    ----------
    t : ndarray
        Times ``steps/d``.
    m : ndarray (n,) or (n, L)
        Semantic overlap (per block for the untied student).
    e : ndarray
        Positional overlap.
    q : ndarray
        ``||W||^2/(K d)`` (1 for spherical SGD).
    loss : ndarray
        Population loss along the solution.
    """

    t: np.ndarray
    m: np.ndarray
    e: np.ndarray
    q: np.ndarray
    loss: np.ndarray
    lr: float
    spherical: bool
    model: SequenceSingleIndex = field(repr=False)

    @property
    def overlap(self) -> np.ndarray:
        """``m`` (tied) or ``sqrt(mean_l m_l^2)`` (untied)."""
        return self.m if self.m.ndim == 1 else np.sqrt(np.mean(self.m**2, axis=-1))

    def hitting_time(self, level: float) -> float:
        """First time the overlap reaches ``level`` (linear interpolation; ``inf`` if never)."""
        ov = np.abs(self.overlap)
        hits = np.flatnonzero(ov >= level)
        if hits.size == 0:
            return math.inf
        k = int(hits[0])
        if k == 0:
            return float(self.t[0])
        t0, t1, a, b = self.t[k - 1], self.t[k], ov[k - 1], ov[k]
        return float(t0 + (level - a) * (t1 - t0) / (b - a))


def _tied_rhs(model, student, loss, rule, lr, batch, spherical):
    def rhs(_t, y):
        m, e = y[0], y[1]
        q = 1.0 if spherical else y[2]
        _R, G1, G2, S, Gz, V = _tied_moments(model, student, loss, rule, m, e, q)
        sig = math.sqrt(max(q - m * m, 1e-300))
        dm = -lr * G1
        de = -lr * (e * G2 / sig + S)
        dq = -2 * lr * Gz + lr * lr * V / batch
        if spherical:
            return [dm - 0.5 * m * dq, de - 0.5 * e * dq]
        return [dm, de, dq]
    return rhs


def _untied_moments(model, student, loss, rule, m, q):
    sig = np.sqrt(np.maximum(q - m * m, 0.0))
    z = m * rule.zs + sig * rule.eta
    val, g = loss_and_grad(model, student, rule.zs, z, loss, rule.y)
    w = rule.w
    shift, extra = _noise_terms(model, student, z, loss)
    return float(w @ val) + shift, w @ (g * rule.zs), w @ (g * z), w @ (g * g + extra)


def _untied_rhs(model, student, loss, rule, lr, batch, spherical):
    L = model.L

    def rhs(_t, y):
        m, q = y[:L], y[L:]
        _, A, C, V = _untied_moments(model, student, loss, rule, m, q)
        dm = -lr * A
        dq = -2 * lr * C + lr * lr * V / batch
        if spherical:
            D = dq.sum() / L
            return np.concatenate([dm - 0.5 * m * D, dq - q * D])
        return np.concatenate([dm, dq])
    return rhs


def sgd_ode(model: SequenceSingleIndex, student, lr: float, t_max: float, *, m0: float,
            e0: float = 0.0, spherical: bool = True, batch: int = 1, loss: str = "squared",
            lr_L_power: float = 0.0, n_points: int = 200, nodes: int | None = None,
            rtol: float = 1e-6, progress: bool = False) -> SGDODE:
    """Deterministic limit of online SGD (``d -> infinity``, ``t = steps/d``), including the
    ``O(lr^2)`` term from the step's variance (module docstring, ``docs/online_sgd.md``).

    Parameters
    ----------
    model, student :
        As for :func:`hdcore.algorithms.online_sgd`.
    lr : float
        Learning rate (times ``L**lr_L_power``), the same number as in ``online_sgd``.
    t_max : float
        Final time.
    m0, e0 : float
        Initial overlaps (``m0 ~ d^{-1/2}`` mimics a random start). Untied: every block
        starts at ``m0`` with ``q_l = 1``.
    spherical : bool
        Spherical (``q = 1``) or plain SGD.
    batch : int
        Mini-batch size (divides the variance term).
    loss : {"squared", "mse", "frobenius"}
    n_points : int
        Output times: 0 and ``n_points`` log-spaced times up to ``t_max``.
    nodes : int, optional
        Gauss-Hermite nodes per axis.
    rtol : float
        Relative tolerance of the integrator (LSODA).
    progress : bool
        Show a tqdm bar of the integrated time ``t / t_max`` on stderr.

    Returns
    -------
    SGDODE
    """
    student, rule = _prepare(model, student, loss, nodes)
    lr = check_real(lr, "lr", min=0.0) * float(model.L) ** check_real(lr_L_power, "lr_L_power")
    t_max = check_real(t_max, "t_max", min=0.0, min_inclusive=False)
    m0 = check_real(m0, "m0", min=-1.0, max=1.0)
    e0 = check_real(e0, "e0", min=-1.0, max=1.0)
    batch = check_int(batch, "batch", min=1)
    n_points = check_int(n_points, "n_points", min=2)
    progress = check_progress(progress)
    if e0 != 0.0 and model.positional is None:
        raise ValueError("`e0` needs a model with a positional encoding")
    if m0**2 + e0**2 > 1.0:
        raise ValueError("`m0`^2 + `e0`^2 must be <= 1")
    t_eval = np.concatenate([[0.0], np.geomspace(min(1e-3, t_max / 10), t_max, n_points)])
    L = model.L
    if student.untied:
        y0 = np.concatenate([np.full(L, m0), np.ones(L)])
        rhs = _untied_rhs(model, student, loss, rule, lr, batch, spherical)
    else:
        y0 = np.array([m0, e0] if spherical else [m0, e0, 1.0])
        rhs = _tied_rhs(model, student, loss, rule, lr, batch, spherical)
    with progress_bar(progress, total=100, desc="sgd_ode", unit="%") as bar:
        sol = solve_ivp(_ticking(rhs, bar, t_max) if progress else rhs, (0.0, t_max), y0,
                        t_eval=t_eval, method="LSODA", rtol=rtol, atol=1e-10)
        if progress:
            bar.update(100 - bar.n)
    if not sol.success:
        raise NumericalError(f"sgd_ode: the integrator failed: {sol.message}")
    y = sol.y.T
    if student.untied:
        m, q = y[:, :L], y[:, L:]
        e = np.zeros(len(sol.t))
        R = np.array([_untied_moments(model, student, loss, rule, mi, qi)[0]
                      for mi, qi in zip(m, q)])
        qm = q.mean(-1)
    else:
        m, e = y[:, 0], y[:, 1]
        qm = np.ones(len(sol.t)) if spherical else y[:, 2]
        R = np.array([_tied_moments(model, student, loss, rule, a, b, c)[0]
                      for a, b, c in zip(m, e, qm)])
    return SGDODE(t=sol.t, m=m, e=e, q=qm, loss=R, lr=lr, spherical=bool(spherical), model=model)


def _ticking(rhs, bar, t_max: float):
    """``rhs`` advancing ``bar`` (total 100) to the percentage of ``t_max`` reached."""
    def f(t, y):
        done = min(int(100 * t / t_max), 100)
        if done > bar.n:
            bar.update(done - bar.n)
        return rhs(t, y)
    return f


@dataclass(frozen=True)
class SIE(Result):
    """Sequence information exponent and the Hermite shells behind it.

    Attributes
    ----------
    teacher : int or None
        Smallest ``k >= 1`` with ``sum_{|alpha| = k} ||c*_alpha||^2/alpha! > tol`` (None if no
        shell up to ``max_degree`` is non-zero).
    pair : int or None
        Smallest ``k >= 1`` where the teacher-student correlation
        ``sum_{|alpha| = k} <c*_alpha, c_alpha>/alpha!`` (the coefficient of ``m^k`` in
        ``E <f*(z*), f(z)>``) is non-zero: the exponent that sets the escape time.
    teacher_shells, pair_shells : ndarray
        The shell sums for ``k = 0..max_degree``.
    """

    teacher: int | None
    pair: int | None
    teacher_shells: np.ndarray
    pair_shells: np.ndarray


def _hermite_coefficients(func, L: int, max_degree: int, nodes: int, shift=None):
    """``c_alpha = E f(z + shift) He_alpha(z)`` for ``|alpha| <= max_degree``."""
    x, w = gauss_hermite(nodes)
    grids = np.meshgrid(*([x] * L), indexing="ij")
    pts = np.stack([g.ravel() for g in grids], axis=-1)
    idx = np.unravel_index(np.arange(pts.shape[0]), (nodes,) * L)
    wts = np.prod(np.stack([w[i] for i in idx]), axis=0)
    vals = func(pts if shift is None else pts + shift)  # (n, n_out)
    he = [np.ones_like(pts), pts]
    for k in range(2, max_degree + 1):
        he.append(pts * he[-1] - (k - 1) * he[-2])
    out = {}
    for alpha in itertools.product(range(max_degree + 1), repeat=L):
        if sum(alpha) > max_degree:
            continue
        basis = np.prod(np.stack([he[a][:, i] for i, a in enumerate(alpha)]), axis=0)
        out[alpha] = (wts * basis) @ vals
    return out


def sequence_information_exponent(model: SequenceSingleIndex, student=None, *,
                                  max_degree: int = 4, e: float = 0.0, nodes: int | None = None,
                                  tol: float = 1e-10) -> SIE:
    """Sequence information exponent from the multivariate Hermite expansion
    ``f*(z) = sum_alpha c*_alpha He_alpha(z)/alpha!`` (arXiv:2506.02651, Sec. 3; the definition
    used here is [RECON], see :class:`SIE`).

    Parameters
    ----------
    model : SequenceSingleIndex
    student : Student or str, optional
        Tied student whose correlation with the teacher defines ``pair`` (default: SSI for a
        scalar target, attention for the attention target).
    max_degree : int
        Largest shell examined.
    e : float
        Positional overlap: the student's coefficients are taken at the shifted point
        ``z + s e`` (positional encoding can lower the exponent).
    nodes : int, optional
        Gauss-Hermite nodes per axis (default exact for polynomials of degree <= 2 max_degree).
    tol : float
        Shells with sums of absolute value ``<= tol`` count as zero.

    Returns
    -------
    SIE
        ``teacher`` and ``pair`` exponents and the shell sums.

    Raises
    ------
    TypeError
        ``model`` is not a ``SequenceSingleIndex``, ``student`` not a student or a name, or
        ``max_degree`` / ``nodes`` not an integer.
    ValueError
        ``max_degree < 1``, ``nodes < 1``, an unknown or untied ``student``, or
        ``nodes**L`` above the quadrature budget.

    Examples
    --------
    >>> from hdcore.models import SequenceSingleIndex
    >>> sie = sequence_information_exponent(SequenceSingleIndex(d=10, L=2, target="z1z2"))
    >>> sie.teacher, sie.pair  # z1 z2 = He_(1,1): the first non-zero shell is 2
    (2, 2)

    References
    ----------
    Arnaboldi, Loureiro, Stephan, Krzakala & Zdeborova, arXiv:2506.02651 (2025), Secs. 3-4.
    """
    if not isinstance(model, SequenceSingleIndex):
        raise TypeError(f"`model` must be a SequenceSingleIndex, got {type(model).__name__}")
    max_degree = check_int(max_degree, "max_degree", min=1)
    if student is None:
        student = "attention" if isinstance(model.target, AttentionTarget) else "ssi"
    student = get_student(student, model)
    if student.untied:
        raise ValueError("`student`: the SIE is defined here for tied students")
    L = model.L
    nodes = check_int(nodes if nodes is not None else max_degree + 4, "nodes", min=1)
    if nodes**L > MAX_NODES:
        raise ValueError(f"{nodes}^{L} quadrature nodes are too many; lower `nodes` or `L`")
    ct = _hermite_coefficients(model.target, L, max_degree, nodes)
    cs = _hermite_coefficients(student.output, L, max_degree, nodes, shift=_s(model) * e)
    tsh = np.zeros(max_degree + 1)
    psh = np.zeros(max_degree + 1)
    for alpha, c in ct.items():
        fact = math.prod(math.factorial(a) for a in alpha)
        k = sum(alpha)
        tsh[k] += float(c @ c) / fact
        psh[k] += float(c @ cs[alpha]) / fact
    first = [k for k in range(1, max_degree + 1) if tsh[k] > tol]
    pair = [k for k in range(1, max_degree + 1) if abs(psh[k]) > tol]
    return SIE(teacher=first[0] if first else None, pair=pair[0] if pair else None,
               teacher_shells=tsh, pair_shells=psh)


# ----------------------------------------------------------------------------------------------
# positional-semantic landscape of the attention model (L = 2)

#: region codes of :func:`positional_semantic_phase_diagram`:
#: 4 * (global minimum positional) + 2 * (escape direction positional) + (several minima)
REGIONS = {
    0: "semantic minimum, semantic escape, unique minimum",
    1: "semantic global minimum, semantic escape, other local minima",
    2: "semantic minimum, positional escape, unique minimum",
    3: "semantic global minimum, positional escape, other local minima",
    4: "positional minimum, semantic escape, unique minimum",
    5: "positional global minimum, semantic escape, other local minima",
    6: "positional minimum, positional escape, unique minimum",
    7: "positional global minimum, positional escape, other local minima",
}


def _attention_parts(model, nodes, pts):
    """Moments of ``K* = softmax(z* z*^T)`` and ``S`` at the ``(m, e)`` points ``pts`` (k, 2):
    ``E||K* - S||^2``, ``E[K* - S]``, ``E<K* - S, K*>``, and the constants ``E K*``,
    ``E||K*||^2`` (for the squared loss ``||T - S||^2/2``)."""
    from hdcore.ingredients.activations import softmax_rows

    L = model.L
    student = AttentionStudent()
    rule = _rule(model, student, nodes, "squared")
    K = softmax_rows(rule.zs).reshape(-1, L * L)
    s = _s(model)
    w = rule.w
    n = pts.shape[0]
    a1, a3 = np.empty(n), np.empty(n)
    a2 = np.empty((n, L * L))
    for i, (m, e) in enumerate(pts):
        z = m * rule.zs + math.sqrt(max(1.0 - m * m, 0.0)) * rule.eta + s * e
        D = K - softmax_rows(z).reshape(-1, L * L)
        a1[i] = w @ (D * D).sum(-1)
        a2[i] = w @ D
        a3[i] = w @ (D * K).sum(-1)
    return a1, a2, a3, w @ K, float(w @ (K * K).sum(-1))


def _loss_from_parts(parts, A, omega):
    """``R = 1/2 E||(K* - S) + omega (A - K*)||^2`` from the moments (vectorised over omega)."""
    a1, a2, a3, EK, EKK = parts
    Af = np.asarray(A).ravel()
    cross = a2 @ Af - a3
    quad = Af @ Af - 2 * Af @ EK + EKK
    omega = np.asarray(omega, dtype=np.float64)[..., None]
    return 0.5 * a1 + omega * cross + 0.5 * omega**2 * quad


def _disk_grid(n: int):
    """Quarter-disk grid ``m, e >= 0``, ``m^2 + e^2 <= 1`` of an ``n x n`` lattice on [0, 1]^2."""
    u = np.linspace(0.0, 1.0, n)
    M, E = np.meshgrid(u, u, indexing="ij")
    inside = M**2 + E**2 <= 1.0 + 1e-12
    return M, E, inside


def _count_minima(Rg, inside):
    """Strict local minima of ``Rg`` on the masked quarter grid, with the even reflections
    ``m -> -m``, ``e -> -e`` at the axes; points outside the disk do not count as neighbours."""
    n = Rg.shape[0]
    big = np.where(inside, Rg, np.inf)
    pad = np.full((n + 2, n + 2), np.inf)
    pad[1:-1, 1:-1] = big
    pad[0, 1:-1] = big[1, :]  # reflection m -> -m
    pad[1:-1, 0] = big[:, 1]  # reflection e -> -e
    pad[0, 0] = big[1, 1]
    center = pad[1:-1, 1:-1]
    is_min = inside.copy()
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            nb = pad[1 + di:n + 1 + di, 1 + dj:n + 1 + dj]
            is_min &= center < nb
    return np.argwhere(is_min)


@dataclass(frozen=True)
class AttentionLandscape(Result):
    """``R(e, m)`` of the attention model on the quarter disk and its classification.

    Attributes
    ----------
    m, e : ndarray (n, n)
        Grid (``m, e >= 0``; ``R`` is even in both).
    loss : ndarray (n, n)
        ``R`` (NaN outside the disk).
    minima : ndarray (k, 2)
        ``(m, e)`` of the grid's strict local minima.
    global_min : tuple
        ``(m, e)`` of the global minimum on the grid.
    hessian_origin : ndarray (2, 2)
        Hessian of ``R`` in ``(m, e)`` at the origin.
    escape_direction : ndarray (2,)
        Eigenvector of its lowest eigenvalue (``(m, e)`` components).
    """

    m: np.ndarray
    e: np.ndarray
    loss: np.ndarray
    minima: np.ndarray
    global_min: tuple
    hessian_origin: np.ndarray
    escape_direction: np.ndarray

    @property
    def global_semantic(self) -> bool:
        return abs(self.global_min[0]) >= abs(self.global_min[1])

    @property
    def escape_semantic(self) -> bool:
        return abs(self.escape_direction[0]) >= abs(self.escape_direction[1])


def _hessian_origin(parts_h, A, omega, h):
    # parts at (0,0), (h,0), (0,h); R is even in m and in e (symmetric A, s = (1, -1)).
    R0, Rm, Re = _loss_from_parts(parts_h, A, omega).T
    hm = 2 * (Rm - R0) / h**2
    he = 2 * (Re - R0) / h**2
    return hm, he


def attention_landscape(a: float, omega: float, *, n_grid: int = 81, nodes: int = 12,
                        h: float = 0.02) -> AttentionLandscape:
    """Population loss ``R(e, m)`` (squared loss ``||T - S||^2/2``, the paper's analytic
    landscape) of tied attention with the opposite-paired encoding against the L = 2
    positional-semantic teacher (arXiv:2506.02651, Sec. 4).

    Parameters
    ----------
    a : float
        Strength of the positional matrix ``A = softmax_row([[a^2, -a^2], [-a^2, a^2]])``.
    omega : float
        Weight of the positional part of the teacher,
        ``T = (1 - omega) softmax_row(z* z*^T) + omega A``.
    n_grid : int
        Grid points per axis on ``[0, 1]^2`` (quarter disk), ``>= 3``.
    nodes : int
        Gauss-Hermite nodes per axis.
    h : float
        Step of the finite-difference Hessian at the origin.

    Returns
    -------
    AttentionLandscape
        The grid, ``R`` on it, its local and global minima, the Hessian at the origin and the
        escape direction.

    Raises
    ------
    TypeError
        ``a`` is not a real number or ``n_grid`` not an integer.
    ValueError
        ``a`` not finite or ``n_grid < 3``.

    Examples
    --------
    >>> semantic = attention_landscape(1.0, 0.0, n_grid=11, nodes=6)
    >>> positional = attention_landscape(1.0, 0.9, n_grid=11, nodes=6)
    >>> semantic.global_min, positional.global_min
    ((1.0, 0.0), (0.0, 1.0))

    References
    ----------
    Arnaboldi, Loureiro, Stephan, Krzakala & Zdeborova, arXiv:2506.02651 (2025), Secs. 3-4.
    """
    A = _model_matrix(a)
    model = SequenceSingleIndex(d=10, L=2, target="attention", positional="opposite",
                                target_kw={"omega": omega, "A": A})
    M, E, inside = _disk_grid(check_int(n_grid, "n_grid", min=3))
    pts = np.stack([M[inside], E[inside]], axis=-1)
    parts = _attention_parts(model, nodes, pts)
    Rg = np.full(M.shape, np.nan)
    Rg[inside] = _loss_from_parts(parts, A, omega)
    ph = _attention_parts(model, nodes, np.array([[0.0, 0.0], [h, 0.0], [0.0, h]]))
    hm, he = _hessian_origin(ph, A, np.array([omega]), h)
    H = np.diag([hm[0], he[0]])
    _vals, vecs = np.linalg.eigh(H)
    mins = _count_minima(np.where(inside, Rg, np.inf), inside)
    k = np.nanargmin(Rg)
    gi = np.unravel_index(k, Rg.shape)
    return AttentionLandscape(m=M, e=E, loss=Rg, minima=np.stack([M[tuple(mins.T)],
                                                                    E[tuple(mins.T)]], -1),
                              global_min=(float(M[gi]), float(E[gi])), hessian_origin=H,
                              escape_direction=vecs[:, 0])


def _model_matrix(a):
    from hdcore.ingredients.activations import positional_semantic_matrix

    return positional_semantic_matrix(a)


@dataclass(frozen=True)
class PhaseDiagram(Result):
    """Classification of the attention landscape on an ``(a, omega)`` grid.

    Attributes
    ----------
    a, omega : ndarray
        Grid axes.
    global_positional, escape_positional, multiple_minima : ndarray of bool (n_a, n_omega)
    region : ndarray of int (n_a, n_omega)
        ``4 global_positional + 2 escape_positional + multiple_minima`` (:data:`REGIONS`).
    omega_escape, omega_global : ndarray (n_a,)
        For each ``a``: the smallest grid ``omega`` where the escape direction, resp. the global
        minimum, is positional (NaN if none).
    """

    a: np.ndarray
    omega: np.ndarray
    global_positional: np.ndarray
    escape_positional: np.ndarray
    multiple_minima: np.ndarray
    region: np.ndarray
    omega_escape: np.ndarray
    omega_global: np.ndarray


def positional_semantic_phase_diagram(a_values, omega_values, *, n_grid: int = 61,
                                      nodes: int = 12, h: float = 0.02,
                                      progress: bool = False) -> PhaseDiagram:
    """Phase diagram of the L = 2 attention landscape over ``(a, omega)`` (arXiv:2506.02651,
    Sec. 4; the classification of the authors' ``positional-semantic_phase-diagram.py``):
    global minimum semantic vs positional, escape direction at the origin (lowest Hessian
    eigenvector), and whether several local minima exist. Squared loss ``||T - S||^2/2``.

    The moments of ``S`` are computed once per ``(m, e)`` grid point; ``R`` is a quadratic in
    ``omega`` and linear in ``A``, so the whole ``(a, omega)`` grid costs little more than one
    landscape.

    Parameters
    ----------
    a_values, omega_values : array_like
        Grid axes (``omega`` in ``[0, 1]``).
    n_grid : int
        Points per axis of the ``(m, e)`` disk grid.
    nodes : int
        Gauss-Hermite nodes per axis.
    h : float
        Finite-difference step of the Hessian at the origin.
    progress : bool
        Show a tqdm bar of the ``a`` values on stderr.

    Returns
    -------
    PhaseDiagram
    """
    progress = check_progress(progress)
    a_values = np.atleast_1d(np.asarray(a_values, dtype=np.float64))
    omega_values = np.atleast_1d(np.asarray(omega_values, dtype=np.float64))
    if ((omega_values < 0) | (omega_values > 1)).any():
        raise ValueError("`omega_values` must lie in [0, 1]")
    model = SequenceSingleIndex(d=10, L=2, target="attention", positional="opposite",
                                target_kw={"omega": 0.0})
    M, E, inside = _disk_grid(check_int(n_grid, "n_grid", min=3))
    pts = np.stack([M[inside], E[inside]], axis=-1)
    parts = _attention_parts(model, nodes, pts)
    ph = _attention_parts(model, nodes, np.array([[0.0, 0.0], [h, 0.0], [0.0, h]]))
    na, no = len(a_values), len(omega_values)
    gpos = np.zeros((na, no), bool)
    epos = np.zeros((na, no), bool)
    multi = np.zeros((na, no), bool)
    for i, a in enumerate(track(a_values, progress, desc="phase diagram", unit="a")):
        A = _model_matrix(a)
        Rall = _loss_from_parts(parts, A, omega_values)  # (no, k)
        hm, he = _hessian_origin(ph, A, omega_values, h)
        for j in range(no):
            Rg = np.full(M.shape, np.inf)
            Rg[inside] = Rall[j]
            gi = np.unravel_index(np.argmin(Rg), Rg.shape)
            gpos[i, j] = E[gi] > M[gi]
            epos[i, j] = he[j] < hm[j]
            multi[i, j] = len(_count_minima(Rg, inside)) > 1
    region = 4 * gpos + 2 * epos + multi

    def first(mask):
        out = np.full(na, np.nan)
        for i in range(na):
            k = np.flatnonzero(mask[i])
            if k.size:
                out[i] = omega_values[k[0]]
        return out

    return PhaseDiagram(a=a_values, omega=omega_values, global_positional=gpos,
                        escape_positional=epos, multiple_minima=multi, region=region.astype(int),
                        omega_escape=first(epos), omega_global=first(gpos))
