"""From a clinic export to session rows: :func:`score_items` (scale scores from items, with a
stated prorating rule and reverse-keyed items) and :func:`wide_to_long` (one row per client ->
one row per session)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError, ColumnError
from ._checks import py_scalar, show_values

__all__ = ["score_items", "wide_to_long"]


def _columns_arg(name: str, value: Any, df: pd.DataFrame) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise ArgumentError(f"`{name}`: expecting a non-empty list of column names; got {value!r}.")
    value = list(value)
    absent = [c for c in value if c not in df.columns]
    if absent:
        raise ColumnError(
            f"`{name}`: column(s) {show_values(absent)} not found; available columns: "
            f"{', '.join(map(str, list(df.columns)[:30]))}.")
    return value


def score_items(
    df: pd.DataFrame,
    items: Sequence[str],
    *,
    name: str,
    method: str = "mean",
    min_valid: float = 0.8,
    reverse: Sequence[str] = (),
    scale: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Add a scale score computed from item columns (mean or prorated sum).

    Parameters
    ----------
    df : DataFrame
        Any frame with the item columns (wide or long). Not modified.
    items : list of str
        The item columns of the scale.
    name : str
        Name of the new score column (must not exist yet).
    method : {"mean", "sum"}, default "mean"
        "mean": mean of the answered items. "sum": prorated sum, the mean of the answered
        items times the number of items (equal to the plain sum when every item is answered).
    min_valid : float, default 0.8
        Prorating rule: a fraction in (0, 1] of items that must be answered (0.8 = at least 80%),
        or a whole number >= 1 of items; with fewer the score is missing.
    reverse : list of str, optional
        Reverse-keyed items, scored ``low + high - value``; needs ``scale``.
    scale : (low, high), optional
        Item range. Values outside raise ColumnError (declare missing codes in
        :func:`commonfactors.read_sessions` first).

    Returns
    -------
    DataFrame
        A copy with the ``name`` column added. ``attrs["commonfactors"]["scores"][name]``
        records the items, method, rule, reversed items and how many scores were missing
        because too few items were answered.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"w1": [5, 4, None], "w2": [1, 2, None], "w3": [4, None, 2]})
    >>> out = score_items(d, ["w1", "w2", "w3"], name="wai", method="sum", min_valid=2,
    ...                   reverse=["w2"], scale=(1, 5))
    >>> out["wai"].tolist()
    [14.0, 12.0, nan]
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"`df`: expecting a pandas DataFrame; got {type(df).__name__}.")
    items = _columns_arg("items", items, df)
    if len(set(items)) != len(items):
        raise ArgumentError(f"`items`: an item is listed twice ({items!r}).")
    if not isinstance(name, str) or not name:
        raise ArgumentError(f"`name`: expecting the new column's name (str); got {name!r}.")
    if name in df.columns:
        raise ColumnError(f"`name`: column {name!r} already exists; choose another name.")
    if method not in ("mean", "sum"):
        raise ArgumentError(f"`method`: expecting 'mean' or 'sum'; got {method!r}.")
    if isinstance(min_valid, bool) or not isinstance(min_valid, (int, float, np.integer,
                                                                 np.floating)):
        raise ArgumentError(f"`min_valid`: expecting a fraction in (0, 1] or a count; got "
                            f"{min_valid!r}.")
    if 0 < min_valid <= 1 and not (min_valid == 1 and isinstance(min_valid, (int, np.integer))):
        need = int(np.ceil(min_valid * len(items) - 1e-9))
        rule = f"at least {min_valid:.0%} of {len(items)} items answered ({need})"
    elif min_valid >= 1 and float(min_valid).is_integer() and min_valid <= len(items):
        need = int(min_valid)
        rule = f"at least {need} of {len(items)} items answered"
    else:
        raise ArgumentError(
            f"`min_valid`: expecting a fraction in (0, 1] or a whole number of items from 1 to "
            f"{len(items)}; got {min_valid!r}.")
    reverse = [] if reverse is None or len(reverse) == 0 else _columns_arg("reverse", reverse, df)
    stray = [c for c in reverse if c not in items]
    if stray:
        raise ArgumentError(f"`reverse`: {show_values(stray)} not among `items`.")
    if scale is not None:
        ok = isinstance(scale, (tuple, list)) and len(scale) == 2 and all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in scale) and scale[0] < scale[1]
        if not ok:
            raise ArgumentError(f"`scale`: expecting (low, high) numbers with low < high; got "
                                f"{scale!r}.")
    elif reverse:
        raise ArgumentError(
            "`scale`: reverse-keyed items need the item range, e.g. scale=(1, 7), to be scored "
            "as low + high - value.")
    block = {}
    for c in items:
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype) or isinstance(s.dtype, pd.CategoricalDtype):
            raise ColumnError(f"`items`: column {c!r} is not numeric (dtype {s.dtype}); items "
                              "must be numbers (read SPSS items with value_labels='codes').")
        num = pd.to_numeric(s, errors="coerce")
        text = s[num.isna() & s.notna()]
        text = text[text.astype(str).str.strip() != ""]
        if len(text):
            raise ColumnError(
                f"`items`: column {c!r} has values that are not numbers "
                f"({show_values(pd.unique(text.astype(str)))}); declare missing codes with "
                "read_sessions(..., na_values=...).")
        num = num.astype(float)
        if scale is not None:
            bad = num[(num < scale[0]) | (num > scale[1])]
            if len(bad):
                raise ColumnError(
                    f"`items`: column {c!r} has values outside the scale {scale[0]:g} to "
                    f"{scale[1]:g}: {show_values(pd.unique(bad))}; declare missing codes with "
                    "read_sessions(..., na_values=...) or correct them.")
            if c in reverse:
                num = scale[0] + scale[1] - num
        block[c] = num
    mat = pd.DataFrame(block, index=df.index)
    n_valid = mat.notna().sum(axis=1)
    score = mat.mean(axis=1)
    if method == "sum":
        score = score * len(items)
    score = score.where(n_valid >= need)
    out = df.copy()
    out[name] = score
    info = dict(df.attrs.get("commonfactors", {})) if isinstance(df.attrs, dict) else {}
    scores = dict(info.get("scores", {}))
    scores[name] = {
        "items": items, "method": "mean of answered items" if method == "mean" else
        "prorated sum (mean of answered items x number of items)",
        "rule": rule, "reverse": reverse, "scale": None if scale is None else
        tuple(py_scalar(v) for v in scale),
        "n_missing_too_few_items": int(((n_valid < need) & (n_valid > 0)).sum()),
        "n_missing_no_items": int((n_valid == 0).sum()),
        "n_prorated": int(((n_valid >= need) & (n_valid < len(items))).sum()),
    }
    info["scores"] = scores
    out.attrs = {"commonfactors": info}
    return out


def wide_to_long(
    df: pd.DataFrame,
    *,
    measures: Mapping[str, str],
    client: str = "client",
    sessions: Mapping[str, int] | None = None,
    sep: str = "_",
) -> pd.DataFrame:
    """One row per client (``phq_0, phq_4, wai_4, ...``) -> one row per client and session.

    Parameters
    ----------
    df : DataFrame
        Wide export, one row per client. Not modified.
    measures : dict
        New column -> column-name stem, e.g. ``{"outcome": "phq", "alliance": "wai"}``: the
        columns ``phq{sep}<session>`` become ``outcome`` at that session.
    client : str, default "client"
        Client id column (must be unique: one row per client).
    sessions : dict, optional
        Suffix -> session number when the suffixes are not numbers, e.g. ``{"pre": 0, "mid": 4,
        "post": 8}``. Default: the suffixes are the session numbers.
    sep : str, default "_"
        Between stem and suffix.

    Returns
    -------
    DataFrame
        Columns ``client``, ``session`` (int), the measures, then every other column (constant
        per client: therapist, arm...), sorted by client and session. A session row is kept
        when at least one measure is present. ``attrs["commonfactors"]["wide_to_long"]``
        records the columns used per measure.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"client": ["a", "b"], "arm": ["CBT", "TAU"], "phq_0": [20, 18],
    ...                   "phq_8": [10, None], "wai_8": [5.5, 4.0]})
    >>> long = wide_to_long(w, measures={"outcome": "phq", "alliance": "wai"})
    >>> long[["client", "session", "outcome", "alliance"]].values.tolist()
    [['a', 0, 20.0, nan], ['a', 8, 10.0, 5.5], ['b', 0, 18.0, nan], ['b', 8, nan, 4.0]]
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"`df`: expecting a pandas DataFrame; got {type(df).__name__}.")
    if not isinstance(measures, Mapping) or not measures:
        raise ArgumentError(
            "`measures`: expecting a mapping {new column: stem}, e.g. {'outcome': 'phq', "
            f"'alliance': 'wai'}}; got {measures!r}.")
    if not isinstance(sep, str):
        raise ArgumentError(f"`sep`: expecting a string; got {sep!r}.")
    _columns_arg("client", client, df)
    dup = df[client].duplicated(keep=False)
    if dup.any():
        raise ColumnError(
            f"column {client!r}: expecting one row per client in a wide export; ids repeated: "
            f"{show_values(pd.unique(df.loc[dup, client]))}. The data may already be long: "
            "read them with cf.read_sessions.")
    if sessions is not None and not isinstance(sessions, Mapping):
        raise ArgumentError(f"`sessions`: expecting a mapping {{suffix: session}}; got {sessions!r}.")
    used: dict[str, dict[int, str]] = {}
    for new, stem in measures.items():
        if not isinstance(stem, str) or not stem:
            raise ArgumentError(f"`measures`: the stem of {new!r} must be a string; got {stem!r}.")
        pattern = re.compile(re.escape(stem + sep) + r"(.+)$")
        found: dict[int, str] = {}
        for col in df.columns:
            m = pattern.match(str(col))
            if not m:
                continue
            suffix = m.group(1)
            if sessions is not None:
                if suffix not in sessions:
                    raise ColumnError(
                        f"`sessions`: column {col!r} has suffix {suffix!r}, which `sessions` "
                        f"does not map; give it a session number, e.g. {{{suffix!r}: 0}}.")
                k = sessions[suffix]
            elif suffix.isdigit():
                k = int(suffix)
            else:
                raise ColumnError(
                    f"`measures`: column {col!r} has suffix {suffix!r}, not a session number; "
                    "map suffixes with sessions={'pre': 0, 'post': 8}.")
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
                raise ArgumentError(f"`sessions`: {suffix!r} must map to an integer >= 0; "
                                    f"got {k!r}.")
            found[int(k)] = str(col)
        if not found:
            raise ColumnError(
                f"`measures`: no column named {stem}{sep}<session> for {new!r}; columns: "
                f"{', '.join(map(str, list(df.columns)[:30]))}.")
        if new in df.columns and new not in found.values():
            raise ColumnError(f"`measures`: {new!r} is already a column; choose another name.")
        used[new] = found
    wide_cols = {c for f in used.values() for c in f.values()}
    keep = [c for c in df.columns if c not in wide_cols and c != client]
    all_sessions = sorted({k for f in used.values() for k in f})
    parts = []
    for k in all_sessions:
        part = pd.DataFrame({client: df[client].to_numpy(), "session": k})
        for new, found in used.items():
            part[new] = (pd.to_numeric(df[found[k]], errors="coerce").to_numpy(dtype=float)
                         if k in found and pd.api.types.is_numeric_dtype(df[found[k]].dtype)
                         else (df[found[k]].to_numpy() if k in found else np.nan))
        for c in keep:
            part[c] = df[c].to_numpy()
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    present = long[list(used)].notna().any(axis=1)
    long = long.loc[present]
    order = np.lexsort((long["session"].to_numpy(),
                        pd.factorize(long[client], sort=False)[0]))
    long = long.iloc[order].reset_index(drop=True)
    long["session"] = long["session"].astype("int64")
    long.attrs = {"commonfactors": {"wide_to_long": {
        new: {int(k): c for k, c in sorted(f.items())} for new, f in used.items()}}}
    return long
