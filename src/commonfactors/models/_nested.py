"""Profiled (RE)ML for nested linear mixed models from per-cluster sufficient statistics.

This is the numerical core behind :func:`commonfactors.fit_mixed` (``engine="fast"``) and the hot
path of the decomposition and bootstrap modules. It works on plain NumPy arrays only, so its
objects pickle cheaply and can be shipped to worker processes.

Model
-----
``y = X b + Z_in u_i + Z_out u_o + e`` for inner groups ``i`` (e.g. clients) nested in outer groups
``o`` (e.g. therapists), ``u_i ~ N(0, T_in)``, ``u_o ~ N(0, T_out)``, ``e ~ N(0, s2 I)``. As in lme4,
``T = s2 L L'`` with ``L`` lower triangular; ``theta`` holds the lower triangles of ``L_in`` and then
``L_out``, each in column-major order (for ``q = 2``: ``L[0,0], L[1,0], L[1,1]``). Diagonal elements
are bounded below by 0. A model with one grouping factor has no outer part.

Notes
-----
With ``Lam = blockdiag(L_in per inner group, L_out per outer group)``, ``W = [Z_in, Z_out]`` and
``V* = I + W Lam Lam' W'``, the matrix ``M = Lam' W'W Lam + I`` has an arrow structure: blocks
``A_i = L_in' Z_i'Z_i L_in + I`` on the inner diagonal, ``D_o = sum_{i in o} L_out' Z_o'Z_o|_i L_out + I``
on the outer diagonal and ``B_i = L_in' Z_i'Z_o|_i L_out`` linking each inner group to its outer group.
Block elimination of the inner groups gives the outer Schur complements
``S_o = D_o - sum_{i in o} B_i' A_i^{-1} B_i`` and

* ``log det V* = sum_i log det A_i + sum_o log det S_o``;
* ``G'V*^{-1}G = G'G - sum_i r_i' A_i^{-1} r_i - sum_o h_o' S_o^{-1} h_o`` for ``G = [X, y]``,
  ``r_i = L_in' Z_i'G_i`` and ``h_o = sum_{i in o} (L_out' Z_o'G|_i - B_i' A_i^{-1} r_i)``.

From ``Omega = G'V*^{-1}G``: ``P = Omega_XX``, ``b = P^{-1} Omega_Xy``, ``r2 = Omega_yy - Omega_yX b``,
``-2 logL_ML = log det V* + n (1 + log(2 pi r2 / n))`` and
``-2 logL_REML = log det V* + log det P + (n - p)(1 + log(2 pi r2 / (n - p)))`` (Bates et al. 2015,
eqs. 34 and 41), ``s2 = r2 / n`` (ML) or ``r2 / (n - p)`` (REML), ``vcov(b) = s2 P^{-1}``.
These are the criteria lme4 reports as ``deviance`` and ``REMLcrit``. Conditional modes of the
spherical effects solve ``M v = Lam'W'(y - X b)`` with the same elimination; the conditional
covariance of ``u = Lam v`` is ``s2 Lam M^{-1} Lam'`` (lme4's ``condVar``, which treats ``b`` as
known).

References
----------
1. Bates, D., Maechler, M., Bolker, B. & Walker, S. (2015). Fitting linear mixed-effects models
   using lme4. Journal of Statistical Software, 67(1), 1-48.
2. Pinheiro, J. C. & Bates, D. M. (2000). Mixed-Effects Models in S and S-PLUS. Springer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import DataValidationError, EstimationError

__all__ = [
    "NestedStats", "CoreFit", "fit_nested", "conditional_modes", "profiled_deviance", "evaluate_at",
    "theta_from_cov", "default_theta0",
]

_LOG2PI = np.log(2.0 * np.pi)
SINGULAR_TOL = 1e-4  # lme4::isSingular default
GRAD_TOL = 2e-3  # absolute projected-gradient tolerance on the deviance scale (as lme4's check)


def _tri_index(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the lower triangle of a q x q matrix in column-major order."""
    c, r = np.triu_indices(q)
    return r, c


