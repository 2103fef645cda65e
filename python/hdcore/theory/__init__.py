"""Theory: state evolution, replica free entropies, random-matrix predictions, thresholds,
SGD ODEs and population landscapes.

Every fixed point (state evolutions, replica saddle points) is solved by one engine,
:mod:`hdcore.theory.fixed_point` (damped / Anderson iteration on pytrees, domain back-off,
branches, continuation). ``state_evolution(model)`` dispatches on the model: GAMP state evolution for a
:class:`~hdcore.models.MultiIndex`, low-rank AMP state evolution for the spiked models.
"""

from hdcore.theory import fixed_point, matrix_sensing
from hdcore.theory.bbp import BBP, bbp
from hdcore.theory.classification import (
    LassoFixedPoint,
    donoho_tanner_alpha,
    donoho_tanner_rho,
    elastic_net_fixed_point,
    lasso_fixed_point,
)
from hdcore.theory.classification_erm import (
    ClassificationFixedPoint,
    classification_fixed_point,
    gardner_capacity,
    max_margin,
    separability_threshold,
)
from hdcore.theory.erm import ERMFixedPoint, TuneResult, erm_fixed_point, ridge_closed_form, tune
from hdcore.theory.glm import (
    GAMPFixedPoints,
    GLMStateEvolution,
    SpectralPrediction,
    WeakRecovery,
    gamp_fixed_points,
    gamp_state_evolution,
    glm_free_entropy,
    glm_thresholds,
    spectral_prediction,
    state_evolution,
    weak_recovery_threshold,
)
from hdcore.theory.low_rank import (
    FixedPoints,
    StateEvolution,
    algorithmic_threshold,
    fixed_points,
    free_entropy,
    information_theoretic_threshold,
    state_evolution_map,
)
from hdcore.theory.matrix_sensing import SensingFixedPoint, perfect_recovery_threshold
from hdcore.theory.matrix_tensor import (
    MatrixTensorFixedPoints,
    MatrixTensorSE,
    MatrixTensorThresholds,
    curriculum_prediction,
    matrix_tensor_fixed_points,
    matrix_tensor_free_entropy,
    matrix_tensor_se_map,
    matrix_tensor_state_evolution,
    matrix_tensor_thresholds,
    rectangular_bbp,
)
from hdcore.theory.hierarchical import (
    HierarchicalExponents,
    hierarchical_exponents,
    quadratic_kernel_peak,
)
from hdcore.theory.one_step import (
    OneStepFixedPoint,
    one_step_test_error,
    rf_ridge_test_error,
    srf_spectral_inputs,
)
from hdcore.theory.quadratic_network_erm import (
    QuadraticERMFixedPoint,
    QuadraticERMStateEvolution,
    QuadraticERMThresholds,
    quadratic_erm,
    quadratic_erm_curve,
    quadratic_erm_state_evolution,
    quadratic_erm_thresholds,
)
from hdcore.theory.sequence_index import (
    SequenceStateEvolution,
    SequenceThresholds,
    sequence_generalisation_error,
    sequence_state_evolution,
    sequence_thresholds,
)
from hdcore.theory.sgd import (
    REGIONS,
    SGDODE,
    SIE,
    AttentionLandscape,
    LossDerivatives,
    PhaseDiagram,
    attention_landscape,
    population_loss,
    population_loss_derivatives,
    positional_semantic_phase_diagram,
    sequence_information_exponent,
    sgd_ode,
)

__all__ = [
    # dispatch and the fixed-point engine
    "state_evolution", "fixed_point",
    # spiked matrix models
    "BBP", "bbp", "FixedPoints", "StateEvolution", "algorithmic_threshold", "fixed_points",
    "free_entropy", "information_theoretic_threshold", "state_evolution_map",
    # sequence multi-index models (arXiv:2502.00901)
    "SequenceStateEvolution", "SequenceThresholds", "sequence_generalisation_error",
    "sequence_state_evolution", "sequence_thresholds",
    # GLMs and multi-index models
    "GAMPFixedPoints", "GLMStateEvolution", "SpectralPrediction", "WeakRecovery",
    "gamp_fixed_points", "gamp_state_evolution", "glm_free_entropy", "glm_thresholds",
    "spectral_prediction", "weak_recovery_threshold",
    # spiked matrix + tensor
    "MatrixTensorFixedPoints", "MatrixTensorSE", "MatrixTensorThresholds",
    "curriculum_prediction", "matrix_tensor_fixed_points", "matrix_tensor_free_entropy",
    "matrix_tensor_se_map", "matrix_tensor_state_evolution", "matrix_tensor_thresholds",
    "rectangular_bbp",
    # matrix sensing
    "matrix_sensing", "SensingFixedPoint", "perfect_recovery_threshold",
    # empirical risk minimisation
    "ERMFixedPoint", "TuneResult", "erm_fixed_point", "ridge_closed_form", "tune",
    "ClassificationFixedPoint", "classification_fixed_point", "gardner_capacity", "max_margin",
    "separability_threshold", "LassoFixedPoint", "lasso_fixed_point", "elastic_net_fixed_point",
    "donoho_tanner_rho", "donoho_tanner_alpha",
    # quadratic networks trained by ERM (nuclear route)
    "QuadraticERMFixedPoint", "QuadraticERMStateEvolution", "QuadraticERMThresholds",
    "quadratic_erm", "quadratic_erm_curve", "quadratic_erm_state_evolution",
    "quadratic_erm_thresholds",
    # online SGD
    "REGIONS", "SGDODE", "SIE", "AttentionLandscape", "LossDerivatives", "PhaseDiagram",
    "attention_landscape", "population_loss", "population_loss_derivatives",
    "positional_semantic_phase_diagram", "sequence_information_exponent", "sgd_ode",
    # features after one giant gradient step
    "OneStepFixedPoint", "one_step_test_error", "rf_ridge_test_error", "srf_spectral_inputs",
    # hierarchical targets
    "HierarchicalExponents", "hierarchical_exponents", "quadratic_kernel_peak",
]
