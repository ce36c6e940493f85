"""Write the synthetic clinic export used by notebook 09 and the bad-input tests.

A routine-outcome export as a clinic's system would produce it, made from the package's own
simulator (preset ``norcross_lambert_2011``, seed 2026) plus the defects real exports have:

* string therapist ids (``TH-01``...) and client ids (``C0001``...);
* session *dates* instead of session numbers (weekly visits with a few days' jitter and missed
  weeks);
* a PHQ-9-like total (the simulated outcome rounded and kept in 0-27);
* WAI (alliance, 1-7) with about 10% missing and some ``-99`` codes; not rated at intake for a
  third of clients (alliance is rated after a session);
* CEQ expectancy (0-10) with ``999`` = missing;
* arm as codes 1/2/3 with value labels CBT/IPT/TAU (the simulator's control arm is TAU; its
  active arm is split at random between CBT and IPT, which therefore have the same true effect);
* exact duplicate rows (an export run twice over a few records);
* one client whose later sessions were entered under a second therapist (a data-entry error);
* clients seen only at intake.

Writes ``data/clinic/clinic_export.sav`` (value labels; -99 and 999 declared as SPSS
user-missing values; variable labels) and ``data/clinic/clinic_export.csv`` (arm as its labels,
missing codes as written in the export). Both regenerate byte for byte: the SPSS header's
creation date and time are set to a fixed value.

Run from the repository root:  python tools/make_clinic_export.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import commonfactors as cf  # noqa: E402

OUT = ROOT / "data" / "clinic"
SEED = 2026
ARM_LABELS = {1: "CBT", 2: "IPT", 3: "TAU"}


def make() -> pd.DataFrame:
    sim = cf.simulate("norcross_lambert_2011", n_therapists=16, clients_per_therapist=8,
                      n_sessions=10, seed=SEED)
    d = sim.data.copy()
    rng = np.random.default_rng(SEED)
    clients = pd.unique(d["client"])
    ther_ids = {t: f"TH-{i:02d}" for i, t in enumerate(pd.unique(d["therapist"]), start=1)}
    client_ids = {c: f"C{i:04d}" for i, c in enumerate(clients, start=1)}
    # arm: control -> TAU (3); active -> CBT (1) or IPT (2) at random per client
    active_arm = dict(zip(clients, rng.choice([1, 2], size=len(clients)), strict=True))
    arm = np.where(d["arm"].to_numpy() == 0, 3, d["client"].map(active_arm).to_numpy())
    # dates: a start day in 2023, weekly visits with jitter
    start = dict(zip(clients, pd.Timestamp("2023-01-09")
                     + pd.to_timedelta(rng.integers(0, 300, len(clients)), unit="D"), strict=True))
    jitter = rng.integers(-2, 3, len(d))
    jitter[d["session"].to_numpy() == 0] = 0
    days = d["session"].to_numpy() * 7 + jitter
    dates = d["client"].map(start) + pd.to_timedelta(days, unit="D")
    out = pd.DataFrame({
        "TherapistID": d["therapist"].map(ther_ids),
        "ClientID": d["client"].map(client_ids),
        "VisitDate": dates.dt.normalize(),
        "PHQ9": np.clip(np.round(d["outcome"].to_numpy()), 0, 27),
        "WAI": np.round(np.clip(d["alliance"].to_numpy(), 1, 7), 2),
        "CEQ": np.round(np.clip(d["expectancy"].to_numpy(), 0, 10), 1),
        "arm": arm.astype(float),
        "support": np.round(d["support"].to_numpy(), 3),
    })
    # missed weeks: drop a few non-intake visits
    missed = (d["session"].to_numpy() > 0) & (rng.random(len(d)) < 0.08)
    # clients seen only at intake: every later visit gone
    only_intake = set(rng.choice(clients, size=5, replace=False))
    dropout = d["client"].isin(only_intake).to_numpy() & (d["session"].to_numpy() > 0)
    keep = ~(missed | dropout)
    out = out.loc[keep].reset_index(drop=True)
    sess = d["session"].to_numpy()[keep]
    n = len(out)
    # WAI: not rated at intake for a third of clients; ~10% missing; some -99
    no_intake_wai = set(rng.choice(out["ClientID"].unique(), size=len(clients) // 3,
                                   replace=False))
    wai = out["WAI"].to_numpy().copy()
    wai[(sess == 0) & out["ClientID"].isin(no_intake_wai).to_numpy()] = np.nan
    wai[rng.random(n) < 0.10] = np.nan
    wai[(rng.random(n) < 0.03) & ~np.isnan(wai)] = -99
    out["WAI"] = wai
    ceq = out["CEQ"].to_numpy().copy()
    ceq[rng.random(n) < 0.05] = 999
    out["CEQ"] = ceq
    # one client's last three sessions entered under another therapist
    n_rows = out["ClientID"].value_counts(sort=False)
    victim = n_rows.index[n_rows >= 8][10]
    rows = out.index[out["ClientID"] == victim][-3:]
    own = out.loc[rows[0], "TherapistID"]
    other = next(t for t in out["TherapistID"].unique() if t != own)
    out.loc[rows, "TherapistID"] = other
    # an export that ran twice over four records: exact duplicates
    dup_rows = rng.choice(out.index[sess > 0], size=4, replace=False)
    out = pd.concat([out, out.loc[dup_rows]]).sort_index(kind="mergesort").reset_index(drop=True)
    return out


def _fix_sav_header(path: Path) -> None:
    """Set the SPSS header's creation date and time to a fixed value (byte-for-byte output)."""
    raw = bytearray(path.read_bytes())
    if raw[:4] not in (b"$FL2", b"$FL3"):
        raise RuntimeError(f"{path} is not an SPSS system file")
    raw[92:101] = b"01 Jan 24"  # after rec_type, product, layout, cases, compression, bias
    raw[101:109] = b"00:00:00"
    path.write_bytes(bytes(raw))


def write(out_dir: Path = OUT) -> list[Path]:
    import pyreadstat

    out_dir.mkdir(parents=True, exist_ok=True)
    df = make()
    sav = out_dir / "clinic_export.sav"
    pyreadstat.write_sav(
        df, str(sav),
        column_labels={
            "TherapistID": "Therapist", "ClientID": "Client", "VisitDate": "Date of visit",
            "PHQ9": "PHQ-9 total (0-27)", "WAI": "Working alliance (1-7), -99 = not rated",
            "CEQ": "Expectancy (0-10), 999 = not asked", "arm": "Treatment arm",
            "support": "Social support (z)",
        },
        variable_value_labels={"arm": ARM_LABELS},
        missing_ranges={"WAI": [-99], "CEQ": [999]},
    )
    _fix_sav_header(sav)
    csv = out_dir / "clinic_export.csv"
    text = df.assign(arm=df["arm"].map(ARM_LABELS),
                     VisitDate=df["VisitDate"].dt.strftime("%Y-%m-%d"))
    text.to_csv(csv, index=False, lineterminator="\n")
    return [sav, csv]


if __name__ == "__main__":
    for p in write():
        print(f"wrote {p.relative_to(ROOT)}")
