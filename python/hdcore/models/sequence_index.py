"""Sequence multi-index models and deep tied attention (Troiani, Cui, Dandi, Krzakala &
Zdeborova 2025, arXiv:2502.00901, Secs. 2-3).

Normalisation (the paper's, from the authors' code): ``N = round(alpha D)`` samples, each a
sequence ``x_mu`` of ``M`` tokens with i.i.d. ``N(0, 1)`` entries (``D x M``), a Gaussian teacher
``W*`` (``P x D``, stored ``D x P`` as in :class:`~hdcore.models.MultiIndex`), pre-activations
``Z_mu = W* x_mu / sqrt(D)`` (``P x M``, i.i.d. ``N(0, 1)`` columns) and ``y_mu = g(Z_mu)``.

Normalisation map to :class:`~hdcore.models.MultiIndex` (``x ~ N(0, I/d)``, ``z = W*^T x``): the
token rows ``x_{mu, m} / sqrt(D)`` are ``MultiIndex`` design rows, so a sequence model with a
token-wise link ``y_{mu, m} = f(Z_mu[:, m])`` *is* the ``MultiIndex(d=D, alpha=M alpha, p=P)``
model with its ``N M`` rows grouped by sample, and for ``M = 1`` the two models coincide
(``x_seq = sqrt(D) x_multi``). The sampler uses exactly this map: the design, teacher and
pre-activations come from the keyed-stream Rust sampler of ``MultiIndex`` (thread-count
independent), the sequence link is applied to the grouped pre-activations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._validation import check_choice, check_int, check_real
from hdcore.ingredients.attention_channel import attention_link, attention_log_ratios
from hdcore.ingredients.channels import BuiltinChannel
from hdcore.models.multi_index import MultiIndex, _overlaps
from hdcore.random import as_seed

__all__ = ["DeepTiedAttention", "SequenceIndexSample", "SequenceMultiIndex"]

#: token-wise links (``y_{mu, m} = f(Z_mu[:, m])``), resolved by the ``MultiIndex`` channels
TOKENWISE_LINKS = ("linear", "sign", "relu", "abs", "square", "z1*z2", "sign(z1*z2)",
                   "||z||^2/p", "committee", "prod")


@dataclass(frozen=True)
class SequenceMultiIndex:
    """Sequence multi-index model ``y = g(W* x / sqrt(D))`` (module docs).

    Parameters
    ----------
    D : int
        Embedding dimension.
    alpha : float
        Samples per dimension, ``N = round(alpha D)``.
    M : int
        Tokens per sequence.
    P : int
        Number of directions (rows of ``W*``).
    link : str
        ``"attention"`` (deep tied attention with ``P`` layers, :class:`DeepTiedAttention`) or a
        token-wise :class:`~hdcore.models.MultiIndex` link (``"sign"``, ``"abs"``, ``"z1*z2"``,
        ...) applied to every token column.
    prior : str
        Prior of the entries of ``W*`` (only ``"gaussian"``, the paper's).
    skip : float
        Skip strength ``c`` of the attention link.
    noise : float
        Label-noise variance of a token-wise link (the attention link is noiseless).

    Raises
    ------
    ValueError
        Non-positive sizes, an unknown link or prior, ``attention`` with ``M != 2`` or
        ``skip <= 0``.

    Examples
    --------
    >>> model = SequenceMultiIndex(200, 1.0, M=2, P=2, link="attention")
    >>> s = model.sample(seed=0)
    >>> s.x.shape, s.y.shape, s.z.shape
    ((400, 200), (200, 2, 2), (200, 2, 2))

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, "Fundamental limits of learning in sequence
    multi-index models and deep attention networks", ICML 2025, arXiv:2502.00901.
    """

    D: int
    alpha: float
    M: int = 2
    P: int = 1
    link: str = "sign"
    prior: str = "gaussian"
    skip: float = 1.0
    noise: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "D", check_int(self.D, "D", min=1))
        object.__setattr__(self, "alpha", check_real(self.alpha, "alpha", min=0.0,
                                                     min_inclusive=False))
        object.__setattr__(self, "M", check_int(self.M, "M", min=1))
        object.__setattr__(self, "P", check_int(self.P, "P", min=1))
        if self.P > 8:
            raise ValueError(f"`P` must be <= 8, got {self.P}")
        object.__setattr__(self, "noise", check_real(self.noise, "noise", min=0.0))
        object.__setattr__(self, "skip", check_real(self.skip, "skip", min=0.0,
                                                    min_inclusive=False))
        check_choice(self.prior, "prior", ("gaussian",))
        check_choice(self.link, "link", TOKENWISE_LINKS + ("attention",))
        if self.link == "attention":
            if self.M != 2:
                raise ValueError(f"`M` must be 2 for the attention link, got {self.M}")
            if self.noise != 0.0:
                raise ValueError("`noise` must be 0 for the attention link")
        if self.n < 1:
            raise ValueError(f"`alpha` * `D` must give at least one sample, got alpha={self.alpha}")

    @property
    def n(self) -> int:
        """Number of sequences ``N``."""
        return round(self.alpha * self.D)

    @property
    def tokenwise(self) -> bool:
        """Whether the link acts on each token column separately."""
        return self.link != "attention"

    def multi_index(self) -> MultiIndex:
        """The ``MultiIndex(d=D, alpha=M alpha, p=P)`` model of the token rows (module docs);
        for a token-wise link it is the same statistical model (``M = 1``: the same model).

        Returns
        -------
        MultiIndex
            The flattened model (for the attention link only its design, teacher and
            pre-activations are meaningful).
        """
        # attention: any link defined for all P; only the design and pre-activations are used
        link = self.link if self.tokenwise else "||z||^2/p"
        return MultiIndex(d=self.D, alpha=self.n * self.M / self.D, p=self.P, link=link,
                          prior=self.prior, noise=self.noise)

    def sample(self, seed=None, *, dtype="float64",
               n_threads: int | None = None) -> SequenceIndexSample:
        """Draw ``(x, W*, Z, y)``; the same seed gives the same sample for any number of threads.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
            Seed of the keyed streams.
        dtype : {"float64", "float32"}
            Storage of ``x``.
        n_threads : int, optional
            Threads of the Rust sampler (the result does not depend on it).

        Returns
        -------
        SequenceIndexSample
            The draw, ``x`` stored token-major as ``(N M) x D`` rows with ``N(0, 1)`` entries.

        Raises
        ------
        ValueError
            An unknown ``dtype``.

        Examples
        --------
        >>> SequenceMultiIndex(50, 2.0, M=3, P=1, link="sign").sample(seed=1).y.shape
        (100, 3)
        """
        dtype = check_choice(np.dtype(dtype).name, "dtype", ("float64", "float32"))
        s = as_seed(seed)
        n, m, p = self.n, self.M, self.P
        ch = self.multi_index().channel
        assert isinstance(ch, BuiltinChannel)
        x, w, z, y = _core.multi_index_sample(n * m, self.D, p, s, link=ch.name, noise=ch.noise,
                                              n_nodes=ch.n_nodes, prior_name="gaussian",
                                              rho=None, dtype=dtype, n_threads=n_threads)
        x = np.asarray(x) * np.asarray(np.sqrt(self.D), dtype=dtype)
        zt = np.asarray(z, dtype=np.float64).reshape(n, m, p).transpose(0, 2, 1)  # (N, P, M)
        log_ratios = None
        if self.tokenwise:
            assert y is not None
            yy = np.asarray(y, dtype=np.float64).reshape(n, m)
        else:
            yy = attention_link(zt, self.skip)
            log_ratios = attention_log_ratios(zt, self.skip)
        return SequenceIndexSample(model=self, x=x, y=yy, w=np.asarray(w), z=zt,
                                   log_ratios=log_ratios)


def DeepTiedAttention(D: int, alpha: float, *, layers: int = 2, skip: float = 1.0,
                      M: int = 2) -> SequenceMultiIndex:
    """The deep tied low-rank attention teacher as a sequence multi-index model.

    Layer ``l`` has a tied rank-one key = query ``w_l``, identity value and a skip ``c I``:
    ``A_l = softmax_row(h_l h_l^T) + c I``, ``h_l = A_{l-1} ... A_1 z_l``; the output is the last
    attention matrix (:mod:`hdcore.ingredients.attention_channel`), so ``P = layers``.

    Parameters
    ----------
    D : int
        Embedding dimension.
    alpha : float
        Samples per dimension.
    layers : int
        Number of attention layers ``L >= 2`` (the posterior kernels cover ``L = 2``).
    skip : float
        Skip strength ``c > 0``.
    M : int
        Tokens (2).

    Returns
    -------
    SequenceMultiIndex
        With ``link="attention"`` and ``P = layers``.

    Raises
    ------
    ValueError
        ``layers < 2``, ``M != 2`` or ``skip <= 0``.

    Examples
    --------
    >>> DeepTiedAttention(100, 1.0).P
    2

    References
    ----------
    Troiani, Cui, Dandi, Krzakala & Zdeborova, arXiv:2502.00901 (2025), Sec. 3.
    """
    layers = check_int(layers, "layers", min=2)
    return SequenceMultiIndex(D, alpha, M=M, P=layers, link="attention", skip=skip)


@dataclass(frozen=True)
class SequenceIndexSample:
    """A sequence multi-index draw.

    Attributes
    ----------
    x : ndarray
        Tokens, ``(N M) x D`` (row ``mu M + m`` is token ``m`` of sequence ``mu``), ``N(0, 1)``.
    y : ndarray
        Labels: ``N x M`` (token-wise links) or ``N x M x M`` (attention).
    w : ndarray
        Teacher ``W*^T``, ``D x P``.
    z : ndarray
        Pre-activations ``Z_mu``, ``N x P x M``.
    log_ratios : ndarray or None
        Attention only: ``log(y_aa / y_ab)``, ``N x 2``, computed from ``u`` without cancellation.
    """

    model: SequenceMultiIndex
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    w: np.ndarray = field(repr=False)
    z: np.ndarray = field(repr=False)
    log_ratios: np.ndarray | None = field(default=None, repr=False)

    def overlaps(self, estimate) -> np.ndarray:
        """Per-direction overlaps ``|w_p . w*_p| / (||w_p|| ||w*_p||)`` of an estimate ``D x P``
        (the paper's per-layer cosine; sign-blind since the link is sign invariant).

        Parameters
        ----------
        estimate : array_like
            ``D x P`` estimate (a vector for ``P = 1``).

        Returns
        -------
        ndarray
            ``P`` cosines in ``[0, 1]``.

        Raises
        ------
        ValueError
            Wrong number of rows or columns.
        """
        west = np.asarray(estimate, dtype=np.float64)
        if west.ndim == 1:
            west = west[:, None]
        if west.shape != self.w.shape:
            raise ValueError(f"`estimate` must have shape {self.w.shape}, got {west.shape}")
        num = np.abs((west * self.w).sum(0))
        den = np.linalg.norm(west, axis=0) * np.linalg.norm(self.w, axis=0)
        return num / np.maximum(den, 1e-300)

    def as_multi_index_overlap(self, estimate) -> float:
        """The :meth:`MultiIndexSample.overlap` of ``estimate`` (``||M||_F / sqrt(tr Q)``)."""
        west = np.asarray(estimate, dtype=np.float64)
        if west.ndim == 1:
            west = west[:, None]
        m, q = _overlaps(west, self.w)
        return float(np.linalg.norm(m) / np.sqrt(max(np.trace(q), 1e-300)))
