"""Every problem of a session frame at once: :func:`check_sessions`, :func:`raise_on_errors`,
:func:`clean_sessions`.

:func:`check_sessions` never raises for a data problem: it returns a tidy table with one row per
problem (severity, column, rows involved, what was found, what to do), so a researcher sees the
whole list before fixing anything. :func:`raise_on_errors` turns the error rows of that table
into one error; the analysis functions call both on frames that did not come through
:func:`commonfactors.read_sessions`. :func:`~commonfactors.sessions.cleaning.clean_sessions`
(module ``cleaning``) applies the fixes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError, ColumnError, DataValidationError

__all__ = ["check_sessions", "raise_on_errors", "PROBLEM_COLUMNS", "SENTINELS"]

PROBLEM_COLUMNS = ("check", "severity", "column", "n", "rows", "message", "advice")
"""Columns of the table returned by :func:`check_sessions`."""

SENTINELS: tuple[float, ...] = (-9, -99, -999, -9999, 99, 999, 9999)
"""Codes that statistics packages and clinic systems use for "missing"."""

# problems of one column's values (ColumnError when they are the only errors); the others are
# problems of the data's structure (DataValidationError)
_COLUMN_CHECKS = frozenset({
    "missing_column", "session_not_index", "outcome_not_numeric", "outcome_all_missing",
    "outcome_constant", "infinite", "sentinel", "out_of_range", "text_in_numbers",
    "column_all_missing"})
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_MAX_ROWS = 20  # index labels kept per problem (``n`` has the full count)
_N_SHOWN = 5


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _show(values: Sequence[Any], n: int = _N_SHOWN) -> str:
    values = list(values)
    shown = ", ".join(repr(_plain(v)) for v in values[:n])
    return shown + (f", ... ({len(values)} in all)" if len(values) > n else "")


def _rows(index: pd.Index) -> tuple:
    return tuple(_plain(v) for v in list(index)[:_MAX_ROWS])


def _arg_name(name: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise ArgumentError(f"`{name}`: expecting a column name (str); got {value!r}.")


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, check: str, severity: str, column: str, rows: pd.Index, message: str,
            advice: str, n: int | None = None) -> None:
        self.items.append({
            "check": check, "severity": severity, "column": column,
            "n": int(len(rows) if n is None else n), "rows": _rows(rows),
            "message": message, "advice": advice,
        })

    def table(self) -> pd.DataFrame:
        out = pd.DataFrame(self.items, columns=list(PROBLEM_COLUMNS))
        if len(out):
            order = out["severity"].map(_SEVERITY_ORDER)
            out = out.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)
        out["n"] = out["n"].astype("int64")
        return out


def _texty(s: pd.Series) -> bool:
    """Object or string dtype (pandas >= 3 reads text as its own string dtype)."""
    return s.dtype == object or isinstance(s.dtype, pd.StringDtype)


def _is_bool_like(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s.dtype):
        return True
    vals = s.dropna()
    return s.dtype == object and len(vals) > 0 and vals.map(type).isin([bool, np.bool_]).all()


def _numbers(s: pd.Series) -> pd.Series:
    """The column as floats (text that is not a number -> NaN); booleans are not numbers."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return pd.Series(np.nan, index=s.index)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(float)
    return pd.to_numeric(s.astype(object).where(~s.map(lambda v: isinstance(v, bool))),
                         errors="coerce").astype(float)


def _text_values(s: pd.Series) -> pd.Series:
    """Non-missing, non-blank values of ``s`` that are not numbers."""
    if pd.api.types.is_numeric_dtype(s.dtype) or isinstance(s.dtype, pd.CategoricalDtype):
        return s.iloc[0:0]
    num = _numbers(s)
    present = s.notna() & ~(s.astype(str).str.strip() == "")
    return s[present & num.isna()]


