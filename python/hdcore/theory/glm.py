"""Theory of GLMs and multi-index models: state evolution and replica free entropy of Bayes
GAMP, the optimal weak-recovery threshold, and the spectral predictions of Defilippis, Dandi,
Mergny, Krzakala & Loureiro 2025 (arXiv:2502.02545).

State evolution of Bayes GAMP with ``p x p`` overlaps (Nishimori: ``M = Q``, ``V = I - Q``;
Aubin et al. 2018, Eqs. (9)-(10); Troiani et al. 2024, arXiv:2405.15480)::

    Qhat = alpha E[g_out(y, omega, I - Q) g_out^T],   omega ~ N(0, Q), z | omega ~ N(omega, I - Q)
    Q    = E[f_in(b, Qhat) w*^T],                     b = Qhat w* + Qhat^{1/2} xi

and the replica-symmetric free entropy (Barbier, Krzakala, Macris, Miolane & Zdeborova 2019,
PNAS, Eq. (11), in its multi-index form)::

    Phi(Q, Qhat) = -tr(Q Qhat)/2 + psi_in(Qhat) + alpha psi_out(Q),
    psi_out(Q) = E log Z(y; omega, I - Q),   psi_in(Qhat) = E log Z_in(b, Qhat).

Both sides use the one definition of the channel (:mod:`hdcore.ingredients.channels`) and of the
prior (:mod:`hdcore.ingredients.product_prior`). Among the stationary points, the Bayes-optimal
overlap is the one of largest ``Phi``, so first-order transitions (the binary perceptron) come out
of :func:`gamp_fixed_points` and :func:`glm_thresholds`.

Weak recovery (paper, Lemma 1.2; Troiani et al. 2024): ``alpha_c = 1 / lambda_max(F)`` with
``F(M) = E_y[G(y) M G(y)]`` on symmetric ``p x p`` matrices.

Spectral predictions (paper, Thm. 2.3/2.4, Conj. 2.5, Thm. 2.11): for ``L`` the bulk lies in
the disc of radius ``sqrt(alpha/alpha_c)`` and, above ``alpha_c``, a real outlier sits at
``alpha/alpha_c``; for ``T`` the top eigenvalue is 1 above ``alpha_c``. The overlaps are derived
here (not read from the paper's closed forms, which were not available):

* asymmetric: the fixed point of the state evolution of linearised GAMP (``g_out = G(y) omega``,
  ``f_in = b/gamma``) at ``gamma = alpha/alpha_c``: ``M = M_1`` (top eigenvector of ``F``) and
  ``Q - (alpha_c^2/alpha) F(Q) = M M^T + (alpha_c^2/alpha) E[G M G M^T G]``, overlap
  ``||M||_F / sqrt(tr Q)``; for ``p = 1``: ``m^2 = (1 - alpha_c/alpha) / (1 + alpha_c^2 E[G^3]/alpha)``.
* symmetric: the top-eigenvector formula of Lu & Li (2017) and Mondelli & Montanari (2018) for
  ``sum_mu T(y_mu) x_mu x_mu^T``, per block and direction for jointly diagonalisable links.

Both are checked against simulations in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from hdcore._results import Result
from hdcore._validation import check_instance, check_int, check_iteration, check_real
from hdcore.theory.fixed_point import solve, transition
from hdcore.ingredients.channels import Channel
from hdcore.models.matrix_tensor import SpikedMatrixTensor
from hdcore.models.multi_index import MultiIndex
from hdcore.theory import low_rank as _low_rank
from hdcore.theory.matrix_tensor import matrix_tensor_state_evolution

__all__ = [
    "GAMPFixedPoints",
    "GLMStateEvolution",
    "SpectralPrediction",
    "WeakRecovery",
    "gamp_fixed_points",
    "gamp_state_evolution",
    "glm_free_entropy",
    "glm_thresholds",
    "spectral_prediction",
    "state_evolution",
    "weak_recovery_threshold",
]

#: overlap of the uninformative start (GAMP starts at Q ~ 1e-6)
UNINFORMATIVE = 1e-6
#: 1 - q below which the state evolution has reached perfect recovery
PERFECT = 1e-12


# ---- state evolution ---------------------------------------------------------------------

def _psd_clip(q, p):
    q = 0.5 * (q + q.T)
    vals, vecs = np.linalg.eigh(q)
    vals = np.clip(vals, 0.0, 1.0 - PERFECT)
    return (vecs * vals) @ vecs.T


def _output_side(model: MultiIndex, q: np.ndarray, se_kw: dict):
    """``(Qhat, psi_out)`` at overlap ``Q``."""
    ch, p = model.channel, model.p
    omega, y, w = ch.se_points(q, **se_kw)
    v = np.eye(p) - q
    log_z, mean, _ = ch.posterior(y, omega, v)
    vinv = np.linalg.inv(v)
    g = (mean - omega) @ vinv.T
    qhat = model.alpha * np.einsum("n,np,nq->pq", w, g, g)
    return 0.5 * (qhat + qhat.T), float(w @ log_z)


def _start(model, init):
    p = model.p
    if isinstance(init, str):
        if init == "uninformative":
            return UNINFORMATIVE * np.eye(p)
        if init == "informative":
            return (1.0 - 1e-6) * np.eye(p)
        raise ValueError(f"`init` must be 'uninformative', 'informative' or a p x p matrix, got {init!r}")
    q = np.atleast_2d(np.asarray(init, dtype=np.float64))
    if q.shape != (p, p) or not np.isfinite(q).all():
        raise ValueError(f"`init` must be a finite {p} x {p} matrix, got shape {q.shape}")
    return _psd_clip(q, p)


def _overlap(q):
    return float(np.linalg.norm(q) / np.sqrt(max(np.trace(q), 1e-300)))


@dataclass(frozen=True)
class GLMStateEvolution(Result):
    """State evolution of Bayes GAMP on a multi-index model.

    Attributes
    ----------
    q : ndarray
        ``Q^t`` (``(n_iter + 1) x p x p``), ``= M^t`` by the Nishimori identity.
    qhat : ndarray
        ``Qhat^t`` (``n_iter x p x p``), predicted ``A`` of GAMP.
    overlap : ndarray
        ``||Q||_F / sqrt(tr Q)`` per iteration (the paper's ``m``; ``sqrt(q)`` for ``p = 1``),
        comparable with :attr:`hdcore.algorithms.GAMPResult.overlap`.
    free_entropy : float
        ``Phi(Q, Qhat)`` at the last iterate.
    n_iter : int
    converged : bool
    """

    q: np.ndarray
    qhat: np.ndarray
    overlap: np.ndarray
    free_entropy: float
    n_iter: int
    converged: bool

    @property
    def fixed_point(self) -> np.ndarray:
        """Final ``Q``."""
        return self.q[-1]

    @property
    def final_overlap(self) -> float:
        return float(self.overlap[-1])

    @property
    def mse(self) -> float:
        """``tr(I - Q)/p`` at the last iterate (per-entry MSE of the Bayes estimator)."""
        q = self.q[-1]
        return float(np.trace(np.eye(q.shape[0]) - q) / q.shape[0])


def gamp_state_evolution(model: MultiIndex, *, n_iter: int = 2000, init="uninformative",
                         tol: float = 1e-9, damping: float = 0.0,
                         se_options: dict | None = None) -> GLMStateEvolution:
    """State evolution of Bayes GAMP (see the module docs).

    Parameters
    ----------
    model : MultiIndex
        The model (``d`` is irrelevant: this is the ``d -> infinity`` limit).
    n_iter : int
        Maximal number of iterations.
    init : {"uninformative", "informative"} or array
        ``Q^0 = 1e-6 I``, ``(1 - 1e-6) I``, or a given ``p x p`` matrix.
    tol : float
        Stop when ``max |F(Q^t) - Q^t| < tol`` (perfect recovery is the fixed point
        ``Q = (1 - 1e-12) I`` of the clipped map).
    damping : float
        ``Q <- (1 - damping) Q_new + damping Q`` (slows but stabilises the iteration; the fixed
        points do not change).
    se_options : dict, optional
        Quadrature settings passed to :meth:`~hdcore.ingredients.channels.Channel.se_points`.

    Returns
    -------
    GLMStateEvolution
        Iterates ``Q^t`` and ``Qhat^t``, overlaps, the free entropy at the last iterate and the
        convergence flag.

    Raises
    ------
    TypeError
        ``model`` is not a ``MultiIndex``, or ``n_iter`` / ``damping`` / ``tol`` have the wrong
        type.
    ValueError
        ``n_iter < 0``, ``damping`` outside ``[0, 1)``, ``tol < 0``, an unknown ``init`` string
        or an ``init`` matrix that is not a finite ``p x p`` array.

    Examples
    --------
    >>> from hdcore.models import MultiIndex
    >>> se = gamp_state_evolution(MultiIndex(d=10, alpha=2.0, p=1, link="sign"))
    >>> se.converged and 0 < se.mse < 1
    True

    References
    ----------
    Aubin, Maillard, Barbier, Krzakala, Macris & Zdeborova, "The committee machine: computational
    to statistical gaps in learning a two-layers neural network", NeurIPS 2018, arXiv:1806.05451.
    Barbier, Krzakala, Macris, Miolane & Zdeborova, "Optimal errors and phase transitions in
    high-dimensional generalized linear models", PNAS 116 (2019), arXiv:1708.03395. Troiani,
    Dandi, Defilippis, Zdeborova, Loureiro & Krzakala, "Fundamental computational limits of weak
    learnability in high-dimensional multi-index models", arXiv:2405.15480 (2024).
    """
    if not isinstance(model, MultiIndex):
        raise TypeError(f"expected a MultiIndex model, got {type(model).__name__}")
    n_iter, damping, tol = check_iteration(n_iter, damping, tol)
    se_kw = dict(se_options or {})
    pp = model.product_prior
    p = model.p

    def step(q):
        qhat, psi_out = _output_side(model, q, se_kw)
        return _psd_clip(pp.overlap(qhat), p), (qhat, psi_out)

    # Q is clipped at 1 - PERFECT, where the map is stationary: perfect recovery is a fixed point
    res = solve(step, _start(model, init), damping=damping, tol=tol, max_iter=n_iter,
                raise_on_failure=False, trace=True, has_aux=True)
    q, (qhat, psi_out) = res.x, res.aux
    phi = -0.5 * float(np.trace(q @ qhat)) + pp.free_entropy(qhat) + model.alpha * psi_out
    q_arr = np.array(res.trace)
    assert res.aux_trace is not None  # trace=True, has_aux=True
    qhats = np.array([a[0] for a in res.aux_trace[:-1]]).reshape(-1, p, p)
    return GLMStateEvolution(q=q_arr, qhat=qhats, overlap=np.array([_overlap(x) for x in q_arr]),
                             free_entropy=float(phi), n_iter=res.n_iter, converged=res.converged)


def state_evolution(model, **kwargs):
    """State evolution of the Bayes-optimal message-passing algorithm of ``model``:
    :func:`gamp_state_evolution` for a :class:`~hdcore.models.MultiIndex`, else
    :func:`hdcore.theory.sequence_state_evolution` for a
    :class:`~hdcore.models.SequenceMultiIndex`, else
    :func:`hdcore.theory.matrix_tensor.matrix_tensor_state_evolution` for a
    :class:`~hdcore.models.SpikedMatrixTensor`, else
    :func:`hdcore.theory.low_rank.state_evolution` (spiked models).

    Parameters
    ----------
    model : MultiIndex, SpikedMatrixTensor, SpikedWigner or SpikedWishart
        The model (``n -> infinity`` limit).
    **kwargs
        Passed to the state evolution chosen (``n_iter``, ``init``, ``tol``, ``damping``, ...).

    Returns
    -------
    GLMStateEvolution, MatrixTensorSE or StateEvolution
        The result of the function dispatched to.

    Raises
    ------
    TypeError
        ``model`` is of none of these types, or an argument has the wrong type (raised by the
        function dispatched to).
    ValueError
        An invalid setting (raised by the function dispatched to).

    Examples
    --------
    >>> from hdcore.models import SpikedWigner
    >>> round(state_evolution(SpikedWigner(n=10, snr=2.0, prior="gaussian")).fixed_point, 6)
    0.75

    References
    ----------
    See :func:`gamp_state_evolution`, :func:`hdcore.theory.matrix_tensor_state_evolution` and
    :func:`hdcore.theory.low_rank.state_evolution`.
    """
    if isinstance(model, MultiIndex):
        return gamp_state_evolution(model, **kwargs)
    from hdcore.models.sequence_index import SequenceMultiIndex
    if isinstance(model, SequenceMultiIndex):
        from hdcore.theory.sequence_index import sequence_state_evolution
        return sequence_state_evolution(model, **kwargs)
    if isinstance(model, SpikedMatrixTensor):
        return matrix_tensor_state_evolution(model, **kwargs)
    return _low_rank.state_evolution(model, **kwargs)


def glm_free_entropy(model: MultiIndex, q, *, se_options: dict | None = None) -> float:
    """Replica-symmetric free entropy ``Phi(Q, Qhat(Q))`` (module docs) at overlap ``Q``
    (``p x p``, or a number for ``p = 1``); at state-evolution fixed points it is the
    free entropy of that branch.

    Parameters
    ----------
    model : MultiIndex
        The model (``alpha``, channel and prior matter).
    q : float or array_like
        The overlap ``Q`` (a finite ``p x p`` matrix, or a number for ``p = 1``), or
        ``"uninformative"`` / ``"informative"`` (``1e-6 I``, ``(1 - 1e-6) I``); it is clipped to
        the PSD matrices below ``I``.
    se_options : dict, optional
        Quadrature settings passed to :meth:`~hdcore.ingredients.channels.Channel.se_points`.

    Returns
    -------
    float
        ``Phi(Q, Qhat(Q))``.

    Raises
    ------
    TypeError
        ``model`` is not a ``MultiIndex``.
    ValueError
        ``q`` is not a finite ``p x p`` matrix or a known start name.

    Examples
    --------
    >>> from hdcore.models import MultiIndex
    >>> model = MultiIndex(d=10, alpha=2.0, p=1, link="sign")
    >>> se = gamp_state_evolution(model)
    >>> abs(glm_free_entropy(model, se.fixed_point) - se.free_entropy) < 1e-6
    True

    References
    ----------
    Aubin, Maillard, Barbier, Krzakala, Macris & Zdeborova, "The committee machine: computational
    to statistical gaps in learning a two-layers neural network", NeurIPS 2018, arXiv:1806.05451.
    Barbier, Krzakala, Macris, Miolane & Zdeborova, "Optimal errors and phase transitions in
    high-dimensional generalized linear models", PNAS 116 (2019), arXiv:1708.03395. Troiani,
    Dandi, Defilippis, Zdeborova, Loureiro & Krzakala, "Fundamental computational limits of weak
    learnability in high-dimensional multi-index models", arXiv:2405.15480 (2024).
    """
    check_instance(model, "model", MultiIndex)
    q = _start(model, q)
    qhat, psi_out = _output_side(model, q, dict(se_options or {}))
    return float(-0.5 * np.trace(q @ qhat) + model.product_prior.free_entropy(qhat)
                 + model.alpha * psi_out)


@dataclass(frozen=True)
class GAMPFixedPoints(Result):
    """State-evolution fixed points from uninformative and informative starts.

    Attributes
    ----------
    uninformative, informative : ndarray
        ``Q`` reached from ``1e-6 I`` (what GAMP reaches) and from ``(1 - 1e-6) I``.
    phi_uninformative, phi_informative : float
        Their free entropies.
    """

    uninformative: np.ndarray
    informative: np.ndarray
    phi_uninformative: float
    phi_informative: float

    @property
    def overlap_uninformative(self) -> float:
        return _overlap(self.uninformative)

    @property
    def overlap_informative(self) -> float:
        return _overlap(self.informative)

    @property
    def bayes_optimal(self) -> np.ndarray:
        """``Q`` of the Bayes-optimal estimator: the fixed point of largest free entropy."""
        if self.phi_informative > self.phi_uninformative + 1e-10:
            return self.informative
        return self.uninformative

    @property
    def overlap_bayes_optimal(self) -> float:
        return _overlap(self.bayes_optimal)

    @property
    def hard_phase(self) -> bool:
        """GAMP from a random start is strictly worse than Bayes-optimal."""
        return self.overlap_bayes_optimal - self.overlap_uninformative > 1e-4


def gamp_fixed_points(model: MultiIndex, **kwargs) -> GAMPFixedPoints:
    """Fixed points of :func:`gamp_state_evolution` from both starts, with free entropies
    (keyword arguments are passed on).

    Parameters
    ----------
    model : MultiIndex
        The model.
    **kwargs
        Passed to :func:`gamp_state_evolution` (``n_iter``, ``tol``, ``damping``,
        ``se_options``; not ``init``).

    Returns
    -------
    GAMPFixedPoints
        ``Q`` from both starts and their free entropies.

    Raises
    ------
    TypeError, ValueError
        As :func:`gamp_state_evolution` (``model`` not a ``MultiIndex``, invalid settings).

    Examples
    --------
    >>> from hdcore.models import MultiIndex
    >>> fp = gamp_fixed_points(MultiIndex(d=10, alpha=0.3, p=1, link="sign"))
    >>> fp.hard_phase, 0 < fp.overlap_bayes_optimal < 1
    (False, True)

    References
    ----------
    Aubin, Maillard, Barbier, Krzakala, Macris & Zdeborova, "The committee machine: computational
    to statistical gaps in learning a two-layers neural network", NeurIPS 2018, arXiv:1806.05451.
    Barbier, Krzakala, Macris, Miolane & Zdeborova, "Optimal errors and phase transitions in
    high-dimensional generalized linear models", PNAS 116 (2019), arXiv:1708.03395. Troiani,
    Dandi, Defilippis, Zdeborova, Loureiro & Krzakala, "Fundamental computational limits of weak
    learnability in high-dimensional multi-index models", arXiv:2405.15480 (2024).
    """
    lo = gamp_state_evolution(model, init="uninformative", **kwargs)
    hi = gamp_state_evolution(model, init="informative", **kwargs)
    return GAMPFixedPoints(uninformative=lo.fixed_point, informative=hi.fixed_point,
                           phi_uninformative=lo.free_entropy, phi_informative=hi.free_entropy)


def glm_thresholds(model: MultiIndex, *, lower: float, upper: float, xtol: float = 1e-4,
                   gap: float = 1e-4, **kwargs) -> tuple[float, float]:
    """Information-theoretic and algorithmic sample complexities of a first-order transition,
    located by bisection in ``alpha`` within ``[lower, upper]``:

    * ``alpha_it``: the informative branch starts to have the larger free entropy;
    * ``alpha_alg``: state evolution from the uninformative start reaches the informative branch
      (``overlap_informative - overlap_uninformative < gap``).

    For the binary perceptron (Rademacher prior, sign link) this gives 1.2447 and 1.4926
    (Gyorgyi 1990 reports 1.245; Barbier et al. 2019 quote 1.249 and 1.493; an independent
    ``scipy.integrate`` evaluation of the same free entropy gives 1.24468, see the tests).

    Parameters
    ----------
    model : MultiIndex
        The model (its ``alpha`` is replaced by the bisection points).
    lower, upper : float
        Bracket in ``alpha``, ``0 < lower < upper``; it must contain both transitions.
    xtol : float
        Bisection tolerance in ``alpha``, ``> 0``.
    gap : float
        The branches count as merged when their overlaps differ by less than ``gap``.
    **kwargs
        Passed to :func:`gamp_fixed_points`.

    Returns
    -------
    tuple of float
        ``(alpha_it, alpha_alg)``.

    Raises
    ------
    TypeError
        ``lower``, ``upper`` or ``xtol`` is not a real number.
    ValueError
        ``lower <= 0``, ``upper <= lower``, ``xtol <= 0``, or no transition in the bracket.

    Examples
    --------
    >>> from hdcore.models import MultiIndex
    >>> perceptron = MultiIndex(d=10, alpha=1.0, p=1, link="sign", prior="rademacher")
    >>> a_it, a_alg = glm_thresholds(perceptron, lower=1.2, upper=1.6, xtol=0.1, tol=1e-6)
    >>> 1.15 < a_it < 1.35 < 1.4 < a_alg < 1.6  # Barbier et al.: 1.249 and 1.493
    True

    References
    ----------
    Aubin, Maillard, Barbier, Krzakala, Macris & Zdeborova, "The committee machine: computational
    to statistical gaps in learning a two-layers neural network", NeurIPS 2018, arXiv:1806.05451.
    Barbier, Krzakala, Macris, Miolane & Zdeborova, "Optimal errors and phase transitions in
    high-dimensional generalized linear models", PNAS 116 (2019), arXiv:1708.03395. Troiani,
    Dandi, Defilippis, Zdeborova, Loureiro & Krzakala, "Fundamental computational limits of weak
    learnability in high-dimensional multi-index models", arXiv:2405.15480 (2024).
    """
    lower = check_real(lower, "lower", min=0.0, min_inclusive=False)
    upper = check_real(upper, "upper", min=lower, min_inclusive=False)
    xtol = check_real(xtol, "xtol", min=0.0, min_inclusive=False)
    cache: dict[float, GAMPFixedPoints] = {}

    def fp(a):
        if a not in cache:
            cache[a] = gamp_fixed_points(replace(model, alpha=a), **kwargs)
        return cache[a]

    def merged(a):
        f = fp(a)
        return f.overlap_informative - f.overlap_uninformative < gap

    def informative_wins(a):
        f = fp(a)
        return merged(a) or f.phi_informative > f.phi_uninformative + 1e-10

    def bisect(pred, lo, hi, what):
        try:
            return transition(pred, lo, hi, xtol=xtol)
        except ValueError:
            raise ValueError(f"no {what} transition in [{lo}, {hi}] (widen `lower`/`upper`)") from None

    alpha_alg = bisect(merged, lower, upper, "algorithmic")
    alpha_it = bisect(informative_wins, lower, alpha_alg, "information-theoretic")
    return alpha_it, alpha_alg


# ---- weak recovery and spectral predictions ----------------------------------------------

def _sym_basis(p):
    basis = []
    for i in range(p):
        for j in range(i, p):
            e = np.zeros((p, p))
            if i == j:
                e[i, i] = 1.0
            else:
                e[i, j] = e[j, i] = 1.0 / np.sqrt(2.0)
            basis.append(e)
    return basis


def _channel_of(obj) -> Channel:
    if isinstance(obj, MultiIndex):
        return obj.channel
    if isinstance(obj, Channel):
        return obj
    raise TypeError(f"expected a MultiIndex or a Channel, got {type(obj).__name__}")


def _label_g(ch: Channel, n: int):
    y, w = ch.label_quadrature(n)
    return y, w, ch.G(y)


def _f_operator(g, w):
    """Matrix of ``F(M) = E[G M G]`` in an orthonormal basis of symmetric matrices."""
    p = g.shape[1]
    basis = _sym_basis(p)
    cols = [np.einsum("n,nij,jk,nkl->il", w, g, e, g) for e in basis]
    mat = np.array([[np.sum(a * c) for c in cols] for a in basis])
    return 0.5 * (mat + mat.T), basis


@dataclass(frozen=True)
class WeakRecovery(Result):
    """Optimal weak-recovery threshold (paper, Lemma 1.2).

    Attributes
    ----------
    alpha_c : float
        ``1 / lambda_max(F)`` (0 when ``E[z | y]`` is not identically 0: trivial directions).
    nu : ndarray
        Eigenvalues of ``F(M) = E[G M G]`` on symmetric matrices, descending.
    m1 : ndarray
        Top eigenvector ``M_1`` (``p x p``, unit Frobenius norm, sign chosen so that it is PSD).
    trivial : bool
        ``E[z | y] != 0``: weak recovery needs no threshold (one GAMP step correlates).
    """

    alpha_c: float
    nu: np.ndarray
    m1: np.ndarray
    trivial: bool


def weak_recovery_threshold(model, *, n: int = 400) -> WeakRecovery:
    """``alpha_c = 1 / lambda_max(F)``, ``F(M) = E_y[G(y) M G(y)]`` (paper, Lemma 1.2; Troiani et
    al. 2024), by quadrature over the label law (:meth:`Channel.label_quadrature`, ``n`` nodes).

    ``model`` is a :class:`~hdcore.models.MultiIndex` or a channel. Single index:
    ``1/alpha_c = E[(Var[z | y] - 1)^2]``; phase retrieval gives 1/2, ``||z||^2/p`` gives ``p/2``,
    ``z1/z2`` gives 1.

    Parameters
    ----------
    model : MultiIndex or Channel
        The model, or its channel (only the channel matters).
    n : int
        Quadrature nodes of the label law, ``>= 8``.

    Returns
    -------
    WeakRecovery
        ``alpha_c``, the spectrum ``nu`` of ``F``, its top eigenvector ``m1`` and the
        ``trivial`` flag.

    Raises
    ------
    TypeError
        ``model`` is neither a ``MultiIndex`` nor a ``Channel``, or ``n`` is not an integer.
    ValueError
        ``n < 8``.
    NotImplementedError
        The channel has no label quadrature and non-trivial directions.

    Examples
    --------
    >>> from hdcore.models import MultiIndex
    >>> wr = weak_recovery_threshold(MultiIndex(d=10, alpha=1.0, p=1, link="abs"), n=100)
    >>> round(wr.alpha_c, 6), wr.trivial
    (0.5, False)

    References
    ----------
    Defilippis, Dandi, Mergny, Krzakala & Loureiro, "Optimal spectral transitions in
    high-dimensional multi-index models", arXiv:2502.02545 (2025). Troiani et al.,
    arXiv:2405.15480 (2024). Lu & Li, "Phase transitions of spectral initialization for
    high-dimensional nonconvex estimation", arXiv:1702.06435 (2017).
    """
    ch = _channel_of(model)
    n = check_int(n, "n", min=8)
    trivial = ch.trivial_directions(n)
    try:
        _, w, g = _label_g(ch, n)
    except NotImplementedError:
        if not trivial:
            raise
        return WeakRecovery(alpha_c=0.0, nu=np.full(1, np.nan), m1=np.full((ch.p, ch.p), np.nan),
                            trivial=True)
    mat, basis = _f_operator(g, w)
    vals, vecs = np.linalg.eigh(mat)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    # in a degenerate top eigenspace pick the PSD representative closest to the identity
    top = vecs[:, np.abs(vals - vals[0]) <= 1e-8 * max(abs(vals[0]), 1e-300)]
    ivec = np.array([np.trace(e) for e in basis])
    coef = top @ (top.T @ ivec)
    coef = coef / np.linalg.norm(coef) if np.linalg.norm(coef) > 1e-8 else vecs[:, 0]
    m1 = sum(c * e for c, e in zip(coef, basis))
    if np.trace(m1) < 0:
        m1 = -m1
    alpha_c = 0.0 if trivial else float(1.0 / vals[0])
    return WeakRecovery(alpha_c=alpha_c, nu=vals, m1=m1, trivial=trivial)


def _asymmetric_overlap(alpha, g, w, mode, nu1):
    """Fixed point of linearised-GAMP state evolution at ``gamma = alpha nu1`` (module docs)."""
    p = g.shape[1]
    mat, basis = _f_operator(g, w)
    c = 1.0 / (alpha * nu1 * nu1)
    gmg = np.einsum("nij,jk,nkl->nil", g, mode, g)
    third = np.einsum("n,nij,jk,nkl->il", w, gmg, mode.T, g)
    rhs = mode @ mode.T + c * 0.5 * (third + third.T)
    rvec = np.array([np.sum(e * rhs) for e in basis])
    qvec = np.linalg.solve(np.eye(len(basis)) - c * mat, rvec)
    q = sum(v * e for v, e in zip(qvec, basis))
    tr = np.trace(q)
    if tr <= 0:
        return float("nan")
    del p
    return float(np.linalg.norm(mode) / np.sqrt(tr))


def _lu_li(alpha, tau, s2, w):
    """Top eigenvalue and squared cosine of ``(1/n) sum_mu tau(y_mu) a_mu a_mu^T`` (``a ~ N(0, I)``,
    ``n = alpha d``) along a direction whose squared projection has conditional mean ``s2(y)``
    (Lu & Li 2017, Thm. 1; Mondelli & Montanari 2018, Lemma 2)."""
    sup = float(tau.max())

    def psi(lam):
        return lam * (1.0 / alpha + w @ (tau / (lam - tau)))

    def dpsi(lam):
        return 1.0 / alpha + w @ (tau / (lam - tau)) - lam * (w @ (tau / (lam - tau) ** 2))

    def phi(lam):
        return lam * (w @ (tau * s2 / (lam - tau)))

    def dphi(lam):
        return w @ (tau * s2 / (lam - tau)) - lam * (w @ (tau * s2 / (lam - tau) ** 2))

    scale = max(abs(sup), 1.0)
    res = minimize_scalar(lambda t: psi(sup + np.exp(t)), bounds=(np.log(1e-12 * scale),
                                                                   np.log(1e8 * scale)),
                          method="bounded", options={"xatol": 1e-10})
    lam_bar = sup + np.exp(res.x)

    def zeta(lam):
        return psi(max(lam, lam_bar))

    def h(t):
        lam = sup + np.exp(t)
        return zeta(lam) - phi(lam)

    lo, hi = np.log(1e-14 * scale), np.log(1e9 * scale)
    if h(lo) * h(hi) > 0:
        return float(psi(lam_bar)), 0.0
    lam_star = sup + np.exp(brentq(h, lo, hi, xtol=1e-13))
    if lam_star <= lam_bar:
        return float(psi(lam_bar)), 0.0
    d1, d2 = dpsi(lam_star), dphi(lam_star)
    return float(psi(lam_star)), float(max(d1 / (d1 - d2), 0.0))


@dataclass(frozen=True)
class SpectralPrediction(Result):
    """Asymptotic spectra and overlaps of the spectral methods at ``alpha``.

    Attributes
    ----------
    alpha, alpha_c : float
    bulk_radius : float
        ``sqrt(alpha/alpha_c)``: radius of the disc holding the bulk of ``L`` (paper, Conj. 2.5).
    outlier : float
        ``alpha/alpha_c`` above ``alpha_c`` (the leading eigenvalue of ``L``), else ``nan``.
    t_top : float
        Top eigenvalue of ``T`` (1 above ``alpha_c``, paper Thm. 2.11); from Lu & Li's formula
        for ``p = 1`` and jointly diagonalisable links (``nan`` otherwise below ``alpha_c``).
    overlap_asymmetric : float
        Overlap ``||M||_F / sqrt(tr Q)`` of the estimator of :func:`asymmetric_spectral`.
    overlap_symmetric : float
        Overlap of the estimator of :func:`symmetric_spectral` (``p = 1`` and jointly
        diagonalisable links; ``nan`` otherwise).
    """

    alpha: float
    alpha_c: float
    bulk_radius: float
    outlier: float
    t_top: float
    overlap_asymmetric: float
    overlap_symmetric: float


def spectral_prediction(model: MultiIndex, *, n: int = 400,
                        clip: float | None = 20.0) -> SpectralPrediction:
    """Spectral predictions at the model's ``alpha`` (see :class:`SpectralPrediction`).

    ``clip`` floors the symmetric preprocessing at ``-clip``, as
    :func:`hdcore.algorithms.symmetric_spectral` does by default (``None``: the exact optimal
    preprocessing, whose top eigenvalue is exactly 1 above ``alpha_c``).

    Parameters
    ----------
    model : MultiIndex
        The model at its ``alpha``.
    n : int
        Quadrature nodes of the label law (as in :func:`weak_recovery_threshold`).
    clip : float or None
        Floor ``-clip`` of the symmetric preprocessing; ``None``: unclipped.

    Returns
    -------
    SpectralPrediction
        Bulk radius, outlier and overlaps of both spectral methods.

    Raises
    ------
    TypeError
        ``model`` is not a ``MultiIndex``, or ``n`` is not an integer.
    ValueError
        ``n < 8``.

    Examples
    --------
    >>> from hdcore.models import MultiIndex
    >>> pred = spectral_prediction(MultiIndex(d=10, alpha=3.0, p=1, link="phase_retrieval"), n=100)
    >>> round(pred.alpha_c, 6), round(pred.outlier, 6)  # alpha_c = 1/2 for phase retrieval
    (0.5, 6.0)
    >>> 0 < pred.overlap_asymmetric < pred.overlap_symmetric < 1
    True

    References
    ----------
    Defilippis, Dandi, Mergny, Krzakala & Loureiro, "Optimal spectral transitions in
    high-dimensional multi-index models", arXiv:2502.02545 (2025). Troiani et al.,
    arXiv:2405.15480 (2024). Lu & Li, "Phase transitions of spectral initialization for
    high-dimensional nonconvex estimation", arXiv:1702.06435 (2017).
    """
    if not isinstance(model, MultiIndex):
        raise TypeError(f"expected a MultiIndex model, got {type(model).__name__}")
    ch = model.channel
    alpha = model.alpha
    wr = weak_recovery_threshold(ch, n=n)
    _, w, g = _label_g(ch, n)
    nu1 = float(wr.nu[0])
    alpha_c = 1.0 / nu1
    above = alpha > alpha_c
    u = ch.eigenbasis
    # modes of the asymmetric method: blocks u_l u_l^T of jointly diagonalisable links
    if u is not None:
        lam = np.einsum("kl,nkm,ml->nl", u, g, u)
        nus = (w[:, None] * lam**2).sum(axis=0)
        top = int(np.argmax(nus))
        mode = np.outer(u[:, top], u[:, top])
    else:
        mode = wr.m1
    ov_asym = _asymmetric_overlap(alpha, g, w, mode, nu1) if above else 0.0
    t_top, ov_sym = float("nan"), float("nan")
    if u is not None:
        lam = np.einsum("kl,nkm,ml->nl", u, g, u)
        best = (-np.inf, 0.0)
        for lblock in range(model.p):
            tau = lam[:, lblock] / np.maximum(1.0 + lam[:, lblock], 1e-12)
            if clip is not None:
                tau = np.maximum(tau, -clip)
            for kdir in range(model.p):
                ev, cos2 = _lu_li(alpha, tau, 1.0 + lam[:, kdir], w)
                if ev > best[0] + 1e-12 or (abs(ev - best[0]) <= 1e-12 and cos2 > best[1]):
                    best = (ev, cos2)
        t_top, ov_sym = alpha * best[0], float(np.sqrt(best[1]))
    elif above:
        t_top = 1.0
    return SpectralPrediction(alpha=alpha, alpha_c=alpha_c, bulk_radius=float(np.sqrt(alpha / alpha_c)),
                              outlier=float(alpha / alpha_c) if above else float("nan"),
                              t_top=float(t_top), overlap_asymmetric=float(ov_asym),
                              overlap_symmetric=ov_sym)
