"""Data generators with their planted truth (``model.sample(seed)``)."""

from hdcore.models.spiked import SpikedWigner, SpikedWignerSample, SpikedWishart, SpikedWishartSample

__all__ = ["SpikedWigner", "SpikedWignerSample", "SpikedWishart", "SpikedWishartSample"]
from hdcore.models.sequence import (  # noqa: E402
    AttentionStudent,
    SequenceSample,
    SequenceSingleIndex,
    SSIStudent,
    TiedStudent,
    UntiedStudent,
)

__all__ += ["SequenceSingleIndex", "SequenceSample", "SSIStudent", "TiedStudent", "UntiedStudent",
            "AttentionStudent"]