def _declared_ranges(df: pd.DataFrame, ranges: Mapping[str, Any] | None) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    info = df.attrs.get("commonfactors") if isinstance(df.attrs, dict) else None
    if isinstance(info, dict) and isinstance(info.get("ranges"), Mapping):
        out.update({str(k): tuple(v) for k, v in info["ranges"].items()})
    if ranges is None:
        return out
    if not isinstance(ranges, Mapping):
        raise ArgumentError(
            "`ranges`: expecting a mapping {column: (low, high)}, e.g. {'alliance': (1, 7)}; "
            f"got {type(ranges).__name__}.")
    for col, rng in ranges.items():
        ok = (isinstance(rng, (tuple, list)) and len(rng) == 2
              and all(isinstance(v, (int, float, np.integer, np.floating))
                      and not isinstance(v, bool) for v in rng))
        if not ok or not rng[0] <= rng[1]:
            raise ArgumentError(
                f"`ranges`: the range of column {col!r} must be (low, high) numbers with low <= "
                f"high; got {rng!r}.")
        if col not in df.columns:
            raise ArgumentError(
                f"`ranges`: column {col!r} not found; available columns: "
                f"{', '.join(map(str, list(df.columns)[:20]))}.")
        out[str(col)] = (float(rng[0]), float(rng[1]))
    return out


def _constant(s: pd.Series) -> bool:
    """One distinct value among ``s`` (no missing values): min == max for numbers, which costs
    a pass over the column instead of hashing every value."""
    if not len(s):
        return False
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return bool(s.min() == s.max())
    return s.nunique() == 1


