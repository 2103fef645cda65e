"""GAMP for nuclear-norm (trace-norm) empirical risk minimisation in symmetric matrix sensing.

The estimator (Erba, Troiani, Zdeborova & Krzakala 2025, arXiv:2505.17958) is the minimiser of
``(1/2) sum_mu (y_mu - A_mu(S))^2 + lam Tr S`` over PSD ``S`` (``psd=True``), or of
``... + lam ||S||_*`` over symmetric ``S``, in the units of
:mod:`hdcore.models.matrix_sensing` (``S`` in spectral units, ``A = sample.forward``) -- the
same objective and the same ``lam`` as :func:`hdcore.algorithms.nuclear_norm` (FISTA).

GAMP for convex ERM (Rangan 2011; the soft-threshold AMP of Donoho, Maleki & Montanari 2009)
with the matrix input side of GAMP-RIE; one loop in the Rust core serves both algorithms
(``hdcore_kernels::sensing::gamp``). With ``field_gain = 2n/d`` and ``noise_gain = 4n/d^2``::

    omega^t = A(S^t) - V^t g^{t-1}                     (damped with omega^{t-1}, V^{t-1})
    g^t     = (y - omega^t) / (1 + V^t),    a^t = 1 / (1 + V^t)
    R^t     = S^t + A^T g^t / (field_gain a^t),   delta^t = 1 / (noise_gain a^t)
    S^{t+1} = soft threshold of the eigenvalues of R^t at theta^t = lam / (field_gain a^t)
    V^{t+1} = 2 delta^t D^t

with ``D`` the normalised divergence of the spectral soft threshold at ``R^t``
(:func:`spectral_soft_threshold`). At a fixed point ``g = y - A(S)`` and ``S`` is a fixed point
of proximal gradient descent, i.e. the minimiser; there ``V = D / (2 alpha - D)`` and
``theta = (lam/d) / (2 alpha - D)`` with ``alpha = n/d^2``, the state-evolution relations of
the theory of this estimator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, progress_bar
from hdcore._results import Result
from hdcore._validation import as_array, check_int, check_real
from hdcore.algorithms.factorised_gd import nuclear_objective, rank_fraction
from hdcore.models.matrix_sensing import MatrixSensingSample

__all__ = ["NuclearNormGampResult", "nuclear_norm_gamp", "spectral_soft_threshold"]


@dataclass(frozen=True)
class NuclearNormGampResult(Result):
    """Output of :func:`nuclear_norm_gamp`.

    Attributes
    ----------
    estimate : ndarray
        Final estimate of ``S`` (spectral units).
    mse : float
        Its error ``||S_hat - S*||_F^2 / d``.
    test_error : float
        ``E (<A, S*> - <A, S_hat>)^2 = 2 mse`` for a fresh sensing matrix (the test error of the
        network without label noise, sensing units).
    train_error : float
        Mean squared residual ``mean_mu (y_mu - A_mu(S_hat))^2``.
    rank_fraction : float
        Fraction of eigenvalues of ``estimate`` above ``1e-9`` times the largest modulus.
    objective : float
        ``(1/2) sum (y - A(S_hat))^2 + lam Tr S_hat`` (``lam ||S_hat||_*`` if not ``psd``).
    mse_trace : ndarray
        Error of the iterate entering each iteration, and of the final one
        (``n_iter + 1`` entries).
    theta : ndarray
        Soft threshold ``theta^t`` per iteration.
    variance : ndarray
        Onsager variance ``V^t`` used at iteration ``t`` (after damping).
    divergence : ndarray
        Normalised divergence ``D^t`` of the soft threshold at ``R^t``.
    diff : ndarray
        ``||S^{t+1} - S^t||_F^2 / d``.
    n_iter : int
        Iterations performed.
    converged : bool
        Whether ``diff`` fell below ``tol``.
    """

    estimate: np.ndarray = field(repr=False)
    mse: float
    test_error: float
    train_error: float
    rank_fraction: float
    objective: float
    mse_trace: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
    variance: np.ndarray = field(repr=False)
    divergence: np.ndarray = field(repr=False)
    diff: np.ndarray = field(repr=False)
    n_iter: int
    converged: bool


def _check_psd(psd) -> bool:
    if not isinstance(psd, (bool, np.bool_)):
        raise TypeError(f"`psd` must be True or False, got {type(psd).__name__}")
    return bool(psd)


def spectral_soft_threshold(a, theta: float, *, psd: bool = True,
                            n_threads: int | None = None) -> tuple[np.ndarray, float]:
    """Eigenvalue soft threshold of a symmetric matrix and the divergence of the map.

    ``F(A) = sum_i eta(lambda_i) v_i v_i^T`` with ``eta(l) = (l - theta)_+`` (``psd``: the
    proximal map of ``theta Tr`` on the PSD cone) or ``sign(l) (|l| - theta)_+`` (of
    ``theta ||.||_*``), and
    ``D = (1/d^2) [2 sum_i eta'(lambda_i) + sum_{i != j} (eta(lambda_i) - eta(lambda_j)) /
    (lambda_i - lambda_j)]``: twice the divergence of ``F`` in orthonormal coordinates of the
    symmetric matrices, divided by ``d^2``.

    Parameters
    ----------
    a : array_like, shape (d, d)
        Symmetric matrix.
    theta : float
        Threshold, ``>= 0``.
    psd : bool
        Clip at zero (PSD) or shrink with the sign.
    n_threads : int, optional
        Threads of the Rust kernel.

    Returns
    -------
    estimate : ndarray
    divergence : float

    Raises
    ------
    ValueError
        If ``a`` is not square and symmetric or ``theta`` is negative or not finite.
    """
    a = as_array(a, "a", ndim=2)
    theta = check_real(theta, "theta", min=0.0)
    est, div = _core.spectral_soft_threshold(a, theta, _check_psd(psd), n_threads)
    return est, float(div)


def nuclear_norm_gamp(sample: MatrixSensingSample, *, lam: float, psd: bool = True,
                      n_iter: int = 500, damping: float = 0.0, tol: float = 1e-12, init=None,
                      n_threads: int | None = None,
                      progress: bool = False) -> NuclearNormGampResult:
    """Nuclear-norm (trace-norm) ERM of symmetric matrix sensing by GAMP.

    Minimises ``(1/2) sum_mu (y_mu - A_mu(S))^2 + lam Tr S`` over PSD ``S`` (``psd=True``) or
    ``(1/2) sum_mu (y_mu - A_mu(S))^2 + lam ||S||_*`` over symmetric ``S``: the objective of
    :func:`hdcore.algorithms.nuclear_norm` with a fixed ``lam``, in the same raw units. The
    iteration is in the module docs; it runs in one Rust call.

    Parameters
    ----------
    sample : MatrixSensingSample
        A symmetric sample (Wishart prior; ``"quadratic"`` or ``"gaussian"`` sensing, or a
        :class:`~hdcore.models.QuadraticNetwork`). The truth is used only to report errors.
    lam : float
        Penalty, finite and ``>= 0`` (raw units: ``lam ~ d`` gives an O(1) threshold).
    psd : bool
        Trace norm on the PSD cone, or nuclear norm on symmetric matrices.
    n_iter : int
        Maximal number of iterations, ``>= 1``.
    damping : float in [0, 1)
        Damping of ``(omega, V)``. Gaussian sensing converges undamped; quadratic sensing
        (``x x^T - I``) at moderate ``d`` can settle undamped in a 2-cycle (``converged`` stays
        False): use 0.3-0.5, as for GAMP-RIE.
    tol : float
        Stop when ``||S^{t+1} - S^t||_F^2 / d < tol`` and ``V`` has settled
        (``|V^{t+1} - V^t| <= sqrt(tol) (1 + V^t)``).
    init : array_like, shape (d, d), optional
        Symmetric starting matrix (default zero). Its assumed variance is
        ``mean (y - A(init))^2 / 2`` (``V^0`` = the mean squared residual).
    n_threads : int, optional
        Threads of the Rust kernels.
    progress : bool
        Show a tqdm bar on stderr (the loop runs in one Rust call: the bar advances when the
        call returns).

    Returns
    -------
    NuclearNormGampResult

    Raises
    ------
    TypeError
        If ``sample`` is not a :class:`MatrixSensingSample`, or an argument has the wrong type.
    ValueError
        If the sample is not symmetric, or ``lam``, ``damping``, ``n_iter``, ``tol`` or
        ``init`` is out of range.
    hdcore.NumericalError
        If the iteration breaks down (try ``damping``).

    Examples
    --------
    >>> from hdcore.models import QuadraticNetwork
    >>> from hdcore.algorithms import nuclear_norm_gamp
    >>> smp = QuadraticNetwork(d=40, kappa=0.5, alpha=0.6, noise=0.1).sample(seed=0)
    >>> res = nuclear_norm_gamp(smp, lam=0.5 * 40, damping=0.5)  # quadratic sensing: damp
    >>> bool(res.converged), res.rank_fraction <= 1.0
    (True, True)

    References
    ----------
    .. [1] Erba, Troiani, Zdeborova, Krzakala (2025), "The nuclear route: sharp asymptotics of
       ERM in overparameterized quadratic networks", arXiv:2505.17958.
    .. [2] Rangan (2011), "Generalized approximate message passing for estimation with random
       linear mixing", ISIT; arXiv:1010.5141.
    .. [3] Donoho, Maleki, Montanari (2009), "Message-passing algorithms for compressed
       sensing", PNAS 106, 18914.
    """
    if not isinstance(sample, MatrixSensingSample):
        raise TypeError(f"`sample` must be a MatrixSensingSample, got {type(sample).__name__}")
    m = sample.sensing
    if not m.symmetric:
        raise ValueError("nuclear_norm_gamp needs a symmetric sample (Wishart prior); use "
                         "nuclear_norm for rectangular ones")
    lam = check_real(lam, "lam", min=0.0)
    psd = _check_psd(psd)
    n_iter = check_int(n_iter, "n_iter", min=1)
    damping = check_real(damping, "damping", min=0.0, max=1.0, max_inclusive=False)
    tol = check_real(tol, "tol", min=0.0)
    progress = check_progress(progress)
    d = m.d1
    if init is None:
        est0 = np.zeros((d, d))
    else:
        est0 = as_array(init, "init", ndim=2, shape=(d, d)).copy()
        if not np.allclose(est0, est0.T, rtol=0.0, atol=1e-12 * max(1.0, np.abs(est0).max())):
            raise ValueError("`init` must be symmetric")
        est0 = 0.5 * (est0 + est0.T)
    res0 = sample.y - sample.forward(est0, n_threads=n_threads)
    var0 = max(0.5 * float(np.mean(res0**2)), 1e-12)
    with progress_bar(progress, total=n_iter, desc="nuclear_norm_gamp", unit="iter") as bar:
        raw = _core.nuclear_norm_gamp(m.operator_kind, sample.y, lam, psd, est0, var0,
                                      truth=sample.s, n_iter=n_iter, damping=damping, tol=tol,
                                      n_threads=n_threads, **sample.operator_kwargs())
        bar.update(int(raw["n_iter"]))
    est = np.asarray(raw["estimate"])
    res = sample.y - sample.forward(est, n_threads=n_threads)
    values = np.linalg.eigvalsh(0.5 * (est + est.T))
    delta = np.asarray(raw["delta_eff"], dtype=float)
    return NuclearNormGampResult(
        estimate=est, mse=sample.error(est), test_error=2.0 * sample.error(est),
        train_error=float(np.mean(res**2)),
        rank_fraction=rank_fraction(values), objective=nuclear_objective(res, values, lam, psd),
        mse_trace=np.asarray(raw["mse"], dtype=float), theta=lam * (2.0 / d) * delta,
        variance=np.asarray(raw["variance"], dtype=float),
        divergence=np.asarray(raw["mmse"], dtype=float) / delta,
        diff=np.asarray(raw["diff"], dtype=float), n_iter=int(raw["n_iter"]),
        converged=bool(raw["converged"]))
