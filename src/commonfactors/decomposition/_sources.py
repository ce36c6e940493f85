"""Session rows that never sit in one process's memory: a Dask DataFrame or a Parquet dataset.

Each partition is checked and reduced to per-client statistics where it lives
(:mod:`._moments`); only those (one row per client) travel to the caller, where the parts of a
client spread over several partitions are added and the fits run (:mod:`._growth` for the
growth view; the change frame for the change view). With a ``dask.distributed`` client active,
the partitions are read and reduced on its workers; otherwise Dask's default scheduler runs
them here. The result equals the in-memory decomposition of the same rows to rounding.

Checks that need more than one partition are made on the combined statistics: a client under
two therapists (hashes of the therapist ids per client), a (client, session) pair in two
partitions (hashes of the pairs), a factor column missing everywhere, a constant outcome.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .._validation import check_columns
from ..errors import ColumnError, DataValidationError
from ..sessions import check_keys
from . import _inputs as AI
from ._change import build_change
from ._finish import cross_products_kept, finish, used_notes
from ._moments import change_frame, change_part, chunks, combine, growth_part
from ._references import LazyFit

PART_CHUNK_ROWS = 250_000  # rows of a partition reduced at a time

_N_SHOWN = 5


def is_dask_frame(obj) -> bool:
    """True for a ``dask.dataframe`` DataFrame (without importing Dask for other inputs)."""
    return type(obj).__module__.split(".")[0] == "dask" and hasattr(obj, "npartitions")


def open_parquet(path) -> object:
    """A Dask DataFrame over a Parquet file or a directory of Parquet files."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise ColumnError(
            f"`data_or_fit`: {p!r} is neither a DataFrame nor an existing Parquet file or "
            "directory; pass session rows as a pandas or Dask DataFrame, or the path of a "
            "Parquet dataset.")
    try:
        import dask.dataframe as dd
    except ImportError as e:  # pragma: no cover - dask is a declared extra
        raise ImportError("reading a Parquet dataset partition by partition needs Dask: "
                          "pip install 'commonfactors[dask]'") from e
    return dd.read_parquet(p)


@dataclass
class PartResult:
    """What one partition sends back: client statistics, key hashes and column tallies."""

    parts: object
    n_used: int
    pair_hash: np.ndarray  # hash of (client, session) of every row with both present
    n_rows: int
    missing: dict
    observed: dict  # numeric factor column -> observed values
    n_outcome: int
    col_range: dict  # numeric column -> (min, max) of observed values
    sessions: np.ndarray
    per_client_observed: pd.Series


def _reduce_partition(part: pd.DataFrame, *, ren: dict, factors: dict, view: str,
                      categorical: dict, numeric: list) -> PartResult:
    """Check one partition and reduce it to per-client statistics."""
    part = part.rename(columns=ren) if ren else part
    AI.check_values(part, factors, "session", part=True)
    has_t = "therapist" in part.columns
    check_keys(part, client="client", therapist="therapist" if has_t else None,
               session="session", where="decompose", outcome="outcome",
               columns=[c for cs in factors.values() for c in cs])
    missing = {str(c): int(n) for c, n in part.isna().sum().items()}
    y = part["outcome"]
    rng = {c: (float(part[c].min()), float(part[c].max())) for c in numeric + ["outcome"]
           if part[c].notna().any()}
    observed = {c: int(part[c].notna().sum()) for c in numeric}
    per_client = y.notna().groupby(part["client"]).sum()
    both = part["client"].notna() & part["session"].notna()
    pairs = part.loc[both, ["client", "session"]]
    pair_hash = pd.util.hash_pandas_object(pairs, index=False).to_numpy()
    sessions = pd.unique(part["session"].dropna())
    if categorical:
        part = AI.apply_categoricals(part, categorical)
    fac = coded_factors(factors, categorical)
    keys = [c for c in ("therapist", "client", "session") if c in part.columns]
    if view == "growth":
        from ._growth import growth_raw_columns

        raw = growth_raw_columns(fac, part.columns)
        pieces = [growth_part(ch, raw, keys) for ch in chunks(part, PART_CHUNK_ROWS)]
    else:
        preds = sorted({c for cs in fac.values() for c in cs if c != "session"})
        pieces = [change_part(ch, preds, keys) for ch in chunks(part, PART_CHUNK_ROWS)]
    # a partition is read in chunks too, so a worker's memory does not grow with its size
    parts, n_used = combine([p for p, _ in pieces]), sum(n for _, n in pieces)
    return PartResult(parts, n_used, pair_hash, len(part), missing, observed, int(y.notna().sum()),
                      rng, np.asarray(sessions), per_client)