def check_sessions(
    df: pd.DataFrame,
    *,
    therapist: str | None = "therapist",
    client: str = "client",
    session: str = "session",
    outcome: str = "outcome",
    columns: Sequence[str] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    sentinels: Sequence[float] = SENTINELS,
) -> pd.DataFrame:
    """List every problem of a long session frame in one table (nothing is raised or changed).

    Parameters
    ----------
    df : DataFrame
        One row per session, under your own column names (give them below). Not modified.
    therapist : str or None, default "therapist"
        Therapist id column; None, or the default name absent from ``df``, means two-level data.
    client, session, outcome : str
        Client id, session (index or week; 0 = intake) and outcome columns.
    columns : list of str, optional
        The further columns the analysis uses (factor and process columns). Default: every other
        column; a column that is entirely missing is then a warning rather than an error.
    ranges : dict, optional
        Declared valid ranges ``{column: (low, high)}`` (inclusive), e.g. ``{"alliance": (1, 7)}``;
        values outside are errors. Ranges declared in :func:`commonfactors.read_sessions` are
        read from ``df.attrs`` too.
    sentinels : sequence of numbers, default (-9, -99, -999, -9999, 99, 999, 9999)
        Missing-value codes looked for in numeric columns without a declared range. A code is
        reported when it lies outside the range of the column's other values by more than the
        width of that range (so 99 on a 0-100 scale is not). ``()`` turns the search off.

    Returns
    -------
    DataFrame
        One row per problem, errors first, with columns ``check`` (a short code), ``severity``
        (``"error"``: the analysis would be wrong or fail; ``"warning"``: it runs but you should
        know; ``"info"``), ``column``, ``n`` (rows involved), ``rows`` (index labels of ``df``,
        the first 20), ``message`` (what was found) and ``advice`` (what to do). Empty when
        nothing was found.

    Notes
    -----
    Checks (code: severity): ``missing_column``, ``missing_id``, ``session_not_index`` (dates,
    fractions, negative numbers, text), ``outcome_not_numeric`` (text such as "n/a", booleans),
    ``outcome_all_missing``, ``outcome_constant``, ``infinite``, ``exact_duplicate`` (every
    value repeated: :func:`clean_sessions` removes them), ``conflicting_duplicate`` (same client
    and session, different values), ``several_therapists`` (one client under several therapists,
    with the rows per therapist), ``id_type_mix`` (the same id stored as a number and as text),
    ``sentinel``, ``out_of_range``, ``text_in_numbers``, ``column_all_missing``: errors;
    ``column_constant``, ``missing_outcome_at_intake`` (the client's first row has no outcome,
    so improvement starts later), ``one_session_client`` (fewer than 2 observed outcomes: left
    out of the change view), ``few_therapists``: warnings; ``missing_values`` per column: info.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"therapist": ["t1", "t1", "t1", "t2"], "client": ["a", "a", "a", "a"],
    ...                    "session": [0, 1, 1, 2], "outcome": [20.0, 15.0, 15.0, 11.0]})
    >>> problems = check_sessions(df)
    >>> problems["check"].tolist()
    ['exact_duplicate', 'several_therapists', 'few_therapists']
    >>> problems.loc[0, "rows"]
    (1, 2)
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"`df`: expecting a pandas DataFrame; got {type(df).__name__}.")
    for name, value in (("client", client), ("session", session), ("outcome", outcome)):
        _arg_name(name, value)
    _arg_name("therapist", therapist, optional=True)
    if isinstance(sentinels, (str, bytes)) or not isinstance(sentinels, Sequence) or not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in sentinels):
        raise ArgumentError(f"`sentinels`: expecting a sequence of numbers; got {sentinels!r}.")
    declared = _declared_ranges(df, ranges)
    if therapist == "therapist" and therapist not in df.columns:
        therapist = None
    keys = [c for c in (therapist, client, session, outcome) if c is not None]
    if columns is None:
        explicit = False
        others = [c for c in df.columns if c not in keys]
    else:
        explicit = True
        if isinstance(columns, str):
            columns = [columns]
        others = [c for c in columns if c not in keys]
    p = _Problems()
    empty = df.index[:0]

    absent = [c for c in keys + others if c not in df.columns]
    for c in absent:
        role = {therapist: "therapist", client: "client", session: "session",
                outcome: "outcome"}.get(c, "analysis")
        p.add("missing_column", "error", str(c), empty,
              f"column {c!r} ({role} column) not found; available columns: "
              f"{', '.join(map(str, list(df.columns)[:20]))}.",
              f"Name the right column (e.g. {role}='YourColumn'), or map it with "
              "cf.read_sessions(..., columns={...}).")
    present = set(df.columns)
    others = [c for c in others if c in present]

    # ---- ids ---------------------------------------------------------------------------------
    for c in (therapist, client):
        if c is None or c not in present:
            continue
        s = df[c]
        blank = s.isna() | (s.astype(str).str.strip() == "") if _texty(s) else s.isna()
        if blank.any():
            p.add("missing_id", "error", c, df.index[blank],
                  f"{int(blank.sum())} row(s) have no {c!r} id.",
                  "Fill in the id if you know it, otherwise drop those rows "
                  "(cf.read_sessions(..., missing='drop') does and counts them).")
        vals = s[~blank]
        if s.dtype == object and len(vals):
            kinds = vals.map(lambda v: "number" if isinstance(v, (int, float, np.integer,
                                                                   np.floating)) else "text")
            if kinds.nunique() > 1:
                as_text = vals.map(lambda v: str(_plain(v)).strip())
                groups = kinds.groupby(as_text).nunique()
                clash = list(groups[groups > 1].index)
                if clash:
                    rows = vals.index[as_text.isin(clash)]
                    p.add("id_type_mix", "error", c, rows,
                          f"the same {c} id is stored both as a number and as text: "
                          f"{_show(clash)}; software treats 1 and '1' as different ids.",
                          "Decide whether they are the same person: if so store every id as "
                          "text (cf.read_sessions does); if not, give one of them a new id.")

    # ---- session --------------------------------------------------------------------------------
    sess_ok = False
    if session in present:
        s = df[session]
        if pd.api.types.is_datetime64_any_dtype(s.dtype) or (
                _texty(s) and s.dropna().map(lambda v: hasattr(v, "year")).all()
                and s.notna().any()):
            p.add("session_not_index", "error", session, df.index[s.notna()],
                  f"column {session!r} holds dates ({_show(pd.unique(s.dropna()), 2)}), not a "
                  "session index; used as numbers they would count nanoseconds since 1970.",
                  "Read the data with cf.read_sessions(...), which turns dates into the order "
                  "of visits (session_dates='index') or weeks since the first session "
                  "(session_dates='weeks').")
        else:
            text = _text_values(s)
            if _is_bool_like(s):
                text = s.dropna()
            if len(text):
                p.add("session_not_index", "error", session, text.index,
                      f"{len(text)} value(s) of {session!r} are not numbers: "
                      f"{_show(pd.unique(text.astype(str)))}.",
                      "Give sessions as whole numbers >= 0 (0 = intake), or dates read with "
                      "cf.read_sessions.")
            num = _numbers(s) if not _is_bool_like(s) else pd.Series(np.nan, index=s.index)
            miss = s.isna()
            if miss.any():
                p.add("missing_id", "error", session, df.index[miss],
                      f"{int(miss.sum())} row(s) have no {session!r} value.",
                      "Fill in the session if you know it, otherwise drop those rows.")
            v = num.dropna()
            bad = v[~np.isfinite(v) | (v < 0) | (v != np.round(v))]
            if len(bad):
                p.add("session_not_index", "error", session, bad.index,
                      f"{len(bad)} value(s) of {session!r} are not whole numbers >= 0: "
                      f"{_show(pd.unique(bad))}.",
                      "Renumber the sessions as 0 (intake), 1, 2, ... or weeks since intake.")
            sess_ok = not len(text) and not len(bad)

    # ---- outcome --------------------------------------------------------------------------------
    out_num = None
    if outcome in present:
        s = df[outcome]
        if _is_bool_like(s):
            p.add("outcome_not_numeric", "error", outcome, df.index[s.notna()],
                  "expecting numbers (a score); found True/False values.",
                  "Give the outcome as numbers (a symptom score); a yes/no result needs a "
                  "different model.")
        elif isinstance(s.dtype, pd.CategoricalDtype):
            p.add("outcome_not_numeric", "error", outcome, df.index[s.notna()],
                  f"expecting numbers (a score); found a categorical column (levels "
                  f"{_show(list(s.cat.categories))}).",
                  "Give the outcome as numbers; with SPSS files read value labels as codes "
                  "(cf.read_sessions(..., value_labels='codes')).")
        else:
            text = _text_values(s)
            if len(text):
                p.add("outcome_not_numeric", "error", outcome, text.index,
                      f"expecting numbers; found {len(text)} value(s) that are not numbers: "
                      f"{_show(pd.unique(text.astype(str)))} (rows {_show(list(text.index))}).",
                      "If they mean 'missing', declare them: cf.read_sessions(..., na_values="
                      f"{list(map(str, pd.unique(text.astype(str))[:3]))}); otherwise correct them.")
            out_num = _numbers(s)
            if out_num.notna().sum() == 0 and not len(text):
                p.add("outcome_all_missing", "error", outcome, df.index,
                      "every value is missing.",
                      "Check which column holds the outcome (outcome='YourColumn').")
            elif _constant(out_num[np.isfinite(out_num)]):
                p.add("outcome_constant", "error", outcome, df.index[out_num.notna()],
                      f"every observed value is {_plain(out_num.dropna().iloc[0])}; there is no "
                      "change or variance to decompose.",
                      "Check that this is the outcome column and that it was read correctly.")

    # ---- numeric value checks: infinities, sentinels, declared ranges, text among numbers --------
    value_cols = ([outcome] if outcome in present else []) + others
    for c in value_cols:
        s = df[c]
        if _is_bool_like(s) or isinstance(s.dtype, pd.CategoricalDtype):
            continue
        num = _numbers(s)
        text = _text_values(s)
        if c != outcome and len(text) and num.notna().sum() >= len(text):
            p.add("text_in_numbers", "error", c, text.index,
                  f"column {c!r} is mostly numbers but {len(text)} value(s) are text: "
                  f"{_show(pd.unique(text.astype(str)))}.",
                  "Declare the text codes as missing (cf.read_sessions(..., na_values=[...])) "
                  "or correct them.")
        inf = num[np.isinf(num)]
        if len(inf):
            p.add("infinite", "error", c, inf.index,
                  f"expecting finite numbers; found {len(inf)} infinite value(s) "
                  f"(rows {_show(list(inf.index))}).",
                  "Infinite values usually come from a division by zero when the score was "
                  "computed; recompute it or set those values missing.")
        fin = num[np.isfinite(num)]
        if c in declared:
            lo, hi = declared[c]
            bad = fin[(fin < lo) | (fin > hi)]
            if len(bad):
                p.add("out_of_range", "error", c, bad.index,
                      f"{len(bad)} value(s) of {c!r} outside the declared range {lo:g} to {hi:g}: "
                      f"{_show(pd.unique(bad))}.",
                      "If they are missing-value codes, declare them (na_values=); if they are "
                      "typing errors, correct them from the source; cf.read_sessions(..., "
                      "ranges=..., out_of_range='missing') sets them missing and counts them.")
        elif len(sentinels) and len(fin):
            cand = fin[fin.isin([float(v) for v in sentinels])]
            rest = fin[~fin.isin([float(v) for v in sentinels])]
            if len(cand) and len(rest) >= 2:
                lo, hi = float(rest.min()), float(rest.max())
                width = max(hi - lo, 1.0)
                far = cand[(cand < lo - width) | (cand > hi + width)]
                if len(far):
                    codes = sorted(pd.unique(far))
                    p.add("sentinel", "error", c, far.index,
                          f"{len(far)} value(s) of {c!r} look like missing-value codes "
                          f"({_show(codes)}): far outside the other values ({lo:g} to {hi:g}).",
                          f"Declare them missing: cf.read_sessions(..., na_values={{{c!r}: "
                          f"{[_plain(v) for v in codes]}}}); or, if they are real, declare the "
                          f"column's range (ranges={{{c!r}: (low, high)}}).")

    # ---- other columns: all missing, constant, missing values ---------------------------------
    for c in others:
        s = df[c]
        if s.isna().all():
            p.add("column_all_missing", "error" if explicit else "warning", c, df.index,
                  "every value is missing.",
                  "Check the column name and how the file was read; remove the column from the "
                  "factor groups if it was never rated.")
            continue
        if _constant(s.dropna()):
            p.add("column_constant", "warning", c, df.index[s.notna()],
                  f"every observed value of {c!r} is {_plain(s.dropna().iloc[0])!r}.",
                  "A constant column cannot explain anything; leave it out of the factor groups.")
        if s.isna().any():
            n = int(s.isna().sum())
            p.add("missing_values", "info", c, df.index[s.isna()],
                  f"{n} of {len(s)} value(s) of {c!r} are missing ({100 * n / len(s):.0f}%).",
                  "The change view averages process measures over the sessions where they were "
                  "rated; check that the missing values are not a coding problem.")

    # ---- duplicates and nesting ----------------------------------------------------------------
    if client in present and session in present:
        pair = df.duplicated([client, session], keep=False)
        if pair.any():
            d = df.loc[pair]
            exact = d.duplicated(keep=False)
            if exact.any():
                e = d.loc[exact]
                n_extra = int(e.duplicated().sum())
                keys = e[[client, session]]
                shown = keys.drop_duplicates()
                parts = []
                for a, b in shown.head(_N_SHOWN).itertuples(index=False):
                    rows = keys.index[(keys[client] == a) & (keys[session] == b)]
                    parts.append(f"{client} {_plain(a)!r} {session} {_plain(b)!r} "
                                 f"(rows {_show(list(rows))})")
                more = f"; ... ({len(shown)} pairs in all)" if len(shown) > _N_SHOWN else ""
                p.add("exact_duplicate", "error", f"{client}/{session}", e.index,
                      "expecting one row per client and session; found "
                      f"{len(shown)} repeated pair(s): " + "; ".join(parts) + more
                      + f"; the {n_extra} extra row(s) are exact copies (every column equal).",
                      "Remove the copies: cf.clean_sessions(df) keeps the first of each.")
            distinct = d.drop_duplicates().groupby([client, session], sort=False).size()
            clash_pairs = distinct[distinct > 1].index
            conf = d.loc[d.set_index([client, session]).index.isin(clash_pairs)]
            if len(conf):
                pairs = conf[[client, session]].drop_duplicates()
                diff_cols = [c for c in df.columns if c not in (client, session) and
                             conf.groupby([client, session])[c].nunique(dropna=False).gt(1).any()]
                parts = []
                for a, b in pairs.head(_N_SHOWN).itertuples(index=False):
                    rows = conf.index[(conf[client] == a) & (conf[session] == b)]
                    parts.append(f"{client} {_plain(a)!r} {session} {_plain(b)!r} "
                                 f"(rows {_show(list(rows))})")
                more = f"; ... ({len(pairs)} pairs in all)" if len(pairs) > _N_SHOWN else ""
                p.add("conflicting_duplicate", "error", f"{client}/{session}", conf.index,
                      "expecting one row per client and session; found "
                      f"{len(pairs)} repeated pair(s) whose rows differ (in {_show(diff_cols)}): "
                      + "; ".join(parts) + more + ".",
                      "Look the session up in the source: keep the right row and drop the "
                      "other(s), or correct a mistyped session number. Averaging them hides a "
                      "data-entry error.")
    if therapist is not None and therapist in present and client in present:
        ids = df[[client, therapist]].dropna()
        n_ther = ids.groupby(client, sort=False)[therapist].nunique()
        for cl in list(n_ther[n_ther > 1].index):
            sub = ids.loc[ids[client] == cl, therapist]
            per = {t: list(r) for t, r in sub.groupby(sub, sort=False).groups.items()}
            minority = min(per, key=lambda t: len(per[t]))
            p.add("several_therapists", "error", f"{client}/{therapist}", sub.index,
                  f"expecting each client to see one therapist; found client {_plain(cl)!r} "
                  "under therapists "
                  + ", ".join(f"{_plain(t)!r} (rows {_show(r)})" for t, r in per.items()) + ".",
                  f"If a few rows are a data-entry error (here {_plain(minority)!r}, "
                  f"{len(per[minority])} row(s)), correct their therapist in the source; if "
                  "the client changed therapist, keep one therapist's sessions or analyse the "
                  "client under each; if two clients share an id, give them distinct ids.")
        n_t = ids[therapist].nunique()
        if n_t < 5:
            p.add("few_therapists", "warning" if n_t >= 2 else "info", therapist, empty,
                  f"{n_t} therapist(s); a therapist variance needs many (20 or more for a "
                  "stable estimate).",
                  "Interpret the therapist share with care, or analyse without a therapist "
                  "level (therapist=None).")

    # ---- per client: intake outcome, one-session clients ---------------------------------------
    if client in present and session in present and out_num is not None and sess_ok:
        frame = pd.DataFrame({"c": df[client], "s": _numbers(df[session]), "y": out_num})
        frame = frame.dropna(subset=["c", "s"])
        if len(frame):
            first = frame.sort_values(["c", "s"], kind="mergesort").groupby("c", sort=False).head(1)
            nointake = first[first["y"].isna()]
            if len(nointake):
                p.add("missing_outcome_at_intake", "warning", outcome, nointake.index,
                      f"{len(nointake)} client(s) have no {outcome!r} at their first session "
                      f"({_show(list(nointake['c']))}); their improvement is measured from a "
                      "later session.",
                      "Fill in the intake score from the source if it exists; otherwise know "
                      "that these clients' windows are shorter (change view: n_sessions, "
                      "window).")
            n_obs = frame.groupby("c", sort=False)["y"].count()
            one = n_obs[n_obs < 2]
            if len(one):
                rows = frame.index[frame["c"].isin(one.index)]
                p.add("one_session_client", "warning", client, rows,
                      f"{len(one)} client(s) have fewer than 2 observed {outcome!r} values "
                      f"({_show(list(one.index))}); the change view leaves them out.",
                      "Nothing to fix if they dropped out after intake; report how many left.",
                      n=len(rows))
    return p.table()


def raise_on_errors(problems: pd.DataFrame, *, where: str = "check_sessions") -> None:
    """Raise one DataValidationError listing every error row of a :func:`check_sessions` table.

    Parameters
    ----------
    problems : DataFrame
        The table returned by :func:`check_sessions`.
    where : str, default "check_sessions"
        Name of the calling function, put at the start of the message.

    Returns
    -------
    None
        When the table has no row of severity ``"error"`` (warnings and info never raise).

    Raises
    ------
    ColumnError
        When every error concerns the values of one column or another (text in a score,
        infinite values, a constant or all-missing column, missing-value codes, values out of
        range, dates as sessions): one message, how many problems, then each with its column,
        what was found and what to do.
    DataValidationError
        Otherwise (duplicates, a client under several therapists, ids), with the same message.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"client": ["a", "a", "b", "b"], "session": [0, 1, 0, 1],
    ...                    "outcome": [10.0, 8.0, 12.0, 9.0]})
    >>> raise_on_errors(check_sessions(df)) is None
    True
    """
    if not isinstance(problems, pd.DataFrame) or not set(PROBLEM_COLUMNS) <= set(problems.columns):
        raise ArgumentError(
            "`problems`: expecting the table returned by cf.check_sessions(df); got "
            f"{type(problems).__name__}.")
    errors = problems[problems["severity"] == "error"]
    if errors.empty:
        return None
    parts = [f"({i}) column {r.column!r}: {r.message} {r.advice}"
             for i, r in enumerate(errors.itertuples(index=False), start=1)]
    kind = ColumnError if set(errors["check"]) <= _COLUMN_CHECKS else DataValidationError
    raise kind(
        f"{where}: {len(errors)} problem(s) in the data: " + " ".join(parts)
        + " cf.check_sessions(df) lists every problem as a table.")
