"""Priors on the rows of a ``d x p`` teacher ``W`` with i.i.d. entries: the input side of GAMP
and of its state evolution for multi-index models.

For a scalar prior ``P`` (:mod:`hdcore.ingredients.priors`), the row ``w in R^p`` has the prior
``prod_k P(w_k)``; the GAMP input function is the posterior mean and covariance of ``w`` under
``prod_k P(w_k) exp(b^T w - w^T A w / 2)`` (``A`` a ``p x p`` precision), and its scalar-channel
averages -- the overlap ``Q = E[f_in(b, Qhat) w*^T]`` and the free entropy
``psi(Qhat) = E log Z(b, Qhat)`` with ``b = Qhat w* + Qhat^{1/2} xi`` -- integrate that same
function (Aubin et al. 2018, Sec. 3; Barbier, Krzakala, Macris, Miolane & Zdeborova 2019).
For ``p = 1`` everything reduces to the scalar prior's own methods.
"""

from __future__ import annotations

import itertools

import numpy as np

from hdcore import _core
from hdcore._validation import as_array, check_int
from hdcore.ingredients.priors import BuiltinPrior, Gaussian, get_prior
from hdcore.ingredients.quadrature import gauss_hermite
from hdcore.random import as_seed

__all__ = ["ProductPrior"]


def _sym_sqrt(m):
    vals, vecs = np.linalg.eigh(0.5 * (m + m.T))
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


