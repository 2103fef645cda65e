"""Priors on the entries of a planted vector.

A prior is one object that serves both the algorithm and the theory (the TRAMP design): its
denoiser ``denoise(b, a)`` is the posterior mean/variance of ``x`` under the tilted measure
``P(x) exp(b x - a x^2/2)`` (the scalar channel ``b = a x + sqrt(a) z``), and its scalar-channel
averages -- the overlap ``E[x f(b, a)]``, the ``mmse`` and the free entropy
``psi(a) = E log Z(b, a)`` -- are computed by integrating that same denoiser. The built-in
priors evaluate their denoiser and log-partition in the Rust core, the same code AMP runs.

Identities (checked in the tests): ``psi'(a) = overlap(a)/2`` (I-MMSE) and
``mmse(a) = E x^2 - overlap(a)``.

Built-in priors (spec strings for :func:`get_prior`; all have ``E x^2 = 1``):

==========================  ==========================================================
``gaussian``                ``N(0, 1)``
``rademacher``              ``+-1``
``sparse_rademacher(rho)``  ``+-1/sqrt(rho)`` w.p. ``rho/2`` each, else 0
``spherical``               uniform on the sphere of radius ``sqrt(n)``
``gauss_bernoulli(rho)``    0 w.p. ``1 - rho``, else ``N(0, 1/rho)`` (compressed sensing)
``binary(rho)``             ``1/sqrt(rho)`` w.p. ``rho``, else 0 (0/1 with bias, rescaled)
``exponential``             ``Exp(sqrt(2))`` (non-negative)
``positive``                ``|N(0, 1)|`` (half-normal, non-negative)
``laplace``                 density ``exp(-sqrt(2)|x|)/sqrt(2)``
``gauss_mixture(w, m, v)``  ``sum_k w_k N(m_k, v_k)`` (``v_k = 0``: an atom), rescaled
                            to ``E x^2 = 1`` unless ``normalize=False``
==========================  ==========================================================

Their denoisers are closed forms in the Rust core (Gaussian mixtures, and truncated Gaussians
for the non-negative and Laplace priors, evaluated without cancellation at small precision), so
the Rust AMP and GAMP loops and the samplers use them directly.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

import numpy as np

from hdcore import _core
from hdcore._validation import as_array, check_int, check_real
from hdcore.ingredients.quadrature import DEFAULT_NODES, gaussian_grid
from hdcore.random import as_seed

__all__ = [
    "Prior",
    "BuiltinPrior",
    "Gaussian",
    "Rademacher",
    "SparseRademacher",
    "Spherical",
    "GaussBernoulli",
    "Binary",
    "Exponential",
    "Positive",
    "Laplace",
    "GaussMixture",
    "get_prior",
    "PRIORS",
]


def _nonneg(a):
    """``a`` as a float (or float array) checked finite and >= 0."""
    if np.ndim(a) == 0:
        return check_real(a, "a", min=0.0)
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError("`a` must be finite and >= 0")
    return a


class Prior(ABC):
    """Base class. Subclass it for a custom prior: implement ``denoise``, ``log_partition``,
    ``sample`` and ``support`` (atoms and weights of the prior, or quadrature nodes for a
    continuous one); the theory then follows automatically."""

    name: str = "custom"
    #: ``E x^2``
    second_moment: float = 1.0
    #: ``E x`` (priors with ``E x != 0`` have no uninformative fixed point ``m = 0``)
    first_moment: float = 0.0
    #: finitely many values (``support()`` returns atoms, not quadrature nodes)
    discrete: bool = True

    @abstractmethod
    def denoise(self, b: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of ``x`` given field ``b`` at precision ``a``."""

    @abstractmethod
    def log_partition(self, b: np.ndarray, a: float) -> np.ndarray:
        """``log E_P exp(b x - a x^2 / 2)``, elementwise."""

    @abstractmethod
    def sample(self, n: int, seed=None, *, n_threads: int | None = None) -> np.ndarray:
        """``n`` i.i.d. draws."""

    @abstractmethod
    def support(self) -> tuple[np.ndarray, np.ndarray]:
        """Atoms and probabilities (or quadrature nodes and weights) of the prior."""

    # ---- scalar-channel theory, from the one definition above -------------------------
    def _posterior_mean(self, b: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Posterior means at fields ``b[i, ...]`` with precisions ``a[i]`` (generic: one
        :meth:`denoise` call per precision; built-in priors do all in one core call)."""
        return np.stack([self.denoise(bi.ravel(), float(ai))[0].reshape(bi.shape)
                         for bi, ai in zip(b, a)])

    def _log_partition_many(self, b: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(self.log_partition(bi.ravel(), float(ai))).reshape(bi.shape)
                         for bi, ai in zip(b, a)])

    def _channel(self, a, n_nodes: int):
        scalar = np.ndim(a) == 0
        a = np.atleast_1d(np.asarray(a, dtype=np.float64))
        if not np.isfinite(a).all() or (a < 0).any():
            raise ValueError("`a` must be finite and >= 0")
        xs, px = self.support()
        z, wz = gaussian_grid(n_nodes)
        b = a[:, None, None] * xs[None, :, None] + np.sqrt(a)[:, None, None] * z[None, None, :]
        return scalar, a, xs, px, wz, b

    def _components(self):
        """``(w, m, v)`` arrays if the prior is a Gaussian mixture (atoms: ``v = 0``), else None.
        The theory then integrates over the law of the field ``b`` itself -- component ``k``
        gives ``b ~ N(a m_k, a^2 v_k + a)`` and ``E[x | b, k] = (m_k + b v_k)/(1 + a v_k)`` --
        instead of over quadrature nodes in ``x``, which resolve the steep denoiser of a sparse
        prior at large ``a`` poorly."""
        return None

    def _mixture_channel(self, a, n_nodes: int):
        scalar = np.ndim(a) == 0
        a = np.atleast_1d(np.asarray(a, dtype=np.float64))
        if not np.isfinite(a).all() or (a < 0).any():
            raise ValueError("`a` must be finite and >= 0")
        w, m, v = self._components()
        z, wz = gaussian_grid(n_nodes)
        sd = np.sqrt(a[:, None] ** 2 * v[None, :] + a[:, None])
        b = (a[:, None] * m[None, :])[:, :, None] + sd[:, :, None] * z[None, None, :]
        post = (m[None, :, None] + b * v[None, :, None]) / (1.0 + a[:, None] * v[None, :])[:, :, None]
        return scalar, a, w, wz, b, post

    def overlap(self, a, *, n_nodes: int = DEFAULT_NODES):
        """``m(a) = E[x f(a x + sqrt(a) z, a)]`` (= ``E f^2`` by the Nishimori identity);
        ``a`` may be an array (evaluated in one pass)."""
        if self._components() is not None:
            scalar, a, w, wz, b, post = self._mixture_channel(a, n_nodes)
            out = np.einsum("akz,k,z->a", self._posterior_mean(b, a) * post, w, wz)
            return float(out[0]) if scalar else out
        scalar, a, xs, px, wz, b = self._channel(a, n_nodes)
        mean = self._posterior_mean(b, a)
        out = np.einsum("axz,x,z->a", mean * xs[None, :, None], px, wz)
        return float(out[0]) if scalar else out

    def mmse(self, a, *, n_nodes: int = DEFAULT_NODES):
        """Minimum mean-squared error of the scalar channel at SNR ``a``."""
        return self.second_moment - self.overlap(a, n_nodes=n_nodes)

    def free_entropy(self, a, *, n_nodes: int = DEFAULT_NODES):
        """``psi(a) = E log Z(a x + sqrt(a) z, a)``; ``psi'(a) = overlap(a)/2``."""
        if self._components() is not None:
            scalar, a, w, wz, b, _ = self._mixture_channel(a, n_nodes)
            out = np.einsum("akz,k,z->a", self._log_partition_many(b, a), w, wz)
            return float(out[0]) if scalar else out
        scalar, a, xs, px, wz, b = self._channel(a, n_nodes)
        out = np.einsum("axz,x,z->a", self._log_partition_many(b, a), px, wz)
        return float(out[0]) if scalar else out

    def overlap_slope(self) -> float:
        """``d overlap / d a`` at ``a = 0``: ``(E x^2)^2`` for zero-mean priors (linear stability)."""
        return self.second_moment**2

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BuiltinPrior(Prior):
    """A prior implemented in the Rust core (fast AMP path available)."""

    _rho: float | None = None

    def denoise(self, b, a):
        b = as_array(b, "b", ndim=1)
        a = check_real(a, "a", min=0.0)
        return _core.prior_denoise(self.name, b, a, rho=self._rho)

    def log_partition(self, b, a):
        b = as_array(b, "b", ndim=1)
        a = check_real(a, "a", min=0.0)
        return _core.prior_log_partition(self.name, b, np.full(b.size, a), rho=self._rho)

    def _posterior_mean(self, b, a):
        aa = np.broadcast_to(a[:, None, None], b.shape).ravel()
        return _core.prior_mean_var(self.name, b.ravel(), aa, rho=self._rho)[0].reshape(b.shape)

    def _log_partition_many(self, b, a):
        aa = np.broadcast_to(a[:, None, None], b.shape).ravel()
        return _core.prior_log_partition(self.name, b.ravel(), aa, rho=self._rho).reshape(b.shape)

    def sample(self, n, seed=None, *, n_threads=None):
        n = check_int(n, "n", min=0)
        return _core.prior_sample(self.name, n, as_seed(seed), rho=self._rho, n_threads=n_threads)

    def __eq__(self, other):
        return type(self) is type(other) and self._rho == other._rho and self.name == other.name

    def __hash__(self):
        return hash((self.name, self._rho))


class Gaussian(BuiltinPrior):
    """``x ~ N(0, 1)``; denoiser ``b / (1 + a)``, overlap ``a / (1 + a)``."""

    name = "gaussian"
    discrete = False

    def support(self):
        from hdcore.ingredients.quadrature import gauss_hermite

        return gauss_hermite(80)

    def overlap(self, a, *, n_nodes=DEFAULT_NODES):
        a = _nonneg(a)
        return a / (1.0 + a)

    def free_entropy(self, a, *, n_nodes=DEFAULT_NODES):
        a = _nonneg(a)
        return 0.5 * a - 0.5 * np.log1p(a)


class Spherical(Gaussian):
    """Uniform on the sphere of radius ``sqrt(n)``. Its denoiser rescales ``b`` to the norm
    the posterior mean has in high dimension; all scalar-channel quantities coincide with the
    Gaussian prior's as ``n -> infinity``."""

    name = "spherical"

    def denoise(self, b, a):
        b = as_array(b, "b", ndim=1)
        a = check_real(a, "a", min=0.0)
        if b.size > 1:
            return _core.prior_denoise(self.name, b, a)
        # a single scalar field: use the separable (Gaussian) asymptote
        return _core.prior_denoise("gaussian", b, a)


class Rademacher(BuiltinPrior):
    """``x = +-1`` with probability 1/2; denoiser ``tanh(b)``."""

    name = "rademacher"

    def support(self):
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])


