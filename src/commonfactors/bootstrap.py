"""Cluster bootstrap: resample therapists (optionally clients within them), refit, recompute.

Two entry points share one runner and one set of interval functions:

* :func:`cluster_bootstrap` — any statistic of a DataFrame, resampling whole clusters of rows
  (duplicated clusters get new ids so that they stay distinct groups);
* :func:`bootstrap_problem` — the fast path used by :func:`commonfactors.decompose`: replicates
  resample per-cluster sufficient statistics and refit warm-started models, never touching rows.

Replicates are seeded one by one from ``np.random.SeedSequence(seed).spawn(n_boot)``, so results
do not depend on ``n_jobs`` or on where they run: the replicate function is a plain, picklable
top-level function executed through joblib, and runs unchanged on a Dask cluster with
``with joblib.parallel_backend("dask"): ...``. A replicate whose refit does not converge is
counted in ``n_failed`` and left out of the intervals, never silently.

References
----------
1. Davison, A. C., & Hinkley, D. V. (1997). Bootstrap Methods and their Application. Cambridge
   University Press (cluster resampling, section 3.8; BCa intervals, section 5.3).
2. Efron, B. (1987). Better bootstrap confidence intervals. JASA, 82, 171-185.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from ._validation import check_analysis_args, check_columns, check_int, check_option

__all__ = ["cluster_bootstrap", "bootstrap_problem", "BootstrapResult", "percentile_interval",
           "basic_interval", "bca_interval", "show_progress", "CI_METHODS"]

CI_METHODS = ("percentile", "basic", "bca")


@dataclass(frozen=True)
class BootstrapResult:
    """Replicates and intervals.

    Attributes
    ----------
    estimate : point estimates (one per statistic)
    replicates : (n_ok, k) array of successful replicates
    ci_low, ci_high : interval limits
    n_boot, n_failed : replicates asked for, and those that failed (left out of the intervals)
    method : "percentile", "basic" or "bca"; level : coverage (e.g. 0.95)
    names : statistic names
    """

    estimate: np.ndarray
    replicates: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_boot: int
    n_failed: int
    method: str
    level: float
    names: tuple

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"statistic": list(self.names), "estimate": self.estimate,
                             "ci_low": self.ci_low, "ci_high": self.ci_high})


def show_progress(progress: bool | None) -> bool:
    """Default progress: shown in an interactive terminal or notebook, quiet in CI."""
    if progress is not None:
        return bool(progress)
    if "CI" in os.environ:
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) or "ipykernel" in sys.modules


def percentile_interval(reps: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column (NaN replicates ignored)."""
    a = (1 - level) / 2
    with np.errstate(all="ignore"), _quiet():
        lo = np.nanquantile(reps, a, axis=0) if len(reps) else np.full(reps.shape[1], np.nan)
        hi = np.nanquantile(reps, 1 - a, axis=0) if len(reps) else np.full(reps.shape[1], np.nan)
    return lo, hi


