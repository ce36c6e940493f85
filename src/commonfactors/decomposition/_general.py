"""Decomposing a fit of the general engine: any number of nested levels, or crossed factors.

``cf.decompose(fit, factors=...)`` on a model such as ``(1 | clinic/therapist/client)``,
``(1 | clinic) + (1 | therapist) + (1 + session | client)`` or ``(1 | client) + (1 | rater)``.
With fitted fixed slopes ``b``, the covariance ``T_t`` of each random term ``t`` and the residual
variance ``s2`` (Rights & Sterba 2019; 2023 for three levels, generalised to any depth):

* ``f = b' Cov(X) b`` and, when every predictor is level-pure, ``f_1, ..., f_{L+1}``: ``f_1``
  from columns centred within the innermost factor ``g_1``, ``f_{k+1}`` from columns constant
  within ``g_k`` and centred within ``g_{k+1}`` (``k < L``), ``f_{L+1}`` from columns constant
  within the outermost factor ``g_L``;
* per grouping factor ``g``: ``v_g = sum_t tr(T_t Cov(Z_t))`` and ``m_g = sum_t mean(Z_t)' T_t
  mean(Z_t)`` over the terms of ``g`` (``||`` splits one factor into several terms);
* ``total = f + sum_g (v_g + m_g) + s2``.

Total measures divide by ``total``; with nested, level-pure models the within measure of the
innermost factor is over ``f_1 + v + s2`` (``v = sum_g v_g``) and the between measure of ``g_k``
over ``f_{k+1} + m_{g_k}``, exactly as the two- and three-level decomposition. Crossed factors
have no levels: only total measures. Factor-group shares (Shapley, part R2, commonality) refit
the model with every subset of groups (same random part and rows; warm-started), as for the
nested models. The adjusted ICC of ``g`` is ``(v_g + m_g) / (total - f)``; the null-model ICC
is the same ratio in the model without any factor group's columns.

Intervals: a cluster bootstrap over the outermost factor, every inner factor relabelled within
its drawn cluster (nested models only; a crossed model has no independent clusters and gets
point estimates with a note).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import EstimationError
from ..models import general as GE
from ._finish import split_rows
from .shapley import all_subsets, commonality, shapley_values

THERAPY_EXCLUDE = "extra_therapeutic"


def factor_chain(fit):
    """Grouping factors (group label, codes, levels) ordered inner -> outer, and nestedness."""
    seen, short = {}, {}
    for info in fit.random_terms:
        g = info["group"]
        if g not in seen:
            codes = pd.factorize(fit.ids[g], sort=False)[0].astype(np.intp)
            seen[g] = [g, codes, int(codes.max()) + 1]
            short[g] = info["factors"][-1]
    # name a factor by its innermost variable (client for clinic/therapist/client) when that
    # is unambiguous, else by lme4's label
    names = list(short.values())
    for g, item in seen.items():
        item[0] = short[g] if names.count(short[g]) == 1 else g
    chain = sorted((tuple(v) for v in seen.values()), key=lambda t: -t[2])
    nested = all(_nested_in(chain[k][1], chain[k + 1][1]) for k in range(len(chain) - 1))
    return chain, nested


def _group_order(fit) -> list:
    return list(dict.fromkeys(i["group"] for i in fit.random_terms))


def _chain_by_group(fit, chain):
    """The chain entries in the order of :func:`_group_order` (matched by their codes' size)."""
    out = []
    for g in _group_order(fit):
        codes = pd.factorize(fit.ids[g], sort=False)[0]
        out.append(next(c for c in chain if c[2] == int(codes.max()) + 1 and np.array_equal(c[1], codes)))
    return out


def _nested_in(inner, outer) -> bool:
    m = int(inner.max()) + 1
    lo = np.full(m, np.iinfo(np.intp).max)
    hi = np.full(m, -1)
    np.minimum.at(lo, inner, outer)
    np.maximum.at(hi, inner, outer)
    return bool(np.all(lo == hi))


def _group_mean(x, codes):
    n = codes.max() + 1
    return (np.bincount(codes, weights=x, minlength=n) / np.bincount(codes, minlength=n))[codes]


def classify(X: np.ndarray, chain, nested: bool, tol: float = 1e-8) -> list[str]:
    """Level of each column: 'f1'..'f{L+1}' (see module docstring) or 'f' (not level-pure)."""
    out = []
    L = len(chain)
    for j in range(X.shape[1]):
        x = X[:, j]
        scale = max(float(np.abs(x).max()), 1.0)
        small = lambda v, scale=scale: float(np.abs(v).max()) <= tol * scale  # noqa: E731
        level = "f"
        if nested:
            means = [_group_mean(x, c) for _, c, _ in chain]
            if small(means[0]):
                level = "f1"
            else:
                for k in range(L):
                    const_k = small(x - means[k])
                    if not const_k:
                        break
                    if k == L - 1:
                        level = f"f{L + 1}"
                    elif small(means[k + 1]):
                        level = f"f{k + 2}"
                        break
        out.append(level)
    return out


class _Model:
    """What the subset refits share: stats, design moments and the grouping structure."""

    def __init__(self, fit, factors: dict, session: str):
        from .._validation import check_factor_groups
        from ._from_fit import assign_columns

        factors = check_factor_groups(factors, min_groups=2)
        self.fit = fit
        self.groups = tuple(factors)
        names = list(fit.X.columns)
        self.names = names
        self.col_group = assign_columns(names, factors, session)
        X = fit.X.to_numpy(dtype=float)
        self.chain, self.nested = factor_chain(fit)
        self.name_of = dict(zip(_group_order(fit), (c[0] for c in _chain_by_group(fit, self.chain)),
                                strict=True))
        self.moments = moments(X, [fit.Z[i["label"]].to_numpy(dtype=float) for i in fit.random_terms],
                               [self.name_of[i["group"]] for i in fit.random_terms])
        levels = classify(X, self.chain, self.nested)
        self.col_level = np.array(["" if n == "Intercept" else lv for n, lv in zip(names, levels, strict=True)])
        self.level_pure = bool(self.nested and np.all(self.col_level[self.col_level != ""] != "f")
                               and (self.col_level != "").any())
        self.term_moments = self.moments[1]
        self.reml = fit.reml

    def columns(self, subset) -> np.ndarray:
        return np.array([i for i, gi in enumerate(self.col_group)
                         if gi < 0 or self.groups[gi] in subset], dtype=int)

    def parts(self, stats, cols, theta0, mom):
        sub = GE.select_columns(stats, cols)
        core = GE.fit_general(sub, reml=self.reml, theta0=theta0)
        b = core.beta
        cov = mom[0][np.ix_(cols, cols)]
        f = float(b @ cov @ b)
        vg, mg = {}, {}
        for (g, mean, zc), T in zip(mom[1], core.T, strict=True):
            vg[g] = vg.get(g, 0.0) + float(np.trace(T @ zc))
            mg[g] = mg.get(g, 0.0) + float(mean @ T @ mean)
        lv = self.col_level[cols]
        fl = {}
        for k in range(1, len(self.chain) + 2):
            sel = lv == f"f{k}"
            fl[f"f{k}"] = float(b[sel] @ cov[np.ix_(sel, sel)] @ b[sel]) if sel.any() else 0.0
        total = f + sum(vg.values()) + sum(mg.values()) + core.s2
        return {"f": f, "v": vg, "m": mg, "s2": core.s2, "total": total, "f_level": fl, "beta": b,
                "converged": core.converged, "singular": core.singular, "theta": core.theta}


def moments(X, Zs, groups):
    """Row covariance of X (n - 1) and, per random term, (group, mean of Z, covariance of Z)."""
    xcov = np.atleast_2d(np.cov(X, rowvar=False, ddof=1))
    terms = [(g, Z.mean(axis=0), np.atleast_2d(np.cov(Z, rowvar=False, ddof=1)))
             for Z, g in zip(Zs, groups, strict=True)]
    return xcov, terms


def estimate_all(model: _Model, stats, warm=None, mom=None, mean=None, weights=None):
    """(keys, values, subset fits) for one data set (the fit's own stats, or a replicate's).

    ``mean``: the per-client contrasts of :func:`mean_contrasts` (shares of mean improvement);
    ``weights``: how many times each client is in the data set (a bootstrap draw).
    """
    fits = {}
    theta_full = model.fit.theta
    mom = model.moments if mom is None else mom
    for s in all_subsets(model.groups):
        t0 = (warm or {}).get(s, theta_full)
        fits[s] = model.parts(stats, model.columns(s), t0, mom)
    groups = list(model.groups)
    full = fits[frozenset(groups)]
    null = fits[frozenset()]
    r2 = {s: p["f"] / p["total"] for s, p in fits.items()}
    base = r2[frozenset()]
    phi = shapley_values({s: r2[s] - base for s in r2}, groups)
    r2full = r2[frozenset(groups)] - base
    therapy = sum(v for g, v in phi.items() if g != THERAPY_EXCLUDE)
    vals: dict = {}
    for g in groups:
        vals[(g, "share_total_variance")] = phi[g]
        vals[(g, "share_explained_variance")] = phi[g] / r2full if r2full > 0 else np.nan
        vals[(g, "share_therapy_variance")] = (phi[g] / therapy if g != THERAPY_EXCLUDE and therapy > 0
                                               else np.nan)
        without = fits[frozenset(groups) - {g}]
        vals[(g, "part_r2")] = (full["f"] - without["f"]) / full["total"]
    if mean is not None:
        vals.update(mean_shares(mean, full["beta"], weights))
    rand = sum(full["v"].values()) + sum(full["m"].values())
    vals[("model", "r2_marginal")] = full["f"] / full["total"]
    vals[("model", "r2_conditional")] = (full["f"] + rand) / full["total"]
    for g, _, _ in model.chain:
        part = full["v"][g] + full["m"][g]
        vals[(g, "share_total_variance")] = part / full["total"]
        vals[(g, f"icc_{g}")] = (null["v"][g] + null["m"][g]) / (null["total"] - null["f"])
        vals[(g, f"icc_{g}_adjusted")] = part / (full["total"] - full["f"])
    if ("therapist", "icc_therapist") in vals:
        icc = vals[("therapist", "icc_therapist")]
        vals[("therapist", "d_therapist")] = 2 * np.sqrt(icc / (1 - icc)) if 0 <= icc < 1 else np.nan
    vals[("residual", "share_total_variance")] = full["s2"] / full["total"]
    com = commonality({s: r2[s] - base for s in r2}, groups)
    for k in range(1, len(groups) + 1):
        for s, v in com.items():
            if len(s) == k:
                vals[("+".join(g for g in groups if g in s), "commonality")] = v
    for key, v in components(model, full).items():
        vals[(key[0], f"component:{key[1]}")] = v
    keys = list(vals)
    return keys, np.array([vals[k] for k in keys], dtype=float), fits


def mean_contrasts(fit, factors, view, references, client, session):
    """Per-client contrasts for the shares of mean improvement (docs/methods.md section 5), or None.

    As for the nested fits: the mean predicted improvement is ``a_obs' b`` (growth view: the
    design row at a client's first observed session minus the one at its last), and ``P(S)``
    the same with the groups in ``S`` at their reference levels, re-coded through the fit's own
    design. Returns a dict with the contrasts per client, each client's outermost cluster and
    the reference rows, or None (with the reason) when they cannot be formed.
    """
    from ._references import _contrast_rows, _default_references, _merged

    frame = fit.data.reset_index(drop=True)
    if view != "change" and session not in frame.columns:
        return None, "the growth view needs a session column in the data"
    unit = client if client in frame.columns else None
    if unit is None:
        return None, f"no {client!r} column to define clients"
    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}
    mean_factors = {g: [c for c in cols if c in numeric] for g, cols in factors.items()}
    refs, ref_rows = _default_references(frame, mean_factors, references, unit)
    refs = {g: r for g, r in refs.items() if r}
    ref_rows = [r for r in ref_rows if r["factor"] in refs]
    if not refs:
        return None, "no numeric factor column to set to a reference level"
    X = fit.X.to_numpy(dtype=float)
    obs, client_rows = _contrast_rows(X, view, frame, unit, session)

    def design_with(ref):
        new = frame.copy()
        for col, v in ref.items():
            new[col] = float(v)
        return fit.design_matrix(new).to_numpy(dtype=float)

    groups = list(refs)
    cf = np.stack([obs] + [_contrast_rows(design_with(_merged(refs, groups, mask)), view, frame,
                                          unit, session)[0]
                           for mask in range(1, 2 ** len(groups))])
    return {"obs": obs, "cf": cf, "groups": groups, "client_rows": client_rows,
            "ref_rows": ref_rows}, ""


