"""The published and seed claims of docs/claims.md, as plain data.

One entry in ``CLAIM_SOURCES`` per claim id (source, status, a note shared by its parts) and one
entry in ``CLAIM_ROWS`` per claim-part (id, factor, component, estimand, value or range, the
published text). A row may carry ``derive``: the name of a conversion from
:mod:`commonfactors.conversions` (``r_to_r2``, ``d_to_r2``, ``d_to_icc``), optionally with the
published text of the derived figure; :mod:`commonfactors.claims` then adds the derived row
(``share_total_variance`` for ``r_to_r2``/``d_to_r2``, ``icc_therapist`` for ``d_to_icc``) with
``derived_from`` naming the conversion.

Values are proportions (12% -> 0.12), correlations or d as published. Ranges are ``low``/``high``;
a point with a published interval has ``value`` and ``low``/``high``.
"""

from __future__ import annotations

from typing import Any

SEED = "seed documents (the claims this package sets out to test)"

CLAIM_SOURCES: dict[str, dict[str, str]] = {
    # the seed documents
    "seed_relationship_low": {
        "source": SEED,
        "status": "secondary",
        "note": "matches Norcross & Lambert 2011 (relationship 12% of total outcome variance)",
    },
    "seed_relationship_reserved": {
        "source": SEED,
        "status": "secondary",
        "note": "12/30 (Norcross & Lambert 2011) = 40%, or 7.7/13.8 = 56% (alliance r .278 "
        "squared, against psychotherapy-vs-none d .80 converted to r^2 = 13.8%)",
    },
    "seed_relationship_high": {
        "source": SEED,
        "status": "unsupported",
        "note": "estimand unclear; stored as the closest published reading, a nonspecific share "
        "of mean improvement (Cuijpers 2012: 49.6%); unsupported as a variance share; 'up to' "
        "is read as the point 0.80",
    },
    "seed_technique": {
        "source": SEED,
        "status": "secondary",
        "note": "Lambert 1992's technique slice (15% of improvement)",
    },
    "seed_expectancy": {
        "source": SEED,
        "status": "secondary",
        "note": "Lambert 1992's expectancy/placebo slice (15% of improvement)",
    },
    "seed_extra": {
        "source": SEED,
        "status": "secondary",
        "note": "the remainder; Lambert 1992 gives 40%",
    },
    # published figures
    "lambert_1992": {
        "source": "Lambert 1992, handbook chapter; Asay & Lambert 1999",
        "status": "secondary",
        "note": "an expert estimate, not derived statistically; later restated as shares of "
        "variance",
    },
    "norcross_lambert_2011": {
        "source": "Norcross & Lambert 2011, Psychotherapy 48(1):4-8",
        "status": "secondary",
        "note": "40/30 secondary; 12/8/7/3 split secondary",
    },
    "cuijpers_2012": {
        "source": "Cuijpers, Driessen et al. 2012, Clin Psychol Rev 32:280-291",
        "status": "published",
        "note": "arm ratios from 31 RCTs; the specific part vanished after adjusting for "
        "researcher allegiance",
    },
    "flueckiger_2018_alliance": {
        "source": "Flückiger, Del Re, Wampold & Horvath 2018, Psychotherapy 55(4):316-340",
        "status": "published",
        "note": "k = 295, N > 30,000",
    },
    "flueckiger_2020_adjusted": {
        "source": "Flückiger et al. 2020, J Couns Psychol 67:706-711",
        "status": "published",
        "note": "correlation adjusted for intake and process; its square is a share of the "
        "variance left after adjustment, not of total variance, so no share_total_variance "
        "row is derived",
    },
    "baldwin_2007": {
        "source": "Baldwin, Wampold & Imel 2007, JCCP 75:842-852",
        "status": "published",
        "note": "331 clients, 80 therapists",
    },
    "elliott_2018_empathy": {
        "source": "Elliott et al. 2018, Psychotherapy 55:399-410",
        "status": "published",
        "note": "k = 82",
    },
    "constantino_2018_expectancy": {
        "source": "Constantino, Vîslă, Coyne & Boswell 2018, Psychotherapy 55(4)",
        "status": "published",
        "note": "k = 81, N = 12,722; the 2011 meta-analysis gave r = .12; r .18 converts to "
        "d .366 and d .36 to r .177, so the published pair was rounded from an unrounded r",
    },
    "tryon_2018": {
        "source": "Tryon, Birch & Verkuilen 2018",
        "status": "published",
        "note": "",
    },
    "therapist_effects": {
        "source": "Johns, Barkham, Kellett & Saxon 2019, Clin Psychol Rev 67:78-93",
        "status": "published",
        "note": "study estimates range from 0.2% to 29%",
    },
    "wampold_brown_2005": {
        "source": "Wampold & Brown 2005, JCCP",
        "status": "published",
        "note": "6,146 clients, about 581 therapists",
    },
    "saxon_barkham_2012": {
        "source": "Saxon & Barkham 2012, JCCP",
        "status": "published",
        "note": "1-10% depending on severity",
    },
    "schiefele_2017": {
        "source": "Schiefele et al. 2017",
        "status": "published",
        "note": "48,648 clients, 1,800 therapists",
    },
    "wampold_2015_summary": {
        "source": "Wampold 2015, World Psychiatry 14:270-277",
        "status": "secondary",
        "note": "partly secondary: a summary of other meta-analyses",
    },
    "wampold_1997": {
        "source": "Wampold et al. 1997, Psychol Bull 122:203-215",
        "status": "published",
        "note": "",
    },
    "bell_2013_components": {
        "source": "Bell, Marcus & Goodlad 2013, JCCP 81:722-736",
        "status": "published",
        "note": "",
    },
    "psychotherapy_vs_none": {
        "source": "Duncan 2010; Wampold & Imel 2015",
        "status": "published",
        "note": "the whole therapy effect (all therapy-attributable factors together)",
    },
    "whiteford_2013": {
        "source": "Whiteford et al. 2013, Psychol Med 43:1569-1585",
        "status": "published",
        "note": "remission of untreated depression",
    },
    "waitlist_change": {
        "source": "Rutherford et al. 2012; Posternak & Miller 2001",
        "status": "published",
        "note": "percent changes are reductions of the symptom score",
    },
    "kirsch_1998": {
        "source": "Kirsch & Sapirstein 1998",
        "status": "published",
        "note": "antidepressant trials, not psychotherapy",
    },
    "laska_2014": {
        "source": "Laska, Gurman & Wampold 2014, Psychotherapy 51:467-481",
        "status": "secondary",
        "note": "summing overlapping r^2 is the error docs/methods.md section 9.1 forbids",
    },
}

