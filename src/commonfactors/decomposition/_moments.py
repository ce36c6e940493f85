"""Per-client sufficient statistics of session rows, computed chunk by chunk and combined.

Everything the decomposition needs from the session rows is a sum over the rows of each client:
row counts, column sums and cross-products of the raw columns (the level-pure parts, their
interaction with time and the outcome are linear in a row's raw values with coefficients that
are constant within a client), the smallest and largest value of each column (to tell a column
that never varies within a client), and the rows at the client's first and last session (the
improvement contrasts). So a frame is read in chunks, or a Dask DataFrame partition by
partition, each chunk gives the statistics of the clients it holds (:func:`growth_part`,
:func:`change_part`), and :func:`combine` adds the parts of a client spread over several chunks.
Nothing row-sized is kept; the result has one row per client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# how the fields of a part combine when a client's rows are spread over several parts
_ADD, _MIN, _MAX, _FIRST, _LAST = "add", "min", "max", "first", "last"


@dataclass
class ClientParts:
    """Statistics of the clients of one chunk (or of all chunks, after :func:`combine`).

    ``ids``: client ids (one per client); ``therapist``: the therapist id of each client (or
    None without a therapist column); ``ther_lo`` / ``ther_hi``: the smallest and largest hash of
    the therapist ids of a client's rows (unequal: the client appears under two therapists);
    ``fields``: name -> (array with one row per client, how it combines). ``first`` / ``last``
    fields follow ``first_session`` / ``last_session``.
    """

    ids: np.ndarray
    therapist: np.ndarray | None
    ther_lo: np.ndarray | None
    ther_hi: np.ndarray | None
    fields: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name][0]

    @property
    def n_clients(self) -> int:
        return int(len(self.ids))


def _hash(values) -> np.ndarray:
    return pd.util.hash_pandas_object(pd.Series(values), index=False).to_numpy()


def _segments(codes: np.ndarray, sort_key: np.ndarray):
    """Row order by (client code, sort_key), segment starts and ends (last row) per client."""
    order = np.lexsort((sort_key, codes))
    c = codes[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if len(c) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(c)] - 1 if len(c) else np.zeros(0, int)
    return order, starts, ends


def _client_codes(chunk: pd.DataFrame, rows: np.ndarray):
    """Client codes of ``rows`` and the labels they index (factorized on the column itself:
    turning a text column into Python objects row by row is what costs time and memory)."""
    codes, uniq = pd.factorize(chunk["client"])
    return codes[rows], np.asarray(uniq)


def _ids_part(chunk: pd.DataFrame, rows: np.ndarray, codes, labels, order, starts, has_t: bool):
    ids = labels[codes[order][starts]]
    if not has_t:
        return ids, None, None, None
    tcodes, tuniq = pd.factorize(chunk["therapist"])
    t = tcodes[rows][order]
    h = _hash(np.asarray(tuniq))[t]  # hashes of the distinct ids only
    lo = np.minimum.reduceat(h, starts) if len(starts) else h[:0]
    hi = np.maximum.reduceat(h, starts) if len(starts) else h[:0]
    return ids, np.asarray(tuniq)[t[starts]], lo, hi


def growth_part(chunk: pd.DataFrame, raw: list[str], keys: list[str]) -> tuple[ClientParts, int]:
    """Growth-view statistics of the clients of ``chunk``, over its complete rows.

    ``raw``: the raw columns, ``session`` first and ``outcome`` last; a row enters when every
    key column (``keys``) and every raw column is present. Returns the parts and the number of
    complete rows. Fields: ``n`` (rows), ``sum`` (clients, r), ``cross`` (clients, r, r) of the
    raw columns, ``min`` / ``max`` (clients, r), ``first`` / ``last`` (clients, r): the raw values
    at the client's first and last session, with ``first_session`` / ``last_session``.
    """
    cols = list(dict.fromkeys(keys + raw))
    ok = chunk[cols].notna().all(axis=1).to_numpy()
    rows = np.flatnonzero(ok)
    A = chunk[raw].to_numpy(dtype=float)[rows]
    codes, labels = _client_codes(chunk, rows)
    order, starts, ends = _segments(codes, A[:, 0])
    A = A[order]
    has_t = "therapist" in chunk.columns
    ids, ther, lo, hi = _ids_part(chunk, rows, codes, labels, order, starts, has_t)
    r = A.shape[1]
    m = len(starts)
    n = np.diff(np.r_[starts, len(A)]).astype(float)
    red = np.add.reduceat
    cross = np.empty((m, r, r))
    if m:
        for a in range(r):
            for b in range(a, r):
                cross[:, a, b] = cross[:, b, a] = red(A[:, a] * A[:, b], starts)
        s = red(A, starts, axis=0)
        mn = np.minimum.reduceat(A, starts, axis=0)
        mx = np.maximum.reduceat(A, starts, axis=0)
    else:
        s = mn = mx = np.zeros((0, r))
    f = {"n": (n, _ADD), "sum": (s, _ADD), "cross": (cross, _ADD), "min": (mn, _MIN),
         "max": (mx, _MAX), "first_session": (A[starts, 0], _MIN), "first": (A[starts], _FIRST),
         "last_session": (A[ends, 0], _MAX), "last": (A[ends], _LAST)}
    return ClientParts(ids, ther, lo, hi, f), int(len(rows))


def change_part(chunk: pd.DataFrame, predictors: list[str], keys: list[str]) -> tuple[ClientParts, int]:
    """Change-view statistics of the clients of ``chunk`` (rows with every key column present).

    Fields: ``n_obs`` (rows with an observed outcome), ``first_session`` / ``pre`` and
    ``last_session`` / ``post`` (session and outcome of the first and last observed session),
    and per predictor ``psum`` / ``pcount`` (clients, predictors): sum and count of its observed
    values over the rows with an observed outcome (as :func:`commonfactors.change_view`).
    Also returns the number of rows with every key column present.
    """
    ok = chunk[keys].notna().all(axis=1).to_numpy()
    rows = np.flatnonzero(ok)
    y = chunk["outcome"].to_numpy(dtype=float)[rows]
    s = chunk["session"].to_numpy(dtype=float)[rows]
    observed = ~np.isnan(y)
    codes, labels = _client_codes(chunk, rows)
    # observed rows first within a client, then by session: the first observed session leads
    order, starts, ends = _segments(codes, np.where(observed, s, np.inf))
    has_t = "therapist" in chunk.columns
    ids, ther, lo, hi = _ids_part(chunk, rows, codes, labels, order, starts, has_t)
    obs = observed[order]
    m = len(starts)
    red = np.add.reduceat
    n_obs = red(obs.astype(float), starts) if m else np.zeros(0)
    ys, ss = y[order], s[order]
    pre = np.where(obs[starts], ys[starts], np.nan) if m else np.zeros(0)
    first_s = np.where(obs[starts], ss[starts], np.inf) if m else np.zeros(0)
    # the last observed row: the observed rows of a client come first, so it sits at
    # start + n_obs - 1
    last_i = starts + np.maximum(n_obs.astype(int) - 1, 0)
    post = np.where(n_obs > 0, ys[last_i], np.nan) if m else np.zeros(0)
    last_s = np.where(n_obs > 0, ss[last_i], -np.inf) if m else np.zeros(0)
    P = chunk[predictors].to_numpy(dtype=float)[rows][order] if predictors else np.zeros((len(rows), 0))
    P = np.where(obs[:, None], P, np.nan)
    seen = ~np.isnan(P)
    psum = red(np.where(seen, P, 0.0), starts, axis=0) if m else np.zeros((0, len(predictors)))
    pcount = red(seen.astype(float), starts, axis=0) if m else np.zeros((0, len(predictors)))
    f = {"n_obs": (n_obs, _ADD), "first_session": (first_s, _MIN), "pre": (pre, _FIRST),
         "last_session": (last_s, _MAX), "post": (post, _LAST), "psum": (psum, _ADD),
         "pcount": (pcount, _ADD)}
    return ClientParts(ids, ther, lo, hi, f), int(len(rows))


def combine(parts: list[ClientParts]) -> ClientParts:
    """One :class:`ClientParts` for every client, adding the parts of clients spread over chunks.

    Clients keep the order of their first appearance. Sums add, minima and maxima combine, and
    the ``first`` / ``last`` values come from the part with the earliest / latest session.
    """
    parts = [p for p in parts if p.n_clients] or parts[:1]
    if len(parts) == 1:
        return parts[0]
    all_ids = np.concatenate([p.ids for p in parts])
    codes, uniq = pd.factorize(all_ids)
    m = len(uniq)
    bounds = np.cumsum([0] + [p.n_clients for p in parts])
    first = parts[0]
    has_t = first.therapist is not None
    out: dict = {}
    for name, (arr, how) in first.fields.items():
        if how == _ADD:
            init = np.zeros((m,) + arr.shape[1:])
        elif how in (_MIN,):
            init = np.full((m,) + arr.shape[1:], np.inf)
        elif how in (_MAX,):
            init = np.full((m,) + arr.shape[1:], -np.inf)
        else:
            init = np.full((m,) + arr.shape[1:], np.nan)
        out[name] = [init, how]
    ther = np.empty(m, dtype=object) if has_t else None
    lo = np.full(m, np.iinfo(np.uint64).max, dtype=np.uint64) if has_t else None
    hi = np.zeros(m, dtype=np.uint64) if has_t else None
    for j, p in enumerate(parts):
        idx = codes[bounds[j]:bounds[j + 1]]  # unique within a part
        # which first / last values this part improves, before the sessions are updated
        better_first = p["first_session"] < out["first_session"][0][idx]
        better_last = p["last_session"] > out["last_session"][0][idx]
        for name, (arr, how) in p.fields.items():
            acc = out[name][0]
            if how == _ADD:
                acc[idx] += arr
            elif how == _MIN:
                acc[idx] = np.minimum(acc[idx], arr)
            elif how == _MAX:
                acc[idx] = np.maximum(acc[idx], arr)
            elif how == _FIRST:
                acc[idx[better_first]] = arr[better_first]
            else:
                acc[idx[better_last]] = arr[better_last]
        if ther is not None and lo is not None and hi is not None:
            ther[idx] = p.therapist
            lo[idx] = np.minimum(lo[idx], np.asarray(p.ther_lo))
            hi[idx] = np.maximum(hi[idx], np.asarray(p.ther_hi))
    return ClientParts(np.asarray(uniq), ther, lo, hi,
                       {k: (v[0], v[1]) for k, v in out.items()})


def change_frame(combined, preds: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The change frame (as :func:`commonfactors.change_view`) from per-client statistics."""
    n_obs = combined["n_obs"].astype("int64")
    out = pd.DataFrame({"client": combined.ids})
    if combined.therapist is not None:
        out.insert(0, "therapist", combined.therapist)
    out["pre"], out["post"] = combined["pre"], combined["post"]
    out["improvement"] = out["pre"] - out["post"]
    out["n_sessions"] = n_obs
    out["first_session"] = np.where(n_obs > 0, combined["first_session"], np.nan)
    out["last_session"] = np.where(n_obs > 0, combined["last_session"], np.nan)
    out["window"] = out["last_session"] - out["first_session"]
    psum, pcount = combined["psum"], combined["pcount"]
    with np.errstate(invalid="ignore", divide="ignore"):
        for i, c in enumerate(preds):
            out[c] = np.where(pcount[:, i] > 0, psum[:, i] / np.maximum(pcount[:, i], 1), np.nan)
    keep = n_obs >= 2
    notes = []
    n_drop = int((~keep).sum())
    if n_drop:
        notes.append(f"change_view: dropped {n_drop} of {len(out)} clients with fewer than 2 "
                     "observed sessions; see attrs['commonfactors'].")
    out = out.loc[keep]
    keys = [c for c in ("therapist", "client") if c in out.columns]
    out = out.sort_values(keys, kind="mergesort").reset_index(drop=True)
    return out, notes


def sorted_codes(values) -> np.ndarray:
    """Codes of ``values`` in sorted order of the labels (as text when they do not compare)."""
    try:
        return pd.factorize(np.asarray(values), sort=True)[0]
    except TypeError:
        return pd.factorize(np.asarray(values).astype(str), sort=True)[0]


def canonical_order(ids, therapist=None) -> np.ndarray:
    """Positions of clients sorted by therapist, then client label: one order whatever the order
    of the rows or partitions they came from (so that results agree to rounding)."""
    keys = [sorted_codes(ids)]
    if therapist is not None:
        keys.append(sorted_codes(therapist))
    return np.lexsort(keys)


def chunks(frame: pd.DataFrame, rows: int):
    """Consecutive row blocks of ``frame`` (views, not copies)."""
    for start in range(0, len(frame), rows):
        yield frame.iloc[start:start + rows]
