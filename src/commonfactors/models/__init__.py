"""Linear mixed models in lme4 notation, behind one interface.

:func:`fit_mixed` takes an lme4 formula and returns a :class:`MixedFit`; the engine (nested
sufficient-statistics fast path, general sparse engine for any random part, or the statsmodels
reference) is chosen behind it and reported as ``fit.engine``.
Also the level-pure disaggregation of predictors (:func:`disaggregate`), lagged within-client
predictors (:func:`lag_within`), the default model of each view (:mod:`.terms`) and the lagged
alliance-outcome analysis (:func:`lagged_effects`). :mod:`.inference` adds lmerTest's t-tests
(Satterthwaite, Kenward-Roger), profile intervals, :func:`anova` and the lmerTest-style summary.
"""

from .lagged import lagged_effects
from .mixed import ConvergenceWarning, MixedFit, anova, disaggregate, fit_mixed, lag_within

__all__ = ["fit_mixed", "MixedFit", "ConvergenceWarning", "disaggregate", "lag_within",
           "lagged_effects", "anova"]
