"""Priors on the entries of a planted vector.

A prior is one object that serves both the algorithm and the theory (the TRAMP design): its
denoiser ``denoise(b, a)`` is the posterior mean/variance of ``x`` under the tilted measure
``P(x) exp(b x - a x^2/2)`` (the scalar channel ``b = a x + sqrt(a) z``), and its scalar-channel
averages -- the overlap ``E[x f(b, a)]``, the ``mmse`` and the free entropy
``psi(a) = E log Z(b, a)`` -- are computed by integrating that same denoiser. The built-in
priors evaluate their denoiser and log-partition in the Rust core, the same code AMP runs.

Identities (checked in the tests): ``psi'(a) = overlap(a)/2`` (I-MMSE) and
``mmse(a) = E x^2 - overlap(a)``.
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

    def overlap(self, a, *, n_nodes: int = DEFAULT_NODES):
        """``m(a) = E[x f(a x + sqrt(a) z, a)]`` (= ``E f^2`` by the Nishimori identity);
        ``a`` may be an array (evaluated in one pass)."""
        scalar, a, xs, px, wz, b = self._channel(a, n_nodes)
        mean = self._posterior_mean(b, a)
        out = np.einsum("axz,x,z->a", mean * xs[None, :, None], px, wz)
        return float(out[0]) if scalar else out

    def mmse(self, a, *, n_nodes: int = DEFAULT_NODES):
        """Minimum mean-squared error of the scalar channel at SNR ``a``."""
        return self.second_moment - self.overlap(a, n_nodes=n_nodes)

    def free_entropy(self, a, *, n_nodes: int = DEFAULT_NODES):
        """``psi(a) = E log Z(a x + sqrt(a) z, a)``; ``psi'(a) = overlap(a)/2``."""
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
        return type(self) is type(other) and self._rho == other._rho

    def __hash__(self):
        return hash((self.name, self._rho))


class Gaussian(BuiltinPrior):
    """``x ~ N(0, 1)``; denoiser ``b / (1 + a)``, overlap ``a / (1 + a)``."""

    name = "gaussian"

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


PRIORS = {"gaussian": Gaussian, "rademacher": Rademacher, "sparse_rademacher": SparseRademacher,
          "spherical": Spherical}

_SPEC = re.compile(r"^\s*(\w+)\s*(?:\(\s*(?:rho\s*=\s*)?([^)]*)\)\s*)?$")


def get_prior(spec) -> Prior:
    """A prior from a :class:`Prior`, a name (``"rademacher"``), or a name with its parameter
    (``"sparse_rademacher(0.1)"``)."""
    if isinstance(spec, Prior):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"`prior` must be a Prior or a string, got {type(spec).__name__}")
    m = _SPEC.match(spec)
    if not m or m.group(1) not in PRIORS:
        raise ValueError(f"unknown prior {spec!r}; expected one of {sorted(PRIORS)} "
                         "(e.g. 'sparse_rademacher(0.1)')")
    name, arg = m.group(1), m.group(2)
    if name == "sparse_rademacher":
        if arg is None:
            raise ValueError("prior 'sparse_rademacher' needs its density, e.g. 'sparse_rademacher(0.1)'")
        try:
            rho = float(arg)
        except ValueError:
            raise ValueError(f"cannot read the density in prior {spec!r}") from None
        return SparseRademacher(rho)
    if arg is not None:
        raise ValueError(f"prior {name!r} takes no parameter, got {spec!r}")
    return PRIORS[name]()
