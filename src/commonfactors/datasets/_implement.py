"""The IMPLEMENT trial (Flückiger et al. 2016): builder and description.

``data/real/implement.csv`` is written by ``tools/convert_implement.py`` from the long form of
``data/completedata.RDS`` in the repository PsychometricsMZ/dsem_tutorial (commit a3743f3, MIT
licence; Faleh et al. 2025). The file is already in the canonical columns; :func:`build_implement`
checks its layout and types and counts what is missing. ``IMPLEMENT`` is the fixed description
joined with that count by :func:`commonfactors.datasets._real.metadata`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import DataValidationError

IMPLEMENT_ITEMS = {
    "task": ("wai_task1", "wai_task2", "wai_task3"),
    "goal": ("wai_goal1", "wai_goal2", "wai_goal3"),
    "bond": ("wai_bond1", "wai_bond2", "wai_bond3"),
}
IMPLEMENT_PARCELS = ("bai_parcel1", "bai_parcel2", "bai_parcel3")
IMPLEMENT_COLUMNS = (
    "therapist", "client", "session", "outcome", "alliance", "task", "goal", "bond",
    *IMPLEMENT_PARCELS, *(c for cols in IMPLEMENT_ITEMS.values() for c in cols),
)  # fmt: skip


def build_implement(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """data/real/implement.csv (written by tools/convert_implement.py) -> the canonical frame.

    The file is already canonical; this checks its layout and types, and counts what is
    missing. Every row of the 57 x 15 grid is kept, missing values as NaN, so that one row back
    within a client is one occasion back (the lagged analyses rely on it).
    """
    if list(raw.columns) != list(IMPLEMENT_COLUMNS):
        raise DataValidationError(
            f"dataset 'implement': columns {list(raw.columns)}; expecting exactly "
            f"{list(IMPLEMENT_COLUMNS)}. Rebuild the file with tools/convert_implement.py."
        )
    out = raw.copy()
    out["therapist"] = out["therapist"].astype(str)
    out["client"] = out["client"].astype(str)
    out["session"] = out["session"].astype("int64")
    for c in IMPLEMENT_COLUMNS[3:]:
        out[c] = out[c].astype("float64")
    per_client = out.groupby("client")["session"].agg(["size", "min", "max"])
    if not ((per_client["size"] == 15) & (per_client["min"] == 1) & (per_client["max"] == 15)).all():
        raise DataValidationError(
            "dataset 'implement': expecting sessions 1..15 once per client (the complete "
            "57 x 15 grid). Rebuild the file with tools/convert_implement.py."
        )
    out = out.sort_values(["therapist", "client", "session"], kind="mergesort")
    out = out.reset_index(drop=True)
    derived = ("outcome", "alliance", "task", "goal", "bond")
    report = {
        "n_rows_read": len(raw),
        "n_dropped": 0,
        "dropped_by": {},
        "n_clients": int(out["client"].nunique()),
        "n_therapists": int(out["therapist"].nunique()),
        "n_sessions": int(out["session"].nunique()),
        "n_missing": {c: int(out[c].isna().sum()) for c in derived},
    }
    return out, report


IMPLEMENT: dict[str, Any] = {
    "file": "implement.csv",
    "rebuild": "python tools/convert_implement.py",
    "description": (
        "IMPLEMENT trial: CBT for generalized anxiety disorder, 57 outpatients of 13 "
        "therapists (1-7 each), 15 occasions over 14 sessions; Beck Anxiety Inventory "
        "before and Working Alliance Inventory (task, goal, bond) after each session; "
        "855 client-by-occasion rows, 780 with BAI, 642 with all nine WAI items"
    ),
    "outcome": (
        "Beck Anxiety Inventory, mean of 3 parcels, centred (higher = more anxiety = worse)"
    ),
    "higher_is_better": False,
    "factors": {"relationship": ["alliance"], "extra_therapeutic": ["session"]},
    "can_estimate": {
        "variance shares": (
            "share_total_variance, share_explained_variance, share_therapy_variance and "
            "part_r2 of the alliance, with session as the extra-therapeutic remainder"
        ),
        "share_mean_improvement": (
            "model-based, with the alliance reference stated on the centred WAI scale"
        ),
        "icc_therapist": "13 therapists: estimable, with wide intervals",
        "disaggregation": "therapist, client and session parts of the alliance (Baldwin 2007)",
        "lagged effects": (
            "alliance after session t -> anxiety before session t+1, and improvement so "
            "far -> the next alliance rating, within client"
        ),
        "alliance subscales": "task, goal and bond, each the mean of three WAI items",
    },
    "cannot_estimate": {
        "technique": (
            "every patient received the same CBT; the trial's three implementation arms "
            "are not in the published file"
        ),
        "expectancy": "no expectancy measure and no placebo arm",
        "share_mean_improvement (design-based)": (
            "no waitlist, no-treatment or placebo arm, so the natural course is not "
            "identified"
        ),
        "absolute levels": (
            "values are centred (a constant subtracted from each variable), so raw BAI "
            "and WAI scores, clinical cut-offs and mean-improvement references on the "
            "original scale are not available; references must be stated on the centred "
            "scale"
        ),
        "share_therapy_variance": (
            "the alliance is the only therapy factor measured, so its share of "
            "therapy-attributable variance is 1 by construction and cannot test 40-50%"
        ),
        "patient covariates": "none in the published file (no intake severity, age, sex)",
        "generalisation over therapists": (
            "13 therapists with 1-7 patients each: therapist-level variances and the "
            "therapist part of the alliance rest on 13 clusters"
        ),
    },
    "timing": {
        "outcome": "BAI completed before therapy session t (session 1: pre-treatment)",
        "alliance": "WAI completed after therapy session t",
        "order": (
            "within a row, anxiety (before session t) precedes alliance (after session t); "
            "the alliance of session t precedes the anxiety of session t+1"
        ),
        "forward": "alliance at t -> outcome at t+1 (rows as recorded, lag 1)",
        "reverse": (
            "outcome up to t (improvement so far, BAI before session t) -> alliance "
            "after session t (same row)"
        ),
    },
    "source": (
        "repository PsychometricsMZ/dsem_tutorial, commit a3743f3, file "
        "data/completedata.RDS (in long form), cleaned by tools/convert_implement.py to "
        "data/real/implement.csv"
    ),
    "licence": "MIT (PsychometricsMZ/dsem_tutorial; text in data/real/LICENSE-implement.txt)",
    "citation": (
        "Flückiger, C., Forrer, L., Schnider, B., Bättig, I., Bodenmann, G., & Zinbarg, R. "
        "E. (2016). A single-blinded, randomized clinical trial of how to implement an "
        "evidence-based treatment for generalized anxiety disorder [IMPLEMENT] - effects of "
        "three different strategies of implementation. EBioMedicine, 3, 163-171. "
        "https://doi.org/10.1016/j.ebiom.2015.11.049. Data: Faleh, R., Morelli, S., "
        "Andriamiarana, V., Roman, Z. J., Flückiger, C., & Brandt, H. (2025). Evaluating "
        "psychometric test properties in intensive longitudinal data using dynamic "
        "structural equation models. arXiv:2508.12983; repository "
        "PsychometricsMZ/dsem_tutorial (commit a3743f3)."
    ),
    "notes": [
        "session = occasion 1..15 of the source; row t holds the BAI completed before "
        "session t and the WAI completed after session t; the BAI of session 1 is the "
        "pre-treatment assessment (there is no session 0)",
        "outcome = mean of the 3 BAI parcels, missing unless all 3 are observed (1 row "
        "has 2 of 3; it is left missing because the parcels are centred by different "
        "constants)",
        "alliance = mean of the 9 WAI items, task / goal / bond = means of their 3 items, "
        "each missing unless all its items are observed (same reason)",
        "the complete 57 x 15 grid is kept with NaN for missing values, so one row back "
        "is one occasion back; estimators drop incomplete rows and count them",
        "values are centred, not standardized: shares, correlations and within-client "
        "slopes are unaffected; mean-improvement references are on the centred scale",
        "therapist t01..t13 and client c01..c57 keep the source's numbers",
    ],
}
