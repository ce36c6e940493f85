"""Private checks and conversions behind :mod:`commonfactors.sessions`.

Each check raises a :mod:`commonfactors.errors` exception whose message names the column or
parameter, what was expected, what was found and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_factor_groups, check_option
from ..errors import ColumnError, DataValidationError

ROLES: tuple[str, ...] = ("therapist", "client", "session", "outcome")
"""Canonical column roles of the long schema."""

CANONICAL = (*ROLES, "outcome_raw")
_N_SHOWN = 5  # how many offending values an error message lists


def show_values(values: Sequence[Any], n: int = _N_SHOWN) -> str:
    values = list(values)
    shown = ", ".join(repr(py_scalar(v)) for v in values[:n])
    return shown + (f", ... ({len(values)} in all)" if len(values) > n else "")


def py_scalar(v: Any) -> Any:
    """Plain Python scalar for messages and metadata."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def ids_as_str(s: pd.Series) -> pd.Series:
    """Ids as strings; integral floats lose their ``.0`` so 1.0 and 1 give the same id."""
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.to_numpy(dtype=float)
        if np.all(np.isfinite(vals)) and np.all(vals == np.round(vals)):
            s = s.astype("int64")
    elif pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("int64")
    return s.astype(str)


def id_sort_key(s: pd.Series) -> pd.Series:
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all():
        return num
    return s.astype(str)


def sort_canonical(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("therapist", "client", "session") if c in df.columns]
    out = df.sort_values(
        keys,
        key=lambda s: id_sort_key(s) if s.name in ("therapist", "client") else s,
        kind="mergesort",
    )
    return out.reset_index(drop=True)


