"""Every estimand of one decomposition, from sufficient statistics only (the bootstrap hot path).

A :class:`Problem` holds what is fixed across replicates: the sufficient statistics of the
variance model and of the mean model, which fixed columns belong to which factor group and level,
the counterfactual contrasts for the shares of mean improvement, and the names of the levels.
:func:`estimate` refits the 2^k subset models (warm-started) and returns a flat vector of
estimands, so that a bootstrap replicate is ``estimate(problem.resample(idx))``.

Definitions (docs/methods.md sections 3-5): for a fitted model with fixed slopes ``b``, random-effect
covariances ``T`` and residual variance ``s2``, ``f = b' Cov(X) b`` (covariances over rows, n - 1
denominator, as R's ``cov``), ``v = tr(T Cov(Z))`` and ``m = mean(Z)' T mean(Z)`` per grouping
factor, ``total = f + v + m + s2``; the marginal R2 of a subset model is its own ``f / total``
(glmm.hp), part R2 is ``(f_full - f_without_g) / total_full`` (partR2) and Shapley values
average the R2 increments over orders. Rights & Sterba (2019, 2023) split ``f`` by the level of
each level-pure column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations
from math import factorial
from typing import NamedTuple

import numpy as np

from ..estimands import EXTRA_THERAPEUTIC as THERAPY_EXCLUDE
from ..estimands import VARIANCE_SHARES
from ..models.nested import NestedStats, fit_nested, hessian_at, refit_warm
from .shapley import all_subsets, commonality, shapley_values


@dataclass(frozen=True)
class Problem:
    """Everything one decomposition needs, as plain arrays (picklable, cheap to resample).

    With random effects, ``stats``/``mean_stats`` hold per-cluster sufficient statistics and a
    bootstrap draw resamples top-level clusters (therapists; clients when there is no therapist
    level). Without random effects (least squares), ``rows``/``mean_rows`` hold ``G = [X, y]``
    per row and a draw resamples rows. Mean-improvement contrasts are kept per inner group
    (client, or therapist in the change view) or per row, and follow the draw by label.
    """

    stats: NestedStats | None
    rows: np.ndarray | None  # least squares: G per row
    col_group: np.ndarray  # group index per fixed column, -1 = intercept / covariate
    col_level: np.ndarray  # "f1"/"f2"/"f3" per fixed column, "" = intercept, "f" = mixed
    groups: tuple[str, ...]
    inner_role: str | None  # "client" or "therapist"
    outer_role: str | None
    reml: bool
    mean_stats: NestedStats | None = None
    mean_rows: np.ndarray | None = None
    contrast_obs: np.ndarray | None = None  # (units, p_mean): summed contrast rows per unit
    contrast_cf: np.ndarray | None = None  # (2^k, units, p_mean): groups in bitmask at reference
    contrast_n: np.ndarray | None = None  # (units,): clients per unit
    mean_groups: tuple[str, ...] = ()
    row_labels: np.ndarray | None = None  # least squares: the rows of the current draw
    corr_cols: tuple = ()  # (group, column index in the mean design) for zero-order correlations
    corr_sign: float = 1.0  # -1 in the growth view: correlation with lower symptoms
    outside: tuple = (THERAPY_EXCLUDE,)  # groups outside therapy (share_therapy_variance)
    remainder: str = THERAPY_EXCLUDE  # label of the remainder of the mean improvement
    icc_null: NestedStats | None = None  # random-slope fits: the random-intercept null model
    icc_at: tuple = ()  # random-slope fits: (label, value, z_inner, z_outer) time points

    @property
    def level_pure(self) -> bool:
        lv = self.col_level[self.col_level != ""]
        return bool(len(lv)) and bool(np.all(lv != "f"))

    @property
    def n_clusters(self) -> int:
        if self.stats is None:
            return self.rows.shape[0]
        return self.stats.n_outer if self.stats.q_out else self.stats.n_inner

    def resample(self, idx: np.ndarray, inner_idx=None) -> Problem:
        """The problem on a cluster-bootstrap draw (``idx``: top-level clusters drawn)."""
        idx = np.asarray(idx, dtype=int)
        if self.stats is None:
            labels = idx if self.row_labels is None else self.row_labels[idx]
            return replace(self, rows=self.rows[idx],
                           mean_rows=None if self.mean_rows is None else self.mean_rows[idx],
                           row_labels=labels)
        ms = self.mean_stats.resample(idx, inner_idx) if self.mean_stats is not None else None
        null = self.icc_null.resample(idx, inner_idx) if self.icc_null is not None else None
        return replace(self, stats=self.stats.resample(idx, inner_idx), mean_stats=ms,
                       icc_null=null)

    def unit_labels(self) -> np.ndarray:
        """Labels (into the contrast arrays) of the units in the current draw."""
        if self.stats is None:
            return np.arange(self.rows.shape[0]) if self.row_labels is None else self.row_labels
        return (self.mean_stats or self.stats).inner_label


def _random_parts(stats: NestedStats, T_in, T_out) -> tuple[float, float, float, float]:
    """(v_in, m_in, v_out, m_out) for the fitted covariances (see module docstring)."""
    zi_mean = stats.zsum_i.sum(axis=0) / stats.n
    v_in = float(np.trace(T_in @ stats.z_cov("inner")))
    m_in = float(zi_mean @ T_in @ zi_mean)
    v_out = m_out = 0.0
    if stats.q_out:
        zo_mean = stats.osum_i.sum(axis=0) / stats.n
        v_out = float(np.trace(T_out @ stats.z_cov("outer")))
        m_out = float(zo_mean @ T_out @ zo_mean)
    return v_in, m_in, v_out, m_out


def _ols(G: np.ndarray, cols: np.ndarray):
    """Least squares of the last column of G on the columns ``cols``: (b, s2, Cov(X))."""
    X, y = G[:, cols], G[:, -1]
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    rss = float(((y - X @ b) ** 2).sum())
    n, p = X.shape
    return b, rss / max(n - p, 1), np.cov(X, rowvar=False, ddof=1).reshape(p, p)


@dataclass
class SubsetFit:
    beta: np.ndarray
    f: float
    total: float
    s2: float
    v_in: float
    m_in: float
    v_out: float
    m_out: float
    converged: bool
    singular: bool
    theta: np.ndarray | None
    f_level: dict
    hessian: np.ndarray | None = None
    T_in: np.ndarray | None = None
    T_out: np.ndarray | None = None


def fit_subset(problem: Problem, cols: np.ndarray, theta0=None, stats: NestedStats | None = None) -> SubsetFit:
    """Fit the model with fixed columns ``cols`` and return its variance parts."""
    stats = problem.stats if stats is None else stats
    if stats is None:
        b, s2, cov = _ols(problem.rows, cols)
        f = float(b @ cov @ b)
        fl = _f_levels(problem, cols, b, cov)
        return SubsetFit(b, f, f + s2, s2, 0.0, 0.0, 0.0, 0.0, True, False, None, fl)
    sub = stats.select(cols)
    if isinstance(theta0, tuple):  # (theta, Hessian) of the fit this one is warm-started from
        core = refit_warm(sub, problem.reml, theta0[0], theta0[1])
    else:
        core = fit_nested(sub, reml=problem.reml, theta0=theta0)
    cov = sub.x_cov()
    b = core.beta
    f = float(b @ cov @ b)
    v_in, m_in, v_out, m_out = _random_parts(sub, core.T_in, core.T_out)
    total = f + v_in + m_in + v_out + m_out + core.s2
    fl = _f_levels(problem, cols, b, cov)
    return SubsetFit(b, f, total, core.s2, v_in, m_in, v_out, m_out, core.converged,
                     core.singular, core.theta, fl, T_in=core.T_in, T_out=core.T_out)


def _full_cov(problem: Problem, full: SubsetFit):
    """(T_inner, T_outer, s2) of the full model, from its relative Cholesky factors."""
    return full.T_in, full.T_out, full.s2


def _f_levels(problem: Problem, cols, b, cov) -> dict:
    lv = problem.col_level[cols]
    out = {}
    for name in ("f1", "f2", "f3"):
        k = lv == name
        out[name] = float(b[k] @ cov[np.ix_(k, k)] @ b[k]) if k.any() else 0.0
    return out


class MeanFit(NamedTuple):
    """The mean model's point fit, which the bootstrap replicates start from."""

    beta: np.ndarray
    theta: np.ndarray | None  # None for least squares
    hessian: np.ndarray | None


