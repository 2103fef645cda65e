"""Two-layer networks after one giant gradient step, and their spiked-random-features surrogate
(Cui, Pesce, Dandi, Krzakala, Lu, Zdeborova & Loureiro, arXiv:2402.04980, Sec. 2 and the
authors' code SPOC-group/OneStepGD_asymptotics; Dandi, Pesce, Cui, Krzakala, Lu & Loureiro,
arXiv:2410.18938).

Network (:class:`OneStepNetwork`): inputs ``x ~ N(0, I_d)``, single-index teacher
``y = sigma*(<theta*, x>) + sqrt(noise) xi`` with ``||theta*|| = 1``; student
``f(x) = a^T sigma(W x)/sqrt(p)`` with the rows of ``W0`` uniform on the unit sphere and
``a0 = 1_p/sqrt(p)``. One gradient step on the square loss ``(1/2n0) sum (y - f)^2`` with a
fresh batch of ``n0 = alpha0 d`` samples, in the **maximal learning-rate scaling**::

    G  = (1/n0) X^T [ ((y - f(X))/sqrt(p) a0^T) (.) sigma'(X W0^T) ]     (d x p)
    W1 = W0 + eta sqrt(p) G^T,      eta = eta_tilde sqrt(p)

so that, with ``a0 = 1/sqrt(p)``, ``W1 = W0 + (eta_tilde/n0) sum_mu r_mu sigma'(W0 x_mu) x_mu^T``
(``r = y - f(X)``): the update carries a rank-one spike of operator norm ``O(sqrt(p))``, i.e.
``O(1)`` per row, comparable to the rows of ``W0`` (``eta_tilde`` is ``lr_strength`` of the
authors' ``Simulations.ipynb``). The second layer is then refitted by ridge on fresh data
(:func:`hdcore.algorithms.ridge_readout`).

Surrogate (:class:`SpikedRandomFeatures`): features ``sigma(sqrt(c) W0 x + r kappa(x) 1_p)`` with
``kappa(x) = <v, x>`` (``||v|| = 1``, so ``kappa ~ N(0, 1)``) and the teacher partially aligned
with the spike, ``theta* = gamma v + sqrt(1 - gamma^2) zeta``, ``zeta`` a unit vector orthogonal
to ``v``. From the network (the authors' ``theory.ipynb``, "Computing sRF parameters")::

    r     = eta_tilde mu1 sqrt(mu2*/alpha0 + mu1*^2)
    c     = 1 + eta_tilde^2 mu2* s/alpha0
    gamma = mu1* / sqrt(mu2*/alpha0 + mu1*^2)

with ``mu1 = E z sigma(z)``, ``mu1* = E z sigma*(z)``, ``mu2* = E sigma*(z)^2``,
``s = E (sigma'(z) - mu1)^2`` (:mod:`hdcore.ingredients.hermite`). With label noise, ``mu2*`` is
replaced by ``mu2* + noise`` (the second moment of the labels; derived here, the authors'
code has no label noise). The sample exposes the empirical spike ``X^T r/n0`` of the step, whose
norm and overlap with ``theta*`` are ``sqrt(mu2*/alpha0 + mu1*^2)`` and ``gamma`` in the limit
(derived here from the law of large numbers; neglects the network's output ``f(X)`` at
initialisation, ``O(p^-1/2)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._validation import check_choice, check_int, check_real
from hdcore.ingredients.hermite import FUNCTIONS, hermite_coefficients
from hdcore.random import as_seed, spawn

__all__ = ["OneStepNetwork", "OneStepSample", "SpikedRandomFeatures",
           "SpikedRandomFeaturesSample"]

_SECOND_LAYERS = ("constant",)


def _common(obj) -> None:
    object.__setattr__(obj, "d", check_int(obj.d, "d", min=1))
    object.__setattr__(obj, "p", check_int(obj.p, "p", min=1))
    object.__setattr__(obj, "activation", check_choice(obj.activation, "activation", FUNCTIONS))
    object.__setattr__(obj, "target", check_choice(obj.target, "target", FUNCTIONS))
    object.__setattr__(obj, "noise", check_real(obj.noise, "noise", min=0.0))


@dataclass(frozen=True)
class OneStepNetwork:
    """A two-layer network trained by one giant gradient step on its first layer (module docs).

    Parameters
    ----------
    d : int
        Input dimension.
    p : int
        Width (number of hidden units).
    alpha0 : float
        Batch size of the step per dimension, ``n0 = round(alpha0 d) >= 1``.
    eta : float
        The rescaled learning rate ``eta_tilde`` (``>= 0``): ``eta = eta_tilde sqrt(p)`` and
        ``W1 = W0 + eta sqrt(p) G^T`` (module docs). ``0`` leaves ``W1 = W0`` (random features).
    activation : str
        Student activation ``sigma``: ``tanh``, ``relu``, ``sin``, ``erf``, ``linear``, ``he2``.
    target : str
        Teacher function ``sigma*`` (same names).
    noise : float
        Label-noise variance of the training labels (test errors use noiseless labels).
    second_layer : str
        ``"constant"``: ``a0 = 1_p/sqrt(p)`` (the only choice so far).

    Examples
    --------
    >>> model = OneStepNetwork(d=64, p=64, alpha0=4.0, eta=1.0)
    >>> sample = model.sample(seed=0)
    >>> sample.w1.shape, model.n0
    ((64, 64), 256)
    """

    d: int
    p: int
    alpha0: float
    eta: float
    activation: str = "tanh"
    target: str = "sin"
    noise: float = 0.0
    second_layer: str = "constant"

    def __post_init__(self):
        _common(self)
        object.__setattr__(self, "alpha0", check_real(self.alpha0, "alpha0", min=0.0,
                                                      min_inclusive=False))
        object.__setattr__(self, "eta", check_real(self.eta, "eta", min=0.0))
        check_choice(self.second_layer, "second_layer", _SECOND_LAYERS)
        if self.n0 < 1:
            raise ValueError(f"`alpha0` * `d` must give at least one sample, got alpha0="
                             f"{self.alpha0}, d={self.d}")

    @property
    def n0(self) -> int:
        """Batch size of the giant step."""
        return int(round(self.alpha0 * self.d))

    @property
    def a0(self) -> np.ndarray:
        """The second layer ``1_p/sqrt(p)``."""
        return np.full(self.p, 1.0 / np.sqrt(self.p))

    def spike_prediction(self) -> tuple[float, float]:
        """``(|X^T r/n0|, <X^T r/n0, theta*>/|X^T r/n0|) -> (sqrt(mu2*/alpha0 + mu1*^2), gamma)``
        (module docs)."""
        t = hermite_coefficients(self.target)
        norm = float(np.sqrt((t.mu2 + self.noise) / self.alpha0 + t.mu1 ** 2))
        return norm, t.mu1 / norm

    def sample(self, seed=None, *, n_threads: int | None = None) -> OneStepSample:
        """Draw ``W0``, ``theta*`` and a fresh batch, and take the giant step; the same seed
        gives the same sample for any number of threads.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
        n_threads : int, optional

        Returns
        -------
        OneStepSample
        """
        s = as_seed(seed)
        w0, theta = _core.two_layer_init(self.p, self.d, spawn(s, 0), n_threads=n_threads)
        a0 = self.a0
        if self.eta == 0.0:
            w1, spike = w0.copy(), np.zeros(self.d)
        else:
            w1, spike = _core.one_step_step(w0, a0, theta, self.n0, self.eta, self.activation,
                                            self.target, self.noise, spawn(s, 1),
                                            n_threads=n_threads)
        return OneStepSample(model=self, w0=w0, w1=w1, a0=a0, theta=theta, spike=spike)


@dataclass(frozen=True)
class OneStepSample:
    """A draw of :class:`OneStepNetwork`: first layer before (``w0``) and after (``w1``) the step
    (``p x d``), second layer ``a0``, teacher ``theta`` (unit) and the empirical spike
    ``spike = X^T r/n0`` (``d``; zeros when ``eta = 0``, where the step is skipped)."""

    model: OneStepNetwork
    w0: np.ndarray = field(repr=False)
    w1: np.ndarray = field(repr=False)
    a0: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
    spike: np.ndarray = field(repr=False)

    @property
    def spike_norm(self) -> float:
        """``|X^T r/n0|``."""
        return float(np.linalg.norm(self.spike))

    @property
    def spike_overlap(self) -> float:
        """``<spike, theta*>/|spike|`` (the empirical ``gamma``; 0 when the spike vanishes)."""
        nrm = self.spike_norm
        return float(self.spike @ self.theta) / nrm if nrm > 0 else 0.0

    @property
    def spike_strength(self) -> float:
        """``mean_j <w1_j - w0_j, spike/|spike|>`` (the empirical ``r``)."""
        nrm = self.spike_norm
        return float(np.mean((self.w1 - self.w0) @ self.spike)) / nrm if nrm > 0 else 0.0


@dataclass(frozen=True)
class SpikedRandomFeatures:
    """The spiked-random-features surrogate ``sigma(sqrt(c) W0 x + r <v, x> 1_p)`` (module docs).

    Parameters
    ----------
    d, p : int
        Input dimension and number of features.
    r : float
        Spike strength (``>= 0``).
    c : float
        Bulk variance (``> 0``).
    gamma : float
        Overlap of the teacher with the spike direction, in ``[-1, 1]``.
    activation, target : str
        As in :class:`OneStepNetwork`.
    noise : float
        Label-noise variance of the training labels.

    Examples
    --------
    >>> net = OneStepNetwork(d=100, p=100, alpha0=20.0, eta=3.0)
    >>> srf = SpikedRandomFeatures.from_one_step(net)
    >>> round(srf.gamma, 4), round(srf.c, 4)
    (0.9691, 1.0587)
    """

    d: int
    p: int
    r: float
    c: float
    gamma: float
    activation: str = "tanh"
    target: str = "sin"
    noise: float = 0.0

    def __post_init__(self):
        _common(self)
        object.__setattr__(self, "r", check_real(self.r, "r", min=0.0))
        object.__setattr__(self, "c", check_real(self.c, "c", min=0.0, min_inclusive=False))
        object.__setattr__(self, "gamma", check_real(self.gamma, "gamma", min=-1.0, max=1.0))

    @classmethod
    def from_one_step(cls, model: OneStepNetwork) -> SpikedRandomFeatures:
        """The surrogate of a network after the giant step (``r, c, gamma`` of the module docs).

        Parameters
        ----------
        model : OneStepNetwork

        Returns
        -------
        SpikedRandomFeatures
        """
        if not isinstance(model, OneStepNetwork):
            raise TypeError(f"`model` must be a OneStepNetwork, got {type(model).__name__}")
        st, t = hermite_coefficients(model.activation), hermite_coefficients(model.target)
        m2 = t.mu2 + model.noise
        norm = np.sqrt(m2 / model.alpha0 + t.mu1 ** 2)
        return cls(d=model.d, p=model.p, r=float(model.eta * st.mu1 * norm),
                   c=float(1.0 + model.eta ** 2 * m2 * st.s / model.alpha0),
                   gamma=float(np.clip(t.mu1 / norm, -1.0, 1.0)),
                   activation=model.activation, target=model.target, noise=model.noise)

    def sample(self, seed=None, *, n_threads: int | None = None) -> SpikedRandomFeaturesSample:
        """Draw ``W0``, the spike ``v`` and ``theta*``.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
        n_threads : int, optional

        Returns
        -------
        SpikedRandomFeaturesSample
        """
        s = as_seed(seed)
        w0, _ = _core.two_layer_init(self.p, self.d, spawn(s, 0), n_threads=n_threads)
        dirs, _ = _core.two_layer_init(2, self.d, spawn(s, 2), n_threads=n_threads)
        v = dirs[0]
        zeta = dirs[1] - (dirs[1] @ v) * v
        zeta /= np.linalg.norm(zeta)
        theta = self.gamma * v + np.sqrt(max(1.0 - self.gamma ** 2, 0.0)) * zeta
        w = np.sqrt(self.c) * w0 + self.r * np.outer(np.ones(self.p), v)
        return SpikedRandomFeaturesSample(model=self, w0=w0, w=w, v=v, theta=theta)


@dataclass(frozen=True)
class SpikedRandomFeaturesSample:
    """A draw of :class:`SpikedRandomFeatures`: ``w0`` (``p x d``, rows on the unit sphere),
    the effective first layer ``w = sqrt(c) w0 + r 1_p v^T`` (the features are
    ``sigma(w x)``), the spike ``v`` and the teacher ``theta`` (unit vectors)."""

    model: SpikedRandomFeatures
    w0: np.ndarray = field(repr=False)
    w: np.ndarray = field(repr=False)
    v: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
