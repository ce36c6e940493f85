"""The Metapsy depression psychotherapy-vs-control database (version 24.0.2) as a named dataset.

``build_metapsy_depression`` checks the shipped comparison table and adds the arm type of each
side; ``metapsy_arms`` turns it into one row per trial arm and instrument, with the within-arm
standardized pre-post change, counting a control arm shared by several comparisons of one trial
once. ``METAPSY`` is the fixed description joined into ``attrs["commonfactors"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataValidationError

# condition label -> arm type
METAPSY_THERAPIES = ("cbt", "bat", "pst", "ipt", "dyn", "3rd", "lrt", "other psy")
METAPSY_ARM_TYPES = {
    **{t: "active" for t in METAPSY_THERAPIES},
    "sup": "nonspecific",
    "wl": "natural_course",
    "cau": "usual_care",
    "other ctr": "other_control",
}

METAPSY_COLUMNS = (
    "comparison", "metapsy_id", "study", "condition_arm1", "condition_arm2", "multi_arm1",
    "multi_arm2", "outcome_type", "instrument", "rating", "time", "time_weeks",
    "baseline_m_arm1", "baseline_sd_arm1", "baseline_n_arm1", "baseline_m_arm2",
    "baseline_sd_arm2", "baseline_n_arm2", "mean_arm1", "sd_arm1", "n_arm1", "mean_arm2",
    "sd_arm2", "n_arm2", "mean_change_arm1", "sd_change_arm1", "n_change_arm1",
    "mean_change_arm2", "sd_change_arm2", "n_change_arm2", "rand_arm1", "rand_arm2",
    "attr_arm1", "attr_arm2", "g", "g_se", "year", "format", "n_sessions_arm1", "country",
    "age_group", "mean_age", "percent_women", "recruitment", "diagnosis", "target_group",
    "comorbid_mental", "sg", "ac", "ba", "itt", "rob",
)  # fmt: skip

# Preference order of instruments when one outcome per trial is wanted (lower = preferred),
# after the database's own hierarchy: HAM-D, BDI (I or II), another clinician-rated
# instrument, another self-report instrument with priority PHQ-9, CES-D, HADS, GDS, EPDS, MMPI.
_HAMD = ("hdrs-17", "hdrs-21", "hdrs-24", "hdrs-28", "hdrs-29", "hdrs-18", "hdrs-6")
_SELF_REPORT_ORDER = ("phq-9", "ces-d", "hads-d", "gds", "epds", "mmpi-d")


def outcome_priority(instrument: str, rating: str) -> int:
    """Rank of an instrument in the one-outcome-per-trial hierarchy (0 = first choice)."""
    ins = str(instrument).strip().lower()
    if ins in _HAMD:
        return _HAMD.index(ins)  # 0..6
    if ins in ("bdi-2", "bdi-1"):
        return 10 + ("bdi-2", "bdi-1").index(ins)
    if str(rating) == "clinician":
        return 20
    if ins in _SELF_REPORT_ORDER:
        return 30 + _SELF_REPORT_ORDER.index(ins)
    return 40


def build_metapsy_depression(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The shipped comparison table -> the same rows with ``arm_type_arm1``/``arm_type_arm2``."""
    name = "metapsy_depression"
    missing = [c for c in METAPSY_COLUMNS if c not in raw.columns]
    if missing:
        raise DataValidationError(
            f"dataset {name!r}: column(s) {', '.join(map(repr, missing))} not found in the "
            "shipped CSV; rebuild it with `python tools/convert_metapsy.py`."
        )
    for side in ("arm1", "arm2"):
        col = f"condition_{side}"
        unknown = sorted(set(raw[col].astype(str)) - set(METAPSY_ARM_TYPES))
        if unknown:
            raise DataValidationError(
                f"dataset {name!r}: column {col!r} has label(s) {unknown}; expecting one of "
                f"{', '.join(METAPSY_ARM_TYPES)}."
            )
    out = raw.loc[:, list(METAPSY_COLUMNS)].copy()
    pos = out.columns.get_loc("condition_arm2") + 1
    out.insert(pos, "arm_type_arm1", out["condition_arm1"].map(METAPSY_ARM_TYPES))
    out.insert(pos + 1, "arm_type_arm2", out["condition_arm2"].map(METAPSY_ARM_TYPES))
    # 0/1 indicators for comparison-level meta-regressions of g
    out.insert(pos + 2, "bona_fide_arm1", (out["arm_type_arm1"] == "active").astype("int64"))
    out.insert(pos + 3, "waitlist_arm2", (out["condition_arm2"] == "wl").astype("int64"))
    report = {
        "n_rows_read": len(raw),
        "n_dropped": 0,
        "dropped_by": {},
        "n_studies": int(out["study"].nunique()),
    }
    return out, report


# per-trial (or per-comparison) attributes carried onto every arm row
_TRIAL_COLUMNS = ("year", "format", "country", "age_group", "recruitment", "diagnosis",
                  "target_group", "sg", "ac", "ba", "itt", "rob")  # fmt: skip