class SubsetFits(dict):
    """Subset -> SubsetFit; ``.mean`` holds the mean model's point fit (:class:`MeanFit`) and
    ``.icc_null`` the random-intercept null model's fit of a random-slope model (else None)."""

    mean: MeanFit | None = None
    icc_null: SubsetFit | None = None


def subset_columns(problem: Problem, subset: frozenset[str]) -> np.ndarray:
    keep = [i for i, gi in enumerate(problem.col_group)
            if gi < 0 or problem.groups[gi] in subset]
    return np.asarray(keep, dtype=int)


# --------------------------------------------------------------------------------------
# the estimand vector
# --------------------------------------------------------------------------------------
def estimand_keys(problem: Problem) -> list[tuple[str, str]]:
    """(factor, estimand) of every entry of :func:`estimate`'s vector, in order."""
    keys = []
    for g in problem.groups:
        keys += [(g, e) for e in VARIANCE_SHARES]
    for g in problem.mean_groups:
        keys.append((g, "share_mean_improvement"))
    if problem.mean_groups:
        keys.append(("model", "mean_improvement"))
    for g, _ in problem.corr_cols:
        keys.append((g, "correlation"))
    keys += [("model", "r2_marginal"), ("model", "r2_conditional")]
    roles = [r for r in (problem.inner_role, problem.outer_role) if r]
    for r in ("therapist", "client"):
        if r in roles:
            keys += [(r, "share_total_variance"), (r, f"icc_{r}"), (r, f"icc_{r}_adjusted")]
    if "therapist" in roles:
        keys.append(("therapist", "d_therapist"))
    for label, *_ in problem.icc_at:
        for r in ("therapist", "client"):
            if r in roles:
                keys.append((r, f"icc_{r}_{label}"))
    keys.append(("residual", "share_total_variance"))
    for combo in _combos(problem.groups):
        keys.append(("+".join(combo), "commonality"))
    for comp, measure in component_keys(problem):
        keys.append((comp, f"component:{measure}"))
    return keys


