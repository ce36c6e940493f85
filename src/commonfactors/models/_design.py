"""Formula parsing, design building and the statsmodels reference engine of :mod:`.models`."""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import patsy

from .._validation import check_columns
from ..errors import ColumnError, DataValidationError, EstimationError, ModelSpecError
from . import _nested


# ---------------------------------------------------------------------------- formula
def _split_top(text: str, sep: str) -> list[str]:
    out, depth, cur = [], 0, []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _parse_formula(formula: str) -> tuple[str, str, list[tuple[str, str]]]:
    """Split ``y ~ fixed + (terms | g)`` into (lhs, fixed rhs, [(terms, g), ...])."""
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise ModelSpecError(f"`formula`: expecting one 'outcome ~ predictors' formula; got {formula!r}.")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise ModelSpecError(f"`formula`: no outcome on the left of '~' in {formula!r}.")
    fixed, random = [], []
    for tok in _split_top(rhs, "+"):
        t = tok.strip()
        if t.startswith("(") and t.endswith(")") and "|" in t:
            inner = t[1:-1]
            if "||" in inner:
                raise ModelSpecError(
                    f"`formula`: the '||' (uncorrelated) syntax in {t!r} is not supported; write "
                    "a correlated term such as (1 + x | g)."
                )
            parts = _split_top(inner, "|")
            if len(parts) != 2:
                raise ModelSpecError(f"`formula`: cannot read the random term {t!r}.")
            terms, g = parts[0].strip(), parts[1].strip()
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", g):
                raise ModelSpecError(
                    f"`formula`: grouping factor {g!r} in {t!r} is not supported; use one column "
                    "name per random term (nested ids must be unique across outer groups)."
                )
            random.append((terms or "1", g))
        else:
            fixed.append(tok)
    fixed_rhs = "+".join(fixed).strip() or "1"
    if "|" in fixed_rhs:
        raise ModelSpecError(f"`formula`: random terms must be in parentheses, e.g. (1 | g); got {rhs!r}.")
    if not random:
        raise ModelSpecError(f"`formula`: no random term such as (1 | client) in {formula!r}.")
    groups = [g for _, g in random]
    dup = sorted({g for g in groups if groups.count(g) > 1})
    if dup:
        raise ModelSpecError(
            f"`formula`: grouping factor(s) {', '.join(dup)} appear in two random terms; combine "
            "them into one term such as (1 + x | g)."
        )
    if len(random) > 2:
        raise ModelSpecError(
            f"`formula`: at most two (nested) grouping factors are supported; got {len(random)} "
            f"({', '.join(groups)})."
        )
    return lhs, fixed_rhs, random


def _names_in(expr: str) -> set[str]:
    """Variable names (and Q('...') strings) used in a patsy expression."""
    desc = patsy.ModelDesc.from_formula(expr)
    names: set[str] = set()
    for term in list(desc.lhs_termlist) + list(desc.rhs_termlist):
        for fac in term.factors:
            code = getattr(fac, "code", None)
            if code is None:
                continue
            for node in ast.walk(ast.parse(code, mode="eval")):
                if isinstance(node, ast.Name):
                    names.add(node.id)
                elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                      and node.func.id == "Q" and node.args
                      and isinstance(node.args[0], ast.Constant)):
                    names.add(str(node.args[0].value))
    return names


def _used_columns(data: pd.DataFrame, exprs: list[str], env) -> list[str]:
    cols: list[str] = []
    for expr in exprs:
        for name in sorted(_names_in(expr)):
            if name in data.columns:
                if name not in cols:
                    cols.append(name)
                continue
            try:
                env.eval(name)
            except Exception:  # noqa: BLE001 - any failure means the name is unknown
                avail = ", ".join(map(str, list(data.columns)[:20]))
                raise ColumnError(
                    f"`formula`: column {name!r} not found in `data`; available columns: {avail}."
                ) from None
    return cols


def _collinear(X: pd.DataFrame) -> list[str]:
    """Names of columns that are linear combinations of earlier columns (pivoted QR)."""
    from scipy.linalg import qr

    A = X.to_numpy(dtype=float)
    norms = np.linalg.norm(A, axis=0)
    if np.any(norms == 0):
        return [c for c, nrm in zip(X.columns, norms, strict=True) if nrm == 0]
    _, R, piv = qr(A / norms, mode="economic", pivoting=True)
    d = np.abs(np.diag(R))
    rank = int(np.sum(d > 1e-10 * d[0]))
    return [X.columns[j] for j in sorted(piv[rank:])]


