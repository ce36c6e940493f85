"""Fixing a session frame: :func:`clean_sessions` applies the only fix that needs no judgement
(removing exact duplicate rows) and the decisions you state, and says what it did."""

from __future__ import annotations

import warnings

import pandas as pd

from ..errors import ArgumentError
from .checks import _arg_name, _plain, _show, check_sessions

__all__ = ["clean_sessions"]


def clean_sessions(
    df: pd.DataFrame,
    *,
    therapist: str | None = "therapist",
    client: str = "client",
    session: str = "session",
    outcome: str = "outcome",
    several_therapists: str | None = None,
) -> pd.DataFrame:
    """Fix only what needs no judgement, and say what was done.

    Removes exact duplicate rows (every column equal; the first is kept). Everything else that
    :func:`check_sessions` reports (conflicting duplicates, a client under several therapists,
    missing-value codes...) needs a decision from someone who knows the data and is left as is,
    unless you state the decision with ``several_therapists``.

    Parameters
    ----------
    df : DataFrame
        Long session frame. Not modified.
    therapist, client, session, outcome : str
        Column names, as in :func:`check_sessions`.
    several_therapists : {None, "majority", "drop"}, default None
        Your decision for a client found under several therapists: None leaves the rows alone;
        "majority" treats the minority rows as data-entry errors and gives them the therapist
        with most of the client's rows (a tie is left alone and reported); "drop" removes the
        client. Each change is listed in ``cleaning``.

    Returns
    -------
    DataFrame
        A new frame (index kept, so rows can be traced back). ``attrs["commonfactors"]`` keeps
        what was there and adds ``cleaning``: a list of ``{"action", "n", "rows"}``, and
        ``remaining``: the number of errors :func:`check_sessions` still finds. A warning says
        what was removed.

    Examples
    --------
    >>> import pandas as pd, warnings
    >>> df = pd.DataFrame({"client": ["a", "a", "a"], "session": [0, 1, 1],
    ...                    "outcome": [10.0, 8.0, 8.0]})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     out = clean_sessions(df)
    >>> len(out), out.attrs["commonfactors"]["cleaning"][0]["rows"]
    (2, [2])
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"`df`: expecting a pandas DataFrame; got {type(df).__name__}.")
    kw = dict(therapist=therapist, client=client, session=session, outcome=outcome)
    for name in ("client", "session", "outcome"):
        _arg_name(name, kw[name])
    _arg_name("therapist", therapist, optional=True)
    try:
        dup = df.duplicated(keep="first")
    except TypeError:  # unhashable cells (lists): compare their text
        dup = df.astype(str).duplicated(keep="first")
    if several_therapists not in (None, "majority", "drop"):
        raise ArgumentError("`several_therapists`: expecting None, 'majority' or 'drop'; got "
                            f"{several_therapists!r}.")
    out = df.loc[~dup].copy()
    actions = []
    if dup.any():
        rows = [_plain(v) for v in df.index[dup]]
        actions.append({"action": "removed exact duplicate rows (first of each kept)",
                        "n": int(dup.sum()), "rows": rows})
    if several_therapists is not None and therapist is not None and therapist in out.columns \
            and client in out.columns:
        ids = out[[client, therapist]].dropna()
        n_ther = ids.groupby(client, sort=False)[therapist].nunique()
        for cl in list(n_ther[n_ther > 1].index):
            sub = ids.loc[ids[client] == cl, therapist]
            counts = sub.value_counts()
            if several_therapists == "drop":
                rows = list(out.index[out[client] == cl])
                out = out.drop(index=rows)
                actions.append({"action": f"dropped client {_plain(cl)!r} (under therapists "
                                          f"{_show(list(counts.index))}; your decision)",
                                "n": len(rows), "rows": [_plain(v) for v in rows]})
            elif counts.iloc[0] > counts.iloc[1]:
                main_t = counts.index[0]
                rows = list(sub.index[sub != main_t])
                out.loc[rows, therapist] = main_t
                actions.append({"action": f"client {_plain(cl)!r}: rows under "
                                          f"{_show([t for t in counts.index if t != main_t])} "
                                          f"given to therapist {_plain(main_t)!r}, who has "
                                          f"{int(counts.iloc[0])} of its {int(counts.sum())} "
                                          "rows (your decision: data-entry error)",
                                "n": len(rows), "rows": [_plain(v) for v in rows]})
    remaining = check_sessions(out, **kw)
    n_err = int((remaining["severity"] == "error").sum())
    info = dict(df.attrs.get("commonfactors", {})) if isinstance(df.attrs, dict) else {}
    info["cleaning"] = actions
    info["remaining"] = n_err
    out.attrs = {"commonfactors": info}
    msg = ("clean_sessions: " + "; ".join(f"{a['action']}: {a['n']} (rows {_show(a['rows'])})"
                                           for a in actions)
           if actions else "clean_sessions: nothing to fix without a decision")
    if n_err:
        msg += (f"; {n_err} problem(s) need your decision (cf.check_sessions lists them).")
    warnings.warn(msg.rstrip(".") + ".", UserWarning, stacklevel=2)
    return out