def _combos(groups):
    return [c for k in range(1, len(groups) + 1) for c in combinations(groups, k)]


def component_keys(problem: Problem) -> list[tuple[str, str]]:
    """Rights & Sterba (component, measure) pairs reported for this model."""
    both = problem.inner_role and problem.outer_role
    pure = problem.level_pure
    if both:
        fs = ["f1", "f2", "f3"] if pure else []
        comps = fs + ["f", "v", "m_client", "m_therapist", "residual"]
        keys = [(c, "variance") for c in comps] + [(c, "total") for c in comps]
        if pure:
            keys += [("f1", "within_client"), ("v", "within_client"), ("residual", "within_client"),
                     ("f2", "between_client"), ("m_client", "between_client"),
                     ("f3", "between_therapist"), ("m_therapist", "between_therapist")]
        return keys
    if problem.inner_role == "therapist":
        fs = ["f2", "f3"] if pure else []
        comps = fs + ["f", "v", "m_therapist", "residual"]
        keys = [(c, "variance") for c in comps] + [(c, "total") for c in comps]
        if pure:
            keys += [("f2", "between_client"), ("residual", "between_client"),
                     ("f3", "between_therapist"), ("m_therapist", "between_therapist")]
        return keys
    if problem.inner_role == "client":
        fs = ["f1", "f2"] if pure else []
        comps = fs + ["f", "v", "m", "residual"]
        keys = [(c, "variance") for c in comps] + [(c, "total") for c in comps]
        if pure:
            keys += [("f1", "within"), ("v", "within"), ("residual", "within"),
                     ("f2", "between"), ("m", "between")]
        return keys
    comps = ["f", "residual"]
    return [(c, "variance") for c in comps] + [(c, "total") for c in comps]


def _components(problem: Problem, full: SubsetFit) -> dict[tuple[str, str], float]:
    both = problem.inner_role and problem.outer_role
    fl = full.f_level
    v = full.v_in + full.v_out
    if both:
        raw = {"f1": fl["f1"], "f2": fl["f2"], "f3": fl["f3"], "f": full.f, "v": v,
               "m_client": full.m_in, "m_therapist": full.m_out, "residual": full.s2}
    elif problem.inner_role == "therapist":
        raw = {"f2": fl["f2"], "f3": fl["f3"], "f": full.f, "v": v, "m_therapist": full.m_in,
               "residual": full.s2}
    elif problem.inner_role == "client":
        raw = {"f1": fl["f1"], "f2": fl["f2"], "f": full.f, "v": v, "m": full.m_in,
               "residual": full.s2}
    else:
        raw = {"f": full.f, "residual": full.s2}
    out = {}
    total = full.total
    for comp, measure in component_keys(problem):
        if measure == "variance":
            out[(comp, measure)] = raw[comp]
        elif measure == "total":
            out[(comp, measure)] = raw[comp] / total
    # within / between measures: each component over the sum of its level's components
    denominators = {}
    for comp, measure in component_keys(problem):
        if measure not in ("variance", "total"):
            denominators.setdefault(measure, []).append(comp)
    for measure, comps in denominators.items():
        den = sum(raw[c] for c in comps)
        for c in comps:
            out[(c, measure)] = raw[c] / den if den > 0 else np.nan
    return out


