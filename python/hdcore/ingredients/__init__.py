"""Ingredients shared by algorithms and theory: priors, channels, losses, quadrature."""

from hdcore.ingredients.activations import (
    Activation,
    AttentionTarget,
    ScalarTarget,
    get_activation,
    get_target,
    positional_semantic_matrix,
)
from hdcore.ingredients.priors import (
    Gaussian,
    Prior,
    Rademacher,
    SparseRademacher,
    Spherical,
    get_prior,
)

__all__ = ["Prior", "Gaussian", "Rademacher", "SparseRademacher", "Spherical", "get_prior",
           "Activation", "ScalarTarget", "AttentionTarget", "get_activation", "get_target",
           "positional_semantic_matrix"]