def mean_shares(mean: dict, beta: np.ndarray, weights=None) -> dict:
    """Shapley shares of the mean predicted improvement (see :func:`mean_contrasts`)."""
    from math import factorial

    w = np.ones(mean["obs"].shape[0]) if weights is None else np.asarray(weights, dtype=float)
    n = w.sum()
    M = float((w @ mean["obs"]) / n @ beta)
    pred = np.array([float((w @ mean["cf"][mask]) / n @ beta) for mask in range(mean["cf"].shape[0])])
    groups = mean["groups"]
    k = len(groups)
    out, used = {}, 0.0
    for j, g in enumerate(groups):
        bit = 1 << j
        c = 0.0
        for mask in range(2**k):
            if not mask & bit:
                size = bin(mask).count("1")
                c += factorial(size) * factorial(k - size - 1) / factorial(k) * (pred[mask] - pred[mask | bit])
        out[(g, "share_mean_improvement")] = c / M if M != 0 else np.nan
        used += c
    out[(THERAPY_EXCLUDE, "share_mean_improvement")] = (M - used) / M if M != 0 else np.nan
    out[("model", "mean_improvement")] = M
    return out


def components(model: _Model, full: dict) -> dict:
    """Rights & Sterba components of the full model with their measures."""
    L = len(model.chain)
    raw = {}
    pure = model.level_pure
    if pure:
        for k in range(1, L + 2):
            raw[f"f{k}"] = full["f_level"][f"f{k}"]
    raw["f"] = full["f"]
    raw["v"] = sum(full["v"].values())
    slopes = {g for g, mean, zc in model.term_moments if zc.shape[0] > 1 or np.any(np.diag(zc) > 0)}
    for g, _, _ in model.chain:
        if g in slopes:
            raw[f"v_{g}"] = full["v"][g]
    for g, _, _ in model.chain:
        raw[f"m_{g}"] = full["m"][g]
    raw["residual"] = full["s2"]
    out = {}
    for c, v in raw.items():
        out[(c, "variance")] = v
    for c, v in raw.items():
        out[(c, "total")] = v / full["total"]
    if pure:
        g1 = model.chain[0][0]
        within = {c: raw[c] for c in ("f1", "v", "residual")}
        den = sum(within.values())
        for c, v in within.items():
            out[(c, f"within_{g1}")] = v / den if den > 0 else np.nan
        for k, (g, _, _) in enumerate(model.chain, start=1):
            parts = {f"f{k + 1}": raw[f"f{k + 1}"], f"m_{g}": raw[f"m_{g}"]}
            den = sum(parts.values())
            for c, v in parts.items():
                out[(c, f"between_{g}")] = v / den if den > 0 else np.nan
    return out