class MeanShares(NamedTuple):
    """Shares of mean improvement of one problem, and the mean-model fit they rest on."""

    shares: dict  # group -> share (the remainder group included)
    mean_improvement: float  # M, the mean predicted improvement
    beta: np.ndarray
    theta: np.ndarray | None  # None for least squares
    converged: bool


def _mean_shares(problem: Problem, theta0=None) -> MeanShares:
    """Counterfactual shares of mean improvement (docs/methods.md section 5) from the mean model.

    The mean predicted improvement is linear in the fixed effects: ``M = a_obs' b`` with
    ``a_obs`` the average contrast row (change view: the design row; growth view: the design
    row at a client's first observed session minus the one at its last). ``P(S)`` is the same
    mean with the groups in S at their reference levels, and ``C_g`` is g's Shapley value over
    orders, ``sum_S |S|!(k-|S|-1)!/k! (P(S) - P(S + g))``; with no interaction between groups
    every order gives the same ``P(S) - P(S + g)``. ``extra_therapeutic`` is the remainder
    ``M - sum_g C_g``.
    """
    if problem.mean_stats is not None:
        if isinstance(theta0, tuple):
            core = refit_warm(problem.mean_stats, problem.reml, theta0[0], theta0[1])
        else:
            core = fit_nested(problem.mean_stats, reml=problem.reml, theta0=theta0)
        b, ok, theta = core.beta, core.converged, core.theta
    else:
        G = problem.mean_rows
        b = np.linalg.lstsq(G[:, :-1], G[:, -1], rcond=None)[0]
        ok, theta = True, None
    labels = problem.unit_labels()
    n = problem.contrast_n[labels].sum()
    a_obs = problem.contrast_obs[labels].sum(axis=0) / n
    M = float(a_obs @ b)
    ref_groups = [g for g in problem.mean_groups if g != problem.remainder]
    k = len(ref_groups)
    # mean prediction with the groups of each subset (bitmask) at their reference levels
    pred = np.array([float((problem.contrast_cf[mask][labels].sum(axis=0) / n) @ b)
                     for mask in range(2**k)])
    shares = {}
    used = 0.0
    for j, g in enumerate(ref_groups):
        bit = 1 << j
        c = 0.0
        for mask in range(2**k):
            if mask & bit:
                continue
            size = bin(mask).count("1")
            w = factorial(size) * factorial(k - size - 1) / factorial(k)
            c += w * (pred[mask] - pred[mask | bit])
        shares[g] = c / M if M != 0 else np.nan
        used += c
    shares[problem.remainder] = (M - used) / M if M != 0 else np.nan
    return MeanShares(shares, M, b, theta, bool(ok))


