"""The data layer: canonical long schema, column mapping, validation, readers, change view.

The canonical long frame has one row per session with the columns

``therapist``
    therapist id (optional: absent for two-level data), stored as strings;
``client``
    client id, stored as strings; a client sees exactly one therapist;
``session``
    session index or week, ``int64`` >= 0, 0 = intake;
``outcome``
    ``float64``, in the *higher = worse* convention (symptom severity);

plus any factor and other columns under their own names. Ids are kept as given but turned into
strings (integral numbers written without a decimal part, so ``1.0`` read from SPSS becomes
``"1"``), which makes nesting checks independent of how a file stored them. Rows are sorted by
therapist, client and session; ids that are all numbers sort numerically, other ids sort as text.

Readers and checks report what they did in ``df.attrs["commonfactors"]`` (pandas' own metadata
dict), never in hidden attributes.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import check_columns, check_int, check_option
from ..errors import ColumnError, CommonFactorsError, DataValidationError
from ._checks import (
    CANONICAL,
    ROLES,
    check_nesting,
    check_outcome_values,
    check_session_values,
    check_therapists,
    ids_as_str,
    parse_numeric,
    prepare_factors,
    py_scalar,
    resolve_columns,
    show_values,
    sort_canonical,
)
from ._readers import read_table

__all__ = [
    "ROLES",
    "read_sessions",
    "validate_sessions",
    "change_view",
    "summarize_sessions",
]

MissingPolicy = Literal["drop", "raise"]


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def read_sessions(
    path_or_frame: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    higher_is_better: bool = False,
    missing: MissingPolicy = "drop",
    factors: Mapping[str, Sequence[str]] | None = None,
    require_therapist: bool = False,
    format: str | None = None,
) -> pd.DataFrame:
    """Read long session data into the canonical schema, with validation and a report.

    Parameters
    ----------
    path_or_frame : DataFrame, str or Path
        A DataFrame (never modified), or a file: CSV (``.csv``; ``.tsv`` tab-separated;
        ``.txt`` with the delimiter detected), Parquet (``.parquet``, ``.pq``), SPSS
        (``.sav``, ``.zsav``) or Stata (``.dta``).
    columns : dict, optional
        Role -> your column name, e.g. ``{"therapist": "TherID", "client": "ClientID",
        "session": "Week", "outcome": "PHQ9"}``. Unmapped roles default to the canonical name;
        ``therapist`` may be absent (two-level data) unless ``require_therapist``. Other columns
        are kept under their own names.
    higher_is_better : bool, default False
        False: higher outcome = worse (symptom scales), kept as is. True: the original is kept
        in ``outcome_raw`` and ``outcome = -outcome_raw``, so downstream code always sees
        higher = worse.
    missing : {"drop", "raise"}, default "drop"
        Rows missing the outcome, session, client, or therapist (when a therapist column is
        present) are dropped and counted ("drop", with a warning), or raise ColumnError naming the
        column and the number of missing values ("raise").
    factors : dict, optional
        ``{group: [columns]}``, checked with a column in at most one group. Columns are named
        as in the returned frame. Each must exist, be numeric (a boolean, categorical or text
        column with two levels is recoded to 0/1, first level = 0, and the recoding is reported)
        and not be constant.
    require_therapist : bool, default False
        Ask for a therapist level: the therapist column must exist with at least 2 therapists.
    format : str, optional
        File format overriding the extension, one of ``csv, tsv, txt, parquet, pq, sav, zsav,
        dta``.

    Returns
    -------
    DataFrame
        A new canonical frame sorted by therapist, client, session, with
        ``df.attrs["commonfactors"]``: ``source``, ``n_rows_read``, ``n_dropped``,
        ``dropped_by`` (column -> number of missing values among dropped rows; a row missing
        two columns counts in both), ``higher_is_better``, ``outcome_transform``,
        ``value_labels`` (``{column: {code: label}}`` from SPSS/Stata; codes stay as numbers in
        the data), ``variable_labels``, ``columns`` (role -> source column), ``factors`` and
        ``recoded``.

    Raises
    ------
    ColumnError
        Missing mapped column, non-numeric or all-missing outcome, bad session values, factor
        problems, missing values with ``missing="raise"``.
    DataValidationError
        A client under two therapists, duplicated (client, session), fewer than 2 therapists
        when a therapist level is asked for.
    FactorGroupError
        A column in two factor groups.

    Notes
    -----
    The order of work is: map columns, parse the outcome and session as numbers, handle
    missing values, check sessions (integers >= 0), turn ids into strings, check nesting and
    duplicates, check factors, flip the outcome sign if ``higher_is_better``, sort. The same
    checks on an already canonical frame are available as :func:`validate_sessions`.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"TherID": [1, 1, 1, 1], "ClientID": [7, 7, 8, 8],
    ...                     "Week": [0, 4, 0, 4], "PHQ9": [20.0, 12.0, 15.0, 14.0]})
    >>> df = read_sessions(raw, columns={"therapist": "TherID", "client": "ClientID",
    ...                                  "session": "Week", "outcome": "PHQ9"})
    >>> df.columns.tolist()
    ['therapist', 'client', 'session', 'outcome']
    >>> df.attrs["commonfactors"]["n_dropped"]
    0
    """
    check_option("missing", missing, ("drop", "raise"))
    for name, flag in (
        ("higher_is_better", higher_is_better),
        ("require_therapist", require_therapist),
    ):
        if not isinstance(flag, (bool, np.bool_)):
            raise CommonFactorsError(f"`{name}`: expecting True or False; got {flag!r}.")

    value_labels: dict[str, dict[Any, str]] = {}
    variable_labels: dict[str, str] = {}
    if isinstance(path_or_frame, pd.DataFrame):
        raw = path_or_frame
        source = "DataFrame"
    elif isinstance(path_or_frame, (str, Path)):
        raw, value_labels, variable_labels = read_table(path_or_frame, format)
        source = str(path_or_frame)
    else:
        raise CommonFactorsError(
            "`path_or_frame`: expecting a pandas DataFrame or a file path (str or Path); got "
            f"{type(path_or_frame).__name__}."
        )
    if raw.columns.duplicated().any():
        dups = list(pd.unique(raw.columns[raw.columns.duplicated()]))
        raise ColumnError(
            f"`path_or_frame`: duplicated column names {show_values(dups)}; rename them."
        )

    mapping = resolve_columns(raw, columns, require_therapist)
    renamed = {user: role for role, user in mapping.items()}
    if higher_is_better and "outcome_raw" in raw.columns:
        raise ColumnError(
            "column 'outcome_raw': with higher_is_better=True the original outcome is stored "
            "as 'outcome_raw', but the data already have that column; rename it first."
        )

    df = raw.copy(deep=True).rename(columns=renamed)
    df.attrs = {}
    n_read = len(df)
    df["outcome"] = parse_numeric(
        df["outcome"], "outcome", f"role outcome, source column {mapping['outcome']!r}"
    )
    df["session"] = parse_numeric(
        df["session"], "session", f"role session, source column {mapping['session']!r}"
    )
    if n_read == 0:
        raise DataValidationError(
            "`path_or_frame`: the data have no rows; expecting one row per session."
        )
    check_outcome_values(df["outcome"])  # all missing -> error, whatever `missing` says

    # missing values in the key columns
    keys = [r for r in ("therapist", "client", "session", "outcome") if r in df.columns]
    miss = df[keys].isna()
    for c in ("therapist", "client"):
        if c in df.columns and not pd.api.types.is_numeric_dtype(df[c].dtype):
            miss[c] = miss[c] | (df[c].astype(str).str.strip() == "")
    dropped_by = {c: int(miss[c].sum()) for c in keys if miss[c].any()}
    row_missing = miss.any(axis=1)
    if dropped_by and missing == "raise":
        col, n = next(iter(dropped_by.items()))
        others = {k: v for k, v in dropped_by.items() if k != col}
        extra = f" (also missing: {others})" if others else ""
        raise ColumnError(
            f"column {col!r} (source column {mapping[col]!r}): {n} missing value(s){extra}; "
            "expecting none with missing='raise'. Use missing='drop' to drop those rows."
        )
    n_dropped = int(row_missing.sum())
    if n_dropped == n_read:
        raise DataValidationError(
            f"every one of the {n_read} rows misses a key value (missing per column: "
            f"{dropped_by}); expecting rows with client, session and outcome. Check the "
            "column mapping (`columns=`)."
        )
    if n_dropped:
        df = df.loc[~row_missing]
    check_outcome_values(df["outcome"])
    check_session_values(df["session"])
    df["session"] = df["session"].astype("int64")
    df["client"] = ids_as_str(df["client"])
    if "therapist" in df.columns:
        df["therapist"] = ids_as_str(df["therapist"])
    check_therapists(df, require_therapist)
    check_nesting(df)
    clean_factors, recoded = prepare_factors(df, factors, renamed, recode=True)

    transform = None
    if higher_is_better:
        pos = list(df.columns).index("outcome")
        df.insert(pos + 1, "outcome_raw", df["outcome"])
        df["outcome"] = -df["outcome_raw"]
        transform = "outcome = -outcome_raw (higher_is_better=True: sign flipped so higher = worse)"

    front = [c for c in ROLES if c in df.columns]
    df = df[front + [c for c in df.columns if c not in front]]
    df = sort_canonical(df)
    canon_labels = {renamed.get(c, c): v for c, v in value_labels.items()}
    canon_varlabels = {renamed.get(c, c): v for c, v in variable_labels.items()}
    df.attrs = {
        "commonfactors": {
            "source": source,
            "n_rows_read": int(n_read),
            "n_dropped": n_dropped,
            "dropped_by": dropped_by,
            "higher_is_better": bool(higher_is_better),
            "outcome_transform": transform,
            "value_labels": canon_labels,
            "variable_labels": canon_varlabels,
            "columns": dict(mapping),
            "factors": clean_factors,
            "recoded": recoded,
        }
    }
    if n_dropped:
        why = ", ".join(f"{c}: {n}" for c, n in dropped_by.items())
        warnings.warn(
            f"read_sessions: dropped {n_dropped} of {n_read} rows with missing values "
            f"(missing per column: {why}); see df.attrs['commonfactors'].",
            UserWarning,
            stacklevel=2,
        )
    for col, codes in recoded.items():
        warnings.warn(
            f"read_sessions: factor column {col!r} is not numeric; recoded its two levels as "
            f"{codes}.",
            UserWarning,
            stacklevel=2,
        )
    return df


def validate_sessions(
    df: pd.DataFrame,
    *,
    factors: Mapping[str, Sequence[str]] | None = None,
    require_therapist: bool = False,
    allow_missing_outcome: bool = False,
) -> None:
    """Check an already canonical long frame; return None or raise.

    Runs the checks of :func:`read_sessions` without mapping, reading or recoding: the columns
    ``client``, ``session``, ``outcome`` (and ``therapist`` if required) exist; ids and sessions
    have no missing values; the outcome is numeric, finite and not all missing (missing values
    only with ``allow_missing_outcome``); sessions are integers >= 0; each client sees one
    therapist; (client, session) pairs are unique; factor columns exist, are numeric and vary;
    at least 2 therapists when ``require_therapist``.

    Parameters
    ----------
    df : DataFrame
        Canonical long frame (see :func:`read_sessions`). Not modified.
    factors : dict, optional
        ``{group: [columns]}``.
    require_therapist : bool, default False
        Require a therapist column with at least 2 therapists.
    allow_missing_outcome : bool, default False
        Accept rows with a missing outcome (e.g. planned sessions after dropout).

    Raises
    ------
    ColumnError, DataValidationError, FactorGroupError
        As :func:`read_sessions`.
    """
    check_columns(df, ["client", "session", "outcome"], param="df")
    check_therapists(df, require_therapist)
    for c in ("therapist", "client", "session"):
        if c in df.columns and df[c].isna().any():
            raise ColumnError(
                f"column {c!r}: expecting no missing values; found {int(df[c].isna().sum())}. "
                "Read the data with read_sessions(..., missing='drop')."
            )
    for c in ("outcome", "session"):
        if pd.api.types.is_bool_dtype(df[c].dtype) or not pd.api.types.is_numeric_dtype(
            df[c].dtype
        ):
            bad = pd.to_numeric(df[c], errors="coerce")
            shown = show_values(pd.unique(df.loc[bad.isna() & df[c].notna(), c]))
            raise ColumnError(
                f"column {c!r}: expecting a numeric column; found dtype {df[c].dtype}"
                + (f" with values that are not numbers: {shown}" if shown else "")
                + ". Read the data with read_sessions()."
            )
    check_outcome_values(df["outcome"].astype(float), allow_missing=allow_missing_outcome)
    check_session_values(df["session"].astype(float))
    check_nesting(df)
    prepare_factors(df, factors, {}, recode=False)
    return None


def change_view(
    df: pd.DataFrame,
    *,
    predictors: Sequence[str] | None = None,
    min_sessions: int = 2,
) -> pd.DataFrame:
    """One row per client: first and last observed outcome, improvement, client-level means.

    Parameters
    ----------
    df : DataFrame
        Canonical long frame (see :func:`read_sessions`); rows with a missing outcome are not
        observed sessions. Not modified.
    predictors : list of str, optional
        Columns averaged per client. Default: every numeric or boolean column other than
        ``therapist, client, session, outcome, outcome_raw``.
    min_sessions : int, default 2
        Clients with fewer observed sessions are dropped, counted in a warning and in
        ``attrs["commonfactors"]``.

    Returns
    -------
    DataFrame
        Columns ``therapist`` (if present), ``client``, ``pre``, ``post``, ``improvement``,
        ``n_sessions``, ``first_session``, ``last_session``, ``window`` and one column per
        predictor (same name), sorted by therapist and client. ``attrs["commonfactors"]`` holds
        ``n_clients``, ``n_clients_dropped``, ``min_sessions``, ``predictors`` and ``sessions``
        (the long frame's report, if any).

    Notes
    -----
    ``pre`` is the outcome at the client's first *observed* session and ``post`` at the last
    observed one, so a client who drops out has a shorter window: ``window = last_session -
    first_session`` and ``n_sessions`` (observed sessions) say how much each row covers.
    ``improvement = pre - post`` in the higher = worse convention (positive = got better;
    with ``higher_is_better=True`` data the outcome is already sign-flipped by
    :func:`read_sessions`). Predictor means are taken over the observed sessions, skipping
    missing predictor values. This is the pre-post change view of METHODS.md section 1 [1]_.

    References
    ----------
    .. [1] Baldwin, S. A., Wampold, B. E., & Imel, Z. E. (2007). Untangling the
       alliance-outcome correlation. Journal of Consulting and Clinical Psychology, 75(6),
       842-852.

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"client": ["a", "a", "a"], "session": [0, 1, 2],
    ...                      "outcome": [20.0, 15.0, 11.0], "alliance": [3.0, 4.0, 5.0]})
    >>> change_view(long)[["pre", "post", "improvement", "alliance"]].iloc[0].tolist()
    [20.0, 11.0, 9.0, 4.0]
    """
    check_columns(df, ["client", "session", "outcome"], param="df")
    min_sessions = check_int("min_sessions", min_sessions, minimum=1)
    has_ther = "therapist" in df.columns
    out_cols = (
        "pre",
        "post",
        "improvement",
        "n_sessions",
        "first_session",
        "last_session",
        "window",
    )
    if predictors is None:
        predictors = [
            c
            for c in df.columns
            if c not in CANONICAL
            and (
                pd.api.types.is_numeric_dtype(df[c].dtype)
                or pd.api.types.is_bool_dtype(df[c].dtype)
            )
        ]
    else:
        if isinstance(predictors, str):
            predictors = [predictors]
        predictors = list(predictors)
        check_columns(df, predictors, param="predictors")
        for c in predictors:
            if c in CANONICAL:
                raise ColumnError(
                    f"`predictors`: {c!r} is a canonical column; the change view already "
                    "summarises it. Remove it from `predictors`."
                )
            if not (
                pd.api.types.is_numeric_dtype(df[c].dtype)
                or pd.api.types.is_bool_dtype(df[c].dtype)
            ):
                raise ColumnError(
                    f"`predictors`: column {c!r} is not numeric (dtype {df[c].dtype}); "
                    "expecting numbers or booleans. Recode it first."
                )
    clash = [c for c in predictors if c in out_cols]
    if clash:
        raise ColumnError(
            f"`predictors`: column(s) {show_values(clash)} clash with change-view columns "
            f"{', '.join(out_cols)}; rename them first."
        )

    ids = (["therapist"] if has_ther else []) + ["client"]
    obs = df.loc[df["outcome"].notna(), ids + ["session", "outcome"] + predictors].copy()
    obs.attrs = {}
    if predictors:
        obs[predictors] = obs[predictors].astype(float)
    obs = obs.sort_values(["client", "session"], kind="mergesort")
    g = obs.groupby("client", sort=False)
    agg = pd.DataFrame(
        {
            "pre": g["outcome"].first(),
            "post": g["outcome"].last(),
            "n_sessions": g["session"].size().astype("int64"),
            "first_session": g["session"].first(),
            "last_session": g["session"].last(),
        }
    )
    if has_ther:
        agg.insert(0, "therapist", g["therapist"].first())
    agg["improvement"] = agg["pre"] - agg["post"]
    agg["window"] = agg["last_session"] - agg["first_session"]
    for c in predictors:
        agg[c] = g[c].mean()
    agg = agg.reset_index()

    all_clients = pd.unique(df["client"])
    n_clients = len(all_clients)
    keep = agg["n_sessions"] >= min_sessions
    n_drop = int(n_clients - keep.sum())
    out = agg.loc[keep, ids + list(out_cols) + predictors]
    out = sort_canonical(out)
    report = df.attrs.get("commonfactors") if isinstance(df.attrs, dict) else None
    out.attrs = {
        "commonfactors": {
            "view": "change",
            "n_clients": int(n_clients),
            "n_clients_dropped": n_drop,
            "min_sessions": min_sessions,
            "predictors": list(predictors),
            "sessions": report,
        }
    }
    if n_drop:
        warnings.warn(
            f"change_view: dropped {n_drop} of {n_clients} clients with fewer than "
            f"{min_sessions} observed sessions; see attrs['commonfactors'].",
            UserWarning,
            stacklevel=2,
        )
    return out


def summarize_sessions(df: pd.DataFrame) -> dict[str, Any]:
    """Counts that describe a canonical long frame (used by the HTML report).

    Parameters
    ----------
    df : DataFrame
        Canonical long frame. Not modified.

    Returns
    -------
    dict
        ``n_therapists`` (None without a therapist column), ``n_clients``, ``n_sessions``
        (distinct session indices), ``n_rows``, ``n_observed`` (rows with an outcome),
        ``session_min``, ``session_max``, ``clients_per_therapist`` and ``sessions_per_client``
        (each ``{"min", "median", "max"}``; sessions counted as observed rows per client; the
        former None without therapists), and ``missing`` (column -> number of missing values).

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"therapist": ["t1"] * 3, "client": ["a", "a", "b"],
    ...                      "session": [0, 1, 0], "outcome": [3.0, 2.0, None]})
    >>> s = summarize_sessions(long)
    >>> s["n_clients"], s["sessions_per_client"]
    (2, {'min': 0, 'median': 1.0, 'max': 2})
    """
    check_columns(df, ["client", "session", "outcome"], param="df")

    def _mmm(s: pd.Series) -> dict[str, Any]:
        return {"min": py_scalar(s.min()), "median": float(s.median()), "max": py_scalar(s.max())}

    per_client = df["outcome"].notna().groupby(df["client"]).sum().astype("int64")
    has_ther = "therapist" in df.columns
    cpt = df.groupby("therapist")["client"].nunique() if has_ther else None
    return {
        "n_therapists": int(df["therapist"].nunique()) if has_ther else None,
        "n_clients": int(df["client"].nunique()),
        "n_sessions": int(df["session"].nunique()),
        "n_rows": int(len(df)),
        "n_observed": int(df["outcome"].notna().sum()),
        "session_min": py_scalar(df["session"].min()),
        "session_max": py_scalar(df["session"].max()),
        "clients_per_therapist": _mmm(cpt) if cpt is not None else None,
        "sessions_per_client": _mmm(per_client),
        "missing": {str(c): int(n) for c, n in df.isna().sum().items()},
    }