def _replicate_stats(model: _Model, rng):
    """Cluster-bootstrap cross-products: outermost groups drawn, inner groups relabelled."""
    fit = model.fit
    top = model.chain[-1][1]
    n_top = model.chain[-1][2]
    order = np.argsort(top, kind="stable")
    starts = np.searchsorted(top[order], np.arange(n_top))
    stops = np.searchsorted(top[order], np.arange(n_top), side="right")
    draw = rng.integers(0, n_top, size=n_top)
    rows = np.concatenate([order[starts[j]:stops[j]] for j in draw])
    copy = np.repeat(np.arange(n_top), stops[draw] - starts[draw])
    X = fit.X.to_numpy(dtype=float)[rows]
    y = fit.y.to_numpy(dtype=float)[rows]
    Zs, codes = [], []
    for info in fit.random_terms:
        c = pd.factorize(fit.ids[info["group"]], sort=False)[0][rows]
        key = copy.astype(np.int64) * (int(c.max()) + 1) + c
        codes.append(pd.factorize(key, sort=False)[0])
        Zs.append(fit.Z[info["label"]].to_numpy(dtype=float)[rows])
    st = GE.GeneralStats.from_arrays(X, y, Zs, codes, [i["label"] for i in fit.random_terms])
    counts = np.bincount(draw, minlength=n_top)
    return st, moments(X, Zs, [model.name_of[i["group"]] for i in fit.random_terms]), counts