class ProductPrior:
    """``p`` i.i.d. copies of a scalar prior (entries of one row of ``W``).

    Parameters
    ----------
    prior : Prior or str
        The scalar prior (``E w^2 = 1`` for the built-ins).
    p : int
        Number of columns.
    """

    def __init__(self, prior, p: int):
        self.prior = get_prior(prior)
        self.p = check_int(p, "p", min=1)
        self._builtin = isinstance(self.prior, BuiltinPrior)
        if self.p > 1 and self.prior.name == "spherical":
            raise ValueError("`prior`: the spherical prior is only available for p = 1")
        if (self.p > 1 and self._builtin and not self.prior.discrete
                and not isinstance(self.prior, Gaussian)):
            raise ValueError(f"`prior`: the built-in prior {self.prior!r} has a continuous part "
                             "and is only available for p = 1")

    @property
    def is_builtin(self) -> bool:
        """Implemented in the Rust core (GAMP's fast path)."""
        return self._builtin

    def sample(self, d: int, seed=None) -> np.ndarray:
        """``d x p`` i.i.d. draws."""
        d = check_int(d, "d", min=1)
        w = np.asarray(self.prior.sample(d * self.p, as_seed(seed)), dtype=np.float64)
        return w.reshape(d, self.p)

    # ---- posterior of one row ------------------------------------------------------------
    def posterior(self, b, a):
        """``(mean (N, p), cov (N, p, p), log_z (N,))`` of every row of ``b`` at precision ``a``."""
        p = self.p
        b = as_array(b, "b", ndim=2, shape=(None, p))
        a = as_array(a, "a", ndim=2, shape=(p, p))
        if self._builtin:
            return _core.glm_prior_posterior(self.prior.name, p, b, a, rho=self.prior._rho)
        if p == 1:
            mean, var = self.prior.denoise(b[:, 0], float(a[0, 0]))
            logz = self.prior.log_partition(b[:, 0], float(a[0, 0]))
            return mean[:, None], np.asarray(var)[:, None, None], logz
        return self._enumerate(b, a)

    def _enumerate(self, b, a):
        # product of the scalar support (atoms, or quadrature nodes of a continuous prior)
        xs, px = self.prior.support()
        pts = np.array(list(itertools.product(xs, repeat=self.p)))
        lp = np.log(np.array([np.prod(c) for c in itertools.product(px, repeat=self.p)]))
        e = lp[None] + b @ pts.T - 0.5 * np.einsum("kp,pq,kq->k", pts, a, pts)[None]
        mx = e.max(axis=1, keepdims=True)
        wt = np.exp(e - mx)
        tot = wt.sum(axis=1, keepdims=True)
        wt /= tot
        mean = wt @ pts
        second = np.einsum("nk,kp,kq->npq", wt, pts, pts)
        return mean, second - mean[:, :, None] * mean[:, None, :], mx[:, 0] + np.log(tot[:, 0])

    def denoise(self, b, a):
        """GAMP input function: ``W = f_in(B, A)`` (``d x p``) and the average Jacobian
        ``C = (1/d) sum_i d W_i / d b_i`` (``p x p``, the posterior covariance averaged)."""
        p = self.p
        b = as_array(b, "b", ndim=2, shape=(None, p))
        a = as_array(a, "a", ndim=2, shape=(p, p))
        if self._builtin:
            return _core.glm_prior_denoise(self.prior.name, p, b, a, rho=self.prior._rho)
        mean, cov, _ = self.posterior(b, a)
        return mean, cov.mean(axis=0)

    # ---- scalar-channel theory -----------------------------------------------------------
    def _channel_points(self, qhat, n_gh: int):
        p = self.p
        xs, px = self.prior.support()
        atoms = np.array(list(itertools.product(xs, repeat=p)))
        patoms = np.array([np.prod(c) for c in itertools.product(px, repeat=p)])
        xi, wxi = gauss_hermite(n_gh)
        grid = np.array(list(itertools.product(xi, repeat=p)))
        wgrid = np.array([np.prod(c) for c in itertools.product(wxi, repeat=p)])
        root = _sym_sqrt(qhat)
        b = (atoms @ qhat.T)[:, None, :] + (grid @ root.T)[None, :, :]
        w = patoms[:, None] * wgrid[None, :]
        wstar = np.broadcast_to(atoms[:, None, :], b.shape)
        return b.reshape(-1, p), wstar.reshape(-1, p), w.ravel()

    def _as_matrix(self, qhat):
        qhat = np.atleast_2d(np.asarray(qhat, dtype=np.float64))
        if qhat.shape != (self.p, self.p):
            raise ValueError(f"`qhat` must be {self.p} x {self.p}, got shape {qhat.shape}")
        return 0.5 * (qhat + qhat.T)

    def overlap(self, qhat, *, n_gh: int | None = None) -> np.ndarray:
        """``Q = E[f_in(b, Qhat) w*^T]`` with ``b = Qhat w* + Qhat^{1/2} xi`` (``p x p``); by the
        Nishimori identity also ``E[f_in f_in^T]``."""
        qhat = self._as_matrix(qhat)
        p = self.p
        if p == 1:
            return np.array([[self.prior.overlap(max(float(qhat[0, 0]), 0.0))]])
        if isinstance(self.prior, Gaussian):
            return np.linalg.solve(np.eye(p) + qhat, qhat)
        b, wstar, w = self._channel_points(qhat, n_gh or (40 if p == 2 else 12))
        mean, _, _ = self.posterior(b, qhat)
        q = np.einsum("n,np,nq->pq", w, mean, wstar)
        return 0.5 * (q + q.T)

    def free_entropy(self, qhat, *, n_gh: int | None = None) -> float:
        """``psi(Qhat) = E log E_w exp(b^T w - w^T Qhat w / 2)``, ``b = Qhat w* + Qhat^{1/2} xi``."""
        qhat = self._as_matrix(qhat)
        p = self.p
        if p == 1:
            return float(self.prior.free_entropy(max(float(qhat[0, 0]), 0.0)))
        if isinstance(self.prior, Gaussian):
            return float(0.5 * np.trace(qhat) - 0.5 * np.linalg.slogdet(np.eye(p) + qhat)[1])
        b, _, w = self._channel_points(qhat, n_gh or (40 if p == 2 else 12))
        _, _, logz = self.posterior(b, qhat)
        return float(w @ logz)

    @property
    def entropy(self) -> float:
        """Entropy of the product prior (``p`` times the scalar one; ``inf`` if continuous):
        ``-free entropy`` of perfect recovery with noiseless discrete labels."""
        if not self.prior.discrete:
            return float("inf")
        _, px = self.prior.support()
        px = px[px > 0]
        return float(-self.p * np.sum(px * np.log(px)))

    def __repr__(self):
        return f"ProductPrior({self.prior!r}, p={self.p})"
