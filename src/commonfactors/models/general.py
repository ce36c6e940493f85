"""The general mixed-model engine's public names (used by the decomposition and the inference).

:class:`GeneralStats` holds the cross-products of a model with any random part,
:func:`fit_general` minimises its profiled (RE)ML deviance, :func:`select_columns` keeps a subset
of the fixed columns (the decomposition's subset refits), :func:`general_modes` gives the
conditional modes. See :mod:`commonfactors.models._general` for the method.
"""

from ._general import GeneralStats, dev_grad, deviance, select_columns
from ._general_fit import GeneralFit, evaluate_general, fit_general, general_modes, hessian_general

__all__ = ["GeneralStats", "GeneralFit", "fit_general", "evaluate_general", "general_modes",
           "hessian_general", "deviance", "dev_grad", "select_columns"]
