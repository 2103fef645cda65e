"""Algorithms: they take a sample (with its planted truth) and report overlaps with the truth."""

from hdcore.algorithms.amp import AMPResult, amp
from hdcore.algorithms.classification_erm import ClassificationERMResult, classification_erm
from hdcore.algorithms.erm import ERMResult, erm
from hdcore.algorithms.erm_gamp import ERMGAMPResult, erm_gamp
from hdcore.algorithms.factorised_gd import (
    GDResult,
    NuclearNormResult,
    RidgeResult,
    factorised_gd,
    nuclear_norm,
    ridge,
)
from hdcore.algorithms.gamp import GAMPResult, gamp
from hdcore.algorithms.gamp_rie import GampRieResult, gamp_rie
from hdcore.algorithms.hierarchical import (
    HierarchicalRun,
    layerwise,
    preactivation_overlap,
    quadratic_kernel_ridge,
    w1_overlap,
)
from hdcore.algorithms.lasso import LassoResult, lasso
from hdcore.algorithms.low_rank_amp import (
    Factor,
    LowRankAMPResult,
    MatrixChannel,
    TensorChannel,
    low_rank_amp,
    spherical_denoiser,
)
from hdcore.algorithms.matrix_tensor import (
    CurriculumResult,
    JointGDResult,
    curriculum,
    joint_gd,
    matrix_tensor_amp,
    tensor3_contract,
)
from hdcore.algorithms.nuclear_norm_gamp import NuclearNormGampResult, nuclear_norm_gamp
from hdcore.algorithms.one_step import (
    FeatureSpectrum,
    OneStepResult,
    RidgeReadoutResult,
    feature_spectrum,
    one_step,
    ridge_readout,
)
from hdcore.algorithms.online_sgd import OnlineSGDResult, online_sgd
from hdcore.algorithms.sequence_gamp import sequence_gamp
from hdcore.algorithms.spectral import PCAResult, pca
from hdcore.algorithms.spectral_glm import (
    SpectralResult,
    asymmetric_spectral,
    asymmetric_spectrum,
    symmetric_spectral,
)

__all__ = [
    "sequence_gamp",
    # spiked matrix models
    "amp", "AMPResult", "pca", "PCAResult",
    # multi-factor low-rank AMP and the spiked matrix + tensor model
    "low_rank_amp", "LowRankAMPResult", "Factor", "MatrixChannel", "TensorChannel",
    "spherical_denoiser", "matrix_tensor_amp", "joint_gd", "JointGDResult", "curriculum",
    "CurriculumResult", "tensor3_contract",
    # GLMs and multi-index models
    "gamp", "GAMPResult", "SpectralResult", "asymmetric_spectral", "symmetric_spectral",
    "asymmetric_spectrum",
    # matrix sensing
    "gamp_rie", "GampRieResult", "factorised_gd", "GDResult", "nuclear_norm",
    "NuclearNormResult", "nuclear_norm_gamp", "NuclearNormGampResult", "ridge", "RidgeResult",
    # empirical risk minimisation
    "erm", "ERMResult", "erm_gamp", "ERMGAMPResult", "classification_erm",
    "ClassificationERMResult", "lasso", "LassoResult",
    # online SGD
    "online_sgd", "OnlineSGDResult",
    # two-layer networks after one giant gradient step
    # hierarchical targets (computational advantage of depth)
    "HierarchicalRun", "layerwise", "quadratic_kernel_ridge", "w1_overlap",
    "preactivation_overlap",
    "one_step", "OneStepResult", "ridge_readout", "RidgeReadoutResult", "feature_spectrum",
    "FeatureSpectrum",
]