SMI = "share_mean_improvement"
STV = "share_total_variance"

CLAIM_ROWS: list[dict[str, Any]] = [
    # --- seed documents ---------------------------------------------------------------------
    dict(id="seed_relationship_low", factor="relationship", estimand=STV, value=0.12,
         text="12%"),
    dict(id="seed_relationship_reserved", factor="relationship",
         estimand="share_therapy_variance", low=0.40, high=0.50, text="40-50%"),
    dict(id="seed_relationship_high", factor="relationship", estimand=SMI, value=0.80,
         text='up to 80% "with an ideal match"'),
    dict(id="seed_technique", factor="technique", estimand=SMI, value=0.15, text="~15%"),
    dict(id="seed_expectancy", factor="expectancy", estimand=SMI, value=0.15,
         text='~15%, "similar to technique"'),
    dict(id="seed_extra", factor="extra_therapeutic", estimand=SMI, value=None,
         text='the rest ("time effect")'),
    # --- Lambert 1992 -----------------------------------------------------------------------
    dict(id="lambert_1992", factor="extra_therapeutic", component="extratherapeutic",
         estimand=SMI, value=0.40, text="extratherapeutic 40%"),
    dict(id="lambert_1992", factor="relationship", component="common factors/relationship",
         estimand=SMI, value=0.30, text="common factors/relationship 30%"),
    dict(id="lambert_1992", factor="expectancy", component="expectancy/placebo",
         estimand=SMI, value=0.15, text="expectancy/placebo 15%"),
    dict(id="lambert_1992", factor="technique", component="technique", estimand=SMI,
         value=0.15, text="technique 15%"),
    # --- Norcross & Lambert 2011 ------------------------------------------------------------
    dict(id="norcross_lambert_2011", factor="residual", component="unexplained", estimand=STV,
         value=0.40, text="unexplained 40%"),
    dict(id="norcross_lambert_2011", factor="extra_therapeutic", component="patient",
         estimand=STV, value=0.30, text="patient 30%",
         note="patient contributions (severity, ...) read as extra_therapeutic; without patient "
         "covariates in the model this variance sits in the client component"),
    dict(id="norcross_lambert_2011", factor="relationship", component="relationship",
         estimand=STV, value=0.12, text="relationship 12%"),
    dict(id="norcross_lambert_2011", factor="technique", component="method", estimand=STV,
         value=0.08, text="method 8%"),
    dict(id="norcross_lambert_2011", factor="therapist", component="therapist", estimand=STV,
         value=0.07, text="therapist 7%"),
    dict(id="norcross_lambert_2011", factor="other", component="other", estimand=STV,
         value=0.03, text="other 3%"),
    # re-expressed with the other denominators of docs/methods.md section 4 (docs/claims.md, "Reading them
    # together"): explained = 100 - 40 unexplained = 60; therapy = 12 + 8 + 7 + 3 = 30
    dict(id="norcross_lambert_2011", factor="relationship", component="relationship",
         estimand="share_explained_variance", value=0.12 / 0.60, text="12/60 = 20%",
         derived_from="12 / (100 - 40 unexplained)"),
    dict(id="norcross_lambert_2011", factor="relationship", component="relationship",
         estimand="share_therapy_variance", value=0.12 / 0.30, text="12/30 = 40%",
         derived_from="12 / (12 + 8 + 7 + 3 therapy-attributable)"),
    dict(id="norcross_lambert_2011", factor="technique", component="method",
         estimand="share_explained_variance", value=0.08 / 0.60, text="8/60 = 13.3%",
         derived_from="8 / (100 - 40 unexplained)"),
    dict(id="norcross_lambert_2011", factor="technique", component="method",
         estimand="share_therapy_variance", value=0.08 / 0.30, text="8/30 = 26.7%",
         derived_from="8 / (12 + 8 + 7 + 3 therapy-attributable)"),
    # --- Cuijpers 2012 ----------------------------------------------------------------------
    dict(id="cuijpers_2012", factor="extra_therapeutic", component="extra-therapeutic",
         estimand=SMI, value=0.333, text="extra-therapeutic 33.3%"),
    dict(id="cuijpers_2012", factor="nonspecific", component="nonspecific", estimand=SMI,
         value=0.496, text="nonspecific 49.6%"),
    dict(id="cuijpers_2012", factor="technique", component="specific", estimand=SMI,
         value=0.171, text="specific 17.1%"),
    # --- alliance, empathy, expectancy, collaboration ---------------------------------------
    dict(id="flueckiger_2018_alliance", factor="relationship", component="alliance",
         estimand="correlation", value=0.278, low=0.256, high=0.299,
         text="r = .278 [.256, .299]",
         derive=("r_to_r2", "r^2 = 7.7% of total variance")),
    dict(id="flueckiger_2018_alliance", factor="relationship", component="alliance",
         estimand="cohens_d", value=0.579, text="d = .579"),
    dict(id="flueckiger_2020_adjusted", factor="relationship", component="alliance",
         estimand="correlation", low=0.23, high=0.31, text="adjusted r = .23 to .31"),
    dict(id="baldwin_2007", factor="relationship", component="alliance",
         estimand="multilevel_slope", value=None,
         text="therapist part of alliance predicts outcome; client part does not"),
    dict(id="elliott_2018_empathy", factor="relationship", component="empathy",
         estimand="correlation", value=0.28, low=0.23, high=0.33, text="r = .28 [.23, .33]",
         derive="r_to_r2"),
    dict(id="constantino_2018_expectancy", factor="expectancy",
         component="outcome expectations", estimand="correlation", value=0.18,
         text="r = .18", derive=("r_to_r2", "r^2 3.2%")),
    dict(id="constantino_2018_expectancy", factor="expectancy",
         component="outcome expectations", estimand="cohens_d", value=0.36, text="d = .36"),
    dict(id="tryon_2018", factor="relationship", component="goal consensus",
         estimand="correlation", value=0.24, text="goal consensus r = .24", derive="r_to_r2"),
    dict(id="tryon_2018", factor="relationship", component="collaboration",
         estimand="correlation", value=0.29, text="collaboration r = .29", derive="r_to_r2"),
    # --- therapist effects ------------------------------------------------------------------
    dict(id="therapist_effects", factor="therapist", component="all studies",
         estimand="icc_therapist", value=0.05, text="about 5% (range 0.2-29%)"),
    dict(id="therapist_effects", factor="therapist", component="RCTs",
         estimand="icc_therapist", value=0.082, text="RCTs 8.2%"),
    dict(id="therapist_effects", factor="therapist", component="routine care",
         estimand="icc_therapist", value=0.05, text="routine care 5%"),
    dict(id="wampold_brown_2005", factor="therapist", estimand="icc_therapist", value=0.05,
         text="about 5%"),
    dict(id="saxon_barkham_2012", factor="therapist", estimand="icc_therapist", value=0.066,
         text="6.6% (1-10% by severity)"),
    dict(id="schiefele_2017", factor="therapist", estimand="icc_therapist", low=0.0575,
         high=0.072, text="5.75-7.2%"),
    # --- Wampold 2015 summary (Cohen's d) ---------------------------------------------------
    dict(id="wampold_2015_summary", factor="relationship", component="alliance",
         estimand="cohens_d", value=0.57, text="alliance d .57", derive="d_to_r2"),
    dict(id="wampold_2015_summary", factor="relationship", component="empathy",
         estimand="cohens_d", value=0.63, text="empathy d .63", derive="d_to_r2"),
    dict(id="wampold_2015_summary", factor="expectancy", component="expectations",
         estimand="cohens_d", value=0.24, text="expectations d .24", derive="d_to_r2"),
    dict(id="wampold_2015_summary", factor="therapist", component="therapist",
         estimand="cohens_d", low=0.35, high=0.55, text="therapist d .35-.55",
         derive="d_to_icc"),
    dict(id="wampold_2015_summary", factor="technique", component="treatment differences",
         estimand="cohens_d", low=0.0, high=0.20, text="treatment differences d <= .20",
         derive="d_to_r2"),
    dict(id="wampold_2015_summary", factor="technique", component="specific ingredients",
         estimand="cohens_d", value=0.01, text="specific ingredients d .01", derive="d_to_r2"),
    dict(id="wampold_2015_summary", factor="technique", component="adherence",
         estimand="cohens_d", value=0.04, text="adherence d .04", derive="d_to_r2"),
    dict(id="wampold_2015_summary", factor="technique", component="competence",
         estimand="cohens_d", value=0.14, text="competence d .14", derive="d_to_r2"),
    # --- technique --------------------------------------------------------------------------
    dict(id="wampold_1997", factor="technique", component="bona fide treatment differences",
         estimand="cohens_d", low=0.0, high=0.20,
         text="differences between bona fide treatments d <= .20", derive="d_to_r2"),
    dict(id="bell_2013_components", factor="technique", component="dismantling",
         estimand="cohens_d", value=None, text="dismantling n.s."),
    dict(id="bell_2013_components", factor="technique", component="added component (post)",
         estimand="cohens_d", value=0.14, text="added components d = .14 post",
         derive="d_to_r2"),
    dict(id="bell_2013_components", factor="technique",
         component="added component (follow-up)", estimand="cohens_d", value=0.28,
         text="added components d = .28 follow-up", derive="d_to_r2"),
    # --- therapy as a whole, natural course -------------------------------------------------
    dict(id="psychotherapy_vs_none", factor="several", component="therapy vs none",
         estimand="cohens_d", value=0.80, text="d = .80",
         derive=("d_to_r2", "about 14% of variance")),
    dict(id="whiteford_2013", factor="extra_therapeutic", component="3 months",
         estimand="proportion", value=0.23, text="23% remit at 3 months"),
    dict(id="whiteford_2013", factor="extra_therapeutic", component="6 months",
         estimand="proportion", value=0.32, text="32% remit at 6 months"),
    dict(id="whiteford_2013", factor="extra_therapeutic", component="12 months",
         estimand="proportion", value=0.53, text="53% remit at 12 months"),
    dict(id="waitlist_change", factor="extra_therapeutic", component="waitlist",
         estimand="pre_post_d", value=0.50, text="waitlist within-group d = .50"),
    dict(id="waitlist_change", factor="extra_therapeutic", component="HAM-D",
         estimand="percent_change", value=0.119, text="HAM-D -11.9%"),
    dict(id="waitlist_change", factor="extra_therapeutic", component="BDI",
         estimand="percent_change", value=0.157, text="BDI -15.7%"),
    dict(id="kirsch_1998", factor="technique", component="drug", estimand=SMI, value=0.25,
         text="drug 25%"),
    dict(id="kirsch_1998", factor="nonspecific", component="placebo", estimand=SMI,
         value=0.50, text="placebo 50%"),
    dict(id="kirsch_1998", factor="extra_therapeutic", component="natural history",
         estimand=SMI, value=0.25, text="natural history 25%"),
    dict(id="laska_2014", factor="several", component="common factors", estimand="summed_r2",
         value=0.43, text='common factors "about 43%" by summing r^2'),
]