def decompose_general(fit, factors, *, n_boot, ci, seed, level, session, view="growth",
                      references=None, client="client", notes=()):
    """``cf.decompose(fit)`` for a fit of the general engine (see module docstring)."""
    from ..bootstrap import INTERVAL_METHODS
    from .intervals import choose_intervals, corrected_estimates
    from .result import Decomposition

    model = _Model(fit, factors, session)
    notes = list(notes)
    mean, why = mean_contrasts(fit, dict(factors), view, references, client, session)
    if mean is None:
        notes.append(f"no shares of mean improvement: {why}")
    else:
        top = model.chain[-1][1]
        mean["cluster"] = top[mean["client_rows"]]
    keys, point, fits = estimate_all(model, fit.stats, mean=mean)
    bad = ["+".join(sorted(s)) or "(none)" for s, p in fits.items() if not p["converged"]]
    if bad:
        notes.append(f"subset models that did not converge: {', '.join(bad)}")
    if not model.nested:
        notes.append("crossed grouping factors: Rights & Sterba components are total measures only")
    elif not model.level_pure:
        notes.append("not every predictor is centred at its level: Rights & Sterba components "
                     "are reported as total f, v, m only")
    lo = hi = np.full(point.size, np.nan)
    reps = np.empty((0, point.size))
    n_failed = 0
    methods = ["none"] * point.size
    corrected = np.full(point.size, np.nan)
    if n_boot > 0:
        if ci not in INTERVAL_METHODS + ("auto",):
            raise EstimationError(
                "`ci`: fits of the general engine take 'auto', "
                f"{', '.join(repr(m) for m in INTERVAL_METHODS)} intervals; got {ci!r}.")
        if not model.nested:
            raise EstimationError(
                "`n_boot`: a model with crossed grouping factors has no independent clusters to "
                "resample; use n_boot=0 (point estimates).")
        warm = {s: p["theta"] for s, p in fits.items()}
        rows, ok = [], []
        for ss in np.random.SeedSequence(seed).spawn(n_boot):
            rng = np.random.default_rng(ss)
            try:
                st, mom, counts = _replicate_stats(model, rng)
                wts = None if mean is None else counts[mean["cluster"]]
                _, v, f2 = estimate_all(model, st, warm, mom, mean, wts)
                good = (all(p["converged"] for p in f2.values())
                        and bool(np.all(np.isfinite(v[np.isfinite(point)]))))
            except (np.linalg.LinAlgError, EstimationError, ValueError, FloatingPointError):
                v, good = np.full(point.size, np.nan), False
            rows.append(v)
            ok.append(good)
        reps_all = np.vstack(rows)
        ok = np.array(ok)
        reps = reps_all[ok]
        n_failed = int((~ok).sum())
        lo, hi, methods = choose_intervals(keys, point, reps, ci, level)
        corrected = corrected_estimates(keys, point, reps)
        if n_failed:
            notes.append(f"{n_failed} of {n_boot} bootstrap replicates failed to converge and "
                         "are left out of the intervals")
    table, comps, com = split_rows(keys, point, lo, hi, corrected, methods)
    subsets = pd.DataFrame([{"subset": "+".join(g for g in model.groups if g in s),
                             "r2m": p["f"] / p["total"], "f": p["f"], "total": p["total"],
                             "converged": p["converged"], "singular": p["singular"]}
                            for s, p in fits.items()])
    n_cl = fit.n_groups.get("client", 0) if isinstance(fit.n_groups, dict) else 0
    n_th = fit.n_groups.get("therapist", 0) if isinstance(fit.n_groups, dict) else 0
    return Decomposition(
        table=table, components=comps, commonality=com,
        references=pd.DataFrame(mean["ref_rows"] if mean else [],
                                columns=["factor", "column", "reference", "note"]),
        subsets=subsets, view=view, formula=fit.formula, fit=fit, n_obs=fit.n_obs,
        n_clients=int(n_cl), n_therapists=int(n_th), data_summary=None, n_boot=n_boot,
        n_boot_failed=n_failed, ci=ci, seed=seed, notes=tuple(notes),
        replicates=pd.DataFrame(reps, columns=[f"{a}|{b}" for a, b in keys]), _mean={})
