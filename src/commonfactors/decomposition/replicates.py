"""Bootstrap replicates of a decomposition, from sufficient statistics (never touching rows).

:func:`bootstrap_problem` is the fast path behind ``decompose(..., n_boot=...)``: each replicate
resamples the per-cluster sufficient statistics of a :class:`~._estimates.Problem` (therapists;
optionally clients within them) and refits the warm-started subset models through
:func:`._estimates.estimate`. Seeds, parallel workers and intervals are those of
:func:`commonfactors.cluster_bootstrap` (:mod:`commonfactors.bootstrap`,
:mod:`commonfactors.parallel`): one ``SeedSequence`` per replicate, so results do not depend on
``n_jobs``. A replicate whose refit does not converge is counted in ``n_failed`` and left out
of the intervals, never silently.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_option
from ..bootstrap import (
    CI_METHODS,
    BootstrapResult,
    basic_interval,
    bca_interval,
    percentile_interval,
    run_replicates,
)
from ..parallel import spawn
from ._estimates import estimate

__all__ = ["bootstrap_problem"]


def _problem_chunk(payload, seqs):
    """Replicates for the seed sequences ``seqs``: (values (len(seqs), width), ok)."""
    problem, warm, inner, width = payload
    vals, oks = [], []
    for ss in seqs:
        rng = np.random.default_rng(ss)
        idx, inner_idx = _draw(problem, rng, inner)
        try:
            v, ok = estimate(problem.resample(idx, inner_idx), warm)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            v, ok = np.full(width, np.nan), False
        vals.append(v)
        oks.append(bool(ok))
    width = max(len(v) for v in vals)
    out = np.full((len(vals), width), np.nan)
    for i, v in enumerate(vals):
        out[i, : len(v)] = v
    return out, np.array(oks, dtype=bool)


def _draw(problem, rng, inner: bool):
    n = problem.n_clusters
    idx = rng.integers(0, n, size=n)
    inner_idx = None
    if inner and problem.stats is not None and problem.stats.q_out:
        st = problem.stats
        members = [st.inner_groups_of(j) for j in idx]
        inner_idx = [rng.choice(m, size=m.size, replace=True) for m in members]
    return idx, inner_idx


def bootstrap_problem(problem, point: np.ndarray, warm: dict, *, n_boot: int, seed=None,
                      n_jobs: int = 1, progress: bool | None = None, ci: str = "percentile",
                      level: float = 0.95, inner: bool = False, names=()) -> BootstrapResult:
    """Cluster bootstrap of every estimand of a decomposition problem (see module docstring).

    ``point`` is the estimate vector of the full data (the centre of basic and BCa intervals),
    ``warm`` the fits the replicates start from (subset -> theta or (theta, Hessian); "mean" ->
    the mean model's (theta, Hessian)).
    """
    check_option("ci", ci, CI_METHODS)
    n_boot = check_int("n_boot", n_boot, minimum=1)
    seqs = spawn(seed, n_boot)
    vals, ok = run_replicates(_problem_chunk, (problem, warm, inner, len(point)), seqs, n_jobs,
                              progress)
    vals = vals[:, : len(point)]
    good = vals[ok]
    if ci == "bca":
        jack = _jackknife(problem, warm)
        lo, hi = bca_interval(good, point, jack, level)
    elif ci == "basic":
        lo, hi = basic_interval(good, point, level)
    else:
        lo, hi = percentile_interval(good, level)
    return BootstrapResult(point, good, lo, hi, n_boot, int((~ok).sum()), ci, level, tuple(names))


def _jackknife(problem, warm) -> np.ndarray:
    n = problem.n_clusters
    out = []
    for j in range(n):
        keep = np.r_[0:j, j + 1:n]
        try:
            v, _ = estimate(problem.resample(keep), warm)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            continue
        out.append(v)
    return np.vstack(out)