def metapsy_arms(comparisons: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per trial arm and instrument, with the within-arm standardized pre-post change.

    ``change = (baseline mean - post mean) / baseline SD`` (positive = fewer symptoms; every
    instrument scores higher = more depressed); where a trial reported change scores instead
    of post-test means, ``change = -mean change / baseline SD``. ``n`` is the number of
    participants in the post-test mean (or change score). A control arm that appears in
    several comparisons of one trial (one waitlist against two therapies) has identical
    numbers in each row and is kept once; ``n_comparisons`` says in how many rows it appeared.
    Arms without a baseline mean and SD and a post-test mean (or change score) are dropped
    and counted in the report.
    """
    parts = []
    for side, role in (("arm1", "therapy"), ("arm2", "control")):
        c = comparisons
        part = pd.DataFrame(
            {
                "study": c["study"].astype(str),
                "role": role,
                "condition": c[f"condition_{side}"].astype(str),
                "multi_arm": c[f"multi_{side}"],
                "arm_type": c[f"arm_type_{side}"],
                "instrument": c["instrument"].astype(str),
                "rating": c["rating"].astype(str),
                "pre_mean": c[f"baseline_m_{side}"].astype(float),
                "pre_sd": c[f"baseline_sd_{side}"].astype(float),
                "post_mean": c[f"mean_{side}"].astype(float),
                "post_sd": c[f"sd_{side}"].astype(float),
                "mean_change": c[f"mean_change_{side}"].astype(float),
                "n_post": c[f"n_{side}"].astype(float),
                "n_change": c[f"n_change_{side}"].astype(float),
                "comparison": c["comparison"].astype("int64"),
                **{k: c[k] for k in _TRIAL_COLUMNS},
            }
        )
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    n_arm_rows = len(long)
    has_post = long[["pre_mean", "pre_sd", "post_mean", "n_post"]].notna().all(axis=1)
    has_change = (
        ~has_post & long[["pre_sd", "mean_change", "n_change"]].notna().all(axis=1)
    )
    usable = (has_post | has_change) & (long["pre_sd"] > 0)
    n_col = np.where(has_post, long["n_post"], long["n_change"])
    usable &= pd.Series(n_col > 1, index=long.index)
    long["n"] = n_col
    long["change"] = np.where(
        has_post,
        (long["pre_mean"] - long["post_mean"]) / long["pre_sd"],
        -long["mean_change"] / long["pre_sd"],
    )
    long["change_source"] = np.where(has_post, "pre_post_means", "change_score")
    dropped = int((~usable).sum())
    long = long.loc[usable].copy()

    # an arm is identified by the numbers its change is computed from (one trial, Burns 2013,
    # repeats its therapy arm with post-test SDs 4.2 and 4.3; the SD of its first comparison is
    # kept). Rows are put in comparison order first, so the result does not depend on the
    # order of the input rows.
    long = long.sort_values(["comparison", "role"], kind="mergesort")
    key = ["study", "role", "condition", "multi_arm", "instrument", "pre_mean", "pre_sd",
           "post_mean", "mean_change", "n"]  # fmt: skip
    grouped = long.groupby(key, dropna=False, sort=False)
    arms = grouped.first().reset_index()
    arms["n_comparisons"] = grouped.size().to_numpy()
    arms["comparisons"] = grouped["comparison"].agg(
        lambda s: ";".join(str(int(x)) for x in sorted(s))
    ).to_numpy()
    arms = arms.drop(columns=["comparison", "n_post", "n_change"])
    arms["outcome_priority"] = [
        outcome_priority(i, r) for i, r in zip(arms["instrument"], arms["rating"], strict=True)
    ]
    arms = arms.sort_values(
        ["study", "instrument", "role", "condition", "multi_arm", "pre_mean"],
        kind="mergesort", na_position="first",
    ).reset_index(drop=True)
    # arm label unique within a study: the condition, the multi-arm detail when there is one
    label = arms["condition"].where(arms["multi_arm"].isna(),
                                    arms["condition"] + " | " + arms["multi_arm"].astype(str))
    arms.insert(1, "arm", label)
    order = ["study", "arm", "role", "condition", "multi_arm", "arm_type", "instrument",
             "rating", "outcome_priority", "pre_mean", "pre_sd", "post_mean", "post_sd",
             "mean_change", "n", "change", "change_source", "n_comparisons", "comparisons",
             *_TRIAL_COLUMNS]  # fmt: skip
    arms = arms[order]
    report = {
        "n_arm_rows": n_arm_rows,
        "n_dropped_arm_rows": dropped,
        "n_shared_duplicates": int(n_arm_rows - dropped - len(arms)),
        "n_arms": len(arms),
        "n_studies_with_arms": int(arms["study"].nunique()),
        "arm_counts": {k: int(v) for k, v in arms["arm_type"].value_counts().sort_index().items()},
    }
    return arms, report


_NOTES = [
    "one row per comparison (psychotherapy arm 1 vs control arm 2 of one trial, one "
    "instrument, post-test); 480 trials, 900 comparisons; a trial with several instruments "
    "or arms has several rows",
    "arm types: cbt, bat, pst, ipt, dyn, 3rd, lrt, other psy -> active; sup (non-directive "
    "supportive counselling) -> nonspecific; wl -> natural_course; cau -> usual_care and "
    "other ctr -> other_control, both kept apart (care as usual may include active treatment; "
    "'other control' mixes attention controls, psychoeducation and no treatment)",
    "view='arms': one row per trial arm and instrument with change = (baseline mean - post "
    "mean) / baseline SD (positive = improvement; change scores where no post-test mean was "
    "reported), n, arm_type and outcome_priority (the one-outcome-per-trial hierarchy: HAM-D, "
    "BDI, other clinician-rated, PHQ-9, CES-D, HADS, GDS, EPDS, MMPI, other self-report); a "
    "control arm shared by several comparisons is kept once",
    "bona_fide_arm1 = 1 when arm 1 is a bona fide therapy (0: supportive counselling); "
    "waitlist_arm2 = 1 when the control is a waitlist",
    "risk of bias: sg, ac, ba, itt (1 = low risk) and rob = number of criteria at low risk "
    "(0-4)",
    "comparisons are not independent arms: a waitlist shared by two therapies appears in two "
    "rows; use view='arms' for arm-level analysis",
]

METAPSY: dict[str, Any] = {
    "description": (
        "Metapsy database of randomised trials of psychotherapy for adult depression vs "
        "control (waitlist, care as usual, other control), version 24.0.2: 900 comparisons "
        "from 480 trials, with per-arm baseline and post-test means, SDs and n, instrument, "
        "rating, risk of bias, year, format and country"
    ),
    "outcome": (
        "depression symptom scales (higher = worse); view='arms': within-arm standardized "
        "pre-post change, change > 0 = improvement"
    ),
    "higher_is_better": False,
    # comparison-level indicators: a bona fide therapy (vs supportive counselling) in arm 1
    # stands for technique, a waitlist control in arm 2 for the natural course
    "factors": {"technique": ["bona_fide_arm1"], "extra_therapeutic": ["waitlist_arm2"]},
    "can_estimate": {
        "share_mean_improvement (design-based)": (
            "arm ratios of within-arm standardized pre-post change: natural course = waitlist "
            "arms, non-specific = supportive-counselling arms, specific = bona fide therapy "
            "arms (view='arms', cf.design_based_shares)"
        ),
        "pre_post_d": "mean within-arm change of each arm type (e.g. the waitlist's natural course)",
        "g": "comparison-level effect sizes of therapy vs control (Hedges' g, metapsyTools)",
    },
    "cannot_estimate": {
        "relationship": (
            "no alliance measure; supportive-counselling arms carry relationship and "
            "expectancy together, so only their combined 'nonspecific' share is estimable"
        ),
        "expectancy": "not separable from relationship (see relationship)",
        "icc_therapist": "arm-level summaries: no therapist or client data",
        "variance shares": (
            "share_total_variance, share_explained_variance, part_r2 need client-level "
            "data; only shares of mean improvement are estimable"
        ),
        "causal arm contrasts across trials": (
            "waitlist arms and supportive-counselling arms come from different trials (3 of "
            "the 11 trials with a usable supportive arm also have a waitlist), with different "
            "patients, instruments and years; only contrasts within a trial are randomised"
        ),
        "supportive counselling vs therapy without a control arm": (
            "the database holds comparisons with control conditions only: supportive "
            "counselling meets a bona fide therapy only in multi-arm trials that compared "
            "both with a control (9 trials); head-to-head trials are not in it"
        ),
    },
    "source": (
        "Metapsy project, depression psychotherapy vs control database, version 24.0.2 "
        "(repository metapsy-project/data-depression-psyctr, commit ceeabb7; "
        "doi:10.5281/zenodo.7254845), converted by tools/convert_metapsy.py to "
        "data/real/metapsy_depression.csv"
    ),
    "licence": (
        "ODC-By 1.0 (Open Data Commons Attribution License v1.0); attribution: contains "
        "information from the Metapsy depression psychotherapy vs control database, which is "
        "made available under the ODC Attribution License"
    ),
    "citation": (
        "Cuijpers, P., Miguel, C., Harrer, M., Plessen, C. Y., Ciharova, M., Ebert, D., & "
        "Karyotaki, E. Metapsy: depression psychotherapy vs. control database, version "
        "24.0.2. https://doi.org/10.5281/zenodo.7254845"
    ),
    "notes": _NOTES,
    "design": {
        "view": "arms",
        "study_col": "study",
        "arm_col": "arm_type",
        "change_col": "change",
        "n_col": "n",
        "levels": {
            "natural_course": ["wl"],
            "nonspecific": ["sup"],
            "usual_care": ["cau"],
            "other_control": ["other ctr"],
            "active": list(METAPSY_THERAPIES),
        },
    },
}