class SparseRademacher(BuiltinPrior):
    """``x = +-1/sqrt(rho)`` with probability ``rho/2`` each, 0 otherwise (``E x^2 = 1``)."""

    name = "sparse_rademacher"
    _rho: float

    def __init__(self, rho: float):
        self._rho = check_real(rho, "rho", min=0.0, max=1.0, min_inclusive=False)

    @property
    def rho(self) -> float:
        return self._rho

    def support(self):
        s = 1.0 / np.sqrt(self._rho)
        if self._rho == 1.0:
            return np.array([-s, s]), np.array([0.5, 0.5])
        return np.array([-s, 0.0, s]), np.array([self._rho / 2, 1 - self._rho, self._rho / 2])

    def __repr__(self):
        return f"SparseRademacher(rho={self._rho})"


def _check_rho(rho, name="rho"):
    return check_real(rho, name, min=0.0, max=1.0, min_inclusive=False)


_GH_NODES = 80


def _laguerre(n: int = _GH_NODES, alpha: float = 0.0):
    """Generalised Gauss-Laguerre nodes and weights of ``t^alpha e^{-t}`` normalised to 1."""
    from scipy.special import roots_genlaguerre

    t, w = roots_genlaguerre(n, alpha)
    return t, w / w.sum()


class GaussBernoulli(BuiltinPrior):
    """Gauss-Bernoulli (Bernoulli-Gaussian) prior: ``x = 0`` with probability ``1 - rho``, else
    ``x ~ N(0, 1/rho)`` (``E x^2 = 1``), the prior of compressed sensing.

    Denoiser: with ``l1 - l0 = log(rho/(1 - rho)) - log(1 + a/rho)/2 + b^2/(2 (rho + a))`` and
    ``pi = sigmoid(l1 - l0)``, the posterior mean is ``pi b/(rho + a)`` (Krzakala, Mezard, Sausset,
    Sun & Zdeborova, J. Stat. Mech. 2012, P08009, Eqs. (26)-(27), here with slab variance
    ``1/rho``).

    Examples
    --------
    >>> from hdcore.ingredients import get_prior
    >>> get_prior("gauss_bernoulli(0.1)")
    GaussBernoulli(rho=0.1)
    """

    name = "gauss_bernoulli"
    discrete = False

    def __init__(self, rho: float):
        self._rho = self._density = _check_rho(rho)

    @property
    def rho(self) -> float:
        return self._density

    def support(self):
        from hdcore.ingredients.quadrature import gauss_hermite

        z, w = gauss_hermite(_GH_NODES)
        slab = z / np.sqrt(self._rho)
        if self._rho == 1.0:
            return slab, w
        return np.concatenate([[0.0], slab]), np.concatenate([[1 - self._rho], self._rho * w])

    def _components(self):
        r = self._rho
        return np.array([1 - r, r]), np.zeros(2), np.array([0.0, 1 / r])

    def __repr__(self):
        return f"GaussBernoulli(rho={self._rho})"


