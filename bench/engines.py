"""Time the nested and general engines of fit_mixed on the same rows (one process, one run).

Data: 50 therapists x 20 clients x 10 sessions (10,000 rows) with clinics (5 therapists each)
and a rater per session (6 raters, crossed with clients), plus a 100,000-row nested set (500
therapists). Each row of the output is the median of 5 fits after one warm-up fit, with the
deviance of the fit (both engines must agree) and its number of deviance evaluations.

lme4 is not run here (no R on the benchmark machine); the reference is about 0.18 s for
lme4 on the 10,000-row 3-level random-intercept model on this machine. Run:

    python bench/engines.py > bench/engines_results.txt
"""

from __future__ import annotations

import platform
import time
import warnings

import numpy as np
import pandas as pd

import commonfactors as cf


def make(n_t=50, n_c=20, n_s=10, seed=0):
    rng = np.random.default_rng(seed)
    t = np.repeat(np.arange(n_t), n_c * n_s)
    c = np.repeat(np.arange(n_t * n_c), n_s)
    s = np.tile(np.arange(n_s), n_t * n_c).astype(float)
    x = rng.normal(size=t.size)
    rater = rng.integers(0, 6, t.size)
    y = (5 + rng.normal(0, 0.7, n_t)[t] + rng.normal(0, 1, n_t * n_c)[c]
         + (-0.3 + rng.normal(0, 0.2, n_t * n_c)[c] + rng.normal(0, 0.1, n_t)[t]) * s
         + rng.normal(0, 0.4, n_t // 5 + 1)[t // 5] + rng.normal(0, 0.5, 6)[rater]
         + 0.5 * x + rng.normal(size=t.size))
    return pd.DataFrame({"clinic": t // 5, "therapist": t, "client": c, "session": s,
                         "rater": rater, "x": x, "y": y})


def timed(df, formula, engine, reps=5):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = cf.fit_mixed(df, formula, engine=engine)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            cf.fit_mixed(df, formula, engine=engine)
            ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), fit


ROWS = [
    ("10k 3-level intercepts", "y ~ session + x + (1 | therapist) + (1 | client)", ["auto", "general"]),
    ("10k client slopes", "y ~ session + x + (1 | therapist) + (1 + session | client)", ["auto", "general"]),
    ("10k slopes at both levels", "y ~ session + x + (1 + session | therapist) + (1 + session | client)",
     ["auto", "general"]),
    ("10k 4-level (clinic/therapist/client)", "y ~ session + x + (1 | clinic/therapist/client)", ["auto"]),
    ("10k crossed (client x rater)", "y ~ session + x + (1 | client) + (1 | rater)", ["auto"]),
    ("10k || slopes", "y ~ session + x + (1 | therapist) + (session || client)", ["auto"]),
]


def main():
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"{'model':40s} {'engine':8s} {'seconds':>8s} {'n_eval':>6s} {'deviance':>14s}")
    df = make()
    for name, formula, engines in ROWS:
        for eng in engines:
            sec, fit = timed(df, formula, eng)
            print(f"{name:40s} {fit.engine:8s} {sec:8.3f} {fit.core.n_eval:6d} {fit.deviance:14.6f}")
    big = make(n_t=500, seed=1)
    for eng in ("auto", "general"):
        sec, fit = timed(big, "y ~ session + x + (1 | therapist) + (1 | client)", eng, reps=3)
        print(f"{'100k 3-level intercepts':40s} {fit.engine:8s} {sec:8.3f} {fit.core.n_eval:6d} "
              f"{fit.deviance:14.6f}")


if __name__ == "__main__":
    main()
