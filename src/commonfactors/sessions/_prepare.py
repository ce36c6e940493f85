"""Private steps of :func:`commonfactors.read_sessions` between reading a file and checking it:
missing-value codes, declared ranges, SPSS/Stata value labels, dates as sessions.

Each step works on the reader's own copy and returns what it did, for ``attrs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError, ColumnError
from ._checks import py_scalar, show_values

SESSION_DATE_RULES = ("index", "weeks")


def _resolve(col: Any, df: pd.DataFrame, mapping: Mapping[str, str], param: str) -> str:
    """A column given by its source name or its role, as named in ``df`` (after renaming)."""
    renamed = {user: role for role, user in mapping.items()}
    if col in renamed:
        return renamed[col]
    if col in df.columns:
        return col
    raise ColumnError(
        f"`{param}`: column {col!r} not found; available columns: "
        f"{', '.join(map(str, list(mapping.values()) + [c for c in df.columns if c not in renamed.values()]))}.")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def apply_na_values(df: pd.DataFrame, na_values: Any, mapping: Mapping[str, str]
                    ) -> dict[str, int]:
    """Set declared missing-value codes to NaN; return column -> count.

    A list applies to every column except the therapist and client ids; a dict
    ``{column: [codes]}`` to the columns named (source names or roles).
    """
    if na_values is None:
        return {}
    if isinstance(na_values, Mapping):
        per = {}
        for col, codes in na_values.items():
            per[_resolve(col, df, mapping, "na_values")] = codes
    elif isinstance(na_values, (str, bytes)) or _is_number(na_values):
        per = {c: [na_values] for c in df.columns if c not in ("therapist", "client")}
    elif isinstance(na_values, Sequence):
        per = {c: list(na_values) for c in df.columns if c not in ("therapist", "client")}
    else:
        raise ArgumentError(
            "`na_values`: expecting a list of missing-value codes (e.g. [-99, 999, 'n/a']) or "
            f"a mapping {{column: [codes]}}; got {type(na_values).__name__}.")
    counts: dict[str, int] = {}
    for col, codes in per.items():
        if isinstance(codes, (str, bytes)) or _is_number(codes):
            codes = [codes]
        if not isinstance(codes, Sequence) or not all(
                _is_number(v) or isinstance(v, str) for v in codes):
            raise ArgumentError(
                f"`na_values`: the codes of column {col!r} must be numbers or text; got {codes!r}.")
        s = df[col]
        nums = [float(v) for v in codes if _is_number(v)]
        texts = {str(v).strip() for v in codes}
        texts |= {str(py_scalar(v)) for v in nums}
        if isinstance(s.dtype, pd.CategoricalDtype):
            hit = s.astype(object).astype(str).str.strip().isin(texts) & s.notna()
        elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            hit = s.astype(float).isin(nums)
        else:
            num = pd.to_numeric(s, errors="coerce")
            hit = (num.isin(nums) | s.astype(str).str.strip().isin(texts)) & s.notna()
        if hit.any():
            df[col] = s.where(~hit, np.nan) if not isinstance(s.dtype, pd.CategoricalDtype) \
                else s.where(~hit)
            counts[col] = int(hit.sum())
    return counts


def check_ranges(ranges: Any, df: pd.DataFrame, mapping: Mapping[str, str]
                 ) -> dict[str, tuple[float, float]]:
    if ranges is None:
        return {}
    if not isinstance(ranges, Mapping):
        raise ArgumentError(
            "`ranges`: expecting a mapping {column: (low, high)}, e.g. {'alliance': (1, 7)}; "
            f"got {type(ranges).__name__}.")
    out = {}
    for col, rng in ranges.items():
        name = _resolve(col, df, mapping, "ranges")
        ok = (isinstance(rng, (tuple, list)) and len(rng) == 2 and all(map(_is_number, rng))
              and np.all(np.isfinite(np.asarray(rng, dtype=float))))
        if not ok or rng[0] > rng[1]:
            raise ArgumentError(
                f"`ranges`: the range of column {col!r} must be two finite numbers (low, high) "
                f"with low <= high; got {rng!r}.")
        out[name] = (float(rng[0]), float(rng[1]))
    return out


def apply_ranges(df: pd.DataFrame, ranges: Mapping[str, tuple[float, float]], policy: str,
                 mapping: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Out-of-range values -> NaN (policy "missing") or ColumnError ("raise")."""
    found: dict[str, dict[str, Any]] = {}
    for col, (lo, hi) in ranges.items():
        s = df[col]
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            num = pd.to_numeric(s, errors="coerce")
            text = s[num.isna() & s.notna()]
            if len(text):
                raise ColumnError(
                    f"`ranges`: column {col!r} has values that are not numbers "
                    f"({show_values(pd.unique(text.astype(str)))}); a range applies to numbers. "
                    "Declare text codes missing with na_values=.")
            s = num
        s = s.astype(float)
        bad = s.notna() & ((s < lo) | (s > hi))
        if not bad.any():
            continue
        vals = sorted(pd.unique(s[bad]))
        src = mapping.get(col, col)
        if policy == "raise":
            raise ColumnError(
                f"column {src!r}: {int(bad.sum())} value(s) outside the declared range "
                f"{lo:g} to {hi:g}: {show_values(vals)}. If they are missing-value codes "
                "declare them with na_values=; use out_of_range='missing' to set them missing.")
        df[col] = s.where(~bad, np.nan)
        found[col] = {"n": int(bad.sum()), "values": [py_scalar(v) for v in vals[:20]]}
    return found