class Binary(BuiltinPrior):
    """Binary prior with bias: ``x = 1/sqrt(rho)`` with probability ``rho``, else 0 -- the 0/1
    variable of mean ``rho`` rescaled to ``E x^2 = 1`` (``E x = sqrt(rho)``).

    Denoiser: ``s pi`` with ``s = rho^{-1/2}``, ``pi = sigmoid(log(rho/(1 - rho)) + b s - a s^2/2)``.
    """

    name = "binary"

    def __init__(self, rho: float):
        self._rho = self._density = _check_rho(rho)

    @property
    def rho(self) -> float:
        return self._density

    @property
    def first_moment(self) -> float:  # type: ignore[override]
        return float(np.sqrt(self._density))

    def support(self):
        s = 1.0 / np.sqrt(self._rho)
        if self._rho == 1.0:
            return np.array([s]), np.array([1.0])
        return np.array([0.0, s]), np.array([1 - self._rho, self._rho])

    def __repr__(self):
        return f"Binary(rho={self._rho})"


class Exponential(BuiltinPrior):
    """Exponential prior of rate ``sqrt(2)`` (``E x^2 = 1``, ``E x = 1/sqrt(2)``), non-negative.

    The tilted measure is ``N((b - sqrt 2)/a, 1/a)`` truncated to ``x > 0``; its moments are
    those of the truncated normal (via the Mills ratio, with its asymptotic series when the
    truncation point is far in the tail, so small precisions ``a`` are exact).
    """

    name = "exponential"
    discrete = False
    first_moment = 1.0 / np.sqrt(2.0)

    def support(self):
        t, w = _laguerre()
        return t / np.sqrt(2.0), w


