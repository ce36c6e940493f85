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

from .._validation import check_columns, check_option
from ..errors import ColumnError, CommonFactorsError, DataValidationError
from ._checks import (
    ROLES,
    check_nesting,
    check_outcome_values,
    check_session_values,
    check_therapists,
    ids_as_str,
    parse_numeric,
    prepare_factors,
    resolve_columns,
    show_values,
    sort_canonical,
)
from ._prepare import (
    SESSION_DATE_RULES,
    apply_na_values,
    apply_ranges,
    check_ranges,
    labels_to_categories,
    sessions_from_dates,
)
from ._readers import read_table
from .views import change_view, summarize_sessions

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
    na_values: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    out_of_range: Literal["missing", "raise"] = "missing",
    session_dates: Literal["index", "weeks"] = "index",
    value_labels: str | Sequence[str] = "categories",
    encoding: str | None = None,
    sep: str | None = None,
    sheet: str | int | None = None,
    problems: Literal["raise", "warn"] = "raise",
) -> pd.DataFrame:
    """Read long session data into the canonical schema, with validation and a report.

    Parameters
    ----------
    path_or_frame : DataFrame, str or Path
        A DataFrame (never modified), or a file: CSV (``.csv``, ``.txt``: delimiter and
        encoding detected; ``.tsv`` tab-separated), Excel (``.xlsx``), Parquet (``.parquet``,
        ``.pq``), SPSS (``.sav``, ``.zsav``) or Stata (``.dta``). SPSS/Stata user-missing
        values are set missing and counted (``attrs["user_missing"]``).
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
        as in the returned frame. Each must exist and vary. Text columns become pandas
        categories (any number of levels; never recoded to numbers: the reference level is
        chosen by :func:`commonfactors.decompose`, e.g. the control arm), booleans stay
        booleans.
    require_therapist : bool, default False
        Ask for a therapist level: the therapist column must exist with at least 2 therapists.
    format : str, optional
        File format overriding the extension, one of ``csv, tsv, txt, parquet, pq, sav, zsav,
        dta, xlsx, xlsm``.
    na_values : list or dict, optional
        Missing-value codes, e.g. ``[-99, 999, "n/a"]`` (every column but the ids) or
        ``{"WAI": [-99], "CEQ": [999]}`` (columns by source name or role). Set missing and
        counted per column in ``attrs["na_values"]``.
    ranges : dict, optional
        Valid range per column, ``{"alliance": (1, 7)}`` (inclusive); values outside are set
        missing (``out_of_range="missing"``, counted in ``attrs["out_of_range"]`` with a
        warning) or raise ColumnError (``"raise"``). Kept in ``attrs["ranges"]``, where
        :func:`commonfactors.check_sessions` finds them.
    out_of_range : {"missing", "raise"}, default "missing"
    session_dates : {"index", "weeks"}, default "index"
        When the session column holds dates (datetime values or date text): "index" numbers
        each client's visits in date order (0 = first visit; visits on the same date share a
        number, so a repeated visit shows as a duplicate), "weeks" counts whole weeks since the
        client's first visit. The dates are kept as ``session_date`` and the rule is recorded
        in ``attrs["session_dates"]``.
    value_labels : "categories", "codes" or list of str, default "categories"
        SPSS/Stata value labels: "categories" turns every labelled column whose values all
        have a label (ids, session and outcome excepted) into a pandas category with the labels
        in code order (arm codes 1/2/3 -> CBT/IPT/TAU); "codes" keeps the numeric codes (e.g.
        ordered rating items), with the labels in ``attrs["value_labels"]``; a list converts
        only those columns.
    encoding, sep : str, optional
        Text encoding and delimiter of a CSV file (detected when not given; the ones used are
        in ``attrs["encoding"]``, ``attrs["sep"]``).
    sheet : str or int, optional
        Excel sheet (name or 0-based position); default the first.
    problems : {"raise", "warn"}, default "raise"
        A client under two therapists or a repeated (client, session) pair raises
        DataValidationError ("raise"), or the data are returned with a warning that counts
        the problems (``"warn"``), so that :func:`commonfactors.check_sessions` can list them
        and :func:`commonfactors.clean_sessions` fix what is unambiguous.

    Returns
    -------
    DataFrame
        A new canonical frame sorted by therapist, client, session, with
        ``df.attrs["commonfactors"]``: ``source``, ``n_rows_read``, ``n_dropped``,
        ``dropped_by`` (column -> number of missing values among dropped rows; a row missing
        two columns counts in both), ``higher_is_better``, ``outcome_transform``,
        ``value_labels`` (``{column: {code: label}}`` from SPSS/Stata; codes stay as numbers in
        the data), ``variable_labels``, ``columns`` (role -> source column), ``factors``,
        ``recoded`` (kept empty: text is never recoded to numbers), ``categories`` (columns
        turned into categories from value labels), ``na_values``, ``user_missing``,
        ``ranges``, ``out_of_range``, ``session_dates``, ``encoding``, ``sep`` and
        ``problems`` (the number of errors :func:`commonfactors.check_sessions` finds in the
        result, announced in a warning).

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
    check_option("out_of_range", out_of_range, ("missing", "raise"))
    check_option("session_dates", session_dates, SESSION_DATE_RULES)
    check_option("problems", problems, ("raise", "warn"))
    for name, flag in (
        ("higher_is_better", higher_is_better),
        ("require_therapist", require_therapist),
    ):
        if not isinstance(flag, (bool, np.bool_)):
            raise CommonFactorsError(f"`{name}`: expecting True or False; got {flag!r}.")

    value_labels_option = value_labels
    file_labels: dict[str, dict[Any, str]] = {}
    variable_labels: dict[str, str] = {}
    how: dict[str, Any] = {}
    if isinstance(path_or_frame, pd.DataFrame):
        raw = path_or_frame
        source = "DataFrame"
        if encoding is not None or sep is not None or sheet is not None:
            raise CommonFactorsError(
                "`encoding`/`sep`/`sheet`: only for files; the data are a DataFrame. Leave "
                "them out.")
    elif isinstance(path_or_frame, (str, Path)):
        raw, file_labels, variable_labels, how = read_table(
            path_or_frame, format, encoding=encoding, sep=sep, sheet=sheet)
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
    categories = labels_to_categories(df, file_labels, value_labels_option, mapping)
    na_counts = apply_na_values(df, na_values, mapping)
    declared = check_ranges(ranges, df, mapping)
    dates_info = sessions_from_dates(df, session_dates) if n_read else None
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
    range_info = apply_ranges(df, declared, out_of_range, mapping)

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
    if problems == "raise":
        try:
            check_nesting(df)
        except DataValidationError as exc:
            raise DataValidationError(
                f"{exc} To read the data anyway and list every problem, use "
                "read_sessions(..., problems='warn') and cf.check_sessions(df).") from None
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
    canon_labels = {renamed.get(c, c): v for c, v in file_labels.items()}
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
            "categories": categories,
            "na_values": na_counts,
            "user_missing": how.get("user_missing", {}),
            "ranges": declared,
            "out_of_range": range_info,
            "session_dates": dates_info,
            "encoding": how.get("encoding"),
            "sep": how.get("sep"),
            "problems": None,
        }
    }
    from .checks import check_sessions

    # every error check_sessions finds (missing-value codes such as -99 read as scores, ...) is
    # counted and announced; with problems="raise" the structural ones have raised above
    found = check_sessions(df)
    errs = found[found["severity"] == "error"]
    df.attrs["commonfactors"]["problems"] = int(len(errs))
    if len(errs):
        where = ", ".join(f"{k} in {c!r}" for k, c in zip(errs["check"], errs["column"],
                                                          strict=True))
        warnings.warn(
            f"read_sessions: {len(errs)} problem(s) need a decision ({where}); "
            "cf.check_sessions(df) lists them with advice, cf.clean_sessions(df) removes exact "
            "duplicates.", UserWarning, stacklevel=2)
    for col, what in range_info.items():
        warnings.warn(
            f"read_sessions: column {mapping.get(col, col)!r}: {what['n']} value(s) outside "
            f"the declared range {declared[col][0]:g} to {declared[col][1]:g} set missing "
            f"({show_values(what['values'])}).", UserWarning, stacklevel=2)
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
