"""Conversions between the effect sizes the published claims use.

The field quotes the same association as a correlation ``r``, as a standardized mean difference
``d``, as a share of variance ``r**2``, and (for therapists) as an intraclass correlation. The
functions here convert between them with the formulas of docs/methods.md section 8, element-wise over
scalars or arrays.

Every function returns a ``float`` for scalar input and a NumPy array otherwise. Missing values
(NaN) pass through as NaN; infinite values and values outside a function's domain raise
:class:`~commonfactors.errors.CommonFactorsError` naming the parameter, the allowed range and the
offending value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .errors import CommonFactorsError

__all__ = [
    "r_to_d",
    "d_to_r",
    "r_to_r2",
    "d_to_r2",
    "icc_to_d",
    "d_to_icc",
    "besd",
]


def _as_array(name: str, value: Any) -> tuple[np.ndarray, bool]:
    """Return ``value`` as a float array and whether it was a scalar."""
    scalar = np.ndim(value) == 0
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CommonFactorsError(
            f"`{name}`: expecting a number or an array of numbers; got {value!r}."
        ) from None
    if np.isinf(arr).any():
        raise CommonFactorsError(
            f"`{name}`: expecting finite values; got an infinite value. Remove it or use NaN "
            "for a missing value."
        )
    return arr, scalar


def _check_range(
    name: str,
    arr: np.ndarray,
    bad: np.ndarray,
    allowed: str,
) -> None:
    """Raise naming the first offending value if any element of ``bad`` is true."""
    if bad.any():
        first = float(arr[bad].ravel()[0])
        n_bad = int(bad.sum())
        more = f" ({n_bad} values out of range)" if n_bad > 1 else ""
        raise CommonFactorsError(f"`{name}`: expecting {allowed}; got {first!r}{more}.")


def _out(arr: np.ndarray, scalar: bool) -> float | np.ndarray:
    return float(arr) if scalar else arr


def r_to_d(r: Any) -> float | np.ndarray:
    """Convert a correlation to a standardized mean difference.

    Parameters
    ----------
    r : float or array-like
        Correlation(s), ``-1 < r < 1``.

    Returns
    -------
    float or ndarray
        ``d = 2 r / sqrt(1 - r**2)``.

    Notes
    -----
    The formula treats ``r`` as a point-biserial correlation between the outcome and a
    dichotomy with two equal groups [1]_. Meta-analyses apply it to any correlation to express
    it on the d scale (e.g. the alliance r = .278 is reported as d = .579 [2]_); read the result
    as "the d of two equal groups whose point-biserial correlation is r".

    References
    ----------
    .. [1] Rosenthal, R. (1994). Parametric measures of effect size. In H. Cooper & L. V. Hedges
       (Eds.), *The Handbook of Research Synthesis* (pp. 231-244). Russell Sage.
    .. [2] Flückiger, C., Del Re, A. C., Wampold, B. E., & Horvath, A. O. (2018). The alliance in
       adult psychotherapy: A meta-analytic synthesis. *Psychotherapy*, 55(4), 316-340.

    Examples
    --------
    >>> from commonfactors.conversions import r_to_d
    >>> round(r_to_d(0.278), 3)
    0.579
    """
    arr, scalar = _as_array("r", r)
    with np.errstate(invalid="ignore"):
        _check_range("r", arr, np.abs(arr) >= 1, "a correlation with -1 < r < 1")
        out = 2.0 * arr / np.sqrt(1.0 - arr**2)
    return _out(out, scalar)


def d_to_r(d: Any) -> float | np.ndarray:
    """Convert a standardized mean difference to a correlation.

    Parameters
    ----------
    d : float or array-like
        Cohen's d, any finite value.

    Returns
    -------
    float or ndarray
        ``r = d / sqrt(d**2 + 4)``, in (-1, 1).

    Notes
    -----
    The inverse of :func:`r_to_d`: the point-biserial correlation of two equal groups whose
    means differ by ``d`` pooled standard deviations [1]_.

    References
    ----------
    .. [1] Rosenthal, R. (1994). Parametric measures of effect size. In H. Cooper & L. V. Hedges
       (Eds.), *The Handbook of Research Synthesis* (pp. 231-244). Russell Sage.

    Examples
    --------
    >>> from commonfactors.conversions import d_to_r
    >>> round(d_to_r(0.36), 2)
    0.18
    """
    arr, scalar = _as_array("d", d)
    return _out(arr / np.sqrt(arr**2 + 4.0), scalar)


def r_to_r2(r: Any) -> float | np.ndarray:
    """Square a correlation: the share of total variance it accounts for.

    Parameters
    ----------
    r : float or array-like
        Correlation(s), ``-1 <= r <= 1``.

    Returns
    -------
    float or ndarray
        ``r**2``.

    Notes
    -----
    ``r**2`` is the share of outcome variance linearly accounted for by the predictor alone. It
    understates practical importance (an r of .30 moves success rates from 35% to 65%, see
    :func:`besd`) [1]_, and squared correlations of correlated predictors overlap, so they must
    not be summed.

    References
    ----------
    .. [1] Funder, D. C., & Ozer, D. J. (2019). Evaluating effect size in psychological research:
       Sense and nonsense. *Advances in Methods and Practices in Psychological Science*, 2(2),
       156-168.

    Examples
    --------
    >>> from commonfactors.conversions import r_to_r2
    >>> round(r_to_r2(0.278), 4)
    0.0773
    """
    arr, scalar = _as_array("r", r)
    with np.errstate(invalid="ignore"):
        _check_range("r", arr, np.abs(arr) > 1, "a correlation with -1 <= r <= 1")
    return _out(arr**2, scalar)


def d_to_r2(d: Any) -> float | np.ndarray:
    """Convert a standardized mean difference to a share of variance.

    Parameters
    ----------
    d : float or array-like
        Cohen's d, any finite value.

    Returns
    -------
    float or ndarray
        ``r**2 = d**2 / (d**2 + 4)``.

    Notes
    -----
    The square of :func:`d_to_r` (equal groups). Psychotherapy versus no treatment, d = .80,
    gives r**2 = .138, the "about 14% of variance" quoted by Wampold & Imel [1]_.

    References
    ----------
    .. [1] Wampold, B. E., & Imel, Z. E. (2015). *The Great Psychotherapy Debate* (2nd ed.).
       Routledge.

    Examples
    --------
    >>> from commonfactors.conversions import d_to_r2
    >>> round(d_to_r2(0.80), 3)
    0.138
    """
    arr, scalar = _as_array("d", d)
    return _out(arr**2 / (arr**2 + 4.0), scalar)


def icc_to_d(icc: Any) -> float | np.ndarray:
    """Convert a therapist intraclass correlation to a d.

    Parameters
    ----------
    icc : float or array-like
        Share of outcome variance between therapists, ``0 <= icc < 1``.

    Returns
    -------
    float or ndarray
        ``d = 2 sqrt(icc / (1 - icc))``, always >= 0.

    Notes
    -----
    With the ICC read as the squared point-biserial correlation of a therapist effect, ``r =
    sqrt(icc)`` and :func:`r_to_d` give ``d = 2 sqrt(icc / (1 - icc))``: the standardized
    difference between two equal groups of therapists that would produce the same share of
    variance. Wampold & Imel use it to express therapist effects on the d scale [1]_ (ICC .03 to
    .07 read as d .35 to .55; the exact values are d = .352 and .549).

    References
    ----------
    .. [1] Wampold, B. E. (2015). How important are the common factors in psychotherapy? An
       update. *World Psychiatry*, 14(3), 270-277.

    Examples
    --------
    >>> from commonfactors.conversions import icc_to_d
    >>> round(icc_to_d(0.05), 3)
    0.459
    """
    arr, scalar = _as_array("icc", icc)
    with np.errstate(invalid="ignore"):
        _check_range("icc", arr, (arr < 0) | (arr >= 1), "an ICC with 0 <= icc < 1")
        out = 2.0 * np.sqrt(arr / (1.0 - arr))
    return _out(out, scalar)


def d_to_icc(d: Any) -> float | np.ndarray:
    """Convert a therapist-effect d back to an intraclass correlation.

    Parameters
    ----------
    d : float or array-like
        Therapist effect on the d scale, ``d >= 0``.

    Returns
    -------
    float or ndarray
        ``icc = d**2 / (4 + d**2)``, in [0, 1).

    Notes
    -----
    The inverse of :func:`icc_to_d`. A therapist effect has no sign, so a negative ``d`` is an
    input error [1]_.

    References
    ----------
    .. [1] Wampold, B. E. (2015). How important are the common factors in psychotherapy? An
       update. *World Psychiatry*, 14(3), 270-277.

    Examples
    --------
    >>> from commonfactors.conversions import d_to_icc
    >>> round(d_to_icc(0.35), 4), round(d_to_icc(0.55), 4)
    (0.0297, 0.0703)
    """
    arr, scalar = _as_array("d", d)
    with np.errstate(invalid="ignore"):
        _check_range(
            "d", arr, arr < 0, "a non-negative therapist effect d (its size, without sign)"
        )
    return _out(arr**2 / (4.0 + arr**2), scalar)


def besd(r: float) -> pd.DataFrame:
    """Binomial effect size display of a correlation.

    Parameters
    ----------
    r : float
        Correlation, ``-1 <= r <= 1`` (one value).

    Returns
    -------
    DataFrame
        Two rows, ``group`` = "treatment" and "control", with columns ``success`` (``0.5 +
        r/2`` and ``0.5 - r/2``) and ``failure`` (one minus success).

    Notes
    -----
    Rosenthal & Rubin's display [1]_ recasts ``r`` as the difference in success rates of two
    equal groups with an overall success rate of 50%: ``success = 0.5 +/- r/2``, so the
    difference in success rates equals ``r``. It shows how a "small" share of variance (r**2)
    can mean a large practical difference [2]_: r = .278 (r**2 = 7.7%) moves success from 36%
    to 64%.

    References
    ----------
    .. [1] Rosenthal, R., & Rubin, D. B. (1982). A simple, general purpose display of magnitude
       of experimental effect. *Journal of Educational Psychology*, 74(2), 166-169.
    .. [2] Funder, D. C., & Ozer, D. J. (2019). Evaluating effect size in psychological research:
       Sense and nonsense. *Advances in Methods and Practices in Psychological Science*, 2(2),
       156-168.

    Examples
    --------
    >>> from commonfactors.conversions import besd
    >>> besd(0.3)
           group  success  failure
    0  treatment     0.65     0.35
    1    control     0.35     0.65
    """
    if np.ndim(r) != 0:
        raise CommonFactorsError(
            f"`r`: expecting a single correlation; got an array of shape {np.shape(r)}. "
            "Call besd once per value."
        )
    arr, _ = _as_array("r", r)
    value = float(arr)
    if np.isnan(value) or abs(value) > 1:
        raise CommonFactorsError(f"`r`: expecting a correlation with -1 <= r <= 1; got {r!r}.")
    success = np.array([0.5 + value / 2.0, 0.5 - value / 2.0])
    return pd.DataFrame(
        {"group": ["treatment", "control"], "success": success, "failure": 1.0 - success}
    )
