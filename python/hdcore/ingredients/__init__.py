"""Ingredients shared by algorithms and theory: priors, channels, losses, quadrature."""

from hdcore.ingredients.priors import (
    Gaussian,
    Prior,
    Rademacher,
    SparseRademacher,
    Spherical,
    get_prior,
)

__all__ = ["Prior", "Gaussian", "Rademacher", "SparseRademacher", "Spherical", "get_prior"]