def _n_theta(q: int) -> int:
    return q * (q + 1) // 2


def _build_l(theta: np.ndarray, q: int) -> np.ndarray:
    L = np.zeros((q, q))
    r, c = _tri_index(q)
    L[r, c] = theta
    return L


def _diag_mask(q: int) -> np.ndarray:
    r, c = _tri_index(q)
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


# ---------------------------------------------------------------------- deviance
def _split_theta(stats: NestedStats, theta: np.ndarray):
    ni = _n_theta(stats.q_in)
    Li = _build_l(theta[:ni], stats.q_in)
    Lo = _build_l(theta[ni:], stats.q_out) if stats.q_out else None
    return Li, Lo


def _omega(stats: NestedStats, theta: np.ndarray):
    """log det V* and Omega = G'V*^{-1}G for one theta (vectorised over groups)."""
    k = stats.k
    if stats.q_in == 1 and stats.q_out <= 1:  # scalar path
        li = theta[0]
        zz = stats.zz_i[:, 0, 0]
        A = li * li * zz + 1.0
        r = li * stats.zg_i[:, 0, :]
        rA = r / A[:, None]
        logdet = np.log(A).sum()
        omega = stats.gg - r.T @ rA
        if stats.q_out:
            lo = theta[1]
            B = (li * lo) * stats.zio_i[:, 0, 0]
            BA = B / A
            S = np.add.reduceat(lo * lo * stats.oo_i[:, 0, 0] - B * BA, stats.ostart) + 1.0
            h = np.add.reduceat(lo * stats.og_i[:, 0, :] - BA[:, None] * r, stats.ostart, axis=0)
            logdet += np.log(S).sum()
            omega = omega - h.T @ (h / S[:, None])
        return logdet, omega
    Li, Lo = _split_theta(stats, theta)
    Ainv, logdet = _inv_small(Li.T @ stats.zz_i @ Li + np.eye(stats.q_in))
    r = Li.T @ stats.zg_i
    Ar = Ainv @ r
    omega = stats.gg - r.reshape(-1, k).T @ Ar.reshape(-1, k)
    if stats.q_out:
        B = Li.T @ stats.zio_i @ Lo
        BT = np.swapaxes(B, 1, 2)
        S = np.add.reduceat(Lo.T @ stats.oo_i @ Lo - BT @ Ainv @ B, stats.ostart, axis=0)
        S = S + np.eye(stats.q_out)
        h = np.add.reduceat(Lo.T @ stats.og_i - BT @ Ar, stats.ostart, axis=0)
        Sinv, ld_s = _inv_small(S)
        logdet += ld_s
        omega = omega - h.reshape(-1, k).T @ (Sinv @ h).reshape(-1, k)
    return logdet, omega


def _inv_small(A: np.ndarray):
    """Inverse and log-determinant of a stack of small SPD matrices (closed form for q <= 2)."""
    q = A.shape[-1]
    if q == 1:
        return 1.0 / A, np.log(A[..., 0, 0]).sum()
    if q == 2:
        a, b, c, d = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
        det = a * d - b * c
        inv = np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2) / det[..., None, None]
        return inv, np.log(det).sum()
    return np.linalg.inv(A), np.linalg.slogdet(A)[1].sum()


def _tail(stats: NestedStats, logdet: float, omega: np.ndarray, reml: bool):
    p = stats.p
    if p:
        P = omega[:p, :p]
        cP = np.linalg.cholesky(P)
        w = np.linalg.solve(cP, omega[:p, p])
        r2 = omega[p, p] - w @ w
        logdet_p = 2.0 * np.log(np.diag(cP)).sum()
    else:
        r2, logdet_p = omega[0, 0], 0.0
    nu = stats.n - p if reml else stats.n
    dev = logdet + nu * (1.0 + _LOG2PI + np.log(r2 / nu))
    if reml:
        dev += logdet_p
    return dev, r2, nu


