"""Bias of the R2-type estimates of ``cf.decompose`` and of their bootstrap bias correction.

Reads the per-dataset chunks written by ``bench/coverage.py run`` (each dataset keeps the plain
``estimate`` and the bootstrap bias-corrected ``estimate_corrected = 2 t - mean(t*)``) and, per
cell (view x preset x design) and estimand, compares both with the simulator's truth: mean
bias with its Monte Carlo SE (SD of the errors / sqrt(datasets)) and root mean squared error.
Only the families that ``decompose`` corrects (R2 family and ratios) are shown.

Run: ``python bench/bias.py --runs bench/coverage_runs_reduced --out bench/bias_results.csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from commonfactors.decomposition.intervals import CORRECTED_FAMILIES, family

HERE = Path(__file__).resolve().parent


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default=str(HERE / "coverage_runs_reduced"))
    ap.add_argument("--out", default=str(HERE / "bias_results.csv"))
    args = ap.parse_args(argv)
    rows = []
    for cell in sorted(p for p in Path(args.runs).iterdir() if p.is_dir()):
        files = sorted(cell.glob("seeds_*.csv"))
        if not files:
            continue
        d = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
        d = d[d["method"].isin(["percentile", "bias_corrected"])]
        d = d[[family(f, e) in CORRECTED_FAMILIES
               for f, e in zip(d["factor"], d["estimand"], strict=True)]]
        view, rest = cell.name.split("_", 1)
        preset, design, _ = rest.rsplit("_", 2)
        w = d.pivot_table(index=["estimand", "factor", "seed"], columns="method",
                          values="estimate").reset_index()
        truth = d.groupby(["estimand", "factor"])["truth"].first()
        for (est, fac), g in w.groupby(["estimand", "factor"], sort=False):
            t = truth[(est, fac)]
            e0 = g["percentile"] - t
            e1 = g["bias_corrected"] - t
            n = len(g)
            rows.append({"view": view, "preset": preset, "design": design, "estimand": est,
                         "factor": fac, "truth": t, "n_datasets": n,
                         "bias": e0.mean(), "bias_mc_se": e0.std(ddof=1) / np.sqrt(n),
                         "rmse": np.sqrt((e0**2).mean()),
                         "bias_corrected": e1.mean(),
                         "bias_corrected_mc_se": e1.std(ddof=1) / np.sqrt(n),
                         "rmse_corrected": np.sqrt((e1**2).mean())})
    out = pd.DataFrame(rows)
    out.to_csv(args.out, index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 500,
                           "display.float_format", "{:.4f}".format):
        print(out.drop(columns=["preset"]).to_string(index=False))
    print(f"saved {args.out}")
    return out


if __name__ == "__main__":
    main()
