"""Arm-level data: random-effects meta-regression and design-based shares of mean improvement."""

from ._arms import one_outcome_per_study
from .metareg import (
    ARM_TYPES,
    MetaRegression,
    design_based_shares,
    pre_post_variance,
    random_effects_metareg,
)

__all__ = ["ARM_TYPES", "MetaRegression", "random_effects_metareg", "pre_post_variance",
           "design_based_shares", "one_outcome_per_study"]
