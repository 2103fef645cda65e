"""Data generators with their planted truth (``model.sample(seed)``)."""

from hdcore.models.sequence import (
    AttentionStudent,
    SequenceSample,
    SequenceSingleIndex,
    SSIStudent,
    TiedStudent,
    UntiedStudent,
)
from hdcore.models.spiked import (
    SpikedWigner,
    SpikedWignerSample,
    SpikedWishart,
    SpikedWishartSample,
)

__all__ = ["SpikedWigner", "SpikedWignerSample", "SpikedWishart", "SpikedWishartSample",
           "SequenceSingleIndex", "SequenceSample", "SSIStudent", "TiedStudent", "UntiedStudent",
           "AttentionStudent"]
