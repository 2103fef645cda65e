"""Data generators with their planted truth (``model.sample(seed)``)."""

from hdcore.models.multi_index import MultiIndex, MultiIndexSample
from hdcore.models.spiked import SpikedWigner, SpikedWignerSample, SpikedWishart, SpikedWishartSample

__all__ = ["MultiIndex", "MultiIndexSample",
           "SpikedWigner", "SpikedWignerSample", "SpikedWishart", "SpikedWishartSample"]
