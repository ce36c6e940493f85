"""Per-cluster sufficient statistics of a nested linear mixed model (see :mod:`.nested`).

The statistics part of the fast nested engine: :class:`NestedStats` (built once from the rows,
then selected, resampled and drawn without touching rows again) and the indexing of the relative
Cholesky factors ``theta``. The deviance lives in :mod:`._nested_deviance`, the optimiser in
:mod:`._nested_fit`; the public door is :mod:`commonfactors.models.nested`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import DataValidationError, EstimationError
from ._nested_checks import _agree, _check_counts_sums, _check_gg, _check_outer
from ._nested_compact import compact_of
from ._nested_sums import _segment_cross, _sorted_columns

SINGULAR_TOL = 1e-4  # lme4::isSingular default
GRAD_TOL = 2e-3  # absolute projected-gradient tolerance on the deviance scale (as lme4's check)


def tri_index(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the lower triangle of a q x q matrix in column-major order
    (the order of ``theta`` and of the covariance rows of a fit)."""
    c, r = np.triu_indices(q)
    return r, c



def _n_theta(q: int) -> int:
    return q * (q + 1) // 2


def _build_l(theta: np.ndarray, q: int) -> np.ndarray:
    L = np.zeros((q, q))
    r, c = tri_index(q)
    L[r, c] = theta
    return L


def _diag_mask(q: int) -> np.ndarray:
    r, c = tri_index(q)
    return r == c


