"""BBP transition of PCA in the spiked models (Baik, Ben Arous & Peche 2005; Benaych-Georges &
Nadakuditi 2011).

* Spiked Wigner ``Y = (snr/n) x x^T + W/sqrt(n)`` (bulk: semicircle on [-2, 2]): for
  ``snr > 1`` the top eigenvalue is ``snr + 1/snr`` and the top eigenvector has squared cosine
  ``1 - 1/snr^2`` with ``x``; below, 2 and 0.
* Spiked covariance ``Cov = I + beta u u^T / d`` with ``gamma = d/n = 1/alpha`` (bulk:
  Marchenko-Pastur with edge ``(1 + sqrt(gamma))^2``): for ``beta > sqrt(gamma)`` the top
  eigenvalue of ``X^T X/n`` is ``(1 + beta)(1 + gamma/beta)`` and the squared cosine is
  ``(1 - gamma/beta^2) / (1 + gamma/beta)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdcore._results import Result
from hdcore.models.spiked import SpikedWigner, SpikedWishart

__all__ = ["BBP", "bbp"]


@dataclass(frozen=True)
class BBP(Result):
    """BBP prediction for PCA.

    Attributes
    ----------
    threshold : float
        Critical signal strength (snr or beta).
    top_eigenvalue : float
        Limit of the largest eigenvalue.
    bulk_edge : float
        Right edge of the noise spectrum.
    cosine2 : float
        Limit of the squared cosine between the top eigenvector and the spike.
    """

    threshold: float
    top_eigenvalue: float
    bulk_edge: float
    cosine2: float

    @property
    def detectable(self) -> bool:
        return self.cosine2 > 0


def bbp(model) -> BBP:
    """BBP prediction for :class:`~hdcore.models.SpikedWigner` or
    :class:`~hdcore.models.SpikedWishart` (the prior does not matter, only ``E x^2 = 1``).

    Parameters
    ----------
    model : SpikedWigner or SpikedWishart
        The spiked model; only ``snr`` (Wigner) or ``alpha`` and ``beta`` (covariance) matter.

    Returns
    -------
    BBP
        Threshold (``1`` for Wigner, ``sqrt(1/alpha)`` for the covariance), limits of the top
        eigenvalue and of the squared cosine, and the bulk edge.

    Raises
    ------
    TypeError
        ``model`` is neither a ``SpikedWigner`` nor a ``SpikedWishart``.

    Examples
    --------
    >>> import hdcore
    >>> hdcore.theory.bbp(hdcore.models.SpikedWigner(n=10, snr=2.0))
    BBP(threshold=1, top_eigenvalue=2.5, bulk_edge=2, cosine2=0.75)
    >>> hdcore.theory.bbp(hdcore.models.SpikedWishart(d=10, alpha=4.0, beta=0.25)).cosine2
    0.0

    References
    ----------
    Baik, Ben Arous & Peche, "Phase transition of the largest eigenvalue for nonnull complex
    sample covariance matrices", Ann. Probab. 33 (2005). Benaych-Georges & Nadakuditi, "The
    eigenvalues and eigenvectors of finite, low rank perturbations of large random matrices",
    Adv. Math. 227 (2011).
    """
    if isinstance(model, SpikedWigner):
        s = model.snr
        if s > 1:
            return BBP(1.0, s + 1 / s, 2.0, 1 - 1 / s**2)
        return BBP(1.0, 2.0, 2.0, 0.0)
    if isinstance(model, SpikedWishart):
        g, b = 1 / model.alpha, model.beta
        edge = (1 + np.sqrt(g)) ** 2
        if b > np.sqrt(g):
            return BBP(float(np.sqrt(g)), (1 + b) * (1 + g / b), float(edge),
                       (1 - g / b**2) / (1 + g / b))
        return BBP(float(np.sqrt(g)), float(edge), float(edge), 0.0)
    raise TypeError(f"bbp does not know models of type {type(model).__name__}")
