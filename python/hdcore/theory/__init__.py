"""Theory: state evolution, replica free entropies, random-matrix predictions, thresholds."""

from hdcore.theory.bbp import BBP, bbp
from hdcore.theory.low_rank import (
    FixedPoints,
    StateEvolution,
    algorithmic_threshold,
    fixed_points,
    free_entropy,
    information_theoretic_threshold,
    state_evolution,
)
from hdcore.theory.glm import (  # noqa: F811  (state_evolution dispatches on the model type)
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
    "GAMPFixedPoints",
    "GLMStateEvolution",
    "SpectralPrediction",
    "WeakRecovery",
    "gamp_fixed_points",
    "gamp_state_evolution",
    "glm_free_entropy",
    "glm_thresholds",
    "spectral_prediction",
    "weak_recovery_threshold",
]
