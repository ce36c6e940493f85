"""Regenerate data/synthetic/ byte for byte: one dataset per preset and manifest.csv.

Run with ``make data``. Each dataset is the preset at the realistic design (40 therapists x 15
clients x 10 sessions) with the seed in SEEDS; floats are written with 6 decimals so that the
files do not depend on the last bits of the linear algebra library.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import commonfactors as cf
from commonfactors.simulation.simulator import PRESETS

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "synthetic"
DESIGN = dict(n_therapists=40, clients_per_therapist=15, n_sessions=10)
SEEDS = {name: 1000 + i for i, name in enumerate(PRESETS)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generate(out: Path = OUT) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in PRESETS:
        sim = cf.simulate(name, seed=SEEDS[name], **DESIGN)
        path = out / f"{name}.csv"
        sim.data.to_csv(path, index=False, float_format="%.6f", lineterminator="\n")
        truth_path = out / f"{name}_truth.csv"
        sim.truth.to_csv(truth_path, index=False, float_format="%.6f", lineterminator="\n")
        params = {k: v for k, v in sim.config.as_dict().items() if k != "seed"}
        rows.append({
            "file": path.name,
            "preset": name,
            "parameters": json.dumps(params, sort_keys=True),
            "seed": SEEDS[name],
            "rows": len(sim.data),
            "package_version": cf.__version__,
            "sha256": sha256(path),
            "truth_file": truth_path.name,
            "truth_sha256": sha256(truth_path),
        })
    import pandas as pd

    pd.DataFrame(rows).to_csv(out / "manifest.csv", index=False, lineterminator="\n")
    return rows


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    for r in generate(target):
        print(f"{r['file']:38s} {r['rows']:6d} rows  sha256 {r['sha256'][:16]}...")