def coded_factors(factors: dict, categorical: dict) -> dict:
    """The factor mapping with each categorical column replaced by its dummy columns."""
    return {g: [d for c in cs for d in (categorical[c]["dummies"] if c in categorical else [c])]
            for g, cs in factors.items()}


def _cross_checks(results: list[PartResult], combined) -> None:
    """Problems only visible across partitions: a client under two therapists, a repeated
    (client, session) pair."""
    if combined.ther_lo is not None:
        crossed = np.flatnonzero(combined.ther_lo != combined.ther_hi)
        if len(crossed):
            shown = ", ".join(repr(v) for v in combined.ids[crossed][:_N_SHOWN])
            raise DataValidationError(
                f"decompose: columns 'client'/'therapist': expecting each client to see one "
                f"therapist; {len(crossed)} client(s) appear under more than one therapist "
                f"across the partitions (clients {shown}). If a client changed therapist or two "
                "clients share an id, give them distinct ids (e.g. therapist + '_' + client); "
                "otherwise correct the therapist of those rows.")
    h = np.concatenate([r.pair_hash for r in results]) if results else np.zeros(0, np.uint64)
    u, cnt = np.unique(h, return_counts=True)
    if (cnt > 1).any():
        raise DataValidationError(
            f"decompose: columns 'client'/'session': expecting one row per client and session; "
            f"{int((cnt > 1).sum())} (client, session) pair(s) occur in more than one partition. "
            "Remove the repeated rows (cf.clean_sessions removes exact copies) before the "
            "analysis.")


def _summary(results: list[PartResult], combined) -> dict:
    missing: dict = {}
    for r in results:
        for c, n in r.missing.items():
            missing[c] = missing.get(c, 0) + n
    sessions = np.unique(np.concatenate([r.sessions.astype(float) for r in results]))
    per = pd.concat([r.per_client_observed for r in results]).groupby(level=0).sum()

    def mmm(s):
        return {"min": int(s.min()), "median": float(s.median()), "max": int(s.max())}

    cpt = None
    n_ther = None
    if combined.therapist is not None:
        counts = pd.Series(combined.therapist).value_counts()
        cpt, n_ther = mmm(counts), int(len(counts))
    return {"n_therapists": n_ther, "n_clients": int(len(per)), "n_sessions": int(len(sessions)),
            "n_rows": int(sum(r.n_rows for r in results)),
            "n_observed": int(sum(r.n_outcome for r in results)),
            "session_min": float(sessions.min()) if len(sessions) else None,
            "session_max": float(sessions.max()) if len(sessions) else None,
            "clients_per_therapist": cpt, "sessions_per_client": mmm(per) if len(per) else None,
            "missing": missing}


