"""Matrix sensing with rotationally invariant extensive-rank priors: the general model and the
two applications of Xu, Maillard, Zdeborova & Krzakala 2025 (arXiv:2503.14121) -- the
extensive-width quadratic network (Maillard, Troiani, Martin, Krzakala & Zdeborova 2024,
arXiv:2408.03733) and bilinear sequence regression (Erba, Troiani, Biggio, Maillard &
Zdeborova 2024, arXiv:2410.18858).

hdcore's normalisation (one convention for the three models)
-------------------------------------------------------------
``n = alpha d1 d2`` labels ``y_mu = <X_mu, S*> / sqrt(d1 d2) + sqrt(noise) xi_mu`` of a matrix
``S*`` with O(1) entries (``xi ~ N(0, 1)``). The error is per entry,
``MSE = ||S_hat - S*||_F^2 / (d1 d2)``.

* Symmetric (``d1 = d2 = d``, Wishart prior). It is convenient to store ``S`` in *spectral
  units*, ``S = S_bar / sqrt(d)`` (O(1) eigenvalues), so that
  ``y_mu = Tr(X_mu S) / sqrt(d) + sqrt(noise) xi_mu`` and ``MSE = ||S_hat - S||_F^2 / d``
  (the same number). The teacher is ``S = W^T W / m`` with ``W`` of shape ``m x d`` (i.i.d.
  N(0, 1)), ``kappa = m/d``: Marchenko-Pastur spectrum of mean 1, ``Q0 = 1 + 1/kappa``.
  Sensing matrices: ``"quadratic"`` -- ``X_mu = x_mu x_mu^T - I`` with ``x_mu ~ N(0, I_d)``; or
  ``"gaussian"`` -- symmetric ``X_mu`` with N(0, 1) off-diagonal and N(0, 2) diagonal entries.
  Both have ``Var Tr(X_mu A) = 2 Tr A^2`` (the factor 2 of the symmetric fixed point). In the
  issue's form ``y = Tr(X_mu S_bar)/d`` the matrix is ``S_bar = sqrt(d) S``; with
  ``S = W^T W/m`` itself the labels would be of order ``d^{-1/2}``.
* Rectangular (``d1 x d2``, product prior): ``S = V U / sqrt(r)`` (``V``: ``d1 x r``, ``U``:
  ``r x d2``, i.i.d. N(0, 1), ``E S_ij^2 = 1``), ``X_mu`` i.i.d. N(0, 1) entries.

Mapping to the papers
---------------------
* MTM+24 (quadratic network): their theory uses exactly the spectral-unit ``S = (1/m) sum_k
  w_k w_k^T`` and ``y = Tr(X S)/sqrt(d)``; their plotted error is ``kappa x MSE`` (our
  ``normalised_mse``). Their AMP notebook uses ``S_nb = W W^T / sqrt(m)`` and
  ``y_nb = Tr(X S_nb)/d``: ``S_nb = sqrt(kappa d) S``, ``y_nb = sqrt(kappa) y``,
  ``noise_nb = kappa noise``.
* :class:`QuadraticNetwork`: network labels ``y_net = (1/sqrt m) sum_k [(w_k . x/sqrt d +
  sigma xi_k)^2 - ||w_k||^2/d - sigma^2]`` (pre-activation noise ``sigma``) equal
  ``sqrt(kappa) y`` with ``y`` the symmetric quadratic-sensing label of ``S = W^T W / m``
  (exactly, for ``sigma = 0``); the pre-activation noise acts as label noise of variance
  ``Delta = 2 sigma^2 (2 + sigma^2) / kappa`` in sensing units (MTM+24 theory files).
  ``hdcore`` stores ``y`` in sensing units.
* ETB+24 (bilinear sequence regression): identical to the rectangular case with
  ``X in R^{L x D}``, ``L = beta D``, ``r = rho D``, ``n = alpha L D``,
  ``y = <X, S*>/sqrt(L D)``; alternative ratio ``alpha_LR = alpha beta / (rho (1 + beta))``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from hdcore import _core
from hdcore._validation import as_array, check_choice, check_int, check_real
from hdcore.random import as_seed
from hdcore.rmt.denoising import ProductPrior, WishartPrior

__all__ = [
    "BilinearSequenceRegression",
    "MatrixSensing",
    "MatrixSensingSample",
    "Product",
    "QuadraticNetwork",
    "Wishart",
    "as_sensing",
]


@dataclass(frozen=True)
class Wishart:
    """Prior ``S = W^T W / m`` (spectral units), ``m = round(kappa d)``."""

    kappa: float

    def __post_init__(self):
        object.__setattr__(self, "kappa", check_real(self.kappa, "kappa", min=0.0, min_inclusive=False))


@dataclass(frozen=True)
class Product:
    """Prior ``S = V U / sqrt(r)`` (entry units), ``r = round(rho d2)``."""

    rho: float

    def __post_init__(self):
        object.__setattr__(self, "rho", check_real(self.rho, "rho", min=0.0, min_inclusive=False))


def _parse_prior(prior):
    if isinstance(prior, (Wishart, Product)):
        return prior
    if isinstance(prior, str):
        m = re.fullmatch(r"\s*(wishart|product)\s*\(\s*([^)]+)\s*\)\s*", prior)
        if m:
            try:
                value = float(m.group(2))
            except ValueError:
                raise ValueError(f"`prior` parameter must be a number, got {prior!r}") from None
            return Wishart(value) if m.group(1) == "wishart" else Product(value)
    raise ValueError(f"`prior` must be 'wishart(kappa)', 'product(rho)', Wishart or Product, got {prior!r}")


@dataclass(frozen=True)
class MatrixSensing:
    """``n = alpha d1 d2`` noisy linear measurements of an extensive-rank matrix.

    ``y_mu = <X_mu, S_bar> / sqrt(d1 d2) + sqrt(noise) xi_mu`` (see the module docs for the
    units of ``S`` and the sensing ensembles).

    Parameters
    ----------
    d1, d2 : int
        Shape of ``S``.
    alpha : float
        Samples per entry, ``n = round(alpha d1 d2)``.
    prior : str, Wishart or Product
        ``"wishart(kappa)"`` (symmetric, needs ``d1 == d2``) or ``"product(rho)"``.
    sensing : {"gaussian", "quadratic"}
        Gaussian sensing matrices, or ``x x^T - I`` (symmetric only).
    noise : float
        Label-noise variance ``Delta``.
    """

    d1: int
    d2: int
    alpha: float
    prior: Wishart | Product | str
    sensing: str = "gaussian"
    noise: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "d1", check_int(self.d1, "d1", min=1))
        object.__setattr__(self, "d2", check_int(self.d2, "d2", min=1))
        object.__setattr__(self, "alpha", check_real(self.alpha, "alpha", min=0.0, min_inclusive=False))
        object.__setattr__(self, "prior", _parse_prior(self.prior))
        object.__setattr__(self, "sensing", check_choice(self.sensing, "sensing", ("gaussian", "quadratic")))
        object.__setattr__(self, "noise", check_real(self.noise, "noise", min=0.0))
        if self.symmetric and self.d1 != self.d2:
            raise ValueError(f"a Wishart prior needs a square S (d1 == d2), got d1={self.d1}, d2={self.d2}")
        if self.sensing == "quadratic" and not self.symmetric:
            raise ValueError("`sensing`='quadratic' needs the symmetric Wishart prior")
        if self.n < 1:
            raise ValueError(f"`alpha` * d1 * d2 must give at least one sample, got alpha={self.alpha}")
        if self.width < 1:
            raise ValueError("the prior's rank/width rounds to 0; increase kappa/rho or the size")

    # ---- sizes --------------------------------------------------------------------------
    @property
    def symmetric(self) -> bool:
        """Whether ``S`` is symmetric (Wishart prior)."""
        return isinstance(self.prior, Wishart)

    @property
    def n(self) -> int:
        """Number of samples."""
        return round(self.alpha * self.d1 * self.d2)

    @property
    def _prior(self) -> Wishart | Product:
        # `prior` is a Wishart or Product after __post_init__ (a string is parsed there)
        return cast("Wishart | Product", self.prior)

    @property
    def width(self) -> int:
        """``m = round(kappa d)`` (Wishart) or ``r = round(rho d2)`` (product)."""
        prior = self._prior
        if isinstance(prior, Wishart):
            return round(prior.kappa * self.d1)
        return round(prior.rho * self.d2)

    @property
    def units(self) -> float:
        """Normaliser of squared errors: ``d`` (symmetric, spectral units) or ``d1 d2``."""
        return float(self.d1) if self.symmetric else float(self.d1 * self.d2)

    @property
    def rie_prior(self) -> WishartPrior | ProductPrior:
        """The prior with its RIE and denoising MMSE, at the realised ratios ``m/d`` or
        ``(max/min, r/min)``."""
        if self.symmetric:
            return WishartPrior(self.width / self.d1)
        lo, hi = min(self.d1, self.d2), max(self.d1, self.d2)
        return ProductPrior(hi / lo, self.width / lo)

    @property
    def prior_variance(self) -> float:
        """MSE of the prior mean (``1/kappa`` or 1): the error at ``alpha = 0``."""
        return self.rie_prior.variance

    @property
    def operator_kind(self) -> str:
        """Name of the sensing operator in the Rust core."""
        if self.sensing == "quadratic":
            return "quadratic"
        return "gaussian_symmetric" if self.symmetric else "gaussian_rect"

    def sample(self, seed=None, *, n_threads: int | None = None) -> MatrixSensingSample:
        """Draw the teacher, the sensing inputs and the labels.

        Streams (``rng::domain::FREE + k``): teacher 20/21, inputs or Gaussian sensing matrices
        22 (regenerated from ``seed``, never stored for Gaussian sensing), label noise 23.
        """
        s = as_seed(seed)
        if self.symmetric:
            w, truth = _core.sample_wishart_teacher(self.d1, self.width, s, n_threads)
            factors: tuple[np.ndarray, ...] = (w,)
        else:
            v, u, truth = _core.sample_product_teacher(self.d1, self.d2, self.width, s, n_threads)
            factors = (v, u)
        x = _core.sample_inputs(self.n, self.d1, s, n_threads) if self.sensing == "quadratic" else None
        y = _core.sensing_labels(self.operator_kind, truth, self.noise, s, x=x, design_seed=s,
                                 n=self.n, n_threads=n_threads)
        return MatrixSensingSample(model=self, sensing=self, y=y, s=truth, factors=factors, x=x,
                                   design_seed=s)


@dataclass(frozen=True)
class QuadraticNetwork:
    """Extensive-width quadratic network (MTM+24): ``x ~ N(0, I_d)``, teacher width
    ``m = kappa d``, ``n = alpha d^2`` samples.

    Labels (stored in sensing units, see the module docs):
    ``y_net = (1/sqrt m) sum_k [(w_k . x / sqrt d + sigma xi_k)^2 - ||w_k||^2/d - sigma^2]``,
    ``y = y_net / sqrt(kappa) = Tr((x x^T - I) S)/sqrt(d) + noise``, ``S = W^T W/m``.

    Parameters
    ----------
    d : int
        Input dimension.
    kappa : float
        Width ratio ``m/d`` (> 0).
    alpha : float
        ``n / d^2``.
    noise : float
        Pre-activation noise standard deviation ``sigma``; the equivalent label noise is
        ``delta = 2 sigma^2 (2 + sigma^2) / kappa``.
    """

    d: int
    kappa: float
    alpha: float
    noise: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "d", check_int(self.d, "d", min=1))
        object.__setattr__(self, "kappa", check_real(self.kappa, "kappa", min=0.0, min_inclusive=False))
        object.__setattr__(self, "alpha", check_real(self.alpha, "alpha", min=0.0, min_inclusive=False))
        object.__setattr__(self, "noise", check_real(self.noise, "noise", min=0.0))
        self.to_sensing()  # validates sizes

    @property
    def m(self) -> int:
        """Teacher width."""
        return round(self.kappa * self.d)

    @property
    def delta(self) -> float:
        """Equivalent label-noise variance ``2 sigma^2 (2 + sigma^2) / kappa`` (sensing units)."""
        s2 = self.noise**2
        return 2 * s2 * (2 + s2) / self.kappa

    def to_sensing(self) -> MatrixSensing:
        """The equivalent symmetric quadratic-sensing model."""
        return MatrixSensing(self.d, self.d, self.alpha, Wishart(self.kappa), "quadratic", self.delta)

    def sample(self, seed=None, *, n_threads: int | None = None) -> MatrixSensingSample:
        """Draw ``W``, the inputs and the labels (pre-activation noise from stream 24)."""
        sens = self.to_sensing()
        s = as_seed(seed)
        w, truth = _core.sample_wishart_teacher(self.d, sens.width, s, n_threads)
        x = _core.sample_inputs(sens.n, self.d, s, n_threads)
        y = _core.quadratic_network_labels(x, w, self.noise, s, n_threads)
        return MatrixSensingSample(model=self, sensing=sens, y=y, s=truth, factors=(w,), x=x,
                                   design_seed=s)


@dataclass(frozen=True)
class BilinearSequenceRegression:
    """Bilinear sequence regression (ETB+24): ``X in R^{L x D}`` with i.i.d. N(0, 1) entries,
    ``S* = V U / sqrt(r)``, ``y = <X, S*> / sqrt(L D) + sqrt(noise) xi``.

    Parameters
    ----------
    D : int
        Token dimension.
    beta : float
        ``L / D`` (``L = round(beta D)`` tokens).
    rho : float
        ``r / D`` (``r = round(rho D)``).
    alpha : float
        ``n / (L D)``.
    noise : float
        Label-noise variance ``Delta``.
    """

    D: int
    beta: float
    rho: float
    alpha: float
    noise: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "D", check_int(self.D, "D", min=1))
        object.__setattr__(self, "beta", check_real(self.beta, "beta", min=0.0, min_inclusive=False))
        object.__setattr__(self, "rho", check_real(self.rho, "rho", min=0.0, min_inclusive=False))
        object.__setattr__(self, "alpha", check_real(self.alpha, "alpha", min=0.0, min_inclusive=False))
        object.__setattr__(self, "noise", check_real(self.noise, "noise", min=0.0))
        self.to_sensing()

    @property
    def L(self) -> int:
        """Number of tokens."""
        return max(1, round(self.beta * self.D))

    @property
    def alpha_lr(self) -> float:
        """``n / (r (L + D)) = alpha beta / (rho (1 + beta))`` (ETB+24's alternative ratio)."""
        return self.alpha * self.beta / (self.rho * (1 + self.beta))

    def to_sensing(self) -> MatrixSensing:
        """The equivalent rectangular Gaussian-sensing model (``d1 = L``, ``d2 = D``)."""
        return MatrixSensing(self.L, self.D, self.alpha, Product(self.rho), "gaussian", self.noise)

    def sample(self, seed=None, *, n_threads: int | None = None) -> MatrixSensingSample:
        """Draw ``V``, ``U`` and the labels (the sequences are regenerated from the seed)."""
        smp = self.to_sensing().sample(seed, n_threads=n_threads)
        return MatrixSensingSample(model=self, sensing=smp.sensing, y=smp.y, s=smp.s,
                                   factors=smp.factors, x=None, design_seed=smp.design_seed)


def as_sensing(model) -> MatrixSensing:
    """The :class:`MatrixSensing` form of a model (itself, or ``model.to_sensing()``)."""
    if isinstance(model, MatrixSensing):
        return model
    if isinstance(model, (QuadraticNetwork, BilinearSequenceRegression)):
        return model.to_sensing()
    raise TypeError(f"expected a matrix-sensing model, got {type(model).__name__}")


@dataclass(frozen=True)
class MatrixSensingSample:
    """A draw of a matrix-sensing model.

    Attributes
    ----------
    model : MatrixSensing, QuadraticNetwork or BilinearSequenceRegression
        The model sampled.
    sensing : MatrixSensing
        Its matrix-sensing form (normalisations, operator).
    y : ndarray
        Labels (sensing units).
    s : ndarray
        The planted matrix (spectral units if symmetric, entry units otherwise).
    factors : tuple of ndarray
        ``(W,)`` or ``(V, U)``.
    x : ndarray or None
        Inputs ``x_mu`` (quadratic sensing); ``None`` for Gaussian sensing.
    design_seed : int
        Seed of the regenerated Gaussian sensing matrices.
    """

    model: object
    sensing: MatrixSensing
    y: np.ndarray = field(repr=False)
    s: np.ndarray = field(repr=False)
    factors: tuple = field(repr=False)
    x: np.ndarray | None = field(repr=False, default=None)
    design_seed: int = 0

    def operator_kwargs(self) -> dict:
        """Keyword arguments naming the sensing operator in ``hdcore._core``."""
        m = self.sensing
        return {"x": self.x, "seed": self.design_seed, "d1": m.d1, "d2": m.d2}

    def forward(self, s, *, n_threads: int | None = None) -> np.ndarray:
        """``(<A_mu, S>)_mu`` (without noise) for a matrix in the model's units."""
        m = self.sensing
        s = as_array(s, "s", ndim=2, shape=(m.d1, m.d2))
        return _core.sensing_forward(m.operator_kind, s, x=self.x, seed=self.design_seed, n=m.n,
                                     n_threads=n_threads)

    def adjoint(self, g, *, n_threads: int | None = None) -> np.ndarray:
        """``sum_mu g_mu A_mu``."""
        m = self.sensing
        g = as_array(g, "g", ndim=1, shape=(m.n,))
        return _core.sensing_adjoint(m.operator_kind, g, x=self.x, seed=self.design_seed,
                                     d1=m.d1, d2=m.d2, n_threads=n_threads)

    def design(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The normalised sensing matrices ``A_mu`` (``mu`` in ``start..stop``) as an array of
        shape ``(count, d1, d2)`` -- for small problems (baselines, checks)."""
        m = self.sensing
        stop = m.n if stop is None else check_int(stop, "stop", min=0)
        start = check_int(start, "start", min=0)
        if m.sensing == "quadratic":
            xs = cast(np.ndarray, self.x)[start:stop]  # quadratic sensing stores its inputs
            eye = np.eye(m.d1)
            return (xs[:, :, None] * xs[:, None, :] - eye) / np.sqrt(m.d1)
        return _core.sensing_design(m.operator_kind, self.design_seed, start, stop, m.d1, m.d2)

    def error(self, estimate) -> float:
        """``||S_hat - S*||_F^2 / units`` (per entry of ``S_bar``)."""
        est = as_array(estimate, "estimate", ndim=2, shape=self.s.shape)
        return float(np.sum((est - self.s) ** 2) / self.sensing.units)
