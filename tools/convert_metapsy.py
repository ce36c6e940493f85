"""Convert the Metapsy depression psychotherapy-vs-control database to data/real/metapsy_depression.csv.

Usage (from the repository root)::

    python tools/convert_metapsy.py [SOURCE_CSV] [OUTPUT_CSV]

Defaults: ``../shared/real-data/metapsy_depression_psyctr/data.csv`` (version 24.0.2 of the
database, repository metapsy-project/data-depression-psyctr, commit ceeabb7) and
``data/real/metapsy_depression.csv``. After running it, record the printed sha256 in
``data/real/manifest.csv`` and ``data/real/README.md`` (tests/test_datasets.py checks both).

The source is semicolon-separated with a decimal comma, with R's ``NA`` for missing values. It
is described as latin-1, but its bytes are valid UTF-8 and its non-ASCII characters are UTF-8
sequences (``L\xc3\xb6k, 2019``: decoded as latin-1 that would read "LÃ¶k"), so it is decoded as
UTF-8 (the converter stops if it is not valid UTF-8). It has one row per comparison (a
psychotherapy arm against a control arm of one trial, on one instrument, at post-test). The output is UTF-8, comma-separated, one row per
comparison in the source's order, with the columns needed for arm-level analysis (listed in
``COLUMNS`` below with their meaning; data/real/README.md has the same table). Nothing is
recoded except:

- the unnamed row-number column becomes ``comparison`` (1..900) and metapsyTools' generated
  ``.id``, ``.g``, ``.g_se`` become ``metapsy_id``, ``g``, ``g_se``;
- text fields are stripped of surrounding spaces;
- dichotomous-outcome columns (events, response/remission definitions, log risk ratios), the
  "other statistic" free text and the full reference are left out.

Floats are written with ``%.15g`` (the 15 significant digits of the source), integers without a
decimal point, missing values as empty fields, ``\\n`` line ends, so the file is byte for byte
reproducible from the source on any machine.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SOURCE_REL = Path("real-data") / "metapsy_depression_psyctr" / "data.csv"


def default_source() -> Path:
    """``../shared/real-data/...`` beside the repository (one level further up for a git worktree
    kept in a sibling folder), or ``$COMMONFACTORS_SHARED/real-data/...`` when that is set."""
    import os

    env = os.environ.get("COMMONFACTORS_SHARED")
    candidates = [Path(env)] if env else [ROOT.parent / "shared", ROOT.parents[1] / "shared"]
    for base in candidates:
        if (base / SOURCE_REL).is_file():
            return base / SOURCE_REL
    return candidates[0] / SOURCE_REL


SOURCE = default_source()
OUT = ROOT / "data" / "real" / "metapsy_depression.csv"

EXPECTED_ROWS = 900
EXPECTED_STUDIES = 480

# output column -> (source column, kind, meaning); kind: int, float, text
COLUMNS: dict[str, tuple[str, str, str]] = {
    "comparison": ("", "int", "row number of the comparison in the source (1..900)"),
    "metapsy_id": (".id", "text", "metapsyTools identifier of the comparison (missing in 39 rows)"),
    "study": ("study", "text", "trial: first author, year (a letter after the year tells "
              "apart trials of one author and year)"),
    "condition_arm1": ("condition_arm1", "text", "psychotherapy of arm 1: cbt, bat (behavioural "
                       "activation), pst (problem solving), ipt (interpersonal), dyn "
                       "(psychodynamic), 3rd (third-wave), lrt (life review), sup (non-directive "
                       "supportive counselling), other psy"),
    "condition_arm2": ("condition_arm2", "text", "control of arm 2: wl (waitlist), cau (care as "
                       "usual), other ctr (other control)"),
    "multi_arm1": ("multi_arm1", "text", "multi-arm trials: which therapy arm (missing otherwise)"),
    "multi_arm2": ("multi_arm2", "text", "multi-arm trials: which control arm (missing otherwise)"),
    "outcome_type": ("outcome_type", "text", "msd (post-test means and SDs), change (change "
                     "from baseline), response/remission variants, other statistic"),
    "instrument": ("instrument", "text", "depression instrument (bdi-1, bdi-2, hdrs-17, phq-9, "
                   "ces-d, ...); higher = more depressed"),
    "rating": ("rating", "text", "self-report or clinician"),
    "time": ("time", "text", "measurement point (post in every row)"),
    "time_weeks": ("time_weeks", "float", "weeks from randomisation to the measurement"),
    "baseline_m_arm1": ("baseline_m_arm1", "float", "baseline mean, arm 1"),
    "baseline_sd_arm1": ("baseline_sd_arm1", "float", "baseline SD, arm 1"),
    "baseline_n_arm1": ("baseline_n_arm1", "float", "participants at baseline, arm 1"),
    "baseline_m_arm2": ("baseline_m_arm2", "float", "baseline mean, arm 2"),
    "baseline_sd_arm2": ("baseline_sd_arm2", "float", "baseline SD, arm 2"),
    "baseline_n_arm2": ("baseline_n_arm2", "float", "participants at baseline, arm 2"),
    "mean_arm1": ("mean_arm1", "float", "post-test mean, arm 1"),
    "sd_arm1": ("sd_arm1", "float", "post-test SD, arm 1"),
    "n_arm1": ("n_arm1", "float", "participants in the post-test mean, arm 1"),
    "mean_arm2": ("mean_arm2", "float", "post-test mean, arm 2"),
    "sd_arm2": ("sd_arm2", "float", "post-test SD, arm 2"),
    "n_arm2": ("n_arm2", "float", "participants in the post-test mean, arm 2"),
    "mean_change_arm1": ("mean_change_arm1", "float", "mean change from baseline, arm 1 "
                         "(negative = fewer symptoms)"),
    "sd_change_arm1": ("sd_change_arm1", "float", "SD of the change, arm 1"),
    "n_change_arm1": ("n_change_arm1", "float", "participants in the change score, arm 1"),
    "mean_change_arm2": ("mean_change_arm2", "float", "mean change from baseline, arm 2"),
    "sd_change_arm2": ("sd_change_arm2", "float", "SD of the change, arm 2"),
    "n_change_arm2": ("n_change_arm2", "float", "participants in the change score, arm 2"),
    "rand_arm1": ("rand_arm1", "float", "participants randomised, arm 1"),
    "rand_arm2": ("rand_arm2", "float", "participants randomised, arm 2"),
    "attr_arm1": ("attr_arm1", "float", "participants lost to follow-up, arm 1"),
    "attr_arm2": ("attr_arm2", "float", "participants lost to follow-up, arm 2"),
    "g": (".g", "float", "Hedges' g of arm 1 vs arm 2 computed by metapsyTools (positive = "
          "arm 1 better)"),
    "g_se": (".g_se", "float", "its standard error"),
    "year": ("year", "int", "year of publication"),
    "format": ("format", "text", "ind (individual), grp (group), gsh (guided self-help), tel "
               "(telephone), cpl (couple), oth/mixed (mixed), ush (unguided self-help), tsf"),
    "n_sessions_arm1": ("n_sessions_arm1", "float", "number of sessions of the therapy"),
    "country": ("country", "text", "us, uk, eu (rest of Europe), can, au, eas (East Asia), oth"),
    "age_group": ("age_group", "text", "adul (adults), old (>= 55), olderold (>= 75), yadul "
                  "(young adults), ..."),
    "mean_age": ("mean_age", "float", "mean age"),
    "percent_women": ("percent_women", "float", "proportion of women at baseline (0-1)"),
    "recruitment": ("recruitment", "text", "com (community), clin (clinical), oth"),
    "diagnosis": ("diagnosis", "text", "mdd (major depression), mood (mood disorder), cut "
                  "(score above a cut-off), sub (subclinical), chr (chronic)"),
    "target_group": ("target_group", "text", "adul, old, stud (students), ppd (perinatal), med "
                     "(comorbid medical disorder), oth"),
    "comorbid_mental": ("comorbid_mental", "text", "y: recruited for a comorbid mental "
                        "disorder; n otherwise"),
    "sg": ("sg", "int", "risk of bias, sequence generation (1 = low risk, 0 = high/unclear)"),
    "ac": ("ac", "int", "risk of bias, allocation concealment (1 = low risk, 0 = high/unclear)"),
    "ba": ("ba", "text", "risk of bias, blinding of assessors (1 = low, 0 = high/unclear, sr = "
           "self-report outcome; 2 occurs in 3 rows, undocumented)"),
    "itt": ("itt", "int", "risk of bias, intention-to-treat analysis (1 = low risk, 0 = high)"),
    "rob": ("rob", "int", "number of the four criteria at low risk (0-4; 4 = lowest risk of "
            "bias)"),
}


def read_source(path: Path) -> pd.DataFrame:
    """The source table with every field as text (no parsing yet), NA as missing."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: expecting UTF-8 bytes ({err}); is this version 24.0.2?") from err
    return pd.read_csv(
        io.StringIO(text), sep=";", dtype=str, na_values=["NA"], keep_default_na=False
    )


