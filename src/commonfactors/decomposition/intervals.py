"""Which interval method each estimand of a decomposition gets, bias-corrected estimates, and the
design size below which the intervals were not shown to hold.

Estimands fall into families that behave alike under the bootstrap:

* ``r2_marginal``: the full model's marginal R2, biased upwards in small samples (the fitted
  fixed effects carry their sampling variance into ``f = b' Cov(X) b``), and the bootstrap
  reproduces (and at few therapists exaggerates) that bias, so percentile intervals sit too
  high;
* ``r2``: the other explained-variance quantities, bounded below by 0: ``r2_conditional``,
  ``part_r2``, ``commonality`` and the factor groups' ``share_total_variance``;
* ``ratio``: ratios of them, ``share_explained_variance`` and ``share_therapy_variance``
  (biased downwards for the largest group, upwards for the others);
* ``variance_component``: the therapist, client and residual ``share_total_variance``, the ICCs
  and ``d_therapist`` (bounded by 0, often near it);
* ``mean``: ``share_mean_improvement`` and ``mean_improvement``; ``correlation``; and the Rights
  & Sterba ``component`` measures.

``ci="auto"`` (the default of :func:`commonfactors.decompose`) gives each family the method of
:data:`DEFAULT_METHODS`, chosen from the coverage study in the repository's ``bench/coverage.py``
(``bench/README.md`` states the evidence and its Monte Carlo SE); every table row names the
method that made its interval. The evidence so far (change view, ``wampold_imel_2015``, 40
datasets x 100 replicates per design, and an earlier 200 x 200 percentile study at 40 x 15)
moves one family off the percentile interval: ``r2_marginal`` gets the logit-scale basic
interval (coverage 0.85 against 0.725 for percentile at 40 therapists x 15 clients, paired
difference 0.125 +- 0.089; 0.75 against 0.35 at 13 x 5, 0.40 +- 0.09; the earlier study had
percentile at 0.835 +- 0.026). For the other families no method beat the percentile interval
consistently: the logit-scale basic interval helps the largest group's share of explained
variance but hurts the small groups' shares, and the basic and bias-corrected percentile
intervals undercover shares near 0, so they keep the percentile interval.

:data:`MIN_THERAPISTS` is the smallest number of therapists (clusters) at which that study
showed the intervals to cover 92-98%; below it ``decompose`` adds a note and a
:class:`~commonfactors.errors.SmallDesignWarning`.
"""

from __future__ import annotations

import numpy as np

from ..bootstrap import INTERVAL_METHODS, bias_corrected, interval

__all__ = ["family", "default_method", "DEFAULT_METHODS", "CORRECTED_FAMILIES", "MIN_THERAPISTS",
           "choose_intervals", "corrected_estimates"]

#: default interval method per estimand family (``ci="auto"``)
DEFAULT_METHODS = {
    "r2_marginal": "logit_basic",
    "r2": "percentile",
    "ratio": "percentile",
    "variance_component": "percentile",
    "mean": "percentile",
    "correlation": "percentile",
    "component": "percentile",
}
#: families whose bootstrap bias-corrected estimate is reported (``estimate_corrected``)
CORRECTED_FAMILIES = ("r2_marginal", "r2", "ratio")
#: fewest therapists (clusters) at which the coverage study showed 92-98% coverage
MIN_THERAPISTS = 40

_VARIANCE_PARTS = ("therapist", "client", "residual")


def family(factor: str, estimand: str) -> str:
    """The family of one table row (see the module docstring)."""
    if estimand.startswith("component:"):
        return "component"
    if estimand == "r2_marginal":
        return "r2_marginal"
    if estimand in ("r2_conditional", "part_r2", "commonality"):
        return "r2"
    if estimand == "share_total_variance":
        return "variance_component" if factor in _VARIANCE_PARTS else "r2"
    if estimand in ("share_explained_variance", "share_therapy_variance"):
        return "ratio"
    if estimand.startswith("icc_") or estimand == "d_therapist":
        return "variance_component"
    if estimand in ("share_mean_improvement", "mean_improvement"):
        return "mean"
    return "correlation" if estimand == "correlation" else "component"


def default_method(estimand: str, factor: str) -> str:
    """The interval method ``ci="auto"`` uses for this estimand."""
    return DEFAULT_METHODS[family(factor, estimand)]


def choose_intervals(keys, point: np.ndarray, reps: np.ndarray, ci: str,
                     level: float = 0.95) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Limits and method name per estimand: ``ci`` for all, or each family's default (auto)."""
    methods = [default_method(e, f) if ci == "auto" else ci for f, e in keys]
    lo = np.full(len(point), np.nan)
    hi = np.full(len(point), np.nan)
    for m in dict.fromkeys(methods):
        if m not in INTERVAL_METHODS:
            continue
        sel = np.array([x == m for x in methods])
        lo[sel], hi[sel] = interval(m, reps[:, sel], point[sel], level)
    return lo, hi, methods


def corrected_estimates(keys, point: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """Bootstrap bias-corrected estimate ``2 t - mean(t*)`` for the R2-type families, NaN else."""
    out = np.full(len(point), np.nan)
    sel = np.array([family(f, e) in CORRECTED_FAMILIES for f, e in keys])
    if sel.any() and len(reps):
        out[sel] = bias_corrected(reps[:, sel], point[sel])
    return out
