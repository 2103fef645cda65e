"""Activations and sequence targets of online SGD (Arnaboldi et al., arXiv:2506.02651).

One definition serves the Rust simulation and the theory: each object carries the name the Rust
kernel knows it by (``hdcore._core.sgd_*``) and a vectorised NumPy evaluation used by the
Gaussian quadratures of :mod:`hdcore.theory.sgd`. ``tests/test_sgd_functions.py`` checks that
both agree.

Targets are functions of the teacher's token projections ``z* = (x_1.w*, ..., x_L.w*)`` (i.i.d.
N(0, 1)); NumPy evaluations take arrays of shape ``(..., L)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore._validation import as_array, check_real

__all__ = [
    "ACTIVATIONS",
    "TARGETS",
    "Activation",
    "AttentionTarget",
    "ScalarTarget",
    "Target",
    "get_activation",
    "get_target",
    "positional_semantic_matrix",
    "softmax_rows",
]

_S = 1.0 / np.sqrt(2.0)


@dataclass(frozen=True)
class Activation:
    """A pointwise activation ``sigma`` with its derivative.

    Parameters
    ----------
    name : str
        One of ``identity``, ``relu``, ``tanh``, ``sigmoid``, ``square``, ``he2``
        (``he2(x) = (x^2 - 1)/sqrt(2)``).
    """

    name: str

    def __post_init__(self):
        if self.name not in _ACT:
            raise ValueError(f"unknown activation {self.name!r}; expected one of {tuple(_ACT)}")

    def __call__(self, x):
        return _ACT[self.name][0](np.asarray(x, dtype=np.float64))

    def deriv(self, x):
        """``sigma'(x)``."""
        return _ACT[self.name][1](np.asarray(x, dtype=np.float64))


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


_ACT = {
    "identity": (lambda x: x, lambda x: np.ones_like(x)),
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(np.float64)),
    "tanh": (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))),
    "square": (lambda x: x * x, lambda x: 2.0 * x),
    "he2": (lambda x: (x * x - 1.0) * _S, lambda x: np.sqrt(2.0) * x),
}

ACTIVATIONS = tuple(_ACT)


def get_activation(act) -> Activation:
    """An :class:`Activation` from a name or an Activation."""
    if isinstance(act, Activation):
        return act
    if isinstance(act, str):
        return Activation(act)
    raise TypeError(f"`activation` must be a name or an Activation, got {type(act).__name__}")


class Target:
    """Base class of sequence targets. Subclasses define ``n_out(L)``, ``min_len`` and
    ``__call__(z)`` mapping ``(..., L)`` to ``(..., n_out)``."""

    min_len: int = 1
    name: str = ""

    def n_out(self, L: int) -> int:
        raise NotImplementedError

    def __call__(self, z) -> np.ndarray:
        raise NotImplementedError

    def spec(self) -> dict:
        """The entries of the Rust problem description."""
        raise NotImplementedError


def _grad_first(z):
    g = np.zeros_like(z)
    g[..., 0] = 1.0
    return g


_FUN = {
    # name: (min_len, value, gradient, largest degree in any single variable)
    "sum": (1, lambda z: z.sum(-1), lambda z: np.ones_like(z), 1),
    "mean": (1, lambda z: z.mean(-1), lambda z: np.ones_like(z) / z.shape[-1], 1),
    "z1": (1, lambda z: z[..., 0], _grad_first, 1),
    "z1z2": (2, lambda z: z[..., 0] * z[..., 1],
             lambda z: _put(z, {0: z[..., 1], 1: z[..., 0]}), 1),
    "he2sum": (1, lambda z: ((z * z - 1.0) * _S).sum(-1), lambda z: np.sqrt(2.0) * z, 2),
    "z1z2z3": (3, lambda z: z[..., 0] * z[..., 1] * z[..., 2],
               lambda z: _put(z, {0: z[..., 1] * z[..., 2], 1: z[..., 0] * z[..., 2],
                                  2: z[..., 0] * z[..., 1]}), 1),
    "staircase2": (2, lambda z: z[..., 0] + z[..., 0] * z[..., 1],
                   lambda z: _put(z, {0: 1.0 + z[..., 1], 1: z[..., 0]}), 1),
    "staircase3": (3, lambda z: z[..., 0] * (1.0 + z[..., 1] + z[..., 1] * z[..., 2]),
                   lambda z: _put(z, {0: 1.0 + z[..., 1] + z[..., 1] * z[..., 2],
                                      1: z[..., 0] * (1.0 + z[..., 2]),
                                      2: z[..., 0] * z[..., 1]}), 1),
    "difference": (2, lambda z: z[..., 0] - z[..., 1],
                   lambda z: _put(z, {0: np.ones(z.shape[:-1]), 1: -np.ones(z.shape[:-1])}), 1),
    "he2difference": (2, lambda z: (z[..., 0] ** 2 - z[..., 1] ** 2) * _S,
                      lambda z: _put(z, {0: np.sqrt(2.0) * z[..., 0],
                                         1: -np.sqrt(2.0) * z[..., 1]}), 2),
}


def _put(z, cols: dict):
    g = np.zeros_like(z)
    for k, v in cols.items():
        g[..., k] = v
    return g


