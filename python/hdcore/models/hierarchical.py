"""Hierarchical Gaussian targets: SIGHT, MIGHT and deep MIGHT (Dandi, Pesce, Zdeborova &
Krzakala, arXiv:2502.13961, Sec. 2 and eqs. 6-7; the authors' code IdePHICS/ComputationalDepth,
``Codes/utils.py``, ``generate_weights`` / ``generate_data``).

Inputs ``x ~ N(0, I_d)``. A target is a tree of features. Level 1 is linear,
``z = h_1 = W* x`` with ``W*`` (``D_1 x d``) of orthonormal rows (QR of a Gaussian matrix, as in
the code), so ``z ~ N(0, I_{D_1})`` exactly. Level ``l + 1`` cuts ``h_l`` into consecutive
blocks of ``b_{l+1}`` components and maps block ``m`` to one feature::

    h_{l+1, m} = a_{l+1, m}^T P_{l+1}(block m of h_l) / sqrt(b_{l+1})     (eq. 6; P entrywise)

and the label is the committee over the ``r`` top features ``f*(x) = sum_m g(h_{L, m})/sqrt(r)``
(the code's ``y = sum_i sigma_star2(h_i)/sqrt(k)``; ``r = 1``: ``f* = g(h*)``). The running
example (eq. 11) is :class:`SIGHT` with ``P = He_2 + He_3``, ``g = tanh(3 .)``,
``eps1 = 1/2``: ``f* = tanh(3 a*^T P(W* x)/d^{1/4})``.

Conventions (the traps of the code, stated here once):

* ``P = sum_k c_k N_k He_k`` with the probabilists' Hermite polynomials ``He_k`` and
  ``hermite="factorial"``: ``N_k = 1/k!`` (the code's ``He_2 = (x^2 - 1)/2``,
  ``He_3 = (x^3 - 3x)/6``; the default), ``"probabilists"``: ``N_k = 1``, ``"orthonormal"``:
  ``N_k = 1/sqrt(k!)``. For ``u ~ N(0, 1)``, ``E P(u)^2 = sum_k c_k^2 N_k^2 k!``.
* The sizes ``d^eps`` are rounded explicitly: ``rounding="floor"`` is the code's ``int(d**eps)``
  (with a ``1e-9`` guard so that ``64**0.5`` is 8, not 7.999...), ``"round"`` the nearest integer;
  always ``>= 1``.
* The code's config key ``k`` is the number of branches ``r`` (:class:`MIGHT`'s ``n_branches``),
  not the degree of ``P``.
* Deep trees (:class:`DeepMIGHT`) are built from the block sizes, top down: ``D_L = r``,
  ``b_l = rnd(d^{eps_{l-1} - eps_l})`` (``eps_L = 0``), ``D_{l-1} = b_l D_l``; so every block
  is full and ``D_l`` matches ``d^{eps_l}`` up to the product of the roundings (exposed as
  ``level_sizes``). Intermediate levels (those fed to another polynomial) are divided by the
  Gaussian standard deviation ``sqrt(E P(u)^2)`` so that the next polynomial sees unit-variance
  inputs (``standardise=True``; [DERIVED] here: the paper states the features are asymptotically
  Gaussian but its normalisation of deeper levels was not decoded). The top level of
  :class:`SIGHT` / :class:`MIGHT` is not standardised (as in the code: ``Var h* = 2/3`` for the
  running example).

Data are drawn with NumPy from keyed seeds (:func:`hdcore.random.spawn`): the teacher from
``(seed, 0)``, the batch from ``(seed, 1)``; :meth:`HierarchicalTeacher.stream` yields fresh
batches ``t = 0, 1, ...`` from ``(seed, t)`` for the online stages.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial import hermite_e

from hdcore._validation import check_choice, check_int, check_real
from hdcore.random import as_seed, spawn

__all__ = ["SIGHT", "MIGHT", "DeepMIGHT", "HierarchicalTeacher", "HierarchicalSample",
           "round_power", "hermite_series"]

_HERMITE = ("factorial", "probabilists", "orthonormal")
_ROUNDING = ("floor", "round")
_WEIGHTS = ("sign", "ones")
_LINKS = ("tanh", "linear")
_RUNNING_POLY = (0.0, 0.0, 1.0, 1.0)  # He_2 + He_3


def round_power(d: int, eps: float, rounding: str = "floor") -> int:
    """``d^eps`` rounded to an integer ``>= 1`` (module docs).

    Parameters
    ----------
    d : int
        Base, ``>= 1``.
    eps : float
        Exponent, ``>= 0``.
    rounding : {"floor", "round"}
        ``"floor"``: the authors' ``int(d**eps)`` (guarded against ``64**0.5 = 7.99..``);
        ``"round"``: the nearest integer.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        On a bad argument.

    Examples
    --------
    >>> round_power(64, 0.5), round_power(128, 0.5), round_power(128, 0.5, "round")
    (8, 11, 11)
    """
    d = check_int(d, "d", min=1)
    eps = check_real(eps, "eps", min=0.0)
    rounding = check_choice(rounding, "rounding", _ROUNDING)
    v = float(d) ** eps
    r = math.floor(v + 1e-9) if rounding == "floor" else int(round(v))
    return max(1, r)


def hermite_series(coefs: Sequence[float], hermite: str = "factorial") -> np.ndarray:
    """Coefficients of ``P = sum_k c_k N_k He_k`` in the probabilists' basis ``He_k``
    (``N_k`` of the module docs).

    Parameters
    ----------
    coefs : sequence of float
        ``c_0, c_1, ...``.
    hermite : {"factorial", "probabilists", "orthonormal"}

    Returns
    -------
    numpy.ndarray
        ``c_k N_k``, for :func:`numpy.polynomial.hermite_e.hermeval`.

    Examples
    --------
    >>> hermite_series((0, 0, 1, 1))
    array([0.        , 0.        , 0.5       , 0.16666667])
    """
    hermite = check_choice(hermite, "hermite", _HERMITE)
    c = np.asarray([check_real(v, "poly") for v in coefs], dtype=np.float64)
    if c.size == 0 or not np.any(c != 0):
        raise ValueError("`poly` needs at least one non-zero coefficient")
    k = np.arange(c.size)
    fact = np.array([math.factorial(int(j)) for j in k], dtype=np.float64)
    norm = {"factorial": 1.0 / fact, "probabilists": np.ones_like(fact),
            "orthonormal": 1.0 / np.sqrt(fact)}[hermite]
    return c * norm


def _poly_variance(series: np.ndarray) -> float:
    """``E P(u)^2`` for ``u ~ N(0, 1)``: ``sum_k s_k^2 k!`` (orthogonality of ``He_k``)."""
    fact = np.array([math.factorial(j) for j in range(series.size)], dtype=np.float64)
    return float(np.sum(series ** 2 * fact))


@dataclass(frozen=True)
class _Tree:
    """Checked description of a feature tree (shared by the three public models)."""

    d: int
    blocks: tuple[int, ...]          # b_2, ..., b_L
    n_branches: int
    series: tuple[np.ndarray, ...]   # one per level 2..L
    standardise: tuple[bool, ...]    # one per level 2..L
    link: str
    link_scale: float
    weights: str

    @property
    def sizes(self) -> tuple[int, ...]:
        sizes = [self.n_branches]
        for b in reversed(self.blocks):
            sizes.append(sizes[-1] * b)
        return tuple(reversed(sizes))


def _check_common(obj) -> None:
    object.__setattr__(obj, "d", check_int(obj.d, "d", min=2))
    object.__setattr__(obj, "link", check_choice(obj.link, "link", _LINKS))
    object.__setattr__(obj, "link_scale", check_real(obj.link_scale, "link_scale"))
    object.__setattr__(obj, "weights", check_choice(obj.weights, "weights", _WEIGHTS))
    object.__setattr__(obj, "hermite", check_choice(obj.hermite, "hermite", _HERMITE))
    object.__setattr__(obj, "rounding", check_choice(obj.rounding, "rounding", _ROUNDING))


class _TargetMixin:
    """``teacher`` / ``sample`` / sizes shared by the models (they define ``_tree``)."""

    def _tree(self) -> _Tree:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def level_sizes(self) -> tuple[int, ...]:
        """``(D_1, ..., D_L)``: the number of features at every level (``D_L = r``)."""
        return self._tree().sizes

    @property
    def d_eff(self) -> int:
        """``D_1``, the number of linear features (rows of ``W*``)."""
        return self._tree().sizes[0]

    def teacher(self, seed=None) -> HierarchicalTeacher:
        """Draw the planted weights (``W*`` and the ``a`` of every level).

        Parameters
        ----------
        seed : int, numpy.random.Generator or None

        Returns
        -------
        HierarchicalTeacher
        """
        t = self._tree()
        rng = np.random.default_rng(as_seed(seed))
        d1 = t.sizes[0]
        if d1 > t.d:
            raise ValueError(f"the model needs D_1 = {d1} orthonormal directions in d = {t.d}")
        q, _ = np.linalg.qr(rng.standard_normal((t.d, d1)))
        wstar = np.ascontiguousarray(q.T)
        a: list[np.ndarray] = []
        for size in t.sizes[1:]:
            b = t.sizes[len(a)] // size
            if t.weights == "sign":
                a.append(np.where(rng.standard_normal((size, b)) >= 0, 1.0, -1.0))
            else:
                a.append(np.ones((size, b)))
        return HierarchicalTeacher(model=self, tree=t, wstar=wstar, a=tuple(a))

    def sample(self, n: int, seed=None) -> HierarchicalSample:
        """A teacher (from ``(seed, 0)``) and ``n`` samples of it (from ``(seed, 1)``).

        Parameters
        ----------
        n : int
            Number of samples.
        seed : int, numpy.random.Generator or None

        Returns
        -------
        HierarchicalSample
        """
        s = as_seed(seed)
        return self.teacher(spawn(s, 0)).sample(n, spawn(s, 1))


@dataclass(frozen=True)
class MIGHT(_TargetMixin):
    """Multi-index Gaussian hierarchical target: ``r`` branches with their own ``W*_m``
    (``rnd(d^eps1)`` orthonormal rows each, mutually orthogonal) and the committee
    ``f* = sum_m g(h*_m)/sqrt(r)`` (module docs).

    Parameters
    ----------
    d : int
        Input dimension (``>= 2``).
    eps1 : float
        ``D_1 = r rnd(d^eps1)``, ``0 < eps1 < 1``.
    n_branches : int
        ``r >= 1`` (the code's ``k``).
    poly : sequence of float
        ``c_k`` of ``P = sum_k c_k N_k He_k`` (default ``He_2 + He_3``).
    link : {"tanh", "linear"}
        ``g(h) = tanh(link_scale h)`` or ``link_scale h``.
    link_scale : float
    weights : {"sign", "ones"}
        ``a*`` random signs (the code) or all ones (the theorem).
    hermite : {"factorial", "probabilists", "orthonormal"}
        ``N_k`` (module docs; ``"factorial"`` is the code's ``He_k/k!``).
    rounding : {"floor", "round"}
        Rounding of ``d^eps1`` (:func:`round_power`).

    Examples
    --------
    >>> MIGHT(d=64, eps1=0.5, n_branches=2).level_sizes
    (16, 2)
    """

    d: int
    eps1: float = 0.5
    n_branches: int = 1
    poly: tuple[float, ...] = _RUNNING_POLY
    link: str = "tanh"
    link_scale: float = 3.0
    weights: str = "sign"
    hermite: str = "factorial"
    rounding: str = "floor"

    def __post_init__(self):
        _check_common(self)
        object.__setattr__(self, "eps1", check_real(self.eps1, "eps1", min=0.0, max=1.0,
                                                    min_inclusive=False, max_inclusive=False))
        object.__setattr__(self, "n_branches", check_int(self.n_branches, "n_branches", min=1))
        object.__setattr__(self, "poly", tuple(float(v) for v in
                                               hermite_series(self.poly, "probabilists")))
        t = self._tree()
        if t.sizes[0] > self.d:
            raise ValueError(f"`n_branches` * d^eps1 = {t.sizes[0]} exceeds d = {self.d}")

    @property
    def degree(self) -> int:
        """``k``, the degree of ``P``."""
        return int(np.flatnonzero(np.asarray(self.poly))[-1])

    def _tree(self) -> _Tree:
        b = round_power(self.d, self.eps1, self.rounding)
        return _Tree(d=self.d, blocks=(b,), n_branches=self.n_branches,
                     series=(hermite_series(self.poly, self.hermite),), standardise=(False,),
                     link=self.link, link_scale=self.link_scale, weights=self.weights)


@dataclass(frozen=True)
class SIGHT(MIGHT):
    """Single-index Gaussian hierarchical target ``f* = g(a*^T P(W* x)/sqrt(D_1))``
    (:class:`MIGHT` with one branch; eq. 11 with the defaults).

    Parameters
    ----------
    d, eps1, poly, link, link_scale, weights, hermite, rounding
        As in :class:`MIGHT`.

    Examples
    --------
    >>> model = SIGHT(d=64)
    >>> s = model.sample(100, seed=0)
    >>> s.x.shape, s.wstar.shape, [h.shape for h in s.features]
    ((100, 64), (8, 64), [(100, 8), (100, 1)])
    """

    def __post_init__(self):
        if self.n_branches != 1:
            raise ValueError(f"`n_branches` of SIGHT must be 1, got {self.n_branches} "
                             "(use MIGHT)")
        super().__post_init__()


@dataclass(frozen=True)
class DeepMIGHT(_TargetMixin):
    """A deep hierarchical target: ``L = len(eps) + 1`` levels, eps decreasing (module docs).

    Parameters
    ----------
    d : int
        Input dimension (``>= 2``).
    eps : sequence of float
        ``1 > eps_1 > eps_2 > ... > 0``.
    polys : sequence of sequences of float, optional
        The ``c_k`` of the polynomial of each level ``2 .. L`` (``len(eps)`` of them; default
        ``He_2 + He_3`` everywhere).
    n_branches : int
        ``r``, the number of top features.
    link, link_scale, weights, hermite, rounding
        As in :class:`MIGHT`.
    standardise : bool
        Divide the intermediate levels by their Gaussian standard deviation (module docs).

    Examples
    --------
    >>> DeepMIGHT(d=256, eps=(0.5, 0.25)).level_sizes
    (16, 4, 1)
    """

    d: int
    eps: tuple[float, ...] = (0.5, 0.25)
    polys: tuple[tuple[float, ...], ...] | None = None
    n_branches: int = 1
    link: str = "tanh"
    link_scale: float = 3.0
    weights: str = "sign"
    hermite: str = "factorial"
    rounding: str = "floor"
    standardise: bool = True

    def __post_init__(self):
        _check_common(self)
        if isinstance(self.eps, (str, bytes)) or not isinstance(self.eps, Sequence):
            raise TypeError(f"`eps` must be a sequence of floats, got {type(self.eps).__name__}")
        eps = tuple(check_real(e, "eps", min=0.0, max=1.0, min_inclusive=False,
                               max_inclusive=False) for e in self.eps)
        if not eps or any(a <= b for a, b in zip(eps, eps[1:])):
            raise ValueError(f"`eps` must be non-empty and strictly decreasing, got {eps}")
        object.__setattr__(self, "eps", eps)
        polys = self.polys if self.polys is not None else (_RUNNING_POLY,) * len(eps)
        if len(polys) != len(eps):
            raise ValueError(f"`polys` needs {len(eps)} polynomials (one per level above the "
                             f"first), got {len(polys)}")
        object.__setattr__(self, "polys", tuple(
            tuple(float(v) for v in hermite_series(p, "probabilists")) for p in polys))
        object.__setattr__(self, "n_branches", check_int(self.n_branches, "n_branches", min=1))
        if not isinstance(self.standardise, (bool, np.bool_)):
            raise TypeError("`standardise` must be a bool")
        t = self._tree()
        if t.sizes[0] > self.d:
            raise ValueError(f"the tree needs D_1 = {t.sizes[0]} > d = {self.d} directions")

    @property
    def degrees(self) -> tuple[int, ...]:
        """The degree of the polynomial of each level ``2 .. L``."""
        return tuple(int(np.flatnonzero(np.asarray(p))[-1]) for p in (self.polys or ()))

    def _tree(self) -> _Tree:
        ext = self.eps + (0.0,)
        blocks = tuple(round_power(self.d, ext[i] - ext[i + 1], self.rounding)
                       for i in range(len(self.eps)))
        # the last block (eps_{L-1} - 0) takes d^{eps_{L-1}} features into one top feature
        std = tuple(bool(self.standardise) and i < len(self.eps) - 1
                    for i in range(len(self.eps)))
        return _Tree(d=self.d, blocks=blocks, n_branches=self.n_branches,
                     series=tuple(hermite_series(p, self.hermite) for p in (self.polys or ())),
                     standardise=std, link=self.link, link_scale=self.link_scale,
                     weights=self.weights)


@dataclass(frozen=True)
class HierarchicalTeacher:
    """The planted weights of a hierarchical target: ``wstar`` (``D_1 x d``, orthonormal rows)
    and ``a[l]`` (``D_{l+2} x b_{l+2}``, the weights of level ``l + 2``)."""

    model: object
    tree: _Tree = field(repr=False)
    wstar: np.ndarray = field(repr=False)
    a: tuple[np.ndarray, ...] = field(repr=False)

    def features(self, x) -> list[np.ndarray]:
        """The features ``[h_1 = W* x, h_2, ..., h_L]`` (each ``n x D_l``) of the inputs ``x``.

        Parameters
        ----------
        x : array_like, shape (n, d)

        Returns
        -------
        list of numpy.ndarray
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.tree.d:
            raise ValueError(f"`x` must have shape (n, {self.tree.d}), got {x.shape}")
        hs = [x @ self.wstar.T]
        for series, a, std in zip(self.tree.series, self.a, self.tree.standardise):
            size, b = a.shape
            pz = hermite_e.hermeval(hs[-1], series).reshape(x.shape[0], size, b)
            h = np.einsum("nmb,mb->nm", pz, a) / np.sqrt(b)
            if std:
                h /= np.sqrt(_poly_variance(series))
            hs.append(h)
        return hs

    def link(self, h) -> np.ndarray:
        """``f* = sum_m g(h_{L, m})/sqrt(r)`` of the top features ``h`` (``n x r``)."""
        h = np.asarray(h, dtype=np.float64)
        t = self.tree
        g = np.tanh(t.link_scale * h) if t.link == "tanh" else t.link_scale * h
        return g.sum(axis=1) / np.sqrt(h.shape[1])

    def sample(self, n: int, seed=None) -> HierarchicalSample:
        """``n`` fresh samples ``x ~ N(0, I_d)`` with their features and labels.

        Parameters
        ----------
        n : int
        seed : int, numpy.random.Generator or None

        Returns
        -------
        HierarchicalSample
        """
        n = check_int(n, "n", min=1)
        rng = np.random.default_rng(as_seed(seed))
        x = rng.standard_normal((n, self.tree.d))
        hs = self.features(x)
        return HierarchicalSample(teacher=self, x=x, y=self.link(hs[-1]), features=hs)

    def stream(self, n: int, seed=None) -> Iterator[HierarchicalSample]:
        """Fresh batches of ``n`` samples, batch ``t`` from the seed ``(seed, t)`` (online
        stages: a batch never depends on how many were drawn before or on the threads).

        Parameters
        ----------
        n : int
        seed : int, numpy.random.Generator or None

        Yields
        ------
        HierarchicalSample
        """
        n = check_int(n, "n", min=1)
        s = as_seed(seed)
        t = 0
        while True:
            yield self.sample(n, spawn(s, t))
            t += 1


@dataclass(frozen=True)
class HierarchicalSample:
    """``n`` samples of a hierarchical target: ``x`` (``n x d``), labels ``y`` (``n``) and the
    features of every level ``features[l]`` (``n x D_{l+1}``; ``features[0] = x W*^T``,
    ``features[-1]`` the top ``h*``)."""

    teacher: HierarchicalTeacher = field(repr=False)
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    features: list[np.ndarray] = field(repr=False)

    @property
    def wstar(self) -> np.ndarray:
        """``W*`` (``D_1 x d``)."""
        return self.teacher.wstar

    @property
    def hstar(self) -> np.ndarray:
        """The level-2 features ``h*`` (``n x D_2``; the target of the second layer)."""
        return self.features[1]
