"""The design-based section of the HTML report, for arm-level meta-analytic data.

Client-level datasets get the decomposition sections of :mod:`commonfactors.report._sections`;
arm-level data (one row per trial arm: natural-course, non-specific and active arms) support
only the design-based shares of mean improvement (arm ratios). :func:`analyse_metapsy` runs them
on the bundled Metapsy database with the main sensitivity analyses; :func:`arm_section` renders
the result. Estimates are computed once here and only formatted in the HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import _html as H

_FACTORS = ("extra_therapeutic", "nonspecific", "technique")
_FACTOR_WORDS = {
    "extra_therapeutic": "natural course (waitlist arms): WL / A",
    "nonspecific": "non-specific (supportive counselling adds): (P \u2212 WL) / A",
    "technique": "specific (bona fide therapy adds): (A \u2212 P) / A",
}
_ESTIMAND = "share_mean_improvement"


@dataclass(frozen=True)
class ArmLevelResult:
    """Design-based shares of one arm-level dataset, with sensitivities, for the report."""

    name: str
    description: str
    source: str
    licence: str
    citation: str
    cannot_estimate: dict[str, str]
    arm_summary: pd.DataFrame
    shares: pd.DataFrame
    sensitivity: pd.DataFrame
    claims: pd.DataFrame
    settings: list[str] = field(default_factory=list)


def analyse_metapsy(n_boot: int, seed: int | None, n_boot_sensitivity: int | None = None,
                    pre_post_r: float = 0.5) -> ArmLevelResult:
    """Design-based shares on ``load_dataset("metapsy_depression", view="arms")``.

    One instrument per trial (the database's hierarchy), care as usual and other controls
    kept apart, trial and arm random effects, ``pre_post_r`` for the sampling variances,
    ``n_boot`` bootstrap replicates over trials (``n_boot_sensitivity``, default
    ``min(n_boot, 200)``, for each sensitivity analysis).
    """
    from ..claims import compare_claims
    from ..datasets import load_dataset
    from ..meta import design_based_shares, one_outcome_per_study

    all_arms = load_dataset("metapsy_depression", view="arms")
    meta = all_arms.attrs["commonfactors"]
    pick = dict(study_col="study", outcome_col="instrument", priority_col="outcome_priority")
    arms = one_outcome_per_study(all_arms, **pick)
    apart: dict[str, str | None] = {"usual_care": None, "other_control": None}
    design = dict(arm_col="arm_type", change_col="change", study_col="study", n_col="n",
                  arm_level=True)
    shares = design_based_shares(arms, mapping=apart, pre_post_r=pre_post_r, n_boot=n_boot,
                                 seed=seed, **design)
    n_sens = min(n_boot, 200) if n_boot_sensitivity is None else n_boot_sensitivity
    variants: dict[str, tuple[pd.DataFrame, dict[str, str | None], float]] = {
        "care as usual as natural course": (
            arms, {"usual_care": "natural_course", "other_control": None}, pre_post_r),
        "self-report instruments only": (
            one_outcome_per_study(all_arms[all_arms["rating"] == "self-report"], **pick),
            apart, pre_post_r),
        "clinician-rated instruments only": (
            one_outcome_per_study(all_arms[all_arms["rating"] == "clinician"], **pick),
            apart, pre_post_r),
        "risk of bias: at least 3 of 4 criteria low": (arms[arms["rob"] >= 3], apart,
                                                        pre_post_r),
        "published up to 2011": (arms[arms["year"] <= 2011], apart, pre_post_r),
        "published 2012 or later": (arms[arms["year"] >= 2012], apart, pre_post_r),
        "pre-post correlation r = 0.3": (arms, apart, 0.3),
        "pre-post correlation r = 0.7": (arms, apart, 0.7),
    }
    rows = []
    for label, (data, mapping, r) in variants.items():
        out = design_based_shares(data, mapping=mapping, pre_post_r=r, n_boot=n_sens,
                                  seed=seed, **design)
        sup = int(data.loc[data["arm_type"] == "nonspecific", "study"].nunique())
        rows.append(out.assign(analysis=label, trials_nonspecific=sup))
    sensitivity = pd.concat(rows, ignore_index=True)
    summary = (
        arms.groupby("arm_type")
        .agg(arms=("change", "size"), trials=("study", "nunique"),
             mean_change=("change", "mean"))
        .reset_index()
    )
    claims = compare_claims(shares, claims=["cuijpers_2012", "lambert_1992", "kirsch_1998"])
    settings = [
        f"{meta['arms']['n_arms']} arms of {meta['arms']['n_studies_with_arms']} trials with "
        "baseline and post-test data; one instrument per trial (HAM-D, BDI, other "
        f"clinician-rated, then self-report): {len(arms)} arms of {arms['study'].nunique()} "
        "trials",
        "arm types: natural course = waitlist; non-specific = non-directive supportive "
        "counselling; active = bona fide therapies; care as usual and other controls kept "
        "apart (not used in the main shares)",
        "within-arm change = (baseline mean \u2212 post-test mean) / baseline SD; sampling "
        f"variance 2(1 \u2212 r)/n + d\u00b2/(2n) with pre-post correlation r = {pre_post_r}",
        "random-effects meta-regression (REML) on arm type with trial and arm random effects; "
        f"percentile bootstrap over trials, {n_boot} replicates (each sensitivity analysis "
        f"{n_sens})",
    ]
    return ArmLevelResult(
        name="metapsy_depression",
        description=meta["description"],
        source=meta["source"],
        licence=meta["licence"],
        citation=meta["citation"],
        cannot_estimate=dict(meta["cannot_estimate"]),
        arm_summary=summary,
        shares=shares,
        sensitivity=sensitivity,
        claims=claims,
        settings=settings,
    )


def toc_entry(anchor: str, name: str) -> str:
    return f'<li><a href="#{anchor}">{H.esc(name)}</a> (arm-level data: design-based shares)</li>'


def arm_section(i: int, anchor: str, res: ArmLevelResult) -> str:
    """The ``<section>`` of one arm-level dataset."""
    parts = [f'<section class="armlevel" id="{anchor}"><h2>{i}. {H.esc(res.name)}</h2>',
             f"<p>{H.esc(res.description)}</p>",
             "<p>Arm-level data: no client-level outcomes, so no variance decomposition. "
             "The design-based shares of mean improvement split the average improvement of "
             "bona fide therapy arms (A) by the improvement of waitlist arms (WL) and of "
             "supportive-counselling arms (P).</p>",
             H.box("info", "Settings", res.settings)]

    rows = [[H.td(r["arm_type"]), H.td(int(r["arms"])), H.td(int(r["trials"])),
             H.td(H.fmt(r["mean_change"]))] for r in res.arm_summary.to_dict("records")]
    parts.append("<h3>Arms</h3>")
    parts.append(H.simple_table(["arm type", "arms", "trials", "mean change (SD units)"], rows,
                                attrs=' data-table="arms"'))

    parts.append("<h3>Design-based shares of mean improvement</h3>")
    by = {r["factor"]: r for r in res.shares.to_dict("records")}
    rows = [[H.td(_FACTOR_WORDS[f]), H.estimate_cell(by.get(f), factor=f, estimand=_ESTIMAND)]
            for f in _FACTORS]
    parts.append(H.simple_table(["part of the active arms' improvement", "estimate [95% CI]"],
                                rows, attrs=' data-table="design_shares"'))
    failed = int(res.shares["n_failed"].iloc[0]) if len(res.shares) else 0
    parts.append(f"<p>{int(res.shares['n_boot'].iloc[0])} bootstrap replicates over trials, "
                 f"{failed} failed (a resample without one of the arm types, or a fit that did "
                 "not converge); failed replicates are left out of the intervals.</p>")

    parts.append("<h3>Sensitivity analyses</h3>")
    rows = []
    for label, grp in res.sensitivity.groupby("analysis", sort=False):
        g = {r["factor"]: r for r in grp.to_dict("records")}
        rows.append([H.td(label)]
                    + [H.estimate_cell(g.get(f), factor=f, estimand=_ESTIMAND) for f in _FACTORS]
                    + [H.td(int(grp["trials_nonspecific"].iloc[0])),
                       H.td(f"{int(grp['n_failed'].iloc[0])} of {int(grp['n_boot'].iloc[0])}")])
    parts.append(H.simple_table(
        ["analysis", "natural course", "non-specific", "specific",
         "trials with a supportive arm", "failed replicates"],
        rows, attrs=' data-table="design_sensitivity"'))

    parts.append("<h3>Claims</h3>")
    rows = []
    for r in res.claims.to_dict("records"):
        rows.append([H.td(r["claim"]), H.td(r["factor"]), H.td(r["claimed"]),
                     H.td(H.fmt(r["estimate"], True) + " " + H.fmt_ci(r["ci_low"], r["ci_high"],
                                                                      True)),
                     H.td(r["verdict"])])
    parts.append(H.simple_table(["claim", "factor", "claimed", "estimate", "verdict"], rows,
                                attrs=' data-table="design_claims"'))

    parts.append("<h3>What this dataset cannot estimate</h3>")
    parts.append(H.box("warn", "Not estimable from these data",
                       [f"{k}: {v}" for k, v in res.cannot_estimate.items()]))
    parts.append("<p>Waitlist arms and supportive-counselling arms come from different trials, "
                 "whose patients, instruments and years differ: the natural-course and "
                 "non-specific shares are ratios of the improvement seen in each kind of arm, "
                 "not causal effects. The specific share rests mostly on multi-arm trials that "
                 "randomised to both supportive counselling and a bona fide therapy.</p>")
    parts.append("<h3>Source, licence and citation</h3>")
    parts.append(H.box("info", "Data", [f"Source: {res.source}", f"Licence: {res.licence}",
                                         f"Cite: {res.citation}"]))
    parts.append("</section>")
    return "".join(parts)


def is_arm_level(res: Any) -> bool:
    return isinstance(res, ArmLevelResult)
