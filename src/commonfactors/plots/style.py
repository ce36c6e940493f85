"""Palette, labels and input checks shared by the plotting functions of :mod:`commonfactors.plots`."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..errors import ColumnError, CommonFactorsError
from ..estimands import ESTIMANDS, SHARE_ESTIMANDS, label

#: One colour per factor, shared by every figure (Okabe-Ito palette plus a neutral grey).
FACTOR_COLORS: dict[str, str] = {
    "relationship": "#0072B2",  # blue
    "technique": "#E69F00",  # orange
    "expectancy": "#CC79A7",  # reddish purple
    "extra_therapeutic": "#009E73",  # bluish green
    "therapist": "#D55E00",  # vermillion
    "client": "#56B4E9",  # sky blue
    "residual": "#999999",  # grey
    "nonspecific": "#F0E442",  # yellow
}

#: Human-readable factor names, used only when drawing.
FACTOR_LABELS: dict[str, str] = {
    "relationship": "Relationship",
    "technique": "Technique",
    "expectancy": "Expectancy",
    "extra_therapeutic": "Extra-therapeutic",
    "therapist": "Therapist",
    "client": "Client",
    "residual": "Residual",
    "nonspecific": "Nonspecific",
}

#: Each estimand in words (from :mod:`commonfactors.estimands`), used for axis labels and titles.
ESTIMAND_LABELS: dict[str, str] = {n: ESTIMANDS[n].label for n in SHARE_ESTIMANDS + (
    "icc_therapist", "icc_client", "r2_marginal", "r2_conditional")}

# colours for user-defined factors: Paul Tol's muted palette, picked by a stable hash of the name
_EXTRA_COLORS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                 "#CC6677", "#882255", "#AA4499")
_NEUTRAL = "#4D4D4D"
_CLAIM_COLOR = "#222222"
_COLUMN_WORDS = {
    "n_therapists": "number of therapists",
    "clients_per_therapist": "clients per therapist",
    "n_clients": "number of clients",
    "n_sessions": "sessions per client",
    "ci_width": "width of the interval",
    "reference": "reference level",
    "share": "share of mean improvement",
}


# ------------------------------------------------------------------------------------------
# labels and colours
# ------------------------------------------------------------------------------------------
def factor_color(factor: Any) -> str:
    """Return the colour of ``factor``: fixed for the built-in factors, stable for any other.

    Factors not in :data:`FACTOR_COLORS` get a colour from a second colour-blind-safe palette
    chosen by a hash of the name, so a user-defined group is coloured the same way in every
    figure and every session.
    """
    name = str(factor)
    if name in FACTOR_COLORS:
        return FACTOR_COLORS[name]
    return _EXTRA_COLORS[zlib.crc32(name.encode("utf-8")) % len(_EXTRA_COLORS)]


def factor_label(factor: Any) -> str:
    """Return the human-readable name of ``factor`` (``extra_therapeutic`` -> ``Extra-therapeutic``)."""
    name = str(factor)
    if name in FACTOR_LABELS:
        return FACTOR_LABELS[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def estimand_label(estimand: Any) -> str:
    """Return ``estimand`` in words (``share_total_variance`` -> ``share of total outcome variance``)."""
    return label(estimand)


def _column_words(name: str) -> str:
    return _COLUMN_WORDS.get(name, str(name).replace("_", " "))


def _is_fraction(estimand: Any) -> bool:
    return str(estimand) in ESTIMAND_LABELS


def _hue_colors(levels: Sequence[Any]) -> dict[Any, str]:
    """Factor colours when every level is a known factor name, else a colour-blind palette."""
    if all(str(lv) in FACTOR_COLORS for lv in levels):
        return {lv: FACTOR_COLORS[str(lv)] for lv in levels}
    import seaborn as sns

    palette = sns.color_palette("colorblind", n_colors=max(len(levels), 1)).as_hex()
    return {lv: palette[i % len(palette)] for i, lv in enumerate(levels)}


# ------------------------------------------------------------------------------------------
# input helpers
# ------------------------------------------------------------------------------------------
def _get_ax(ax: Any, *, param: str = "ax") -> Axes:
    if ax is None:
        _, ax = plt.subplots()
        return ax
    if not isinstance(ax, Axes):
        raise CommonFactorsError(
            f"`{param}`: expecting a matplotlib Axes or None; got {type(ax).__name__}. "
            "Pass e.g. `ax=plt.subplots()[1]`, or leave it out to get a new figure."
        )
    return ax


def _numeric(data: pd.DataFrame, column: str, *, param: str) -> np.ndarray:
    values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
    bad = data[column].notna().to_numpy() & np.isnan(values)
    if bad.any():
        example = data[column][bad].iloc[0]
        raise ColumnError(
            f"`{param}`: column {column!r} must be numeric; found {example!r}. "
            "Convert it to numbers (or NaN) first."
        )
    return values


def _select_estimand(table: pd.DataFrame, estimand: str, *, param: str) -> pd.DataFrame:
    rows = table[table["estimand"].astype(str) == str(estimand)]
    if rows.empty:
        found = ", ".join(map(repr, pd.unique(table["estimand"].astype(str)))) or "none"
        raise ColumnError(
            f"`{param}`: no rows with estimand {estimand!r} in column 'estimand'; "
            f"found {found}. Pass one of these as `estimand=`."
        )
    return rows


def _order_unique(values: Sequence[Any]) -> list[Any]:
    return list(pd.unique(pd.Series(list(values), dtype=object)))
