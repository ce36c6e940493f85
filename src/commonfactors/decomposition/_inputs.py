"""Turning a user's factor groups and arguments into what the estimators need, with clear errors.

* :func:`resolve_outside` and :func:`warn_group_names`: which factor groups count as outside
  therapy, and a "did you mean" warning for a group name close to a standard one;
* :func:`code_categoricals`: text, category, boolean and value-labelled factor columns become
  0/1 dummy columns inside their factor group, against a named reference level;
* :func:`check_references`: the ``references`` argument checked against the groups, columns and
  observed values;
* :func:`check_values` and :func:`check_design`: finite numeric values and a varying outcome in
  the data given, enough clients and therapists in the analysed rows.

Reference level of a categorical column ("absent", the level every other level is compared
with, and the level the shares of mean improvement set the column to):

1. the level given in ``references={group: {column: level}}``;
2. otherwise ``False`` for a boolean column;
3. otherwise the one level whose label is a recognised control label (:data:`CONTROL_LABELS`,
   compared case-insensitively with spaces, hyphens and underscores removed);
4. otherwise an error asking for it: never the first level in alphabetical order.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._validation import did_you_mean, user_stacklevel
from ..errors import (
    ArgumentError,
    ColumnError,
    DataValidationError,
    FactorGroupError,
    ModelSpecError,
)

STANDARD_GROUPS = ("relationship", "technique", "expectancy", "extra_therapeutic")
DEFAULT_OUTSIDE = ("extra_therapeutic",)
CONTROL_LABELS = (
    "control", "controls", "controlgroup", "controlcondition", "tau", "treatmentasusual",
    "usualtreatment", "cau", "careasusual", "usualcare", "uc", "waitlist", "waitinglist",
    "wl", "wlc", "waitlistcontrol", "notreatment", "notherapy", "none", "attentioncontrol",
    "assessmentonly", "ao", "placebo", "pillplacebo",
)
"""Labels recognised as the "absent" level of a categorical factor (after normalisation)."""

_N_SHOWN = 5


def _norm_label(v) -> str:
    return re.sub(r"[\s\-_./]+", "", str(v)).lower()


def _show(values) -> str:
    values = list(values)
    out = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:_N_SHOWN])
    return out + (f", ... ({len(values)} in all)" if len(values) > _N_SHOWN else "")


# --------------------------------------------------------------------------------------------
# factor groups
# --------------------------------------------------------------------------------------------
def resolve_outside(outside, factors: Mapping[str, list]) -> tuple[str, ...]:
    """The groups outside therapy: default ``extra_therapeutic`` when present; checked names."""
    if outside is None:
        return tuple(g for g in DEFAULT_OUTSIDE if g in factors)
    if isinstance(outside, str):
        outside = (outside,)
    try:
        outside = tuple(outside)
    except TypeError:
        raise ArgumentError(
            f"`outside`: expecting a list of factor-group names, e.g. ('extra_therapeutic',); "
            f"got {outside!r}.") from None
    for g in outside:
        if g not in factors:
            raise FactorGroupError(
                f"`outside`: {g!r} is not a factor group; groups: {', '.join(map(repr, factors))}."
                + did_you_mean(g, factors))
    if len(set(outside)) == len(factors):
        raise FactorGroupError(
            "`outside`: every factor group is outside therapy, so no share of therapy variance "
            "is defined; leave at least one group inside therapy.")
    return outside


def warn_group_names(factors: Mapping[str, list]) -> None:
    """Warn when a group name is close to, but not, a standard group name."""
    for g in factors:
        if g in STANDARD_GROUPS:
            continue
        hint = did_you_mean(g, STANDARD_GROUPS, cutoff=0.8)
        if hint:
            warnings.warn(
                f"factor group {g!r} is not a standard group name ({', '.join(STANDARD_GROUPS)})."
                f"{hint} Claims are compared and the group outside therapy is recognised by "
                "name; rename the group if it was a typo.", UserWarning, stacklevel=user_stacklevel())


# --------------------------------------------------------------------------------------------
# categorical factor columns
# --------------------------------------------------------------------------------------------
def _labels_of(data: pd.DataFrame, col: str) -> dict | None:
    """Value labels of a numeric column from read_sessions' report (SPSS/Stata, or a recoding)."""
    info = data.attrs.get("commonfactors") if isinstance(data.attrs, dict) else None
    if not isinstance(info, dict):
        return None
    labels = (info.get("value_labels") or {}).get(col)
    if labels:
        return {float(k): str(v) for k, v in labels.items()
                if isinstance(k, (int, float, np.integer, np.floating))}
    recoded = (info.get("recoded") or {}).get(col)
    if recoded:  # {label: code} from read_sessions' two-level recoding
        return {float(code): str(label) for label, code in recoded.items()}
    return None