def labels_to_categories(df: pd.DataFrame, value_labels: Mapping[str, Mapping[Any, str]],
                         option: Any, mapping: Mapping[str, str]) -> list[str]:
    """Value-labelled columns -> pandas categories (labels in code order); return the columns.

    ``option``: "categories" (every labelled column whose observed values all have a label,
    except ids, session and outcome), "codes" (none), or a list of columns.
    """
    if option == "codes" or not value_labels:
        if not (option == "codes" or option == "categories" or isinstance(option, (list, tuple))):
            raise ArgumentError(
                "`value_labels`: expecting 'categories', 'codes' or a list of columns; got "
                f"{option!r}.")
        return []
    renamed = {user: role for role, user in mapping.items()}
    labelled = {renamed.get(c, c): lab for c, lab in value_labels.items()}
    if option == "categories":
        wanted = [c for c in labelled if c not in ("therapist", "client", "session", "outcome")]
        strict = False
    elif isinstance(option, (list, tuple)):
        wanted = []
        for c in option:
            name = _resolve(c, df, mapping, "value_labels")
            if name not in labelled:
                raise ColumnError(
                    f"`value_labels`: column {c!r} has no value labels in the file; labelled "
                    f"columns: {', '.join(map(repr, value_labels)) or 'none'}.")
            wanted.append(name)
        strict = True
    else:
        raise ArgumentError(
            "`value_labels`: expecting 'categories', 'codes' or a list of columns; got "
            f"{option!r}.")
    done = []
    for col in wanted:
        if col not in df.columns:
            continue
        labels = labelled[col]
        s = df[col]
        if not pd.api.types.is_numeric_dtype(s.dtype):
            continue
        codes = sorted(k for k in labels if _is_number(k))
        observed = pd.unique(s.dropna().astype(float))
        unlabelled = [v for v in observed if py_scalar(v) not in labels and v not in labels]
        if unlabelled:
            if strict:
                raise ColumnError(
                    f"`value_labels`: column {mapping.get(col, col)!r} has values without a "
                    f"label ({show_values(unlabelled)}); labels: {dict(labels)}. Declare "
                    "missing codes with na_values= or keep the codes (value_labels='codes').")
            continue
        cats = list(dict.fromkeys(str(labels[k]) for k in codes))
        lookup = {float(k): str(labels[k]) for k in codes}
        df[col] = pd.Categorical(s.astype(float).map(lookup), categories=cats)
        done.append(col)
    return done


def _as_dates(s: pd.Series) -> pd.Series | None:
    """The column as datetimes if it holds dates (datetime dtype, date objects, date text)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    if not (s.dtype == object or isinstance(s.dtype, pd.StringDtype)):
        return None
    vals = s.dropna()
    if not len(vals):
        return None
    if vals.map(lambda v: hasattr(v, "year") and hasattr(v, "month")).all():
        return pd.to_datetime(s)
    if not vals.map(lambda v: isinstance(v, str)).all():
        return None
    txt = vals.str.strip()
    if pd.to_numeric(txt, errors="coerce").notna().any():
        return None
    if not txt.str.contains(r"\d", regex=True).all():
        return None
    try:
        parsed = pd.to_datetime(txt, format="mixed", dayfirst=False)
    except (ValueError, TypeError):
        return None
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    out[parsed.index] = parsed
    return out


def sessions_from_dates(df: pd.DataFrame, rule: str) -> dict[str, Any] | None:
    """Replace a date ``session`` column by the visit order or weeks since the client's first
    visit; the dates move to ``session_date``. Returns what was done, or None (no dates)."""
    dates = _as_dates(df["session"])
    if dates is None:
        return None
    if "session_date" in df.columns:
        raise ColumnError(
            "column 'session_date': the session column holds dates, which are kept as "
            "'session_date', but the data already have that column; rename it first.")
    first = dates.groupby(df["client"]).transform("min")
    index = dates.groupby(df["client"]).rank(method="dense") - 1
    weeks = np.floor((dates - first).dt.days / 7.0)
    pos = list(df.columns).index("session")
    df.insert(pos + 1, "session_date", dates)
    df["session"] = (index if rule == "index" else weeks).astype(float)
    return {
        "rule": rule,
        "meaning": ("order of the client's visits (0 = first date; visits on the same date "
                    "share a number)" if rule == "index" else
                    "whole weeks since the client's first visit (0 = first week)"),
        "kept_as": "session_date",
    }