def parse_numeric(s: pd.Series, column: str, what: str) -> pd.Series:
    """Numbers from ``s`` as float; values present but not parseable raise ColumnError."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(float)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype(float)
    parsed = pd.to_numeric(s, errors="coerce")
    bad = s[parsed.isna() & s.notna()]
    if isinstance(s.dtype, pd.StringDtype) or s.dtype == object:
        # blank strings count as missing, not as unparseable
        bad = bad[bad.astype(str).str.strip() != ""]
    if len(bad):
        raise ColumnError(
            f"column {column!r} ({what}): expecting numbers; {len(bad)} value(s) could not be "
            f"parsed, first: {show_values(pd.unique(bad))}. Recode them as numbers or as missing."
        )
    return parsed.astype(float)


def check_session_values(s: pd.Series) -> None:
    vals = s.dropna()
    frac = vals[vals != np.round(vals)]
    if len(frac):
        raise ColumnError(
            f"column 'session': expecting whole numbers (session index or week, 0 = intake); "
            f"found non-integer values {show_values(pd.unique(frac))}. Round or renumber the sessions."
        )
    neg = vals[vals < 0]
    if len(neg):
        raise ColumnError(
            f"column 'session': expecting integers >= 0 (0 = intake); found negative values "
            f"{show_values(pd.unique(neg))}. Renumber the sessions from 0."
        )
    inf = vals[~np.isfinite(vals)]
    if len(inf):
        raise ColumnError(f"column 'session': expecting finite integers; found {show_values(inf)}.")


def check_outcome_values(s: pd.Series, *, allow_missing: bool = True) -> None:
    if s.notna().sum() == 0:
        raise ColumnError(
            "column 'outcome': every value is missing; expecting at least some observed "
            "outcomes. Check the column mapping (`columns={'outcome': ...}`)."
        )
    if not allow_missing and s.isna().any():
        raise ColumnError(
            f"column 'outcome': expecting no missing values; found {int(s.isna().sum())}. "
            "Drop those rows or pass allow_missing_outcome=True."
        )
    vals = s.dropna()
    inf = vals[~np.isfinite(vals)]
    if len(inf):
        raise ColumnError(
            f"column 'outcome': expecting finite numbers; found {show_values(pd.unique(inf))}."
        )


def check_nesting(df: pd.DataFrame) -> None:
    """A client sees one therapist; (client, session) pairs are unique."""
    if "therapist" in df.columns:
        per_client = df.groupby("client", sort=True)["therapist"].nunique()
        crossed = per_client[per_client > 1]
        if len(crossed):
            parts = []
            for client in list(crossed.index)[:_N_SHOWN]:
                thers = sorted(map(str, pd.unique(df.loc[df["client"] == client, "therapist"])))
                parts.append(
                    f"client {py_scalar(client)!r} under therapists {', '.join(map(repr, thers))}"
                )
            more = f" ({len(crossed)} clients in all)" if len(crossed) > _N_SHOWN else ""
            raise DataValidationError(
                "columns 'client'/'therapist': expecting each client to see exactly one "
                f"therapist; found {'; '.join(parts)}{more}. If some rows are a data-entry "
                "error, correct their therapist in the source (cf.clean_sessions(..., "
                "several_therapists='majority') states that decision); if the client changed "
                "therapist or two clients share an id, give them distinct ids."
            )
    dup = df.duplicated(["client", "session"], keep=False)
    if dup.any():
        pairs = df.loc[dup, ["client", "session"]].drop_duplicates()
        shown = ", ".join(
            f"(client={py_scalar(c)!r}, session={py_scalar(s)})"
            for c, s in pairs.head(_N_SHOWN).itertuples(index=False)
        )
        more = f", ... ({len(pairs)} pairs in all)" if len(pairs) > _N_SHOWN else ""
        raise DataValidationError(
            "columns 'client'/'session': expecting one row per client and session; found "
            f"duplicated pairs {shown}{more}. Remove or aggregate the repeated rows."
        )


def check_therapists(df: pd.DataFrame, require_therapist: bool) -> None:
    if not require_therapist:
        return
    if "therapist" not in df.columns:
        raise ColumnError(
            "role 'therapist': a therapist level was asked for (require_therapist=True) but "
            "there is no 'therapist' column; map it with columns={'therapist': ...}."
        )
    n = df["therapist"].nunique()
    if n < 2:
        raise DataValidationError(
            f"column 'therapist': a therapist level needs at least 2 therapists; found {n}. "
            "Use require_therapist=False for two-level (sessions in clients) data."
        )


def prepare_factors(
    df: pd.DataFrame,
    factors: Mapping[str, Sequence[str]] | None,
    renamed: Mapping[str, str],
    *,
    recode: bool,
) -> tuple[dict[str, list[str]] | None, dict[str, dict[str, int]]]:
    """Validate factor columns; with ``recode`` text columns become pandas categories.

    Text is never turned into numbers here (a first-level-is-zero coding would make the first
    level in alphabetical order the "absent" level); the analysis chooses the reference level.
    Returns the clean mapping and an empty ``recoded`` dict (kept for the report's format).
    ``df`` is changed in place (callers pass their own copy).
    """
    if factors is None:
        return None, {}
    clean = check_factor_groups(factors)
    recoded: dict[str, dict[str, int]] = {}
    for group, cols in clean.items():
        for col in cols:
            if col in ("therapist", "client", "outcome", "outcome_raw"):
                raise ColumnError(
                    f"`factors`: column {col!r} (group {group!r}) is an id or the outcome and "
                    "cannot be a predictor; remove it from the group."
                )
            if col not in df.columns:
                hint = ""
                if col in renamed:
                    hint = f" It was mapped to role {renamed[col]!r}; use {renamed[col]!r}."
                raise ColumnError(
                    f"`factors`: column {col!r} of group {group!r} not found in the data.{hint} "
                    f"Available columns: {', '.join(map(str, df.columns))}."
                )
            s = df[col]
            is_bool = pd.api.types.is_bool_dtype(s.dtype)
            numeric = pd.api.types.is_numeric_dtype(s.dtype) and not is_bool
            if not numeric and not is_bool and not recode:
                raise ColumnError(
                    f"`factors`: column {col!r} of group {group!r} is not numeric "
                    f"(dtype {s.dtype}); expecting numbers. Read the data with "
                    "cf.read_sessions, or pass it to cf.decompose, which codes categories.")
            if recode and not numeric and not is_bool and not isinstance(
                    s.dtype, pd.CategoricalDtype):
                vals = s.map(lambda v: v.strip() if isinstance(v, str) else v)
                vals = vals.map(lambda v: np.nan if isinstance(v, str) and v == "" else v)
                levels = sorted(pd.unique(vals.dropna()), key=lambda v: (str(type(v)), str(v)))
                df[col] = pd.Categorical(vals, categories=levels)
            n_distinct = df[col].nunique(dropna=True)
            if n_distinct < 2:
                raise ColumnError(
                    f"`factors`: column {col!r} of group {group!r} is constant "
                    f"({n_distinct} distinct value); a predictor must vary. Remove it from "
                    "the group."
                )
    return clean, recoded


def resolve_columns(
    data: pd.DataFrame, columns: Mapping[str, str] | None, require_therapist: bool
) -> dict[str, str]:
    """Role -> user column for every role present in ``data``."""
    if columns is None:
        columns = {}
    if not isinstance(columns, Mapping):
        raise ColumnError(
            "`columns`: expecting a mapping {role: column}, e.g. {'client': 'ClientID', "
            f"'outcome': 'PHQ9'}}; got {type(columns).__name__}."
        )
    for role, user in columns.items():
        check_option("columns (role)", role, ROLES)
        if not isinstance(user, str) or not user:
            raise ColumnError(f"`columns`: role {role!r} must map to a column name; got {user!r}.")
    users = list(columns.values())
    twice = sorted({u for u in users if users.count(u) > 1})
    if twice:
        roles = [r for r, u in columns.items() if u == twice[0]]
        raise ColumnError(
            f"`columns`: column {twice[0]!r} is mapped to several roles ({', '.join(map(repr, roles))}); "
            "each role needs its own column."
        )
    mapping: dict[str, str] = {}
    for role in ROLES:
        user = columns.get(role, role)
        if user in data.columns:
            mapping[role] = user
        elif role in columns:
            raise ColumnError(
                f"`columns`: column {user!r} (mapped to role {role!r}) not found in the data; "
                f"available columns: {', '.join(map(str, list(data.columns)[:20]))}."
            )
        elif role != "therapist" or require_therapist:
            raise ColumnError(
                f"role {role!r}: no column named {role!r} in the data; map your column with "
                f"columns={{{role!r}: 'YourColumn'}}. Available columns: "
                f"{', '.join(map(str, list(data.columns)[:20]))}."
            )
    for role, user in mapping.items():
        if user != role and role in data.columns and role not in mapping.values():
            raise ColumnError(
                f"`columns`: role {role!r} is mapped to {user!r}, but the data also have a "
                f"column named {role!r}; rename or drop that column first."
            )
    return mapping