class Positive(BuiltinPrior):
    """Half-normal prior ``x = |g|``, ``g ~ N(0, 1)`` (``E x^2 = 1``, ``E x = sqrt(2/pi)``),
    non-negative (NMF-like models). Tilted measure: ``N(b/(1 + a), 1/(1 + a))`` on ``x > 0``."""

    name = "positive"
    discrete = False
    first_moment = float(np.sqrt(2.0 / np.pi))

    def support(self):
        # Gauss-Legendre on [0, 13] weighted by the density 2 phi(x) (the integrands are smooth
        # on the half-line, so this converges geometrically; the mass beyond 13 is 1e-38)
        x, w = np.polynomial.legendre.leggauss(160)
        x = 6.5 * (x + 1.0)
        w = w * np.exp(-0.5 * x * x)
        return x, w / w.sum()


class Laplace(BuiltinPrior):
    """Laplace prior of scale ``1/sqrt(2)`` (density ``exp(-sqrt(2)|x|)/sqrt(2)``, ``E x^2 = 1``).
    The tilted measure is a mixture of two truncated normals (one per sign)."""

    name = "laplace"
    discrete = False

    def support(self):
        t, w = _laguerre()
        x = t / np.sqrt(2.0)
        return np.concatenate([-x[::-1], x]), np.concatenate([0.5 * w[::-1], 0.5 * w])