def is_categorical(data: pd.DataFrame, col: str) -> bool:
    s = data[col]
    if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(s.dtype):
        return True
    if not pd.api.types.is_numeric_dtype(s.dtype):
        return True
    labels = _labels_of(data, col)
    if labels:
        observed = pd.unique(s.dropna().astype(float))
        return all(v in labels for v in observed)
    return False


def _levels_and_values(data: pd.DataFrame, col: str) -> tuple[list, pd.Series]:
    """(levels in a stable order, the column as level labels)."""
    s = data[col]
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().unique())
        levels = [c for c in s.cat.categories if c in present]
        return levels, s.astype(object)
    if pd.api.types.is_bool_dtype(s.dtype) or (
            s.dtype == object and s.dropna().map(type).isin([bool, np.bool_]).all()
            and s.notna().any()):
        vals = s.map(lambda v: v if pd.isna(v) else bool(v))
        return [lv for lv in (False, True) if (vals == lv).any()], vals
    if pd.api.types.is_numeric_dtype(s.dtype):
        labels = _labels_of(data, col) or {}
        vals = s.map(lambda v: v if pd.isna(v) else labels.get(float(v), v))
        order = [labels[k] for k in sorted(labels)]
        present = set(vals.dropna().unique())
        return [lv for lv in order if lv in present], vals
    vals = s.map(lambda v: v if pd.isna(v) else (v.strip() if isinstance(v, str) else v))
    vals = vals.map(lambda v: np.nan if isinstance(v, str) and v == "" else v)
    present = pd.unique(vals.dropna())
    return sorted(present, key=lambda v: (str(type(v)), str(v))), vals


def code_categoricals(data: pd.DataFrame, factors: dict[str, list[str]], references,
                      outside: tuple[str, ...], *, protected=()) -> tuple[pd.DataFrame, dict, dict]:
    """Dummy-code categorical factor columns inside their group.

    Returns ``(frame, factors, info)``: a new frame with ``column[level]`` 0/1 columns (one per
    non-reference level) in place of each categorical column, the factor mapping with those
    columns in the column's place, and ``info[column] = {"group", "reference", "levels",
    "dummies", "rule"}``.
    """
    references = references or {}
    info: dict[str, dict] = {}
    new_factors: dict[str, list[str]] = {}
    out = data
    for g, cols in factors.items():
        new_cols = []
        for col in cols:
            if col in protected or col not in data.columns or not is_categorical(data, col):
                new_cols.append(col)
                continue
            levels, vals = _levels_and_values(data, col)
            if len(levels) < 2:
                raise ColumnError(
                    f"`factors`: column {col!r} of group {g!r} has "
                    f"{'one level' if levels else 'no values'} ({_show(levels)}); a factor must "
                    "vary. Remove it from the group.")
            given = references.get(g) if isinstance(references, Mapping) else None
            given = given.get(col) if isinstance(given, Mapping) else None
            if given is not None:
                match = [lv for lv in levels if lv == given or str(lv) == str(given)]
                if not match:
                    raise ColumnError(
                        f"`references`: {given!r} is not a level of column {col!r} (group "
                        f"{g!r}); its levels: {_show(levels)}.")
                ref, rule = match[0], "given"
            elif g in outside:
                ref, rule = levels[0], "first level (group outside therapy: no share of mean " \
                                       "improvement)"
            elif set(levels) <= {False, True}:
                ref, rule = False, "False (boolean column: True = present)"
            else:
                hits = [lv for lv in levels if _norm_label(lv) in CONTROL_LABELS]
                if len(hits) != 1:
                    why = ("none of its levels is a recognised control label" if not hits else
                           f"several levels look like controls ({_show(hits)})")
                    raise FactorGroupError(
                        f"`references`: column {col!r} of group {g!r} is categorical with levels "
                        f"{_show(levels)}, and {why}; say which level stands for 'absent' (the "
                        f"control arm), e.g. references={{{g!r}: {{{col!r}: {levels[-1]!r}}}}}. "
                        "It is never chosen alphabetically.")
                ref, rule = hits[0], "recognised control label"
            dummies = []
            if out is data:
                out = data.copy()
            pos = list(out.columns).index(col)
            for lv in levels:
                if lv == ref:
                    continue
                name = f"{col}[{lv}]"
                if name in out.columns:
                    raise ColumnError(f"`factors`: the dummy column {name!r} for level {lv!r} of "
                                      f"{col!r} clashes with an existing column; rename it.")
                dummy = (vals == lv).astype(float).where(vals.notna())
                pos += 1
                out.insert(pos, name, dummy.to_numpy())
                dummies.append(name)
            info[col] = {"group": g, "reference": ref, "levels": list(levels),
                         "dummies": dummies, "rule": rule}
            new_cols += dummies
        new_factors[g] = new_cols
    return out, new_factors, info


