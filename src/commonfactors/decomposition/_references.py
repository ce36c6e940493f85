"""Reference ("absent") levels, improvement contrasts, and the hand-off from building to finishing.

Shared by the decomposition of data (:mod:`.api`) and of a fitted model (:mod:`._from_fit`):
the default reference of each column, the references of a subset of groups, the per-row
improvement contrast of a mean-model design (:func:`commonfactors.models.terms.improvement_contrast`),
the counterfactual contrasts as picklable objects (:class:`DataContrast`, :class:`FitContrast`)
and the typed records passed on to :func:`._finish.finish` (:class:`Built`, :class:`MeanModel`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..estimands import EXTRA_THERAPEUTIC as THERAPY_EXCLUDE
from ..models.terms import counterfactual_terms, improvement_contrast


def _codes(s: pd.Series) -> np.ndarray:
    return pd.factorize(s, sort=False)[0].astype(np.intp)


def column_facts(frame: pd.DataFrame, col: str, client: str) -> tuple[bool, np.ndarray]:
    """(every observed value is 0 or 1, the client means of the column) from session rows."""
    x = frame[col].astype(float)
    means = x.groupby(frame[client]).mean() if client in frame else x
    return set(np.unique(x.dropna())) <= {0.0, 1.0}, np.asarray(means, dtype=float)


def _default_references(frame: pd.DataFrame | None, factors, given, client,
                        outside=(THERAPY_EXCLUDE,), categorical=None,
                        facts=None) -> tuple[dict, list]:
    """Reference level per (group, column): given, else 0 for a 0/1 column, otherwise the 10th
    percentile of client means; a categorical column's dummies are 0 (its reference level).

    ``facts(col)`` gives ``(is 0/1, client means)`` of a column (default: :func:`column_facts`
    on ``frame``), so that per-client statistics can stand in for the rows."""
    facts = facts or (lambda col: column_facts(frame, col, client))
    refs: dict[str, dict[str, float]] = {}
    rows = []
    categorical = categorical or {}
    dummy_of = {d: c for c, inf in categorical.items() for d in inf["dummies"]}
    for g, cols in factors.items():
        if g in outside:
            continue
        refs[g] = {}
        for col in cols:
            if col == "session":
                continue
            if col in dummy_of:
                refs[g][col] = 0.0
                src = dummy_of[col]
                inf = categorical[src]
                if inf["dummies"][0] == col:
                    rows.append({"factor": g, "column": src, "reference": inf["reference"],
                                 "note": f"reference level ({inf['rule']}); levels "
                                         f"{', '.join(map(str, inf['levels']))}; dummies "
                                         f"{', '.join(inf['dummies'])}"})
                continue
            if given is not None and g in given and col in given[g]:
                v, note = float(given[g][col]), "given"
            elif given is not None and g in given and not isinstance(given[g], dict):
                v, note = float(given[g]), "given"
            else:
                is01, means = facts(col)
                if is01:
                    v, note = 0.0, "default: 0 (control / absent)"
                else:
                    v, note = float(np.quantile(means, 0.10)), "default: 10th percentile of client means"
            refs[g][col] = v
            rows.append({"factor": g, "column": col, "reference": v, "note": note})
    return refs, rows


def _remainder_label(outside: tuple, groups) -> str:
    """Label of the remainder of the mean improvement (the group outside therapy)."""
    label = outside[0] if len(outside) == 1 else THERAPY_EXCLUDE
    if label in groups and label not in outside:
        return "remainder"
    return label


def _merged(refs: dict, groups: list, mask: int) -> dict:
    """Reference levels of every group in the subset ``mask`` (bit j = groups[j])."""
    out = {}
    for j, g in enumerate(groups):
        if mask & (1 << j):
            out.update(refs[g])
    return out


def _contrast_rows(Xm: np.ndarray, view: str, frame: pd.DataFrame, client: str, session: str):
    return improvement_contrast(Xm, view, frame, client=client, session=session)


@dataclass(frozen=True)
class DataContrast:
    """Mean-model contrast rows with some columns at reference levels (the decomposition of data).

    ``rows(ref)`` gives the per-row improvement contrast of the pooled mean design with the columns
    of ``ref`` set to its values; calling the object gives their mean (one row).
    """

    frame: pd.DataFrame = field(repr=False)
    factors: dict
    view: str
    columns: tuple
    client: str
    therapist: str | None
    session: str

    def rows(self, ref: dict) -> np.ndarray:
        cf = counterfactual_terms(self.frame, self.factors, ref, view=self.view,
                                  columns=list(self.columns), client=self.client,
                                  therapist=self.therapist, time=self.session,
                                  pooled=True).to_numpy()
        Xm = np.column_stack([np.ones(len(self.frame)), cf])
        return _contrast_rows(Xm, self.view, self.frame, self.client, self.session)[0]

    def __call__(self, ref: dict) -> np.ndarray:
        return self.rows(ref).mean(axis=0)


@dataclass(frozen=True)
class FitContrast:
    """As :class:`DataContrast`, through the design of a fitted model (the decomposition of a fit)."""

    fit: object = field(repr=False)
    frame: pd.DataFrame = field(repr=False)
    view: str
    client: str
    session: str

    def rows(self, ref: dict) -> np.ndarray:
        new = self.frame.copy()
        for col, v in ref.items():
            new[col] = float(v)
        X = self.fit.design_matrix(new).to_numpy(dtype=float)
        return _contrast_rows(X, self.view, self.frame, self.client, self.session)[0]

    def __call__(self, ref: dict) -> np.ndarray:
        return self.rows(ref).mean(axis=0)


@dataclass(frozen=True)
class MeanModel:
    """What :meth:`Decomposition.sensitivity` needs from the mean model.

    ``refs``: reference level per group and column; ``contrast(ref)``: mean contrast row with the
    columns of ``ref`` at those levels; ``client_min`` / ``client_median``: the range of the
    client means of each column; ``beta`` and ``M``: the point fit's coefficients and mean
    predicted improvement (set once the point estimate is known); ``dummies``: each dummy
    column of a categorical factor column, mapped to that column.
    """

    refs: dict
    contrast: DataContrast | FitContrast | Any  # or the growth view's MomentContrast
    client_min: dict
    client_median: dict
    beta: np.ndarray | None = None
    M: float = float("nan")
    dummies: dict = field(default_factory=dict)  # dummy column -> its categorical source column


def client_range(frame: pd.DataFrame | None, refs: dict, key: str | None,
                 means_of=None) -> tuple[dict, dict]:
    """(lowest, median) client mean of every reference column (row values without ``key``);
    ``means_of(col)`` gives the client means instead of ``frame``."""
    lo, med = {}, {}
    for cols in refs.values():
        for col in cols:
            if means_of is not None:
                means = pd.Series(means_of(col))
            else:
                x = frame[col].astype(float)
                means = x.groupby(frame[key]).mean() if key is not None and key in frame else x
            lo[col] = float(means.min())
            med[col] = float(means.median())
    return lo, med


@dataclass(frozen=True)
class Built:
    """Hand-off from building a decomposition problem (from data or from a fit) to finishing it."""

    frame: pd.DataFrame = field(repr=False)
    names: list
    formula: str
    ref_rows: list
    notes: tuple
    mean: MeanModel | None
    rand: tuple = ()
    fit_frame: pd.DataFrame | None = field(repr=False, default=None)
    description: object = None
    data_summary: dict | None = None
    client: str | None = "client"  # the columns of ``frame`` holding client and therapist ids
    therapist: str | None = "therapist"
    categorical: dict = field(default_factory=dict)  # source column -> levels, reference, dummies


@dataclass(frozen=True)
class LazyFit:
    """The full model's :class:`~commonfactors.models.MixedFit`, fitted when first asked for.

    The decomposition itself needs only sufficient statistics; ``Decomposition.fit`` (BLUPs,
    a summary table, standard errors of the full model) is fitted from the rows on first use:
    from ``fit_frame`` as it stands (change view), or from the session ``rows`` (growth view),
    whose complete rows in ``used`` get the derived columns ``names`` of :func:`build_terms`.
    """

    formula: str
    reml: bool
    fit_frame: pd.DataFrame | None = field(repr=False, default=None)
    rows: pd.DataFrame | None = field(repr=False, default=None)
    factors: dict | None = None
    names: tuple = ()
    used: tuple = ()

    def __call__(self):
        from ..models.mixed import fit_mixed
        from ..models.terms import build_terms

        frame = self.fit_frame
        if frame is None:
            assert self.rows is not None and self.factors is not None
            rows = self.rows.dropna(subset=list(self.used))
            has_t = "therapist" in rows.columns
            derived, _ = build_terms(rows, self.factors, view="growth", client="client",
                                     therapist="therapist" if has_t else None, time="session",
                                     keep=list(self.names))
            ids = rows[[c for c in ("therapist", "client") if c in rows.columns]]
            frame = pd.concat([ids.reset_index(drop=True), derived.reset_index(drop=True),
                               rows["outcome"].reset_index(drop=True)], axis=1)
        return fit_mixed(frame, self.formula, reml=self.reml)