def _fmt(values) -> str:
    return ",".join(repr(float(v)) for v in values)


class GaussMixture(BuiltinPrior):
    """Gaussian mixture prior ``sum_k w_k N(m_k, v_k)`` (at most 8 components; ``v_k = 0`` is an
    atom at ``m_k``).

    Parameters
    ----------
    weights : array_like
        Non-negative weights (normalised to sum to 1).
    means, variances : array_like
        Component means and variances (``>= 0``).
    normalize : bool
        Rescale the means by ``c`` and the variances by ``c^2`` so that ``E x^2 = 1`` (the
        normalisation every model of hdcore assumes); with False the parameters are kept and
        :attr:`second_moment` reports ``E x^2``.

    Notes
    -----
    Component ``k`` of the tilted measure ``P(x) exp(b x - a x^2/2)`` has log-mass
    ``log w_k - log(1 + a v_k)/2 + (2 m_k b + b^2 v_k - a m_k^2)/(2 (1 + a v_k))`` and posterior
    ``N((m_k + b v_k)/(1 + a v_k), v_k/(1 + a v_k))``. The :attr:`name` is a canonical spec
    string (``gauss_mixture(w..;m..;v..)``) that :func:`get_prior` and the Rust core both read.

    Examples
    --------
    >>> prior = GaussMixture([0.5, 0.5], [-1.0, 1.0], [0.25, 0.25])
    >>> round(prior.second_moment, 12)
    1.0
    """

    discrete = False

    def __init__(self, weights, means, variances, *, normalize: bool = True):
        w = as_array(weights, "weights", ndim=1)
        m = as_array(means, "means", ndim=1)
        v = as_array(variances, "variances", ndim=1)
        if not 1 <= w.size <= 8:
            raise ValueError(f"`weights`: a mixture needs 1 to 8 components, got {w.size}")
        if m.size != w.size or v.size != w.size:
            raise ValueError("`weights`, `means` and `variances` must have the same length, got "
                             f"{w.size}, {m.size}, {v.size}")
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("`weights` must be >= 0 with a positive sum")
        if (v < 0).any():
            raise ValueError("`variances` must be >= 0")
        w = w / w.sum()
        m2 = float(np.sum(w * (m * m + v)))
        if m2 <= 0:
            raise ValueError("the mixture is a point mass at 0 (E x^2 = 0)")
        if normalize and abs(m2 - 1.0) > 1e-12:
            c = 1.0 / np.sqrt(m2)
            m, v, m2 = m * c, v * c * c, 1.0
        self.weights, self.means, self.variances = w, m, v
        for arr in (w, m, v):
            arr.setflags(write=False)
        self.second_moment = m2
        self.first_moment = float(np.sum(w * m))
        self.discrete = bool((v == 0).all())
        self.name = f"gauss_mixture({_fmt(w)};{_fmt(m)};{_fmt(v)})"

    def support(self):
        from hdcore.ingredients.quadrature import gauss_hermite

        z, wz = gauss_hermite(_GH_NODES)
        xs, ps = [], []
        for wk, mk, vk in zip(self.weights, self.means, self.variances):
            if wk == 0:
                continue
            if vk == 0:
                xs.append([mk])
                ps.append([wk])
            else:
                xs.append(mk + np.sqrt(vk) * z)
                ps.append(wk * wz)
        return np.concatenate(xs), np.concatenate(ps)

    def _components(self):
        return self.weights, self.means, self.variances

    def __repr__(self):
        return (f"GaussMixture(weights={list(self.weights)}, means={list(self.means)}, "
                f"variances={list(self.variances)})")