def _profile(stats: NestedStats, theta: np.ndarray, reml: bool):
    logdet, omega = _omega(stats, theta)
    dev, r2, nu = _tail(stats, logdet, omega, reml)
    return dev, omega, r2, nu


def _k_matrix(omega: np.ndarray, p: int, r2: float, nu: float, reml: bool) -> np.ndarray:
    b = np.linalg.solve(omega[:p, :p], omega[:p, p]) if p else np.zeros(0)
    c = np.r_[-b, 1.0]
    K = (nu / r2) * np.outer(c, c)
    if reml and p:
        K[:p, :p] += np.linalg.inv(omega[:p, :p])
    return K


def _dev_grad_scalar(stats: NestedStats, theta: np.ndarray, reml: bool):
    """:func:`_dev_grad` for one random intercept (or slope) per level: all blocks are scalars."""
    li = theta[0]
    zz, zg = stats.zz_i[:, 0, 0], stats.zg_i[:, 0, :]
    A = li * li * zz + 1.0
    Ainv = 1.0 / A
    R = li * zg
    AR = R * Ainv[:, None]
    logdet = np.log(A).sum()
    if stats.q_out:
        lo = theta[1]
        zio = stats.zio_i[:, 0, 0]
        B = li * lo * zio
        AB = B * Ainv
        OOs = np.add.reduceat(stats.oo_i[:, 0, 0], stats.ostart)
        S = lo * lo * OOs - np.add.reduceat(B * AB, stats.ostart) + 1.0
        Sinv = 1.0 / S
        logdet += np.log(S).sum()
        OGs = np.add.reduceat(stats.og_i[:, 0, :], stats.ostart, axis=0)
        Ro = lo * OGs
        Qo = (Ro - np.add.reduceat(AB[:, None] * R, stats.ostart, axis=0)) * Sinv[:, None]
        Qo_i = Qo[stats.outer_of]
        Qi = AR - AB[:, None] * Qo_i
        omega = stats.gg - R.T @ Qi - Ro.T @ Qo
    else:
        Qi = AR
        omega = stats.gg - R.T @ Qi
    dev, r2, nu = _tail(stats, logdet, omega, reml)
    K = _k_matrix(omega, stats.p, r2, nu, reml)
    QiK = Qi @ K
    N_ii = Ainv + np.einsum("ij,ij->i", QiK, Qi)
    g_in = -2.0 * np.einsum("ij,ij->", zg, QiK)
    if stats.q_out:
        SinvI = Sinv[stats.outer_of]
        N_ii = N_ii + AB * AB * SinvI
        N_io = -AB * SinvI + np.einsum("ij,ij->i", QiK, Qo_i)
        QoK = Qo @ K
        N_oo = Sinv + np.einsum("ij,ij->i", QoK, Qo)
        g_in += 2.0 * (li * zz @ N_ii + lo * zio @ N_io)
        g_out = 2.0 * (li * zio @ N_io + lo * OOs @ N_oo) - 2.0 * np.einsum("ij,ij->", OGs, QoK)
        return float(dev), np.array([g_in, g_out])
    g_in += 2.0 * li * zz @ N_ii
    return float(dev), np.array([g_in])


