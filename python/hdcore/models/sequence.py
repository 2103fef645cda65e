"""Sequence single-index models and single-layer tied attention (Arnaboldi, Loureiro, Stephan,
Krzakala & Zdeborova, "Asymptotics of SGD in Sequence-Single Index Models and Single-Layer
Attention Networks", arXiv:2506.02651, Sec. 2).

Normalisations (the paper's, from the authors' code):

* a sample is ``L`` tokens ``x_l ~ N(0, I_d/d)`` (``||x_l|| ~ 1``);
* the teacher direction has ``||w*||^2 = d`` exactly, so ``z*_l = x_l . w*`` are i.i.d. N(0, 1)
  and ``y = f*(z*_1, ..., z*_L)`` (+ optional label noise);
* positional encodings ``x~_l = x_l + s_l p/sqrt(d)`` with a unit ``p`` orthogonal to ``w*``
  (``positional="opposite"``: ``s = (+1, -1)``, L = 2, the paper's "opposite paired" encoding);
  only the student sees them (the teacher is blind to ``p`` since ``p . w* = 0``);
* order parameters: semantic overlap ``m = w . w*/d`` and positional overlap
  ``e = w . p/sqrt(d)``; on the sphere ``||w||^2 = d``: ``m^2 + e^2 <= 1``;
* attention logits ``z_i z_j`` are O(1) (no ``1/sqrt(d)``).

Students (the output depends on the input only through the projections ``z_l``):

* :class:`SSIStudent` ``f(z)`` with ``z_l = x~_l . w`` (the teacher's form);
* :class:`TiedStudent` ``sigma(sum_l z_l / sqrt(L))``;
* :class:`UntiedStudent` ``sigma(<W, vec(x)>/sqrt(L))``, ``z_l = x_l . W_l`` (``W`` is
  ``L x d``, normalised as a whole to ``||W||^2 = L d`` by spherical SGD, as in the authors' code);
* :class:`AttentionStudent` ``softmax_row(z z^T)``, optionally read out as ``Tr(S)/sqrt(L)`` or
  ``a^T S b``.

Losses (:data:`LOSSES`): ``"squared"`` = ``||y - yhat||^2/2`` (the paper's analytic population
loss), ``"mse"`` = ``||y - yhat||^2/n_out`` (PyTorch ``MSELoss``, the authors' SGD for scalar
outputs) and ``"frobenius"`` = ``||y - yhat||`` unsquared (the authors' SGD for attention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np

from hdcore import _core
from hdcore._validation import as_array, check_choice, check_int, check_real
from hdcore.ingredients.activations import (
    Activation,
    AttentionTarget,
    ScalarTarget,
    Target,
    get_activation,
    get_target,
    softmax_rows,
)
from hdcore.random import as_seed, spawn

__all__ = [
    "LOSSES",
    "AttentionStudent",
    "SSIStudent",
    "SequenceSample",
    "SequenceSingleIndex",
    "Student",
    "TiedStudent",
    "UntiedStudent",
    "get_student",
    "loss_and_grad",
]

LOSSES = ("squared", "mse", "frobenius")


def _positional(positional, L: int):
    if positional is None:
        return None
    if isinstance(positional, str):
        if positional != "opposite":
            raise ValueError(f"`positional` must be None, 'opposite' or {L} coefficients, "
                             f"got {positional!r}")
        if L != 2:
            raise ValueError(f"`positional='opposite'` needs L = 2, got L = {L}")
        s = np.array([1.0, -1.0])
    else:
        s = as_array(positional, "positional", ndim=1, shape=(L,))
    s.setflags(write=False)
    return s


@dataclass(frozen=True)
class SequenceSingleIndex:
    """Sequence single-index model ``y = f*(x w*)`` (or the attention teacher).

    Parameters
    ----------
    d : int
        Dimension of a token.
    L : int
        Sequence length.
    target : str or Target
        A built-in name (see :class:`~hdcore.ingredients.activations.ScalarTarget`) or
        ``"attention"``; keyword arguments for it go in ``target_kw``.
    positional : None, "opposite" or array of L coefficients
        Positional coefficients ``s`` (``x~_l = x_l + s_l p/sqrt(d)``, seen by the student).
    noise : float
        Standard deviation of Gaussian label noise added to every output entry.
    target_kw : dict
        E.g. ``{"omega": 0.3, "a": 1.0}`` for the attention teacher, ``{"scale": 0.5}``.

    Examples
    --------
    >>> model = SequenceSingleIndex(d=1000, L=2, target="z1z2")
    >>> SequenceSingleIndex(d=1000, L=2, target="attention", positional="opposite",
    ...                     target_kw={"omega": 0.4}).target.omega
    0.4
    """

    d: int
    L: int
    target: Target | str
    positional: np.ndarray | str | None = field(default=None)
    noise: float = 0.0
    target_kw: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "d", check_int(self.d, "d", min=1))
        object.__setattr__(self, "L", check_int(self.L, "L", min=1))
        object.__setattr__(self, "noise", check_real(self.noise, "noise", min=0.0))
        target = get_target(self.target, **dict(self.target_kw))
        if self.L < target.min_len:
            raise ValueError(f"`L` must be >= {target.min_len} for target {target.name!r}, "
                             f"got {self.L}")
        if isinstance(target, AttentionTarget) and target.A.shape[0] != self.L:
            raise ValueError(f"`L` = {self.L} does not match the {target.A.shape[0]} x "
                             f"{target.A.shape[0]} positional matrix of the attention target")
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "positional", _positional(self.positional, self.L))

    @property
    def _target(self) -> Target:
        # `target` is a Target after __post_init__ (a name is resolved there)
        return cast(Target, self.target)

    @property
    def n_out(self) -> int:
        """Output entries per sample (1, or ``L^2`` for the attention teacher)."""
        return self._target.n_out(self.L)

    def spec(self) -> dict:
        """The model's part of the Rust problem description."""
        s = {"L": self.L, "noise": self.noise, **self._target.spec()}
        if self.positional is not None:
            s["positional"] = [float(v) for v in self.positional]
        return s

    def teacher(self, seed=0, run: int = 0, *, n_threads: int | None = None):
        """``(w*, p)`` of run ``run`` of :func:`hdcore.algorithms.online_sgd` with this seed
        (``p`` is empty without positional encoding)."""
        return _core.sgd_teacher(self.d, as_seed(seed), check_int(run, "run", min=0),
                                 self.positional is not None, n_threads=n_threads)

    def sample(self, n: int, seed=0, *, run: int = 0, n_threads: int | None = None) -> SequenceSample:
        """Draw ``n`` sequences with the teacher of run ``run`` (for tests and Monte Carlo;
        online SGD never stores samples).

        Returns
        -------
        SequenceSample
            ``x`` of shape ``(n, L, d)``, noiseless-or-noisy ``y`` of shape ``(n, n_out)``.
        """
        n = check_int(n, "n", min=1)
        s = as_seed(seed)
        w_star, p = self.teacher(s, run, n_threads=n_threads)
        rng = np.random.default_rng(spawn(s, run, 1))
        x = rng.standard_normal((n, self.L, self.d)) / np.sqrt(self.d)
        zs = x @ w_star
        y = self._target(zs)
        if self.noise > 0:
            y = y + self.noise * rng.standard_normal(y.shape)
        return SequenceSample(model=self, x=x, y=y, teacher=w_star, positional=p)


