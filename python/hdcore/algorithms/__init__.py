"""Algorithms: they take a sample (with its planted truth) and report overlaps with the truth."""

from hdcore.algorithms.amp import AMPResult, amp
from hdcore.algorithms.factorised_gd import (
    GDResult,
    NuclearNormResult,
    RidgeResult,
    factorised_gd,
    nuclear_norm,
    ridge,
)
from hdcore.algorithms.gamp_rie import GampRieResult, gamp_rie
from hdcore.algorithms.spectral import PCAResult, pca

__all__ = ["amp", "AMPResult", "pca", "PCAResult"]
__all__ += ["GDResult", "GampRieResult", "NuclearNormResult", "RidgeResult", "factorised_gd",
            "gamp_rie", "nuclear_norm", "ridge"]
