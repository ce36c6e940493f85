"""Trajectory, sensitivity and study-planning figures; public through :mod:`commonfactors.plots`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from .._validation import check_columns, check_int, check_number
from .style import (
    _CLAIM_COLOR,
    _NEUTRAL,
    FACTOR_COLORS,
    _column_words,
    _get_ax,
    _hue_colors,
    _numeric,
    _order_unique,
    factor_color,
    factor_label,
)

__all__ = ["plot_trajectories", "plot_sensitivity", "plot_precision"]


def _levels(values: pd.Series) -> list:
    levels = _order_unique(values.dropna())
    try:
        return sorted(levels)
    except TypeError:
        return levels


def plot_trajectories(
    data: pd.DataFrame,
    *,
    outcome: str = "outcome",
    session: str = "session",
    client: str = "client",
    hue: str | None = None,
    n_clients: int = 30,
    seed=0,
    ax: Axes | None = None,
) -> Axes:
    """Draw the outcome over sessions for a random sample of clients, with the mean trajectory.

    Parameters
    ----------
    data : DataFrame
        Long session data, one row per session.
    outcome, session, client : str
        Column names of the outcome, the session index and the client id.
    hue : str, optional
        A column that colours the clients (e.g. treatment arm); one mean line per level. A
        client whose value changes over sessions takes the colour of its first row.
    n_clients : int, default 30
        How many clients to draw (all of them if fewer).
    seed : int or numpy Generator, default 0
        Seed of ``numpy.random.default_rng`` for the sample of clients.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made if omitted.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    The mean trajectory is the mean outcome at each session over *all* clients observed at that
    session, not just the sampled ones; with dropout it is the mean of those still present,
    which differs from the model-based mean when dropout depends on the outcome. Rows with a
    missing outcome or session are left out. Artists: one line per sampled client with ``gid``
    ``"client:<id>"`` and the mean line(s) with ``gid`` ``"mean"`` (``"mean:<level>"`` with
    ``hue``).

    Examples
    --------
    >>> import pandas as pd
    >>> from commonfactors.plots import plot_trajectories
    >>> data = pd.DataFrame({"client": [1, 1, 2, 2], "session": [0, 1, 0, 1],
    ...                      "outcome": [20.0, 15.0, 18.0, 16.0]})
    >>> ax = plot_trajectories(data)
    >>> ax.lines[-1].get_ydata().tolist()
    [19.0, 15.5]
    """
    check_columns(data, [outcome, session, client] + ([hue] if hue is not None else []),
                  param="data")
    n_clients = check_int("n_clients", n_clients, minimum=0)
    frame = pd.DataFrame({
        "client": data[client].to_numpy(),
        "session": _numeric(data, session, param="data"),
        "outcome": _numeric(data, outcome, param="data"),
    })
    if hue is not None:
        frame["hue"] = data[hue].to_numpy()
    frame = frame[np.isfinite(frame["session"]) & np.isfinite(frame["outcome"])
                  & frame["client"].notna()]

    ids = _order_unique(frame["client"])
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(ids), size=min(n_clients, len(ids)), replace=False))
    chosen = [ids[i] for i in take]
    levels = _levels(frame["hue"]) if hue is not None else []
    colors = _hue_colors(levels) if hue is not None else {}

    ax = _get_ax(ax)
    sample = frame[frame["client"].isin(chosen)]
    by_client = dict(tuple(sample.groupby("client", sort=False)))
    for cid in chosen:
        sub = by_client[cid].sort_values("session", kind="stable")
        color = "#9A9A9A" if hue is None else colors.get(sub["hue"].iloc[0], "#9A9A9A")
        ax.plot(sub["session"], sub["outcome"], color=color, lw=0.8, alpha=0.45,
                gid=f"client:{cid}")
    groups = [(None, frame)] if hue is None else [(lv, frame[frame["hue"] == lv]) for lv in levels]
    for lv, sub in groups:
        mean = sub.groupby("session")["outcome"].mean().sort_index()
        if lv is None:
            ax.plot(mean.index, mean.to_numpy(), color="black", lw=2.8, gid="mean", label="mean")
        else:
            text = factor_label(lv) if str(lv) in FACTOR_COLORS else str(lv)
            ax.plot(mean.index, mean.to_numpy(), color=colors[lv], lw=2.8, gid=f"mean:{lv}",
                    label=f"mean, {text}")
    ax.set_xlabel(_column_words(session))
    ax.set_ylabel(_column_words(outcome))
    ax.set_title(f"{len(chosen)} of {len(ids)} clients (random sample) and the mean")
    if hue is not None and levels:
        ax.legend(title=_column_words(hue), fontsize=8, frameon=False)
    return ax


def plot_sensitivity(
    table: pd.DataFrame,
    *,
    x: str = "reference",
    y: str = "share",
    ax: Axes | None = None,
    claimed: float | None = None,
) -> Axes:
    """Draw a share of mean improvement against the reference level that defines "absent".

    Parameters
    ----------
    table : DataFrame
        One row per reference level (and factor, if a ``factor`` column is present) with the
        share in column ``y``; optional ``ci_low`` and ``ci_high`` columns draw a band.
    x : str, default "reference"
        The reference-level column: numbers are placed on a numeric axis, anything else as
        ordered categories (in table order).
    y : str, default "share"
        The share column (a fraction; shown in percent).
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made if omitted.
    claimed : float, optional
        A claimed share (e.g. 0.8) drawn as a dotted horizontal line.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    The counterfactual share of mean improvement ``C_g / M`` (docs/methods.md section 5) depends on
    the value that stands for "factor absent": a relationship share near 80% needs a reference
    level far below what any client experiences. Showing the share along the reference level
    makes that dependence part of the answer. Artists: one line per factor with ``gid``
    ``"share:<factor>"`` (``"share"`` without a factor column), bands with ``gid``
    ``"band:<factor>"`` and the claimed line with ``gid`` ``"claimed"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from commonfactors.plots import plot_sensitivity
    >>> table = pd.DataFrame({"reference": [1.0, 2.0, 3.0], "share": [0.8, 0.5, 0.2]})
    >>> ax = plot_sensitivity(table, claimed=0.8)
    >>> ax.lines[0].get_ydata().tolist()
    [0.8, 0.5, 0.2]
    """
    check_columns(table, [x, y], param="table")
    yv = _numeric(table, y, param="table")
    if pd.api.types.is_numeric_dtype(table[x]) and not pd.api.types.is_bool_dtype(table[x]):
        xv = _numeric(table, x, param="table")
        categories = None
    else:
        labels = table[x].astype(str)
        categories = _order_unique(labels)
        xv = labels.map({c: float(i) for i, c in enumerate(categories)}).to_numpy(dtype=float)
    band = {"ci_low", "ci_high"} <= set(table.columns)
    lo = _numeric(table, "ci_low", param="table") if band else None
    hi = _numeric(table, "ci_high", param="table") if band else None
    fac = (table["factor"].astype(str).to_numpy() if "factor" in table.columns
           else np.full(len(table), "", dtype=object))

    ax = _get_ax(ax)
    for f in _order_unique(fac):
        rows = np.flatnonzero((fac == f) & np.isfinite(xv))
        rows = rows[np.argsort(xv[rows], kind="stable")]
        color = factor_color(f) if f else _NEUTRAL
        ax.plot(xv[rows], yv[rows], marker="o", color=color, lw=2,
                label=factor_label(f) if f else None, gid=f"share:{f}" if f else "share")
        if band:
            ax.fill_between(xv[rows], lo[rows], hi[rows], color=color, alpha=0.2, lw=0,
                            gid=f"band:{f}" if f else "band")
    ax.axhline(0.0, color="#CCCCCC", lw=0.8, zorder=0, gid="zero")
    if claimed is not None:
        value = check_number("claimed", claimed)
        ax.axhline(value, color=_CLAIM_COLOR, ls=":", lw=1.5, gid="claimed",
                   label=f"claimed {value:.0%}")
    if categories is not None:
        ax.set_xticks(range(len(categories)), labels=categories)
    ax.set_xlabel(_column_words(x))
    ax.set_ylabel("share of mean improvement")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    if "factor" in table.columns or claimed is not None:
        ax.legend(fontsize=8, frameon=False)
    return ax


def plot_precision(
    table: pd.DataFrame,
    *,
    x: str = "n_therapists",
    y: str = "ci_width",
    hue: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw interval width (or any precision measure) against a design size, for planning.

    Parameters
    ----------
    table : DataFrame
        One row per design (or per simulated replicate of a design) with columns ``x`` and ``y``.
    x : str, default "n_therapists"
        The design size on the x axis.
    y : str, default "ci_width"
        The precision measure on the y axis.
    hue : str, optional
        A column giving one line per level (e.g. ``clients_per_therapist`` or ``factor``).
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made if omitted.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Several rows with the same ``x`` (and ``hue``) are averaged, so a table of simulation
    replicates can be passed as is. Interval width for a therapist-level quantity shrinks
    roughly with the square root of the number of therapists, not of clients (docs/methods.md
    section 9.4), which is what this figure is for. Artists: one line per level with ``gid``
    ``"precision:<level>"`` (``"precision"`` without ``hue``).

    Examples
    --------
    >>> import pandas as pd
    >>> from commonfactors.plots import plot_precision
    >>> table = pd.DataFrame({"n_therapists": [10, 20, 40], "ci_width": [0.2, 0.14, 0.1]})
    >>> ax = plot_precision(table)
    >>> ax.lines[0].get_xdata().tolist()
    [10.0, 20.0, 40.0]
    """
    check_columns(table, [x, y] + ([hue] if hue is not None else []), param="table")
    frame = pd.DataFrame({"x": _numeric(table, x, param="table"),
                          "y": _numeric(table, y, param="table")})
    frame["hue"] = table[hue].to_numpy() if hue is not None else ""
    frame = frame[np.isfinite(frame["x"]) & np.isfinite(frame["y"])]
    levels = _levels(frame["hue"])
    colors = _hue_colors(levels) if hue is not None else {"": _NEUTRAL}

    ax = _get_ax(ax)
    for lv in levels:
        mean = frame[frame["hue"] == lv].groupby("x")["y"].mean().sort_index()
        text = (factor_label(lv) if str(lv) in FACTOR_COLORS else str(lv)) if hue else None
        ax.plot(mean.index.to_numpy(dtype=float), mean.to_numpy(), marker="o", lw=2,
                color=colors[lv], label=text,
                gid=f"precision:{lv}" if hue is not None else "precision")
    ax.set_xlabel(_column_words(x))
    ax.set_ylabel(_column_words(y))
    ax.set_ylim(bottom=0.0)
    if hue is not None and levels:
        ax.legend(title=_column_words(hue), fontsize=8, frameon=False)
    return ax