PRIORS = {"gaussian": Gaussian, "rademacher": Rademacher, "sparse_rademacher": SparseRademacher,
          "spherical": Spherical, "gauss_bernoulli": GaussBernoulli, "binary": Binary,
          "exponential": Exponential, "positive": Positive, "laplace": Laplace,
          "gauss_mixture": GaussMixture}

#: priors with one density-like parameter in (0, 1]
_ONE_PARAM = ("sparse_rademacher", "gauss_bernoulli", "binary")
_SPEC = re.compile(r"^\s*(\w+)\s*(?:\((.*)\)\s*)?$", re.S)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _mixture_from_spec(spec: str, arg: str | None) -> GaussMixture:
    if arg is None:
        raise ValueError("prior 'gauss_mixture' needs its weights, means and variances, e.g. "
                         "'gauss_mixture([0.5, 0.5], [-1, 1], [0.1, 0.1])'")
    groups = arg.split(";") if ";" in arg else re.findall(r"\[([^\]]*)\]", arg)
    try:
        parts = [[float(t) for t in _NUMBER.findall(g)] for g in groups]
    except ValueError:
        parts = []
    if len(parts) != 3:
        raise ValueError(f"cannot read the Gaussian mixture {spec!r}; expected "
                         "'gauss_mixture([w1, w2], [m1, m2], [v1, v2])'")
    return GaussMixture(*parts)


def get_prior(spec) -> Prior:
    """A prior from a :class:`Prior`, a name (``"rademacher"``), or a name with its parameters
    (``"sparse_rademacher(0.1)"``, ``"gauss_bernoulli(rho=0.2)"``, ``"binary(0.3)"``,
    ``"gauss_mixture([0.5, 0.5], [-1, 1], [0.1, 0.1])"``; see the module docs for the list)."""
    if isinstance(spec, Prior):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"`prior` must be a Prior or a string, got {type(spec).__name__}")
    m = _SPEC.match(spec)
    if not m or m.group(1) not in PRIORS:
        raise ValueError(f"unknown prior {spec!r}; expected one of {sorted(PRIORS)} "
                         "(e.g. 'sparse_rademacher(0.1)')")
    name, arg = m.group(1), m.group(2)
    if name == "gauss_mixture":
        return _mixture_from_spec(spec, arg)
    if name in _ONE_PARAM:
        if arg is None or not arg.strip():
            what = "probability" if name == "binary" else "density"
            raise ValueError(f"prior {name!r} needs its {what}, e.g. '{name}(0.1)'")
        value = re.sub(r"^\s*(?:rho|p)\s*=\s*", "", arg).strip()
        try:
            rho = float(value)
        except ValueError:
            raise ValueError(f"cannot read the parameter in prior {spec!r}") from None
        return PRIORS[name](rho)
    if arg is not None:
        raise ValueError(f"prior {name!r} takes no parameter, got {spec!r}")
    return PRIORS[name]()
