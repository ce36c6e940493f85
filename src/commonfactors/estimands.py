"""Every estimand of the package, defined once: machine name, label, meaning, denominator.

Tables (``decompose(...).table``), the simulator's truth, the claims registry, the figures and
the report all name their numbers with these machine names and word them with these labels.

* ``name``: the snake_case name in the ``estimand`` column of every table;
* ``label``: the estimand in words (axis labels, table headers, the report);
* ``meaning``: what a claim of this estimand states (the claims registry);
* ``denominator``: what the share is a share of, in words ("" for non-shares);
* ``excludes``: factor groups left out of the denominator (``share_therapy_variance``
  excludes the groups outside therapy, :data:`DEFAULT_OUTSIDE` unless the caller names others);
* ``claimable``: whether a published claim may be stated in it.

Examples
--------
>>> from commonfactors.estimands import ESTIMANDS, label
>>> ESTIMANDS["share_therapy_variance"].excludes
('extra_therapeutic',)
>>> label("share_total_variance")
'share of total outcome variance'
>>> label("some_new_number")
'some new number'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Estimand", "ESTIMANDS", "EXTRA_THERAPEUTIC", "DEFAULT_OUTSIDE", "VARIANCE_SHARES",
           "SHARE_ESTIMANDS", "ICC_ESTIMANDS", "CLAIM_ESTIMANDS", "label"]

#: The factor group that carries what happens outside therapy (and the remainder of the mean
#: improvement).
EXTRA_THERAPEUTIC = "extra_therapeutic"
#: Groups counted as outside therapy by default (``share_therapy_variance`` leaves them out).
DEFAULT_OUTSIDE: tuple[str, ...] = (EXTRA_THERAPEUTIC,)


@dataclass(frozen=True)
class Estimand:
    """One estimand: its machine name, label, meaning, denominator and excluded groups."""

    name: str
    label: str
    meaning: str
    denominator: str = ""
    excludes: tuple[str, ...] = ()
    claimable: bool = True


_ALL = (
    # shares of variance and of mean improvement, per factor group
    Estimand("share_total_variance", "share of total outcome variance",
             "share of all outcome variance (incl. therapist, client, residual)",
             "denominator: all outcome variance (therapist, client, residual included)"),
    Estimand("share_explained_variance", "share of explained variance",
             "share of the variance explained by the fixed part (R2m)",
             "denominator: the variance the predictors explain (marginal R\u00b2)"),
    Estimand("share_therapy_variance", "share of therapy-attributable variance",
             "share of the variance explained by the therapy factors "
             "(all groups except extra_therapeutic)",
             "denominator: the explained variance of the groups other than extra-therapeutic",
             excludes=DEFAULT_OUTSIDE),
    Estimand("part_r2", "part R\u00b2 (unique share of total variance)",
             "unique share of total variance (partR2)",
             "what is lost from the marginal R\u00b2 when the group is left out (over total "
             "variance)"),
    Estimand("share_mean_improvement", "share of mean improvement",
             "share of the mean pre-post improvement",
             "denominator: the average improvement; depends on the reference levels"),
    # variance components and model summaries
    Estimand("icc_therapist", "therapist ICC, null model (no predictors)",
             "therapist intraclass correlation"),
    Estimand("icc_therapist_adjusted", "therapist ICC, adjusted model (with the factor columns)",
             "therapist intraclass correlation given the factor columns", claimable=False),
    Estimand("icc_client", "client ICC, null model (no predictors)",
             "client intraclass correlation"),
    Estimand("icc_client_adjusted", "client ICC, adjusted model (with the factor columns)",
             "client intraclass correlation given the factor columns", claimable=False),
    Estimand("d_therapist", "therapist effect in d units, 2\u221a(ICC/(1\u2212ICC))",
             "therapist effect as a standardized difference", claimable=False),
    Estimand("r2_marginal", "marginal R\u00b2 (fixed effects over total variance)",
             "marginal R2 (fixed part)"),
    Estimand("r2_conditional", "conditional R\u00b2 (fixed and random effects over total variance)",
             "conditional R2 (fixed + random parts)"),
    # quantities claims are stated in
    Estimand("correlation", "correlation with improvement",
             "correlation with outcome (zero-order unless noted)"),
    Estimand("cohens_d", "standardized mean difference", "standardized mean difference"),
    Estimand("summed_r2", "sum of squared correlations",
             "sum of overlapping squared correlations (not a share; docs/methods.md section 9.1)"),
    Estimand("proportion", "proportion of people", "proportion of people (e.g. remitted)"),
    Estimand("pre_post_d", "pre-post d", "within-group standardized pre-post change"),
    Estimand("percent_change", "percent change",
             "mean reduction of a symptom score, as a proportion of intake"),
    Estimand("multilevel_slope", "multilevel slopes",
             "slopes of a disaggregated multilevel model (qualitative)"),
)

#: Every estimand by machine name.
ESTIMANDS: dict[str, Estimand] = {e.name: e for e in _ALL}

#: The four variance shares computed per factor group, in table order.
VARIANCE_SHARES: tuple[str, ...] = ("share_total_variance", "share_explained_variance",
                                    "share_therapy_variance", "part_r2")
#: The shares of a factor-shares table, in column order.
SHARE_ESTIMANDS: tuple[str, ...] = VARIANCE_SHARES + ("share_mean_improvement",)
#: Variance-component and model summaries of the ICC / R2 table, in row order.
ICC_ESTIMANDS: tuple[str, ...] = ("icc_therapist", "icc_therapist_adjusted", "icc_client",
                                  "icc_client_adjusted", "d_therapist", "r2_marginal",
                                  "r2_conditional")
#: Estimands a published claim may be stated in.
CLAIM_ESTIMANDS: tuple[str, ...] = tuple(e.name for e in _ALL if e.claimable)


def label(name) -> str:
    """``name`` in words: its label if it is a known estimand, else underscores as spaces."""
    e = ESTIMANDS.get(str(name))
    return e.label if e is not None else str(name).replace("_", " ")
