"""Speed of ``cf.decompose``: point decomposition, cluster bootstrap, warm vs cold refits, 1M rows.

Design: ``simulate("wampold_imel_2015", 50 therapists x 20 clients x 10 sessions, truth=False)``
(10,000 rows), the four default factor groups, growth view (16 subset models of
``outcome ~ level-pure parts + (1 | therapist) + (1 | client)``).

Measured, one line each with its target and PASS/MISS:

1. point decomposition (all 16 subsets, n_boot=0);
2. B = 1000 cluster bootstrap of every estimand with n_jobs=2 and n_jobs=1, and, in the same
   run, one statsmodels MixedLM fit of the full model (groups=therapist,
   vc_formula={"client": "0 + C(client)"}), to state B=1000 in units of statsmodels fits;
3. per-replicate time with cold refits (``fit_nested`` from its default start) against warm
   refits (quasi-Newton from the full-data optimum and Hessian), and the largest absolute
   difference of any estimand between the two over 20 replicates;
4. 1,000,000 rows (2000 x 50 x 10): data generation time, point decomposition time and peak
   resident memory (``resource.getrusage`` in a fresh child process).

Run: ``python bench/decompose_speed.py`` (``--quick``: B = 100, no 1M-row case).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

import commonfactors as cf
from commonfactors.decomposition import _estimates as E
from commonfactors.decomposition.api import build_problem
from commonfactors.models.terms import build_terms

PRESET = "wampold_imel_2015"


def line(name: str, value: float, unit: str, target: float | None = None, lower=True) -> None:
    if target is None:
        print(f"{name:58s} {value:10.3f} {unit}")
        return
    ok = value <= target if lower else value >= target
    rel = "<=" if lower else ">="
    print(f"{name:58s} {value:10.3f} {unit:4s} target {rel} {target:g}  "
          f"{'PASS' if ok else 'MISS'}")


def timed(fn, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def statsmodels_fit(data, factors) -> float:
    import statsmodels.formula.api as smf

    derived, _ = build_terms(data, factors, view="growth")
    frame = derived.assign(outcome=data["outcome"].to_numpy(), therapist=data["therapist"],
                           client=data["client"])
    formula = "outcome ~ " + " + ".join(derived.columns)
    model = smf.mixedlm(formula, frame, groups="therapist", re_formula="1",
                        vc_formula={"client": "0 + C(client)"})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(reml=True)
    return time.perf_counter() - t0


def warm_start(problem):
    """The warm starts decompose gives its replicates (full-data optima and Hessians)."""
    from commonfactors.models.nested import fit_nested, hessian_at

    _, _, fits = E.estimate(problem, details=True)
    warm = {s: (f.theta, f.hessian) for s, f in fits.items()}
    m = fit_nested(problem.mean_stats, reml=problem.reml)
    warm["mean"] = (m.theta, hessian_at(problem.mean_stats, m.theta, problem.reml))
    return warm


def cold_vs_warm(data, factors, n_rep: int = 20):
    problem, _, _ = build_problem(data, factors, "growth")
    warm = warm_start(problem)
    rng = np.random.default_rng(1)
    draws = [problem.resample(rng.integers(0, problem.n_clusters, problem.n_clusters))
             for _ in range(n_rep)]
    t0 = time.perf_counter()
    cold = [E.estimate(p)[0] for p in draws]
    t_cold = (time.perf_counter() - t0) / n_rep
    t0 = time.perf_counter()
    hot = [E.estimate(p, warm)[0] for p in draws]
    t_warm = (time.perf_counter() - t0) / n_rep
    keys = E.estimand_keys(problem)
    d = np.abs(np.array(cold) - np.array(hot))
    is_var = np.array([m.endswith(":variance") or m == "mean_improvement" for _, m in keys])
    # variances relative to the outcome variance scale (a variance at 0 in one path and 1e-9
    # in the other is a boundary, not a disagreement)
    scale = np.array([problem.stats.y_var()] * len(keys))
    rel = np.where(is_var, d / scale, np.nan)
    d_share = np.where(is_var, np.nan, d)
    col = np.nanmax(np.where(np.isnan(d_share), -1.0, d_share), axis=0)
    worst = keys[int(np.argmax(col))]
    diff = (float(np.nanmax(d_share)), float(np.nanmax(rel)))
    return t_cold, t_warm, diff, worst


def million() -> dict:
    """Run in a child process so that its peak memory is its own."""
    t0 = time.perf_counter()
    sim = cf.simulate(PRESET, n_therapists=2000, clients_per_therapist=50, n_sessions=10,
                      seed=1, truth=False)
    t_gen = time.perf_counter() - t0
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t0 = time.perf_counter()
    res = cf.decompose(sim.data, factors=sim.factors, n_boot=0, progress=False)
    t_dec = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GB (Linux)
    return {"rows": len(sim.data), "t_gen": t_gen, "t_dec": t_dec, "rss_gb": rss,
            "rss_data_gb": rss_data, "notes": list(res.notes)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="B = 100 and no 1M-row case")
    ap.add_argument("--child-million", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_million:
        print(json.dumps(million()))
        return
    n_boot = 100 if args.quick else 1000
    sim = cf.simulate(PRESET, n_therapists=50, clients_per_therapist=20, n_sessions=10, seed=1,
                      truth=False)
    data, factors = sim.data, sim.factors
    print(f"design: {PRESET}, {data['therapist'].nunique()} therapists x 20 clients x 10 sessions"
          f" = {len(data)} rows; groups {', '.join(factors)}; growth view; "
          f"{'quick run' if args.quick else 'full run'}")
    cf.decompose(data, factors=factors, n_boot=0)  # warm imports and caches
    t_point, res = timed(lambda: cf.decompose(data, factors=factors, n_boot=0), repeat=3)
    line("point decomposition (16 subsets, best of 3)", t_point, "s", 1.0)
    for n_jobs in (2, 1):
        t_b, rb = timed(lambda n=n_jobs: cf.decompose(data, factors=factors, n_boot=n_boot,
                                                        n_jobs=n, seed=1, progress=False))
        line(f"B={n_boot} cluster bootstrap, n_jobs={n_jobs} (whole call)", t_b, "s",
             60.0 * n_boot / 1000)
        if n_jobs == 2:
            t_b2, failed = t_b, rb.n_boot_failed
    print(f"{'  failed replicates (n_jobs=2)':58s} {failed:10d}")
    t_sm = statsmodels_fit(data, factors)
    line("one statsmodels MixedLM fit of the full model", t_sm, "s")
    n_equiv = t_b2 * 1000 / n_boot / t_sm
    line("B=1000 (n_jobs=2) takes the time of N statsmodels fits: N", n_equiv, "", 100.0)
    t_cold, t_warm, diff, worst = cold_vs_warm(data, factors)
    line("per replicate, cold fit_nested (16 subsets + mean model)", t_cold * 1e3, "ms")
    line("per replicate, warm refit_warm (16 subsets + mean model)", t_warm * 1e3, "ms")
    line("speed-up warm over cold", t_cold / t_warm, "x")
    print(f"{'max |cold - warm|, shares/R2/ICC, 20 replicates':58s} {diff[0]:10.2e}"
          f"   (largest at {worst[0]}/{worst[1]})")
    print(f"{'max |cold - warm| / var(y), component variances and M':58s} {diff[1]:10.2e}")
    if args.quick:
        print("1,000,000 rows: skipped (--quick)")
        return
    out = subprocess.run([sys.executable, __file__, "--child-million"], capture_output=True,
                         text=True, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    line(f"1M rows: generate data ({m['rows']} rows, simulator)", m["t_gen"], "s")
    line("1M rows: point decomposition", m["t_dec"], "s", 60.0)
    line("1M rows: peak resident memory (after generation)", m["rss_data_gb"], "GB")
    line("1M rows: peak resident memory (whole process)", m["rss_gb"], "GB", 4.0)
    for n in m["notes"]:
        print(f"  note: {n}")


if __name__ == "__main__":
    main()
