"""Factor-group shares, variance components and shares of mean improvement.

:func:`decompose` fits the default model of a view (or takes a :class:`~commonfactors.MixedFit`)
and returns a :class:`Decomposition`: every number labelled with its estimand and given a
cluster-bootstrap interval.
"""

from .api import Decomposition, components, decompose

__all__ = ["decompose", "Decomposition", "components"]
