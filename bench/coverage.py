"""Coverage of the cluster-bootstrap intervals against the simulator's truth.

For every cell of the grid (view x preset x design) the study simulates ``--n-datasets`` datasets
(seeds 1..N), decomposes each with ``--n-boot`` cluster-bootstrap replicates (``cf.decompose``,
``n_jobs=1`` inside) and, from the same replicates, builds the 95% interval of every estimand
that has a population value in ``sim.truth`` by every candidate method of
``commonfactors.bootstrap.INTERVAL_METHODS`` (percentile, basic, bias-corrected percentile ``bc``,
basic on the logit scale ``logit_basic``). It also keeps the bootstrap bias-corrected estimate
(``2 t - mean(t*)``), so the same runs give the bias table. With ``--lagged`` each dataset also
runs ``cf.lagged_effects`` with the cluster bootstrap (methods ``percentile`` and the model-based
``wald``); the lag-1 coefficients have no closed-form population value, so their ``truth`` is
the Monte Carlo mean of the estimates over the cell's datasets (coverage then measures whether
the standard error and interval are as wide as the estimate's sampling spread, not its bias).

``profile`` adds the profile-likelihood intervals (``cf.decompose(..., n_boot=0,
ci="profile")``: therapist and client variance components) of the same seeds, and ``lagged``
adds ``lagged_effects`` (bootstrap percentile vs Wald) of the same seeds; both write their own
chunk files (``profile_*.csv``, ``lagged_*.csv``) into the cells of ``run``, which ``summarize``
pools. The profile intervals need no bootstrap, so they run on more datasets (200 per cell at
about 0.5 s each).

Runs are chunked and resumable: each chunk of ``--chunk`` datasets of a cell is written to
``<runs>/<cell>/seeds_<first>-<last>.csv`` and skipped when it exists, so an interrupted study
continues where it stopped, and chunks can run on several machines. Datasets run through the
package's runner (``commonfactors.parallel.run`` when present, joblib otherwise), so
``with joblib.parallel_config(backend="dask"): ...`` spreads them over a Dask cluster.

``summarize`` pools the chunks into one tidy CSV, one row per view x preset x design x estimand x
factor x method: ``view, preset, n_therapists, clients_per_therapist, n_sessions, estimand,
factor, method, default, coverage, mc_se, mean_width, mean_estimate, truth, n_datasets,
n_replicates`` (``default`` marks the method ``cf.decompose`` uses by default, ``mc_se`` is the
binomial Monte Carlo SE of the coverage, ``sqrt(c (1 - c) / n_datasets)``); the rows with
method ``bias_corrected`` hold the bootstrap bias-corrected estimate's mean in
``mean_estimate`` (coverage and width empty). It also draws a figure of coverage per estimand.

The full study (both views, three designs, three presets, 200 x 200, lagged effects)::

    python bench/coverage.py run --views change growth --designs 13x5x10 40x15x10 100x10x10 \\
        --presets wampold_imel_2015 norcross_lambert_2011 spurious_alliance \\
        --n-datasets 200 --n-boot 200 --lagged --n-jobs -1 --runs bench/coverage_runs_full
    python bench/coverage.py profile --n-datasets 200 --runs bench/coverage_runs_full
    python bench/coverage.py summarize --runs bench/coverage_runs_full \\
        --out bench/coverage_results_full.csv --figure bench/coverage_full.png

Quick check (a few minutes): ``python bench/coverage.py run --quick``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import commonfactors as cf
from commonfactors.bootstrap import INTERVAL_METHODS, bias_corrected, interval

HERE = Path(__file__).resolve().parent
KEYS = ["view", "preset", "n_therapists", "clients_per_therapist", "n_sessions"]
COLUMNS = KEYS + ["estimand", "factor", "method", "default", "coverage", "mc_se", "mean_width",
                  "mean_estimate", "truth", "n_datasets", "n_replicates"]


def _runner():
    try:
        from commonfactors.parallel import run
    except ImportError:  # the package's runner is not on this version: joblib directly
        from joblib import Parallel, delayed

        def run(func, tasks, *, n_jobs=1, **_):
            if n_jobs == 1:
                return [func(*t) for t in tasks]
            return Parallel(n_jobs=n_jobs)(delayed(func)(*t) for t in tasks)
    return run


def parse_design(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) == 2:
        parts.append(10)
    if len(parts) != 3:
        raise SystemExit(f"--designs: expecting THERAPISTSxCLIENTS[xSESSIONS], got {text!r}")
    return tuple(parts)


def _simulate(preset: str, design: tuple, seed: int):
    n_t, n_c, n_s = design
    return cf.simulate(preset, seed=seed, n_therapists=n_t, clients_per_therapist=n_c,
                       n_sessions=n_s)


def one_dataset(view: str, preset: str, design: tuple, seed: int, n_boot: int,
                lagged: bool) -> pd.DataFrame:
    """Per-dataset rows: estimand, factor, method, covered, width, estimate, truth."""
    sim = _simulate(preset, design, seed)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the truth of the shares of mean improvement is at the simulator's reference levels
        res = cf.decompose(sim.data, factors=sim.factors, view=view, n_boot=n_boot, seed=seed,
                           n_jobs=1, progress=False,
                           references=cf.truth.sim_references(sim.config))
    truth = sim.truth.query("view == @view")[["factor", "estimand", "value"]]
    tab = res.table.reset_index().merge(truth, on=["factor", "estimand"], how="inner")
    tab = tab.dropna(subset=["value"])
    keys = list(zip(res.table["factor"], res.table["estimand"], strict=True))
    reps = res.replicates[[f"{f}|{e}" for f, e in keys]].to_numpy()
    est = res.table["estimate"].to_numpy()
    sel = tab["index"].to_numpy()
    ints = {m: interval(m, reps[:, sel], est[sel]) for m in INTERVAL_METHODS}
    corrected = bias_corrected(reps[:, sel], est[sel])
    for i, r in enumerate(tab.itertuples()):
        for m, (lo, hi) in ints.items():
            rows.append((r.estimand, r.factor, m, lo[i] <= r.value <= hi[i], hi[i] - lo[i],
                         r.estimate, r.value))
        rows.append((r.estimand, r.factor, "bias_corrected", np.nan, np.nan, corrected[i],
                     r.value))
    out = pd.DataFrame(rows, columns=["estimand", "factor", "method", "covered", "width",
                                      "estimate", "truth"])
    n_failed = res.n_boot_failed
    if lagged:
        lag = _lagged_rows(sim, seed, n_boot)
        n_failed += int(lag["n_failed"].iloc[0])
        out = pd.concat([out, lag.drop(columns=["seed", "n_failed"])], ignore_index=True)
    out.insert(0, "seed", seed)
    out["n_failed"] = n_failed
    return out.reindex(columns=["seed", "estimand", "factor", "method", "covered", "width",
                                "estimate", "truth", "ci_low", "ci_high", "n_failed"])


def one_profile(view: str, preset: str, design: tuple, seed: int) -> pd.DataFrame:
    """Per-dataset rows of the profile-likelihood intervals (``ci="profile"``, no bootstrap)."""
    sim = _simulate(preset, design, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(sim.data, factors=sim.factors, view=view, n_boot=0, ci="profile",
                           references=cf.truth.sim_references(sim.config))
    truth = sim.truth.query("view == @view")[["factor", "estimand", "value"]]
    tab = res.table[res.table["method"] == "profile"].merge(truth, on=["factor", "estimand"],
                                                             how="inner")
    tab = tab.dropna(subset=["value"])
    out = pd.DataFrame({
        "seed": seed, "estimand": tab["estimand"], "factor": tab["factor"], "method": "profile",
        "covered": (tab["ci_low"] <= tab["value"]) & (tab["value"] <= tab["ci_high"]),
        "width": tab["ci_high"] - tab["ci_low"], "estimate": tab["estimate"],
        "truth": tab["value"], "ci_low": tab["ci_low"], "ci_high": tab["ci_high"],
        "n_failed": 0})
    return out


def _lagged_rows(sim, seed: int, n_boot: int) -> pd.DataFrame:
    """Rows of ``lagged_effects``: cluster-bootstrap percentile and model-based Wald (their
    truth is the cell's Monte Carlo mean, set in ``summarize``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lg = cf.lagged_effects(sim.data, se="bootstrap", n_boot=n_boot, seed=seed)
        lm = cf.lagged_effects(sim.data, se="model")
    rows = []
    for b, m in zip(lg.itertuples(), lm.itertuples(), strict=True):
        rows.append((b.path, "percentile", b.ci_high - b.ci_low, b.estimate, b.ci_low, b.ci_high))
        rows.append((m.path, "wald", m.ci_high - m.ci_low, m.estimate, m.ci_low, m.ci_high))
    out = pd.DataFrame(rows, columns=["factor", "method", "width", "estimate", "ci_low", "ci_high"])
    out.insert(0, "estimand", "lagged_effects")
    out.insert(0, "seed", seed)
    out["covered"], out["truth"] = np.nan, np.nan
    out["n_failed"] = int(lg["n_failed"].iloc[0])
    return out


def one_lagged(view: str, preset: str, design: tuple, seed: int, n_boot: int) -> pd.DataFrame:
    """Per-dataset rows of ``lagged_effects`` alone (the ``lagged`` subcommand)."""
    return _lagged_rows(_simulate(preset, design, seed), seed, n_boot)


def _run_cells(args, views, prefix: str, func, extra=lambda view: ()) -> None:
    """Run ``func(view, preset, design, seed, *extra(view))`` over the grid, in resumable chunk
    files ``<runs>/<cell>/<prefix>_<first>-<last>.csv`` (existing chunks are skipped)."""
    run = _runner()
    runs = Path(args.runs)
    for view in views:
        for preset in args.presets:
            for text in args.designs:
                design = parse_design(text)
                cell = runs / cell_name(view, preset, design, args.n_boot)
                cell.mkdir(parents=True, exist_ok=True)
                seeds = list(range(1, args.n_datasets + 1))
                for k in range(0, len(seeds), args.chunk):
                    part = seeds[k:k + args.chunk]
                    path = cell / f"{prefix}_{part[0]:04d}-{part[-1]:04d}.csv"
                    if path.exists():
                        continue
                    t0 = time.perf_counter()
                    res = run(func, [(view, preset, design, s, *extra(view)) for s in part],
                              n_jobs=args.n_jobs)
                    pd.concat(res, ignore_index=True).to_csv(path, index=False)
                    print(f"{cell.name} {prefix} {part[0]}-{part[-1]}: "
                          f"{time.perf_counter() - t0:.0f} s", flush=True)


def run_lagged(args) -> None:
    """``lagged_effects`` of the same datasets into ``lagged_*.csv`` chunks of the cells."""
    _run_cells(args, [args.view], "lagged", one_lagged, lambda view: (args.n_boot,))


def run_profiles(args) -> None:
    """Profile intervals of the same datasets (seeds 1..N) into ``profile_*.csv`` chunks of the
    cells of ``run`` (named with ``--n-boot``, so that ``summarize`` pools them)."""
    _run_cells(args, args.views, "profile", one_profile)


def cell_name(view, preset, design, n_boot) -> str:
    return f"{view}_{preset}_{design[0]}x{design[1]}x{design[2]}_b{n_boot}"


def run_study(args) -> None:
    def extra(view):
        lag = args.lagged and (view == "growth" or "growth" not in args.views)
        return args.n_boot, lag

    _run_cells(args, args.views, "seeds", one_dataset, extra)


def _defaults(view: str) -> dict:
    """(estimand, factor) -> the default interval method of ``cf.decompose``."""
    try:
        from commonfactors.decomposition.intervals import default_method
    except ImportError:
        return lambda estimand, factor: "percentile"
    return default_method


def summarize(args) -> pd.DataFrame:
    runs = Path(args.runs)
    out = []
    for cell in sorted(p for p in runs.iterdir() if p.is_dir()):
        files = sorted(cell.glob("seeds_*.csv"))
        if not files:
            continue
        files += sorted(cell.glob("profile_*.csv")) + sorted(cell.glob("lagged_*.csv"))
        d = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
        d = d[~d["estimand"].isin(args.exclude)]
        view, rest = cell.name.split("_", 1)
        preset, design, boot = rest.rsplit("_", 2)
        n_t, n_c, n_s = (int(v) for v in design.split("x"))
        n_boot = int(boot[1:])
        lag = d["estimand"] == "lagged_effects"
        if lag.any():
            mc = d[lag].groupby(["factor", "method"])["estimate"].transform("mean")
            d.loc[lag, "truth"] = mc
            d.loc[lag, "covered"] = ((d.loc[lag, "ci_low"] <= mc)
                                     & (mc <= d.loc[lag, "ci_high"])).astype(float)
        d["covered"] = d["covered"].astype(float)
        default = _defaults(view)
        g = d.groupby(["estimand", "factor", "method"], sort=False)
        t = g.agg(coverage=("covered", "mean"), mean_width=("width", "mean"),
                  mean_estimate=("estimate", "mean"), truth=("truth", "mean"),
                  n_datasets=("seed", "nunique")).reset_index()
        t["mc_se"] = np.sqrt(t["coverage"] * (1 - t["coverage"]) / t["n_datasets"])
        t["default"] = [m == ("percentile" if e == "lagged_effects" else default(e, f))
                        for e, f, m in zip(t["estimand"], t["factor"], t["method"], strict=True)]
        t["view"], t["preset"] = view, preset
        t["n_therapists"], t["clients_per_therapist"], t["n_sessions"] = n_t, n_c, n_s
        t["n_replicates"] = n_boot
        out.append(t[COLUMNS])
        boot = d[~d["method"].isin(["profile"]) & (d["estimand"] != "lagged_effects")]
        fails = boot.groupby("seed")["n_failed"].first()
        print(f"{cell.name}: {len(fails)} datasets, {int(fails.sum())} failed replicates in all")
    table = pd.concat(out, ignore_index=True)
    table.to_csv(args.out, index=False)
    print(f"saved {args.out}")
    if args.figure:
        figure(table, args.figure)
    return table


def figure(table: pd.DataFrame, path) -> None:
    """Heatmaps of coverage, one row per estimand and one column per cell: the default method
    (left) and the percentile interval (right); numbers in the cells, colours centred at 0.95."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    t = table[~table["method"].isin(["bias_corrected"])
              & (table["estimand"] != "lagged_effects")].copy()
    t["cell"] = (t["view"] + " " + t["n_therapists"].astype(str) + "x"
                 + t["clients_per_therapist"].astype(str) + "\n" + t["preset"].str.split("_").str[0])
    t["label"] = t["estimand"] + " | " + t["factor"]
    order = t.sort_values(["view", "n_therapists", "preset"])["cell"].drop_duplicates().tolist()
    panels = [("default method", t[t["default"]]), ("percentile", t[t["method"] == "percentile"])]
    labels = sorted(set(t["label"]))
    fig, axes = plt.subplots(1, 2, figsize=(0.62 * len(order) * 2 + 4, 0.27 * len(labels) + 2),
                             sharey=True)
    norm = TwoSlopeNorm(vmin=0.5, vcenter=0.95, vmax=1.0)
    for ax, (title, d) in zip(axes, panels, strict=True):
        m = d.pivot_table(index="label", columns="cell", values="coverage", aggfunc="first")
        m = m.reindex(index=labels, columns=order)
        im = ax.imshow(m.to_numpy(dtype=float), cmap="RdBu", norm=norm, aspect="auto")
        for (i, j), v in np.ndenumerate(m.to_numpy(dtype=float)):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}"[1:] if v < 1 else "1", ha="center", va="center",
                        fontsize=5.5, color="white" if v < 0.75 else "black")
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, fontsize=6, rotation=90)
        ax.set_title(f"coverage of the 95% interval: {title}", fontsize=9)
    axes[0].set_yticks(range(len(labels)))
    axes[0].set_yticklabels(labels, fontsize=6.5)
    fig.colorbar(im, ax=axes, shrink=0.5, label="coverage (0.92-0.98 is the target)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"saved {path}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="simulate and bootstrap (resumable)")
    r.add_argument("--views", nargs="+", default=["change", "growth"],
                   choices=("change", "growth"))
    r.add_argument("--presets", nargs="+",
                   default=["wampold_imel_2015", "norcross_lambert_2011", "spurious_alliance"])
    r.add_argument("--designs", nargs="+", default=["13x5x10", "40x15x10", "100x10x10"],
                   help="THERAPISTSxCLIENTSxSESSIONS")
    r.add_argument("--n-datasets", type=int, default=200)
    r.add_argument("--n-boot", type=int, default=200)
    r.add_argument("--chunk", type=int, default=10, help="datasets per resumable chunk file")
    r.add_argument("--lagged", action="store_true", help="also lagged_effects (growth cells)")
    r.add_argument("--n-jobs", type=int, default=2)
    r.add_argument("--runs", default=str(HERE / "coverage_runs"))
    r.add_argument("--quick", action="store_true",
                   help="one small cell: change view, wampold_imel_2015, 13x5x10, 10 x 50")
    pr = sub.add_parser("profile", help="profile-likelihood intervals of the same datasets")
    for a in ("--views", "--presets", "--designs"):
        pr.add_argument(a, nargs="+", default=r.get_default(a[2:]))
    pr.add_argument("--n-datasets", type=int, default=200)
    pr.add_argument("--n-boot", type=int, default=200, help="the cells' --n-boot (their names)")
    pr.add_argument("--chunk", type=int, default=50)
    pr.add_argument("--n-jobs", type=int, default=2)
    pr.add_argument("--runs", default=str(HERE / "coverage_runs"))
    lg = sub.add_parser("lagged", help="lagged_effects of the same datasets (bootstrap vs Wald)")
    lg.add_argument("--view", default="growth", choices=("change", "growth"),
                    help="the cells to add the rows to")
    lg.add_argument("--presets", nargs="+", default=r.get_default("presets"))
    lg.add_argument("--designs", nargs="+", default=r.get_default("designs"))
    lg.add_argument("--n-datasets", type=int, default=200)
    lg.add_argument("--n-boot", type=int, default=200)
    lg.add_argument("--chunk", type=int, default=10)
    lg.add_argument("--n-jobs", type=int, default=2)
    lg.add_argument("--runs", default=str(HERE / "coverage_runs"))
    s = sub.add_parser("summarize", help="pool the chunks into the tidy CSV and a figure")
    s.add_argument("--runs", default=str(HERE / "coverage_runs"))
    s.add_argument("--out", default=str(HERE / "coverage_results.csv"))
    s.add_argument("--figure", default=str(HERE / "coverage.png"))
    s.add_argument("--exclude", nargs="*", default=[],
                   help="estimands to leave out of the table (e.g. runs made before a fix)")
    args = ap.parse_args(argv)
    if args.cmd == "run":
        if args.quick:
            args.views, args.presets, args.designs = ["change"], ["wampold_imel_2015"], ["13x5x10"]
            args.n_datasets, args.n_boot, args.chunk = 10, 50, 5
            args.runs = str(HERE / "coverage_runs_quick")
        run_study(args)
    elif args.cmd == "profile":
        run_profiles(args)
    elif args.cmd == "lagged":
        run_lagged(args)
    else:
        summarize(args)


if __name__ == "__main__":
    main()