def _design(data: pd.DataFrame, formula: str, env, missing: str) -> dict:
    lhs, fixed_rhs, random = _parse_formula(formula)
    group_cols = [g for _, g in random]
    check_columns(data, group_cols, param="data")
    try:
        used = _used_columns(data, [f"{lhs} ~ {fixed_rhs}"] + [f"~ {t}" for t, _ in random], env)
    except patsy.PatsyError as exc:
        raise ModelSpecError(f"`formula`: cannot read {formula!r}: {exc}") from None
    if lhs in data.columns and not (pd.api.types.is_numeric_dtype(data[lhs])
                                    and not pd.api.types.is_bool_dtype(data[lhs])):
        raise ColumnError(f"`formula`: outcome {lhs!r} must be numeric; got dtype {data[lhs].dtype}.")
    cols = list(dict.fromkeys(used + group_cols))
    na = data[cols].isna()
    n_dropped = int(na.any(axis=1).sum())
    msgs: list[str] = []
    if n_dropped:
        counts = na.sum()
        what = ", ".join(f"{c} ({int(k)})" for c, k in counts.items() if k)
        if missing == "raise":
            raise ColumnError(
                f"`data`: {n_dropped} row(s) have missing values in column(s) {what}; drop or "
                "impute them, or pass missing='drop'."
            )
        msgs.append(f"dropped {n_dropped} row(s) with missing values in: {what}")
    clean = data.loc[~na.any(axis=1)].copy()
    try:
        ymat, X = patsy.dmatrices(f"{lhs} ~ {fixed_rhs}", clean, eval_env=env,
                                  return_type="dataframe", NA_action="raise")
    except patsy.PatsyError as exc:
        raise ModelSpecError(f"`formula`: cannot build the fixed design of {formula!r}: {exc}") from None
    if ymat.shape[1] != 1:
        raise ColumnError(f"`formula`: outcome {lhs!r} must be one numeric column; got {ymat.shape[1]}.")
    bad = _collinear(X) if X.shape[1] else []
    if bad:
        raise ModelSpecError(
            f"`formula`: the fixed design is rank deficient: column(s) {', '.join(bad)} are "
            f"constant or a linear combination of the other columns ({', '.join(X.columns)}); "
            "remove them from the formula."
        )
    Z, z_info, nlev = {}, {}, {}
    for terms, g in random:
        try:
            zm = patsy.dmatrix(terms, clean, eval_env=env, return_type="dataframe", NA_action="raise")
        except patsy.PatsyError as exc:
            raise ModelSpecError(f"`formula`: cannot build the random term ({terms} | {g}): {exc}") from None
        Z[g], z_info[g] = zm, zm.design_info
        nlev[g] = int(clean[g].nunique())
        if nlev[g] < 2:
            raise DataValidationError(
                f"`data`: grouping factor {g!r} has {nlev[g]} level(s) in the rows used; a random "
                "effect needs at least 2 groups."
            )
        if nlev[g] * zm.shape[1] >= len(clean):
            raise ModelSpecError(
                f"`formula`: ({terms} | {g}) has {nlev[g] * zm.shape[1]} random effects for "
                f"{len(clean)} rows; the random effects are not identifiable from the residual. "
                "Drop the term or its slopes."
            )
    if len(random) == 2:
        g1, g2 = group_cols
        n12 = clean.groupby(g1, sort=False)[g2].nunique().max()
        n21 = clean.groupby(g2, sort=False)[g1].nunique().max()
        if n12 > 1 and n21 > 1:
            raise DataValidationError(
                f"`data`: grouping factors {g1!r} and {g2!r} are crossed, not nested (some "
                f"{g1} occur with several {g2} and vice versa); use ids unique within the outer "
                "factor, or a tool for crossed effects."
            )
        if n12 == 1 and n21 == 1:
            inner, outer = g2, g1
            msgs.append(
                f"every {g1} has exactly one {g2}: their variances are not separately identified"
            )
        elif n12 == 1:
            inner, outer = g1, g2
        else:
            inner, outer = g2, g1
    else:
        inner, outer = group_cols[0], None
    codes_in = pd.factorize(clean[inner])[0]
    codes_out = pd.factorize(clean[outer])[0] if outer else None
    return {
        "X": X, "y": ymat.iloc[:, 0].rename(lhs), "Z": Z, "z_info": z_info, "nlev": nlev,
        "inner": inner, "outer": outer, "Zin": Z[inner].to_numpy(),
        "Zout": Z[outer].to_numpy() if outer else None, "codes_in": codes_in,
        "codes_out": codes_out, "clean": clean, "n_dropped": n_dropped, "warnings": msgs,
        "random": random,
    }


