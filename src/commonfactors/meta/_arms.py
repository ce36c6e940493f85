"""Arm-level helpers for the design-based shares: one outcome per study, numeric arm columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_columns
from ..errors import ColumnError, DataValidationError

__all__ = ["one_outcome_per_study"]


def one_outcome_per_study(
    arms: pd.DataFrame,
    *,
    study_col: str,
    outcome_col: str,
    priority_col: str,
) -> pd.DataFrame:
    """Keep, in each study, the arms measured on the study's preferred outcome.

    Parameters
    ----------
    arms : DataFrame
        One row per arm and outcome measure (a trial that reported two instruments has two
        rows per arm).
    study_col : str
        Study (trial) id.
    outcome_col : str
        The outcome measure (instrument) of the row.
    priority_col : str
        Rank of the outcome, lower = preferred (e.g. ``outcome_priority`` of
        ``load_dataset("metapsy_depression", view="arms")``).

    Returns
    -------
    DataFrame
        A new frame with the rows of the selected outcome of each study, in the input's
        order. Per study the outcome with the lowest priority is kept; when two outcomes share
        it, the one reported for more arms, then the first in alphabetical order. The
        caller's frame is not modified.

    Notes
    -----
    Pooling every instrument of a trial would count its patients several times with
    correlated errors that the meta-regression does not model; choosing one instrument per
    trial by a fixed hierarchy (as meta-analyses of depression trials do, e.g. HAM-D, then
    BDI, then other measures) keeps one estimate per arm. Filter ``arms`` first (e.g. to
    self-report instruments) to choose among a subset.

    Examples
    --------
    >>> import pandas as pd
    >>> from commonfactors.meta import one_outcome_per_study
    >>> arms = pd.DataFrame({"study": ["a", "a", "a", "a", "b"],
    ...                      "instrument": ["bdi", "bdi", "hdrs", "hdrs", "phq"],
    ...                      "rank": [1, 1, 0, 0, 5], "change": [1.0, 0.4, 1.2, 0.5, 0.9]})
    >>> one_outcome_per_study(arms, study_col="study", outcome_col="instrument",
    ...                       priority_col="rank")["instrument"].tolist()
    ['hdrs', 'hdrs', 'phq']
    """
    check_columns(arms, [study_col, outcome_col, priority_col], param="arms")
    data = arms[[study_col, outcome_col, priority_col]]
    bad = data.isna().any(axis=1)
    if bad.any():
        raise DataValidationError(
            f"`arms`: {int(bad.sum())} row(s) have a missing {study_col!r}, {outcome_col!r} or "
            f"{priority_col!r}; drop or fill them first."
        )
    if not pd.api.types.is_numeric_dtype(data[priority_col]):
        raise DataValidationError(
            f"`priority_col`: expecting numbers in {priority_col!r} (lower = preferred); found "
            f"dtype {data[priority_col].dtype}."
        )
    per = (
        data.groupby([study_col, outcome_col], sort=False)
        .agg(_priority=(priority_col, "min"), _count=(priority_col, "size"))
        .reset_index()
    )
    per["_outcome"] = per[outcome_col].astype(str)
    per = per.sort_values(
        [study_col, "_priority", "_count", "_outcome"],
        ascending=[True, True, False, True],
        kind="mergesort",
    )
    best = per.drop_duplicates(study_col)[[study_col, outcome_col]]
    keys = pd.MultiIndex.from_frame(best)
    keep = pd.MultiIndex.from_frame(data[[study_col, outcome_col]]).isin(keys)
    return arms.loc[keep].copy()


def arm_numbers(data: pd.DataFrame, col: str, param: str, what: str,
                 low: float | None = None) -> np.ndarray:
    """Column ``col`` of the arm table as finite floats (> ``low``), or a clear error."""
    s = data[col]
    num = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_bool_dtype(s.dtype) else s * np.nan
    bad = s.notna() & num.isna()
    if bad.any():
        shown = ", ".join(map(repr, pd.unique(s[bad])[:5]))
        raise ColumnError(f"{param}: column {col!r} must hold numbers ({what}); found {shown}.")
    x = num.to_numpy(dtype=float)
    wrong = ~np.isfinite(x) | ((x <= low) if low is not None else False)
    if wrong.any():
        rows = ", ".join(map(str, list(data.index[wrong])[:5]))
        shown = ", ".join(f"{v:g}" for v in x[wrong][:5])
        raise DataValidationError(
            f"{param}: column {col!r} must hold {what}; found {shown} (rows {rows}). Correct or "
            "drop those arms.")
    return x