def basic_interval(reps: np.ndarray, estimate: np.ndarray,
                   level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Basic (reverse-percentile) interval ``[2 t - q_hi, 2 t - q_lo]`` (Davison & Hinkley 5.2).

    It moves the interval against the bootstrap's estimate of the bias, which helps for
    estimands with a small-sample bias such as R2-type shares.
    """
    lo, hi = percentile_interval(reps, level)
    return 2 * estimate - hi, 2 * estimate - lo


def bca_interval(reps: np.ndarray, estimate: np.ndarray, jack: np.ndarray,
                 level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected and accelerated interval (Efron 1987) from jackknife values ``jack``."""
    a = (1 - level) / 2
    lo = np.full(reps.shape[1], np.nan)
    hi = np.full(reps.shape[1], np.nan)
    for j in range(reps.shape[1]):
        r = reps[:, j]
        r = r[np.isfinite(r)]
        jk = jack[:, j]
        jk = jk[np.isfinite(jk)]
        if len(r) < 2 or len(jk) < 3 or not np.isfinite(estimate[j]):
            continue
        prop = (np.sum(r < estimate[j]) + 0.5 * np.sum(r == estimate[j])) / len(r)
        prop = min(max(prop, 1 / (2 * len(r))), 1 - 1 / (2 * len(r)))
        z0 = sps.norm.ppf(prop)
        d = jk.mean() - jk
        den = 6 * (np.sum(d**2) ** 1.5)
        acc = np.sum(d**3) / den if den > 0 else 0.0
        out = []
        for q in (a, 1 - a):
            zq = sps.norm.ppf(q)
            adj = sps.norm.cdf(z0 + (z0 + zq) / (1 - acc * (z0 + zq)))
            out.append(np.quantile(r, adj))
        lo[j], hi[j] = out
    return lo, hi


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _chunks(seqs: list, n_jobs: int) -> list[list]:
    n_chunks = max(1, min(len(seqs), 4 * max(1, n_jobs), 64)) if n_jobs != 1 else max(1, min(len(seqs), 20))
    return [list(c) for c in np.array_split(np.arange(len(seqs)), n_chunks) if len(c)]


def _run(func: Callable, payload, seqs: list, n_jobs: int, progress: bool, desc: str):
    """Run ``func(payload, [seed sequences])`` over chunks; returns stacked (values, ok)."""
    from joblib import Parallel, delayed

    chunks = _chunks(seqs, n_jobs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(seqs), desc=desc, leave=False)
    results = []
    if n_jobs == 1:
        for idx in chunks:
            results.append(func(payload, [seqs[i] for i in idx]))
            if bar is not None:
                bar.update(len(idx))
    else:
        par = Parallel(n_jobs=n_jobs, return_as="generator")
        for idx, res in zip(chunks, par(delayed(func)(payload, [seqs[i] for i in idx]) for idx in chunks), strict=False):
            results.append(res)
            if bar is not None:
                bar.update(len(idx))
    if bar is not None:
        bar.close()
    values = np.vstack([r[0] for r in results])
    ok = np.concatenate([r[1] for r in results])
    return values, ok


# --------------------------------------------------------------------------------------
# fast path: sufficient statistics (used by decompose)
# --------------------------------------------------------------------------------------
def _problem_chunk(payload, seqs):
    with _one_blas_thread():
        return _problem_chunk_inner(payload, seqs)


class _one_blas_thread:
    """Small matrices: BLAS threads only add overhead (and oversubscribe parallel workers)."""

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits

            self._ctx = threadpool_limits(1)
        except ImportError:  # pragma: no cover - threadpoolctl is a declared dependency
            self._ctx = None
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


def _problem_chunk_inner(payload, seqs):
    from .decomposition._estimates import estimate

    problem, warm, inner = payload
    vals, oks = [], []
    for ss in seqs:
        rng = np.random.default_rng(ss)
        idx, inner_idx = _draw(problem, rng, inner)
        try:
            v, ok = estimate(problem.resample(idx, inner_idx), warm)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            v, ok = np.full(len(warm.get("_k", [])) or 1, np.nan), False
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
    """Cluster bootstrap of every estimand of a decomposition problem (see module docstring)."""
    check_option("ci", ci, CI_METHODS)
    n_boot = check_int("n_boot", n_boot, minimum=1)
    seqs = np.random.SeedSequence(seed).spawn(n_boot)
    warm = {**warm, "_k": point}
    vals, ok = _run(_problem_chunk, (problem, warm, inner), seqs, n_jobs, show_progress(progress),
                    "bootstrap")
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
    from .decomposition._estimates import estimate

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


# --------------------------------------------------------------------------------------
# general path: any statistic of a DataFrame
# --------------------------------------------------------------------------------------
def _frame_chunk(payload, seqs):
    data, statistic, cluster, inner, k, nested = payload
    groups = data.groupby(cluster, sort=False).indices
    keys = list(groups)
    vals, oks = [], []
    for ss in seqs:
        rng = np.random.default_rng(ss)
        draw = rng.integers(0, len(keys), size=len(keys))
        parts = []
        for new_id, j in enumerate(draw):
            rows = data.iloc[groups[keys[j]]]
            if inner is not None:
                ids = rows[inner].unique()
                pick = rng.choice(ids, size=len(ids), replace=True)
                # copy t of inner unit c in cluster copy new_id: unique across the whole sample
                rows = pd.concat([rows[rows[inner] == c].assign(**{inner: f"{c}#{new_id}.{t}"})
                                  for t, c in enumerate(pick)])
            # a cluster drawn twice must not merge its nested units (clients) across the copies
            relabel = {col: rows[col].astype(str) + f"#{new_id}" for col in nested}
            parts.append(rows.assign(**{cluster: f"{keys[j]}#{new_id}"}, **relabel))
        sample = pd.concat(parts, ignore_index=True)
        try:
            v = np.asarray(statistic(sample), dtype=float).reshape(-1)
            ok = bool(np.all(np.isfinite(v)))
        except (np.linalg.LinAlgError, FloatingPointError, ValueError, ArithmeticError):
            v, ok = np.full(k, np.nan), False
        vals.append(v)
        oks.append(ok)
    return np.vstack(vals), np.array(oks)


def cluster_bootstrap(data: pd.DataFrame, statistic: Callable[[pd.DataFrame], object], *,
                      cluster: str = "therapist", inner: str | None = None, n_boot: int = 1000,
                      seed=None, n_jobs: int = 1, progress: bool | None = None,
                      ci: str = "percentile", level: float = 0.95,
                      nested: Sequence[str] | None = None) -> BootstrapResult:
    """Cluster bootstrap of any statistic of a long DataFrame.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    statistic : callable
        ``statistic(frame) -> float or array``; must be picklable for ``n_jobs != 1``. A replicate
        raising a numerical error or returning non-finite values counts as failed.
    cluster : str
        Column of the resampled clusters (drawn with replacement; duplicates get new ids).
    inner : str, optional
        Also resample these units (e.g. "client") within each drawn cluster.
    nested : sequence of str, optional
        Columns of units nested in ``cluster`` (e.g. ``"client"`` when therapists are resampled)
        whose ids are relabelled in every drawn copy of a cluster, so that a therapist drawn
        twice contributes two sets of clients rather than one merged set. Default: ``["client"]``
        when ``data`` has a ``client`` column that is neither ``cluster`` nor ``inner``, else none.
    n_boot, seed, n_jobs, progress, ci, level
        Replicates (at least 20; a warning below 200), seed of ``np.random.SeedSequence`` (an
        int, None or a Generator), joblib workers (non-zero), progress bar (default:
        interactive only), interval method ("percentile", "basic" or "bca"), coverage in
        (0, 1). Arguments are checked by the same helper as :func:`commonfactors.decompose`.

    Examples
    --------
    >>> import commonfactors as cf
    >>> d = cf.simulate("lambert_1992", n_therapists=8, n_sessions=3, seed=1).data
    >>> r = cf.cluster_bootstrap(d, lambda x: x["outcome"].mean(), n_boot=50, seed=1)
    >>> bool(r.ci_low[0] < r.estimate[0] < r.ci_high[0]), r.n_failed
    (True, 0)
    """
    check_columns(data, [cluster] + ([inner] if inner else []), param="data")
    if nested is None:
        nested = [c for c in ("client",) if c in data.columns and c not in (cluster, inner)]
    else:
        nested = [nested] if isinstance(nested, str) else list(nested)
        check_columns(data, nested, param="nested")
        nested = [c for c in nested if c != inner]
    check_option("ci", ci, CI_METHODS)
    n_boot = check_int("n_boot", n_boot, minimum=1)
    args = check_analysis_args(n_boot=n_boot, level=level, seed=seed, n_jobs=n_jobs)
    n_boot, level, seed, n_jobs = args["n_boot"], args["level"], args["seed"], args["n_jobs"]
    point = np.asarray(statistic(data), dtype=float).reshape(-1)
    seqs = np.random.SeedSequence(seed).spawn(n_boot)
    vals, ok = _run(_frame_chunk, (data, statistic, cluster, inner, len(point), nested), seqs, n_jobs,
                    show_progress(progress), "bootstrap")
    good = vals[ok]
    if ci == "bca":
        keys = data[cluster].unique()
        jack = np.vstack([np.asarray(statistic(data[data[cluster] != k]), dtype=float).reshape(-1)
                          for k in keys])
        lo, hi = bca_interval(good, point, jack, level)
    elif ci == "basic":
        lo, hi = basic_interval(good, point, level)
    else:
        lo, hi = percentile_interval(good, level)
    names = tuple(f"statistic_{i}" for i in range(len(point)))
    return BootstrapResult(point, good, lo, hi, n_boot, int((~ok).sum()), ci, level, names)
