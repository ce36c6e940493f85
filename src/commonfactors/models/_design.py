"""Design building (formula -> X, y, Z, groups) of :mod:`.models` (the statsmodels engine is in :mod:`._statsmodels`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_columns
from ..errors import ColumnError, DataValidationError, ModelSpecError
from ._formula import fixed_names, parse_formula


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


def _context(env) -> dict:
    """Names a formula may use besides the data's columns: the caller's namespace."""
    if env is None:
        return {}
    if isinstance(env, dict):
        return env
    return {**env.f_globals, **env.f_locals}


def _transform_names() -> set:
    from formulaic.transforms import TRANSFORMS

    return set(TRANSFORMS) | {"np", "numpy"}


def _check_names(data: pd.DataFrame, exprs: list[str], ctx: dict) -> list[str]:
    """Data columns a formula reads; a clear error for a name found nowhere."""
    cols: list[str] = []
    known = _transform_names()
    for expr in exprs:
        names, funcs = fixed_names(expr)
        for name in sorted(names):
            if name in data.columns:
                if name not in cols:
                    cols.append(name)
            elif name not in ctx and name not in known:
                avail = ", ".join(map(str, list(data.columns)[:20]))
                raise ColumnError(
                    f"`formula`: column {name!r} not found in `data`; available columns: {avail}."
                )
        for fn in sorted(funcs):
            if fn not in known and fn not in ctx and fn not in data.columns:
                raise ModelSpecError(
                    f"`formula`: function {fn!r} in {expr!r} is not known; the formula can use "
                    "formulaic's transforms (C, I, Q, poly, bs, cr, center, scale, ...), np.* "
                    "and functions defined where fit_mixed is called.")
    return cols


def _matrix(expr: str, frame: pd.DataFrame, ctx: dict, what: str):
    """formulaic model matrix (float) with errors in the package's terms."""
    from formulaic import model_matrix

    try:
        mm = model_matrix(expr, frame, context=ctx, na_action="raise", output="pandas")
    except Exception as exc:  # noqa: BLE001 - formulaic raises many types
        msg = str(exc).split("\n")[0]
        raise ModelSpecError(f"`formula`: cannot build {what} from {expr!r}: {msg}") from None
    return mm


def _as_float(mm) -> pd.DataFrame:
    out = pd.DataFrame(np.asarray(mm, dtype=float), index=mm.index, columns=list(mm.columns))
    return out


