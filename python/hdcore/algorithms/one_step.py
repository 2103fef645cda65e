"""One giant gradient step, the ridge read-out on the learned features and their spectrum
(Cui et al. 2024, arXiv:2402.04980; Dandi et al. 2024, arXiv:2410.18938). The models and the
learning-rate scaling are documented in :mod:`hdcore.models.one_step`.

All three stream the inputs through Rust in blocks of 512 rows (``hdcore._core.one_step_step``,
``two_layer_readout``): memory is ``O(p d + p^2)`` whatever the number of samples, and every
number depends on the seed only, not on the number of threads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._results import Result
from hdcore._validation import check_choice, check_instance, check_int, check_real
from hdcore.linalg import top_eigenpairs
from hdcore.models.one_step import (
    OneStepNetwork,
    OneStepSample,
    SpikedRandomFeatures,
    SpikedRandomFeaturesSample,
)
from hdcore.random import as_seed, spawn
from hdcore.rmt import eigh

__all__ = ["OneStepResult", "RidgeReadoutResult", "FeatureSpectrum", "one_step",
           "ridge_readout", "feature_spectrum"]

_FEATURES = (OneStepSample, SpikedRandomFeaturesSample, OneStepNetwork, SpikedRandomFeatures)


@dataclass(frozen=True)
class OneStepResult(Result):
    """Output of :func:`one_step`.

    Attributes
    ----------
    w0, w1 : ndarray
        First layer before and after the step (``p x d``).
    theta : ndarray
        The teacher direction.
    spike : ndarray
        ``X^T r/n0`` of the batch (``d``).
    spike_norm, spike_overlap, spike_strength : float
        ``|spike|``, its overlap with ``theta*`` (-> ``gamma``) and the mean projection of
        the rows of ``w1 - w0`` on its direction (-> ``r``).
    n0 : int
        Batch size.
    seconds : float
        Wall time of the step.
    """

    w0: np.ndarray = field(repr=False)
    w1: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
    spike: np.ndarray = field(repr=False)
    spike_norm: float
    spike_overlap: float
    spike_strength: float
    n0: int
    seconds: float


def one_step(model: OneStepNetwork, seed=None, *, n_threads: int | None = None) -> OneStepResult:
    """The giant gradient step of ``model`` on a fresh batch of ``n0 = alpha0 d`` samples,
    streamed in row blocks (the batch is never stored).

    Parameters
    ----------
    model : OneStepNetwork
        The network, its teacher and the step's learning rate.
    seed : int, numpy.random.Generator or None
        Seed of ``W0``, ``theta*`` and the batch (the same as ``model.sample(seed)``).
    n_threads : int, optional
        Threads (default ``HDCORE_NUM_THREADS`` or all cores); no effect on the numbers.

    Returns
    -------
    OneStepResult

    Raises
    ------
    TypeError
        ``model`` is not a :class:`~hdcore.models.OneStepNetwork`.
    MemoryError
        The weights do not fit in memory (checked before allocating).

    Examples
    --------
    >>> from hdcore.models import OneStepNetwork
    >>> res = one_step(OneStepNetwork(d=200, p=200, alpha0=20.0, eta=2.0), seed=0)
    >>> round(res.spike_overlap, 1)
    1.0

    References
    ----------
    Cui, Pesce, Dandi, Krzakala, Lu, Zdeborova & Loureiro, "Asymptotics of feature learning in
    two-layer networks after one gradient-step", ICML 2024, arXiv:2402.04980, Sec. 2.
    """
    check_instance(model, "model", OneStepNetwork)
    t0 = time.perf_counter()
    s = model.sample(seed, n_threads=n_threads)
    return OneStepResult(w0=s.w0, w1=s.w1, theta=s.theta, spike=s.spike,
                         spike_norm=s.spike_norm, spike_overlap=s.spike_overlap,
                         spike_strength=s.spike_strength, n0=model.n0,
                         seconds=time.perf_counter() - t0)


@dataclass(frozen=True)
class RidgeReadoutResult(Result):
    """Output of :func:`ridge_readout`.

    Attributes
    ----------
    test_error : float
        ``E (sigma*(<theta*, x>) - w^T sigma(W x)/sqrt(p))^2`` on ``n_test`` fresh samples
        (noiseless labels).
    train_error : float
        The same on the training samples (noisy labels).
    weights : ndarray
        The read-out ``w`` (``p``).
    alpha : float
        ``n/d``.
    n, p, d : int
    lam : float
    """

    test_error: float
    train_error: float
    weights: np.ndarray = field(repr=False)
    alpha: float
    n: int
    p: int
    d: int
    lam: float


def _first_layer(features, seed, trained: bool, n_threads):
    """``(W, theta, model)`` of a sample or a model (a model is sampled with a child seed)."""
    check_instance(features, "features", _FEATURES)
    if isinstance(features, (OneStepNetwork, SpikedRandomFeatures)):
        features = features.sample(spawn(seed, 7), n_threads=n_threads)
    if isinstance(features, OneStepSample):
        return (features.w1 if trained else features.w0), features.theta, features.model
    return (features.w if trained else features.w0), features.theta, features.model


def _readout(features, n, lam, seed, n_test, trained, covariance, n_threads):
    n = check_int(n, "n", min=1)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    seed = as_seed(seed)
    w, theta, model = _first_layer(features, seed, trained, n_threads)
    n_test = max(n, 2000) if n_test is None else check_int(n_test, "n_test", min=1)
    out = _core.two_layer_readout(w, theta, n, n_test, lam, model.activation, model.target,
                                  model.noise, spawn(seed, 8), covariance=covariance,
                                  n_threads=n_threads)
    return out, model


def ridge_readout(features, n: int, lam: float, seed=None, *, n_test: int | None = None,
                  n_threads: int | None = None) -> RidgeReadoutResult:
    """Test error of the ridge read-out on the features of a first layer, fitted on ``n`` fresh
    samples: ``w = argmin sum_mu (y_mu - w^T sigma(W x_mu)/sqrt(p))^2 + lam ||w||^2``.

    Parameters
    ----------
    features : OneStepSample, SpikedRandomFeaturesSample, OneStepNetwork or SpikedRandomFeatures
        The first layer: ``w1`` of a one-step sample, ``w`` of a surrogate sample, or a model
        (sampled first, with a seed derived from ``seed``).
    n : int
        Training samples of the read-out (``alpha = n/d``).
    lam : float
        Ridge penalty (``> 0``).
    seed : int, numpy.random.Generator or None
        Seed of the read-out's data (and of the model's sample when a model is given).
    n_test : int, optional
        Test samples (default ``max(n, 2000)``).
    n_threads : int, optional
        Threads; no effect on the numbers.

    Returns
    -------
    RidgeReadoutResult

    Raises
    ------
    TypeError
        ``features`` is of another type.
    ValueError
        ``n < 1``, ``lam <= 0`` or not finite.
    MemoryError
        The ``p x p`` normal equations do not fit in memory (checked before allocating).
    hdcore.NumericalError
        The regularised Gram matrix cannot be factorised.

    Examples
    --------
    >>> from hdcore.models import OneStepNetwork
    >>> sample = OneStepNetwork(d=100, p=100, alpha0=10.0, eta=1.0).sample(seed=0)
    >>> res = ridge_readout(sample, n=200, lam=0.1, seed=1)
    >>> 0.0 < res.test_error < 1.0
    True

    References
    ----------
    Cui et al., arXiv:2402.04980, Eq. (3) (the read-out) and ``Simulations.ipynb`` of
    SPOC-group/OneStepGD_asymptotics.
    """
    out, model = _readout(features, n, lam, seed, n_test, True, False, n_threads)
    return RidgeReadoutResult(test_error=float(out["test_error"]),
                              train_error=float(out["train_error"]), weights=out["w"],
                              alpha=n / model.d, n=int(n), p=model.p, d=model.d, lam=float(lam))


@dataclass(frozen=True)
class FeatureSpectrum(Result):
    """Output of :func:`feature_spectrum`.

    Attributes
    ----------
    eigenvalues : ndarray
        All ``p`` eigenvalues of the feature covariance ``F^T F/n``, ascending.
    outliers : ndarray
        The ``k`` largest, by Lanczos, descending.
    outlier_vectors : ndarray
        Their unit eigenvectors (columns, ``p x k``).
    mean_overlaps : ndarray
        ``|<u_i, 1_p/sqrt(p)>|`` for each outlier eigenvector ``u_i`` (the mean direction).
    n : int
    trained : bool
        ``True``: the features of the trained (or surrogate) first layer; ``False``: of ``W0``.
    """

    eigenvalues: np.ndarray = field(repr=False)
    outliers: np.ndarray
    outlier_vectors: np.ndarray = field(repr=False)
    mean_overlaps: np.ndarray
    n: int
    trained: bool

    def histogram(self, bins: int = 60, *, exclude_outliers: bool = True):
        """``(density, edges)`` of the eigenvalues (without the ``k`` outliers by default)."""
        ev = self.eigenvalues[: self.eigenvalues.size - self.outliers.size] if exclude_outliers \
            else self.eigenvalues
        return np.histogram(ev, bins=check_int(bins, "bins", min=1), density=True)


def feature_spectrum(features, n: int, seed=None, *, k: int = 3, weights: str = "trained",
                     n_threads: int | None = None) -> FeatureSpectrum:
    """Eigenvalues of the feature covariance ``F^T F/n``, ``F = sigma(X W^T)`` on ``n`` fresh
    samples: the whole spectrum (:func:`hdcore.rmt.eigh`) and the ``k`` outliers with their
    vectors (thick-restart Lanczos, :func:`hdcore.linalg.top_eigenpairs`).

    Parameters
    ----------
    features : OneStepSample, SpikedRandomFeaturesSample, OneStepNetwork or SpikedRandomFeatures
        As in :func:`ridge_readout`.
    n : int
        Samples.
    seed : int, numpy.random.Generator or None
    k : int
        Number of outliers to resolve (``1 <= k < p``).
    weights : {"trained", "initial"}
        The first layer after the step (or the surrogate's ``w``) or before it (``W0``: plain
        random features).
    n_threads : int, optional

    Returns
    -------
    FeatureSpectrum

    Raises
    ------
    TypeError
        ``features`` is of another type.
    ValueError
        ``n < 1``, ``k`` out of range, ``weights`` unknown.

    Examples
    --------
    >>> from hdcore.models import OneStepNetwork
    >>> sample = OneStepNetwork(d=100, p=100, alpha0=10.0, eta=3.0).sample(seed=0)
    >>> after = feature_spectrum(sample, n=400, seed=1, k=2)
    >>> before = feature_spectrum(sample, n=400, seed=1, k=2, weights="initial")
    >>> bool(after.outliers[0] > before.outliers[0])
    True

    References
    ----------
    Dandi, Pesce, Cui, Krzakala, Lu & Loureiro, "A random matrix theory perspective on the
    spectrum of learned features and asymptotic generalization capabilities", AISTATS 2025,
    arXiv:2410.18938.
    """
    trained = check_choice(weights, "weights", ("trained", "initial")) == "trained"
    k = check_int(k, "k", min=1)
    out, model = _readout(features, n, 1.0, seed, 1, trained, True, n_threads)
    cov = out["covariance"]
    if k >= model.p:
        raise ValueError(f"`k` must be < p = {model.p}, got {k}")
    values, _ = eigh(cov, vectors=False, n_threads=n_threads)
    top = top_eigenpairs(cov, k, seed=0,
                         n_threads=n_threads)
    ones = np.full(model.p, 1.0 / np.sqrt(model.p))
    return FeatureSpectrum(eigenvalues=values, outliers=np.asarray(top.values),
                           outlier_vectors=top.vectors,
                           mean_overlaps=np.abs(ones @ top.vectors), n=int(n), trained=trained)