@dataclass(frozen=True)
class SequenceSample:
    """Sequences ``x`` (``n x L x d``), labels ``y`` (``n x n_out``), the teacher ``w*`` and the
    unit positional direction ``p``."""

    model: SequenceSingleIndex
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    teacher: np.ndarray = field(repr=False)
    positional: np.ndarray = field(repr=False)

    def projections(self, w: np.ndarray) -> np.ndarray:
        """Student projections ``z`` (``n x L``) of weights ``w`` (tied: ``(d,)``, untied:
        ``(L, d)``), including the positional term for tied weights."""
        w = np.asarray(w, dtype=np.float64)
        if w.ndim == 2:
            return np.einsum("nld,ld->nl", self.x, w)
        z = self.x @ w
        if self.model.positional is not None:
            e = float(w @ self.positional) / np.sqrt(self.model.d)
            z = z + self.model.positional * e
        return z


class Student:
    """Base class of students: ``output(z)`` maps projections ``(..., L)`` to
    ``(..., n_out)``, ``backprop(z, r)`` maps ``r = d loss / d output`` to ``d loss / d z``."""

    kind: str = ""
    untied: bool = False

    def n_out(self, L: int) -> int:
        return 1

    def output(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backprop(self, z: np.ndarray, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def spec(self, model: SequenceSingleIndex) -> dict:
        raise NotImplementedError


@dataclass(frozen=True)
class SSIStudent(Student):
    """``yhat = f(z)`` with a scalar link function (default: the teacher's)."""

    function: ScalarTarget | str | None = None
    kind: str = "ssi"

    def __post_init__(self):
        if self.function is not None and not isinstance(self.function, ScalarTarget):
            object.__setattr__(self, "function", ScalarTarget(self.function))

    def resolve(self, model: SequenceSingleIndex) -> SSIStudent:
        if self.function is not None:
            return self
        if not isinstance(model.target, ScalarTarget):
            raise TypeError("the SSI student needs a scalar function (give `function`)")
        return SSIStudent(model.target)

    def output(self, z):
        return self.function(z)

    def backprop(self, z, r):
        return r[..., :1] * self.function.grad(z)

    def spec(self, model):
        f = self.resolve(model).function
        return {"student": "ssi", "student_function": f.name, "student_scale": f.scale}


@dataclass(frozen=True)
class TiedStudent(Student):
    """Tied network ``sigma(sum_l x~_l . w / sqrt(L))``."""

    activation: Activation | str = "identity"
    kind: str = "tied"

    def __post_init__(self):
        object.__setattr__(self, "activation", get_activation(self.activation))

    def output(self, z):
        return self.activation(z.sum(-1) / np.sqrt(z.shape[-1]))[..., None]

    def backprop(self, z, r):
        L = z.shape[-1]
        c = r[..., 0] * self.activation.deriv(z.sum(-1) / np.sqrt(L)) / np.sqrt(L)
        return np.repeat(c[..., None], L, axis=-1)

    def spec(self, model):
        return {"student": self.kind, "activation": self.activation.name}


@dataclass(frozen=True)
class UntiedStudent(TiedStudent):
    """Untied network ``sigma(<W, vec(x)>/sqrt(L))`` (``W`` is ``L x d``)."""

    kind: str = "untied"
    untied: bool = True


@dataclass(frozen=True)
class AttentionStudent(Student):
    """Single-layer tied attention ``S = softmax_row(z z^T)`` with ``z_l = x~_l . w``.

    Parameters
    ----------
    readout : {"matrix", "trace", "bilinear"}
        Output ``S`` itself, ``Tr(S)/sqrt(L)`` or ``a^T S b``.
    a, b : arrays of length L
        Read-out vectors of ``"bilinear"``.
    """

    readout: str = "matrix"
    a: np.ndarray | None = field(default=None, repr=False)
    b: np.ndarray | None = field(default=None, repr=False)
    kind: str = "attention"

    def __post_init__(self):
        check_choice(self.readout, "readout", ("matrix", "trace", "bilinear"))
        if self.readout == "bilinear":
            if self.a is None or self.b is None:
                raise ValueError("the bilinear read-out needs `a` and `b`")
            object.__setattr__(self, "a", as_array(self.a, "a", ndim=1))
            object.__setattr__(self, "b", as_array(self.b, "b", ndim=1))

    def n_out(self, L):
        return L * L if self.readout == "matrix" else 1

    def output(self, z, S=None):
        S = softmax_rows(z) if S is None else S
        L = z.shape[-1]
        if self.readout == "matrix":
            return S.reshape(*z.shape[:-1], L * L)
        if self.readout == "trace":
            return (np.trace(S, axis1=-2, axis2=-1) / np.sqrt(L))[..., None]
        return np.einsum("i,...ij,j->...", self.a, S, self.b)[..., None]

    def backprop(self, z, r, S=None):
        S = softmax_rows(z) if S is None else S
        L = z.shape[-1]
        if self.readout == "matrix":
            G = r.reshape(*z.shape[:-1], L, L)
        elif self.readout == "trace":
            G = r[..., 0, None, None] * np.eye(L) / np.sqrt(L)
        else:
            G = r[..., 0, None, None] * np.outer(self.a, self.b)
        D = S * (G - (G * S).sum(-1, keepdims=True))  # d loss / d logit_ik
        return np.einsum("...ik,...k->...i", D, z) + np.einsum("...ik,...i->...k", D, z)

    def spec(self, model):
        s = {"student": "attention", "readout": self.readout}
        if self.readout == "bilinear":
            s["readout_a"] = [float(v) for v in self.a]
            s["readout_b"] = [float(v) for v in self.b]
        return s


def get_student(student, model: SequenceSingleIndex) -> Student:
    """A student from an object or a name (``"ssi"``, ``"tied"``, ``"untied"``,
    ``"attention"``; networks default to the identity activation)."""
    if isinstance(student, str):
        table = {"ssi": SSIStudent, "tied": TiedStudent, "untied": UntiedStudent,
                 "attention": AttentionStudent}
        if student not in table:
            raise ValueError(f"unknown `student` {student!r}; expected one of {tuple(table)}")
        student = table[student]()
    if not isinstance(student, Student):
        raise TypeError(f"`student` must be a Student or a name, got {type(student).__name__}")
    if isinstance(student, SSIStudent):
        student = student.resolve(model)
        if model.L < student.function.min_len:
            raise ValueError(f"`L` = {model.L} is too short for the student function "
                             f"{student.function.name!r}")
    if student.n_out(model.L) != model.n_out:
        raise ValueError(f"`student` outputs {student.n_out(model.L)} values per sample but the "
                         f"target outputs {model.n_out}")
    if student.untied and model.positional is not None:
        raise ValueError("`positional`: the untied student takes no positional encoding")
    if (isinstance(student, AttentionStudent) and student.readout == "bilinear"
            and (student.a is None or student.b is None
                 or student.a.shape != (model.L,) or student.b.shape != (model.L,))):
        raise ValueError(f"read-out vectors `a`, `b` must have length L = {model.L}")
    return student


def loss_and_grad(model: SequenceSingleIndex, student: Student, zs, z, loss: str = "squared",
                  y=None):
    """Per-sample loss and ``d loss / d z`` (NumPy mirror of the Rust kernel).

    Parameters
    ----------
    zs, z : arrays (..., L)
        Teacher and student projections.
    loss : {"squared", "mse", "frobenius"}
    y : array (..., n_out), optional
        ``model.target(zs)`` if already known (quadratures reuse it along a trajectory).

    Returns
    -------
    (loss, grad) : arrays of shapes ``(...)`` and ``(..., L)``.
    """
    check_choice(loss, "loss", LOSSES)
    y = model._target(zs) if y is None else y
    S = softmax_rows(z) if isinstance(student, AttentionStudent) else None
    yhat = student.output(z, S) if isinstance(student, AttentionStudent) else student.output(z)
    r = yhat - y
    sq = (r * r).sum(-1)
    n = r.shape[-1]
    if loss == "squared":
        val = 0.5 * sq
    elif loss == "mse":
        val = sq / n
        r = r * (2.0 / n)
    else:
        val = np.sqrt(sq)
        r = r * np.where(val > 0, 1.0 / np.where(val > 0, val, 1.0), 0.0)[..., None]
    grad = (student.backprop(z, r, S) if isinstance(student, AttentionStudent)
            else student.backprop(z, r))
    return val, grad
