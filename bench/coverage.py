"""Coverage of the cluster-bootstrap intervals of ``cf.decompose`` against the simulator's truth.

Simulates ``--n-datasets`` datasets from ``wampold_imel_2015`` (40 therapists x 15 clients x 10
sessions, seeds 1..N), decomposes each with ``--n-boot`` percentile-bootstrap replicates, and
reports how often the 95% interval of each share covers the population value (``sim.truth`` for
that view). Datasets run in parallel with joblib (``--n-jobs``), one worker per dataset
(``n_jobs=1`` inside ``decompose``). Target coverage: 0.92-0.98.

Prints a table (estimand, factor, coverage, mean width, mean estimate, truth, and the Monte
Carlo SE of the coverage) and saves it to ``bench/coverage_results.csv`` (or ``--out``).

Run: ``python bench/coverage.py --view change --n-datasets 200 --n-boot 200``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

import commonfactors as cf

ESTIMANDS = ("share_total_variance", "share_explained_variance", "share_therapy_variance",
             "part_r2", "icc_therapist", "r2_marginal")
DESIGN = dict(n_therapists=40, clients_per_therapist=15, n_sessions=10)


def one(seed: int, view: str, n_boot: int, ci: str = "percentile") -> pd.DataFrame:
    sim = cf.simulate("wampold_imel_2015", seed=seed, **DESIGN)
    res = cf.decompose(sim.data, factors=sim.factors, view=view, n_boot=n_boot, seed=seed,
                       n_jobs=1, progress=False, ci=ci)
    truth = sim.truth.query("view == @view")[["factor", "estimand", "value"]]
    t = res.table[res.table["estimand"].isin(ESTIMANDS)]
    out = t.merge(truth, on=["factor", "estimand"], how="inner")
    out["seed"] = seed
    out["n_failed"] = res.n_boot_failed
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-datasets", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--view", choices=("change", "growth"), default="change")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--ci", choices=("percentile", "basic", "bca"), default="percentile")
    ap.add_argument("--out", default=str(Path(__file__).with_name("coverage_results.csv")))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    parts = Parallel(n_jobs=args.n_jobs)(delayed(one)(s, args.view, args.n_boot, args.ci)
                                        for s in range(1, args.n_datasets + 1))
    runs = pd.concat(parts, ignore_index=True)
    runs = runs.dropna(subset=["value", "estimate"])
    runs["covered"] = (runs["ci_low"] <= runs["value"]) & (runs["value"] <= runs["ci_high"])
    runs["width"] = runs["ci_high"] - runs["ci_low"]
    g = runs.groupby(["estimand", "factor"], sort=False)
    table = g.agg(coverage=("covered", "mean"), mean_width=("width", "mean"),
                  mean_estimate=("estimate", "mean"), truth=("value", "mean"),
                  n=("covered", "size")).reset_index()
    table["mc_se"] = np.sqrt(table["coverage"] * (1 - table["coverage"]) / table["n"])
    table["in_target"] = table["coverage"].between(0.92, 0.98)
    table.insert(0, "view", args.view)
    table.insert(1, "ci", args.ci)
    elapsed = time.perf_counter() - t0
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    n_failed = runs.groupby("seed")["n_failed"].first().sum()
    print(f"view {args.view}, {args.ci}: {args.n_datasets} datasets x {args.n_boot} replicates, "
          f"{n_failed} failed replicates in all, {elapsed:.0f} s")
    out = Path(args.out)
    if out.exists():
        old = pd.read_csv(out)
        if "ci" not in old:
            old.insert(1, "ci", "percentile")
        keep = ~((old["view"] == args.view) & (old["ci"] == args.ci))
        table = pd.concat([old[keep], table], ignore_index=True)
    table.to_csv(out, index=False)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
