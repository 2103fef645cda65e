"""Algorithms: they take a sample (with its planted truth) and report overlaps with the truth."""

from hdcore.algorithms.amp import AMPResult, amp
from hdcore.algorithms.erm import ERMResult, erm
from hdcore.algorithms.factorised_gd import (
    GDResult,
    NuclearNormResult,
    RidgeResult,
    factorised_gd,
    nuclear_norm,
    ridge,
)
from hdcore.algorithms.gamp_rie import GampRieResult, gamp_rie
from hdcore.algorithms.online_sgd import OnlineSGDResult, online_sgd
from hdcore.algorithms.spectral import PCAResult, pca

__all__ = [
    # spiked matrix models
    "amp", "AMPResult", "pca", "PCAResult",
    # matrix sensing
    "gamp_rie", "GampRieResult", "factorised_gd", "GDResult", "nuclear_norm",
    "NuclearNormResult", "ridge", "RidgeResult",
    # empirical risk minimisation
    "erm", "ERMResult",
    # online SGD
    "online_sgd", "OnlineSGDResult",
]
