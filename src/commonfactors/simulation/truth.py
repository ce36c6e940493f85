"""Population values of every estimand for a simulator configuration.

The truth is computed, wherever the model is linear Gaussian, exactly from the simulator's
linear map (:mod:`commonfactors.simulation._dgp`): every derived predictor of the default model
(:mod:`commonfactors.models.terms`) is a constant plus a linear combination of independent
innovations, so the population covariance over rows of predictors and outcome is a matrix
product. From it:

* ``R2(S)``, the population R2 of the linear projection of the outcome on the predictors of the
  groups in S, for every subset S; Shapley values (``share_total_variance``), their share of
  ``R2(full)`` (``share_explained_variance``) and of the therapy groups' sum
  (``share_therapy_variance``); ``part_r2 = R2(full) - R2(full - g)``;
* the random-intercept variance components that REML reaches on balanced data (the ANOVA
  expected mean squares) of the null and of the full model: ``icc_therapist``, ``icc_client``
  (null model), their ``_adjusted`` versions, the therapist, client and residual
  ``share_total_variance``, ``r2_marginal`` and ``r2_conditional``;
* ``correlation``: the zero-order correlation of each group's first column with improvement
  (change view: client means against pre - post; growth view: session rows against minus the
  outcome, i.e. lower symptoms), oriented like the published alliance-outcome correlations;
* ``share_mean_improvement``: the structural parts of the mean improvement relative to each
  group's reference level (alliance, expectancy: the configuration's reference values; technique:
  the control arm), ``extra_therapeutic`` being the natural-course remainder (docs/methods.md section 5).
  This is the causal quantity: in ``spurious_alliance`` it is 0 for the relationship even though
  the alliance correlates with improvement.

Where no closed form exists (dropout, bounded or integer scores), :func:`monte_carlo_truth`
computes the same estimands by least squares on a large simulated sample and reports the Monte
Carlo standard error from independent batches.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..decomposition.shapley import all_subsets, shapley_values
from ..estimands import ESTIMANDS, VARIANCE_SHARES
from ..estimands import EXTRA_THERAPEUTIC as THERAPY_EXCLUDE
from ..models.terms import View, build_terms, counterfactual_terms, improvement_contrast
from ._dgp import Block, SimConfig, build_block
from ._sample import sample_rows

__all__ = ["truth_table", "analytic_truth", "empirical_truth", "monte_carlo_truth",
           "DEFAULT_FACTORS", "THERAPY_EXCLUDE"]

DEFAULT_FACTORS = {
    "relationship": ["alliance"],
    "technique": ["arm"],
    "expectancy": ["expectancy"],
    "extra_therapeutic": ["session", "support"],
}
CLIENT_VARS = ("expectancy", "arm", "support")
ROW_VARS = ("alliance",)


# --------------------------------------------------------------------------------------
# moments of the linear representation
# --------------------------------------------------------------------------------------
class _Lin:
    """A variable over rows: constant vector + loadings (rows x K)."""

    __slots__ = ("c", "L")

    def __init__(self, c: np.ndarray, L: np.ndarray):
        self.c = np.asarray(c, dtype=float)
        self.L = np.asarray(L, dtype=float)

    def __sub__(self, other: _Lin) -> _Lin:
        return _Lin(self.c - other.c, self.L - other.L)

    def scale_rows(self, w: np.ndarray) -> _Lin:
        return _Lin(self.c * w, self.L * w[:, None])


def _group_mean(v: _Lin, size: int) -> _Lin:
    """Mean within consecutive groups of ``size`` rows, broadcast back."""
    r = v.c.shape[0]
    c = v.c.reshape(-1, size).mean(axis=1).repeat(size)
    L = v.L.reshape(r // size, size, -1).mean(axis=1).repeat(size, axis=0)
    return _Lin(c, L)


def _all_mean(v: _Lin) -> _Lin:
    r = v.c.shape[0]
    return _Lin(np.full(r, v.c.mean()), np.broadcast_to(v.L.mean(axis=0), v.L.shape).copy())


def _grand(v: _Lin) -> _Lin:
    """The population grand mean: a constant (the mean of the expected values)."""
    return _Lin(np.full(v.c.shape[0], v.c.mean()), np.zeros_like(v.L))


def _cov(a: _Lin, b: _Lin) -> float:
    ca, cb = a.c - a.c.mean(), b.c - b.c.mean()
    return float(np.einsum("ij,ij->", a.L, b.L) / a.c.shape[0] + (ca * cb).mean())


def _cov_matrix(vs: Sequence[_Lin]) -> np.ndarray:
    C = np.stack([v.c - v.c.mean() for v in vs])  # k x rows
    Ls = np.stack([v.L for v in vs])  # k x rows x K
    r = C.shape[1]
    flat = Ls.reshape(len(vs), -1)
    return flat @ flat.T / r + C @ C.T / r


def _block_variables(block: Block, view: str) -> tuple[dict[str, _Lin], _Lin, int]:
    """Raw variables over the rows of the view, the outcome, and the rows-per-client size."""
    n, m = block.n, block.m
    cor = block.client_of_row
    if view == "growth":
        out = {v: _Lin(block.const[v], block.L[v]) for v in ROW_VARS}
        for v in CLIENT_VARS:
            out[v] = _Lin(block.const[v][cor], block.L[v][cor])
        out["session"] = _Lin(block.session, np.zeros((m * n, block.K)))
        y = _Lin(block.const["outcome"], block.L["outcome"])
        return out, y, n
    # change view: one row per client
    first = np.arange(m) * n
    last = first + n - 1
    yc, yL = block.const["outcome"], block.L["outcome"]
    y = _Lin(yc[first] - yc[last], yL[first] - yL[last])
    out = {}
    for v in ROW_VARS:
        out[v] = _Lin(block.const[v].reshape(m, n).mean(axis=1),
                      block.L[v].reshape(m, n, -1).mean(axis=1))
    for v in CLIENT_VARS:
        out[v] = _Lin(block.const[v], block.L[v])
    out["pre"] = _Lin(yc[first], yL[first])
    return out, y, 1


def _derive(raw: dict[str, _Lin], factors: dict[str, list[str]], view: str, per_client: int,
            tol: float = 1e-12):
    """Apply the default-model recipe (see :mod:`commonfactors.models.terms`) to linear variables."""
    derived: dict[str, _Lin] = {}
    groups: dict[str, str] = {}

    def add(name, group, v: _Lin, source: _Lin):
        scale = max(_cov(source, source), 1.0)
        if _cov(v, v) <= tol * scale:
            return
        derived[name] = v
        groups[name] = group

    if view == "growth":
        sess = raw["session"]
        sw = (sess - _group_mean(sess, per_client)).c
        for group, cols in factors.items():
            for col in cols:
                x = raw[col]
                cm = _group_mean(x, per_client)
                tm = _all_mean(x)
                add(f"{col}_w", group, x - cm, x)
                add(f"{col}_c", group, cm - tm, x)
                add(f"{col}_t", group, tm - _grand(x), x)
                if col != "session":
                    add(f"{col}_time", group, (cm - _grand(x)).scale_rows(sw), x)
    else:
        for group, cols in factors.items():
            for col in cols:
                if col == "session":
                    continue
                x = raw[col]
                tm = _all_mean(x)
                add(f"{col}_c", group, x - tm, x)
                add(f"{col}_t", group, tm - _grand(x), x)
    return derived, groups


def _levels(v: _Lin, view: str, per_client: int) -> tuple[float, ...]:
    """Per-row variance of the within-client, between-client and between-therapist parts."""
    if view == "growth":
        cm = _group_mean(v, per_client)
        tm = _all_mean(v)
        return _cov(v - cm, v - cm), _cov(cm - tm, cm - tm), _cov(tm - _grand(v), tm - _grand(v))
    tm = _all_mean(v)
    return _cov(v - tm, v - tm), _cov(tm - _grand(v), tm - _grand(v))


def _components(parts: tuple[float, ...], view: str, m: float, n: float) -> dict[str, float]:
    """Random-intercept variances from per-row level variances (balanced expected mean squares)."""
    if view == "growth":
        W, B, T = parts
        s2 = W * n / (n - 1)
        ms_c = n * B * m / (m - 1) if m > 1 else np.nan
        ms_t = m * n * T
        mc = (ms_c - s2) / n if m > 1 else np.nan
        mt = (ms_t - ms_c) / (m * n) if m > 1 else np.nan
        return {"residual": s2, "client": mc, "therapist": mt}
    B, T = parts
    s2 = B * m / (m - 1)
    mt = T - s2 / m
    return {"residual": s2, "client": 0.0, "therapist": mt}


# --------------------------------------------------------------------------------------
# estimands from second moments (shared by analytic and empirical truth)
# --------------------------------------------------------------------------------------
def _r2_subsets(S: np.ndarray, groups_of: Sequence[str], group_names: Sequence[str]):
    """R2 of every subset of groups from a covariance matrix whose last row/col is the outcome."""
    k = S.shape[0] - 1
    syy = S[k, k]
    names = np.asarray(groups_of)
    r2 = {}
    for sub in all_subsets(group_names):
        idx = np.flatnonzero(np.isin(names, list(sub)))
        if idx.size == 0:
            r2[sub] = 0.0
            continue
        sxx = S[np.ix_(idx, idx)]
        sxy = S[idx, k]
        beta = np.linalg.lstsq(sxx, sxy, rcond=None)[0]
        r2[sub] = float(sxy @ beta / syy)
    return r2


def _variance_estimands(S, groups_of, group_names, comps_null, comps_adj, view):
    r2 = _r2_subsets(S, groups_of, group_names)
    full = frozenset(group_names)
    phi = shapley_values(r2, list(group_names))
    outside = ESTIMANDS["share_therapy_variance"].excludes
    therapy = sum(v for g, v in phi.items() if g not in outside)
    total_, explained, therapy_, part = VARIANCE_SHARES
    rows = []
    for g in group_names:
        rows += [
            (g, total_, phi[g]),
            (g, explained, phi[g] / r2[full] if r2[full] > 0 else np.nan),
            (g, therapy_, phi[g] / therapy if g not in outside and therapy > 0 else np.nan),
            (g, part, r2[full] - r2[full - {g}]),
        ]
    f = r2[full] * S[-1, -1]
    total = f + comps_adj["therapist"] + comps_adj["client"] + comps_adj["residual"]
    rows += [
        ("therapist", "share_total_variance", comps_adj["therapist"] / total),
        ("residual", "share_total_variance", comps_adj["residual"] / total),
        ("model", "r2_marginal", f / total),
        ("model", "r2_conditional", (f + comps_adj["therapist"] + comps_adj["client"]) / total),
    ]
    null_total = sum(comps_null.values())
    adj_total = sum(comps_adj.values())
    rows += [
        ("therapist", "icc_therapist", comps_null["therapist"] / null_total),
        ("therapist", "icc_therapist_adjusted", comps_adj["therapist"] / adj_total),
    ]
    if view == "growth":
        rows += [
            ("client", "share_total_variance", comps_adj["client"] / total),
            ("client", "icc_client", comps_null["client"] / null_total),
            ("client", "icc_client_adjusted", comps_adj["client"] / adj_total),
        ]
    return rows, r2


def _mean_rows(cfg: SimConfig) -> list[tuple]:
    parts = cfg.mean_parts()
    total = sum(parts.values())
    refs = {
        "relationship": f"alliance = {cfg.alliance_reference:g}",
        "technique": "arm = 0 (control)",
        "expectancy": f"expectancy = {cfg.expectancy_reference:g}",
        "extra_therapeutic": "remainder (natural course)",
    }
    return [(g, "share_mean_improvement", parts[g] / total, refs[g]) for g in parts]


def analytic_truth(cfg: SimConfig, factors: dict[str, list[str]] | None = None,
                   views: Sequence[str] = ("change", "growth")) -> pd.DataFrame:
    """Exact population values for a configuration without dropout or bounding.

    The design is balanced with ``clients_per_therapist`` clients and ``n_sessions`` sessions
    (unequal caseloads, if configured, are evaluated at the mean caseload).
    """
    factors = DEFAULT_FACTORS if factors is None else factors
    block = build_block(cfg)
    out = []
    for view in views:
        raw, y, per_client = _block_variables(block, view)
        derived, gmap = _derive(raw, factors, view, per_client)
        names = list(derived)
        group_names = [g for g in factors if g in gmap.values()]
        S = _cov_matrix([derived[k] for k in names] + [y])
        # full-model residual
        k = len(names)
        beta = np.linalg.lstsq(S[:k, :k], S[:k, k], rcond=None)[0]
        res = _Lin(y.c - sum(b * derived[nm].c for b, nm in zip(beta, names, strict=False)),
                   y.L - sum(b * derived[nm].L for b, nm in zip(beta, names, strict=False)))
        m, n = block.m, block.n
        comps_null = _components(_levels(y, view, per_client), view, m, n)
        comps_adj = _components(_levels(res, view, per_client), view, m, n)
        rows, _ = _variance_estimands(S, [gmap[nm] for nm in names], group_names,
                                      comps_null, comps_adj, view)
        for g, cols in factors.items():
            main = [c for c in cols if c != "session"]
            if main:
                x = raw[main[0]]
                r = _cov(x, y) / np.sqrt(_cov(x, x) * _cov(y, y))
                # oriented towards improvement: growth-view outcome is symptom level
                rows.append((g, "correlation", -r if view == "growth" else r))
        for g, e, v in rows:
            out.append({"factor": g, "estimand": e, "value": v, "view": view, "reference": "",
                        "method": "analytic", "mc_se": 0.0})
        for g, e, v, ref in _mean_rows(cfg):
            out.append({"factor": g, "estimand": e, "value": v, "view": view, "reference": ref,
                        "method": "analytic", "mc_se": 0.0})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------
# empirical counterpart (least squares on data) and Monte Carlo truth
# --------------------------------------------------------------------------------------
def _sample_levels(v: np.ndarray, data: pd.DataFrame, view: str) -> tuple[float, ...]:
    def rowmean(x, key):
        codes, uniq = pd.factorize(data[key], sort=False)
        sums = np.bincount(codes, weights=x, minlength=len(uniq))
        return (sums / np.bincount(codes, minlength=len(uniq)))[codes]

    if view == "growth":
        cm = rowmean(v, "client")
        tm = rowmean(v, "therapist")
        g = v.mean()
        return (np.mean((v - cm) ** 2), np.mean((cm - tm) ** 2), np.mean((tm - g) ** 2))
    tm = rowmean(v, "therapist")
    return (np.mean((v - tm) ** 2), np.mean((tm - v.mean()) ** 2))


def sim_references(cfg: SimConfig) -> dict[str, dict[str, float]]:
    """Reference levels ("absent") of the simulator's factor columns, per group."""
    return {"relationship": {"alliance": cfg.alliance_reference},
            "technique": {"arm": 0.0},
            "expectancy": {"expectancy": cfg.expectancy_reference}}


