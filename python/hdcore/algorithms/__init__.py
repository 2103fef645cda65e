"""Algorithms: they take a sample (with its planted truth) and report overlaps with the truth."""

from hdcore.algorithms.amp import AMPResult, amp
from hdcore.algorithms.online_sgd import OnlineSGDResult, online_sgd
from hdcore.algorithms.spectral import PCAResult, pca

__all__ = ["amp", "AMPResult", "pca", "PCAResult", "online_sgd", "OnlineSGDResult"]
