"""Axes-level figures for decompositions, claims, trajectories and bootstrap output.

Every function takes plain tidy DataFrames (the ``table`` of a result, a compare-claims table,
the long session data), draws on the Axes it is given (or a new one) and returns it. Nothing
here estimates anything beyond the display summaries it draws (session means, percentile
intervals of given replicates, a kernel density); the statistics live upstream.

Factors keep one colour across every figure of the package (:data:`FACTOR_COLORS`, built on the
Okabe-Ito palette, which stays distinguishable under the common colour-vision deficiencies
[1]_). Machine names (``extra_therapeutic``, ``share_total_variance``) become words only when
drawn (:func:`factor_label`, :func:`estimand_label`). No function calls ``plt.show()`` or
changes global matplotlib settings.

References
----------
.. [1] Okabe, M., & Ito, K. (2008). Color universal design (CUD): How to make figures and
   presentations that are friendly to colorblind people. https://jfly.uni-koeln.de/color/
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter
from scipy import stats

from .._validation import check_columns, check_number
from ..errors import ColumnError, CommonFactorsError
from ._design import plot_precision, plot_sensitivity, plot_trajectories
from .style import (
    _CLAIM_COLOR,
    _NEUTRAL,
    ESTIMAND_LABELS,
    FACTOR_COLORS,
    FACTOR_LABELS,
    _get_ax,
    _is_fraction,
    _numeric,
    _order_unique,
    _select_estimand,
    estimand_label,
    factor_color,
    factor_label,
)

__all__ = [
    "FACTOR_COLORS",
    "FACTOR_LABELS",
    "ESTIMAND_LABELS",
    "factor_color",
    "factor_label",
    "estimand_label",
    "plot_shares",
    "plot_pie_vs_bar",
    "plot_trajectories",
    "plot_caterpillar",
    "plot_bootstrap",
    "plot_sensitivity",
    "plot_precision",
]


# ------------------------------------------------------------------------------------------
# shares with claims
# ------------------------------------------------------------------------------------------
def _claim_range(low: float, high: float) -> tuple[float, float, str] | None:
    """Return (left, right, prefix) of a claimed value/range, or None if nothing is claimed."""
    lo_ok, hi_ok = np.isfinite(low), np.isfinite(high)
    if lo_ok and hi_ok:
        return (min(low, high), max(low, high), "")
    if hi_ok:
        return (high, high, "\u2264 ")
    if lo_ok:
        return (low, low, "\u2265 ")
    return None


def plot_shares(
    table: pd.DataFrame,
    *,
    claims: pd.DataFrame | None = None,
    estimand: str = "share_total_variance",
    ax: Axes | None = None,
) -> Axes:
    """Draw each factor's estimate and interval for one estimand, with the claims beside it.

    Parameters
    ----------
    table : DataFrame
        Tidy estimates with columns ``factor, estimand, estimate, ci_low, ci_high`` (e.g. the
        ``table`` of a decomposition), one row per factor for ``estimand``. Factors are drawn
        top to bottom in table order.
    claims : DataFrame, optional
        A compare-claims table with columns ``claim, factor, claimed_low, claimed_high`` and,
        if present, ``estimand`` (only the claims on ``estimand`` are drawn). A claimed value
        is a diamond, a claimed range a shaded bar, each labelled with its claim id, just below
        the estimate of the same factor. A claim on a factor absent from ``table`` gets its own
        row without an estimate; a claim repeated with the same values is drawn once.
    estimand : str, default "share_total_variance"
        Which estimand to draw; its name in words labels the x axis.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made if omitted.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Shares (fractions) are shown in percent. A missing interval (NaN ``ci_low`` or
    ``ci_high``) draws the point only; a missing estimate draws nothing for that factor. Only
    one estimand is ever drawn per axis, because shares with different denominators (docs/methods.md
    section 4) must not be read against each other [1]_. Artists carry ids for inspection:
    ``ax.lines`` hold ``gid`` ``"estimate:<factor>"`` and ``"ci:<factor>"``; claimed values are
    lines and claimed ranges patches with ``gid`` ``"claim:<claim id>"``.

    References
    ----------
    .. [1] Norcross, J. C., & Lambert, M. J. (2011). Psychotherapy relationships that work II.
       *Psychotherapy*, 48(1), 4-8.

    Examples
    --------
    >>> import pandas as pd
    >>> from commonfactors.plots import plot_shares
    >>> table = pd.DataFrame({"factor": ["relationship", "technique"],
    ...                       "estimand": "share_total_variance", "estimate": [0.12, 0.08],
    ...                       "ci_low": [0.07, 0.02], "ci_high": [0.18, 0.13]})
    >>> ax = plot_shares(table)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Relationship', 'Technique']
    >>> ax.get_xlabel()
    'share of total outcome variance'
    """
    check_columns(table, ["factor", "estimand", "estimate", "ci_low", "ci_high"], param="table")
    rows = _select_estimand(table, estimand, param="table")
    dup = rows["factor"].astype(str).duplicated()
    if dup.any():
        extra = " (e.g. by its 'view' column)" if "view" in rows.columns else ""
        raise ColumnError(
            f"`table`: expecting one row per factor for estimand {estimand!r}; factor "
            f"{rows['factor'].astype(str)[dup].iloc[0]!r} appears more than once. Filter the "
            f"table{extra} first."
        )
    factors = [str(f) for f in _order_unique(rows["factor"].astype(str))]
    est = _numeric(rows, "estimate", param="table")
    lo = _numeric(rows, "ci_low", param="table")
    hi = _numeric(rows, "ci_high", param="table")
    rfac = rows["factor"].astype(str).to_numpy()

    claim_rows: list[tuple[str, str, float, float]] = []
    if claims is not None:
        check_columns(claims, ["claim", "factor", "claimed_low", "claimed_high"], param="claims")
        sel = claims
        if "estimand" in claims.columns:
            sel = claims[claims["estimand"].astype(str) == str(estimand)]
        # a compare-claims table repeats a claim once per matching estimate row (e.g. per view)
        sel = sel.drop_duplicates(subset=["claim", "factor", "claimed_low", "claimed_high"])
        c_lo = _numeric(sel, "claimed_low", param="claims")
        c_hi = _numeric(sel, "claimed_high", param="claims")
        for cid, fac, a, b in zip(sel["claim"].astype(str), sel["factor"].astype(str), c_lo, c_hi,
                                  strict=True):
            claim_rows.append((cid, fac, a, b))
            if fac not in factors:
                factors.append(fac)

    ax = _get_ax(ax)
    # each row is 1 high plus room for its claims beyond the first two
    n_claims = {f: 0 for f in factors}
    for _, fac, a, b in claim_rows:
        n_claims[fac] += _claim_range(a, b) is not None
    ypos, bottom = {}, 0.0
    for f in factors:
        ypos[f] = bottom
        bottom += 1.0 + 0.17 * max(0, n_claims[f] - 2)
    for f, e, a, b in zip(rfac, est, lo, hi, strict=True):
        if not np.isfinite(e):
            continue
        y, color = ypos[f], factor_color(f)
        if np.isfinite(a) and np.isfinite(b):
            ax.plot([a, b], [y, y], color=color, lw=2.5, solid_capstyle="butt", gid=f"ci:{f}")
        ax.plot([e], [y], marker="o", ms=8, ls="none", color=color, mec="black", mew=0.6,
                gid=f"estimate:{f}", zorder=3)

    n_seen: dict[str, int] = {}
    drawn_claim = False
    for cid, fac, a, b in claim_rows:
        rng = _claim_range(a, b)
        if rng is None:
            continue
        k = n_seen.get(fac, 0)
        n_seen[fac] = k + 1
        y = ypos[fac] + 0.25 + 0.17 * k
        left, right, prefix = rng
        if right > left:
            ax.add_patch(Rectangle((left, y - 0.05), right - left, 0.1, facecolor=factor_color(fac),
                                   alpha=0.35, edgecolor=_CLAIM_COLOR, lw=0.8, gid=f"claim:{cid}"))
        else:
            ax.plot([left], [y], marker="D", ms=5, ls="none", mfc="white", mec=_CLAIM_COLOR,
                    mew=1.0, gid=f"claim:{cid}")
        ax.annotate(prefix + cid, (right, y), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=7, color=_CLAIM_COLOR)
        drawn_claim = True

    ax.axvline(0.0, color="#CCCCCC", lw=0.8, zorder=0, gid="zero")
    ax.set_yticks([ypos[f] for f in factors], labels=[factor_label(f) for f in factors])
    last = n_claims[factors[-1]] if factors else 0
    ax.set_ylim(bottom - 0.3 + 0.17 * min(2, last), -0.6)
    ax.autoscale_view(scaley=False)
    if drawn_claim:  # room on the right for the claim ids
        left, right = ax.get_xlim()
        ax.set_xlim(left, right + 0.25 * (right - left))
    ax.set_xlabel(estimand_label(estimand))
    if _is_fraction(estimand):
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    handles: list[Artist] = [Line2D([], [], marker="o", color=_NEUTRAL, mec="black", lw=2.5,
                                    label="estimate and interval")]
    if drawn_claim:
        handles += [Line2D([], [], marker="D", ls="none", mfc="white", mec=_CLAIM_COLOR,
                           label="claimed value"),
                    Rectangle((0, 0), 1, 1, facecolor="#BBBBBB", edgecolor=_CLAIM_COLOR,
                              label="claimed range")]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=len(handles),
              fontsize=8, frameon=False, borderaxespad=0.2)
    return ax


# ------------------------------------------------------------------------------------------
# why 12% and 80% differ: a pie of mean shares beside bars of variance shares
# ------------------------------------------------------------------------------------------
def _shares_for(frame: pd.DataFrame, estimand: str, *, param: str) -> tuple[pd.DataFrame, str]:
    check_columns(frame, ["factor", "estimate"], param=param)
    if "estimand" in frame.columns:
        names = _order_unique(frame["estimand"].astype(str))
        if len(names) == 1:
            estimand = names[0]
        else:
            frame = _select_estimand(frame, estimand, param=param)
    values = _numeric(frame, "estimate", param=param)
    keep = np.isfinite(values)
    out = pd.DataFrame({"factor": frame["factor"].astype(str).to_numpy()[keep],
                        "estimate": values[keep]})
    for col in ("ci_low", "ci_high"):
        if col in frame.columns:
            out[col] = _numeric(frame, col, param=param)[keep]
    return out, estimand


def plot_pie_vs_bar(
    mean_shares: pd.DataFrame,
    variance_shares: pd.DataFrame,
    *,
    axes: Sequence[Axes] | None = None,
    variance_estimand: str = "share_total_variance",
) -> tuple[Axes, Axes]:
    """Set shares of mean improvement (a pie) beside shares of outcome variance (bars).

    Parameters
    ----------
    mean_shares : DataFrame
        Columns ``factor, estimate`` (and optionally ``estimand``): each factor's share of the
        mean improvement (docs/methods.md section 5).
    variance_shares : DataFrame
        Columns ``factor, estimate`` (optionally ``estimand, ci_low, ci_high``): each factor's
        share of variance. If it holds several estimands, ``variance_estimand`` picks one.
    axes : pair of matplotlib Axes, optional
        Where to draw (left: mean shares, right: variance shares); a new 1 x 2 figure if omitted.
    variance_estimand : str, default "share_total_variance"
        The variance estimand drawn (and named in the right-hand title) when ``variance_shares``
        has no single ``estimand``.

    Returns
    -------
    (matplotlib Axes, matplotlib Axes)
        The mean-improvement axis and the variance axis.

    Notes
    -----
    This is the picture of why "12%" and "80%" can both be said of the relationship: a factor
    can carry much of the *average* change (Lambert's pie [1]_) while explaining little of the
    *differences* between clients [2]_. Each axis is titled with its estimand. Shares of mean
    improvement can be negative (a factor that lowers the average change); a pie cannot show
    that, so a bar chart is drawn instead and the title says so. If the mean shares do not sum
    to 100% the pie is normalised and the title gives the sum. Rows with a missing estimate
    are left out. Wedges and bars carry ``gid`` ``"mean:<factor>"`` and ``"variance:<factor>"``.

    References
    ----------
    .. [1] Lambert, M. J. (1992). Psychotherapy outcome research. In J. C. Norcross &
       M. R. Goldfried (Eds.), *Handbook of psychotherapy integration* (pp. 94-129).
    .. [2] Norcross, J. C., & Lambert, M. J. (2011). Psychotherapy relationships that work II.
       *Psychotherapy*, 48(1), 4-8.
    """
    mean, mean_name = _shares_for(mean_shares, "share_mean_improvement", param="mean_shares")
    var, var_name = _shares_for(variance_shares, variance_estimand, param="variance_shares")
    if axes is None:
        _, pair = plt.subplots(1, 2, figsize=(10, 4.2))
        ax_mean, ax_var = pair[0], pair[1]
    else:
        if isinstance(axes, Axes) or len(axes) != 2:
            raise CommonFactorsError(
                f"`axes`: expecting a pair of matplotlib Axes; got {axes!r}. "
                "Pass e.g. `axes=plt.subplots(1, 2)[1]`, or leave it out."
            )
        ax_mean = _get_ax(axes[0], param="axes[0]")
        ax_var = _get_ax(axes[1], param="axes[1]")

    for frame, param in ((mean, "mean_shares"), (var, "variance_shares")):
        if frame.empty:
            raise CommonFactorsError(
                f"`{param}`: expecting at least one row with a finite 'estimate'; found none."
            )
    mean_title = estimand_label(mean_name)
    mean_title = mean_title[:1].upper() + mean_title[1:]
    colors = [factor_color(f) for f in mean["factor"]]
    labels = [factor_label(f) for f in mean["factor"]]
    values = mean["estimate"].to_numpy()
    if (values < 0).any() or values.sum() <= 0:
        bars = ax_mean.bar(range(len(values)), values, color=colors, edgecolor="black", lw=0.5)
        for bar, f in zip(bars, mean["factor"], strict=True):
            bar.set_gid(f"mean:{f}")
        ax_mean.set_xticks(range(len(values)), labels=labels, rotation=30, ha="right")
        ax_mean.axhline(0.0, color="black", lw=0.8)
        ax_mean.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        why = "a share is negative" if (values < 0).any() else "the shares sum to 0"
        ax_mean.set_title(f"{mean_title}\n(bars, not a pie: {why})")
    else:
        wedges, _ = ax_mean.pie(
            values, labels=[f"{lab}\n{v:.0%}" for lab, v in zip(labels, values, strict=True)],
            colors=colors, startangle=90, counterclock=False, wedgeprops={"edgecolor": "white", "linewidth": 1},
            textprops={"fontsize": 8})
        for w, f in zip(wedges, mean["factor"], strict=True):
            w.set_gid(f"mean:{f}")
        total = values.sum()
        note = "" if abs(total - 1.0) < 1e-6 else f"\n(shares sum to {total:.0%}; pie normalised)"
        ax_mean.set_title(mean_title + note)

    vvals = var["estimate"].to_numpy()
    bars = ax_var.bar(range(len(vvals)), vvals, color=[factor_color(f) for f in var["factor"]],
                      edgecolor="black", lw=0.5)
    for bar, f in zip(bars, var["factor"], strict=True):
        bar.set_gid(f"variance:{f}")
    if {"ci_low", "ci_high"} <= set(var.columns):
        for i, (f, a, b) in enumerate(zip(var["factor"], var["ci_low"], var["ci_high"],
                                          strict=True)):
            if np.isfinite(a) and np.isfinite(b):
                ax_var.plot([i, i], [a, b], color="black", lw=1.2, gid=f"ci:{f}")
    ax_var.set_xticks(range(len(vvals)), labels=[factor_label(f) for f in var["factor"]],
                      rotation=30, ha="right")
    ax_var.axhline(0.0, color="black", lw=0.8)
    if _is_fraction(var_name):
        ax_var.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    var_title = estimand_label(var_name)
    ax_var.set_title(var_title[:1].upper() + var_title[1:])
    return ax_mean, ax_var




# ------------------------------------------------------------------------------------------
# therapist effects and bootstrap replicates
# ------------------------------------------------------------------------------------------
_Z95 = float(stats.norm.ppf(0.975))


def plot_caterpillar(
    ranef: pd.DataFrame,
    *,
    estimate: str = "estimate",
    se: str = "se",
    ax: Axes | None = None,
    label: str = "therapist",
) -> Axes:
    """Draw predicted random effects sorted from lowest to highest, with 95% intervals.

    Parameters
    ----------
    ranef : DataFrame
        One row per unit (e.g. therapist) with its predicted effect and standard error.
    estimate, se : str
        Columns holding the effect and its standard error.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made if omitted.
    label : str, default "therapist"
        What the units are. If ``ranef`` has a column of that name it supplies the unit ids
        (otherwise the index does); the name also labels the axes and picks the colour.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Unit ``i`` (in ascending order of its estimate) sits at x = ``i``; its interval is
    ``estimate +/- 1.96 se`` (the normal 97.5% quantile). Intervals that exclude 0 are drawn in
    the unit's colour, the others in grey; the title counts them. With many units, about 5% of
    intervals exclude 0 even when no unit differs, and predicted (shrunken) effects understate
    the spread of the true effects [1]_, so the figure shows ranking uncertainty, not a league
    table. Ids are written on the x axis for at most 40 units. Artists: the points are the line
    with ``gid`` ``"estimates"``, the intervals the collection with ``gid`` ``"intervals"``.
    Rows with a missing estimate are left out; a missing ``se`` draws the point only.

    References
    ----------
    .. [1] Goldstein, H., & Spiegelhalter, D. J. (1996). League tables and their limitations:
       statistical issues in comparisons of institutional performance. *Journal of the Royal
       Statistical Society A*, 159(3), 385-443.

    Examples
    --------
    >>> import pandas as pd
    >>> from commonfactors.plots import plot_caterpillar
    >>> ranef = pd.DataFrame({"therapist": ["a", "b", "c"], "estimate": [0.4, -0.2, 0.1],
    ...                       "se": [0.1, 0.1, 0.2]})
    >>> ax = plot_caterpillar(ranef)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['b', 'c', 'a']
    """
    check_columns(ranef, [estimate, se], param="ranef")
    est = _numeric(ranef, estimate, param="ranef")
    sev = _numeric(ranef, se, param="ranef")
    if (sev < 0).any():
        raise ColumnError(
            f"`ranef`: column {se!r} holds standard errors and must be >= 0; "
            f"found {sev[sev < 0][0]!r}."
        )
    ids = ranef[label].to_numpy() if label in ranef.columns else ranef.index.to_numpy()
    keep = np.isfinite(est)
    est, sev, ids = est[keep], sev[keep], ids[keep]
    order = np.argsort(est, kind="stable")
    y, half, ids = est[order], _Z95 * sev[order], ids[order]
    x = np.arange(len(y), dtype=float)
    ok = np.isfinite(half)
    excl = ok & ((y - half > 0) | (y + half < 0))
    color = factor_color(label)

    ax = _get_ax(ax)
    ax.axhline(0.0, color="#CCCCCC", lw=0.8, zorder=0, gid="zero")
    ax.vlines(x[ok], (y - half)[ok], (y + half)[ok], colors=list(np.where(excl[ok], color, "#AAAAAA")),
              lw=1.2, gid="intervals")
    ax.plot(x, y, marker="o", ms=4, ls="none", color=color, mec="black", mew=0.4,
            gid="estimates", zorder=3)
    if len(x) <= 40:
        ax.set_xticks(x, labels=[str(i) for i in ids], rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
    words = factor_label(label)
    ax.set_xlabel(f"{words}, ranked by predicted effect")
    ax.set_ylabel(f"{words} effect (95% interval)")
    ax.set_title(f"{int(excl.sum())} of {len(y)} intervals exclude 0")
    return ax


def _replicate_values(replicates) -> tuple[np.ndarray, str | None]:
    """Return the replicate values as floats (NaN kept) and the estimand if the table names one."""
    if isinstance(replicates, pd.DataFrame):
        if "estimate" in replicates.columns:
            keys = [c for c in ("factor", "estimand") if c in replicates.columns]
            if keys:
                pairs = replicates[keys].astype(str).drop_duplicates()
                if len(pairs) > 1:
                    shown = "; ".join(", ".join(r) for r in pairs.head(5).itertuples(index=False))
                    raise ColumnError(
                        f"`replicates`: expecting the replicates of one estimand; found "
                        f"{len(pairs)} different ({' / '.join(keys)}) values ({shown}, ...). "
                        "Filter the table to one factor and estimand first."
                    )
            name = (str(replicates["estimand"].iloc[0])
                    if "estimand" in replicates.columns and len(replicates) else None)
            return _numeric(replicates, "estimate", param="replicates"), name
        numeric = [c for c in replicates.columns
                   if c != "replicate" and pd.api.types.is_numeric_dtype(replicates[c])]
        if len(numeric) != 1:
            raise ColumnError(
                "`replicates`: expecting a column 'estimate' (or exactly one numeric column); "
                f"found columns {', '.join(map(repr, replicates.columns))}."
            )
        return _numeric(replicates, numeric[0], param="replicates"), None
    try:
        values = np.asarray(replicates, dtype=float)
    except (TypeError, ValueError) as exc:
        raise CommonFactorsError(
            "`replicates`: expecting a 1-D array of numbers, a Series or a DataFrame with an "
            f"'estimate' column; got {type(replicates).__name__}."
        ) from exc
    if values.ndim != 1:
        raise CommonFactorsError(
            f"`replicates`: expecting one dimension; got an array of shape {values.shape}."
        )
    return values, None


def plot_bootstrap(
    replicates,
    *,
    estimate: float | None = None,
    ax: Axes | None = None,
    level: float = 0.95,
    estimand: str | None = None,
) -> Axes:
    """Draw the bootstrap distribution of one estimand with its percentile interval.

    Parameters
    ----------
    replicates : array-like, Series or DataFrame
        The replicate values of one estimand. A DataFrame must have an ``estimate`` column
        (with at most one ``factor`` / ``estimand`` value) or exactly one numeric column other
        than ``replicate``. NaN entries count as failed replicates and are left out.
    estimate : float, optional
        The point estimate from the original data, drawn as a solid line.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made if omitted.
    level : float, default 0.95
        Coverage of the percentile interval, drawn as two dashed lines.
    estimand : str, optional
        Names the x axis in words; taken from the ``estimand`` column when not given.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    The histogram is a density, overlaid with a Gaussian kernel density estimate (Scott's
    bandwidth). The percentile interval is ``[q((1 - level)/2), q((1 + level)/2)]`` of the
    finite replicates (``numpy.quantile``, linear interpolation) [1]_. A point estimate far
    from the centre of the replicates signals bias; a lopsided histogram says the percentile
    interval and a normal interval will differ. Artists: lines with ``gid`` ``"kde"``,
    ``"estimate"``, ``"ci_low"``, ``"ci_high"``; the histogram bars are ``ax.patches``.

    References
    ----------
    .. [1] Efron, B., & Tibshirani, R. J. (1993). *An introduction to the bootstrap*.
       Chapman & Hall, chapter 13.

    Examples
    --------
    >>> import numpy as np
    >>> from commonfactors.plots import plot_bootstrap
    >>> reps = np.random.default_rng(0).normal(0.12, 0.03, size=200)
    >>> ax = plot_bootstrap(reps, estimate=0.12, estimand="share_total_variance")
    >>> ax.get_xlabel()
    'share of total outcome variance'
    """
    values, name = _replicate_values(replicates)
    level = check_number("level", level, low=0.0, high=1.0, low_inclusive=False,
                         high_inclusive=False)
    estimand = name if estimand is None else estimand
    finite = values[np.isfinite(values)]
    n_failed = len(values) - len(finite)
    if len(finite) < 2:
        raise CommonFactorsError(
            f"`replicates`: expecting at least 2 finite replicate values; got {len(finite)} "
            f"(of {len(values)}). Run more bootstrap replicates."
        )
    lo, hi = np.quantile(finite, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])

    ax = _get_ax(ax)
    bins = int(np.clip(np.sqrt(len(finite)), 10, 50))
    ax.hist(finite, bins=bins, density=True, color="#CCCCCC", edgecolor="white")
    if np.ptp(finite) > 0:
        kde = stats.gaussian_kde(finite)
        pad = 0.1 * np.ptp(finite)
        grid = np.linspace(finite.min() - pad, finite.max() + pad, 200)
        ax.plot(grid, kde(grid), color=_NEUTRAL, lw=1.5, gid="kde", label="kernel density")
    ax.axvline(lo, color=_CLAIM_COLOR, ls="--", lw=1.2, gid="ci_low",
               label=f"{level:.0%} percentile interval")
    ax.axvline(hi, color=_CLAIM_COLOR, ls="--", lw=1.2, gid="ci_high")
    if estimate is not None:
        est = check_number("estimate", estimate)
        ax.axvline(est, color="#D55E00", lw=2.0, gid="estimate", label="point estimate")
    ax.set_xlabel(estimand_label(estimand) if estimand is not None else "replicate value")
    ax.set_ylabel("density")
    if estimand is not None and _is_fraction(estimand):
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
    failed = f", {n_failed} failed and left out" if n_failed else ""
    ax.set_title(f"{len(finite)} bootstrap replicates{failed}")
    ax.legend(loc="best", fontsize=8, frameon=False)
    return ax
