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
* ``therapist_variance``: the therapist's ``share_total_variance``, ``icc_therapist``,
  ``icc_therapist_adjusted`` (and at time points) and ``d_therapist``: bounded by 0 and often
  near it (a therapist share of about 1% gives many singular fits);
* ``variance_component``: the client and residual ``share_total_variance`` and the client ICCs;
* ``mean``: ``share_mean_improvement`` and ``mean_improvement``; ``correlation``; and the Rights
  & Sterba ``component`` measures.

``ci="auto"`` (the default of :func:`commonfactors.decompose`) gives each family the method of
:data:`DEFAULT_METHODS`, chosen from the coverage study in the repository's ``bench/coverage.py``
(``bench/README.md`` states the evidence and its Monte Carlo SE); every table row names the
method that made its interval.

* ``therapist_variance`` gets the **profile-likelihood interval** (:mod:`._profile_ci`): the
  cluster bootstrap cannot cover a variance near zero (a singular fit's replicates are mostly
  singular again, so the percentile interval collapses to about ``[0, 0.003]``), while the
  likelihood rules out only what the data rule out. Over 200 datasets per cell (both views;
  ``wampold_imel_2015``, ``norcross_lambert_2011``, ``spurious_alliance``; 13 x 5, 40 x 15 and
  100 x 10 therapists x clients) the profile interval covered 0.915-0.995, against 0.62-0.95
  for the percentile interval. It needs a random therapist intercept (a 1 x 1 block);
  otherwise (random slopes on therapists, the general engine, least squares) those rows keep
  the percentile interval and say so.
* ``r2_marginal`` gets the logit-scale basic interval: the estimate is biased upwards and the
  bootstrap reproduces the bias, so percentile intervals sit too high (mean coverage at 40 and
  100 therapists 0.932 against 0.838 for percentile).
* Every other family keeps the percentile interval: no method beat it (mean coverage over the
  other estimands and cells at 40 and 100 therapists: percentile 0.912, bias-corrected
  percentile 0.895, logit-scale basic 0.878, basic 0.868). The profile interval does not help
  the client's shares (0.80-0.95): they depend on the fixed part's explained variance as much
  as on the client variance, and profiling one variance leaves that out.

:data:`MIN_THERAPISTS` is the smallest number of therapists (clusters) at which that study
showed the intervals to come within sampling error of 92-98% (mean coverage 0.92-0.93 at 40
and 100 therapists, named exceptions apart); at 13 therapists x 5 clients the bootstrap
intervals covered 0.77-0.90 on average and down to 0.12 for single estimands, while the
profile intervals held (0.965-0.99). Below it ``decompose`` adds a note and a
:class:`~commonfactors.errors.SmallDesignWarning`.
"""

from __future__ import annotations

import numpy as np

from ..bootstrap import INTERVAL_METHODS, bias_corrected, interval

__all__ = ["family", "default_method", "DEFAULT_METHODS", "CORRECTED_FAMILIES", "MIN_THERAPISTS",
           "METHODS", "choose_intervals", "corrected_estimates"]

#: every interval method a decomposition row can have: the bootstrap's, BCa and the profile
METHODS = INTERVAL_METHODS + ("bca", "profile")

#: default interval method per estimand family (``ci="auto"``)
DEFAULT_METHODS = {
    "r2_marginal": "logit_basic",
    "therapist_variance": "profile",
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
    if factor == "therapist" and (estimand == "share_total_variance"
                                  or estimand.startswith("icc_") or estimand == "d_therapist"):
        return "therapist_variance"
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
                     level: float = 0.95, profile: dict | None = None
                     ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Limits and method name per estimand: ``ci`` for all, or each family's default (auto).

    ``profile`` maps ``(factor, estimand)`` to the profile-likelihood limits where the model
    allows them (:mod:`._profile_ci`); a row whose method is ``"profile"`` but that has none
    (random slopes on the role, least squares, a profile that failed) gets the percentile
    interval instead, and its ``method`` says so. Without replicates (``n_boot=0``) only the
    profile rows get limits.
    """
    profile = profile or {}
    methods = [default_method(e, f) if ci == "auto" else ci for f, e in keys]
    methods = [m if m != "profile" or k in profile else "percentile"
               for m, k in zip(methods, keys, strict=True)]
    if not len(reps):
        methods = [m if m == "profile" else "none" for m in methods]
    lo = np.full(len(point), np.nan)
    hi = np.full(len(point), np.nan)
    for m in dict.fromkeys(methods):
        if m not in INTERVAL_METHODS:
            continue
        sel = np.array([x == m for x in methods])
        lo[sel], hi[sel] = interval(m, reps[:, sel], point[sel], level)
    for i, (k, m) in enumerate(zip(keys, methods, strict=True)):
        if m == "profile":
            lo[i], hi[i] = profile[k]
    return lo, hi, methods


def corrected_estimates(keys, point: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """Bootstrap bias-corrected estimate ``2 t - mean(t*)`` for the R2-type families, NaN else."""
    out = np.full(len(point), np.nan)
    sel = np.array([family(f, e) in CORRECTED_FAMILIES for f, e in keys])
    if sel.any() and len(reps):
        out[sel] = bias_corrected(reps[:, sel], point[sel])
    return out
