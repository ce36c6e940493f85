"""Which interval method each estimand of a decomposition gets, bias-corrected estimates, and the
design size below which the intervals were not shown to hold.

Estimands fall into families that behave alike under the bootstrap:

* ``r2``: explained-variance quantities, bounded below by 0 and biased upwards in small samples
  (a fitted fixed effect carries its sampling variance into ``f = b' Cov(X) b``):
  ``r2_marginal``, ``r2_conditional``, ``part_r2``, ``commonality`` and the factor groups'
  ``share_total_variance``;
* ``ratio``: ratios of them, ``share_explained_variance`` and ``share_therapy_variance``
  (biased downwards for the largest group, upwards for the others);
* ``variance_component``: the therapist, client and residual ``share_total_variance``, the ICCs
  and ``d_therapist`` (bounded by 0, often near it);
* ``mean``: ``share_mean_improvement`` and ``mean_improvement``; ``correlation``; and the Rights
  & Sterba ``component`` measures.

``ci="auto"`` in :func:`commonfactors.decompose` gives each family the method of
:data:`DEFAULT_METHODS`, chosen from the coverage study in the repository's ``bench/coverage.py``
(``bench/README.md`` states the evidence and its Monte Carlo SE); every table row names the
method that made its interval.

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
    "r2": "percentile",
    "ratio": "percentile",
    "variance_component": "percentile",
    "mean": "percentile",
    "correlation": "percentile",
    "component": "percentile",
}
#: families whose bootstrap bias-corrected estimate is reported (``estimate_corrected``)
CORRECTED_FAMILIES = ("r2", "ratio")
#: fewest therapists (clusters) at which the coverage study showed 92-98% coverage
MIN_THERAPISTS = 40

_VARIANCE_PARTS = ("therapist", "client", "residual")


def family(factor: str, estimand: str) -> str:
    """The family of one table row (see the module docstring)."""
    if estimand.startswith("component:"):
        return "component"
    if estimand in ("r2_marginal", "r2_conditional", "part_r2", "commonality"):
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
