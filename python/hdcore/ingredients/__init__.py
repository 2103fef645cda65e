"""Ingredients shared by algorithms and theory: priors, channels, losses, activations and
targets, quadrature. Each knows its algorithmic update AND the Gaussian expectations its theory
needs."""

from hdcore.ingredients.activations import (
    Activation,
    AttentionTarget,
    ScalarTarget,
    get_activation,
    get_target,
    positional_semantic_matrix,
)
from hdcore.ingredients.channels import BuiltinChannel, CallableLink, Channel, get_channel
from hdcore.ingredients.classification_losses import (
    ClassificationLoss,
    Hinge,
    Logistic,
    SquareHinge,
    SquareMargin,
    get_classification_loss,
)
from hdcore.ingredients.hermite import HermiteCoefficients, hermite_coefficients
from hdcore.ingredients.losses import (
    Absolute,
    Cauchy,
    CustomLoss,
    Huber,
    Loss,
    Square,
    Tukey,
    get_loss,
)
from hdcore.ingredients.priors import (
    Binary,
    Exponential,
    GaussBernoulli,
    Gaussian,
    GaussMixture,
    Laplace,
    Positive,
    Prior,
    Rademacher,
    SparseRademacher,
    Spherical,
    get_prior,
)
from hdcore.ingredients.product_prior import ProductPrior

__all__ = [
    "Prior", "Gaussian", "Rademacher", "SparseRademacher", "Spherical", "get_prior",
    "GaussBernoulli", "Binary", "Exponential", "Positive", "Laplace", "GaussMixture",
    "ProductPrior",
    "HermiteCoefficients", "hermite_coefficients",
    "Channel", "BuiltinChannel", "CallableLink", "get_channel",
    "Loss", "Square", "Absolute", "Huber", "Tukey", "Cauchy", "CustomLoss", "get_loss",
    "ClassificationLoss", "Logistic", "Hinge", "SquareHinge", "SquareMargin",
    "get_classification_loss",
    "Activation", "ScalarTarget", "AttentionTarget", "get_activation", "get_target",
    "positional_semantic_matrix",
]
