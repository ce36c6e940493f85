"""Decomposing a model the user specified: ``cf.decompose(fit, factors=...)``.

Each fixed-effect column of the fit is given to the factor group whose column it is made from
(``alliance``, ``C(arm)[T.1]``, ``session:alliance``...); an interaction of a group's column with
``session`` belongs to that group. Columns of no group stay in every subset model. The level of
each column (within client, between clients of a therapist, between therapists) is read from the
data, so the Rights & Sterba within/between measures are reported when every predictor is centred
at its level, and only total measures otherwise.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import FactorGroupError
from ..estimands import EXTRA_THERAPEUTIC as THERAPY_EXCLUDE
from ..models.nested import NestedStats
from . import _estimates as E
from ._references import (
    Built,
    FitContrast,
    MeanModel,
    _contrast_rows,
    _default_references,
    _merged,
    _remainder_label,
    client_range,
)


def _parts(col: str) -> list[str]:
    """Variables a patsy column is made from: 'C(arm)[T.1]:session' -> ['arm', 'session']."""
    out = []
    for p in col.split(":"):
        p = re.sub(r"\[.*\]$", "", p)
        m = re.match(r"^[A-Za-z_]\w*\((.*)\)$", p)
        if m:
            p = m.group(1).split(",")[0].strip()
        out.append(p)
    return out


def assign_columns(columns, factors, session: str = "session") -> np.ndarray:
    """Group index per design column (-1: intercept or a column of no group).

    A group may list base variables (``"arm"``: every column made from it, interactions
    included) or exact design columns (``"arm:session"``, ``"C(arm)[T.1]"``). An interaction of a
    group's variable with ``session`` belongs to that group; an interaction of two groups'
    variables must be listed explicitly in one group.
    """
    def canon(c: str) -> str:  # "arm:session" and "session:arm" are the same column
        return ":".join(sorted(c.split(":")))

    by_canon = {canon(c): c for c in columns}
    exact = {by_canon[canon(c)]: g for g, cols in factors.items() for c in cols
             if canon(c) in by_canon}
    owner = {c: g for g, cols in factors.items() for c in cols}
    groups = list(factors)
    out = []
    for col in columns:
        if col == "Intercept":
            out.append(-1)
            continue
        if col in exact:
            out.append(groups.index(exact[col]))
            continue
        gs = {owner[p] for p in _parts(col) if p in owner}
        if len(gs) > 1:
            non_time = {owner[p] for p in _parts(col) if p in owner and p != session}
            if len(non_time) == 1:
                gs = non_time
            else:
                raise FactorGroupError(
                    f"`factors`: the model column {col!r} combines variables of groups "
                    f"{' and '.join(sorted(gs))}; list the column itself in one group "
                    f"(e.g. {{'{sorted(gs)[0]}': [..., '{col}']}}) or drop it.")
        out.append(groups.index(gs.pop()) if gs else -1)
    used = {p for col in columns for p in _parts(col)} | set(columns)
    for g, cols in factors.items():
        missing = [c for c in cols if c not in used and canon(c) not in by_canon]
        if missing:
            raise FactorGroupError(
                f"`factors`: {', '.join(map(repr, missing))} of group {g!r} is neither a variable "
                f"of the model nor one of its columns ({', '.join(columns)}); groups take "
                "variables (interactions follow them) or exact column names.")
    return np.asarray(out)


def _mean_by(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    n = codes.max() + 1
    return (np.bincount(codes, weights=x, minlength=n) / np.bincount(codes, minlength=n))[codes]


def classify_levels(X: np.ndarray, inner: np.ndarray | None, outer: np.ndarray | None,
                    roles: tuple, tol: float = 1e-8) -> list[str]:
    """Rights & Sterba level of each column: "f1", "f2", "f3", or "f" (not level-pure)."""
    out = []
    for j in range(X.shape[1]):
        x = X[:, j]
        scale = max(float(np.abs(x).max()), 1.0)
        small = lambda v, scale=scale: float(np.abs(v).max()) <= tol * scale  # noqa: E731
        if inner is None:
            out.append("f")
            continue
        im = _mean_by(x, inner)
        level = "f"
        if roles == ("client", "therapist"):
            om = _mean_by(x, outer)
            if small(im):
                level = "f1"
            elif small(x - im) and small(om):
                level = "f2"
            elif small(x - om):
                level = "f3"
        elif roles[0] == "client":
            if small(im):
                level = "f1"
            elif small(x - im):
                level = "f2"
        else:  # clients in therapists, one row per client
            if small(im):
                level = "f2"
            elif small(x - im):
                level = "f3"
        out.append(level)
    return out


def _icc_parts(fit, X, names, inner_codes, outer_codes, Z_in, Z_out, y, session):
    """Random-slope fits: the null model of the ICC and the time points of the ICC at a time.

    The null model has the same rows, random intercepts only, and keeps the intercept and the
    fixed counterparts of the random slopes (the time terms): a null model that keeps random
    slopes while dropping their fixed effects inflates the slope variances.
    """
    slopes = [c for g in (fit.groups.inner, fit.groups.outer) if g
              for c in fit.Z[g].columns if c != "Intercept"]
    if not slopes:
        return None, ()
    keep = [j for j, n in enumerate(names) if n == "Intercept" or n in slopes]
    one = np.ones((len(y), 1))
    null = NestedStats.from_arrays(X[:, keep], y, one, one if Z_out is not None else None,
                                   inner_codes, outer_codes)
    at = []
    frame = fit.data
    var = sorted(set(slopes))
    if len(var) == 1 and var[0] in frame.columns and pd.api.types.is_numeric_dtype(frame[var[0]]):
        t = frame[var[0]].to_numpy(dtype=float)
        for label, value in (("first", float(t.min())), ("last", float(t.max()))):
            z = {}
            for g in (fit.groups.inner, fit.groups.outer):
                if g:
                    z[g] = np.array([1.0 if c == "Intercept" else value for c in fit.Z[g].columns])
            at.append((label, value, z.get(fit.groups.inner),
                       z.get(fit.groups.outer) if fit.groups.outer else None))
    return null, tuple(at)


def problem_from_fit(fit, factors, view, references, client, therapist, session,
                     outside=(THERAPY_EXCLUDE,)):
    X = fit.X.to_numpy(dtype=float)
    y = fit.y.to_numpy(dtype=float)
    names = list(fit.X.columns)
    col_group = assign_columns(names, factors, session)
    inner_name, outer_name = fit.groups.inner, fit.groups.outer
    inner_codes = pd.factorize(fit.ids[inner_name], sort=False)[0].astype(np.intp)
    outer_codes = (pd.factorize(fit.ids[outer_name], sort=False)[0].astype(np.intp)
                   if outer_name else None)
    if outer_name:
        roles = ("client", "therapist")
    else:
        roles = ("therapist" if inner_name == therapist else "client", None)
    levels = classify_levels(X, inner_codes, outer_codes, roles)
    col_level = np.array(["" if n == "Intercept" else lv for n, lv in zip(names, levels, strict=False)])
    Z_in = fit.Z[inner_name].to_numpy(dtype=float)
    Z_out = fit.Z[outer_name].to_numpy(dtype=float) if outer_name else None
    stats = NestedStats.from_arrays(X, y, Z_in, Z_out, inner_codes, outer_codes)
    notes = []
    covariates = [n for n, g in zip(names, col_group, strict=False) if g < 0 and n != "Intercept"]
    if covariates:
        notes.append("columns of no factor group stay in every subset model (shares are of the "
                     f"increment over them): {', '.join(covariates)}")
    # shares of mean improvement through the fit's own design
    frame = fit.data.reset_index(drop=True)
    refs, ref_rows = {}, []
    mean_groups: tuple = ()
    contrast_obs = contrast_cf = contrast_n = None
    can_mean = view == "change" or session in frame.columns
    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}
    if can_mean:
        mean_factors = {g: [c for c in cols if c in numeric] for g, cols in factors.items()}
        refs, ref_rows = _default_references(frame, mean_factors, references,
                                             client if client in frame else inner_name, outside)
        refs = {g: r for g, r in refs.items() if r}
        ref_rows = [r for r in ref_rows if r["factor"] in refs]
    if refs:
        cl = client if (client in frame and view == "growth") else inner_name
        rows_c, client_rows = _contrast_rows(X, view, frame, cl, session)
        unit = inner_codes[client_rows]
        n_units = int(inner_codes.max()) + 1

        def per_unit(a):
            out = np.zeros((n_units, a.shape[1]))
            np.add.at(out, unit, a)
            return out

        contrast = FitContrast(fit, frame, view, cl, session)
        remainder = _remainder_label(outside, list(factors))
        mean_groups = tuple(list(refs) + [remainder])
        contrast_obs = per_unit(rows_c)
        ref_groups = list(refs)
        contrast_cf = np.stack([contrast_obs] + [
            per_unit(contrast.rows(_merged(refs, ref_groups, mask)))
            for mask in range(1, 2 ** len(ref_groups))])
        contrast_n = np.bincount(unit, minlength=n_units).astype(float)
    else:
        notes.append("no shares of mean improvement: "
                     + ("the growth view needs a session column in the data" if not can_mean
                        else "no numeric factor column to set to a reference level"))
    icc_null, icc_at = _icc_parts(fit, X, names, inner_codes, outer_codes, Z_in, Z_out, y, session)
    if icc_null is not None:
        notes.append("random slopes: icc_* come from a random-intercept null model that keeps the "
                     "fixed time terms; icc_*_adjusted averages the slope variances over the rows "
                     "(Johnson 2014); icc_*_first / icc_*_last are the ICC at the first and last "
                     "value of the slope variable (Snijders & Bosker 2012; Goldstein 2011)")
    problem = E.Problem(stats=stats, rows=None, col_group=col_group, col_level=col_level,
                        groups=tuple(factors), inner_role=roles[0], outer_role=roles[1],
                        reml=fit.reml, mean_stats=stats if refs else None,
                        contrast_obs=contrast_obs, contrast_cf=contrast_cf,
                        contrast_n=contrast_n, mean_groups=mean_groups,
                        outside=tuple(outside),
                        remainder=mean_groups[-1] if mean_groups else THERAPY_EXCLUDE,
                        icc_null=icc_null, icc_at=icc_at)
    mean = None
    if refs:
        lo, med = client_range(frame, refs, client if client in frame else inner_name)
        mean = MeanModel(refs, contrast, lo, med)
    by_role = {r: g for r, g in zip(roles, (inner_name, outer_name), strict=True) if r}
    built = Built(frame=frame, names=names, formula=fit.formula, ref_rows=ref_rows,
                  notes=tuple(notes), mean=mean,
                  client=client if client in frame else by_role.get("client"),
                  therapist=therapist if therapist in frame else by_role.get("therapist"))
    return problem, built
