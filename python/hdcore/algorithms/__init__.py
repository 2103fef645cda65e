"""Algorithms: they take a sample (with its planted truth) and report overlaps with the truth."""

from hdcore.algorithms.amp import AMPResult, amp
from hdcore.algorithms.gamp import GAMPResult, gamp
from hdcore.algorithms.spectral import PCAResult, pca
from hdcore.algorithms.spectral_glm import (
    SpectralResult,
    asymmetric_spectral,
    asymmetric_spectrum,
    symmetric_spectral,
)

__all__ = ["amp", "AMPResult", "pca", "PCAResult", "gamp", "GAMPResult", "SpectralResult",
           "asymmetric_spectral", "symmetric_spectral", "asymmetric_spectrum"]