def apply_categoricals(data: pd.DataFrame, categorical: dict) -> pd.DataFrame:
    """The dummy columns of :func:`code_categoricals` for coding decided elsewhere (``info``
    from all the data), e.g. on one partition of data read partition by partition."""
    out = data.copy()
    for col, inf in categorical.items():
        _, vals = _levels_and_values(data, col)
        pos = list(out.columns).index(col)
        for lv, name in zip([lv for lv in inf["levels"] if lv != inf["reference"]],
                            inf["dummies"], strict=True):
            pos += 1
            out.insert(pos, name, (vals == lv).astype(float).where(vals.notna()).to_numpy())
    return out


# --------------------------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------------------------
def check_references(references, factors: dict[str, list[str]], outside: tuple[str, ...],
                     data: pd.DataFrame, categorical, *, session: str = "session") -> dict:
    """Validate ``references``; return ``{group: {column: float}}`` for numeric columns.

    Unknown groups or columns, groups outside therapy and non-numeric values raise. A value
    outside the observed range of the column by more than the range's width raises (a reference
    is a value a client could have); one outside the range by less warns.
    """
    if references is None:
        return {}
    if not isinstance(references, Mapping):
        raise ArgumentError(
            "`references`: expecting a mapping {group: {column: value}}, e.g. "
            "{'technique': {'arm': 'TAU'}, 'relationship': {'alliance': 3.0}}; got "
            f"{type(references).__name__}.")
    out: dict[str, dict[str, float]] = {}
    for g, spec in references.items():
        if g not in factors:
            raise FactorGroupError(
                f"`references`: {g!r} is not a factor group; groups: "
                f"{', '.join(map(repr, factors))}." + did_you_mean(g, factors))
        if g in outside:
            raise FactorGroupError(
                f"`references`: group {g!r} is outside therapy (`outside`), so it has no "
                "reference level: it is the remainder of the mean improvement. Remove it from "
                "`references` or from `outside`.")
        raw_cols = [c for c in factors[g] if c != session]
        if not isinstance(spec, Mapping):
            spec = {c: spec for c in raw_cols}
        for col, value in spec.items():
            if col not in raw_cols:
                raise ColumnError(
                    f"`references`: {col!r} is not a column of group {g!r} (its columns: "
                    f"{', '.join(map(repr, raw_cols)) or 'none'})." + did_you_mean(col, raw_cols))
            if col in categorical:
                continue  # a level, checked when the column is coded
            if isinstance(value, bool) or not isinstance(
                    value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
                raise ArgumentError(
                    f"`references`: the reference of numeric column {col!r} (group {g!r}) must "
                    f"be a finite number; got {value!r}.")
            if col not in data.columns:
                out.setdefault(g, {})[col] = float(value)
                continue
            x = pd.to_numeric(data[col], errors="coerce").dropna()
            if x.empty:
                out.setdefault(g, {})[col] = float(value)
                continue
            lo, hi = float(x.min()), float(x.max())
            width = max(hi - lo, 1e-12)
            v = float(value)
            if v < lo - width or v > hi + width:
                raise ArgumentError(
                    f"`references`: {col!r} = {v:g} (group {g!r}) is far outside the observed "
                    f"values {lo:g} to {hi:g}; a reference level is a value a client could have "
                    "(e.g. a poor alliance). Check the value and the column's scale.")
            if v < lo or v > hi:
                warnings.warn(
                    f"references: {col!r} = {v:g} (group {g!r}) is outside the observed values "
                    f"{lo:g} to {hi:g}; the share of mean improvement extrapolates the model "
                    "beyond the data.", UserWarning, stacklevel=user_stacklevel())
            out.setdefault(g, {})[col] = v
    return out


def formula_name(name: str) -> str:
    """A column name usable in a patsy formula: quoted with Q() unless it is an identifier."""
    import keyword

    if name.isidentifier() and not keyword.iskeyword(name) and name not in ("Q", "C", "I"):
        return name
    return f"Q({name!r})"


def check_values(data: pd.DataFrame, factors: dict, session: str, *, part: bool = False) -> None:
    """The outcome and numeric factor columns hold finite numbers; the outcome varies.

    ``part=True``: ``data`` is one partition of larger data, so only what each row must
    satisfy is checked here (types, finite values); whether a column is all missing or the
    outcome constant is decided over every partition (:func:`check_totals`)."""
    y = data["outcome"]
    if pd.api.types.is_bool_dtype(y.dtype) or not pd.api.types.is_numeric_dtype(y.dtype):
        bad = y[pd.to_numeric(y, errors="coerce").isna() & y.notna()]
        raise ColumnError(
            f"column 'outcome': expecting numbers (a symptom score); found dtype {y.dtype}"
            + (f" with values such as {_show(pd.unique(bad))}" if len(bad) else "")
            + ". Recode those values as numbers or as missing (cf.read_sessions does).")
    for c in ["outcome"] + [c for cs in factors.values() for c in cs]:
        s = data[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            inf = np.isinf(s.to_numpy(dtype=float))
            if inf.any():
                raise ColumnError(
                    f"column {c!r}: expecting finite numbers; found {int(inf.sum())} infinite "
                    f"value(s) (rows {_show(list(s.index[inf]))}). Set them to missing or "
                    "correct them.")
            if c != "outcome" and s.notna().sum() == 0 and not part:
                raise ColumnError(f"column {c!r}: every value is missing; remove it from "
                                  "`factors` or check the column.")
    if part:
        return
    obs = y.dropna()
    check_totals({c: int(data[c].notna().sum()) for c in numeric_columns(data, factors)},
                 len(obs), (float(obs.min()), float(obs.max())) if len(obs) else None)


def numeric_columns(data: pd.DataFrame, factors: dict) -> list[str]:
    """The factor columns held as numbers (not booleans)."""
    cols = dict.fromkeys(c for cs in factors.values() for c in cs)
    return [c for c in cols if pd.api.types.is_numeric_dtype(data[c].dtype)
            and not pd.api.types.is_bool_dtype(data[c].dtype)]


def check_totals(observed: dict, n_outcome: int, outcome_range) -> None:
    """Over all the data: no factor column all missing, an observed and varying outcome."""
    for c, k in observed.items():
        if c != "outcome" and k == 0:
            raise ColumnError(f"column {c!r}: every value is missing; remove it from "
                              "`factors` or check the column.")
    if n_outcome == 0:
        raise ColumnError("column 'outcome': every value is missing; expecting observed scores.")
    if outcome_range[0] == outcome_range[1]:
        raise ColumnError(
            f"column 'outcome': every observed value is {outcome_range[0]:g}; a constant outcome "
            "has no variance and no improvement to decompose. Check the outcome column.")


def check_design(frame: pd.DataFrame, outcome: str, view: str, has_t: bool, therapist, client):
    """Enough clients and therapists, and an outcome that varies, in the analysed rows."""
    y = frame[outcome]
    per = frame.groupby(therapist)[client].nunique().to_numpy() if has_t else None
    check_design_counts(view=view, outcome=outcome,
                        y_range=(float(y.min()), float(y.max())) if len(y) else None,
                        first_y=float(y.iloc[0]) if len(y) else np.nan,
                        n_units=int(frame[client].nunique()),
                        n_therapists=int(frame[therapist].nunique()) if has_t else None,
                        clients_per_therapist=per)


def check_design_counts(*, view: str, outcome: str, y_range, first_y: float, n_units: int,
                        n_therapists: int | None, clients_per_therapist) -> None:
    """:func:`check_design` from counts: the outcome's range, clients, therapists and clients per
    therapist (``n_therapists=None``: no therapist level)."""
    if y_range is not None and y_range[0] == y_range[1]:
        what = "improvement (pre - post)" if outcome == "improvement" else "outcome"
        raise DataValidationError(
            f"column {what!r}: every client has the same value ({first_y:g}) in the {view} "
            "view, so there is no variance to decompose. Check the outcome and session columns.")
    if n_units < 3:
        raise DataValidationError(
            f"`data`: {n_units} client(s) in the {view} view; expecting several clients (each "
            "with at least 2 observed sessions in the change view).")
    if n_therapists is None:
        return
    if n_therapists < 3:
        raise DataValidationError(
            f"column 'therapist': {n_therapists} therapist(s) in the analysed rows; a therapist "
            "variance cannot be estimated from so few (30 or more give a usable estimate). Pass "
            "therapist=None to analyse clients without a therapist level.")
    if np.all(np.asarray(clients_per_therapist) <= 1):
        raise DataValidationError(
            "column 'therapist': every therapist has one client in the analysed rows, so "
            "therapist differences cannot be told apart from client differences. Pass "
            "therapist=None to analyse clients without a therapist level, or use data with "
            "several clients per therapist.")


def dependent_columns(gram: np.ndarray, names: list[str], tol: float = 1e-11) -> list[str]:
    """Columns that are (to ``tol``) linear combinations of the others, from ``X'X`` alone.

    Cholesky of the Gram matrix scaled to unit diagonal, column by column in the given order:
    a column whose remaining pivot (the squared norm of its part orthogonal to the columns
    before it) falls below ``tol`` adds nothing, so the later of two columns that carry the
    same information is the one named. Working from ``X'X`` resolves dependence to about the square root of
    the precision of QR on the rows, hence ``tol`` = 1e-11 (a remaining correlation of
    1 - 1e-11); the rows themselves are never needed.
    """
    d = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    zero = d <= 0
    A = gram / np.outer(np.where(zero, 1.0, d), np.where(zero, 1.0, d))
    A[zero, :] = 0.0
    A[:, zero] = 0.0
    p = len(names)
    left = [j for j in range(p) if not zero[j]]
    dep = [j for j in range(p) if zero[j]]
    A = A.copy()
    while left:
        piv = left.pop(0)
        if A[piv, piv] <= tol:
            dep.append(piv)
            continue
        col = A[:, piv] / np.sqrt(A[piv, piv])
        for j in left:
            A[j, left] -= col[j] * col[left]
    return [names[j] for j in sorted(dep)]


def check_rank(gram: np.ndarray, names: list[str], view: str) -> None:
    """A clear error when factor columns carry the same information (see
    :func:`dependent_columns`)."""
    bad = dependent_columns(gram, names)
    if bad:
        raise ModelSpecError(
            f"`factors`: the {view} model's column(s) {', '.join(bad)} are constant or a linear "
            f"combination of the other columns ({', '.join(names)}): two factor columns carry "
            "the same information (e.g. one is a rescaled copy or a sum of others). Remove one "
            "of them from `factors`.")


def to_roles(data: pd.DataFrame, factors: dict, client: str, therapist, session: str):
    """A copy with own therapist, client and session column names renamed to their roles (both
    views read the roles, e.g. :func:`commonfactors.change_view`); ``attrs`` kept, and a
    ``therapist`` column dropped when ``therapist=None``."""
    ren = {}
    for role, col in (("client", client), ("therapist", therapist), ("session", session)):
        if col is None or col == role or col not in data.columns:
            continue
        if role in data.columns:
            raise ColumnError(
                f"`{role}`: the {role} ids are in column {col!r}, but `data` also has a column "
                f"named {role!r}; rename or drop that column first.")
        ren[col] = role
    out = data.rename(columns=ren) if ren else data.copy(deep=False)  # never modified in place
    out.attrs = dict(data.attrs)
    if therapist is None and "therapist" in out.columns:
        out = out.drop(columns="therapist")
    if ren:
        factors = {g: [ren.get(c, c) for c in cs] for g, cs in factors.items()}
    return out, factors

