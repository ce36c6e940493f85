"""The default model of each view: which derived columns, made from which raw columns.

Both the estimators (:mod:`commonfactors.decompose`) and the population truth
(:mod:`commonfactors.simulation.truth`) build their predictors from this one recipe, so that an estimate
and its truth always refer to the same columns.

Growth view (one row per session, sessions in clients in therapists). For every factor column
``x`` the recipe makes the level-pure parts of Rights & Sterba (2019) and Baldwin, Wampold & Imel
(2007), with row-weighted means over the rows present:

* ``x_w = x - mean_client(x)`` (within client; only for session-varying columns),
* ``x_c = mean_client(x) - mean_therapist(x)`` (between clients of one therapist),
* ``x_t = mean_therapist(x) - mean(x)`` (between therapists),
* ``x_time = session_w * (mean_client(x) - mean(x))`` (the factor's association with the
  client's rate of change; ``session_w`` is session centred within client),

and for the time column itself (``session``) its parts ``session_w`` (and ``session_c``,
``session_t`` when sessions are missing so that they vary). Without a therapist column the
``_t`` parts are absent and ``x_c = mean_client(x) - mean(x)``. Parts that are constant in the
data (e.g. ``x_w`` of a client-level column) are left out.

Change view (one row per client, clients in therapists): for every factor column the parts
``x_c = x - mean_therapist(x)`` and ``x_t = mean_therapist(x) - mean(x)``; the time column has no
variance here (the intercept carries the natural-course change) and is left out.

Because every derived column lies in one level's subspace, ordinary least squares and the mixed
model's GLS agree on balanced data for every subset of columns (Zyskind's condition), which is
what lets the simulator state analytic population values for the mixed-model estimands.

References
----------
1. Baldwin, S. A., Wampold, B. E., & Imel, Z. E. (2007). Untangling the alliance-outcome
   correlation. Journal of Consulting and Clinical Psychology, 75, 842-852.
2. Rights, J. D., & Sterba, S. K. (2019). Quantifying explained variance in multilevel models.
   Psychological Methods, 24, 309-338.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .._validation import check_columns, check_factor_groups, check_option
from ..errors import ColumnError

View = Literal["growth", "change"]
VIEWS = ("growth", "change")

__all__ = ["Term", "default_terms", "build_terms", "counterfactual_terms",
           "improvement_contrast", "TIME_COLUMN"]

TIME_COLUMN = "session"


@dataclass(frozen=True)
class Term:
    """One derived predictor of a default model.

    Attributes
    ----------
    name : derived column name (e.g. ``"alliance_c"``)
    source : raw column it is made from (e.g. ``"alliance"``)
    kind : ``"w"``, ``"c"``, ``"t"`` (level parts) or ``"time"`` (session_w x client mean)
    group : factor group the term belongs to
    level : 1 (within client), 2 (between clients), 3 (between therapists); for the change view
        2 = within therapist, 3 = between therapists
    """

    name: str
    source: str
    kind: str
    group: str
    level: int


def _row_mean(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Row-weighted mean of ``values`` within groups, broadcast back to rows."""
    sums = np.bincount(codes, weights=values, minlength=n_groups)
    counts = np.bincount(codes, minlength=n_groups)
    return (sums / counts)[codes]


