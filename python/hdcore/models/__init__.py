"""Data generators with their planted truth (``model.sample(seed)``)."""

from hdcore.models.classification import (
    BinaryClassification,
    BinaryClassificationSample,
    ClassificationErrors,
)
from hdcore.models.hierarchical import (
    MIGHT,
    SIGHT,
    DeepMIGHT,
    HierarchicalSample,
    HierarchicalTeacher,
)
from hdcore.models.matrix_sensing import (
    BilinearSequenceRegression,
    MatrixSensing,
    MatrixSensingSample,
    Product,
    QuadraticNetwork,
    Wishart,
)
from hdcore.models.matrix_tensor import SpikedMatrixTensor, SpikedMatrixTensorSample
from hdcore.models.multi_index import MultiIndex, MultiIndexSample
from hdcore.models.one_step import (
    OneStepNetwork,
    OneStepSample,
    SpikedRandomFeatures,
    SpikedRandomFeaturesSample,
)
from hdcore.models.regression import ContaminatedRegression, ContaminatedRegressionSample
from hdcore.models.sequence import (
    AttentionStudent,
    SequenceSample,
    SequenceSingleIndex,
    SSIStudent,
    TiedStudent,
    UntiedStudent,
)
from hdcore.models.sequence_index import (
    DeepTiedAttention,
    SequenceIndexSample,
    SequenceMultiIndex,
)
from hdcore.models.spiked import (
    SpikedWigner,
    SpikedWignerSample,
    SpikedWishart,
    SpikedWishartSample,
)

__all__ = [
    "SpikedWigner", "SpikedWignerSample", "SpikedWishart", "SpikedWishartSample",
    "SpikedMatrixTensor", "SpikedMatrixTensorSample",
    "MultiIndex", "MultiIndexSample",
    "BilinearSequenceRegression", "MatrixSensing", "MatrixSensingSample", "Product",
    "QuadraticNetwork", "Wishart",
    "ContaminatedRegression", "ContaminatedRegressionSample",
    "BinaryClassification", "BinaryClassificationSample", "ClassificationErrors",
    "SequenceSingleIndex", "SequenceSample", "SSIStudent", "TiedStudent", "UntiedStudent",
    "AttentionStudent",
    "SequenceMultiIndex", "SequenceIndexSample", "DeepTiedAttention",
    "OneStepNetwork", "OneStepSample", "SpikedRandomFeatures", "SpikedRandomFeaturesSample",
    "SIGHT", "MIGHT", "DeepMIGHT", "HierarchicalTeacher", "HierarchicalSample",
]
