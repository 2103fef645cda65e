"""Ingredients shared by algorithms and theory: priors, channels, losses, quadrature."""

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
    Gaussian,
    Prior,
    Rademacher,
    SparseRademacher,
    Spherical,
    get_prior,
)

__all__ = ["Prior", "Gaussian", "Rademacher", "SparseRademacher", "Spherical", "get_prior"]
__all__ += ["Loss", "Square", "Absolute", "Huber", "Tukey", "Cauchy", "CustomLoss", "get_loss"]