@dataclass(frozen=True)
class ScalarTarget(Target):
    """``y = scale * f(z)`` with a built-in link function ``f``.

    Built-ins (SIE = sequence information exponent, :func:`hdcore.theory.sgd.sequence_information_exponent`):
    ``sum`` (1), ``mean`` (1), ``z1`` (1), ``z1z2`` (2), ``he2sum`` = sum_l (z_l^2 - 1)/sqrt 2 (2),
    ``z1z2z3`` (3), ``staircase2`` = z1 + z1 z2 (1), ``staircase3`` = z1 + z1 z2 + z1 z2 z3 (1),
    ``difference`` = z1 - z2 (1), ``he2difference`` = (z1^2 - z2^2)/sqrt 2 (2).
    """

    name: str
    scale: float = 1.0

    def __post_init__(self):
        if self.name not in _FUN:
            raise ValueError(f"unknown target {self.name!r}; expected one of "
                             f"{tuple(_FUN) + ('attention',)}")
        object.__setattr__(self, "scale", check_real(self.scale, "scale"))

    @property
    def min_len(self) -> int:  # type: ignore[override]
        return _FUN[self.name][0]

    @property
    def variable_degree(self) -> int:
        """Largest polynomial degree in any single variable (what tensor Gauss-Hermite
        quadrature needs: ``n`` nodes per axis integrate degree ``2n - 1`` exactly)."""
        return _FUN[self.name][3]

    def n_out(self, L: int) -> int:
        return 1

    def __call__(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        return (self.scale * _FUN[self.name][1](z))[..., None]

    def grad(self, z) -> np.ndarray:
        """``d f / d z`` with the shape of ``z``."""
        z = np.asarray(z, dtype=np.float64)
        return self.scale * _FUN[self.name][2](z)

    def spec(self) -> dict:
        return {"target": self.name, "target_scale": self.scale}


def softmax_rows(z) -> np.ndarray:
    """``softmax_row(z z^T)`` for ``z`` of shape ``(..., L)``: shape ``(..., L, L)``."""
    z = np.asarray(z, dtype=np.float64)
    logits = z[..., :, None] * z[..., None, :]
    logits = logits - logits.max(-1, keepdims=True)
    ex = np.exp(logits)
    return ex / ex.sum(-1, keepdims=True)


def positional_semantic_matrix(a: float) -> np.ndarray:
    """The positional matrix of the paper's L = 2 teacher: ``softmax_row([[a^2, -a^2],
    [-a^2, a^2]])`` (arXiv:2506.02651, Sec. 4; the authors' ``pre_softmax_A``)."""
    a = check_real(a, "a")
    pre = np.array([[a * a, -a * a], [-a * a, a * a]])
    ex = np.exp(pre - pre.max(-1, keepdims=True))
    return ex / ex.sum(-1, keepdims=True)


@dataclass(frozen=True)
class AttentionTarget(Target):
    """Positional-semantic attention teacher ``T = (1 - omega) softmax_row(z* z*^T) + omega A``
    (arXiv:2506.02651, Sec. 4). The logits ``z*_i z*_j`` are O(1): no ``1/sqrt(d)``.

    Parameters
    ----------
    omega : float in [0, 1]
        Weight of the positional part.
    A : array (L, L) or None
        Row-stochastic positional matrix; ``None`` means :func:`positional_semantic_matrix` of
        ``a`` (L = 2).
    a : float
        Parameter of the default ``A``.
    """

    omega: float
    A: np.ndarray | None = field(default=None, repr=False)
    a: float = 1.0
    name: str = "attention"

    def __post_init__(self):
        object.__setattr__(self, "omega", check_real(self.omega, "omega", min=0.0, max=1.0))
        A = positional_semantic_matrix(self.a) if self.A is None else self.A
        A = as_array(A, "A", ndim=2)
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"`A` must be square, got shape {A.shape}")
        if (A < 0).any() or not np.allclose(A.sum(1), 1.0):
            raise ValueError("`A` must be row-stochastic (non-negative rows summing to 1)")
        A.setflags(write=False)
        object.__setattr__(self, "A", A)

    @property
    def _matrix(self) -> np.ndarray:
        # `A` is None only before `__post_init__` has filled in the default
        assert self.A is not None
        return self.A

    @property
    def min_len(self) -> int:  # type: ignore[override]
        return self._matrix.shape[0]

    def n_out(self, L: int) -> int:
        return L * L

    def __call__(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        L = z.shape[-1]
        A = self._matrix
        if L != A.shape[0]:
            raise ValueError(f"the attention target has L = {A.shape[0]}, got {L} tokens")
        T = (1.0 - self.omega) * softmax_rows(z) + self.omega * A
        return T.reshape(*z.shape[:-1], L * L)

    def spec(self) -> dict:
        return {"target": "attention", "omega": self.omega,
                "a_matrix": [float(v) for v in self._matrix.ravel()]}


TARGETS = tuple(_FUN) + ("attention",)


def get_target(target, **kw) -> Target:
    """A :class:`Target` from a name (``"attention"`` takes ``omega`` and ``a``/``A``) or a
    Target."""
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        if target == "attention":
            return AttentionTarget(**kw)
        return ScalarTarget(target, **kw)
    raise TypeError(f"`target` must be a name or a Target, got {type(target).__name__}")
