"""Random-matrix toolbox.

Spectral laws with density, Stieltjes transform, support and samplers (:mod:`hdcore.rmt.laws`):
semicircle, Marchenko-Pastur (any ratio), MP (+) semicircle (cubic), the rectangular
product-plus-noise singular-value law (quartic), user-given laws and their numerical free
convolution by subordination. Matrix denoising (:mod:`hdcore.rmt.denoising`): eigendecomposition
and SVD, empirical Stieltjes transforms, rotationally invariant estimators and denoising MMSEs,
and the Wishart / product priors used by matrix sensing.

Convention: ``g(z) = int rho(t)/(z - t) dt``, ``rho(x) = -Im g(x + i0)/pi``.
"""

from hdcore.rmt.denoising import (
    ProductPrior,
    RIEResult,
    WishartPrior,
    denoising_mmse,
    eigh,
    empirical_stieltjes,
    rie,
    svd,
)
from hdcore.rmt.laws import (
    CustomLaw,
    FreeConvolution,
    MarchenkoPastur,
    MPSemicircle,
    Quadrature,
    RectangularProductNoise,
    Semicircle,
    SpectralLaw,
    ks_distance,
)

__all__ = [
    "CustomLaw",
    "FreeConvolution",
    "MPSemicircle",
    "MarchenkoPastur",
    "ProductPrior",
    "Quadrature",
    "RIEResult",
    "RectangularProductNoise",
    "Semicircle",
    "SpectralLaw",
    "WishartPrior",
    "denoising_mmse",
    "eigh",
    "empirical_stieltjes",
    "ks_distance",
    "rie",
    "svd",
]