def _views(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` is ``b[:, None, :]`` (same memory, same layout)."""
    return (a.shape == (b.shape[0], 1, b.shape[1]) and a.ctypes.data == b.ctypes.data
            and a.strides[0] == b.strides[0] and a.strides[2] == b.strides[1])


@dataclass(frozen=True, eq=False)
class NestedStats:
    """Per-cluster sufficient statistics of a nested linear mixed model (plain NumPy).

    Build with :meth:`from_arrays` (rows) or :meth:`from_groups` (per-group aggregates of a
    random-intercept model). Inner groups are stored sorted by outer group; ``k = p + 1``
    columns of ``G = [X, y]``. Attributes ending in ``_i`` are stacked over inner groups.

    Attributes
    ----------
    n, p, q_in, q_out : int
        Rows, fixed columns, inner and outer random-effect dimensions (``q_out = 0``: no outer).
    n_i : ndarray (m,)
        Rows per inner group.
    gg_i : ndarray (m, k, k) or None
        ``G'G`` over the rows of each inner group; ``gsum_i`` (m, k) their column sums. None when
        built by :meth:`from_groups` without them: the deviance needs only the total ``gg`` and a
        therapist resample only ``gg_o``; resampling inner groups within outer ones then raises.
        Stored over the columns ``gg_i_cols`` of the ``G`` it was built from when that is not
        None (:meth:`select` does not copy it); :meth:`inner_gg` gives the current columns.
    zz_i, zg_i, zsum_i : ndarray
        ``Z_in'Z_in`` (m, q_in, q_in), ``Z_in'G`` (m, q_in, k), column sums of ``Z_in`` (m, q_in).
    zio_i, oo_i, og_i, osum_i : ndarray or None
        ``Z_in'Z_out`` (m, q_in, q_out), ``Z_out'Z_out`` (m, q_out, q_out), ``Z_out'G`` (m, q_out, k),
        column sums of ``Z_out`` (m, q_out), each over the rows of inner group i.
    outer_of : ndarray (m,) or None
        Outer group (0..n_outer-1, non-decreasing) of each inner group; ``ostart`` its first
        inner group per outer group (for ``np.add.reduceat``).
    inner_label, outer_label : ndarray
        Original codes of the stored inner and outer groups (after :meth:`resample`: the source
        groups, so duplicates repeat).
    gg, gsum : ndarray (k, k), (k,)
        ``G'G`` and the column sums of ``G`` over all rows.
    gg_o : ndarray (n_outer, k, k) or None
        ``G'G`` over the rows of each outer group (None without an outer level, or when built by
        :meth:`from_groups` with only the total).
    """

    n: int
    p: int
    q_in: int
    q_out: int
    n_i: np.ndarray
    gg_i: np.ndarray | None
    gsum_i: np.ndarray
    zz_i: np.ndarray
    zg_i: np.ndarray
    zsum_i: np.ndarray
    zio_i: np.ndarray | None
    oo_i: np.ndarray | None
    og_i: np.ndarray | None
    osum_i: np.ndarray | None
    outer_of: np.ndarray | None
    ostart: np.ndarray | None
    inner_label: np.ndarray
    outer_label: np.ndarray | None
    gg: np.ndarray
    gsum: np.ndarray
    gg_o: np.ndarray | None = None
    gg_i_cols: np.ndarray | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, X, y, Z_in, Z_out=None, inner_codes=None, outer_codes=None) -> NestedStats:
        """Compute the statistics from row-level arrays.

        Parameters
        ----------
        X : array (n, p)
            Fixed-effects design.
        y : array (n,)
            Outcome.
        Z_in : array (n, q_in)
            Inner random-effects design (e.g. ``[1, session]``).
        Z_out : array (n, q_out) or None
            Outer random-effects design; None for a model with one grouping factor.
        inner_codes, outer_codes : array (n,)
            Integer (or any sortable) group ids; each inner group must lie in one outer group.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float).reshape(-1)
        n = y.shape[0]
        if X.ndim != 2 or X.shape[0] != n:
            raise DataValidationError(f"`X`: expecting an array of shape (n={n}, p); got {X.shape}.")
        Z_in = np.asarray(Z_in, dtype=float).reshape(n, -1)
        has_out = Z_out is not None
        if inner_codes is None:
            raise DataValidationError("`inner_codes`: expecting one group id per row; got None.")
        inner_codes = np.asarray(inner_codes).reshape(-1)
        if inner_codes.shape[0] != n:
            raise DataValidationError(
                f"`inner_codes`: expecting {n} ids (one per row); got {inner_codes.shape[0]}."
            )
        if has_out:
            Z_out = np.asarray(Z_out, dtype=float).reshape(n, -1)
            if outer_codes is None:
                raise DataValidationError("`outer_codes`: required when `Z_out` is given.")
            outer_codes = np.asarray(outer_codes).reshape(-1)
            if outer_codes.shape[0] != n:
                raise DataValidationError(
                    f"`outer_codes`: expecting {n} ids (one per row); got {outer_codes.shape[0]}."
                )
        if not all(np.isfinite(a).all() for a in (X, y, Z_in) + ((Z_out,) if has_out else ())):
            raise DataValidationError("`X`, `y`, `Z`: expecting finite values; drop missing rows first.")
        inner_lab, inner_idx = np.unique(inner_codes, return_inverse=True)
        if has_out:
            outer_lab, outer_idx = np.unique(outer_codes, return_inverse=True)
            order = np.lexsort((inner_idx, outer_idx))
        else:
            outer_lab, outer_idx = None, None
            order = np.argsort(inner_idx, kind="stable")
        ii = inner_idx[order]
        starts = np.flatnonzero(np.r_[True, ii[1:] != ii[:-1]])
        # columns of the sorted rows, one contiguous row each: G' = [X, y]' (k, n) and Z_in'
        Gt = _sorted_columns(X, order, extra=y)
        Zit = _sorted_columns(Z_in, order)
        n_i = np.diff(np.r_[starts, n])
        gg_i = _segment_cross(Gt, Gt, starts)
        gsum_i = np.ascontiguousarray(np.add.reduceat(Gt, starts, axis=1).T)
        zz_i = _segment_cross(Zit, Zit, starts)
        # a random intercept's Z'G is gsum_i exactly (1 * g = g, same sums): share it
        intercept = Zit.shape[0] == 1 and bool(np.all(Zit == 1.0))
        zg_i = gsum_i[:, None, :] if intercept else _segment_cross(Zit, Gt, starts)
        zsum_i = np.add.reduceat(Zit, starts, axis=1).T
        inner_label = inner_lab[ii[starts]]
        zio_i = oo_i = og_i = osum_i = outer_of = ostart = None
        if has_out:
            oi = outer_idx[order]
            Zot = _sorted_columns(Z_out, order)
            # nesting: every inner group within one outer group
            first = oi[starts]
            seg_min = np.minimum.reduceat(oi, starts)
            seg_max = np.maximum.reduceat(oi, starts)
            if np.any(seg_min != seg_max):
                bad = inner_label[seg_min != seg_max][:5]
                raise DataValidationError(
                    "inner groups are not nested in outer groups: inner group(s) "
                    f"{', '.join(map(str, bad))} occur in more than one outer group. Use ids that "
                    "are unique across outer groups, or fit crossed factors with another tool."
                )
            # each inner id must map to one outer: sorted by (outer, inner), so an inner id split
            # across outer groups appears as two segments with the same inner label
            if len(np.unique(inner_label)) != len(inner_label):
                _, cnt = np.unique(inner_label, return_counts=True)
                bad = np.unique(inner_label)[cnt > 1][:5]
                raise DataValidationError(
                    "inner groups are not nested in outer groups: inner group(s) "
                    f"{', '.join(map(str, bad))} occur in more than one outer group. Use ids that "
                    "are unique across outer groups (e.g. therapist + client), or check the data."
                )
            zio_i = _segment_cross(Zit, Zot, starts)
            oo_i = _segment_cross(Zot, Zot, starts)
            intercept = Zot.shape[0] == 1 and bool(np.all(Zot == 1.0))
            og_i = gsum_i[:, None, :] if intercept else _segment_cross(Zot, Gt, starts)
            osum_i = np.add.reduceat(Zot, starts, axis=1).T
            outer_of = first
            ostart = np.flatnonzero(np.r_[True, first[1:] != first[:-1]])
        return cls(
            n=int(n), p=X.shape[1], q_in=Zit.shape[0], q_out=Z_out.shape[1] if has_out else 0,
            n_i=n_i, gg_i=gg_i, gsum_i=gsum_i, zz_i=zz_i, zg_i=zg_i, zsum_i=zsum_i,
            zio_i=zio_i, oo_i=oo_i, og_i=og_i, osum_i=osum_i, outer_of=outer_of, ostart=ostart,
            inner_label=inner_label, outer_label=outer_lab, gg=gg_i.sum(axis=0),
            gsum=gsum_i.sum(axis=0),
            gg_o=None if ostart is None else np.add.reduceat(gg_i, ostart, axis=0),
        )

    @classmethod
    def from_groups(cls, *, n_i, gsum_i, inner_label, outer_of=None, outer_label=None,
                    gg_i=None, gg_o=None, gg=None) -> NestedStats:
        """Statistics of a random-intercept model from per-group aggregates (no rows needed).

        For ``y ~ X + (1 | inner)`` or ``y ~ X + (1 | outer) + (1 | inner)`` every ``Z`` block
        is a column of ones, so ``Z_in'Z_in = Z_in'Z_out = Z_out'Z_out = n_i`` and
        ``Z_in'G = Z_out'G = gsum_i`` per inner group: the row counts and column sums of
        ``G = [X, y]`` plus the cross-products ``G'G`` determine the model. ``G'G`` may be given per
        inner group, per outer group or only in total; what is not kept limits what
        :meth:`resample` can do (see Raises there).

        Parameters
        ----------
        n_i : array of int (m,)
            Rows per inner group (each >= 1).
        gsum_i : array (m, k)
            Column sums of ``G = [X, y]`` (``k = p + 1``, outcome last) per inner group.
        inner_label : array (m,)
            Unique codes of the inner groups (kept as :attr:`inner_label`).
        outer_of : array of int (m,), optional
            Outer group of each inner group as codes ``0..n_outer-1``, non-decreasing (inner
            groups sorted by outer group), every code present. None: one grouping factor.
        outer_label : array (n_outer,), optional
            Codes of the outer groups (default ``0..n_outer-1``).
        gg_i : array (m, k, k), optional
            ``G'G`` per inner group (needed only to resample inner groups within outer ones).
        gg_o : array (n_outer, k, k), optional
            ``G'G`` per outer group (enough for a bootstrap that resamples outer groups).
        gg : array (k, k), optional
            Total ``G'G``; computed from ``gg_i`` or ``gg_o`` when None, and checked against them
            (to rounding) when both are given. At least one of the three is required.

        Returns
        -------
        NestedStats
            With ``q_in = 1`` and ``q_out = 1`` (0 without ``outer_of``).

        Raises
        ------
        DataValidationError
            On shapes, non-finite values, counts that are not positive integers, duplicate inner
            labels, outer codes that are not sorted or not ``0..n_outer-1``, or totals that
            disagree.

        Examples
        --------
        >>> import numpy as np
        >>> from commonfactors.models.nested import NestedStats
        >>> st = NestedStats.from_groups(n_i=np.array([2, 3]), gsum_i=np.array([[2., 1.], [3., 4.]]),
        ...                              inner_label=np.array([10, 11]), gg=np.array([[5., 5.], [5., 9.]]))
        >>> st.n, st.p, st.n_inner
        (5, 1, 2)
        """
        n_i, gsum_i, m, k = _check_counts_sums(n_i, gsum_i)
        inner_label = np.asarray(inner_label).reshape(-1)
        if inner_label.shape[0] != m:
            raise DataValidationError(
                f"`inner_label`: expecting {m} labels (one per inner group); got {inner_label.shape[0]}.")
        uniq, cnt = np.unique(inner_label, return_counts=True)
        if uniq.size != m:
            raise DataValidationError(
                "`inner_label`: expecting unique labels (an inner group lies in one outer group); "
                f"repeated: {', '.join(map(str, uniq[cnt > 1][:5]))}.")
        ostart = None
        if outer_of is not None:
            outer_of, ostart, outer_label = _check_outer(outer_of, outer_label, m)
        elif outer_label is not None or gg_o is not None:
            raise DataValidationError("`outer_label`/`gg_o`: given without `outer_of`; pass the outer "
                                      "group of each inner group, or leave them out.")
        T = 0 if ostart is None else ostart.size
        gg_i = _check_gg(gg_i, (m, k, k), "gg_i")
        gg_o = _check_gg(gg_o, (T, k, k), "gg_o")
        gg = _check_gg(gg, (k, k), "gg")
        if gg_i is None and gg_o is None and gg is None:
            raise DataValidationError("`gg_i`, `gg_o`, `gg`: expecting at least one of the cross-"
                                      "products G'G (per inner group, per outer group or total).")
        # a total given is kept (checked against the parts): the fit then does not depend on
        # which per-group parts were kept for a bootstrap
        if gg_i is not None:
            _agree(gg_o, np.add.reduceat(gg_i, ostart, axis=0) if T else None, "gg_o", "gg_i")
            gg_o = np.add.reduceat(gg_i, ostart, axis=0) if T else None
            _agree(gg, gg_i.sum(axis=0), "gg", "gg_i")
            gg = gg_i.sum(axis=0) if gg is None else gg
        elif gg_o is not None:
            _agree(gg, gg_o.sum(axis=0), "gg", "gg_o")
            gg = gg_o.sum(axis=0) if gg is None else gg
        one = n_i.astype(float)[:, None, None]
        zg = gsum_i[:, None, :]
        has_out = T > 0
        return cls(
            n=int(n_i.sum()), p=k - 1, q_in=1, q_out=1 if has_out else 0, n_i=n_i, gg_i=gg_i,
            gsum_i=gsum_i, zz_i=one, zg_i=zg, zsum_i=one[:, 0, :],
            zio_i=one if has_out else None, oo_i=one if has_out else None,
            og_i=zg if has_out else None, osum_i=one[:, 0, :] if has_out else None,
            outer_of=outer_of, ostart=ostart, inner_label=inner_label, outer_label=outer_label,
            gg=gg, gsum=gsum_i.sum(axis=0), gg_o=gg_o,
        )

    # ------------------------------------------------------------------ sizes
    @property
    def k(self) -> int:
        return self.p + 1

    @property
    def n_inner(self) -> int:
        return int(self.n_i.shape[0])

    @property
    def n_outer(self) -> int:
        return 0 if self.ostart is None else int(self.ostart.shape[0])

    @property
    def n_theta(self) -> int:
        return _n_theta(self.q_in) + (_n_theta(self.q_out) if self.q_out else 0)

    def inner_groups_of(self, outer: int) -> np.ndarray:
        """Positions of the inner groups stored under outer group ``outer``."""
        if self.ostart is None:
            raise EstimationError("`inner_groups_of`: these statistics have no outer groups.")
        stop = self.ostart[outer + 1] if outer + 1 < self.n_outer else self.n_inner
        return np.arange(self.ostart[outer], stop)

    # ------------------------------------------------------------------ derived statistics
    def select(self, cols) -> NestedStats:
        """The same statistics with only the fixed columns ``cols`` (indices into X)."""
        cols = np.asarray(cols, dtype=int).reshape(-1)
        if cols.size and (cols.min() < 0 or cols.max() >= self.p):
            raise EstimationError(f"`cols`: expecting indices in 0..{self.p - 1}; got {cols.tolist()}.")
        g = np.r_[cols, self.p]
        go = None if self.gg_o is None else self.gg_o[:, g[:, None], g]
        gsum_i = np.take(self.gsum_i, g, axis=1)  # (faster than [:, g] on a million rows)
        # Z'G of a random intercept is gsum_i itself (from_groups, from_arrays): keep sharing it
        zg_i = gsum_i[:, None, :] if _views(self.zg_i, self.gsum_i) else np.take(self.zg_i, g, axis=2)
        og_i = self.og_i
        if og_i is not None:
            og_i = gsum_i[:, None, :] if _views(og_i, self.gsum_i) else np.take(og_i, g, axis=2)
        out = replace(
            self, p=int(cols.size), gsum_i=gsum_i, zg_i=zg_i, og_i=og_i,
            gg=self.gg[g[:, None], g], gsum=self.gsum[g], gg_o=go,
            gg_i_cols=None if self.gg_i is None else (g if self.gg_i_cols is None else self.gg_i_cols[g]),
        )
        # the class sums of the deviance: built once here, selected for every subset
        cp = compact_of(self)
        object.__setattr__(out, "_compact", False if cp is None else cp.select(g))
        return out

    def resample(self, outer_idx, inner_idx=None) -> NestedStats:
        """Cluster-bootstrap statistics from drawn groups, without touching the rows.

        Parameters
        ----------
        outer_idx : array of int
            Outer groups drawn (with replacement); duplicates become distinct groups. For a
            model with one grouping factor these index the (only) groups.
        inner_idx : sequence of int arrays, optional
            One array per entry of ``outer_idx``: positions of the inner groups (as stored, see
            :meth:`inner_groups_of`) to place under that drawn outer group, e.g. a within-outer
            resample. Default: all inner groups of the drawn outer group; the result then keeps
            the per-outer-group cross-products ``gg_o`` only (``gg_i`` None), so it cannot be
            resampled within outer groups again.

        Raises
        ------
        EstimationError
            When the draw needs per-inner-group cross-products ``gg_i`` that were not kept
            (:meth:`from_groups` without ``gg_i``): resampling inner groups (within outer groups,
            or of a model with one grouping factor), or outer groups without ``gg_o``.
        """
        outer_idx = np.asarray(outer_idx, dtype=int).reshape(-1)
        if self.gg_i is None and (inner_idx is not None or self.gg_o is None):
            what = ("inner groups within outer groups" if inner_idx is not None else
                    "groups" if self.ostart is None else "outer groups")
            raise EstimationError(
                f"`resample`: cannot resample {what}: the per-client cross-products G'G (`gg_i`) "
                "were not kept when these statistics were built"
                + ("" if self.ostart is None or inner_idx is not None else " and neither were the per-outer-group ones (`gg_o`)")
                + ". Rebuild them with `gg_i` (or `gg_o` to resample outer groups only), or "
                "resample outer groups only.")
        if self.ostart is None:
            if inner_idx is not None:
                raise EstimationError("`inner_idx`: only for statistics with an outer group.")
            sel = outer_idx
            new_outer = None
        else:
            if inner_idx is None:
                stops = np.r_[self.ostart[1:], self.n_inner]
                lens = stops[outer_idx] - self.ostart[outer_idx]
                sel = np.repeat(self.ostart[outer_idx] - np.r_[0, np.cumsum(lens)[:-1]], lens)
                sel = sel + np.arange(lens.sum())
            else:
                if len(inner_idx) != len(outer_idx):
                    raise EstimationError(
                        f"`inner_idx`: expecting {len(outer_idx)} arrays (one per drawn outer "
                        f"group); got {len(inner_idx)}."
                    )
                parts = [np.asarray(a, dtype=int).reshape(-1) for a in inner_idx]
                lens = np.array([len(a) for a in parts])
                sel = np.concatenate(parts)
            new_outer = np.repeat(np.arange(len(outer_idx)), lens)
        if sel.size == 0:
            raise EstimationError("`outer_idx`: the resample has no groups.")
        take = lambda a: None if a is None else a[sel]  # noqa: E731
        # Z'G of a random intercept shares gsum_i (see select)
        gsum_i_sel = self.gsum_i[sel]
        zg_i = gsum_i_sel[:, None, :] if _views(self.zg_i, self.gsum_i) else self.zg_i[sel]
        og_i = self.og_i
        if og_i is not None:
            og_i = gsum_i_sel[:, None, :] if _views(og_i, self.gsum_i) else og_i[sel]
        # an outer-group draw needs only the per-outer G'G: the copy of gg_i (2.6 GB for a
        # million clients x 18 columns) is skipped, and the draw keeps none
        keep_i = inner_idx is not None or self.gg_o is None
        gg_i, gsum_i = self.inner_gg(sel) if keep_i else None, gsum_i_sel
        ostart = gg_o = None
        if new_outer is not None:
            keep = np.r_[True, new_outer[1:] != new_outer[:-1]]
            ostart = np.flatnonzero(keep)
            new_outer = np.cumsum(keep) - 1
            if inner_idx is None and self.gg_o is not None:
                gg_o = self.gg_o[outer_idx]
            else:
                gg_o = np.add.reduceat(gg_i, ostart, axis=0)
        gg = gg_i.sum(axis=0) if gg_i is not None else gg_o.sum(axis=0)
        return replace(
            self, n=int(self.n_i[sel].sum()), n_i=self.n_i[sel], gg_i=gg_i, gsum_i=gsum_i,
            zz_i=self.zz_i[sel], zg_i=zg_i, zsum_i=self.zsum_i[sel],
            zio_i=take(self.zio_i), oo_i=take(self.oo_i), og_i=og_i, gg_i_cols=None,
            osum_i=take(self.osum_i), outer_of=new_outer, ostart=ostart,
            inner_label=self.inner_label[sel],
            outer_label=None if self.outer_label is None else self.outer_label[outer_idx],
            gg=gg, gsum=gsum_i.sum(axis=0), gg_o=gg_o,
        )

    def inner_gg(self, sel=None) -> np.ndarray | None:
        """``G'G`` per inner group over the current columns (rows ``sel`` only, if given)."""
        if self.gg_i is None:
            return None
        a = self.gg_i if sel is None else self.gg_i[sel]
        c = self.gg_i_cols
        return a if c is None else a[:, c[:, None], c]

    def draw(self, rng: np.random.Generator, *, inner: bool = False) -> NestedStats:
        """One cluster-bootstrap draw: outer groups with replacement (inner ones too if asked)."""
        top = self.n_outer if self.ostart is not None else self.n_inner
        outer_idx = rng.integers(0, top, size=top)
        if inner and self.ostart is not None:
            members = [self.inner_groups_of(j) for j in outer_idx]
            return self.resample(outer_idx, [rng.choice(m, size=m.size, replace=True) for m in members])
        return self.resample(outer_idx)

    def _cov(self, ss: np.ndarray, s: np.ndarray) -> np.ndarray:
        m = s / self.n
        return (ss - self.n * np.outer(m, m)) / (self.n - 1)

    def g_cov(self) -> np.ndarray:
        """Covariance of the columns of ``G = [X, y]`` over rows (n - 1 denominator)."""
        return self._cov(self.gg, self.gsum)

    def x_cov(self) -> np.ndarray:
        """Covariance of the X columns over rows (n - 1 denominator)."""
        p = self.p
        return self._cov(self.gg[:p, :p], self.gsum[:p])

    def x_mean(self) -> np.ndarray:
        """Means of the X columns over rows."""
        return self.gsum[: self.p] / self.n

    def y_var(self) -> float:
        """Variance of the outcome over rows (n - 1 denominator)."""
        return float(self._cov(self.gg[-1:, -1:], self.gsum[-1:])[0, 0])

    def z_mean(self, level: str = "inner") -> np.ndarray:
        """Means over rows of the random-effect design columns of ``level`` ("inner"/"outer")."""
        s = self.zsum_i if level == "inner" else self.osum_i
        if s is None:
            raise EstimationError("`level`: these statistics have no outer random effects.")
        return s.sum(axis=0) / self.n

    def z_cov(self, level: str = "inner") -> np.ndarray:
        """Covariance over rows (n - 1 denominator) of the random-effect design columns."""
        ss, s = (self.zz_i, self.zsum_i) if level == "inner" else (self.oo_i, self.osum_i)
        if s is None:
            raise EstimationError("`level`: these statistics have no outer random effects.")
        return self._cov(ss.sum(axis=0), s.sum(axis=0))
