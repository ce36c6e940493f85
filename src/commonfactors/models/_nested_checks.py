"""Checks of the per-group aggregates given to :meth:`NestedStats.from_groups` (see :mod:`.nested`)."""

from __future__ import annotations

import numpy as np

from ..errors import DataValidationError


def _check_counts_sums(n_i, gsum_i):
    """Validated ``n_i`` (int, >= 1) and ``gsum_i`` (m, k) of :meth:`NestedStats.from_groups`."""
    try:
        n_f = np.asarray(n_i, dtype=float).reshape(-1)
        gsum_i = np.asarray(gsum_i, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"`n_i`, `gsum_i`: expecting numeric arrays ({exc}).") from None
    m = n_f.shape[0]
    if m == 0:
        raise DataValidationError("`n_i`: expecting at least one inner group; got none.")
    if not np.all(np.isfinite(n_f)) or np.any(n_f < 1) or np.any(n_f != np.round(n_f)):
        raise DataValidationError("`n_i`: expecting whole row counts >= 1 per inner group; "
                                  f"found e.g. {n_f[~((n_f >= 1) & (n_f == np.round(n_f)))][:3].tolist()}.")
    if gsum_i.ndim != 2 or gsum_i.shape[0] != m or gsum_i.shape[1] < 1:
        raise DataValidationError(f"`gsum_i`: expecting shape (m={m}, k) (column sums of [X, y] per "
                                  f"inner group); got {gsum_i.shape}.")
    if not np.all(np.isfinite(gsum_i)):
        raise DataValidationError("`gsum_i`: expecting finite values; drop missing rows first.")
    return n_f.astype(np.int64), gsum_i, m, gsum_i.shape[1]


def _check_outer(outer_of, outer_label, m: int):
    """Validated outer codes (sorted, 0..T-1, none empty), their group starts and labels."""
    o = np.asarray(outer_of).reshape(-1)
    if o.shape[0] != m:
        raise DataValidationError(f"`outer_of`: expecting {m} codes (one per inner group); got {o.shape[0]}.")
    if not np.issubdtype(o.dtype, np.integer):
        if not (np.issubdtype(o.dtype, np.floating) and np.all(o == np.round(o))):
            raise DataValidationError(f"`outer_of`: expecting integer codes 0..n_outer-1; got dtype {o.dtype}.")
        o = o.astype(np.int64)
    step = np.diff(o)
    if o[0] != 0 or np.any((step != 0) & (step != 1)):
        bad = np.flatnonzero((step != 0) & (step != 1))
        where = "the first code is not 0" if o[0] != 0 else f"at inner group {int(bad[0]) + 1}"
        raise DataValidationError(
            "`outer_of`: expecting codes 0..n_outer-1, non-decreasing with no gaps (inner groups "
            f"sorted by outer group); {where}. Sort the inner groups by outer group and recode.")
    ostart = np.flatnonzero(np.r_[True, step != 0])
    T = ostart.size
    if outer_label is None:
        outer_label = np.arange(T)
    outer_label = np.asarray(outer_label).reshape(-1)
    if outer_label.shape[0] != T:
        raise DataValidationError(f"`outer_label`: expecting {T} labels (one per outer group); "
                                  f"got {outer_label.shape[0]}.")
    return o, ostart, outer_label


def _check_gg(a, shape, name: str):
    if a is None:
        return None
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"`{name}`: expecting a numeric array ({exc}).") from None
    if a.shape != shape:
        raise DataValidationError(f"`{name}`: expecting shape {shape}; got {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise DataValidationError(f"`{name}`: expecting finite values.")
    return a


def _agree(given, computed, name: str, source: str) -> None:
    """Check a given total against the one summed from finer cross-products.

    A sum of products over rows rounds by at most about ``n eps sum|g_a g_b|`` and, by
    Cauchy-Schwarz, ``sum|g_a g_b| <= sqrt(gg_aa gg_bb)``; 1e-8 of that bound is far above the
    rounding of any summation order and far below any real disagreement.
    """
    if given is None or computed is None:
        return
    d = np.sqrt(np.abs(np.diagonal(computed, axis1=-2, axis2=-1)))
    tol = 1e-8 * (d[..., :, None] * d[..., None, :]) + 1e-300
    if np.any(np.abs(given - computed) > tol):
        raise DataValidationError(f"`{name}`: does not equal the sum of `{source}` (to rounding); "
                                  "pass one of them, or check how they were accumulated.")