def _codes(series: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(series, sort=False)
    return codes.astype(np.intp), len(uniques)


def build_terms(
    data: pd.DataFrame,
    factors: dict[str, list[str]],
    *,
    view: View = "growth",
    client: str = "client",
    therapist: str | None = "therapist",
    time: str = TIME_COLUMN,
    tol: float = 1e-12,
    grand_means: dict[str, float] | None = None,
    keep: list[str] | None = None,
    pooled: bool = False,
) -> tuple[pd.DataFrame, list[Term]]:
    """Derive the default model's predictors from raw factor columns.

    Parameters
    ----------
    data : DataFrame
        Growth view: the canonical long frame (one row per session). Change view: the change
        frame (one row per client, see :func:`commonfactors.change_view`).
    factors : dict
        ``{group: [raw columns]}``.
    view : {"growth", "change"}
    client, therapist, time : str
        Column names; ``therapist=None`` (or a column absent from ``data``) builds a model
        without a therapist level.
    tol : float
        A derived column whose variance is below ``tol`` times the raw column's variance (or
        below ``tol`` in absolute terms) is treated as constant and left out.
    grand_means : dict, optional
        Grand means to centre on instead of the data's own (used to build a counterfactual
        design on the original data's centring, see :func:`counterfactual_terms`).
    keep : list of str, optional
        Derived column names to return regardless of their variance (and only those).
    pooled : bool
        The mean model instead of the level-pure one: one column per factor column, ``x``
        centred on its grand mean (one coefficient pooled over levels), plus ``x_time`` in the
        growth view. Used for shares of mean improvement, where setting a factor to its
        reference level moves it at every level at once.

    Returns
    -------
    derived : DataFrame
        The derived columns, same index as ``data``.
    terms : list of Term
        One entry per derived column, in column order.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"therapist": ["a", "a", "b", "b"], "client": ["a1", "a2", "b1", "b2"],
    ...                   "x": [1.0, 3.0, 2.0, 6.0]})
    >>> derived, terms = build_terms(d, {"g": ["x"]}, view="change")
    >>> derived.round(3).to_dict("list")
    {'x_c': [-1.0, 1.0, -2.0, 2.0], 'x_t': [-1.0, -1.0, 1.0, 1.0]}
    """
    check_option("view", view, VIEWS)
    factors = check_factor_groups(factors)
    has_therapist = therapist is not None and therapist in data.columns
    needed = [c for cols in factors.values() for c in cols if not (view == "change" and c == time)]
    check_columns(data, needed + ([client] if view == "growth" else []), param="data")
    for c in needed:
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise ColumnError(
                f"factor column {c!r}: expecting numbers (or 0/1 for a two-level factor); "
                f"found dtype {data[c].dtype}."
            )
    out: dict[str, np.ndarray] = {}
    terms: list[Term] = []

    def add(name: str, source: str, kind: str, group: str, level: int, values: np.ndarray) -> None:
        if keep is not None:
            if name not in keep:
                return
        else:
            scale = max(float(np.var(data[source].to_numpy(dtype=float))), 1.0)
            if float(np.var(values)) <= tol * scale:
                return
        out[name] = values
        terms.append(Term(name, source, kind, group, level))

    t_codes = _codes(data[therapist]) if has_therapist else None
    if pooled:
        sw = None
        if view == "growth":
            c_codes, nc = _codes(data[client])
            if time in data.columns:
                s = data[time].to_numpy(dtype=float)
                sw = s - _row_mean(s, c_codes, nc)
        for group, cols in factors.items():
            for col in cols:
                if view == "change" and col == time:
                    continue
                x = data[col].to_numpy(dtype=float)
                grand = x.mean() if grand_means is None else grand_means[col]
                add(col, col, "raw", group, 0, x - grand)
                if view == "growth" and col != time and sw is not None:
                    cm = _row_mean(x, c_codes, nc)
                    add(f"{col}_time", col, "time", group, 1, sw * (cm - grand))
    elif view == "growth":
        c_codes, nc = _codes(data[client])
        sw = None
        if time in data.columns:
            s = data[time].to_numpy(dtype=float)
            sw = s - _row_mean(s, c_codes, nc)
        for group, cols in factors.items():
            for col in cols:
                x = data[col].to_numpy(dtype=float)
                cm = _row_mean(x, c_codes, nc)
                grand = x.mean() if grand_means is None else grand_means[col]
                add(f"{col}_w", col, "w", group, 1, x - cm)
                if has_therapist:
                    tm = _row_mean(x, *t_codes)
                    add(f"{col}_c", col, "c", group, 2, cm - tm)
                    add(f"{col}_t", col, "t", group, 3, tm - grand)
                else:
                    add(f"{col}_c", col, "c", group, 2, cm - grand)
                if col != time and sw is not None:
                    add(f"{col}_time", col, "time", group, 1, sw * (cm - grand))
    else:
        for group, cols in factors.items():
            for col in cols:
                if col == time:
                    continue
                x = data[col].to_numpy(dtype=float)
                grand = x.mean() if grand_means is None else grand_means[col]
                if has_therapist:
                    tm = _row_mean(x, *t_codes)
                    add(f"{col}_c", col, "c", group, 2, x - tm)
                    add(f"{col}_t", col, "t", group, 3, tm - grand)
                else:
                    add(f"{col}_c", col, "c", group, 2, x - grand)
    derived = pd.DataFrame(out, index=data.index)
    if keep is not None:
        derived = derived[[k for k in keep if k in derived.columns]]
    return derived, terms


def counterfactual_terms(
    data: pd.DataFrame,
    factors: dict[str, list[str]],
    references: dict[str, float],
    *,
    view: View = "growth",
    columns: list[str],
    **kwargs,
) -> pd.DataFrame:
    """The default model's columns with raw columns set to reference values.

    ``references`` maps raw column -> value (e.g. ``{"alliance": 3.0}``); every other column
    keeps its data. Centring uses the original data's grand means, so the derived columns are on
    the fitted model's scale: setting alliance to 3 for everyone gives ``alliance_w = 0``,
    ``alliance_c = 0``, ``alliance_t = 3 - mean(alliance)`` and
    ``alliance_time = session_w * (3 - mean(alliance))``. ``columns`` are the fitted model's
    derived columns (returned in that order).
    """
    raw_cols = [c for cols in factors.values() for c in cols if c in data.columns]
    grand = {c: float(data[c].astype(float).mean()) for c in raw_cols}
    cf = data.copy()
    for col, value in references.items():
        check_columns(data, [col], param="references")
        cf[col] = float(value)
    derived, _ = build_terms(cf, factors, view=view, grand_means=grand, keep=list(columns), **kwargs)
    return derived[list(columns)]


def default_terms(factors: dict[str, list[str]], *, view: View = "growth") -> str:
    """Describe in words the default model of a view for a factor mapping (for reports)."""
    check_option("view", view, VIEWS)
    if view == "growth":
        return (
            "outcome ~ session_w + for each factor column x: x_w (within client), x_c (between "
            "clients of a therapist), x_t (between therapists), x_time (session_w x client mean "
            "of x) + (1 | therapist) + (1 | client); REML; constant parts left out"
        )
    return (
        "improvement ~ for each factor column x (client means): x_c (within therapist), x_t "
        "(between therapists) + (1 | therapist); REML"
    )


def improvement_contrast(X: np.ndarray, view: View, frame: pd.DataFrame, *, client: str = "client",
                         session: str = TIME_COLUMN) -> tuple[np.ndarray, np.ndarray]:
    """Per-client design contrast whose product with the coefficients is the predicted improvement.

    Change view: the design row itself (one row per client). Growth view: the design row at the
    client's first observed session minus the one at its last (the predicted outcome drop).
    Returns the contrast rows and, for each, the position of the client's first row in ``frame``.
    """
    if view == "change":
        return X, np.arange(len(frame))
    codes = pd.factorize(frame[client], sort=False)[0]
    order = np.lexsort((frame[session].to_numpy(), codes))
    c = codes[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
    return X[order][starts] - X[order][ends], order[starts]
