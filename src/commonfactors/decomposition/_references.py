"""Reference ("absent") levels of the factor columns and the improvement contrasts built on them.

Shared by the decomposition of data (:mod:`.api`) and of a fitted model (:mod:`._from_fit`):
the default reference of each column, the references of a subset of groups, and the per-row
improvement contrast of a mean-model design (:func:`commonfactors.models.terms.improvement_contrast`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..models.terms import improvement_contrast

THERAPY_EXCLUDE = "extra_therapeutic"


def _codes(s: pd.Series) -> np.ndarray:
    return pd.factorize(s, sort=False)[0].astype(np.intp)


def _default_references(frame: pd.DataFrame, factors, given, client) -> tuple[dict, list]:
    """Reference level per (group, column): binary -> 0, otherwise the 10th percentile of client means."""
    refs: dict[str, dict[str, float]] = {}
    rows = []
    for g, cols in factors.items():
        if g == THERAPY_EXCLUDE:
            continue
        refs[g] = {}
        for col in cols:
            if col == "session":
                continue
            if given is not None and g in given and col in given[g]:
                v, note = float(given[g][col]), "given"
            elif given is not None and g in given and not isinstance(given[g], dict):
                v, note = float(given[g]), "given"
            else:
                x = frame[col].astype(float)
                means = x.groupby(frame[client]).mean() if client in frame else x
                if set(np.unique(x.dropna())) <= {0.0, 1.0}:
                    v, note = 0.0, "default: 0 (control / absent)"
                else:
                    v, note = float(np.quantile(means, 0.10)), "default: 10th percentile of client means"
            refs[g][col] = v
            rows.append({"factor": g, "column": col, "reference": v, "note": note})
    return refs, rows


def _merged(refs: dict, groups: list, mask: int) -> dict:
    """Reference levels of every group in the subset ``mask`` (bit j = groups[j])."""
    out = {}
    for j, g in enumerate(groups):
        if mask & (1 << j):
            out.update(refs[g])
    return out


def _contrast_rows(Xm: np.ndarray, view: str, frame: pd.DataFrame, client: str, session: str):
    return improvement_contrast(Xm, view, frame, client=client, session=session)