def _dev_grad(stats: NestedStats, theta: np.ndarray, reml: bool):
    """Profiled deviance and its analytic gradient in theta.

    d dev = tr(M^{-1} dM) + tr(K dOmega), K = [P^{-1} (REML only)] + (nu / r2) c c', c = [-b, 1];
    tr(K dOmega) = <dM, Q K Q'> - 2 <dR, Q K> with R = Lam'W'G and Q = M^{-1} R, so the gradient
    is a contraction of the block derivatives of M and R with N = M^{-1} + Q K Q'.
    """
    qi, qo, k, p = stats.q_in, stats.q_out, stats.k, stats.p
    if qi == 1 and qo <= 1:
        return _dev_grad_scalar(stats, theta, reml)
    Li, Lo = _split_theta(stats, theta)
    ZZL = stats.zz_i @ Li
    Ainv, logdet = _inv_small(Li.T @ ZZL + np.eye(qi))
    R = Li.T @ stats.zg_i
    AR = Ainv @ R
    if qo:
        ZOL = stats.zio_i @ Lo
        B = Li.T @ ZOL
        BT = np.swapaxes(B, 1, 2)
        AB = Ainv @ B
        OOs = np.add.reduceat(stats.oo_i, stats.ostart, axis=0)
        S = Lo.T @ OOs @ Lo - np.add.reduceat(BT @ AB, stats.ostart, axis=0) + np.eye(qo)
        Sinv, ld_s = _inv_small(S)
        logdet += ld_s
        OGs = np.add.reduceat(stats.og_i, stats.ostart, axis=0)
        Ro = Lo.T @ OGs
        h = Ro - np.add.reduceat(BT @ AR, stats.ostart, axis=0)
        Qo = Sinv @ h
        Qo_i = Qo[stats.outer_of]
        Qi = AR - AB @ Qo_i
        # R'M^{-1}R = sum_i R_i'Q_i + sum_o R_o'Q_o
        omega = stats.gg - R.reshape(-1, k).T @ Qi.reshape(-1, k) - Ro.reshape(-1, k).T @ Qo.reshape(-1, k)
    else:
        Qi = AR
        omega = stats.gg - R.reshape(-1, k).T @ Qi.reshape(-1, k)
    dev, r2, nu = _tail(stats, logdet, omega, reml)
    K = _k_matrix(omega, p, r2, nu, reml)
    QiK = Qi @ K
    N_ii = Ainv + QiK @ np.swapaxes(Qi, 1, 2)
    if qo:
        SinvI = Sinv[stats.outer_of]
        N_ii = N_ii + AB @ SinvI @ np.swapaxes(AB, 1, 2)
        N_io = -AB @ SinvI + QiK @ np.swapaxes(Qo_i, 1, 2)
        N_oo = Sinv + Qo @ K @ np.swapaxes(Qo, 1, 2)
        g_in = 2.0 * (ZZL @ N_ii + ZOL @ np.swapaxes(N_io, 1, 2)).sum(0)
        g_out = 2.0 * ((np.swapaxes(stats.zio_i, 1, 2) @ Li @ N_io).sum(0) + (OOs @ Lo @ N_oo).sum(0))
        g_out -= 2.0 * (OGs @ K @ np.swapaxes(Qo, 1, 2)).sum(0)
    else:
        g_in = 2.0 * (ZZL @ N_ii).sum(0)
    g_in -= 2.0 * (stats.zg_i @ np.swapaxes(QiK, 1, 2)).sum(0)
    r, cc = _tri_index(qi)
    grad = [g_in[r, cc]]
    if qo:
        r, cc = _tri_index(qo)
        grad.append(g_out[r, cc])
    return float(dev), np.concatenate(grad)


def profiled_deviance(stats: NestedStats, theta, reml: bool = True) -> float:
    """The profiled deviance (-2 log-likelihood, REML or ML) at ``theta``."""
    theta = np.asarray(theta, dtype=float)
    try:
        dev = _profile(stats, theta, reml)[0]
    except (np.linalg.LinAlgError, FloatingPointError):
        return np.inf
    return float(dev) if np.isfinite(dev) else np.inf


# the optimiser and the estimates at the optimum live in _nested_fit (kept apart for size)
from ._nested_fit import (  # noqa: E402
    CoreFit,
    conditional_modes,
    default_theta0,
    evaluate_at,
    fit_nested,
    theta_from_cov,
)