def _predicted_improvement(data: pd.DataFrame, X: np.ndarray, b0: float, beta: np.ndarray,
                           view: View) -> float:
    rows, _ = improvement_contrast(np.column_stack([np.ones(len(data)), X]), view, data)
    return float(rows.mean(axis=0) @ np.r_[b0, beta])


def ols_mean_shares(data: pd.DataFrame, factors: dict[str, list[str]], view: View,
                    references: dict[str, dict[str, float]]) -> dict[str, float]:
    """Counterfactual shares of mean improvement from a least-squares fit of the default model.

    The growth-view improvement of a client is the predicted outcome at its first observed
    session minus that at its last (rows sorted by session within client).
    """
    derived, _ = build_terms(data, factors, view=view, pooled=True)
    yname = "outcome" if view == "growth" else "improvement"
    y = data[yname].to_numpy(dtype=float)
    X = derived.to_numpy()
    Xc = np.column_stack([np.ones(len(y)), X])
    coef = np.linalg.lstsq(Xc, y, rcond=None)[0]
    b0, beta = coef[0], coef[1:]
    M = _predicted_improvement(data, X, b0, beta, view)
    parts = {}
    for g, refs in references.items():
        if g not in factors:
            continue
        Xcf = counterfactual_terms(data, factors, refs, view=view, columns=list(derived.columns),
                                   pooled=True).to_numpy()
        parts[g] = M - _predicted_improvement(data, Xcf, b0, beta, view)
    rest = [g for g in factors if g not in parts]
    shares = {g: v / M for g, v in parts.items()}
    for g in rest:
        shares[g] = (M - sum(parts.values())) / M if g == THERAPY_EXCLUDE else np.nan
    return shares


