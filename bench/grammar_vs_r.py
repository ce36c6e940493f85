"""Time this package against lme4 (Rscript), mixedlm and statsmodels on the same rows.

Models, data simulated with a seeded NumPy generator:

1. ``ri3``: 10,000 rows (50 therapists x 20 clients x 10 sessions), ``(1 | therapist) + (1 | client)``
2. ``slope_client``: the same rows, ``(1 | therapist) + (1 + session | client)``
3. ``slope_both``: the same rows, ``(1 + session | therapist) + (1 + session | client)``
4. ``four_level``: 10,800 rows (12 clinics x 6 therapists x 15 clients x 10 sessions),
   ``(1 | clinic) + (1 | therapist) + (1 + session | client)``
5. ``crossed``: 10,000 rows, clients in groups crossed with therapists,
   ``(1 | client) + (1 | therapist) + (1 | group)``
6. ``ri3_100k``: 100,000 rows (200 therapists x 50 clients x 10 sessions), as model 1

Every engine fits REML with ``y ~ session + x`` as the fixed part; times are medians over
repeats of the whole fit call (lme4 timed inside R around ``lmer`` only, after a warm-up;
mixedlm and this package timed around one call each, after a warm-up). Each row also prints
the REML log-likelihood of every engine, so that a fast wrong fit cannot pass unnoticed.
An engine that cannot fit a model says so (``n/a``) with its reason.

Run: ``python bench/grammar_vs_r.py`` (``--quick``: one repeat, no 100k rows). Output committed
as ``bench/grammar_vs_r_results.txt``. Needs ``pip install commonfactors[bench]`` (mixedlm) and
R with lme4 for the lme4 column.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import commonfactors as cf

FIXED = "y ~ session + x"
MODELS = {
    "ri3": ("nested", "(1 | therapist) + (1 | client)"),
    "slope_client": ("nested", "(1 | therapist) + (1 + session | client)"),
    "slope_both": ("nested", "(1 + session | therapist) + (1 + session | client)"),
    "four_level": ("four", "(1 | clinic) + (1 | therapist) + (1 + session | client)"),
    "crossed": ("crossed", "(1 | client) + (1 | therapist) + (1 | group)"),
    "ri3_100k": ("big", "(1 | therapist) + (1 | client)"),
}


def _nested(rng, n_k, n_t, n_c, n_s):
    k = np.repeat(np.arange(n_k), n_t * n_c * n_s)
    t = np.repeat(np.arange(n_k * n_t), n_c * n_s)
    c = np.repeat(np.arange(n_k * n_t * n_c), n_s)
    s = np.tile(np.arange(n_s), n_k * n_t * n_c).astype(float)
    x = rng.normal(size=t.size) + rng.normal(size=c.max() + 1)[c]
    y = (20 + rng.normal(0, 0.7, k.max() + 1)[k] + rng.normal(0, 1.0, t.max() + 1)[t]
         + (rng.normal(0, 0.1, t.max() + 1)[t] + rng.normal(-0.8, 0.3, c.max() + 1)[c]) * s
         + rng.normal(0, 2.0, c.max() + 1)[c] + 0.5 * x + rng.normal(0, 1.5, t.size))
    return pd.DataFrame({"clinic": [f"k{i}" for i in k], "therapist": [f"t{i}" for i in t],
                         "client": [f"c{i}" for i in c], "session": s, "x": x, "y": y})


def _crossed(rng, n_t=50, n_g=40, per_group=25, n_s=10):
    # clients belong to one therapy group each and see one therapist each; groups and
    # therapists are crossed (a group's clients see several therapists)
    n_c = n_g * per_group
    g = np.repeat(np.arange(n_g), per_group)
    t = rng.integers(0, n_t, size=n_c)
    c = np.repeat(np.arange(n_c), n_s)
    s = np.tile(np.arange(n_s), n_c).astype(float)
    x = rng.normal(size=c.size)
    y = (20 + rng.normal(0, 1.0, n_t)[t][c] + rng.normal(0, 0.8, n_g)[g][c]
         + rng.normal(0, 2.0, n_c)[c] - 0.8 * s + 0.5 * x + rng.normal(0, 1.5, c.size))
    return pd.DataFrame({"therapist": [f"t{i}" for i in t[c]], "group": [f"g{i}" for i in g[c]],
                         "client": [f"c{i}" for i in c], "session": s, "x": x, "y": y})


def datasets(quick: bool) -> dict:
    rng = np.random.default_rng(20261130)
    out = {"nested": _nested(rng, 1, 50, 20, 10), "four": _nested(rng, 12, 6, 15, 10),
           "crossed": _crossed(rng)}
    if not quick:
        out["big"] = _nested(rng, 1, 200, 50, 10)
    return out


def median_time(fn, repeats):
    fn()  # warm-up (imports, JIT, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_ours(data, formula, repeats):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = cf.fit_mixed(data, formula)
        except Exception as err:  # noqa: BLE001 - reported in the table
            return None, None, f"{type(err).__name__}: {str(err)[:60]}"
        t = median_time(lambda: cf.fit_mixed(data, formula), repeats)
    return t, fit.loglik, getattr(fit, "engine", "")


def time_mixedlm(data, formula, repeats):
    try:
        import mixedlm
    except ImportError:
        return None, None, "mixedlm not installed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = mixedlm.lmer(formula, data, REML=True)
        except Exception as err:  # noqa: BLE001
            return None, None, f"{type(err).__name__}: {str(err)[:60]}"
        t = median_time(lambda: mixedlm.lmer(formula, data, REML=True), repeats)
    return t, float(fit.logLik().value if hasattr(fit.logLik(), "value") else fit.logLik()), ""


def time_statsmodels(data, formula, repeats, key):
    if key not in ("ri3", "slope_client"):  # 100k rows: minutes per fit; others: no nesting
        return None, None, "not run (four levels, crossed factors or 100k rows)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = cf.fit_mixed(data, formula, engine="statsmodels")
        except Exception as err:  # noqa: BLE001 - reported in the table
            return None, None, f"{type(err).__name__}: {str(err)[:70]}"
        t = median_time(lambda: cf.fit_mixed(data, formula, engine="statsmodels"),
                        max(1, repeats // 3))
    return t, fit.loglik, ""


def time_lme4(files, repeats):
    if shutil.which("Rscript") is None:
        return {}
    lines = ["suppressMessages(library(lme4))", "out <- list()"]
    for key, (csv, formula) in files.items():
        lines += [
            f'd <- read.csv("{csv}")',
            f"f <- {formula}",
            "m <- lmer(f, d)",
            f"t <- sapply(1:{repeats}, function(i) system.time(lmer(f, d))[['elapsed']])",
            f'out[["{key}"]] <- c(median(t), as.numeric(logLik(m)))',
        ]
    lines.append('for (k in names(out)) cat(k, sprintf("%.17g", out[[k]]), "\\n")')
    res = subprocess.run(["Rscript", "-e", "\n".join(lines)], capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        print("lme4 failed:", res.stderr[-400:])
        return {}
    out = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[0]] = (float(parts[1]), float(parts[2]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats = 1 if args.quick else 5
    data = datasets(args.quick)
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"commonfactors {cf.__version__}; repeats {repeats}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for key, (dname, rand) in MODELS.items():
            if dname not in data:
                continue
            csv = Path(tmp) / f"{dname}.csv"
            if not csv.exists():
                data[dname].to_csv(csv, index=False)
            files[key] = (str(csv), f"{FIXED} + {rand}")
        r_times = time_lme4(files, repeats)
        for key, (dname, rand) in MODELS.items():
            if dname not in data:
                continue
            d, formula = data[dname], f"{FIXED} + {rand}"
            t_us, ll_us, note_us = time_ours(d, formula, repeats)
            t_mx, ll_mx, note_mx = time_mixedlm(d, formula, repeats)
            t_sm, ll_sm, note_sm = time_statsmodels(d, formula, repeats, key)
            t_r, ll_r = r_times.get(key, (None, None))
            rows.append({
                "model": key, "rows": len(d), "ours_s": t_us, "lme4_s": t_r, "mixedlm_s": t_mx,
                "statsmodels_s": t_sm,
                "lme4/ours": None if t_us is None or t_r is None else t_r / t_us,
                "mixedlm/ours": None if t_us is None or t_mx is None else t_mx / t_us,
                "loglik_ours": ll_us, "loglik_lme4": ll_r, "loglik_mixedlm": ll_mx,
                "loglik_statsmodels": ll_sm,
                "note": "; ".join(n for n in (f"ours: {note_us}" if t_us is None else "",
                                              f"mixedlm: {note_mx}" if t_mx is None else "",
                                              f"statsmodels: {note_sm}" if t_sm is None else "")
                                  if n),
            })
    table = pd.DataFrame(rows)
    lls = table[["loglik_ours", "loglik_lme4", "loglik_mixedlm", "loglik_statsmodels"]]
    table["max|dloglik|"] = lls.max(axis=1) - lls.min(axis=1)
    with pd.option_context("display.width", 250, "display.max_columns", 30,
                           "display.max_colwidth", 120):
        print(table.drop(columns="note").to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        print("max|dloglik|: largest difference between the engines' REML log-likelihoods")
        print()
        for r in rows:
            if r["note"]:
                print(f"{r['model']}: {r['note']}")


if __name__ == "__main__":
    main()
