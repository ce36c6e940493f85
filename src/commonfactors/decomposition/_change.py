"""The change view's decomposition problem, from its change frame (one row per client)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import FactorGroupError
from ..estimands import EXTRA_THERAPEUTIC as THERAPY_EXCLUDE
from ..models.nested import NestedStats
from ..models.terms import build_terms, default_terms
from . import _estimates as E
from . import _inputs as AI
from ._moments import canonical_order
from ._references import (
    Built,
    DataContrast,
    MeanModel,
    _codes,
    _contrast_rows,
    _default_references,
    _merged,
    _remainder_label,
    client_range,
)

_LEVEL_NAMES = {
    ("client", "therapist"): {1: "f1", 2: "f2", 3: "f3"},
    ("client", None): {1: "f1", 2: "f2"},
    ("therapist", None): {2: "f2", 3: "f3"},
}


# --------------------------------------------------------------------------------------
# building the problem
# --------------------------------------------------------------------------------------

def build_change(frame, factors, view, references, client, therapist, session, reml,
           outside=(THERAPY_EXCLUDE,), categorical=None):
    """The change view's problem from its change frame (one row per client, as
    :func:`commonfactors.change_view`; made from per-client statistics, :mod:`._moments`)."""
    notes = []
    categorical = categorical or {}
    has_t = therapist is not None and therapist in frame.columns
    preds = sorted({c for cols in factors.values() for c in cols if c != session})
    # process measures are client means over the sessions where they were rated; a client
    # with no rating of a factor column at all has no value and leaves the model
    no_value = frame[preds].isna().any(axis=1) if preds else pd.Series(False, frame.index)
    if no_value.any():
        which = ", ".join(f"{c} ({int(frame[c].isna().sum())})" for c in preds
                          if frame[c].isna().any())
        notes.append(f"dropped {int(no_value.sum())} of {len(frame)} clients with no observed "
                     f"value of a factor column (clients per column: {which})")
        frame = frame.loc[~no_value].reset_index(drop=True)
    # one row order (therapist, then client label) whatever the order of the rows given
    frame = frame.iloc[canonical_order(frame[client].to_numpy(),
                                       frame[therapist].to_numpy() if has_t else None)]
    frame = frame.reset_index(drop=True)
    outcome = "improvement"
    AI.check_design(frame, outcome, view, has_t, therapist, client)
    derived, terms = build_terms(frame, factors, view=view, client=client,
                                 therapist=therapist if has_t else None, time=session)
    present = {t.group for t in terms}
    for g in factors:
        if g not in present:
            raise FactorGroupError(
                f"`factors`: group {g!r} has no variation in the {view} view (its columns "
                f"{factors[g]} are constant); remove it or give it a column that varies.")
    y = frame[outcome].to_numpy(float)
    X = np.column_stack([np.ones(len(frame)), derived.to_numpy()])
    names = ["Intercept"] + list(derived.columns)
    AI.check_rank(X.T @ X, names, view)
    groups = tuple(factors)
    col_group = np.array([-1] + [groups.index(t.group) for t in terms])
    inner_role, outer_role = ("therapist" if has_t else None), None
    inner_codes = _codes(frame[therapist]) if has_t else None
    outer_codes = None
    lvmap = _LEVEL_NAMES.get((inner_role, outer_role), {})
    col_level = np.array([""] + [lvmap.get(t.level, "f") for t in terms])
    # mean model: one pooled column per factor column
    dm, _ = build_terms(frame, factors, view=view, client=client,
                        therapist=therapist if has_t else None, time=session, pooled=True)
    Xm = np.column_stack([np.ones(len(frame)), dm.to_numpy()])
    refs, ref_rows = _default_references(frame, factors, references, client, outside, categorical)
    rows_c, client_rows = _contrast_rows(Xm, view, frame, client, session)
    remainder = _remainder_label(outside, groups)
    mean_groups = tuple([g for g in groups if g in refs] + [remainder])

    contrast = DataContrast(frame, factors, view, tuple(dm.columns), client,
                            therapist if has_t else None, session)
    ref_groups = [g for g in mean_groups if g != remainder]
    cf_rows = [rows_c] + [contrast.rows(_merged(refs, ref_groups, mask))
                          for mask in range(1, 2 ** len(ref_groups))]
    corr_cols = []
    multi = {d for inf in categorical.values() if len(inf["dummies"]) > 1 for d in inf["dummies"]}
    for g, cols in factors.items():
        main = [c for c in cols if c != session and c in dm.columns]
        if main and main[0] not in multi:  # no single correlation for a multi-level arm
            corr_cols.append((g, 1 + list(dm.columns).index(main[0])))
    # units that the contrasts follow: the stats' inner groups, or rows for least squares
    if inner_codes is not None:
        unit = inner_codes[client_rows]
        n_units = int(inner_codes.max()) + 1
    else:
        unit, n_units = np.arange(len(frame)), len(frame)

    def per_unit(a):
        out = np.zeros((n_units, a.shape[1]))
        np.add.at(out, unit, a)
        return out

    contrast_obs = per_unit(rows_c)
    contrast_cf = np.stack([per_unit(a) for a in cf_rows])
    contrast_n = np.bincount(unit, minlength=n_units).astype(float)
    if inner_codes is not None:
        Z_in = np.ones((len(frame), 1))
        Z_out = np.ones((len(frame), 1)) if outer_codes is not None else None
        stats = NestedStats.from_arrays(X, y, Z_in, Z_out, inner_codes, outer_codes)
        mstats = NestedStats.from_arrays(Xm, y, Z_in, Z_out, inner_codes, outer_codes)
        problem = E.Problem(stats=stats, rows=None, col_group=col_group, col_level=col_level,
                            groups=groups, inner_role=inner_role, outer_role=outer_role, reml=reml,
                            mean_stats=mstats, contrast_obs=contrast_obs, contrast_cf=contrast_cf,
                            contrast_n=contrast_n, mean_groups=mean_groups,
                            corr_cols=tuple(corr_cols), corr_sign=1.0,
                            outside=tuple(outside), remainder=remainder)
    else:
        notes.append("no therapist ids: the change model is fitted by least squares (no random effects)")
        problem = E.Problem(stats=None, rows=np.column_stack([X, y]), col_group=col_group,
                            col_level=col_level, groups=groups, inner_role=None, outer_role=None,
                            reml=reml, mean_rows=np.column_stack([Xm, y]), contrast_obs=contrast_obs,
                            contrast_cf=contrast_cf, contrast_n=contrast_n, mean_groups=mean_groups,
                            corr_cols=tuple(corr_cols), outside=tuple(outside), remainder=remainder)
    rand = [f"(1 | {therapist})"] if has_t else []
    formula = (f"{outcome} ~ " + " + ".join(AI.formula_name(n) for n in names[1:])
               + (" + " + " + ".join(rand) if rand else ""))
    fit_frame = pd.concat([frame[[c for c in (therapist, client) if c and c in frame]].reset_index(drop=True),
                           derived.reset_index(drop=True),
                           pd.Series(y, name=outcome)], axis=1)
    lo, med = client_range(frame, refs, client)
    dummies = {d: c for c, inf in categorical.items() for d in inf["dummies"]}
    built = Built(frame=frame, names=names, formula=formula, ref_rows=ref_rows, notes=tuple(notes),
                  mean=MeanModel(refs, contrast, lo, med, dummies=dummies), rand=tuple(rand),
                  fit_frame=fit_frame, description=default_terms(factors, view=view),
                  categorical=categorical)
    return problem, built
