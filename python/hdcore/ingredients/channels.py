"""Output channels of GLMs and multi-index models: ``y = f(z) + sqrt(noise) xi``, ``z in R^p``.

One object serves the algorithms and the theory (the TRAMP design). Everything is derived from
the channel posterior of the pre-activation ``z`` under the Gaussian "prior" ``N(omega, V)``
tilted by the likelihood ``P(y | z)`` (Rangan 2011; Aubin et al. 2018; Defilippis, Dandi,
Mergny, Krzakala & Loureiro 2025, arXiv:2502.02545, Sec. 2):

* :meth:`Channel.posterior` -- ``log Z(y; omega, V)``, ``E[z | y, omega, V]``, ``Cov[z | ...]``;
* :meth:`Channel.g_out` -- the Bayes GAMP output function ``V^{-1}(E[z | ...] - omega)`` and its
  Jacobian ``V^{-1} Cov V^{-1} - V^{-1}``;
* :meth:`Channel.G` -- ``G(y) = E[z z^T | y] - I_p`` (the posterior at ``omega = 0``, ``V = I``),
  the matrix of the optimal spectral methods and of the weak-recovery threshold (paper, Sec. 2);
* :meth:`Channel.T` -- the symmetric preprocessing ``T(y) = G(y)(I + G(y))^{-1}`` (paper, eq. 22);
* :meth:`Channel.label_quadrature` and :meth:`Channel.se_points` -- the nodes and weights the
  theory integrates over (``E_y`` under the label law; ``(omega, y)`` for state evolution).

The built-in links run in the Rust core (exact formulas, or Gauss-Hermite cubature in ``p``
dimensions for noisy links without one). A Python callable link is supported through
:class:`CallableLink` (``noise > 0`` required; cubature in NumPy, slower).

Built-in link names (aliases in parentheses): ``linear``, ``sign``, ``relu``, ``abs``,
``square`` (``phase_retrieval``, ``z^2``), ``z1*z2`` (``prod`` for ``p`` factors),
``sign(z1*z2)``, ``||z||^2/p`` (``norm``), ``z1/z2`` (``ratio``), ``committee``
(``sign(sum_k sign(z_k))``).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np
from scipy import special, stats

from hdcore import _core
from hdcore._validation import as_array, check_int, check_real
from hdcore.ingredients.quadrature import gauss_hermite

__all__ = [
    "LINKS",
    "BuiltinChannel",
    "CallableLink",
    "Channel",
    "get_channel",
    "ScalarLikelihoodChannel",
    "LogisticChannel",
    "NoisySignChannel",
    "PoissonChannel",
]

#: alias -> (canonical Rust name, required p or None)
LINKS: dict[str, tuple[str, int | None]] = {
    "linear": ("linear", 1),
    "sign": ("sign", 1),
    "relu": ("relu", 1),
    "abs": ("abs", 1),
    "square": ("square", 1),
    "phase_retrieval": ("square", 1),
    "z^2": ("square", 1),
    "z1*z2": ("prod", 2),
    "prod": ("prod", None),
    "sign(z1*z2)": ("sign_prod", 2),
    "sign_prod": ("sign_prod", 2),
    "||z||^2/p": ("norm", None),
    "norm": ("norm", None),
    "z1/z2": ("ratio", 2),
    "ratio": ("ratio", 2),
    "committee": ("committee", None),
}

#: half-width (in standard deviations) of the z-range of the theory's quadratures
_HALF_WIDTH = 11.0


@lru_cache(maxsize=16)
def _legendre(n: int):
    x, w = np.polynomial.legendre.leggauss(n)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


@lru_cache(maxsize=16)
def _sobol_normals(dim: int, log2n: int, seed: int) -> np.ndarray:
    """Scrambled Sobol points mapped to standard normals (deterministic given the seed)."""
    u = stats.qmc.Sobol(d=dim, scramble=True, seed=seed).random_base2(log2n)
    z = special.ndtri(np.clip(u, 1e-16, 1 - 1e-16))
    z.setflags(write=False)
    return z


def _tensor_gh(p: int, n: int):
    x, w = gauss_hermite(n)
    grids = np.meshgrid(*([x] * p), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    wg = np.meshgrid(*([w] * p), indexing="ij")
    weights = np.prod(np.stack([g.ravel() for g in wg], axis=1), axis=1)
    return nodes, weights


def _sym_sqrt(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(0.5 * (m + m.T))
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _piecewise_z_nodes(centres: np.ndarray, scale: float, breaks, n: int):
    """Gauss-Legendre nodes of ``E g(z)``, ``z ~ N(c, scale^2)``, for every centre ``c``, on
    ``[c - L scale, c + L scale]`` split at the breakpoints of the link (so piecewise-smooth
    integrands converge geometrically). Returns ``(index of centre, z, weight)``."""
    x, w = _legendre(n)
    idx: list[np.ndarray] = []
    zs: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    for i, c in enumerate(centres):
        lo, hi = c - _HALF_WIDTH * scale, c + _HALF_WIDTH * scale
        cuts = [lo] + [b for b in breaks if lo < b < hi] + [hi]
        for a, b in itertools.pairwise(cuts):
            mid, half = 0.5 * (a + b), 0.5 * (b - a)
            z = mid + half * x
            dens = np.exp(-0.5 * ((z - c) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale)
            idx.append(np.full(n, i))
            zs.append(z)
            ws.append(w * half * dens)
    return np.concatenate(idx), np.concatenate(zs), np.concatenate(ws)


class Channel(ABC):
    """Base class of output channels (subclass it for a custom channel: implement
    :meth:`link` and :meth:`posterior`; the rest follows)."""

    #: link name
    name: str = "custom"
    #: number of directions
    p: int = 1
    #: label-noise variance
    noise: float = 0.0
    #: z-values where a scalar link jumps or kinks (used by the p = 1 quadratures)
    breakpoints: tuple = ()
    #: labels take finitely many values (with the noise-free link)
    discrete_labels: tuple | None = None

    @abstractmethod
    def link(self, z: np.ndarray) -> np.ndarray:
        """Noiseless labels ``f(z)`` for ``z`` of shape ``(N, p)``."""

    @abstractmethod
    def posterior(self, y, omega, v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(log_z (N,), mean (N, p), cov (N, p, p))`` of ``z`` under ``N(omega, v) P(y | z)``."""

    def check_labels(self, y) -> np.ndarray:
        """Return ``y`` as a float64 vector, raising ValueError naming ``y`` if a label is
        non-finite or outside the range of the link."""
        y = as_array(y, "y", ndim=1, finite=False)
        bad = ~np.isfinite(y)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"`y` contains a non-finite label: y[{i}] = {y[i]}")
        return y

    # ---- derived quantities ------------------------------------------------------------
    def _fields(self, y, omega, v):
        y = as_array(y, "y", ndim=1)
        omega = as_array(omega, "omega", ndim=2, shape=(y.size, self.p))
        v = as_array(v, "v", ndim=2, shape=(self.p, self.p))
        return y, omega, v

    def g_out(self, y, omega, v) -> tuple[np.ndarray, np.ndarray]:
        """Bayes output function ``g = V^{-1}(E[z | y, omega, V] - omega)`` (N, p) and its
        Jacobian ``dg/domega = V^{-1} Cov V^{-1} - V^{-1}`` (N, p, p)."""
        y, omega, v = self._fields(y, omega, v)
        _, mean, cov = self.posterior(y, omega, v)
        pinv = np.linalg.inv(0.5 * (v + v.T) + 1e-12 * max(1.0, np.abs(v).max()) * np.eye(self.p))
        g = (mean - omega) @ pinv.T
        dg = pinv @ cov @ pinv - pinv
        return g, dg

    def G(self, y) -> np.ndarray:
        """``G(y) = E[z z^T | y] - I_p`` under ``z ~ N(0, I_p)`` (paper, Sec. 2), shape (N, p, p)."""
        y = as_array(y, "y", ndim=1)
        _, mean, cov = self.posterior(y, np.zeros((y.size, self.p)), np.eye(self.p))
        return cov + mean[:, :, None] * mean[:, None, :] - np.eye(self.p)

    def conditional_mean(self, y) -> np.ndarray:
        """``E[z | y]`` under ``z ~ N(0, I_p)``, shape (N, p)."""
        y = as_array(y, "y", ndim=1)
        return self.posterior(y, np.zeros((y.size, self.p)), np.eye(self.p))[1]

    def T(self, y, *, clip: float | None = None) -> np.ndarray:
        """Optimal symmetric preprocessing ``T(y) = G(y)(I + G(y))^{-1} = I - E[z z^T|y]^{-1}``
        (paper, eq. 22), shape (N, p, p), computed from the eigenvalues ``lambda/(1 + lambda)``
        of ``G``. It is unbounded below (``y -> 0`` in phase retrieval; ``E[z z^T | y]`` is even
        singular for ``z1/z2``); ``clip`` floors its eigenvalues at ``-clip`` (``1 + lambda`` is
        always floored at ``1e-12``)."""
        g = self.G(y)
        lam, u = np.linalg.eigh(g)
        t = lam / np.maximum(1.0 + lam, 1e-12)
        if clip is not None:
            t = np.maximum(t, -check_real(clip, "clip", min=0.0))
        return np.einsum("nij,nj,nkj->nik", u, t, u)

    # ---- theory: quadratures -------------------------------------------------------------
    def _noise_convolve(self, y, w, n_noise):
        if self.noise == 0:
            return y, w
        x, wx = gauss_hermite(n_noise)
        s = np.sqrt(self.noise)
        return (y[:, None] + s * x[None, :]).ravel(), (w[:, None] * wx[None, :]).ravel()

    def label_quadrature(self, n: int = 400, *, n_noise: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and weights of ``E_y h(y)`` under the label law (``z ~ N(0, I_p)``)."""
        if self.p == 1:
            _, z, w = _piecewise_z_nodes(np.zeros(1), 1.0, self.breakpoints, n)
            y = self.link(z[:, None])
        else:
            z = _sobol_normals(self.p, 15, 12345)
            y = self.link(np.asarray(z))
            w = np.full(y.size, 1.0 / y.size)
        return self._noise_convolve(y, w, n_noise)

    def se_points(self, q, *, n_xi: int = 24, n_z: int = 48, n_noise: int = 24,
                  log2n: int = 15, seed: int = 2025):
        """Quadrature of the state evolution at overlap ``Q`` (p x p): the joint law of
        ``omega ~ N(0, Q)``, ``z | omega ~ N(omega, I - Q)`` and ``y = f(z) + noise``.

        Returns ``(omega (N, p), y (N,), weights (N,))``. For ``p = 1``: Gauss-Hermite in
        ``omega`` and Gauss-Legendre in ``z`` split at the link's breakpoints (deterministic,
        geometric convergence). For ``p >= 2`` and labels with finitely many values:
        Gauss-Hermite in ``omega`` and the exact label probabilities. Otherwise: scrambled Sobol
        points in ``2p (+1)`` dimensions (relative error about ``1e-3`` at the default ``2^15``
        points; see the tests).
        """
        p = self.p
        q = np.atleast_2d(np.asarray(q, dtype=np.float64))
        v = np.eye(p) - q
        if p == 1:
            # reversed conditioning: z ~ N(0, 1) by Gauss-Legendre on pieces split at the
            # link's breakpoints b and at b +- 12 sqrt(V) (where the integrand varies on the
            # scale sqrt(V) when V is small), then omega | z ~ N(q z, q (1 - q)) by Gauss-Hermite
            qq = float(np.clip(q[0, 0], 0.0, 1.0))
            sv = np.sqrt(max(1.0 - qq, 0.0))
            breaks = sorted({c for b in self.breakpoints
                             for c in (b - 12 * sv, b, b + 12 * sv)})
            _, z, wz = _piecewise_z_nodes(np.zeros(1), 1.0, breaks, n_z)
            xi, wxi = gauss_hermite(n_xi)
            omega = (qq * z[:, None] + np.sqrt(qq * (1.0 - qq)) * xi[None, :]).reshape(-1, 1)
            weights = (wz[:, None] * wxi[None, :]).ravel()
            y = np.repeat(self.link(z[:, None]), xi.size)
            if self.noise > 0:
                x, wx = gauss_hermite(n_noise)
                y = (y[:, None] + np.sqrt(self.noise) * x[None, :]).ravel()
                omega = np.repeat(omega, n_noise, axis=0)
                weights = (weights[:, None] * wx[None, :]).ravel()
            return omega, y, weights
        if self.discrete_labels is not None and self.noise == 0:
            # labels with finitely many values: sum over them with the exact probabilities
            # Z(y | omega, V), so that only omega needs a (Gauss-Hermite) quadrature
            nodes, wx = _tensor_gh(p, 32 if p == 2 else 12)
            om = nodes @ _sym_sqrt(q)
            labels = np.asarray(self.discrete_labels)
            omega = np.repeat(om, labels.size, axis=0)
            y = np.tile(labels, om.shape[0])
            log_z = self.posterior(y, omega, v)[0]
            return omega, y, np.repeat(wx, labels.size) * np.exp(log_z)
        dim = 2 * p + (1 if self.noise > 0 else 0)
        pts = _sobol_normals(dim, log2n, seed)
        omega = pts[:, :p] @ _sym_sqrt(q)
        z = omega + pts[:, p:2 * p] @ _sym_sqrt(v)
        y = self.link(z)
        if self.noise > 0:
            y = y + np.sqrt(self.noise) * pts[:, 2 * p]
        return omega, y, np.full(y.size, 1.0 / y.size)

    def trivial_directions(self, n: int = 400) -> bool:
        """Whether ``E[z | y]`` is not identically zero (generative exponent 1): then a single
        GAMP step already correlates with the teacher and weak recovery is trivial
        (``alpha_c = 0``); the spectral methods of the paper assume ``E[z | y] = 0``."""
        y, w = self.label_quadrature(n)
        m = self.conditional_mean(y)
        return bool(np.einsum("n,np,nq->pq", w, m, m).trace() > 1e-10)

    # ---- structure -------------------------------------------------------------------------
    @property
    def eigenbasis(self) -> np.ndarray | None:
        """A fixed orthogonal ``U`` with ``G(y) = U diag(lambda(y)) U^T`` for every ``y``
        (jointly diagonalisable links, paper Lemma C.3), or None."""
        return np.eye(1) if self.p == 1 else None

    def __repr__(self) -> str:
        extra = f", noise={self.noise}" if self.noise else ""
        return f"{type(self).__name__}({self.name!r}, p={self.p}{extra})"


class BuiltinChannel(Channel):
    """A link implemented in the Rust core (exact output functions, or Gauss-Hermite cubature
    with ``n_nodes`` nodes per dimension for noisy links without a closed form)."""

    def __init__(self, name: str, p: int | None = None, noise: float = 0.0, *,
                 n_nodes: int | None = None):
        if not isinstance(name, str):
            raise TypeError(f"`link` must be a string or a callable, got {type(name).__name__}")
        if name not in LINKS:
            raise ValueError(f"unknown link {name!r}; expected one of {sorted(LINKS)} or a callable")
        canonical, need_p = LINKS[name]
        if p is None:
            p = need_p if need_p is not None else 1
        p = check_int(p, "p", min=1)
        if need_p is not None and p != need_p:
            raise ValueError(f"link {name!r} needs p = {need_p}, got p = {p}")
        self.alias = name
        self.name = canonical
        self.p = p
        self.noise = check_real(noise, "noise", min=0.0)
        self.n_nodes = None if n_nodes is None else check_int(n_nodes, "n_nodes", min=1)
        # let the core validate the combination (raises ValueError naming the argument)
        _core.glm_link(canonical, p, np.zeros((1, p)))
        if canonical in ("sign", "relu", "abs") or (canonical == "committee" and p == 1):
            self.breakpoints = (0.0,)
        if canonical in ("sign", "sign_prod", "committee"):
            self.discrete_labels = (-1.0, 1.0)

    @property
    def has_output_function(self) -> bool:
        """Whether GAMP can run (exact formula, or cubature because ``noise > 0``)."""
        if self.noise > 0:
            return True
        if self.name in ("prod", "norm"):
            return self.p <= 2
        if self.name == "committee":
            return self.p == 1
        return True

    def link(self, z):
        z = as_array(z, "z", ndim=2, shape=(None, self.p))
        return _core.glm_link(self.name, self.p, z)

    def check_labels(self, y):
        y = super().check_labels(y)
        _core.glm_check_labels(self.name, self.p, y, noise=self.noise)
        return y

    def posterior(self, y, omega, v):
        y, omega, v = self._fields(y, omega, v)
        if not self.has_output_function:
            raise ValueError(f"`noise`: the noiseless link {self.alias!r} with p = {self.p} has no "
                             "exact output function; give noise > 0 (Gauss-Hermite cubature)")
        return _core.glm_channel_posterior(self.name, self.p, y, omega, v, noise=self.noise,
                                           n_nodes=self.n_nodes)

    def g_out(self, y, omega, v):
        y, omega, v = self._fields(y, omega, v)
        return _core.glm_g_out(self.name, self.p, y, omega, v, noise=self.noise,
                               n_nodes=self.n_nodes)

    def G(self, y):
        y = as_array(y, "y", ndim=1)
        if self.name == "norm" and self.noise == 0:
            return (y - 1.0)[:, None, None] * np.eye(self.p)[None]
        if self.name == "committee" and self.p > 1 and self.noise == 0:
            raise NotImplementedError("G(y) of the noiseless committee with p >= 3 is not "
                                      "implemented (E[z|y] != 0: weak recovery is trivial)")
        return super().G(y)

    def label_quadrature(self, n: int = 400, *, n_noise: int = 40):
        name, p = self.name, self.p
        if name == "prod" and p == 2:
            # y = z1 z2 has density K0(|y|)/pi; nodes y = +-exp(t), trapezoid in t
            t = np.linspace(-40.0, 6.0, 12 * n)
            h = t[1] - t[0]
            a = np.exp(t)
            dens = special.k0e(a) * np.exp(-a) / np.pi * a * h
            y = np.concatenate([a, -a])
            w = np.concatenate([dens, dens])
            return self._noise_convolve(y, w / w.sum(), n_noise)
        if name == "sign_prod" or (name == "committee" and p > 1):
            # both signs are equally likely by the symmetry z -> -z of one coordinate
            return self._noise_convolve(np.array([-1.0, 1.0]), np.array([0.5, 0.5]), n_noise)
        if name == "norm" and p > 1:
            s, w = special.roots_genlaguerre(min(n, 80), p / 2 - 1)
            w = w / special.gamma(p / 2)
            return self._noise_convolve(2 * s / p, w / w.sum(), n_noise)
        if name == "ratio":
            x, w = _legendre(n)
            return self._noise_convolve(np.tan(0.5 * np.pi * x), w / 2, n_noise)
        return super().label_quadrature(n, n_noise=n_noise)

    def trivial_directions(self, n: int = 400) -> bool:
        if self.name == "norm":
            return False  # E[z | y] = 0 by the symmetry z -> -z
        if self.name == "committee":
            return True  # E[z_k | y] = c y with c > 0
        return super().trivial_directions(n)

    @property
    def eigenbasis(self):
        if self.p == 1:
            return np.eye(1)
        if self.name in ("prod", "sign_prod") and self.p == 2:
            return np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2.0)
        if self.name == "norm":
            return np.eye(self.p)
        return None

    def __eq__(self, other):
        return (type(self) is type(other) and (self.name, self.p, self.noise, self.n_nodes)
                == (other.name, other.p, other.noise, other.n_nodes))

    def __hash__(self):
        return hash((self.name, self.p, self.noise, self.n_nodes))

    def __repr__(self):
        extra = f", noise={self.noise}" if self.noise else ""
        return f"BuiltinChannel({self.alias!r}, p={self.p}{extra})"


class CallableLink(Channel):
    """A user link ``f(z) -> y`` (``z`` of shape ``(N, p)``, vectorised) with Gaussian label noise
    of variance ``noise > 0``. The posterior is computed by Gauss-Hermite cubature in ``p``
    dimensions with ``n_nodes`` nodes per dimension, in NumPy (the open path of GAMP)."""

    def __init__(self, fn, p: int, noise: float, *, n_nodes: int | None = None,
                 name: str | None = None):
        if not callable(fn):
            raise TypeError("`link` must be a string or a callable f(z) -> y")
        self.fn = fn
        self.p = check_int(p, "p", min=1)
        self.noise = check_real(noise, "noise", min=0.0)
        if self.noise == 0:
            raise ValueError("`noise` must be > 0 for a callable link (its output function is "
                             "computed by Gauss-Hermite cubature of N(y; f(z), noise))")
        default = {1: 96, 2: 32, 3: 12}.get(self.p, 6)
        self.n_nodes = default if n_nodes is None else check_int(n_nodes, "n_nodes", min=1)
        self.name = str(name or getattr(fn, "__name__", "custom"))
        self._nodes, w = _tensor_gh(self.p, self.n_nodes)
        self._logw = np.log(w)

    def link(self, z):
        z = as_array(z, "z", ndim=2, shape=(None, self.p))
        y = np.asarray(self.fn(z), dtype=np.float64).reshape(-1)
        if y.shape != (z.shape[0],):
            raise ValueError(f"the link returned shape {y.shape}, expected ({z.shape[0]},)")
        return y

    def posterior(self, y, omega, v):
        y, omega, v = self._fields(y, omega, v)
        p = self.p
        chol = np.linalg.cholesky(0.5 * (v + v.T) + 1e-12 * max(1.0, np.abs(v).max()) * np.eye(p))
        offs = self._nodes @ chol.T  # (K, p)
        logz = np.empty(y.size)
        mean = np.empty((y.size, p))
        cov = np.empty((y.size, p, p))
        block = max(1, 2**20 // max(1, offs.shape[0]))
        for s in range(0, y.size, block):
            z = omega[s:s + block, None, :] + offs[None]  # (b, K, p)
            f = self.link(z.reshape(-1, p)).reshape(z.shape[:2])
            lw = self._logw[None] - 0.5 * (y[s:s + block, None] - f) ** 2 / self.noise
            mx = lw.max(axis=1, keepdims=True)
            wt = np.exp(lw - mx)
            tot = wt.sum(axis=1)
            wt /= tot[:, None]
            logz[s:s + block] = mx[:, 0] + np.log(tot) - 0.5 * np.log(2 * np.pi * self.noise)
            m = np.einsum("bk,bkp->bp", wt, z)
            mean[s:s + block] = m
            cov[s:s + block] = np.einsum("bk,bkp,bkq->bpq", wt, z, z) - m[:, :, None] * m[:, None, :]
        return logz, mean, cov


def get_channel(link, p: int | None = None, noise: float = 0.0, *,
                n_nodes: int | None = None) -> Channel:
    """A channel from a :class:`Channel`, a built-in link name, or a callable ``f(z) -> y``."""
    if isinstance(link, Channel):
        if p is not None and link.p != p:
            raise ValueError(f"`p` = {p} does not match the channel's p = {link.p}")
        return link
    if isinstance(link, str):
        return BuiltinChannel(link, p, noise, n_nodes=n_nodes)
    if callable(link):
        if p is None:
            raise ValueError("`p` is required with a callable link")
        return CallableLink(link, p, noise, n_nodes=n_nodes)
    raise TypeError(f"`link` must be a string, a callable or a Channel, got {type(link).__name__}")


# ---- stochastic scalar channels (issue 22): classification teachers, label flips, counts ------

class ScalarLikelihoodChannel(Channel):
    """Base of the stochastic ``p = 1`` channels ``y ~ P(y | z)`` with finitely or countably
    many labels (classification teachers, counts). The posterior of ``z`` under
    ``N(omega, V) P(y | z)`` is computed by Gauss-Hermite quadrature centred at its mode
    (Newton on the log-concave integrand) with the local curvature as scale -- exact for a
    Gaussian integrand and accurate to ``~1e-10`` for these smooth log-concave likelihoods with
    the default 40 nodes -- unless a subclass has a closed form.

    State evolution sums over the labels with their exact probabilities
    ``Z(y; omega, 1 - q)`` (:meth:`se_points`), so only ``omega`` needs a quadrature.

    The data of a model with such a channel: ``MultiIndex(..., link=channel)`` draws ``z``
    (its ``y`` uses the deterministic :meth:`link`, a placeholder); draw the labels with
    :meth:`sample_labels` (``dataclasses.replace(sample, y=channel.sample_labels(sample.z,
    seed))``).
    """

    p = 1
    noise = 0.0
    n_nodes = 40
    #: labels summed over in state evolution
    labels: np.ndarray = np.array([-1.0, 1.0])

    # subclasses: log P(y | z) and its first two z-derivatives, elementwise
    def loglik(self, y, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def sample_labels(self, z, seed=None) -> np.ndarray:  # pragma: no cover - abstract
        """Labels ``y ~ P(y | z)`` for pre-activations ``z`` (shape ``(N,)`` or ``(N, 1)``)."""
        raise NotImplementedError

    def _posterior_1d(self, y, omega, v):
        """``(log Z, mean, var)`` by mode-centred Gauss-Hermite quadrature."""
        c = omega.copy()
        cap = 1.0 + 3.0 * np.sqrt(v)  # safeguarded Newton (exp-type likelihoods overshoot)
        for _ in range(200):
            _, d1, d2 = self.loglik(y, c)
            step = np.clip((d1 - (c - omega) / v) / (d2 - 1.0 / v), -cap, cap)
            c = c - step
            if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(c))):
                break
        _, _, d2 = self.loglik(y, c)
        s = 1.0 / np.sqrt(1.0 / v - d2)
        x, w = gauss_hermite(self.n_nodes)
        z = c[:, None] + s[:, None] * x[None, :]
        ll, _, _ = self.loglik(np.repeat(y[:, None], x.size, axis=1), z)
        h = ll - 0.5 * (z - omega[:, None]) ** 2 / v + 0.5 * x[None, :] ** 2 + np.log(w)[None, :]
        mx = h.max(axis=1, keepdims=True)
        e = np.exp(h - mx)
        tot = e.sum(axis=1)
        mean = (e * z).sum(axis=1) / tot
        var = np.maximum((e * (z - mean[:, None]) ** 2).sum(axis=1) / tot, 0.0)
        log_z = mx[:, 0] + np.log(tot) + np.log(s) - 0.5 * np.log(v)
        return log_z, mean, var

    def posterior(self, y, omega, v):
        y, omega, v = self._fields(y, omega, v)
        vv = max(float(v[0, 0]), 1e-300)
        log_z, mean, var = self._posterior_1d(y, omega[:, 0], vv)
        return log_z, mean[:, None], var[:, None, None]

    def se_points(self, q, *, n_xi: int = 64, **_):
        qq = float(np.clip(np.atleast_2d(q)[0, 0], 0.0, 1.0 - 1e-12))
        xi, wxi = gauss_hermite(n_xi)
        om = np.sqrt(qq) * xi
        labels = np.asarray(self.labels, dtype=np.float64)
        omega = np.repeat(om, labels.size)[:, None]
        y = np.tile(labels, om.size)
        log_z = self.posterior(y, omega, np.array([[1.0 - qq]]))[0]
        return omega, y, np.repeat(wxi, labels.size) * np.exp(log_z)

    def label_quadrature(self, n: int = 400, *, n_noise: int = 40):
        labels = np.asarray(self.labels, dtype=np.float64)
        log_z = self.posterior(labels, np.zeros((labels.size, 1)), np.eye(1))[0]
        return labels, np.exp(log_z)

    def check_labels(self, y):
        y = super().check_labels(y)
        bad = ~np.isin(y, self.labels) if self.labels.size < 64 else (y < 0) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"`y` contains a label outside the range of the {self.name} channel: "
                             f"y[{i}] = {y[i]}")
        return y


class LogisticChannel(ScalarLikelihoodChannel):
    """Logistic labels ``P(y = +-1 | z) = 1/(1 + exp(-beta y z))`` (a binary classification
    teacher; ``beta -> infinity`` is the sign teacher).

    Parameters
    ----------
    beta : float
        Inverse temperature (``> 0``).
    """

    breakpoints = ()
    discrete_labels = (-1.0, 1.0)

    def __init__(self, beta: float = 1.0):
        self.beta = check_real(beta, "beta", min=0.0, min_inclusive=False)
        self.name = "logistic"

    def link(self, z):
        z = as_array(z, "z", ndim=2, shape=(None, 1))
        return np.where(z[:, 0] >= 0, 1.0, -1.0)

    def loglik(self, y, z):
        t = self.beta * y * z
        ll = -np.logaddexp(0.0, -t)
        sp = special.expit(-t)
        return ll, self.beta * y * sp, -self.beta**2 * sp * (1.0 - sp)

    def sample_labels(self, z, seed=None):
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        u = np.random.default_rng(seed).random(z.size)
        return np.where(u < special.expit(self.beta * z), 1.0, -1.0)

    def __repr__(self):
        return f"LogisticChannel(beta={self.beta})"


class NoisySignChannel(ScalarLikelihoodChannel):
    """``y = sign(z + sigma xi)``, then flipped with probability ``flip``: the probit teacher
    (``flip = 0``, ``P(y | z) = Phi(y z/sigma)``), the sign teacher with label noise
    (``sigma = 0``), or both. Closed form: with ``s = sqrt(V + sigma^2)``, ``t = y omega/s``,
    ``Z = flip + (1 - 2 flip) Phi(t)`` and ``A = (1 - 2 flip) phi(t)/Z``, the posterior has mean
    ``omega + V y A/s`` and variance ``V - V^2 A (t + A)/s^2``.

    Parameters
    ----------
    flip : float in [0, 1/2)
        Label-flip probability.
    sigma : float
        Standard deviation of the pre-activation noise (``sigma > 0``: probit).
    """

    breakpoints = (0.0,)
    discrete_labels = (-1.0, 1.0)

    def __init__(self, flip: float = 0.0, sigma: float = 0.0):
        self.flip = check_real(flip, "flip", min=0.0, max=0.5, max_inclusive=False)
        self.sigma = check_real(sigma, "sigma", min=0.0)
        self.name = "probit" if self.sigma > 0 and self.flip == 0 else "noisy_sign"

    def link(self, z):
        z = as_array(z, "z", ndim=2, shape=(None, 1))
        return np.where(z[:, 0] >= 0, 1.0, -1.0)

    def loglik(self, y, z):
        # used only by generic code paths; the posterior below is exact
        s = max(self.sigma, 1e-300)
        t = y * z / s
        lz = np.logaddexp(np.log(self.flip) if self.flip > 0 else -np.inf,
                          np.log1p(-2 * self.flip) + special.log_ndtr(t))
        a = np.exp(np.log1p(-2 * self.flip) - 0.5 * t * t - 0.5 * np.log(2 * np.pi) - lz)
        return lz, y * a / s, -a * (t + a) / s**2

    def _posterior_1d(self, y, omega, v):
        s = np.sqrt(v + self.sigma**2)
        t = y * omega / s
        log_flip = np.log(self.flip) if self.flip > 0 else -np.inf
        lz = np.logaddexp(log_flip, np.log1p(-2 * self.flip) + special.log_ndtr(t))
        a = np.exp(np.log1p(-2 * self.flip) - 0.5 * t * t - 0.5 * np.log(2 * np.pi) - lz)
        mean = omega + v * y * a / s
        var = np.maximum(v - v * v * a * (t + a) / s**2, 0.0)
        return lz, mean, var

    def sample_labels(self, z, seed=None):
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        rng = np.random.default_rng(seed)
        y = np.where(z + self.sigma * rng.standard_normal(z.size) >= 0, 1.0, -1.0)
        return np.where(rng.random(z.size) < self.flip, -y, y)

    def __repr__(self):
        return f"NoisySignChannel(flip={self.flip}, sigma={self.sigma})"


class PoissonChannel(ScalarLikelihoodChannel):
    """Counts ``y ~ Poisson(exp(z))`` (log link). State evolution sums the labels
    ``0..max_count`` (the mass beyond 200 is about ``1e-7`` for ``z ~ N(0, 1)``)."""

    breakpoints = ()

    def __init__(self, max_count: int = 200):
        self.max_count = check_int(max_count, "max_count", min=1)
        self.labels = np.arange(self.max_count + 1, dtype=np.float64)
        self.name = "poisson"

    def link(self, z):
        z = as_array(z, "z", ndim=2, shape=(None, 1))
        return np.exp(z[:, 0])

    def loglik(self, y, z):
        ez = np.exp(z)
        return y * z - ez - special.gammaln(y + 1.0), y - ez, -ez

    def sample_labels(self, z, seed=None):
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        return np.random.default_rng(seed).poisson(np.exp(z)).astype(np.float64)

    def __repr__(self):
        return "PoissonChannel()"