def _group_codes(clean: pd.DataFrame, factors: tuple) -> tuple[np.ndarray, pd.Index]:
    """Integer group per row for a factor or an interaction of factors, and the level labels."""
    if len(factors) == 1:
        codes, uniq = pd.factorize(clean[factors[0]], sort=False)
        return codes.astype(np.intp), pd.Index(uniq)
    parts = [pd.factorize(clean[f], sort=False) for f in factors]
    key = np.zeros(len(clean), dtype=np.int64)
    for c, u in parts:
        key = key * (len(u) + 1) + c
    codes, _ = pd.factorize(key, sort=False)
    first = np.zeros(codes.max() + 1, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    vals = [np.asarray(u, dtype=object)[c[first]] for c, u in parts]
    labels = pd.Index([":".join(map(str, t)) for t in zip(*vals, strict=True)])
    return codes.astype(np.intp), labels


def _nested_in(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Every level of ``inner`` occurs with exactly one level of ``outer``."""
    m = int(inner.max()) + 1
    lo = np.full(m, np.iinfo(np.intp).max)
    hi = np.full(m, -1)
    np.minimum.at(lo, inner, outer)
    np.maximum.at(hi, inner, outer)
    return bool(np.all(lo == hi))


def _design(data: pd.DataFrame, formula: str, env, missing: str) -> dict:
    parsed = parse_formula(formula)
    lhs = parsed.lhs
    ctx = _context(env)
    group_cols = list(dict.fromkeys(c for t in parsed.random for c in t.factors))
    check_columns(data, group_cols, param="data")
    used = _check_names(data, [parsed.fixed_formula] + [f"~ {t.expr}" for t in parsed.random], ctx)
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
    for c in used:
        col = clean[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            inf = np.isinf(col.to_numpy(dtype=float))
            if inf.any():
                rows = ", ".join(map(str, list(clean.index[inf])[:5]))
                raise ColumnError(
                    f"`data`: column {c!r} has {int(inf.sum())} infinite value(s) (rows {rows}); "
                    "expecting finite numbers. Set them to missing or correct them.")
    mms = _matrix(parsed.fixed_formula, clean, ctx, "the fixed design")
    ymat, Xmm = mms.lhs, mms.rhs
    if ymat.shape[1] != 1:
        raise ColumnError(f"`formula`: outcome {lhs!r} must be one numeric column; got {ymat.shape[1]}.")
    X = _as_float(Xmm)
    bad = _collinear(X) if X.shape[1] else []
    if bad:
        raise ModelSpecError(
            f"`formula`: the fixed design is rank deficient: column(s) {', '.join(bad)} are "
            f"constant or a linear combination of the other columns ({', '.join(X.columns)}); "
            "remove them from the formula."
        )
    terms = []
    for t in parsed.random:
        zmm = _matrix(t.expr, clean, ctx, f"the random term {t.source}")
        zm = _as_float(zmm)
        if zm.shape[1] == 0:
            raise ModelSpecError(f"`formula`: the random term {t.source} has no column.")
        codes, levels = _group_codes(clean, t.factors)
        nl = len(levels)
        if nl < 2:
            raise DataValidationError(
                f"`data`: grouping factor {t.label!r} has {nl} level(s) in the rows used; a random "
                "effect needs at least 2 groups."
            )
        if nl * zm.shape[1] >= len(clean):
            raise ModelSpecError(
                f"`formula`: {t.source} has {nl * zm.shape[1]} random effects for "
                f"{len(clean)} rows; the random effects are not identifiable from the residual. "
                "Drop the term or its slopes."
            )
        terms.append({"label": t.label, "group": t.group, "factors": t.factors, "expr": t.expr, "Z": zm,
                      "spec": zmm.model_spec, "codes": codes, "levels": levels, "nlev": nl,
                      "source": t.source})
    # lme4's order: decreasing number of levels (stable)
    terms.sort(key=lambda d: -d["nlev"])
    Z = {d["label"]: d["Z"] for d in terms}
    nlev = {d["label"]: d["nlev"] for d in terms}
    inner = outer = None
    nested_ok = False
    base = [d["factors"] for d in terms]
    if len(terms) == 1:
        inner, nested_ok = terms[0]["label"], True
    elif len(terms) == 2 and base[0] != base[1]:
        c0, c1 = terms[0]["codes"], terms[1]["codes"]
        in01, in10 = _nested_in(c0, c1), _nested_in(c1, c0)
        if in01 and in10:
            inner, outer = terms[1]["label"], terms[0]["label"]
            msgs.append(
                f"every {terms[0]['label']} has exactly one {terms[1]['label']}: their variances "
                "are not separately identified")
            nested_ok = True
        elif in01:
            inner, outer, nested_ok = terms[0]["label"], terms[1]["label"], True
        elif in10:
            inner, outer, nested_ok = terms[1]["label"], terms[0]["label"], True
    if not nested_ok:
        inner = terms[0]["label"]
    by = {d["label"]: d for d in terms}
    return {
        "X": X, "y": ymat.iloc[:, 0].astype(float).rename(lhs), "Z": Z, "nlev": nlev,
        "terms": terms, "nested": nested_ok, "inner": inner, "outer": outer if nested_ok else None,
        "Zin": Z[inner].to_numpy(), "Zout": Z[outer].to_numpy() if nested_ok and outer else None,
        "codes_in": by[inner]["codes"],
        "codes_out": by[outer]["codes"] if nested_ok and outer else None,
        "clean": clean, "n_dropped": n_dropped, "warnings": msgs, "parsed": parsed,
        "spec": Xmm.model_spec, "context": ctx, "used": cols,
    }
