"""Client-level views of a canonical long frame: :func:`change_view` (one row per client) and
:func:`summarize_sessions` (counts for the report)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from .._validation import check_columns, check_int
from ..errors import ColumnError
from ._checks import CANONICAL, py_scalar, show_values, sort_canonical

__all__ = ["change_view", "summarize_sessions"]


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
    missing predictor values. This is the pre-post change view of docs/methods.md section 1 [1]_.

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
