"""Cluster bootstrap: resample therapists (optionally clients within them), recompute.

:func:`cluster_bootstrap` takes any statistic of a DataFrame and resamples whole clusters of rows
(duplicated clusters get new ids so that they stay distinct groups). The interval functions
(:func:`percentile_interval`, :func:`basic_interval`, :func:`bca_interval`) and
:class:`BootstrapResult` are shared with the fast bootstrap of :func:`commonfactors.decompose`
(:mod:`commonfactors.decomposition.replicates`, which resamples sufficient statistics instead of
rows).

Replicates are seeded one by one from ``np.random.SeedSequence(seed).spawn(n_boot)``, so results
do not depend on ``n_jobs`` or on where they run: the replicate function is a plain, picklable
top-level function executed by :func:`commonfactors.parallel.run` (joblib), and runs unchanged on
a Dask cluster with ``with joblib.parallel_config(backend="dask"): ...``. A replicate that fails
is counted in ``n_failed`` and left out of the intervals, never silently.

References
----------
1. Davison, A. C., & Hinkley, D. V. (1997). Bootstrap Methods and their Application. Cambridge
   University Press (cluster resampling, section 3.8; BCa intervals, section 5.3).
2. Efron, B. (1987). Better bootstrap confidence intervals. JASA, 82, 171-185.
3. Efron, B. (1981). Nonparametric standard errors and confidence intervals. Canadian Journal
   of Statistics, 9, 139-158 (bias-corrected percentile interval).
4. Efron, B., & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall
   (bias correction, section 10.5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from ._validation import check_analysis_args, check_columns, check_int, check_option
from .parallel import chunks, run, show_progress, spawn

__all__ = ["cluster_bootstrap", "BootstrapResult", "percentile_interval", "basic_interval",
           "bca_interval", "bc_interval", "logit_basic_interval", "bias_corrected", "interval",
           "show_progress", "CI_METHODS", "INTERVAL_METHODS", "run_replicates"]

CI_METHODS = ("percentile", "basic", "bca")
# methods that need the replicates only (BCa also needs jackknife values)
INTERVAL_METHODS = ("percentile", "basic", "bc", "logit_basic")


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


def bc_interval(reps: np.ndarray, estimate: np.ndarray,
                level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected percentile interval (Efron 1981; BCa with no acceleration).

    With ``z0 = Phi^-1(share of replicates below the estimate)``, the limits are the replicate
    quantiles at ``Phi(2 z0 +- z_(1-a/2))``. When the replicates sit above the estimate (the
    upward small-sample bias of R2-type quantities is reproduced by the bootstrap), ``z0 < 0``
    and the interval moves down; it stays inside the range of the replicates, hence inside
    the bounds of a share.
    """
    a = (1 - level) / 2
    reps = np.atleast_2d(reps)
    lo = np.full(reps.shape[1], np.nan)
    hi = np.full(reps.shape[1], np.nan)
    for j in range(reps.shape[1]):
        r = reps[:, j]
        r = r[np.isfinite(r)]
        if len(r) < 2 or not np.isfinite(estimate[j]):
            continue
        prop = (np.sum(r < estimate[j]) + 0.5 * np.sum(r == estimate[j])) / len(r)
        prop = min(max(prop, 1 / (2 * len(r))), 1 - 1 / (2 * len(r)))
        z0 = sps.norm.ppf(prop)
        qs = sps.norm.cdf(2 * z0 + sps.norm.ppf([a, 1 - a]))
        lo[j], hi[j] = np.quantile(r, qs)
    return lo, hi


_LOGIT_EPS = 1e-6


def logit_basic_interval(reps: np.ndarray, estimate: np.ndarray,
                         level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Basic interval on the logit scale, back-transformed (for quantities in (0, 1)).

    ``expit(2 logit(t) - q_hi), expit(2 logit(t) - q_lo)`` with ``q`` the quantiles of the
    logit replicates (Davison & Hinkley 1997, section 5.2.1 on transformations). Like the basic
    interval it moves against the bootstrap's estimate of the bias, but it cannot leave (0, 1):
    the basic interval on the original scale crosses 0 for shares near the boundary. Replicates
    at 0 or 1 (e.g. a variance at its boundary) are held at ``1e-6`` from it. Columns whose
    estimate is not inside (0, 1) fall back to the percentile interval.
    """
    reps = np.atleast_2d(np.asarray(reps, dtype=float))
    estimate = np.asarray(estimate, dtype=float)
    plo, phi = percentile_interval(reps, level)
    inside = (estimate > 0) & (estimate < 1)
    with np.errstate(all="ignore"), _quiet():
        r = np.clip(reps, _LOGIT_EPS, 1 - _LOGIT_EPS)
        r = np.where(np.isfinite(reps), np.log(r / (1 - r)), np.nan)
        t = np.clip(estimate, _LOGIT_EPS, 1 - _LOGIT_EPS)
        lt = np.log(t / (1 - t))
        qlo, qhi = percentile_interval(r, level)
        lo = 1 / (1 + np.exp(-(2 * lt - qhi)))
        hi = 1 / (1 + np.exp(-(2 * lt - qlo)))
    return np.where(inside, lo, plo), np.where(inside, hi, phi)


def interval(method: str, reps: np.ndarray, estimate: np.ndarray,
             level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The interval of ``method`` (one of :data:`INTERVAL_METHODS`) from the replicates."""
    check_option("method", method, INTERVAL_METHODS)
    if method == "percentile":
        return percentile_interval(reps, level)
    if method == "basic":
        return basic_interval(reps, estimate, level)
    if method == "bc":
        return bc_interval(reps, estimate, level)
    return logit_basic_interval(reps, estimate, level)


def bias_corrected(reps: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Bootstrap bias-corrected estimate ``2 t - mean(t*)`` per column (Efron & Tibshirani
    1993, section 10.5): the estimate minus the bootstrap's estimate of its bias. Failed (NaN)
    replicates are ignored; NaN without replicates."""
    reps = np.atleast_2d(np.asarray(reps, dtype=float))
    if not len(reps):
        return np.full(np.shape(estimate), np.nan)
    with np.errstate(all="ignore"), _quiet():
        return 2 * np.asarray(estimate, dtype=float) - np.nanmean(reps, axis=0)


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def run_replicates(func: Callable, payload, seqs: list, n_jobs: int, progress: bool | None,
                   desc: str = "bootstrap") -> tuple[np.ndarray, np.ndarray]:
    """``func(payload, [seed sequences])`` over chunks of ``seqs``; stacked (values, ok).

    ``func`` returns ``(values (len(chunk), k), ok (len(chunk),))`` for its chunk; rows keep
    the order of ``seqs``.
    """
    parts = chunks(len(seqs), n_jobs)
    results = run(func, [(payload, [seqs[i] for i in idx]) for idx in parts], n_jobs=n_jobs,
                  progress=progress, desc=desc, sizes=[len(idx) for idx in parts])
    values = np.vstack([r[0] for r in results])
    ok = np.concatenate([r[1] for r in results])
    return values, ok


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
    seqs = spawn(seed, n_boot)
    vals, ok = run_replicates(_frame_chunk, (data, statistic, cluster, inner, len(point), nested),
                              seqs, n_jobs, progress)
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
