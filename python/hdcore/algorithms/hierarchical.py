"""Learners of hierarchical Gaussian targets (Dandi, Pesce, Zdeborova & Krzakala,
arXiv:2502.13961): the layer-wise protocol of Theorem 1 for the three-layer network
``f(x) = w3^T sigma(W2 sigma(W1 x + b1) + b2)``, its two-layer analogue
``f(x) = w2^T sigma(W1 x + b1)``, and the baselines (quadratic-kernel ridge, random features).
The targets are :mod:`hdcore.models.hierarchical`; forward / backward passes run on the Rust
network engine (``hdcore._core.network_gradients``, bit-identical for any thread count).

Layer-wise protocol (Sec. 2.2, Theorem 1; every stage uses ``n`` fresh samples, so a run with
budget ``n = d^kappa`` draws ``(n_steps + 2) n + n_test`` samples in all):

1. ``W1`` rows uniform on the sphere, ``b1 ~ U(-1, 1)`` fixed, ``W2 = I``, ``w3 = 1``
   (``p2 = p1``). ``n_steps`` steps of neuron-wise **spherical SGD on the correlation loss**
   ``L_c = -f(x) y`` with a fresh batch each step: ``g_j <- g_j - (g_j . w_j) w_j``,
   ``w_j <- (w_j - lr g_j)/|.|`` (the gradient through ``W2 = I``, ``w3 = 1`` is the engine's).
2. **One pre-conditioned step on W2** from ``W2 = 0`` with ``w3 ~ N(0, 1)``: with the centred
   features ``H1 = sigma(X W1^T + b1)`` of a fresh batch, their covariance ``S`` and
   ``c = H1^T y/n``, the correlation-loss gradient of row ``k`` of ``W2`` is ``-w3_k c``; the
   step pre-conditioned by ``(S + lam2 I)^{-1}`` gives ``W2 = w3 beta^T``,
   ``beta = (S + lam2 I)^{-1} c``, scaled so that ``beta^T h1(x)`` has unit variance on the batch
   ([RECON]: the paper's exact update and step size were not decoded; this is the reading "one
   pre-conditioned gradient step with step Theta(sqrt(p2))", under which ``beta^T h1`` is the
   least-squares projection of ``y`` on the features, ``-> c h*`` for ``n >> d^{k eps1}``).
   ``b2 ~ U(-1, 1)`` so that the units ``sigma(w3_k beta^T h1 + b2_k)`` span functions of
   ``h*``.
3. **Ridge on the read-out** ``w3`` (with an intercept) on a fresh batch, penalty ``lam n``.

The two-layer analogue runs stage 1 (with ``w2 = 1``), then ridge on ``w2``. Random features:
stage 1 skipped. Metrics: test error (mean squared, noiseless labels, ``n_test`` fresh samples),
the overlap of ``W1`` with ``span(W*)``, ``sqrt(mean_j |P_{W*} w_j|^2/|w_j|^2)`` (the code's
``cosine_similarity_linear``), and for three layers the RMS over units of the correlation of the
second-layer pre-activations with ``h*`` (centred, so ``b2`` does not count; the code's
``cosine_similarity_nonlinear`` is uncentred).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._results import Result
from hdcore._validation import check_choice, check_int, check_real
from hdcore.models.hierarchical import DeepMIGHT, HierarchicalTeacher, MIGHT
from hdcore.random import as_seed, spawn

__all__ = ["HierarchicalRun", "layerwise", "quadratic_kernel_ridge", "w1_overlap",
           "preactivation_overlap"]

_LEARNERS = ("three_layer", "two_layer", "random_features")


@dataclass(frozen=True)
class HierarchicalRun(Result):
    """One run of a learner on a hierarchical target.

    Attributes
    ----------
    learner : str
        ``three_layer``, ``two_layer``, ``random_features`` or ``quadratic_kernel``.
    n : int
        Samples per stage (the budget ``d^kappa``).
    kappa : float
        ``log n / log d``.
    test_error : float
        Mean squared test error.
    trivial_error : float
        ``Var y`` on the test set (the error of the best constant).
    w1_overlap : float
        Overlap of the first layer with ``span(W*)`` (``nan`` for the kernel).
    h_overlap : float
        Correlation of the second-layer pre-activations with ``h*`` (three layers; else ``nan``).
    overlap_trajectory : ndarray
        ``w1_overlap`` after each SGD step of stage 1 (empty without stage 1).
    seconds : float
        Wall time.
    """

    learner: str
    n: int
    kappa: float
    test_error: float
    trivial_error: float
    w1_overlap: float
    h_overlap: float
    overlap_trajectory: np.ndarray = field(repr=False)
    seconds: float


def w1_overlap(w1, wstar) -> float:
    """``sqrt(mean_j |W* w_j|^2/|w_j|^2)`` for the rows ``w_j`` of ``w1`` (``W*`` with
    orthonormal rows; module docs).

    Parameters
    ----------
    w1 : array_like, shape (p, d)
    wstar : array_like, shape (D, d)

    Returns
    -------
    float

    Examples
    --------
    >>> w1_overlap(np.eye(3)[:2], np.eye(3)[:1])
    0.7071067811865476
    """
    w1 = np.asarray(w1, dtype=np.float64)
    wstar = np.asarray(wstar, dtype=np.float64)
    if w1.ndim != 2 or wstar.ndim != 2 or w1.shape[1] != wstar.shape[1]:
        raise ValueError(f"`w1` {w1.shape} and `wstar` {wstar.shape} must be 2-D with the same "
                         "number of columns")
    num = np.sum((w1 @ wstar.T) ** 2, axis=1)
    den = np.sum(w1 ** 2, axis=1)
    return float(np.sqrt(np.mean(num / np.where(den > 0, den, 1.0))))


def preactivation_overlap(u, h) -> float:
    """RMS over the columns of ``u`` (``n x p``) of their (centred) correlation with ``h``
    (``n``); constant columns count as 0.

    Parameters
    ----------
    u : array_like, shape (n, p)
    h : array_like, shape (n,)

    Returns
    -------
    float

    Examples
    --------
    >>> h = np.arange(5.0)
    >>> round(preactivation_overlap(np.stack([2 * h, -h], axis=1), h), 12)
    1.0
    """
    u = np.asarray(u, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64).ravel()
    if u.ndim != 2 or u.shape[0] != h.size:
        raise ValueError(f"`u` {u.shape} must be (n, p) with n = len(h) = {h.size}")
    uc, hc = u - u.mean(axis=0), h - h.mean()
    nu, nh = np.linalg.norm(uc, axis=0), np.linalg.norm(hc)
    corr = np.where(nu > 0, (hc @ uc) / np.where(nu > 0, nu, 1.0), 0.0) / max(nh, 1e-300)
    return float(np.sqrt(np.mean(corr ** 2)))


def _relu(z):
    return np.maximum(z, 0.0)


def _ridge(f, y, lam):
    """Ridge with an intercept: ``argmin |y - c - F w|^2/n + lam |w|^2`` -> ``(w, c)``."""
    n = f.shape[0]
    fm, ym = f.mean(axis=0), y.mean()
    fc = f - fm
    a = fc.T @ fc / n + lam * np.eye(f.shape[1])
    w = np.linalg.solve(a, fc.T @ (y - ym) / n)
    return w, ym - fm @ w


def _stage1(teacher, w1, b1, n, n_steps, lr, three, seed, n_threads):
    """Spherical SGD on the correlation loss with fresh batches (module docs, step 1)."""
    p1 = w1.shape[0]
    traj = []
    eye, ones, zeros = np.eye(p1), np.ones(p1), np.zeros(p1)
    for t, batch in zip(range(n_steps), teacher.stream(n, seed)):
        if three:
            out = _core.network_gradients(batch.x, batch.y, w1, b1, ones, w2=eye, b2=zeros,
                                          loss="correlation", train_w2=False,
                                          train_readout=False, n_threads=n_threads)
        else:
            out = _core.network_gradients(batch.x, batch.y, w1, b1, ones, loss="correlation",
                                          train_readout=False, n_threads=n_threads)
        g = out["grad_w1"]
        g -= np.sum(g * w1, axis=1, keepdims=True) * w1
        w1 = w1 - lr * g
        w1 /= np.linalg.norm(w1, axis=1, keepdims=True)
        traj.append(w1_overlap(w1, teacher.wstar))
    return w1, np.asarray(traj)


def layerwise(model, n: int, seed=None, *, learner: str = "three_layer", p1: int = 512,
              p2: int = 64, n_steps: int = 10, lr: float = 3.0, lam2: float = 1e-3,
              lam: float = 1e-4, n_test: int = 2000,
              n_threads: int | None = None) -> HierarchicalRun:
    """One run of the layer-wise protocol (module docs) with ``n`` fresh samples per stage.

    Parameters
    ----------
    model : MIGHT, SIGHT or DeepMIGHT
        The target.
    n : int
        Samples per stage (``d^kappa``).
    seed : int, numpy.random.Generator or None
        Seed of the teacher (``(seed, 0)``), the initial weights and every batch.
    learner : {"three_layer", "two_layer", "random_features"}
        ``random_features``: the two-layer network without stage 1.
    p1 : int
        First hidden width (the two-layer width).
    p2 : int
        Second hidden width (three layers).
    n_steps : int
        SGD steps of stage 1 (``0`` skips it).
    lr : float
        Spherical-SGD step.
    lam2 : float
        Ridge of the pre-conditioner of stage 2.
    lam : float
        Ridge of the read-out (the penalty is ``lam n |w|^2`` on the summed loss).
    n_test : int
        Test samples.
    n_threads : int, optional
        Threads of the engine (no effect on the numbers).

    Returns
    -------
    HierarchicalRun

    Raises
    ------
    TypeError, ValueError
        On a bad argument.

    Examples
    --------
    >>> from hdcore.models import SIGHT
    >>> r = layerwise(SIGHT(d=32), 2000, seed=0, p1=64, p2=16, n_steps=5)
    >>> r.learner, r.n
    ('three_layer', 2000)

    References
    ----------
    Dandi, Pesce, Zdeborova & Krzakala, arXiv:2502.13961, Sec. 2.2 and Theorem 1.
    """
    if not isinstance(model, (MIGHT, DeepMIGHT)):
        raise TypeError(f"`model` must be a SIGHT, MIGHT or DeepMIGHT, got "
                        f"{type(model).__name__}")
    n = check_int(n, "n", min=2)
    learner = check_choice(learner, "learner", _LEARNERS)
    p1 = check_int(p1, "p1", min=1)
    p2 = check_int(p2, "p2", min=1)
    n_steps = check_int(n_steps, "n_steps", min=0)
    lr = check_real(lr, "lr", min=0.0)
    lam2 = check_real(lam2, "lam2", min=0.0, min_inclusive=False)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    n_test = check_int(n_test, "n_test", min=2)
    t0 = time.perf_counter()
    s = as_seed(seed)
    teacher: HierarchicalTeacher = model.teacher(spawn(s, 0))
    rng = np.random.default_rng(spawn(s, 1))
    d = model.d
    w1 = rng.standard_normal((p1, d))
    w1 /= np.linalg.norm(w1, axis=1, keepdims=True)
    b1 = rng.uniform(-1.0, 1.0, p1)
    three = learner == "three_layer"
    traj = np.zeros(0)
    if learner != "random_features" and n_steps > 0:
        w1, traj = _stage1(teacher, w1, b1, n, n_steps, lr, three, spawn(s, 2), n_threads)
    test = teacher.sample(n_test, spawn(s, 5))
    h_ov = float("nan")
    if three:
        # stage 2: one pre-conditioned step on W2 from W2 = 0, w3 ~ N(0, 1)
        w3 = rng.standard_normal(p2)
        b2 = rng.uniform(-1.0, 1.0, p2)
        b2s = teacher.sample(n, spawn(s, 3))
        h1 = _relu(b2s.x @ w1.T + b1)
        beta, _ = _ridge(h1, b2s.y, lam2)
        scale = np.std(h1 @ beta)
        beta = beta / (scale if scale > 0 else 1.0)
        w2 = np.outer(w3, beta)

        def hidden(x):
            out = _core.network_gradients(x, np.zeros(x.shape[0]), w1, b1, np.zeros(p2),
                                          w2=w2, b2=b2, train_w1=False, train_w2=False,
                                          train_readout=False, preact=True,
                                          n_threads=n_threads)
            return out["preact"]

        # stage 3: ridge on w3
        b3s = teacher.sample(n, spawn(s, 4))
        w, c = _ridge(_relu(hidden(b3s.x)), b3s.y, lam)
        u = hidden(test.x)
        pred = _relu(u) @ w + c
        h_ov = preactivation_overlap(u, test.hstar[:, 0])
    else:
        b3s = teacher.sample(n, spawn(s, 4))
        w, c = _ridge(_relu(b3s.x @ w1.T + b1), b3s.y, lam)
        pred = _relu(test.x @ w1.T + b1) @ w + c
    err = float(np.mean((pred - test.y) ** 2))
    return HierarchicalRun(learner=learner, n=n, kappa=float(np.log(n) / np.log(d)),
                           test_error=err, trivial_error=float(np.var(test.y)),
                           w1_overlap=w1_overlap(w1, teacher.wstar), h_overlap=h_ov,
                           overlap_trajectory=traj, seconds=time.perf_counter() - t0)


def quadratic_kernel_ridge(model, n: int, seed=None, *, lam: float = 1e-3,
                           n_test: int = 2000, features: str = "auto") -> HierarchicalRun:
    """Kernel ridge regression with ``K(x, x') = (x . x')^2 + x . x' + 1`` (the authors'
    ``quadratic_kernel``; penalty ``lam n``) on ``n`` samples.

    ``features="explicit"`` uses the equivalent explicit features ``1``, ``x_i``,
    ``x_i^2`` and ``sqrt(2) x_i x_j`` (``i < j``): ``D = d(d - 1)/2 + 2d + 1`` of them, whose
    inner products are exactly ``K``; ``"kernel"`` solves the ``n x n`` system; ``"auto"``
    picks the smaller.

    Parameters
    ----------
    model : MIGHT, SIGHT or DeepMIGHT
    n : int
    seed : int, numpy.random.Generator or None
        The teacher comes from ``(seed, 0)`` (as in :func:`layerwise`).
    lam : float
    n_test : int
    features : {"auto", "explicit", "kernel"}

    Returns
    -------
    HierarchicalRun

    Raises
    ------
    TypeError, ValueError
        On a bad argument.

    Examples
    --------
    >>> from hdcore.models import SIGHT
    >>> r = quadratic_kernel_ridge(SIGHT(d=16), 300, seed=0)
    >>> r.learner
    'quadratic_kernel'
    """
    if not isinstance(model, (MIGHT, DeepMIGHT)):
        raise TypeError(f"`model` must be a SIGHT, MIGHT or DeepMIGHT, got "
                        f"{type(model).__name__}")
    n = check_int(n, "n", min=2)
    lam = check_real(lam, "lam", min=0.0, min_inclusive=False)
    n_test = check_int(n_test, "n_test", min=1)
    features = check_choice(features, "features", ("auto", "explicit", "kernel"))
    t0 = time.perf_counter()
    s = as_seed(seed)
    teacher = model.teacher(spawn(s, 0))
    tr, te = teacher.sample(n, spawn(s, 4)), teacher.sample(n_test, spawn(s, 5))
    d = model.d
    n_feat = d * (d - 1) // 2 + 2 * d + 1
    if features == "auto":
        features = "explicit" if n_feat < n else "kernel"
    if features == "kernel":
        k = tr.x @ tr.x.T
        alpha = np.linalg.solve(k * k + k + 1.0 + lam * n * np.eye(n), tr.y)
        kt = te.x @ tr.x.T
        pred = (kt * kt + kt + 1.0) @ alpha
    else:
        iu = np.triu_indices(d, 1)

        def phi(x):
            return np.hstack([np.ones((x.shape[0], 1)), x, x * x,
                              np.sqrt(2.0) * x[:, iu[0]] * x[:, iu[1]]])

        f = phi(tr.x)
        w = np.linalg.solve(f.T @ f + lam * n * np.eye(f.shape[1]), f.T @ tr.y)
        pred = phi(te.x) @ w
    return HierarchicalRun(learner="quadratic_kernel", n=n, kappa=float(np.log(n) / np.log(d)),
                           test_error=float(np.mean((pred - te.y) ** 2)),
                           trivial_error=float(np.var(te.y)), w1_overlap=float("nan"),
                           h_overlap=float("nan"), overlap_trajectory=np.zeros(0),
                           seconds=time.perf_counter() - t0)