def estimate(problem: Problem, warm: dict | None = None, *, details: bool = False):
    """All estimands of ``problem`` as a vector (ordered as :func:`estimand_keys`).

    Returns ``(vector, ok)`` where ``ok`` is False if any refit failed to converge; with
    ``details=True`` also the subset fits (for the point estimate).
    """
    warm = warm or {}
    groups = list(problem.groups)
    fits = SubsetFits()
    everything = frozenset(groups)
    # without warm starts (the point estimate) every subset starts from the full model's optimum,
    # which is close to its own: a few Newton steps instead of a search from the default start
    start = None
    if not warm and problem.stats is not None:
        first = fit_subset(problem, subset_columns(problem, everything))
        start = first.theta if first.converged else None
    for s in all_subsets(groups):
        if start is not None and s == everything:
            fits[s] = first
        else:
            fits[s] = fit_subset(problem, subset_columns(problem, s), warm.get(s, start))
    full = fits[frozenset(groups)]
    if details and problem.stats is not None:
        for s, f in fits.items():
            f.hessian = hessian_at(problem.stats.select(subset_columns(problem, s)), f.theta,
                                   problem.reml)
    r2 = {s: fits[s].f / fits[s].total for s in fits}
    base = r2[frozenset()]
    phi = shapley_values({s: r2[s] - base for s in r2}, groups)
    r2full = r2[frozenset(groups)] - base
    therapy = sum(v for g, v in phi.items() if g not in problem.outside)
    vals: dict[tuple[str, str], float] = {}
    total_, explained, therapy_, part = VARIANCE_SHARES
    for g in groups:
        vals[(g, total_)] = phi[g]
        vals[(g, explained)] = phi[g] / r2full if r2full > 0 else np.nan
        vals[(g, therapy_)] = phi[g] / therapy if g not in problem.outside and therapy > 0 else np.nan
        without = fits[frozenset(groups) - {g}]
        vals[(g, part)] = (full.f - without.f) / full.total
    ok = all(f.converged for f in fits.values())
    if problem.mean_groups:
        ms = _mean_shares(problem, warm.get("mean"))
        ok = ok and ms.converged
        for g in problem.mean_groups:
            vals[(g, "share_mean_improvement")] = ms.shares.get(g, np.nan)
        vals[("model", "mean_improvement")] = ms.mean_improvement
    if problem.corr_cols:
        if problem.mean_stats is not None:
            st = problem.mean_stats
            cov = st.g_cov()
        else:
            cov = np.cov(problem.mean_rows, rowvar=False, ddof=1)
        for g, j in problem.corr_cols:
            vals[(g, "correlation")] = problem.corr_sign * cov[j, -1] / np.sqrt(cov[j, j] * cov[-1, -1])
    vals[("model", "r2_marginal")] = full.f / full.total
    rand = full.v_in + full.m_in + full.v_out + full.m_out
    vals[("model", "r2_conditional")] = (full.f + rand) / full.total
    null = fits[frozenset()]
    if problem.icc_null is not None:  # random slopes: random-intercept null, time terms kept
        nc = fit_nested(problem.icc_null, reml=problem.reml, theta0=warm.get("icc_null"))
        ok = ok and nc.converged
        t_in = float(nc.T_in[0, 0])
        t_out = float(nc.T_out[0, 0]) if nc.T_out is not None else 0.0
        null = SubsetFit(nc.beta, 0.0, t_in + t_out + nc.s2, nc.s2, 0.0, t_in, 0.0, t_out,
                         nc.converged, nc.singular, nc.theta, {})
    roles = {problem.inner_role: "in", problem.outer_role: "out"}
    for r in ("therapist", "client"):
        where = roles.get(r)
        if where is None:
            continue
        part_full = full.v_in + full.m_in if where == "in" else full.v_out + full.m_out
        part_null = null.v_in + null.m_in if where == "in" else null.v_out + null.m_out
        vals[(r, "share_total_variance")] = part_full / full.total
        vals[(r, f"icc_{r}")] = part_null / (null.total - null.f)
        vals[(r, f"icc_{r}_adjusted")] = part_full / (full.total - full.f)
    if problem.icc_at:
        T_in, T_out, s2 = _full_cov(problem, full)
        for label, _value, z_in, z_out in problem.icc_at:
            a_in = float(z_in @ T_in @ z_in)
            a_out = float(z_out @ T_out @ z_out) if z_out is not None else 0.0
            den = a_in + a_out + s2
            for r in ("therapist", "client"):
                where = roles.get(r)
                if where is not None:
                    vals[(r, f"icc_{r}_{label}")] = (a_in if where == "in" else a_out) / den
    if ("therapist", "icc_therapist") in vals:
        icc = vals[("therapist", "icc_therapist")]
        vals[("therapist", "d_therapist")] = 2 * np.sqrt(icc / (1 - icc)) if 0 <= icc < 1 else np.nan
    vals[("residual", "share_total_variance")] = full.s2 / full.total
    com = commonality({s: r2[s] - base for s in r2}, groups)
    for combo in _combos(problem.groups):
        vals[("+".join(combo), "commonality")] = com[frozenset(combo)]
    for (comp, measure), v in _components(problem, full).items():
        vals[(comp, f"component:{measure}")] = v
    vec = np.array([vals.get(k, np.nan) for k in estimand_keys(problem)], dtype=float)
    if details:
        if problem.icc_null is not None:
            fits.icc_null = null
        if problem.mean_groups:
            hess = (hessian_at(problem.mean_stats, ms.theta, problem.reml)
                    if ms.theta is not None else None)
            fits.mean = MeanFit(ms.beta, ms.theta, hess)
        return vec, ok, fits
    return vec, ok