def _number(text: str | float | None) -> float:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return math.nan
    s = str(text).strip().replace(",", ".")
    return float(s) if s else math.nan


def _fmt(value: object, kind: str, column: str, row: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "text":
        return str(value).strip()
    x = _number(value)  # type: ignore[arg-type]
    if math.isnan(x):
        return ""
    if kind == "int":
        if x != int(x):
            raise ValueError(f"column {column!r}, row {row}: expecting an integer, found {value!r}")
        return str(int(x))
    return format(x, ".15g")


def convert(source: Path = SOURCE, out: Path = OUT) -> str:
    """Write the cleaned CSV; return its sha256."""
    raw = read_source(source)
    raw = raw.rename(columns={"Unnamed: 0": ""})
    missing = [src for src, _, _ in COLUMNS.values() if src not in raw.columns]
    if missing:
        raise ValueError(f"{source}: column(s) {missing} not found; is this version 24.0.2?")
    if len(raw) != EXPECTED_ROWS or raw["study"].nunique() != EXPECTED_STUDIES:
        raise ValueError(
            f"{source}: expecting {EXPECTED_ROWS} comparisons of {EXPECTED_STUDIES} trials, "
            f"found {len(raw)} of {raw['study'].nunique()}; is this version 24.0.2?"
        )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(list(COLUMNS))
    for i, rec in enumerate(raw.to_dict("records"), start=1):
        writer.writerow([_fmt(rec[src], kind, name, i) for name, (src, kind, _) in COLUMNS.items()])
    data = buf.getvalue().encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else SOURCE
    out = Path(argv[2]) if len(argv) > 2 else OUT
    digest = convert(source, out)
    print(f"wrote {out} ({EXPECTED_ROWS} rows)\nsha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
