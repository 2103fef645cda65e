"""Limiting spectral laws: density, Stieltjes transform, support, moments, sampling.

Convention (all laws): the Stieltjes transform is ``g(z) = int rho(t) / (z - t) dt``, so that
``g(z) ~ 1/z`` at infinity, ``Im g < 0`` in the upper half plane and the density is
``rho(x) = -Im g(x + i0) / pi``. Passing a real ``z`` means the boundary value ``g(x + i0)``.

Built-in laws (their transforms are roots of low-degree polynomials, evaluated in the Rust core
by continuation from infinity; supports from the discriminant; see
``rust/kernels/src/rmt/derive.py`` for the derivations):

* :class:`Semicircle` -- GOE-type matrices.
* :class:`MarchenkoPastur` -- ``scale/m W^T W`` with ``W`` of shape ``m x d``, ``kappa = m/d``
  (any ratio; an atom ``1 - kappa`` at 0 when ``kappa < 1``).
* :class:`MPSemicircle` -- MP(``kappa``) ``(+)`` semicircle(``delta``), the spectrum of a Wishart
  matrix plus GOE noise, via the cubic
  ``delta g^3 - (z + kappa delta) g^2 + (kappa z - kappa + 1) g - kappa = 0``
  (Maillard et al. 2024, arXiv:2408.03733).
* :class:`RectangularProductNoise` -- symmetrised singular values of
  ``(V U / sqrt(r) + sqrt(delta) Z) / (N M)^(1/4)`` via a quartic (Erba et al. 2024,
  arXiv:2410.18858; derived independently from the Dozier-Silverstein information-plus-noise
  equation and the S-transform of a product of Wishart matrices).

Generic laws (pure Python): :class:`CustomLaw` (a density on an interval) and
:class:`FreeConvolution` (numerical free additive convolution of any two laws by subordination).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from hdcore import _core
from hdcore._validation import as_array, check_int, check_real
from hdcore.errors import NumericalError
from hdcore.random import as_seed

__all__ = [
    "CustomLaw",
    "FreeConvolution",
    "MPSemicircle",
    "MarchenkoPastur",
    "Quadrature",
    "RectangularProductNoise",
    "Semicircle",
    "SpectralLaw",
    "ks_distance",
]


@dataclass(frozen=True)
class Quadrature:
    """Gauss rule for ``int f(x) rho(x) dx`` over the continuous part of a law.

    ``sum(w * f(x) * rho)`` approximates the integral; ``rho`` is the density at the nodes.
    """

    x: np.ndarray = field(repr=False)
    w: np.ndarray = field(repr=False)
    rho: np.ndarray = field(repr=False)

    def integrate(self, f) -> float:
        """``int f(x) rho(x) dx`` (``f`` vectorised)."""
        return float(np.sum(self.w * np.asarray(f(self.x), dtype=float) * self.rho))


def _as_complex(z) -> tuple[np.ndarray, tuple]:
    z = np.asarray(z)
    if z.dtype.kind not in "biufc":
        raise TypeError(f"`z` must be numeric, got dtype {z.dtype}")
    z = z.astype(complex)
    if not np.isfinite(z).all():
        raise ValueError("`z` contains NaN or infinity")
    return z.ravel(), z.shape


class SpectralLaw(ABC):
    """A probability law on the real line (limiting spectrum of a random matrix).

    Subclasses implement :meth:`stieltjes`, :meth:`support` and :meth:`sample`; density,
    moments, CDF and the integrals used by the denoising formulas follow from them.
    """

    name: str = "law"

    # ---- to implement ------------------------------------------------------------------
    @abstractmethod
    def stieltjes(self, z) -> np.ndarray:
        """``g(z) = int rho(t)/(z - t) dt``; real ``z`` means ``z + i0``."""

    @abstractmethod
    def support(self) -> list[tuple[float, float]]:
        """Sorted disjoint intervals carrying the continuous part."""

    @abstractmethod
    def sample(self, d: int, seed=None, *, n_threads: int | None = None) -> np.ndarray:
        """Spectrum (sorted) of one random matrix of size ``d`` whose limiting law is this one."""

    def atoms(self) -> list[tuple[float, float]]:
        """Point masses ``(location, mass)``."""
        return []

    # ---- derived ------------------------------------------------------------------------
    def density(self, x) -> np.ndarray:
        """Density of the continuous part, ``-Im g(x + i0) / pi`` (0 outside the support)."""
        x = as_array(x, "x")
        out = np.zeros(x.shape)
        inside = np.zeros(x.shape, dtype=bool)
        for a, b in self.support():
            inside |= (x >= a) & (x <= b)
        if inside.any():
            out[inside] = np.maximum(-self.stieltjes(x[inside]).imag / np.pi, 0.0)
        return out

    def hilbert(self, x) -> np.ndarray:
        """``Re g(x + i0)`` (the Hilbert transform ``P.V. int rho(t)/(x - t) dt``)."""
        return np.asarray(self.stieltjes(as_array(x, "x")).real)

    @property
    def edges(self) -> np.ndarray:
        """Endpoints of the support intervals, sorted."""
        return np.array(sorted(v for ab in self.support() for v in ab))

    def quadrature(self, n: int = 160) -> Quadrature:
        """Gauss rule with ``n`` nodes per support interval (cosine map at the edges)."""
        n = check_int(n, "n", min=2)
        t, wt = np.polynomial.legendre.leggauss(n)
        theta = 0.5 * np.pi * (t + 1.0)
        xs, ws = [], []
        for a, b in self.support():
            c, h = 0.5 * (a + b), 0.5 * (b - a)
            xs.append(c - h * np.cos(theta))
            ws.append(wt * 0.5 * np.pi * h * np.sin(theta))
        x, w = np.concatenate(xs), np.concatenate(ws)
        return Quadrature(x=x, w=w, rho=self.density(x))

    def expect(self, f) -> float:
        """``E f(lambda)`` under the law, atoms included (``f`` vectorised)."""
        q = self.quadrature()
        val = q.integrate(f)
        for loc, mass in self.atoms():
            val += mass * float(np.asarray(f(np.array([loc])))[0])
        return val

    def moment(self, k: int) -> float:
        """``E lambda^k``."""
        k = check_int(k, "k", min=0)
        return self.expect(lambda x: x**k)

    @property
    def mean(self) -> float:
        """First moment."""
        return self.moment(1)

    @property
    def second_moment(self) -> float:
        """Second moment."""
        return self.moment(2)

    def total_mass(self) -> float:
        """Mass of the continuous part plus the atoms (1 up to quadrature error)."""
        return self.expect(lambda x: np.ones_like(x))

    def cube_integral(self) -> float:
        """``int rho(x)^3 dx`` (enters the symmetric denoising MMSE)."""
        q = self.quadrature()
        return float(np.sum(q.w * q.rho**3))

    def cdf(self, x) -> np.ndarray:
        """Cumulative distribution function: the continuous part by cumulative quadrature on
        a fine cosine grid of each support interval (error ~1e-7), plus the atoms."""
        x = as_array(x, "x")
        flat = x.ravel()
        out = np.zeros(flat.shape)
        theta = np.linspace(0.0, np.pi, 2049)
        for a, b in self.support():
            c, h = 0.5 * (a + b), 0.5 * (b - a)
            xs = c - h * np.cos(theta)
            f = self.density(xs) * h * np.sin(theta)
            cum = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(theta))])
            out += np.interp(flat, xs, cum, left=0.0, right=cum[-1])
        spread = max(float(np.ptp(self.edges)), 1e-300) if self.support() else 1.0
        for loc, mass in self.atoms():
            # sampled spectra put the atom at loc up to rounding (e.g. -1e-16 for a zero mode)
            out += mass * (flat >= loc - 1e-9 * spread)
        return np.clip(out, 0.0, 1.0).reshape(x.shape)

    def ks_distance(self, sample) -> float:
        """Kolmogorov-Smirnov distance between an empirical spectrum and the law."""
        return ks_distance(sample, self)


def ks_distance(sample, law: SpectralLaw) -> float:
    """``sup_x |F_n(x) - F(x)|`` for the empirical CDF ``F_n`` of ``sample`` (atoms of the law
    are handled with the left limits ``F(x-)``; sample values within ``1e-9`` of the spread of
    an atom count as the atom).

    Parameters
    ----------
    sample : array_like
        Empirical spectrum, a finite non-empty vector (any order).
    law : SpectralLaw
        The limiting law.

    Returns
    -------
    float
        The Kolmogorov-Smirnov distance, in ``[0, 1]``.

    Raises
    ------
    TypeError
        ``law`` is not a ``SpectralLaw`` or ``sample`` is not array-like of floats.
    ValueError
        ``sample`` is empty, not one-dimensional or not finite.

    Examples
    --------
    >>> law = Semicircle()
    >>> ks_distance(law.sample(500, seed=0), law) < 0.05
    True

    References
    ----------
    Wigner, "On the distribution of the roots of certain symmetric matrices", Ann. Math. 67
    (1958). Marchenko & Pastur, "Distribution of eigenvalues for some sets of random matrices",
    Math. USSR-Sb. 1 (1967).
    """
    if not isinstance(law, SpectralLaw):
        raise TypeError(f"`law` must be a SpectralLaw, got {type(law).__name__}")
    s = np.sort(as_array(sample, "sample", ndim=1))
    n = s.size
    if n == 0:
        raise ValueError("`sample` is empty")
    f = law.cdf(s)
    f_left = f.copy()
    spread = max(float(np.ptp(law.edges)), 1e-300) if law.support() else 1.0
    for loc, mass in law.atoms():
        f_left -= mass * (np.abs(s - loc) <= 1e-9 * spread)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f_left - (i - 1) / n)))


class _CoreLaw(SpectralLaw):
    """A law evaluated by the Rust core (``kind`` and ``params`` name it there)."""

    _kind: str = ""

    @property
    def _params(self) -> list[float]:
        raise NotImplementedError

    def stieltjes(self, z, *, n_threads: int | None = None) -> np.ndarray:
        flat, shape = _as_complex(z)
        re, im = _core.rmt_stieltjes(self._kind, self._params, np.ascontiguousarray(flat.real),
                                     np.ascontiguousarray(flat.imag), n_threads)
        return (re + 1j * im).reshape(shape)

    def density(self, x, *, n_threads: int | None = None) -> np.ndarray:
        x = as_array(x, "x")
        return _core.rmt_density(self._kind, self._params, x.ravel(), n_threads).reshape(x.shape)

    @cached_property
    def _support(self) -> list[tuple[float, float]]:
        return [(float(a), float(b)) for a, b in _core.rmt_support(self._kind, self._params)]

    def support(self) -> list[tuple[float, float]]:
        return list(self._support)

    def atoms(self) -> list[tuple[float, float]]:
        return [(float(a), float(b)) for a, b in _core.rmt_atoms(self._kind, self._params)]

    def quadrature(self, n: int = 160) -> Quadrature:
        # the core splits the support at near-cusps of the density (more accurate)
        x, w, rho = _core.rmt_quadrature(self._kind, self._params, check_int(n, "n", min=2))
        return Quadrature(x=x, w=w, rho=rho)

    def sample(self, d: int, seed=None, *, n_threads: int | None = None) -> np.ndarray:
        d = check_int(d, "d", min=2)
        return _core.rmt_sample_spectrum(self._kind, self._params, d, as_seed(seed), n_threads)


@dataclass(frozen=True)
class Semicircle(_CoreLaw):
    """Wigner semicircle of variance ``variance`` on ``[-2 sqrt(v), 2 sqrt(v)]``.

    ``g(z) = (z - sqrt(z^2 - 4 v)) / (2 v)``; the spectrum of ``sqrt(v)`` times a GOE matrix
    with off-diagonal variance ``1/d`` (diagonal ``2/d``).
    """

    variance: float = 1.0
    name = "semicircle"
    _kind = "semicircle"

    def __post_init__(self):
        object.__setattr__(self, "variance", check_real(self.variance, "variance", min=0.0,
                                                        min_inclusive=False))

    @property
    def _params(self):
        return [self.variance]

    def density(self, x, *, n_threads=None) -> np.ndarray:  # closed form
        x = as_array(x, "x")
        v = self.variance
        return np.sqrt(np.maximum(4 * v - x * x, 0.0)) / (2 * np.pi * v)


@dataclass(frozen=True)
class MarchenkoPastur(_CoreLaw):
    """Marchenko-Pastur law of ``S = scale/m sum_{k<=m} w_k w_k^T``, ``w_k ~ N(0, I_d)``.

    Parameters
    ----------
    kappa : float
        ``m/d`` (any positive ratio; the usual aspect ratio is ``gamma = 1/kappa``). For
        ``kappa < 1`` the law has an atom ``1 - kappa`` at 0.
    scale : float
        Mean of the law. Edges ``scale (1 -+ 1/sqrt(kappa))^2``; second moment
        ``scale^2 (1 + 1/kappa)``.
    """

    kappa: float
    scale: float = 1.0
    name = "marchenko_pastur"
    _kind = "marchenko_pastur"

    def __post_init__(self):
        object.__setattr__(self, "kappa", check_real(self.kappa, "kappa", min=0.0, min_inclusive=False))
        object.__setattr__(self, "scale", check_real(self.scale, "scale", min=0.0, min_inclusive=False))

    @property
    def _params(self):
        return [self.kappa, self.scale]

    def density(self, x, *, n_threads=None) -> np.ndarray:  # closed form
        x = as_array(x, "x")
        (a, b), = self.support()
        s, k = self.scale, self.kappa
        with np.errstate(divide="ignore", invalid="ignore"):
            r = k * np.sqrt(np.maximum((b - x) * (x - a), 0.0)) / (2 * np.pi * s * x)
        return np.where((x > a) & (x < b) & (x != 0), r, 0.0)


@dataclass(frozen=True)
class MPSemicircle(_CoreLaw):
    """Free convolution MP(``kappa``) ``(+)`` semicircle(``delta``): the spectrum of
    ``Y = S + sqrt(delta) Z`` with ``S = W^T W / m`` (``kappa = m/d``, MP of mean 1) and ``Z`` a
    GOE matrix with semicircle on ``[-2, 2]``.

    ``g`` solves ``delta g^3 - (z + kappa delta) g^2 + (kappa z - kappa + 1) g - kappa = 0``
    (digest S1; Maillard et al. 2024). Mean 1, second moment ``1 + 1/kappa + delta``; as
    ``delta -> 0`` it tends to :class:`MarchenkoPastur`.
    """

    kappa: float
    delta: float
    name = "mp_semicircle"
    _kind = "mp_semicircle"

    def __post_init__(self):
        object.__setattr__(self, "kappa", check_real(self.kappa, "kappa", min=0.0, min_inclusive=False))
        object.__setattr__(self, "delta", check_real(self.delta, "delta", min=0.0, min_inclusive=False))

    @property
    def _params(self):
        return [self.kappa, self.delta]


@dataclass(frozen=True)
class RectangularProductNoise(_CoreLaw):
    """Symmetrised singular-value law of ``Y = (V U / sqrt(r) + sqrt(delta) Z) / (N M)^(1/4)``.

    ``V`` is ``N x r``, ``U`` is ``r x M``, ``Z`` is ``N x M``, all i.i.d. N(0, 1), ``N <= M``
    (the law is the same for the transpose). The measure is ``(1/2N) sum_k (delta_{s_k} +
    delta_{-s_k})`` in the limit; ``G(z) = z g_B(z^2)`` with ``g_B`` the Stieltjes transform of
    ``Y Y^T``, a root of a quartic (Erba et al. 2024, arXiv:2410.18858).

    Parameters
    ----------
    aspect : float
        ``M/N >= 1``.
    rank : float
        ``r/N``.
    delta : float
        Noise variance (entry units).
    """

    aspect: float
    rank: float
    delta: float
    name = "rect_product"
    _kind = "rect_product"

    def __post_init__(self):
        object.__setattr__(self, "aspect", check_real(self.aspect, "aspect", min=1.0))
        object.__setattr__(self, "rank", check_real(self.rank, "rank", min=0.0, min_inclusive=False))
        object.__setattr__(self, "delta", check_real(self.delta, "delta", min=0.0, min_inclusive=False))

    @property
    def _params(self):
        return [self.aspect, self.rank, self.delta]

    def inverse_square_integral(self) -> float:
        """``int mu(x)/x^2 dx`` (finite for ``aspect > 1``)."""
        q = self.quadrature()
        return float(np.sum(q.w * q.rho / q.x**2))


# ---- generic laws ------------------------------------------------------------------------

class CustomLaw(SpectralLaw):
    """A law given by its density on ``[a, b]`` (e.g. a user's empirical model).

    The Stieltjes transform is computed by Gauss-Legendre quadrature (accurate for ``Im z``
    not much smaller than ``(b - a)/n_nodes``; on the real axis the principal value is taken by
    subtracting the singularity). :meth:`sample` draws i.i.d. values by inverse CDF.

    Parameters
    ----------
    density : callable
        Vectorised ``rho(x) >= 0`` on ``[a, b]``; it is normalised to mass 1 here.
    support : tuple of float
        ``(a, b)``.
    n_nodes : int
        Quadrature nodes.
    """

    def __init__(self, density, support, *, n_nodes: int = 2000, name: str = "custom"):
        if not callable(density):
            raise TypeError("`density` must be callable")
        try:
            a, b = (float(v) for v in support)
        except (TypeError, ValueError):
            raise TypeError("`support` must be a pair of numbers (a, b)") from None
        if not (np.isfinite(a) and np.isfinite(b) and a < b):
            raise ValueError(f"`support` must satisfy a < b (finite), got ({a}, {b})")
        self._a, self._b = a, b
        self.name = name
        n = check_int(n_nodes, "n_nodes", min=16)
        # midpoint rule in theta for x = c - h cos(theta): spectrally accurate for densities
        # with square-root edges, and cheap to build for many nodes
        theta = np.pi * (np.arange(n) + 0.5) / n
        c, h = 0.5 * (a + b), 0.5 * (b - a)
        self._x = c - h * np.cos(theta)
        self._w = np.pi / n * h * np.sin(theta)
        rho = np.asarray(density(self._x), dtype=float)
        if rho.shape != self._x.shape or not np.isfinite(rho).all() or (rho < 0).any():
            raise ValueError("`density` must return finite non-negative values of the input's shape")
        mass = float(np.sum(self._w * rho))
        if mass <= 0:
            raise ValueError("`density` has zero mass on the support")
        self._rho = rho / mass
        self._f = density
        self._mass = mass

    def support(self):
        return [(self._a, self._b)]

    def density(self, x) -> np.ndarray:
        x = as_array(x, "x")
        inside = (x >= self._a) & (x <= self._b)
        out = np.zeros(x.shape)
        out[inside] = np.asarray(self._f(x[inside]), dtype=float) / self._mass
        return out

    def stieltjes(self, z) -> np.ndarray:
        flat, shape = _as_complex(z)
        diff = flat[:, None] - self._x[None, :]
        real_axis = flat.imag == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.sum(self._w * self._rho / diff, axis=1)
        if real_axis.any():
            # P.V. int rho(t)/(x - t) dt = int (rho(t) - rho(x))/(x - t) dt + rho(x) log((x-a)/(b-x))
            x = flat.real[real_axis]
            rx = self.density(x)
            d = x[:, None] - self._x[None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                term = np.where(d != 0, (self._rho[None, :] - rx[:, None]) / d, 0.0)
                pv = np.sum(self._w * term, axis=1)
                inside = (x > self._a) & (x < self._b)
                log = np.where(inside, np.log(np.abs((x - self._a) / (self._b - x))), 0.0)
                outside = ~inside
                pv_out = np.sum(self._w * self._rho / d, axis=1)
            g_real = np.where(outside, pv_out, pv + rx * log) - 1j * np.pi * rx
            g = g.astype(complex)
            g[real_axis] = g_real
        return g.reshape(shape)

    def sample(self, d: int, seed=None, *, n_threads: int | None = None) -> np.ndarray:
        d = check_int(d, "d", min=1)
        rng = np.random.default_rng(as_seed(seed))
        grid = np.linspace(self._a, self._b, 4001)
        cdf = self.cdf(grid)
        return np.sort(np.interp(rng.random(d), cdf, grid))


class FreeConvolution(SpectralLaw):
    """Free additive convolution ``a (+) b`` of two laws, computed by subordination.

    For ``z`` in the upper half plane the subordination function ``omega_1`` is the fixed point
    of ``omega = z + h_b(z + h_a(omega))`` with ``h(w) = 1/g(w) - w`` (Belinschi & Bercovici
    2007), and ``g(z) = g_a(omega_1(z))``. It is computed by Newton's method, continued from
    ``Im z ~ scale`` (where ``omega_1 ~ z - E b``) down to ``Im z``; real arguments are
    evaluated at ``x + i eta`` (``eta`` relative to the spread of the support). The support is
    where the density does not depend on the smoothing ``eta`` (outside it is an ``O(eta)``
    Cauchy tail), located by a scan and bisection.

    Parameters
    ----------
    a, b : SpectralLaw
        The two laws (any :class:`SpectralLaw`, built-in or custom).
    eta : float
        Smoothing of real arguments, relative to the spread of the support.
    n_scan : int
        Grid size of the support scan.
    """

    def __init__(self, a: SpectralLaw, b: SpectralLaw, *, eta: float = 1e-7, n_scan: int = 240):
        if not isinstance(a, SpectralLaw) or not isinstance(b, SpectralLaw):
            raise TypeError("`a` and `b` must be SpectralLaw instances")
        self.a, self.b = a, b
        self.name = f"({a.name}) (+) ({b.name})"
        ea, eb = a.edges, b.edges
        lo, hi = ea.min() + eb.min(), ea.max() + eb.max()
        for loc, _ in a.atoms():
            lo, hi = min(lo, loc + eb.min()), max(hi, loc + eb.max())
        for loc, _ in b.atoms():
            lo, hi = min(lo, loc + ea.min()), max(hi, loc + ea.max())
        self._hull = (float(lo), float(hi))
        self._scale = max(float(hi - lo), 1e-12)
        self._eta = check_real(eta, "eta", min=0.0, min_inclusive=False) * self._scale
        self._n_scan = check_int(n_scan, "n_scan", min=50)
        self._mean_b = b.mean

    def _h(self, law, w):
        return 1.0 / law.stieltjes(w) - w

    def _omega(self, z: np.ndarray) -> np.ndarray:
        level = np.maximum(z.imag, self._scale)
        zc = z.real + 1j * level
        om = zc - self._mean_b
        while True:
            om = self._newton(zc, om)
            if np.all(level <= z.imag):
                return om
            level = np.maximum(0.25 * level, z.imag)
            zc = z.real + 1j * level

    def _newton(self, z, om, n_iter: int = 40):
        """Newton on ``phi(omega) = z + h_b(z + h_a(omega)) - omega`` (forward differences)."""
        for _ in range(n_iter):
            eps = 1e-7 * (np.abs(om) + self._scale)
            ha = self._h(self.a, om)
            w2 = z + ha
            hb = self._h(self.b, w2)
            phi = z + hb - om
            dha = (self._h(self.a, om + eps) - ha) / eps
            dhb = (self._h(self.b, w2 + eps) - hb) / eps
            with np.errstate(divide="ignore", invalid="ignore"):
                new = om - phi / (dhb * dha - 1.0)
            # omega_1 maps C+ into {Im omega >= Im z}: fall back to a damped fixed-point step
            bad = ~np.isfinite(new) | (new.imag < z.imag)
            new = np.where(bad, om + 0.5 * phi, new)
            converged = np.max(np.abs(new - om)) < 1e-11 * self._scale
            om = new
            if converged:
                break
        return om

    def _stieltjes(self, flat: np.ndarray, eta: float) -> np.ndarray:
        conj = flat.imag < 0
        w = np.where(conj, flat.conj(), flat)
        w = np.where(w.imag == 0, w.real + 1j * eta, w)
        g = self.a.stieltjes(self._omega(w))
        return np.where(conj, g.conj(), g)

    def stieltjes(self, z) -> np.ndarray:
        flat, shape = _as_complex(z)
        return self._stieltjes(flat, self._eta).reshape(shape)

    def _inside(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=complex)
        r1 = -self._stieltjes(x, self._eta).imag
        r2 = -self._stieltjes(x, 0.1 * self._eta).imag
        return (r2 > 0.5 * r1) & (r2 > 1e-12 / self._scale)

    @cached_property
    def _support(self) -> list[tuple[float, float]]:
        lo, hi = self._hull
        pad = 0.02 * self._scale
        x = np.linspace(lo - pad, hi + pad, self._n_scan)
        pos = self._inside(x)
        change = np.flatnonzero(pos[1:] != pos[:-1])
        if pos[0] or pos[-1] or change.size == 0:
            raise NumericalError("free convolution: could not locate the support")
        left, right = x[change], x[change + 1]
        inside_left = pos[change]
        for _ in range(34):  # bisection on every edge at once (to ~1e-10 of the spread)
            mid = 0.5 * (left + right)
            move_left = self._inside(mid) == inside_left
            left = np.where(move_left, mid, left)
            right = np.where(move_left, right, mid)
        e = 0.5 * (left + right)
        return [(float(e[k]), float(e[k + 1])) for k in range(0, e.size - 1, 2)]

    def support(self):
        return list(self._support)

    def sample(self, d: int, seed=None, *, n_threads: int | None = None) -> np.ndarray:
        """Eigenvalues of ``A + O B O^T`` with ``A``, ``B`` diagonal spectra sampled from the two
        laws and ``O`` Haar-distributed (asymptotically free)."""
        d = check_int(d, "d", min=2)
        s = as_seed(seed)
        rng = np.random.default_rng(s)
        ea = self.a.sample(d, s, n_threads=n_threads)
        eb = self.b.sample(d, s ^ 0x5DEECE66D, n_threads=n_threads)
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        q = q * np.sign(np.diag(r))
        m = np.diag(ea) + (q * eb) @ q.T
        m = 0.5 * (m + m.T)
        return _core.eigh(np.ascontiguousarray(m), False, n_threads)[0]