def empirical_truth(data: pd.DataFrame, factors: dict[str, list[str]] | None = None,
                    view: View = "growth", cfg: SimConfig | None = None) -> pd.DataFrame:
    """The truth's estimands by ordinary least squares on the default model's columns.

    On a large sample this reproduces :func:`analytic_truth` (a test checks it); with dropout or
    bounding it defines the Monte Carlo truth. ``data`` is the long frame (growth view) or the
    change frame (change view, one row per client with ``improvement``).
    """
    factors = DEFAULT_FACTORS if factors is None else factors
    derived, terms = build_terms(data, factors, view=view)
    yname = "outcome" if view == "growth" else "improvement"
    y = data[yname].to_numpy(dtype=float)
    X = derived.to_numpy()
    Z = np.column_stack([X, y])
    S = np.cov(Z, rowvar=False, bias=True)
    names = list(derived.columns)
    gof = [t.group for t in terms]
    group_names = [g for g in factors if g in gof]
    k = len(names)
    beta = np.linalg.lstsq(S[:k, :k], S[:k, k], rcond=None)[0]
    res = y - (X - X.mean(axis=0)) @ beta
    n_clients = data["client"].nunique()
    n_ther = data["therapist"].nunique()
    if view == "growth":
        m, n = n_clients / n_ther, len(data) / n_clients
    else:
        m, n = len(data) / n_ther, 1.0
    comps_null = _components(_sample_levels(y, data, view), view, m, n)
    comps_adj = _components(_sample_levels(res, data, view), view, m, n)
    rows, _ = _variance_estimands(S, gof, group_names, comps_null, comps_adj, view)
    for g, cols in factors.items():
        main = [c for c in cols if c != "session"]
        if main:
            r = float(np.corrcoef(data[main[0]].to_numpy(float), y)[0, 1])
            rows.append((g, "correlation", -r if view == "growth" else r))
    out = [{"factor": g, "estimand": e, "value": v, "view": view} for g, e, v in rows]
    if cfg is not None:
        shares = ols_mean_shares(data, factors, view, sim_references(cfg))
        out += [{"factor": g, "estimand": "share_mean_improvement", "value": shares[g],
                 "view": view, "reference": ref} for g, _, _, ref in _mean_rows(cfg)]
    return pd.DataFrame(out)


