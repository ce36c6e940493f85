"""The last step of every decomposition: estimates, bootstrap intervals, notes and the result."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from .._validation import user_stacklevel
from ..errors import SmallDesignWarning
from ..models import ConvergenceWarning
from . import _estimates as E
from ._profile_ci import profile_limits
from ._references import Built
from .intervals import MIN_THERAPISTS, choose_intervals, corrected_estimates, default_method
from .replicates import bootstrap_problem
from .result import Decomposition


def cross_products_kept(args) -> str:
    """Which per-group cross-products the bootstrap needs (``args``: the arguments of
    :func:`finish` from ``n_boot`` to ``level``): none for point estimates, per therapist for
    a therapist bootstrap, per client when clients are resampled."""
    n_boot, resample_clients = args[0], args[5]
    return "total" if n_boot == 0 else ("inner" if resample_clients else "outer")


def used_notes(n_rows: int, n_used: int, used, categorical) -> list[str]:
    notes = []
    if n_used < n_rows:
        notes.append(f"dropped {n_rows - n_used} of {n_rows} rows with a missing value in "
                     f"{', '.join(used)}")
    for c, inf in categorical.items():
        notes.append(f"{c} ({inf['group']}) is categorical: levels {', '.join(map(str, inf['levels']))}"
                     f"; reference level {inf['reference']} ({inf['rule']})")
    return notes


def finish(problem, built: Built, view, n_boot, ci, seed, n_jobs, progress, resample_clients, level, fit):
    keys = E.estimand_keys(problem)
    point, ok, fits = E.estimate(problem, details=True)
    notes = list(built.notes)
    bad = [("+".join(sorted(s)) or "(none)") for s, f in fits.items() if not f.converged]
    sing = [("+".join(sorted(s)) or "(none)") for s, f in fits.items() if f.singular]
    if bad:
        notes.append(f"subset models that did not converge: {', '.join(bad)}")
        warnings.warn(f"decompose: {len(bad)} subset model(s) did not converge: {', '.join(bad)}",
                      ConvergenceWarning, stacklevel=user_stacklevel())
    if sing:
        notes.append(f"singular fits (a variance at zero): {', '.join(sing)}")
    if not problem.level_pure:
        notes.append("not every predictor is centred at its level: Rights & Sterba components "
                     "are reported as total f, v, m only")
    mean_fit = fits.mean  # the mean model's point fit, or None
    warm = {s: (f.theta, f.hessian) if f.hessian is not None else f.theta for s, f in fits.items()}
    if mean_fit is not None and mean_fit.theta is not None:
        warm["mean"] = (mean_fit.theta, mean_fit.hessian)
    lo = hi = np.full(len(point), np.nan)
    reps = np.empty((0, len(point)))
    n_failed = 0
    methods = ["none"] * len(point)
    corrected = np.full(len(point), np.nan)
    profile = None
    if ci == "profile":
        profile = profile_limits(problem, fits, level)
    elif ci == "auto" and n_boot > 0:  # only the roles whose rows default to the profile
        roles = {f for f, e in keys if default_method(e, f) == "profile"}
        profile = profile_limits(problem, fits, level, roles=sorted(roles)) if roles else None
    if n_boot == 0 and ci == "profile":
        lo, hi, methods = choose_intervals(keys, point, reps, ci, level, profile)
    if n_boot > 0:
        br = bootstrap_problem(problem, point, warm, n_boot=n_boot, seed=seed, n_jobs=n_jobs,
                               progress=progress, ci=ci if ci in ("basic", "bca") else "percentile",
                               level=level, inner=resample_clients, names=keys)
        lo, hi, reps, n_failed = br.ci_low, br.ci_high, br.replicates, br.n_failed
        if ci in ("basic", "bca"):
            methods = [ci] * len(point)
        else:
            lo, hi, methods = choose_intervals(keys, point, reps, ci, level, profile)
        corrected = corrected_estimates(keys, point, reps)
        if n_failed:
            notes.append(f"{n_failed} of {n_boot} bootstrap replicates failed to converge and "
                         "are left out of the intervals")
        n_clusters = problem.n_clusters if problem.stats is not None else 0
        unit = problem.outer_role or problem.inner_role
        if unit and n_clusters < MIN_THERAPISTS:
            msg = (f"{n_clusters} {unit}s resampled: fewer than the {MIN_THERAPISTS} at which "
                   "the coverage study showed the bootstrap intervals to cover 92-98%; at 13 "
                   "therapists most of them covered less (treat them as too narrow), while the "
                   "profile-likelihood intervals (method 'profile') held")
            notes.append(msg)
            warnings.warn(f"decompose: {msg}", SmallDesignWarning, stacklevel=user_stacklevel())
    table, comps, com = split_rows(keys, point, lo, hi, corrected, methods)
    subsets = pd.DataFrame([{"subset": "+".join(g for g in problem.groups if g in s),
                             "r2m": f.f / f.total, "f": f.f, "total": f.total,
                             "converged": f.converged, "singular": f.singular}
                            for s, f in fits.items()])
    mean = built.mean
    if mean is not None and mean_fit is not None:
        b = mean_fit.beta
        labels = problem.unit_labels()
        a_obs = problem.contrast_obs[labels].sum(axis=0) / problem.contrast_n[labels].sum()
        mean = replace(mean, beta=b, M=float(a_obs @ b))
    stats = problem.stats
    n_obs = int(stats.n) if stats is not None else int(problem.rows.shape[0])
    frame = built.frame
    n_clients = int(frame[built.client].nunique()) if built.client in frame else 0
    n_ther = int(frame[built.therapist].nunique()) if built.therapist in frame else 0
    return Decomposition(
        table=table, components=comps, commonality=com,
        references=pd.DataFrame(built.ref_rows, columns=["factor", "column", "reference", "note"]),
        subsets=subsets, view=view, formula=built.formula, fit=fit, n_obs=n_obs,
        n_clients=n_clients, n_therapists=n_ther, data_summary=built.data_summary,
        n_boot=n_boot, n_boot_failed=n_failed, ci=ci, seed=seed, notes=tuple(notes),
        replicates=pd.DataFrame(reps, columns=[f"{a}|{b}" for a, b in keys]), _mean=mean,
        level=float(level))


def split_rows(keys, point, lo, hi, corrected, methods):
    """(table, components, commonality) of a decomposition from its flat estimand vector:
    Rights & Sterba components (``component:<measure>``) and commonality rows go to their own
    frames, everything else to the table."""
    rows = pd.DataFrame({"factor": [k[0] for k in keys], "estimand": [k[1] for k in keys],
                         "estimate": point, "ci_low": lo, "ci_high": hi,
                         "estimate_corrected": corrected, "method": methods})
    is_comp = rows["estimand"].str.startswith("component:")
    is_com = rows["estimand"] == "commonality"
    table = rows[~is_comp & ~is_com].reset_index(drop=True)
    rows = rows.drop(columns=["estimate_corrected", "method"])
    comps = rows[is_comp].rename(columns={"factor": "component"}).reset_index(drop=True)
    comps.insert(1, "measure", comps.pop("estimand").str.replace("component:", "", regex=False))
    com = rows[is_com].rename(columns={"factor": "groups"}).drop(columns="estimand")
    return table, comps, com.reset_index(drop=True)
