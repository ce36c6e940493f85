"""Derived predictors for mixed models: level-pure disaggregation and lagged within-client terms.

Public through :mod:`commonfactors.models` (``cf.disaggregate``, ``cf.lag_within``).
"""

from __future__ import annotations

import pandas as pd

from .._validation import check_columns
from ..errors import ColumnError


def _numeric(data: pd.DataFrame, columns: list[str]) -> None:
    for c in columns:
        if not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]):
            raise ColumnError(f"`columns`: column {c!r} must be numeric; got dtype {data[c].dtype}.")


def disaggregate(
    data: pd.DataFrame,
    columns,
    *,
    client: str = "client",
    therapist: str | None = "therapist",
    suffixes: tuple[str, str, str] = ("_w", "_c", "_t"),
) -> pd.DataFrame:
    """Split predictors into within-client, between-client and between-therapist parts.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data (not modified).
    columns : str or list of str
        Numeric predictors to split.
    client, therapist : str
        Grouping columns; ``therapist=None`` gives a two-level split.
    suffixes : tuple of str
        Suffixes of the within-client, between-client and between-therapist parts.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` with ``x_w = x - mean_client(x)``, ``x_c = mean_client(x) -
        mean_therapist(x)`` and ``x_t = mean_therapist(x) - mean(x)`` for each column ``x``
        (without a therapist: ``x_c = mean_client(x) - mean(x)``).

    Notes
    -----
    All means are row-weighted over the rows where ``x`` is present (missing ``x`` stays
    missing in every part), so the parts are exactly orthogonal over those rows and sum to
    ``x - mean(x)``. A part with no variation (e.g. ``x_w`` of a client-level variable) is still
    returned, as zeros; leave it out of the model formula (it would be collinear with the
    intercept). The grand mean is removed from the top part so that every part has mean 0.

    References
    ----------
    1. Baldwin, S. A., Wampold, B. E. & Imel, Z. E. (2007). Untangling the alliance-outcome
       correlation. Journal of Consulting and Clinical Psychology, 75(6), 842-852.
    2. Rights, J. D. & Sterba, S. K. (2019). Quantifying explained variance in multilevel
       models. Psychological Methods, 24(3), 309-338.
    """
    columns = [columns] if isinstance(columns, str) else list(columns)
    groups = [client] + ([therapist] if therapist is not None else [])
    check_columns(data, columns + groups, param="data")
    _numeric(data, columns)
    if len(suffixes) != 3:
        raise ColumnError(f"`suffixes`: expecting 3 strings; got {suffixes!r}.")
    out = data.copy()
    sw, sc, st = suffixes
    for x in columns:
        v = out[x].astype(float)
        mc = v.groupby(out[client], sort=False).transform("mean")
        grand = v.mean()
        out[x + sw] = v - mc
        if therapist is None:
            out[x + sc] = mc - grand
        else:
            mt = v.groupby(out[therapist], sort=False).transform("mean")
            out[x + sc] = mc - mt
            out[x + st] = mt - grand
    return out


def lag_within(
    data: pd.DataFrame,
    column: str,
    *,
    outcome: str = "outcome",
    client: str = "client",
    session: str = "session",
    reverse: bool = False,
) -> pd.DataFrame:
    """Lagged within-client predictor (and lagged outcome) for cross-lagged session models.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data (not modified).
    column : str
        Session-level predictor, e.g. ``"alliance"``.
    outcome, client, session : str
        Column names.
    reverse : bool
        Also add ``{outcome}_change_lag1`` = outcome at the previous session minus the client's
        first outcome, so that ``alliance ~ outcome_change_lag1 + ...`` tests the reverse path
        (earlier improvement predicting later alliance).

    Returns
    -------
    pandas.DataFrame
        A copy (original row order) with ``{column}_w`` (within-client centred), ``{column}_w_lag1``
        (its value at the client's previous observed session), ``{outcome}_lag1`` and, with
        ``reverse``, ``{outcome}_change_lag1``; NaN at each client's first session.

    Notes
    -----
    "Previous" means the previous row of the same client in session order, whatever the gap.
    Within-client centring uses the client's mean over all its sessions (Falkenstrom et al. 2013;
    Wang & Maxwell 2015 discuss the small bias this implies for short series).

    References
    ----------
    1. Falkenstrom, F., Granstrom, F. & Holmqvist, R. (2013). Therapeutic alliance predicts
       symptomatic improvement session by session. Journal of Counseling Psychology, 60(3),
       317-328.
    2. Falkenstrom, F., Finkel, S., Sandell, R., Rubel, J. A. & Holmqvist, R. (2017). Dynamic
       models of individual change in psychotherapy process research. Journal of Consulting and
       Clinical Psychology, 85(6), 537-549.
    """
    check_columns(data, [column, outcome, client, session], param="data")
    _numeric(data, [column, outcome])
    out = data.copy()
    order = out.sort_values([client, session], kind="stable").index
    s = out.loc[order]
    by = s[client]
    xw = s[column] - s[column].groupby(by, sort=False).transform("mean")
    s = s.assign(**{f"{column}_w": xw})
    s[f"{column}_w_lag1"] = xw.groupby(by, sort=False).shift(1)
    ylag = s[outcome].groupby(by, sort=False).shift(1)
    s[f"{outcome}_lag1"] = ylag
    if reverse:
        first = s[outcome].groupby(by, sort=False).transform("first")
        s[f"{outcome}_change_lag1"] = ylag - first
    return s.loc[out.index]