def monte_carlo_truth(cfg: SimConfig, factors: dict[str, list[str]] | None = None, *,
                      n_therapists: int = 4000, n_batches: int = 8, seed: int = 20240601,
                      views: Sequence[str] = ("change", "growth")) -> pd.DataFrame:
    """Truth by least squares on a large simulated sample, with its Monte Carlo error.

    The sample (``n_therapists`` caseloads of the configured design, with the configured
    dropout and bounding) is split into ``n_batches`` independent batches; ``value`` is the
    mean of the batch values and ``mc_se`` their standard deviation over ``sqrt(n_batches)``.
    """
    from ..sessions import change_view

    factors = DEFAULT_FACTORS if factors is None else factors
    per = max(2, n_therapists // n_batches)
    frames = []
    for b in range(n_batches):
        rows = sample_rows(cfg.replace(n_therapists=per, seed=None), np.random.default_rng(seed + b))
        for view in views:
            with warnings.catch_warnings():
                # clients with a single observed session leave the change view by design
                warnings.simplefilter("ignore", UserWarning)
                d = rows if view == "growth" else change_view(rows)
            t = empirical_truth(d, factors, "growth" if view == "growth" else "change")
            t["batch"] = b
            frames.append(t)
    allt = pd.concat(frames)
    agg = allt.groupby(["factor", "estimand", "view"], sort=False)["value"]
    out = agg.mean().rename("value").to_frame()
    out["mc_se"] = agg.std(ddof=1) / np.sqrt(n_batches)
    out = out.reset_index()
    out["reference"] = ""
    out["method"] = "monte_carlo"
    # the causal shares of mean improvement are structural: dropout and bounding leave them be
    mean = pd.DataFrame([{"factor": g, "estimand": e, "value": v, "view": view, "reference": ref,
                          "method": "analytic", "mc_se": 0.0}
                         for view in views for g, e, v, ref in _mean_rows(cfg)])
    cols = ["factor", "estimand", "value", "view", "reference", "method", "mc_se"]
    return pd.concat([out[cols], mean[cols]], ignore_index=True)


def truth_table(cfg: SimConfig, factors: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Truth for a configuration: analytic when it has a closed form, Monte Carlo otherwise."""
    if cfg.analytic:
        return analytic_truth(cfg, factors)
    return monte_carlo_truth(cfg, factors)
