"""Exception types raised by commonfactors.

Every error derives from :class:`CommonFactorsError`, itself a :class:`ValueError`, so code that
catches ``ValueError`` keeps working. Messages name the parameter or column, what was expected and
what was found, and where possible what to do next.
"""

from __future__ import annotations

__all__ = [
    "CommonFactorsError",
    "ColumnError",
    "DataValidationError",
    "FactorGroupError",
    "ModelSpecError",
    "ConfigError",
    "ArgumentError",
    "EstimationError",
    "ClaimError",
    "SmallDesignWarning",
]


class CommonFactorsError(ValueError):
    """Base class of every error raised by commonfactors."""


class ColumnError(CommonFactorsError):
    """A column is missing, has the wrong type, or has values outside what is allowed."""


class DataValidationError(CommonFactorsError):
    """The data violate the structure the analysis needs (nesting, duplicates, sessions...)."""


class FactorGroupError(CommonFactorsError):
    """A factor-group mapping is invalid (a column in two groups, an empty group, ...)."""


class ModelSpecError(CommonFactorsError):
    """A model formula or model option cannot be used."""


class ConfigError(CommonFactorsError):
    """A simulator configuration or preset parameter is invalid."""


class ArgumentError(ConfigError):
    """A function argument is invalid (wrong type, out of range, unknown name).

    Every argument check of the analysis functions (``decompose``, ``fit_mixed``,
    ``lagged_effects``, the bootstrap) raises this class from one helper,
    :func:`commonfactors._validation.check_analysis_args`; it is a :class:`ConfigError` (and so a
    :class:`CommonFactorsError` and a ``ValueError``), so existing handlers keep working.
    """


class EstimationError(CommonFactorsError):
    """An estimate cannot be computed from the given fit or data."""


class ClaimError(CommonFactorsError):
    """A claim id or a claim definition is invalid."""


class SmallDesignWarning(UserWarning):
    """The design has fewer clusters than the size at which the intervals were shown to hold."""