def reduce_source(ddf, factors: dict, *, view: str, client: str, therapist, session: str,
                  references, outside):
    """Check and reduce a Dask DataFrame partition by partition.

    Returns ``(combined client statistics, factors as coded, categorical info, numeric
    references, notes, data summary, rows, rows used)``.
    """
    import dask

    meta = ddf._meta if hasattr(ddf, "_meta") else ddf.head(0)
    if therapist is not None and therapist not in meta.columns and therapist != "therapist":
        check_columns(meta, [therapist], param="therapist")
    cols = [c for cs in factors.values() for c in cs]
    need = ["outcome", client] + cols + [session]
    check_columns(meta, list(dict.fromkeys(need)), param="data")
    roles, factors = AI.to_roles(meta, factors, client, therapist, session)
    ren = {a: b for a, b in zip(meta.columns, roles.columns, strict=False) if a != b}
    drop_t = therapist is None and "therapist" in meta.columns
    ddf = ddf.drop(columns=["therapist"]) if drop_t else ddf
    cols = [c for cs in factors.values() for c in cs]
    cat_cols = [c for c in dict.fromkeys(cols) if c != "session" and AI.is_categorical(roles, c)]
    numeric = [c for c in dict.fromkeys(cols) if c not in cat_cols]
    categorical: dict = {}
    if cat_cols:  # levels over all partitions, then the same coding in each
        src = [ren_inv(ren).get(c, c) for c in cat_cols]
        levels = dask.compute(*[ddf[c].dropna().unique() for c in src])
        sample = pd.concat([pd.Series(np.asarray(v), name=c).reset_index(drop=True)
                            for c, v in zip(cat_cols, levels, strict=True)], axis=1)
        _, _, categorical = AI.code_categoricals(sample, {g: [c for c in cs if c in cat_cols]
                                                          for g, cs in factors.items()},
                                                 references, outside, protected=("session",))
    tasks = [dask.delayed(_reduce_partition)(p, ren=ren, factors=factors, view=view,
                                             categorical=categorical, numeric=numeric)
             for p in ddf.to_delayed()]
    results = _gather(tasks)
    combined = combine([r.parts for r in results])
    _cross_checks(results, combined)
    observed = {c: sum(r.observed.get(c, 0) for r in results) for c in numeric}
    n_outcome = sum(r.n_outcome for r in results)
    lo = min((r.col_range["outcome"][0] for r in results if "outcome" in r.col_range),
             default=np.nan)
    hi = max((r.col_range["outcome"][1] for r in results if "outcome" in r.col_range),
             default=np.nan)
    AI.check_totals(observed, n_outcome, (lo, hi))
    ranges = pd.DataFrame({c: [min(r.col_range[c][0] for r in results if c in r.col_range),
                               max(r.col_range[c][1] for r in results if c in r.col_range)]
                           for c in numeric if any(c in r.col_range for r in results)})
    num_refs = AI.check_references(references, factors, outside, ranges, set(cat_cols),
                                   session="session")
    summary = _summary(results, combined)
    return (combined, coded_factors(factors, categorical), categorical, num_refs, summary,
            sum(r.n_rows for r in results), sum(r.n_used for r in results))


def _gather(tasks) -> list:
    """Results of the partition tasks. On a ``dask.distributed`` cluster each result is fetched
    as soon as it is ready and released on its worker, so that a worker holds one partition's
    statistics at a time, not all of them until the last partition is done."""
    import dask

    try:
        from distributed import as_completed, default_client

        client = default_client()
    except (ImportError, ValueError):
        return list(dask.compute(*tasks))
    futures = client.compute(tasks)
    order = {f.key: i for i, f in enumerate(futures)}
    out: list = [None] * len(futures)
    for fut in as_completed(futures):
        out[order[fut.key]] = fut.result()
        fut.release()
    return out


def ren_inv(ren: dict) -> dict:
    return {b: a for a, b in ren.items()}


def decompose_source(ddf, factors, *, view, client, therapist, session, references, outside,
                     reml, args):
    """:func:`commonfactors.decompose` of a Dask DataFrame (see the module docstring)."""
    combined, factors, categorical, num_refs, summary, n_rows, n_used = reduce_source(
        ddf, factors, view=view, client=client, therapist=therapist, session=session,
        references=references, outside=outside)
    keys = [c for c in ("therapist", "client", "session")
            if c == "client" or c == "session" or combined.therapist is not None]
    cols = [c for cs in factors.values() for c in cs]
    used = list(dict.fromkeys(keys + ["outcome"] + cols)) if view == "growth" else keys
    notes = used_notes(n_rows, n_used, used, categorical)
    fit = None
    if view == "growth":
        from ._growth import ClientTable, build_growth, growth_raw_columns

        table = ClientTable.from_parts(combined, growth_raw_columns(factors, ["session"]))
        problem, built = build_growth(table, factors, references=num_refs, outside=outside,
                                      categorical=categorical, reml=reml, notes=[],
                                      keep=cross_products_kept(args))
        notes.append("the full model's MixedFit (`.fit`) is not built from rows read partition "
                     "by partition; cf.fit_mixed gives it for rows in memory")
    else:
        preds = sorted({c for cs in factors.values() for c in cs if c != "session"})
        frame, cnotes = change_frame(combined, preds)
        has_t = "therapist" in frame.columns
        problem, built = build_change(frame, factors, "change", num_refs, "client",
                                "therapist" if has_t else None, "session", reml, outside,
                                categorical)
        built = replace(built, notes=tuple(cnotes) + built.notes)
        if built.rand:
            fit = LazyFit(built.formula, reml, fit_frame=built.fit_frame)
    built = replace(built, notes=tuple(notes) + built.notes, data_summary=summary)
    return finish(problem, built, view, *args, fit)
