"""Key checks every analysis makes on a session frame: one row per (client, session), each
client under one therapist.

:func:`check_keys` is called by :func:`commonfactors.decompose`, :func:`commonfactors.fit_mixed`
and :func:`commonfactors.lagged_effects` on frames that did not come through
:func:`commonfactors.read_sessions`, so that a duplicated row or a client entered under two
therapists stops the analysis with the rows named instead of changing the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataValidationError

_N_SHOWN = 5


def _show(values) -> str:
    values = list(values)
    out = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:_N_SHOWN])
    return out + (f", ... ({len(values)} in all)" if len(values) > _N_SHOWN else "")


def _shared_checks():
    """``(check_sessions, raise_on_errors)`` of the sessions checks module, if present."""
    try:
        from .checks import check_sessions, raise_on_errors
    except ImportError:
        return None
    return check_sessions, raise_on_errors


def check_keys(data: pd.DataFrame, *, client: str, therapist: str | None, session: str | None,
               where: str, outcome: str | None = None, columns=None) -> None:
    """Raise DataValidationError for duplicated (client, session) rows or a client under two
    therapists, naming the rows (index labels of ``data``) and what to do.

    With an outcome and a session column, and the package's ``check_sessions`` available, every
    error that ``check_sessions`` finds is raised at once (``raise_on_errors``), so an analysis
    refuses exactly what :func:`commonfactors.read_sessions` would.
    """
    if client not in data.columns:
        return
    shared = _shared_checks()
    if (shared is not None and session is not None and outcome is not None
            and all(c in data.columns for c in (client, session, outcome))):
        check_sessions, raise_on_errors = shared
        cols = [c for c in (columns or []) if c in data.columns and c != session]
        raise_on_errors(check_sessions(data, therapist=therapist, client=client, session=session,
                                       outcome=outcome, columns=cols), where=where)
        return
    if therapist is not None and therapist in data.columns:
        ids = data[[client, therapist]].dropna()
        n_ther = ids.groupby(client, sort=False)[therapist].nunique()
        crossed = n_ther[n_ther > 1]
        if len(crossed):
            parts = []
            for c in list(crossed.index)[:_N_SHOWN]:
                sub = ids.loc[ids[client] == c, therapist]
                per = sub.groupby(sub, sort=False).groups
                parts.append(f"client {c!r} under therapists " + ", ".join(
                    f"{t!r} (rows {_show(list(r))})" for t, r in per.items()))
            more = f"; {len(crossed)} clients in all" if len(crossed) > _N_SHOWN else ""
            raise DataValidationError(
                f"{where}: columns {client!r}/{therapist!r}: expecting each client to see one "
                f"therapist; found {'; '.join(parts)}{more}. If a client changed therapist or "
                "two clients share an id, give them distinct ids (e.g. therapist + '_' + client); "
                "if it is a data-entry error, correct the therapist of those rows. "
                "cf.check_sessions lists every such problem at once.")
    if session is not None and session in data.columns:
        dup = data.duplicated([client, session], keep=False)
        if dup.any():
            d = data.loc[dup, [client, session]]
            pairs = d.drop_duplicates()
            exact = data.loc[dup].duplicated(keep=False).all()
            parts = []
            for c, s in pairs.head(_N_SHOWN).itertuples(index=False):
                rows = d.index[(d[client] == c) & (d[session] == s)]
                parts.append(f"client {c!r} session {s!r} (rows {_show(list(rows))})")
            more = f"; {len(pairs)} pairs in all" if len(pairs) > _N_SHOWN else ""
            what = ("the repeated rows are exact copies: remove them (cf.clean_sessions does) "
                    if exact else
                    "the repeated rows differ: decide which one is right and drop the others, "
                    "or average them yourself ")
            raise DataValidationError(
                f"{where}: columns {client!r}/{session!r}: expecting one row per client and "
                f"session; found {len(pairs)} repeated pair(s): {'; '.join(parts)}{more}; "
                f"{what}before the analysis.")
