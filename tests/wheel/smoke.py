"""Smoke test of an installed wheel, run by tests/test_wheel.py inside a fresh virtual
environment with the working directory in a temporary folder and no source tree on sys.path.

Usage: python smoke.py SOURCE_ROOT   (SOURCE_ROOT: the repository, which must NOT be imported)
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

source = Path(sys.argv[1]).resolve()
assert not any(Path(p or ".").resolve().is_relative_to(source) for p in sys.path), sys.path

import commonfactors as cf  # noqa: E402

site = Path(sysconfig.get_paths()["purelib"]).resolve()
pkg = Path(cf.__file__).resolve()
assert pkg.is_relative_to(site), f"commonfactors imported from {pkg}, not from {site}"
assert cf.__version__ == importlib.metadata.version("commonfactors"), cf.__version__
data = cf.datasets.data_dir().resolve()
assert data.is_relative_to(site), f"data folder {data} is not the installed package data"

catalogue = cf.list_datasets()
assert catalogue["n_rows"].notna().all(), catalogue[["name", "n_rows"]]
for name in catalogue["name"]:
    frame = cf.load_dataset(name)
    assert len(frame) > 0, name
    print(f"load_dataset({name!r}): {frame.shape[0]} rows")

sim = cf.simulate("norcross_lambert_2011", n_therapists=6, clients_per_therapist=5,
                  n_sessions=4, seed=1)
res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=20, seed=0,
                   progress=False)
assert {"factor", "estimand", "estimate", "ci_low", "ci_high"} <= set(res.table.columns)
print(f"decompose: {len(res.table)} rows")

work = Path.cwd()
frame = cf.load_dataset("wampold_imel_2015")
frame.to_csv(work / "sessions.csv", index=False)
(work / "factors.json").write_text(json.dumps(frame.attrs["commonfactors"]["factors"]))
bin_dir = Path(sys.executable).parent
out = subprocess.run([str(bin_dir / "commonfactors"), "report", "sessions.csv",
                      "--factors", "factors.json", "--n-boot", "20", "--out", "rep", "--quiet"],
                     capture_output=True, text=True, check=True)
html = (work / "rep" / "commonfactors_report.html").read_text(encoding="utf-8")
assert "<h3>" in html and "<img" in html, out.stdout
print("commonfactors report:", out.stdout.strip())

help_text = subprocess.run([sys.executable, "-m", "commonfactors", "--help"],
                           capture_output=True, text=True, check=True).stdout
assert "report" in help_text and "simulate" in help_text
print("python -m commonfactors: ok")
print("SMOKE OK")