# ---------------------------------------------------------------------------- statsmodels
def _fit_statsmodels(d: dict, reml: bool):
    """Reference engine: statsmodels MixedLM with guards against silent failures."""
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    X, y = d["X"], d["y"]
    outer = d["outer"]
    if outer is None:
        groups, exog_re, exog_vc = d["codes_in"], d["Zin"], None
    else:
        if d["Zin"].shape[1] != 1:
            raise ModelSpecError(
                "`engine`: statsmodels cannot fit correlated random slopes for the inner factor "
                f"{d['inner']!r} together with an outer factor; use engine='fast'."
            )
        groups, exog_re = d["codes_out"], d["Zout"]
        zin = d["Zin"][:, 0]
        mats, colnames = [], []
        for o in np.unique(groups):  # MixedLM orders groups as np.unique does
            rows = np.flatnonzero(groups == o)
            ci = d["codes_in"][rows]
            levels = np.unique(ci)
            mats.append((ci[:, None] == levels[None, :]) * zin[rows, None])
            colnames.append([f"inner[{lv}]" for lv in levels])
        exog_vc = VCSpec(["inner"], [colnames], [mats])
    model = MixedLM(y.to_numpy(), X.to_numpy(), groups, exog_re=exog_re, exog_vc=exog_vc)
    notes, captured = [], []
    result, ok = None, False
    for method in ("lbfgs", "bfgs", "nm", "powell"):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml, method=method, maxiter=2000)
            except (np.linalg.LinAlgError, ValueError) as exc:
                notes.append(f"statsmodels method={method!r} failed: {exc}")
                continue
        texts = [f"statsmodels ({method}): {w.message}" for w in rec
                 if "Convergence" in type(w.message).__name__ or "converge" in str(w.message).lower()]
        # "MLE on the boundary" is a singular fit, reported as such below, not a failure
        texts = [t for t in texts if "boundary" not in t]
        fe = np.asarray(res.fe_params, dtype=float)
        problems = []
        if not res.converged:
            problems.append("not converged")
        if np.any(fe == 0.0):
            problems.append("a fixed effect is exactly 0.0 (statsmodels issue 10239)")
        bse = np.asarray(res.bse_fe, dtype=float)
        if not np.all(np.isfinite(bse)) or np.any(bse <= 0):
            problems.append("non-finite standard errors (Hessian not positive definite)")
        captured += texts
        result = res
        if not problems and not texts:
            ok = True
            break
        notes.append(f"statsmodels method={method!r}: {'; '.join(problems + texts) or 'warnings'}"
                     "; refitting with another method")
    if result is None:
        raise EstimationError("`engine='statsmodels'`: every optimiser failed; use engine='fast'.")
    s2 = float(result.scale)
    T_out = np.atleast_2d(np.asarray(result.cov_re, dtype=float))
    if outer is None:
        T_in, T_o = T_out, None
    else:
        T_in, T_o = np.atleast_2d(float(np.asarray(result.vcomp)[0])), T_out
    stats = _nested.NestedStats.from_arrays(X.to_numpy(), y.to_numpy(), d["Zin"], d["Zout"],
                                            d["codes_in"], d["codes_out"])
    theta = _nested.theta_from_cov(T_in, s2, T_o)
    base = _nested.evaluate_at(stats, theta, reml)
    # fixed-effect covariance as lme4's vcov, sigma^2 (X'V*^{-1}X)^{-1} at the statsmodels
    # estimates (statsmodels' own Hessian-based covariance differs slightly under REML)
    core = replace(
        base, beta=np.asarray(result.fe_params, dtype=float),
        vcov=base.vcov * s2 / base.s2, s2=s2, T_in=T_in, T_out=T_o,
        loglik=float(result.llf), deviance=float(-2 * result.llf), converged=ok,
        message="statsmodels " + ("converged" if ok else "did not converge cleanly"),
    )
    msgs = list(d["warnings"]) + notes
    if not ok:
        msgs.append("statsmodels: no optimiser gave a clean fit; treat the estimates with caution")
    return stats, core, msgs, captured


