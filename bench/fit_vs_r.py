"""Time the fast engine against lme4 (via Rscript, if installed) and statsmodels MixedLM.

Data: 50 therapists x 20 clients x 10 sessions (10,000 rows), simulated with a seeded NumPy
generator. Models:
(a) ``y ~ session + x + (1 | therapist) + (1 | client)``  (3 levels, random intercepts)
(b) ``y ~ session + x + (1 + session | client)``          (2 levels, client random slope)
lme4 is timed inside R (``system.time`` around ``lmer`` only, median of repeats); the Python
engines are timed around ``cf.fit_mixed`` (design building included), median of repeats. The
bootstrap hot path is ``fit_nested`` on prebuilt statistics of a therapist resample, warm-started
at the full-data theta.

Run: ``python bench/fit_vs_r.py``
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import commonfactors as cf
from commonfactors.models import nested as _nested

MODELS = {
    "a": "y ~ session + x + (1 | therapist) + (1 | client)",
    "b": "y ~ session + x + (1 + session | client)",
}


def simulate(seed: int = 2024, n_t: int = 50, n_c: int = 20, n_s: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.repeat(np.arange(n_t), n_c * n_s)
    c = np.repeat(np.arange(n_t * n_c), n_s)
    s = np.tile(np.arange(n_s), n_t * n_c).astype(float)
    x = rng.normal(size=t.size) + rng.normal(size=n_t * n_c)[c]
    y = (20 + rng.normal(0, 1.0, n_t)[t] + rng.normal(0, 2.0, n_t * n_c)[c]
         + (-0.8 + rng.normal(0, 0.3, n_t * n_c)[c]) * s + 0.5 * x + rng.normal(0, 1.5, t.size))
    return pd.DataFrame({"therapist": t, "client": c, "session": s, "x": x, "y": y})


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_lme4(csv: Path, formula: str, repeats: int = 5) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    code = f"""
suppressMessages(library(lme4))
d <- read.csv("{csv}")
invisible(lmer({formula}, d))  # warm up
t <- sapply(1:{repeats}, function(i) system.time(lmer({formula}, d))[["elapsed"]])
cat(median(t), "\\n")
"""
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print("lme4 failed:", out.stderr[-300:])
        return None
    return float(out.stdout.split()[-1])


def main() -> None:
    data = simulate()
    print(f"data: {len(data)} rows, {data.therapist.nunique()} therapists, "
          f"{data.client.nunique()} clients")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "bench.csv"
        data.to_csv(csv, index=False)
        for key, formula in MODELS.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fast_fit = cf.fit_mixed(data, formula, engine="fast")
                t_fast = median_time(lambda f=formula: cf.fit_mixed(data, f, engine="fast"), 7)
                t0 = time.perf_counter()
                sm_fit = cf.fit_mixed(data, formula, engine="statsmodels")
                t_sm = time.perf_counter() - t0
            t_r = time_lme4(csv, formula)
            diff = float(np.max(np.abs(fast_fit.fixed - sm_fit.fixed) / np.abs(fast_fit.fixed)))
            rows.append({
                "model": f"({key}) {formula}", "lme4_s": t_r, "statsmodels_s": t_sm,
                "fast_s": t_fast, "statsmodels/fast": t_sm / t_fast,
                "lme4/fast": None if t_r is None else t_r / t_fast,
                "fast_converged": fast_fit.converged, "max_rel_diff_fixed_vs_sm": diff,
            })
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))

    # bootstrap hot path for model (a): prebuilt statistics, therapist resample, warm start
    fit = cf.fit_mixed(data, MODELS["a"])
    stats = fit.stats
    rng = np.random.default_rng(1)
    draws = [stats.draw(rng) for _ in range(50)]
    t_cold = median_time(lambda: _nested.fit_nested(draws[0]), 7)
    it = iter(draws * 3)
    t_warm = median_time(lambda: _nested.fit_nested(next(it), theta0=fit.theta), 50)
    t_build = median_time(lambda: _nested.NestedStats.from_arrays(
        fit.X.to_numpy(), fit.y.to_numpy(), fit.Z["client"].to_numpy(),
        fit.Z["therapist"].to_numpy(), fit.ids["client"].to_numpy(),
        fit.ids["therapist"].to_numpy()), 7)
    t_draw = median_time(lambda: stats.draw(rng), 50)
    t_sel = median_time(lambda: _nested.fit_nested(stats.select([0, 2]), theta0=fit.theta), 20)
    print()
    print("hot path, model (a):")
    print(f"  NestedStats.from_arrays (10k rows):        {t_build * 1e3:8.2f} ms")
    print(f"  stats.draw (therapist resample):           {t_draw * 1e3:8.2f} ms")
    print(f"  fit_nested on a resample, cold start:      {t_cold * 1e3:8.2f} ms")
    print(f"  fit_nested on a resample, warm start:      {t_warm * 1e3:8.2f} ms")
    print(f"  fit_nested on a column subset, warm start: {t_sel * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
