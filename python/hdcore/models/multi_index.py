"""Gaussian multi-index models (GLMs for ``p = 1``).

Normalisation (Defilippis, Dandi, Mergny, Krzakala & Loureiro 2025, arXiv:2502.02545, Sec. 2):
``n = alpha d`` samples ``x_mu ~ N(0, I_d / d)``, a teacher ``W*`` (``d x p``) with i.i.d. entries
from the prior (unit variance, so ``||w*_k||^2 / d -> 1``), pre-activations
``z_mu = W*^T x_mu ~ N(0, I_p)`` and labels ``y_mu = f(z_mu) + sqrt(noise) xi_mu``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from hdcore import _core
from hdcore._validation import check_choice, check_int, check_real
from hdcore.ingredients.channels import BuiltinChannel, Channel, get_channel
from hdcore.ingredients.priors import BuiltinPrior, Prior, get_prior
from hdcore.ingredients.product_prior import ProductPrior
from hdcore.random import as_seed, spawn

__all__ = ["MultiIndex", "MultiIndexSample"]


@dataclass(frozen=True)
class MultiIndex:
    """Gaussian multi-index model ``y = f(W*^T x) + sqrt(noise) xi``.

    Parameters
    ----------
    d : int
        Dimension.
    alpha : float
        Samples per dimension, ``n = round(alpha d)``.
    p : int
        Number of directions (``p = 1``: generalised linear model).
    link : str, callable or Channel
        A built-in link (``"linear"``, ``"sign"``, ``"relu"``, ``"abs"``, ``"square"``,
        ``"z1*z2"``, ``"sign(z1*z2)"``, ``"||z||^2/p"``, ``"z1/z2"``, ``"committee"``,
        ``"prod"``), a vectorised callable ``f(z) -> y`` on arrays of shape ``(N, p)`` (needs
        ``noise > 0``; slower open path), or a :class:`~hdcore.ingredients.channels.Channel`.
    prior : Prior or str
        Prior of the entries of ``W*`` (``"gaussian"``, ``"rademacher"``,
        ``"sparse_rademacher(rho)"``, ...).
    noise : float
        Variance of the Gaussian label noise.

    Examples
    --------
    >>> model = MultiIndex(d=1000, alpha=2.0, p=2, link="z1*z2")
    >>> sample = model.sample(seed=0)
    >>> sample.x.shape, sample.y.shape, sample.w.shape
    ((2000, 1000), (2000,), (1000, 2))
    """

    d: int
    alpha: float
    p: int
    link: Channel | str = "sign"
    prior: Prior | str = "gaussian"
    noise: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "d", check_int(self.d, "d", min=1))
        object.__setattr__(self, "alpha", check_real(self.alpha, "alpha", min=0.0,
                                                     min_inclusive=False))
        object.__setattr__(self, "p", check_int(self.p, "p", min=1))
        object.__setattr__(self, "noise", check_real(self.noise, "noise", min=0.0))
        object.__setattr__(self, "prior", get_prior(self.prior))
        ch = get_channel(self.link, self.p, self.noise)
        if isinstance(self.link, Channel) and ch.noise != self.noise:
            raise ValueError(f"`noise` = {self.noise} does not match the channel's noise {ch.noise}")
        object.__setattr__(self, "link", ch)
        if self.n < 1:
            raise ValueError(
                f"`alpha` * `d` must give at least one sample, got alpha={self.alpha}, d={self.d}")

    @property
    def n(self) -> int:
        """Number of samples."""
        return round(self.alpha * self.d)

    @property
    def channel(self) -> Channel:
        """The output channel (link + noise)."""
        # `link` is a Channel after __post_init__ (a name is resolved there)
        return cast(Channel, self.link)

    @property
    def product_prior(self) -> ProductPrior:
        """The prior of the rows of ``W*``."""
        return ProductPrior(self.prior, self.p)

    def sample(self, seed=None, *, dtype="float64", n_threads: int | None = None) -> MultiIndexSample:
        """Draw ``(X, W*, z, y)``; the same seed gives the same sample for any number of threads.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
        dtype : {"float64", "float32"}
            Storage of ``X`` (float32 halves the bytes GAMP and the spectral methods stream;
            ``z`` and ``y`` are computed from the stored ``X``).
        """
        dtype = check_choice(np.dtype(dtype).name, "dtype", ("float64", "float32"))
        s = as_seed(seed)
        ch = self.channel
        builtin_link = isinstance(ch, BuiltinChannel)
        kw: dict[str, Any] = ({"link": ch.name, "noise": ch.noise, "n_nodes": ch.n_nodes}
                              if isinstance(ch, BuiltinChannel) else {})
        if isinstance(self.prior, BuiltinPrior):
            x, w, z, y = _core.multi_index_sample(self.n, self.d, self.p, s,
                                                  prior_name=self.prior.name, rho=self.prior._rho,
                                                  dtype=dtype, n_threads=n_threads, **kw)
        else:
            w = ProductPrior(self.prior, self.p).sample(self.d, spawn(s, 1))
            x, w, z, y = _core.multi_index_sample(self.n, self.d, self.p, s, w=w, dtype=dtype,
                                                  n_threads=n_threads, **kw)
        if not builtin_link:
            rng = np.random.default_rng(spawn(s, 2))
            y = ch.link(z) + np.sqrt(ch.noise) * rng.standard_normal(self.n)
        return MultiIndexSample(model=self, x=x, y=np.asarray(y, dtype=np.float64), w=w, z=z)


@dataclass(frozen=True)
class MultiIndexSample:
    """A multi-index draw.

    Attributes
    ----------
    x : ndarray
        Design, ``n x d`` (float64 or float32), entries ``N(0, 1/d)``.
    y : ndarray
        Labels, ``n``.
    w : ndarray
        Teacher ``W*``, ``d x p``.
    z : ndarray
        Pre-activations ``X W*``, ``n x p``.
    """

    model: MultiIndex
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    w: np.ndarray = field(repr=False)
    z: np.ndarray = field(repr=False)

    def overlap(self, estimate) -> float:
        """The paper's overlap ``m = ||M||_F / sqrt(tr Q)`` of an estimate ``W`` (``d x p``, or a
        vector for ``p = 1``), with ``M = W^T U / d``, ``Q = W^T W / d`` and ``U`` the teacher
        made orthonormal (``U^T U / d = I``), so that ``0 <= m <= 1`` and ``m`` is invariant
        under rotations of ``W`` and of the teacher."""
        w = np.asarray(estimate, dtype=np.float64)
        if w.ndim == 1:
            w = w[:, None]
        if w.shape[0] != self.model.d:
            raise ValueError(f"`estimate` has {w.shape[0]} rows, expected d = {self.model.d}")
        m, q = _overlaps(w, self.w)
        return float(np.linalg.norm(m) / np.sqrt(max(np.trace(q), 1e-300)))


def _orthonormal_teacher(wstar: np.ndarray) -> np.ndarray:
    d = wstar.shape[0]
    g = wstar.T @ wstar / d
    vals, vecs = np.linalg.eigh(g)
    inv_sqrt = (vecs / np.sqrt(np.clip(vals, 1e-300, None))) @ vecs.T
    return wstar @ inv_sqrt


def _overlaps(w: np.ndarray, wstar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = wstar.shape[0]
    u = _orthonormal_teacher(wstar)
    return w.T @ u / d, w.T @ w / d
