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


@dataclass(frozen=True, eq=False)
class NestedStats:
    """Per-cluster sufficient statistics of a nested linear mixed model (plain NumPy).

    Build with :meth:`from_arrays`. Inner groups are stored sorted by outer group; ``k = p + 1``
    columns of ``G = [X, y]``. Attributes ending in ``_i`` are stacked over inner groups.

    Attributes
    ----------
    n, p, q_in, q_out : int
        Rows, fixed columns, inner and outer random-effect dimensions (``q_out = 0``: no outer).
    n_i : ndarray (m,)
        Rows per inner group.
    gg_i : ndarray (m, k, k)
        ``G'G`` over the rows of each inner group; ``gsum_i`` (m, k) their column sums.
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
    """

    n: int
    p: int
    q_in: int
    q_out: int
    n_i: np.ndarray
    gg_i: np.ndarray
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
        G = np.column_stack([X, y])
        if not np.all(np.isfinite(G)) or not np.all(np.isfinite(Z_in)) or (
            has_out and not np.all(np.isfinite(Z_out))
        ):
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
        G, Zi = G[order], Z_in[order]
        n_i = np.diff(np.r_[starts, n])
        red = np.add.reduceat
        gg_i = red(G[:, :, None] * G[:, None, :], starts, axis=0)
        gsum_i = red(G, starts, axis=0)
        zz_i = red(Zi[:, :, None] * Zi[:, None, :], starts, axis=0)
        zg_i = red(Zi[:, :, None] * G[:, None, :], starts, axis=0)
        zsum_i = red(Zi, starts, axis=0)
        inner_label = inner_lab[ii[starts]]
        zio_i = oo_i = og_i = osum_i = outer_of = ostart = None
        if has_out:
            oi = outer_idx[order]
            Zo = Z_out[order]
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
            zio_i = red(Zi[:, :, None] * Zo[:, None, :], starts, axis=0)
            oo_i = red(Zo[:, :, None] * Zo[:, None, :], starts, axis=0)
            og_i = red(Zo[:, :, None] * G[:, None, :], starts, axis=0)
            osum_i = red(Zo, starts, axis=0)
            outer_of = first
            ostart = np.flatnonzero(np.r_[True, first[1:] != first[:-1]])
        return cls(
            n=int(n), p=X.shape[1], q_in=Zi.shape[1], q_out=Z_out.shape[1] if has_out else 0,
            n_i=n_i, gg_i=gg_i, gsum_i=gsum_i, zz_i=zz_i, zg_i=zg_i, zsum_i=zsum_i,
            zio_i=zio_i, oo_i=oo_i, og_i=og_i, osum_i=osum_i, outer_of=outer_of, ostart=ostart,
            inner_label=inner_label, outer_label=outer_lab, gg=gg_i.sum(axis=0),
            gsum=gsum_i.sum(axis=0),
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
        return replace(
            self, p=int(cols.size), gg_i=self.gg_i[:, g[:, None], g], gsum_i=self.gsum_i[:, g],
            zg_i=self.zg_i[:, :, g], og_i=None if self.og_i is None else self.og_i[:, :, g],
            gg=self.gg[g[:, None], g], gsum=self.gsum[g],
        )

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
            resample. Default: all inner groups of the drawn outer group.
        """
        outer_idx = np.asarray(outer_idx, dtype=int).reshape(-1)
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
        gg_i, gsum_i = self.gg_i[sel], self.gsum_i[sel]
        ostart = None
        if new_outer is not None:
            keep = np.r_[True, new_outer[1:] != new_outer[:-1]]
            ostart = np.flatnonzero(keep)
            new_outer = np.cumsum(keep) - 1
        return replace(
            self, n=int(self.n_i[sel].sum()), n_i=self.n_i[sel], gg_i=gg_i, gsum_i=gsum_i,
            zz_i=self.zz_i[sel], zg_i=self.zg_i[sel], zsum_i=self.zsum_i[sel],
            zio_i=take(self.zio_i), oo_i=take(self.oo_i), og_i=take(self.og_i),
            osum_i=take(self.osum_i), outer_of=new_outer, ostart=ostart,
            inner_label=self.inner_label[sel],
            outer_label=None if self.outer_label is None else self.outer_label[outer_idx],
            gg=gg_i.sum(axis=0), gsum=gsum_i.sum(axis=0),
        )

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
