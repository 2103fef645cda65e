"""Ingredients shared by algorithms and theory: priors, channels, losses, quadrature."""

from hdcore.ingredients.channels import BuiltinChannel, CallableLink, Channel, get_channel
from hdcore.ingredients.product_prior import ProductPrior
from hdcore.ingredients.priors import (
    Gaussian,
    Prior,
    Rademacher,
    SparseRademacher,
    Spherical,
    get_prior,
)

__all__ = ["Prior", "Gaussian", "Rademacher", "SparseRademacher", "Spherical", "get_prior",
           "Channel", "BuiltinChannel", "CallableLink", "get_channel", "ProductPrior"]
