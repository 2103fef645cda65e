"""Scalar regression losses ``rho(r)`` of the residual ``r = y - z``.

A loss is one object that serves the ERM solver, the proximal output function of GAMP and the
replica-symmetric theory (the TRAMP design, as for the priors): it knows ``rho``, ``rho'``,
``rho''``, its proximal map, and the three Gaussian integrals that the fixed point of
:func:`hdcore.theory.erm_fixed_point` needs. The built-in losses evaluate all of this in the
Rust core (the same code the ERM solver runs); :class:`CustomLoss` wraps user callables.

Proximal map in residual form (Vilucchio et al., arXiv:2502.20003; digest 06, Sec. 3.2): for a
prox variance ``V > 0`` the prox residual of ``delta = y - omega`` is
``r(delta) = argmin_r rho(r) + (delta - r)^2 / (2 V)``, a root of ``r + V rho'(r) = delta``. It is
single-valued and monotone iff ``1 + V rho''(r) > 0`` for every ``r``, i.e. ``V < -1/min rho''``:
**Tukey needs V < 5/4** (``min rho'' = -4/5``), **Cauchy V < 8** (``min rho'' = -1/8``).

Channel integrals. For a residual ``delta ~ N(0, S)`` (one Gaussian component of the label
noise), with the change of variables ``delta = r + V rho'(r)`` (``d delta = (1 + V rho'') dr``)::

    I_q(V, S)  = E[rho'(r)^2]                 = int rho'(r)^2 (1 + V rho''(r)) N(delta(r); 0, S) dr
    I_V(V, S)  = E[rho''/(1 + V rho'')]       = int rho''(r) N(delta(r); 0, S) dr
    I_E2(V, S) = E[(rho''/(1 + V rho''))^2]   = int rho''(r)^2 / (1 + V rho''(r)) N(delta(r); 0, S) dr

(``g_out = rho'(r)`` and ``-d g_out/d omega = rho''/(1 + V rho'')``; the E2 integral runs over the
whole real line -- the authors' Tukey replicon routine integrates ``[0, tau]`` without the factor
2 of the even integrand, digest 06 Sec. 3.3; here the full line is integrated.) The square,
absolute and Huber losses use closed forms; the others composite Gauss-Legendre quadrature on
panels split at the loss' breakpoints.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.special import erf

from hdcore import _core
from hdcore._validation import check_real

__all__ = [
    "Loss",
    "BuiltinLoss",
    "Square",
    "Absolute",
    "Huber",
    "Tukey",
    "Cauchy",
    "CustomLoss",
    "get_loss",
    "LOSSES",
]

#: half-width of the quadrature range, in standard deviations of ``delta``
QUAD_HALF_WIDTH = 10.0
#: width of a quadrature panel, in standard deviations of ``delta``
QUAD_PANEL = 1.0
#: Gauss-Legendre nodes per panel
QUAD_NODES = 10


@lru_cache(maxsize=8)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def _flat(r) -> tuple[np.ndarray, tuple]:
    arr = np.asarray(r, dtype=np.float64)
    return np.ascontiguousarray(arr.ravel()), arr.shape


class Loss(ABC):
    """Base class of the residual losses ``rho(y - z)``.

    Subclasses implement :meth:`eval`, :meth:`prox` and :attr:`min_second_derivative`; the
    output function, the validity checks and the channel integrals of the theory follow.
    """

    name: str = "custom"
    #: name of the loss' parameter (``None`` if it has none)
    param_name: str | None = None
    #: an upper bound of ``rho''`` (sets the quadrature panel width)
    _max_d2_hint: float = 1.0
    #: length scale of the loss' features (``tau``), refines the panels of non-convex losses
    _length_scale: float | None = None

    @property
    def param(self) -> float | None:
        """The loss' parameter (``a`` for Huber, ``tau`` for Tukey and Cauchy)."""
        return None

    @abstractmethod
    def eval(self, r) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rho(r), rho'(r), rho''(r))`` elementwise."""

    @abstractmethod
    def prox(self, delta, V: float) -> tuple[np.ndarray, np.ndarray]:
        """Prox residuals ``r(delta)`` at variance ``V`` and their derivatives ``dr/d delta``."""

    @property
    @abstractmethod
    def min_second_derivative(self) -> float:
        """``inf_r rho''(r)``."""

    # ---- derived ---------------------------------------------------------------------------
    def value(self, r) -> np.ndarray:
        """``rho(r)``."""
        return self.eval(r)[0]

    def derivative(self, r) -> np.ndarray:
        """``rho'(r)``."""
        return self.eval(r)[1]

    def second_derivative(self, r) -> np.ndarray:
        """``rho''(r)``."""
        return self.eval(r)[2]

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Residuals where ``rho''`` (or ``rho'''``) jumps or ``rho''`` is smallest."""
        return ()

    @property
    def convex(self) -> bool:
        """Whether ``rho`` is convex."""
        return self.min_second_derivative >= 0.0

    @property
    def grows_quadratically(self) -> bool:
        """Whether ``rho(r) ~ r^2`` at infinity (then a negative ridge can stay bounded below)."""
        return False

    @property
    def max_prox_variance(self) -> float:
        """Supremum of the prox variances with a single-valued prox: ``-1/min rho''``."""
        m = self.min_second_derivative
        return -1.0 / m if m < 0 else math.inf

    def prox_single_valued(self, V: float) -> bool:
        """Whether ``1 + V rho''(r) > 0`` for all ``r`` (the prox at ``V`` is a function)."""
        return 0.0 <= V < self.max_prox_variance

    def g_out(self, y, omega, V: float) -> tuple[np.ndarray, np.ndarray]:
        """GAMP output function ``(prox - omega)/V`` of ``rho(y - .)`` and its ``omega``-derivative
        ``-rho''/(1 + V rho'')`` (digest 06, Sec. 2)."""
        delta = np.asarray(y, dtype=np.float64) - np.asarray(omega, dtype=np.float64)
        r, dr = self.prox(delta, V)
        return (delta - r) / V, -(1.0 - dr) / V

    def with_param(self, value: float) -> Loss:
        """The same loss with another parameter (used by :func:`hdcore.theory.tune`)."""
        raise ValueError(f"the {self.name} loss has no parameter")

    # ---- theory ----------------------------------------------------------------------------
    def channel_integrals(self, V: float, S, *, method: str = "auto") -> np.ndarray:
        """``[I_q, I_V, I_E2]`` (see the module docs) for each residual variance in ``S``.

        Parameters
        ----------
        V : float
            Prox variance, ``0 <= V < max_prox_variance``.
        S : array_like
            Variances of the Gaussian residual components.
        method : {"auto", "quadrature"}
            ``"quadrature"`` forces the numerical integral (to test the closed forms).

        Returns
        -------
        ndarray of shape (3, len(S))
        """
        S = np.atleast_1d(np.asarray(S, dtype=np.float64))
        if not self.prox_single_valued(V):
            raise ValueError(f"the prox of the {self.name} loss is multivalued at V = {V} "
                             f"(needs V < {self.max_prox_variance})")
        if method == "auto":
            closed = self._closed_integrals(V, S)
            if closed is not None:
                return closed
        elif method != "quadrature":
            raise ValueError(f"`method` must be 'auto' or 'quadrature', got {method!r}")
        return self._quadrature_integrals(V, S)

    def _closed_integrals(self, V: float, S: np.ndarray) -> np.ndarray | None:
        return None

    def _quadrature_integrals(self, V: float, S: np.ndarray, *, half_width: float = QUAD_HALF_WIDTH,
                              panel: float = QUAD_PANEL, nodes: int = QUAD_NODES) -> np.ndarray:
        gx, gw = _legendre(nodes)
        sd = np.sqrt(S)
        ends, _ = self.prox(np.concatenate([-half_width * sd, half_width * sd]), V)
        lo, hi = ends[: S.size], ends[S.size:]
        starts: list[float] = []
        stops: list[float] = []
        owners: list[int] = []
        for k in range(S.size):
            cuts = [lo[k], *(b for b in self.breakpoints if lo[k] < b < hi[k]), hi[k]]
            starts.extend(cuts[:-1])
            stops.extend(cuts[1:])
            owners.extend([k] * (len(cuts) - 1))
        seg_a, seg_b, seg_k = np.array(starts), np.array(stops), np.array(owners, dtype=int)
        # every segment split into m >= 2 equal panels of width <= panel * sd/(1 + V): the density
        # varies on the scale sd/(1 + V rho'') in r, and rho'' <= 1 for the built-in losses
        width = panel * sd[seg_k] / (1.0 + V * max(1.0, self._max_d2_hint))
        scale = self._length_scale
        if scale is not None and math.isfinite(self.max_prox_variance):
            # near V_max, 1/(1 + V rho'') peaks around the minimum of rho'' with a width
            # ~ scale * sqrt(1 - V/V_max)
            width = np.minimum(width, panel * scale * max(math.sqrt(1 - V / self.max_prox_variance), 0.05))
        m = np.maximum(2, np.ceil((seg_b - seg_a) / width).astype(int))
        h = (seg_b - seg_a) / m
        seg = np.repeat(np.arange(m.size), m)
        local = np.arange(seg.size) - np.repeat(np.cumsum(m) - m, m)
        half = 0.5 * h[seg]
        mid = seg_a[seg] + (local + 0.5) * h[seg]
        r = (mid[:, None] + half[:, None] * gx).ravel()
        w = (half[:, None] * gw).ravel()
        comp = np.repeat(seg_k[seg], gx.size)
        _, d1, d2 = self.eval(r)
        s = S[comp]
        delta = r + V * d1
        dens = w * np.exp(-0.5 * delta * delta / s) / np.sqrt(2 * np.pi * s)
        jac = 1.0 + V * d2
        out = np.empty((3, S.size))
        out[0] = np.bincount(comp, d1 * d1 * jac * dens, minlength=S.size)
        out[1] = np.bincount(comp, d2 * dens, minlength=S.size)
        out[2] = np.bincount(comp, d2 * d2 / jac * dens, minlength=S.size)
        return out

    def __repr__(self) -> str:
        p = self.param
        return f"{type(self).__name__}()" if p is None else f"{type(self).__name__}({self.param_name}={p})"


class BuiltinLoss(Loss):
    """A loss implemented in the Rust core (fast ERM path available)."""

    def __init__(self, param: float | None = None):
        if self.param_name is not None:
            param = check_real(param, self.param_name, min=0.0, min_inclusive=False)
        self._param = param
        info = _core.loss_info(self.name, param=param)
        self._min_d2 = float(info["min_d2"])
        self._max_abs_d1 = float(info["max_abs_d1"])
        self._breaks = tuple(float(b) for b in info["breakpoints"])

    @property
    def param(self):
        return self._param

    @property
    def _required_param(self) -> float:
        # the losses with a `param_name` check and store it in __init__
        assert self._param is not None
        return self._param

    def eval(self, r):
        flat, shape = _flat(r)
        v, a, b = _core.loss_eval(self.name, flat, param=self._param)
        return v.reshape(shape), a.reshape(shape), b.reshape(shape)

    def prox(self, delta, V):
        V = check_real(V, "V", min=0.0)
        flat, shape = _flat(delta)
        r, dr = _core.loss_prox(self.name, flat, V, param=self._param)
        return r.reshape(shape), dr.reshape(shape)

    def g_out(self, y, omega, V):
        V = check_real(V, "V", min=0.0, min_inclusive=False)
        yf, shape = _flat(y)
        of, oshape = _flat(omega)
        if shape != oshape:
            raise ValueError(f"`omega` has shape {oshape}, expected {shape} (the shape of `y`)")
        g, dg = _core.prox_g_out(self.name, yf, of, V, param=self._param)
        return g.reshape(shape), dg.reshape(shape)

    @property
    def min_second_derivative(self):
        return self._min_d2

    @property
    def breakpoints(self):
        return self._breaks

    def with_param(self, value):
        if self.param_name is None:
            return super().with_param(value)
        return type(self)(value)

    def __eq__(self, other):
        return type(self) is type(other) and self._param == other._param

    def __hash__(self):
        return hash((self.name, self._param))


class Square(BuiltinLoss):
    """``rho(r) = r^2/2``; ``I_q = S/(1+V)^2``, ``I_V = 1/(1+V)``, ``I_E2 = 1/(1+V)^2``."""

    name = "square"

    @property
    def grows_quadratically(self):
        return True

    def _closed_integrals(self, V, S):
        return np.stack([S / (1 + V) ** 2, np.full_like(S, 1 / (1 + V)),
                         np.full_like(S, 1 / (1 + V) ** 2)])


def _truncated_second_moment(c: float, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``P = P(|delta| <= c)`` and ``E[delta^2 1{|delta| <= c}]`` for ``delta ~ N(0, S)``."""
    u = np.minimum(c / np.sqrt(S), 50.0)  # beyond 50 sd the Gaussian tail is exactly 0 in float64
    P = erf(u / np.sqrt(2))
    m2 = S * (P - 2 * u * np.exp(-0.5 * u * u) / np.sqrt(2 * np.pi))
    return P, m2


class Absolute(BuiltinLoss):
    """``rho(r) = |r|`` (soft-threshold prox); closed-form channel integrals with
    ``P = P(|delta| <= V)``: ``I_V = P/V``, ``I_E2 = P/V^2``,
    ``I_q = E[delta^2 1{|delta|<=V}]/V^2 + 1 - P``."""

    name = "absolute"

    def _closed_integrals(self, V, S):
        if V == 0:
            return None
        P, m2 = _truncated_second_moment(V, S)
        return np.stack([m2 / V**2 + 1 - P, P / V, P / V**2])

    def _quadrature_integrals(self, V, S, **kw):
        # rho'' is a Dirac mass at 0: only the closed form applies
        return self._closed_integrals(V, S)


class Huber(BuiltinLoss):
    """Huber loss: ``r^2/2`` for ``|r| <= a``, ``a|r| - a^2/2`` beyond. Closed-form channel
    integrals with ``c = a(1+V)``, ``P = P(|delta| <= c) = erf(c/sqrt(2S))`` (digest 06, Sec. 3.2):
    ``I_V = P/(1+V)``, ``I_E2 = P/(1+V)^2``, ``I_q = E[delta^2 1{|delta|<=c}]/(1+V)^2 + a^2(1-P)``."""

    name = "huber"
    param_name = "a"

    def __init__(self, a: float = 1.0):
        super().__init__(a)

    @property
    def a(self) -> float:
        return self._required_param

    def _closed_integrals(self, V, S):
        a = self._param
        P, m2 = _truncated_second_moment(a * (1 + V), S)
        return np.stack([m2 / (1 + V) ** 2 + a * a * (1 - P), P / (1 + V), P / (1 + V) ** 2])


class Tukey(BuiltinLoss):
    """Tukey biweight ``(tau^2/6)[1 - (1 - r^2/tau^2)^3]`` for ``|r| <= tau``, ``tau^2/6`` beyond;
    ``min rho'' = -4/5`` at ``r^2 = 3 tau^2/5``: the prox is single-valued iff ``V < 5/4``."""

    name = "tukey"
    param_name = "tau"

    def __init__(self, tau: float = 1.0):
        super().__init__(tau)

    @property
    def tau(self) -> float:
        return self._required_param

    @property
    def _length_scale(self):
        return self._param

    @property
    def breakpoints(self):
        t = self._param
        c = t * math.sqrt(0.6)
        return (-t, -c, c, t)


class Cauchy(BuiltinLoss):
    """Cauchy loss ``(tau^2/2) log(1 + r^2/tau^2)``; ``min rho'' = -1/8`` at ``r^2 = 3 tau^2``: the
    prox is single-valued iff ``V < 8``."""

    name = "cauchy"
    param_name = "tau"

    def __init__(self, tau: float = 1.0):
        super().__init__(tau)

    @property
    def tau(self) -> float:
        return self._required_param

    @property
    def _length_scale(self):
        return self._param

    @property
    def breakpoints(self):
        c = self._param * math.sqrt(3.0)
        return (-c, c)


class CustomLoss(Loss):
    """A loss from Python callables (open path of :func:`hdcore.algorithms.erm`, and the theory).

    Parameters
    ----------
    value, derivative : callable
        Vectorised ``rho(r)`` and ``rho'(r)``.
    second_derivative : callable, optional
        Vectorised ``rho''(r)``; defaults to a central difference of ``derivative``.
    min_second_derivative : float, optional
        ``inf rho''`` (decides when the prox is multivalued); defaults to the minimum of
        ``rho''`` on a fine grid of ``[-grid_half_width, grid_half_width]`` -- pass it when the
        infimum lies outside or is not attained on the grid. (The maximum on the same grid sets
        the width of the theory's quadrature panels.)
    breakpoints : sequence of float
        Residuals where ``rho''`` jumps (improves the theory's quadrature).
    name : str
        Used in messages.
    grows_quadratically : bool
        Whether ``rho ~ r^2`` at infinity (informs the unboundedness diagnosis).

    Examples
    --------
    >>> logcosh = CustomLoss(lambda r: np.log(np.cosh(r)), np.tanh,
    ...                      lambda r: 1 / np.cosh(r) ** 2, min_second_derivative=0.0)
    """

    def __init__(self, value: Callable, derivative: Callable, second_derivative: Callable | None = None,
                 *, min_second_derivative: float | None = None, breakpoints=(), name: str = "custom",
                 grows_quadratically: bool = False, grid_half_width: float = 50.0):
        for arg, fn in (("value", value), ("derivative", derivative)):
            if not callable(fn):
                raise TypeError(f"`{arg}` must be callable, got {type(fn).__name__}")
        if second_derivative is not None and not callable(second_derivative):
            raise TypeError("`second_derivative` must be callable or None")
        self._value, self._d1, self._d2 = value, derivative, second_derivative
        self.name = str(name)
        self._quad = bool(grows_quadratically)
        self._breaks = tuple(sorted(check_real(b, "breakpoints") for b in breakpoints))
        grid_d2 = self.second_derivative(np.linspace(-grid_half_width, grid_half_width, 200_001))
        if min_second_derivative is None:
            min_second_derivative = float(np.min(grid_d2))
        self._min_d2 = check_real(min_second_derivative, "min_second_derivative")
        self._max_d2_hint = max(1.0, float(np.max(grid_d2)))

    def _call(self, fn, r):
        out = np.asarray(fn(r), dtype=np.float64)
        if out.shape != np.shape(r):
            out = np.broadcast_to(out, np.shape(r)).copy()
        return out

    def eval(self, r):
        r = np.asarray(r, dtype=np.float64)
        v = self._call(self._value, r)
        d1 = self._call(self._d1, r)
        if self._d2 is not None:
            d2 = self._call(self._d2, r)
        else:
            h = 1e-5 * (1 + np.abs(r))
            d2 = (self._call(self._d1, r + h) - self._call(self._d1, r - h)) / (2 * h)
        return v, d1, d2

    @property
    def min_second_derivative(self):
        return self._min_d2

    @property
    def breakpoints(self):
        return self._breaks

    @property
    def grows_quadratically(self):
        return self._quad

    def prox(self, delta, V):
        """Safeguarded Newton on ``r + V rho'(r) = delta`` (vectorised); needs a single-valued
        prox (``V < max_prox_variance``)."""
        V = check_real(V, "V", min=0.0)
        delta = np.asarray(delta, dtype=np.float64)
        if not self.prox_single_valued(V):
            raise ValueError(f"the prox of {self.name!r} is multivalued at V = {V}")
        if V == 0:
            return delta.copy(), np.ones_like(delta)

        def g(r):
            return r + V * self.derivative(r) - delta

        lo = np.minimum(0.0, delta) - 1.0
        hi = np.maximum(0.0, delta) + 1.0
        for _ in range(200):  # widen until the root is bracketed (g is increasing)
            bad_lo, bad_hi = g(lo) > 0, g(hi) < 0
            if not (bad_lo.any() or bad_hi.any()):
                break
            lo = np.where(bad_lo, 2 * lo - 1, lo)
            hi = np.where(bad_hi, 2 * hi + 1, hi)
        r = 0.5 * (lo + hi)
        for _ in range(200):
            _, d1, d2 = self.eval(r)
            gr = r + V * d1 - delta
            lo = np.where(gr < 0, r, lo)
            hi = np.where(gr > 0, r, hi)
            slope = 1 + V * d2
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = r - gr / slope
            ok = (slope > 0) & (newton > lo) & (newton < hi)
            new = np.where(ok, newton, 0.5 * (lo + hi))
            if np.all(np.abs(new - r) <= 1e-15 * (1 + np.abs(r))):
                r = new
                break
            r = new
        return r, 1.0 / (1.0 + V * self.second_derivative(r))


LOSSES = {"square": Square, "absolute": Absolute, "huber": Huber, "tukey": Tukey, "cauchy": Cauchy}

_SPEC = re.compile(r"^\s*(\w+)\s*(?:\(\s*(?:\w+\s*=\s*)?([^)]*)\)\s*)?$")


def get_loss(spec) -> Loss:
    """A loss from a :class:`Loss`, a name (``"square"``) or a name with its parameter
    (``"huber(1.0)"``, ``"tukey(tau=2)"``)."""
    if isinstance(spec, Loss):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"`loss` must be a Loss or a string, got {type(spec).__name__}")
    m = _SPEC.match(spec)
    if not m or m.group(1) not in LOSSES:
        raise ValueError(f"unknown loss {spec!r}; expected one of {sorted(LOSSES)} "
                         "(e.g. 'huber(1.0)', 'tukey(2.0)')")
    cls, arg = LOSSES[m.group(1)], m.group(2)
    if cls.param_name is None:
        if arg is not None and arg.strip():
            raise ValueError(f"loss {m.group(1)!r} takes no parameter, got {spec!r}")
        return cls()
    if arg is None:
        raise ValueError(f"loss {m.group(1)!r} needs its parameter `{cls.param_name}`, "
                         f"e.g. '{m.group(1)}(1.0)'")
    try:
        value = float(arg)
    except ValueError:
        raise ValueError(f"cannot read the parameter in loss {spec!r}") from None
    return cls(value)
