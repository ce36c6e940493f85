"""Rebuild data/real/implement.csv byte for byte from the published IMPLEMENT long file.

Source: ``implement_long.csv`` (the array ``data`` of ``data/completedata.RDS`` in the repository
PsychometricsMZ/dsem_tutorial, commit a3743f3, MIT licence, written in long form with R's
``write.csv``): 57 patients x 15 occasions, one row each, columns ``patient, therapist,
occasion``, the nine Working Alliance Inventory items ``wai_task1..3, wai_goal1..3,
wai_bond1..3`` and the three Beck Anxiety Inventory parcels ``bai_parcel1..3``; empty = missing.
The values are centred (a constant subtracted from each variable), not standardized.

Usage, from the repository root::

    python tools/convert_implement.py [SOURCE_CSV] [OUTPUT_CSV]

Defaults: ``<real-data>/implement_flueckiger2016/implement_long.csv`` and
``data/real/implement.csv``, where ``<real-data>`` is ``$COMMONFACTORS_SOURCE_DATA`` when set,
otherwise ``../shared/real-data`` relative to the repository root. Afterwards record the printed sha256 in data/real/manifest.csv and
data/real/README.md (tests/test_implement.py checks both).

What the output holds (one row per patient and occasion, the complete 57 x 15 grid, so that one
row back is one occasion back; empty = missing):

- ``therapist`` ``t01``..``t13`` and ``client`` ``c01``..``c57`` (the source's numbers);
- ``session`` = the source's occasion, 1..15. Row ``session = t`` holds the BAI the patient
  completed BEFORE therapy session t and the WAI completed AFTER session t; the BAI of
  session 1 is the pre-treatment assessment. So the alliance of row t precedes the anxiety of
  row t + 1, and the anxiety of row t precedes the alliance of row t;
- ``outcome`` = mean of the three BAI parcels (higher = more anxiety = worse), missing unless
  all three parcels are observed (the parcels are centred by different constants, so a mean of
  the observed ones would move with which one is missing);
- ``alliance`` = mean of the nine WAI items, ``task``, ``goal``, ``bond`` = means of their
  three items, each missing unless all its items are observed (same reason);
- the twelve source columns unchanged in value.

Every float is written with 10 decimals (``%.10f``); the means are computed element by element
in a fixed order, so the bytes do not depend on the linear algebra library.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_root() -> Path:
    """Folder of the source files: ``$COMMONFACTORS_SOURCE_DATA``, else ../shared/real-data."""
    env = os.environ.get("COMMONFACTORS_SOURCE_DATA")
    return Path(env).expanduser() if env else ROOT.parent / "shared" / "real-data"


SOURCE = source_root() / "implement_flueckiger2016" / "implement_long.csv"
OUT = ROOT / "data" / "real" / "implement.csv"

ITEMS = {
    "task": ["wai_task1", "wai_task2", "wai_task3"],
    "goal": ["wai_goal1", "wai_goal2", "wai_goal3"],
    "bond": ["wai_bond1", "wai_bond2", "wai_bond3"],
}
WAI = [c for cols in ITEMS.values() for c in cols]
BAI = ["bai_parcel1", "bai_parcel2", "bai_parcel3"]
SOURCE_COLUMNS = ["patient", "therapist", "occasion", *WAI, *BAI]
OUT_COLUMNS = ["therapist", "client", "session", "outcome", "alliance", "task", "goal", "bond",
               *BAI, *WAI]
N_PATIENTS, N_THERAPISTS, N_OCCASIONS = 57, 13, 15


def _fail(msg: str) -> None:
    sys.exit(f"convert_implement.py: {msg}")


def _number(text: str, column: str, line: int) -> float:
    if text in ("", "NA"):
        return math.nan
    try:
        value = float(text)
    except ValueError:
        _fail(f"line {line}, column {column!r}: expecting a number or empty, found {text!r}.")
    if not math.isfinite(value):
        _fail(f"line {line}, column {column!r}: expecting a finite number, found {text!r}.")
    return value


def _mean(values: list[float]) -> float:
    """Mean of all values, in the order given; NaN when any value is missing."""
    if any(math.isnan(v) for v in values):
        return math.nan
    total = 0.0
    for v in values:
        total += v
    return total / len(values)


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.10f}"


def read_source(path: Path) -> list[dict]:
    if not path.is_file():
        _fail(f"source file {path} not found; expecting implement_long.csv from the IMPLEMENT "
              "data (PsychometricsMZ/dsem_tutorial, data/completedata.RDS in long form). Pass "
              "its path as the first argument or set COMMONFACTORS_SOURCE_DATA to the folder "
              "holding implement_flueckiger2016/.")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != SOURCE_COLUMNS:
            _fail(f"{path}: columns {header}; expecting {SOURCE_COLUMNS}.")
        rows = []
        for line, rec in enumerate(reader, start=2):
            if len(rec) != len(header):
                _fail(f"{path}, line {line}: {len(rec)} fields; expecting {len(header)}.")
            row = {}
            for col, text in zip(header, rec, strict=True):
                if col in ("patient", "therapist", "occasion"):
                    if not text.isdigit():
                        _fail(f"line {line}, column {col!r}: expecting a positive integer, "
                              f"found {text!r}.")
                    row[col] = int(text)
                else:
                    row[col] = _number(text, col, line)
            rows.append(row)
    return rows


def check_design(rows: list[dict]) -> None:
    patients = sorted({r["patient"] for r in rows})
    therapists = sorted({r["therapist"] for r in rows})
    cells = {(r["patient"], r["occasion"]) for r in rows}
    if patients != list(range(1, N_PATIENTS + 1)):
        _fail(f"expecting patients 1..{N_PATIENTS}, found {len(patients)} distinct ids.")
    if therapists != list(range(1, N_THERAPISTS + 1)):
        _fail(f"expecting therapists 1..{N_THERAPISTS}, found {therapists}.")
    if len(rows) != N_PATIENTS * N_OCCASIONS or len(cells) != len(rows) or any(
        not 1 <= occ <= N_OCCASIONS for _, occ in cells
    ):
        _fail(f"expecting one row per patient and occasion 1..{N_OCCASIONS} "
              f"({N_PATIENTS * N_OCCASIONS} rows), found {len(rows)} rows, {len(cells)} cells.")
    by_patient: dict[int, set] = {}
    for r in rows:
        by_patient.setdefault(r["patient"], set()).add(r["therapist"])
    moved = [p for p, ts in by_patient.items() if len(ts) != 1]
    if moved:
        _fail(f"patient(s) {moved} have more than one therapist; expecting one each.")


def convert(source: Path = SOURCE, out: Path = OUT) -> str:
    rows = read_source(source)
    check_design(rows)
    rows.sort(key=lambda r: (r["therapist"], r["patient"], r["occasion"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        fh.write(",".join(OUT_COLUMNS) + "\n")
        for r in rows:
            derived = {
                "outcome": _mean([r[c] for c in BAI]),
                "alliance": _mean([r[c] for c in WAI]),
                **{k: _mean([r[c] for c in cols]) for k, cols in ITEMS.items()},
            }
            fields = [f"t{r['therapist']:02d}", f"c{r['patient']:02d}", str(r["occasion"])]
            fields += [_fmt(derived[c]) for c in ("outcome", "alliance", "task", "goal", "bond")]
            fields += [_fmt(r[c]) for c in (*BAI, *WAI)]
            fh.write(",".join(fields) + "\n")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main(argv: list[str]) -> None:
    if len(argv) > 2:
        _fail("usage: python tools/convert_implement.py [SOURCE_CSV] [OUTPUT_CSV]")
    source = Path(argv[0]) if argv else SOURCE
    out = Path(argv[1]) if len(argv) > 1 else OUT
    digest = convert(source, out)
    print(f"wrote {out}: {N_PATIENTS * N_OCCASIONS} rows; sha256 {digest}")


if __name__ == "__main__":
    main(sys.argv[1:])
