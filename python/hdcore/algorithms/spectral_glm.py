"""Optimal spectral methods for multi-index models (Defilippis, Dandi, Mergny, Krzakala &
Loureiro 2025, arXiv:2502.02545, Sec. 2), from the linearisation of Bayes GAMP around its
uninformative fixed point, with ``G(y) = E[z z^T - I_p | y]``
(:meth:`hdcore.ingredients.channels.Channel.G`):

* asymmetric: ``L = ((X X^T - I_n) (x) I_p) diag(G(y_mu))`` on ``R^{n p}``; the estimator is
  ``W_L = X^T (G(y_mu) omega_mu)_mu`` for the eigenvector ``omega`` of the eigenvalue with the
  largest real part (Arnoldi in Rust on the implicit operator, two passes over ``X`` per
  product). Linearised GAMP (``g_out = G(y) omega``, ``f_in = b / gamma``) iterates
  ``omega <- L omega / gamma`` (paper, App. B).
* symmetric: ``T = sum_mu (x_mu x_mu^T) (x) T(y_mu)`` on ``R^{d p}`` with
  ``T(y) = G(y)(I + G(y))^{-1}`` (paper, eq. 22; ``1 - 1/E[z^2 | y]`` for ``p = 1``, the optimal
  preprocessing of Mondelli-Montanari and Luo-Alghamdi-Lu); ``W_T`` is the top eigenvector
  (Lanczos in Rust, one fused pass over ``X`` per product).
* any preprocessing ``T(y)`` of the classic ``sum_mu T(y_mu) x_mu x_mu^T`` type
  (:func:`symmetric_spectral` with ``preprocessing=``).

None of the operators is formed: a product costs ``O(n d p)``. :func:`asymmetric_spectrum`
returns the full (dense) spectrum of ``L`` for figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._results import Result
from hdcore._validation import as_array, check_int, check_real
from hdcore.algorithms.gamp import overlap_with_teacher
from hdcore.errors import ConvergenceError
from hdcore.models.multi_index import MultiIndexSample
from hdcore.random import as_seed

__all__ = [
    "SpectralResult",
    "asymmetric_spectral",
    "asymmetric_spectrum",
    "eigs_top",
    "spectral_operators",
    "symmetric_spectral",
]

#: random-stream domain of the eigensolvers' start vectors (``rng::domain::FREE + 14``)
SPECTRAL_DOMAIN = 64 + 14
#: default floor of the symmetric preprocessing (see :func:`symmetric_spectral`)
CLIP = 20.0


@dataclass(frozen=True)
class SpectralResult(Result):
    """Top eigenpairs of a spectral operator and the estimator they give.

    Attributes
    ----------
    eigenvalues : ndarray
        Eigenvalues, complex for ``L`` (largest real part first), real for ``T`` (descending).
    estimate : ndarray
        The estimator ``W`` (``d x p``) from the leading eigenvector, normalised to
        ``||W||_F^2 = d``.
    overlap : float
        The paper's overlap ``||M||_F / sqrt(tr Q)`` with the (orthonormalised) teacher.
    vector : ndarray
        The leading eigenvector (``n x p`` for ``L``, ``d x p`` for ``T``).
    n_matvec : int
        Operator products.
    converged : bool
    """

    eigenvalues: np.ndarray
    estimate: np.ndarray = field(repr=False)
    overlap: float
    vector: np.ndarray = field(repr=False)
    n_matvec: int
    converged: bool


def _check(sample):
    if not isinstance(sample, MultiIndexSample):
        raise TypeError(f"expected a MultiIndexSample, got {type(sample).__name__}")
    return sample


def _blocks(sample, values, name):
    """Per-sample p x p blocks from a callable / array ((n,) for p = 1, or (n, p, p))."""
    n, p = sample.model.n, sample.model.p
    if callable(values):
        values = values(np.asarray(sample.y))
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape == (n,) and p == 1:
        arr = arr[:, None, None]
    if arr.shape != (n, p, p):
        raise ValueError(f"`{name}` must give an array of shape ({n}, {p}, {p})"
                         + (f" or ({n},)" if p == 1 else "") + f", got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"`{name}` contains NaN or infinity")
    return np.ascontiguousarray(0.5 * (arr + arr.transpose(0, 2, 1)))


def _normalise(w):
    nrm = np.linalg.norm(w)
    return w * (np.sqrt(w.shape[0]) / nrm) if nrm > 0 else w


def asymmetric_spectral(sample: MultiIndexSample, *, k: int = 1, seed=0, tol: float = 1e-7,
                        ncv: int | None = None, max_restarts: int = 300,
                        raise_on_failure: bool = False,
                        n_threads: int | None = None) -> SpectralResult:
    """The asymmetric spectral method (paper, Sec. 2.1): Arnoldi on ``L`` for the ``k``
    eigenvalues of largest real part; the estimator comes from the first one.

    Parameters
    ----------
    sample : MultiIndexSample
    k : int
        Eigenvalues computed (outliers come in groups for degenerate links, e.g. two for
        ``z1*z2``).
    seed : int or Generator
        Seed of the start vector.
    tol : float
        Relative residual tolerance of the Ritz pairs.
    raise_on_failure : bool
        Raise :class:`~hdcore.errors.ConvergenceError` when Arnoldi does not converge (by
        default the current Ritz pairs are returned with ``converged=False``).
    ncv : int, optional
        Dimension of the Krylov subspace (default chosen by the Rust core from ``k``).
    max_restarts : int
        Maximal number of thick restarts.
    n_threads : int, optional
        Threads (default ``HDCORE_NUM_THREADS`` or all cores).

    Returns
    -------
    SpectralResult
        The ``k`` eigenvalues (complex), the estimator ``W_L`` (``||W||_F^2 = d``), its overlap
        with the teacher, the eigenvector ``omega`` (``n x p``) and convergence information.

    Raises
    ------
    TypeError
        ``sample`` is not a ``MultiIndexSample``, or ``k`` / ``tol`` has the wrong type.
    ValueError
        ``k < 1``, ``tol <= 0`` or labels outside the channel's range.
    hdcore.ConvergenceError
        ``raise_on_failure=True`` and Arnoldi did not converge.

    Examples
    --------
    >>> from hdcore.models import MultiIndex
    >>> sample = MultiIndex(d=200, alpha=3.0, p=1, link="phase_retrieval").sample(seed=0)
    >>> res = asymmetric_spectral(sample)  # theory: overlap 0.707 at alpha = 3
    >>> res.converged and 0.5 < res.overlap < 0.9
    True

    References
    ----------
    Defilippis, Dandi, Mergny, Krzakala & Loureiro, "Optimal spectral transitions in
    high-dimensional multi-index models", arXiv:2502.02545 (2025).
    """
    _check(sample)
    k = check_int(k, "k", min=1)
    tol = check_real(tol, "tol", min=0.0, min_inclusive=False)
    model = sample.model
    n, p = model.n, model.p
    g = np.ascontiguousarray(model.channel.G(model.channel.check_labels(sample.y)))
    v0 = _core.standard_normal(n * p, as_seed(seed), SPECTRAL_DOMAIN)
    out = _core.spectral_asymmetric(sample.x, g, k, v0, tol=tol, ncv=ncv,
                                    max_restarts=max_restarts, n_threads=n_threads)
    if raise_on_failure and not out["converged"]:
        raise ConvergenceError(f"Arnoldi did not converge (residuals {out['residuals']})")
    vals = out["values_re"] + 1j * out["values_im"]
    vec = out["vectors_re"][0] + 1j * out["vectors_im"][0]
    # the leading eigenvalue is real (an outlier or the bulk edge): rotate the phase away
    j = int(np.argmax(np.abs(vec)))
    vec = vec * np.exp(-1j * np.angle(vec[j]))
    omega = np.real(vec).reshape(n, p)
    u = np.einsum("nkl,nl->nk", g, omega)
    w = _normalise(_core.glm_xt_times(sample.x, np.ascontiguousarray(u), n_threads=n_threads))
    return SpectralResult(eigenvalues=vals, estimate=w, overlap=overlap_with_teacher(w, sample.w),
                          vector=omega, n_matvec=int(out["n_matvec"]),
                          converged=bool(out["converged"]))


def symmetric_spectral(sample: MultiIndexSample, *, preprocessing=None, clip: float = CLIP,
                       k: int = 1, seed=0, tol: float = 1e-7, ncv: int | None = None,
                       max_restarts: int = 500, raise_on_failure: bool = False,
                       n_threads: int | None = None) -> SpectralResult:
    """The symmetric spectral method (paper, Sec. 2.2): Lanczos on
    ``T = sum_mu (x_mu x_mu^T) (x) T(y_mu)``.

    Parameters
    ----------
    preprocessing : callable or ndarray, optional
        ``T(y)``: a callable on the label vector returning ``(n,)`` (``p = 1``) or
        ``(n, p, p)``, or such an array. Default: the optimal ``G(y)(I + G(y))^{-1}``.
        ``lambda y: y - 1`` gives plain (centred) PCA of phase retrieval, for example.
    clip : float
        The default preprocessing is floored at ``-clip`` (it is unbounded below, which spreads
        the spectrum of ``T`` and stalls Lanczos). At the default 20 the phase-retrieval overlap
        predicted by :func:`hdcore.theory.spectral_prediction` (computed with the same floor)
        moves by less than ``1e-3`` and the top eigenvalue by less than 1%; for ``z1 z2`` nothing
        changes.
    k : int
        Eigenvalues computed (descending).
    seed : int or Generator
        Seed of the start vector.
    tol : float
        Relative residual tolerance of the Ritz pairs, ``> 0``.
    ncv : int, optional
        Dimension of the Krylov subspace (default chosen by the Rust core from ``k``).
    max_restarts : int
        Maximal number of thick restarts.
    raise_on_failure : bool
        Raise :class:`~hdcore.errors.ConvergenceError` when Lanczos does not converge (by
        default the current Ritz pairs are returned with ``converged=False``).
    n_threads : int, optional
        Threads (default ``HDCORE_NUM_THREADS`` or all cores).

    Returns
    -------
    SpectralResult
        The ``k`` top eigenvalues of ``T``, the estimator ``W_T`` (``||W||_F^2 = d``; also
        ``vector``), its overlap with the teacher and convergence information.

    Raises
    ------
    TypeError
        ``sample`` is not a ``MultiIndexSample``, or ``k`` / ``tol`` has the wrong type.
    ValueError
        ``k < 1``, ``tol <= 0``, labels outside the channel's range, or a ``preprocessing`` of
        the wrong shape or not finite.
    hdcore.ConvergenceError
        ``raise_on_failure=True`` and Lanczos did not converge.

    Examples
    --------
    >>> from hdcore.models import MultiIndex
    >>> sample = MultiIndex(d=200, alpha=3.0, p=1, link="phase_retrieval").sample(seed=0)
    >>> res = symmetric_spectral(sample)  # theory: overlap 0.916 at alpha = 3
    >>> res.converged and 0.8 < res.overlap < 1
    True

    References
    ----------
    Defilippis, Dandi, Mergny, Krzakala & Loureiro, "Optimal spectral transitions in
    high-dimensional multi-index models", arXiv:2502.02545 (2025).
    """
    _check(sample)
    k = check_int(k, "k", min=1)
    tol = check_real(tol, "tol", min=0.0, min_inclusive=False)
    model = sample.model
    d, p = model.d, model.p
    y = model.channel.check_labels(sample.y)
    if preprocessing is None:
        t = np.ascontiguousarray(model.channel.T(y, clip=clip))
    else:
        t = _blocks(sample, preprocessing, "preprocessing")
    v0 = _core.standard_normal(d * p, as_seed(seed), SPECTRAL_DOMAIN)
    out = _core.spectral_symmetric(sample.x, t, k, v0, tol=tol, ncv=ncv,
                                   max_restarts=max_restarts, n_threads=n_threads)
    if raise_on_failure and not out["converged"]:
        raise ConvergenceError(f"Lanczos did not converge (residuals {out['residuals']})")
    w = _normalise(out["vectors"][0].reshape(p, d).T.copy())
    return SpectralResult(eigenvalues=np.asarray(out["values"]), estimate=w,
                          overlap=overlap_with_teacher(w, sample.w), vector=w,
                          n_matvec=int(out["n_matvec"]), converged=bool(out["converged"]))


def spectral_operators(sample: MultiIndexSample, *, preprocessing=None, n_threads=None):
    """The matrix-free operators ``(L, T)`` of a sample as callables: ``L(omega)`` on arrays of
    shape ``(n, p)`` and ``T(w)`` on arrays of shape ``(d, p)`` (Rust products)."""
    _check(sample)
    ch = sample.model.channel
    y = ch.check_labels(sample.y)
    g = np.ascontiguousarray(ch.G(y))
    t = (np.ascontiguousarray(ch.T(y, clip=CLIP)) if preprocessing is None
         else _blocks(sample, preprocessing, "preprocessing"))

    def l_op(omega):
        return _core.spectral_l_matvec(sample.x, g, as_array(omega, "omega", ndim=2),
                                       n_threads=n_threads)

    def t_op(w):
        return _core.spectral_t_matvec(sample.x, t, as_array(w, "w", ndim=2), n_threads=n_threads)

    return l_op, t_op


def asymmetric_spectrum(sample: MultiIndexSample) -> np.ndarray:
    """All ``n p`` eigenvalues of ``L`` (dense LAPACK; for figures at moderate ``n``).

    For jointly diagonalisable links (``G(y) = U diag(lambda(y)) U^T`` with a fixed ``U``,
    paper Lemma C.3) ``L`` is similar to ``oplus_l (X X^T - I) diag(lambda_l(y))``, so ``p``
    eigenproblems of size ``n`` are solved instead of one of size ``n p``.

    Parameters
    ----------
    sample : MultiIndexSample
        The sample (``L`` is formed densely: ``n p x n p``, or ``p`` blocks ``n x n``).

    Returns
    -------
    ndarray
        The ``n p`` complex eigenvalues, in no particular order.

    Raises
    ------
    TypeError
        ``sample`` is not a ``MultiIndexSample``.
    ValueError
        Labels outside the channel's range.

    Examples
    --------
    >>> import numpy as np
    >>> from hdcore.models import MultiIndex
    >>> sample = MultiIndex(d=50, alpha=2.0, p=1, link="phase_retrieval").sample(seed=0)
    >>> ev = asymmetric_spectrum(sample)
    >>> ev.shape, bool(np.allclose(np.sort_complex(ev), np.sort_complex(ev.conj())))  # L is real
    ((100,), True)

    References
    ----------
    Defilippis, Dandi, Mergny, Krzakala & Loureiro, "Optimal spectral transitions in
    high-dimensional multi-index models", arXiv:2502.02545 (2025).
    """
    _check(sample)
    ch = sample.model.channel
    g = ch.G(ch.check_labels(sample.y))
    x = np.asarray(sample.x, dtype=np.float64)
    n, p = x.shape[0], sample.model.p
    kmat = x @ x.T
    kmat[np.diag_indices(n)] -= 1.0
    u = ch.eigenbasis
    if u is not None:
        lam = np.einsum("kl,nkm,mj->nlj", u, g, u)
        return np.concatenate([np.linalg.eigvals(kmat * lam[:, k, k][None, :]) for k in range(p)])
    full = (kmat[:, None, :, None] * g.transpose(1, 0, 2)[None, :, :, :]).reshape(n * p, n * p)
    return np.linalg.eigvals(full)


def eigs_top(op, n: int, k: int = 1, *, seed=0, tol: float = 1e-8, ncv: int | None = None,
             max_restarts: int = 1000, n_threads: int | None = None):
    """Eigenvalues of largest real part (and eigenvectors) of a non-symmetric operator given
    as a callable ``op(x) -> A x`` (thick-restart Arnoldi in Rust). Returns
    ``(values (k,), vectors (n, k), converged)``, complex."""
    if not callable(op):
        raise TypeError("`op` must be callable: op(x) -> A x")
    n = check_int(n, "n", min=1)
    k = check_int(k, "k", min=1)
    v0 = _core.standard_normal(n, as_seed(seed), SPECTRAL_DOMAIN)

    def f(x, _op=op):
        return np.ascontiguousarray(_op(x), dtype=np.float64)

    out = _core.eigs_top_callable(f, n, k, v0, tol=tol, ncv=ncv, max_restarts=max_restarts,
                                  n_threads=n_threads)
    vals = out["values_re"] + 1j * out["values_im"]
    vecs = (out["vectors_re"] + 1j * out["vectors_im"]).T
    return vals, vecs, bool(out["converged"])
