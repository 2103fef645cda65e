"""Theory: state evolution, replica free entropies, random-matrix predictions, thresholds,
SGD ODEs and population landscapes."""

from hdcore.theory import matrix_sensing
from hdcore.theory.bbp import BBP, bbp
from hdcore.theory.erm import ERMFixedPoint, TuneResult, erm_fixed_point, ridge_closed_form, tune
from hdcore.theory.low_rank import (
    FixedPoints,
    StateEvolution,
    algorithmic_threshold,
    fixed_points,
    free_entropy,
    information_theoretic_threshold,
    state_evolution,
)
from hdcore.theory.matrix_sensing import SensingFixedPoint, perfect_recovery_threshold
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
    "BBP",
    "bbp",
    "FixedPoints",
    "StateEvolution",
    "algorithmic_threshold",
    "fixed_points",
    "free_entropy",
    "information_theoretic_threshold",
    "state_evolution",
    "matrix_sensing",
    "SensingFixedPoint",
    "perfect_recovery_threshold",
    "REGIONS",
    "SGDODE",
    "SIE",
    "AttentionLandscape",
    "LossDerivatives",
    "PhaseDiagram",
    "attention_landscape",
    "population_loss",
    "population_loss_derivatives",
    "positional_semantic_phase_diagram",
    "sequence_information_exponent",
    "sgd_ode",
]
__all__ += ["ERMFixedPoint", "TuneResult", "erm_fixed_point", "ridge_closed_form", "tune"]
