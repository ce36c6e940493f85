"""General linear mixed models: profiled (RE)ML by penalized least squares with a sparse Cholesky.

The engine behind :func:`commonfactors.fit_mixed` for every random part the nested
sufficient-statistics path (:mod:`.nested`) cannot take: any number of grouping factors,
nested or crossed, several terms per factor (``||``), random slopes at any level.

Model and parametrisation (Bates, Maechler, Bolker & Walker 2015, sections 3.1-3.4)
---------------------------------------------------------------------------------
``y = X b + Z u + e`` with ``u = Lambda_theta v``, ``v ~ N(0, s2 I)``, ``e ~ N(0, s2 I)``. The
random terms are ordered by decreasing number of levels (lme4's order); term ``k`` with ``p_k``
columns and ``l_k`` levels contributes ``l_k`` blocks ``L_k`` (lower triangular, ``p_k x p_k``) to
the block-diagonal ``Lambda``, and ``theta`` lists the lower triangles of ``L_1, L_2, ...`` in
column-major order (lme4's ``getME(fit, "theta")``); diagonal elements are bounded below by 0.

For one ``theta``, with ``A = Lambda' Z'Z Lambda + I``, ``G = [X, y]`` and ``R = Lambda' Z'G``:
``log det V* = log det A`` and ``G'V*^{-1}G = G'G - R'A^{-1}R``; the profiled REML/ML deviance
then follows exactly as in :mod:`.nested` (Bates et al. 2015, eqs. 34 and 41). Everything is
computed from the cross-products ``Z'Z``, ``Z'G`` and ``G'G`` made once, so an evaluation does
not touch the rows.

The Cholesky factor of ``A`` is organised around its structure: the rows of the first term (the
factor with most levels) make ``A_11`` block diagonal (one ``p_1 x p_1`` block per level), so it
is inverted in closed form, and only the Schur complement ``S = A_22 - A_21 A_11^{-1} A_12`` of
the remaining terms is factorised: dense Cholesky when it is small (nested models: the outer
factors; crossed models: the smaller factor), SuperLU on the sparse ``S`` when it is large.
``log det A = log det A_11 + log det S``.

Optimisation: L-BFGS-B on ``theta`` with central-difference gradients, then Newton steps on a
difference Hessian; lme4's convergence check (the gradient scaled by the Cholesky factor of the
Hessian, tolerance 2e-3) and singular check (a diagonal element of some ``L_k`` below 1e-4);
diagonals that end on their bound are probed off it (the deviance is even in them). A direction
in which the deviance is flat (a non-identified variance) shows as a near-zero eigenvalue of
the Hessian; it is reported, never passed as a converged optimum.

References
----------
1. Bates, D., Maechler, M., Bolker, B. & Walker, S. (2015). Fitting linear mixed-effects models
   using lme4. Journal of Statistical Software, 67(1), 1-48.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve

from ..errors import EstimationError
from ._nested_deviance import _inv_small, _tail
from ._nested_stats import _build_l, _n_theta
from ._nested_stats import tri_index as _tri_index

__all__ = ["GeneralStats", "deviance", "dev_grad", "select_columns"]

_DENSE_LIMIT = 3000  # Schur complements up to this size are factorised densely


@dataclass(frozen=True)
class TermLayout:
    """One elimination block: the random terms of one grouping factor, side by side.

    Terms on the same factor (``(1 | g) + (0 + x | g)``, ``(x || g)``) share the levels, so
    they are handled as one block whose relative factor is block diagonal; ``lmap`` says which
    theta element fills which entry of that factor (rows, cols, theta index).
    """

    label: str
    p: int  # columns of the block
    levels: int
    offset: int  # first column of the block in Z (after ordering)
    lmap: tuple  # (rows, cols, theta indices)
    members: tuple = ()  # indices of the random terms (as given) in this block, in column order


@dataclass(frozen=True)
class OrigTerm:
    label: str
    p: int
    theta_start: int


@dataclass(frozen=True, eq=False)
class GeneralStats:
    """Cross-products of a general mixed model, stored as dense blocks (see module docstring).

    ``c1[k]`` holds the ``p_1 x p_k`` blocks of ``Z_1'Z_k`` for every observed pair (level a of
    term 1, level b of term k), ``c22[(k, m)]`` the blocks of ``Z_k'Z_m`` (k <= m, rest terms),
    ``zgk[k]`` the blocks ``Z_k'G`` per level; ``pairs[(k, m)]`` lists the pairs of term-1 blocks
    that share a level of term 1 (they make the Schur complement).
    """

    n: int
    p: int
    terms: tuple  # TermLayout per grouping factor, most levels first
    orig: tuple  # OrigTerm per random term as given (theta's order)
    gg: np.ndarray
    zz1: np.ndarray  # (l1, p1, p1)
    zg1: np.ndarray  # (l1, p1, k)
    c1: dict  # k -> (a, b, blocks (nb, p1, pk))
    c22: dict  # (k, m) -> (b, b', blocks)
    zgk: dict  # k -> (l_k, p_k, kk)
    pairs: dict  # (k, m) -> (i, j, a, b_i, b_j): c1[k], c1[m] blocks sharing term-1 level a
    s_rows: np.ndarray | None = None  # where each value of the Schur complement goes
    s_cols: np.ndarray | None = None

    @property
    def k(self) -> int:
        return self.p + 1

    @property
    def n_theta(self) -> int:
        return sum(_n_theta(t.p) for t in self.orig)

    @property
    def q1(self) -> int:
        return self.terms[0].levels * self.terms[0].p

    @property
    def q2(self) -> int:
        return sum(t.levels * t.p for t in self.terms[1:])

    @classmethod
    def from_arrays(cls, X, y, Zs, codes, labels) -> GeneralStats:
        """Cross-products from row arrays.

        Parameters
        ----------
        X : (n, p); y : (n,)
        Zs : list of (n, p_k) arrays, one per random term
        codes : list of (n,) integer arrays 0..l_k-1 (group of each row for that term)
        labels : list of str
        Terms must already be in lme4 order (decreasing number of levels).
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float).reshape(-1)
        n = y.size
        G = np.column_stack([X, y])
        Zs = [np.asarray(Z, dtype=float).reshape(n, -1) for Z in Zs]
        codes = [np.asarray(c, dtype=np.intp).reshape(-1) for c in codes]
        orig, th = [], 0
        for Zk, lab in zip(Zs, labels, strict=True):
            orig.append(OrigTerm(lab, Zk.shape[1], th))
            th += _n_theta(Zk.shape[1])
        # one block per grouping factor (terms with identical groups), most levels first
        members: list[list[int]] = []
        for j, cj in enumerate(codes):
            for mem in members:
                if codes[mem[0]].max() == cj.max() and np.array_equal(codes[mem[0]], cj):
                    mem.append(j)
                    break
            else:
                members.append([j])
        members.sort(key=lambda mem: -(int(codes[mem[0]].max()) + 1))
        layouts, bZ, bcodes = [], [], []
        off = 0
        for mem in members:
            rows_, cols_, idx_ = [], [], []
            o = 0
            for j in mem:
                r, c = _tri_index(orig[j].p)
                rows_.append(r + o)
                cols_.append(c + o)
                idx_.append(orig[j].theta_start + np.arange(r.size))
                o += orig[j].p
            lk = int(codes[mem[0]].max()) + 1
            lmap = (np.concatenate(rows_), np.concatenate(cols_), np.concatenate(idx_))
            layouts.append(TermLayout("+".join(labels[j] for j in mem), o, lk, off, lmap, tuple(mem)))
            off += lk * o
            bZ.append(np.column_stack([Zs[j] for j in mem]))
            bcodes.append(codes[mem[0]])
        Zs, codes = bZ, bcodes
        t1 = layouts[0]
        zz1 = _sum_by(codes[0], t1.levels, Zs[0][:, :, None] * Zs[0][:, None, :])
        zg1 = _sum_by(codes[0], t1.levels, Zs[0][:, :, None] * G[:, None, :])
        c1, c22, zgk, pairs = {}, {}, {}, {}
        K = len(layouts)
        for k in range(1, K):
            a, b, inv = _pairs(codes[0], codes[k])
            c1[k] = (a, b, _sum_by(inv, a.size, Zs[0][:, :, None] * Zs[k][:, None, :]))
            zgk[k] = _sum_by(codes[k], layouts[k].levels, Zs[k][:, :, None] * G[:, None, :])
            for m in range(1, k + 1):
                if m == k:
                    lev = np.arange(layouts[k].levels)
                    c22[(k, k)] = (lev, lev, _sum_by(codes[k], layouts[k].levels,
                                                     Zs[k][:, :, None] * Zs[k][:, None, :]))
                else:
                    bm, bk, inv = _pairs(codes[m], codes[k])
                    c22[(m, k)] = (bm, bk, _sum_by(inv, bm.size, Zs[m][:, :, None] * Zs[k][:, None, :]))
        for k in range(1, K):
            for m in range(1, K):
                ak, am = c1[k][0], c1[m][0]
                ok, om = np.argsort(ak, kind="stable"), np.argsort(am, kind="stable")
                # every pair (i in c1[k], j in c1[m]) with the same term-1 level
                sk, sm = ak[ok], am[om]
                lev = np.unique(sk)
                start_k, stop_k = np.searchsorted(sk, lev), np.searchsorted(sk, lev, "right")
                start_m, stop_m = np.searchsorted(sm, lev), np.searchsorted(sm, lev, "right")
                nk, nm = stop_k - start_k, stop_m - start_m
                cnt = nk * nm
                tot = int(cnt.sum())
                grp = np.repeat(np.arange(lev.size), cnt)
                pos = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                ii = start_k[grp] + pos // nm[grp]
                jj = start_m[grp] + pos % nm[grp]
                i_, j_ = ok[ii], om[jj]
                pairs[(k, m)] = (i_, j_, c1[k][0][i_], c1[k][1][i_], c1[m][1][j_])
        out = cls(n=n, p=X.shape[1], terms=tuple(layouts), orig=tuple(orig), gg=G.T @ G,
                  zz1=zz1, zg1=zg1, c1=c1, c22=c22, zgk=zgk, pairs=pairs)
        if K > 1:
            rows, cols = [], []
            for (m, k), (bm, bk, blk) in c22.items():
                ri, ci = out.rest_index(m, bm), out.rest_index(k, bk)
                shp = blk.shape
                rows.append(np.broadcast_to(ri[:, :, None], shp).ravel())
                cols.append(np.broadcast_to(ci[:, None, :], shp).ravel())
                if m != k:
                    shp_t = (shp[0], shp[2], shp[1])
                    rows.append(np.broadcast_to(ci[:, :, None], shp_t).ravel())
                    cols.append(np.broadcast_to(ri[:, None, :], shp_t).ravel())
            for (k, m), (_i, _j, _a, bi, bj) in pairs.items():
                ri, ci = out.rest_index(k, bi), out.rest_index(m, bj)
                shp = (bi.size, layouts[k].p, layouts[m].p)
                rows.append(np.broadcast_to(ri[:, :, None], shp).ravel())
                cols.append(np.broadcast_to(ci[:, None, :], shp).ravel())
            object.__setattr__(out, "s_rows", np.concatenate(rows))
            object.__setattr__(out, "s_cols", np.concatenate(cols))
        return out

    def split_theta(self, theta: np.ndarray) -> list[np.ndarray]:
        """Relative factor of each elimination block."""
        out = []
        for t in self.terms:
            L = np.zeros((t.p, t.p))
            r, c, i = t.lmap
            L[r, c] = theta[i]
            out.append(L)
        return out

    def term_factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """Relative factor of each random term as given (theta's order)."""
        return [_build_l(theta[t.theta_start:t.theta_start + _n_theta(t.p)], t.p) for t in self.orig]

    def lower_bounds(self) -> np.ndarray:
        out = []
        for t in self.orig:
            r, c = _tri_index(t.p)
            out.append(np.where(r == c, 0.0, -np.inf))
        return np.concatenate(out)

    def theta0(self) -> np.ndarray:
        return np.where(np.isfinite(self.lower_bounds()), 1.0, 0.0)

    def rest_index(self, k: int, levels: np.ndarray) -> np.ndarray:
        """Positions in the Schur complement of term k's levels: (len(levels), p_k)."""
        t = self.terms[k]
        return (t.offset - self.q1) + levels[:, None] * t.p + np.arange(t.p)[None, :]


_SORT_CACHE: dict = {}


def _mm(a, b, *rest):
    """Matrix product of (stacks of) matrices; an inner dimension of 1 is a broadcast product.

    The blocks are often 1 x 1 (random intercepts), where NumPy's stacked matmul costs about
    20 times an elementwise product.
    """
    out = a * b if (a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1) else a @ b
    for c in rest:
        out = _mm(out, c)
    return out


def _sum_by(codes: np.ndarray, m: int, vals: np.ndarray) -> np.ndarray:
    """Sum of ``vals`` (n, ...) over rows with the same code (0..m-1)."""
    hit = _SORT_CACHE.get(id(codes))
    if hit is not None and hit[0] is codes:
        _, order, starts, dest, ident = hit
    else:
        order = np.argsort(codes, kind="stable")
        sc = codes[order]
        starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
        dest = sc[starts]
        ident = bool(starts.size == codes.size and np.array_equal(order, np.arange(codes.size)))
        if len(_SORT_CACHE) > 256:
            _SORT_CACHE.clear()
        _SORT_CACHE[id(codes)] = (codes, order, starts, dest, ident)
    if ident and dest.size == m:
        return vals.copy()
    out = np.zeros((m,) + vals.shape[1:])
    out[dest] = np.add.reduceat(vals[order], starts, axis=0)
    return out


def _pairs(c1: np.ndarray, c2: np.ndarray):
    """Observed (c1, c2) combinations: (first codes, second codes, row -> pair index)."""
    key = c1.astype(np.int64) * (int(c2.max()) + 1) + c2
    uk, inv = np.unique(key, return_inverse=True)
    m = int(c2.max()) + 1
    return (uk // m).astype(np.intp), (uk % m).astype(np.intp), inv.reshape(-1)


# ---------------------------------------------------------------------------- one evaluation
@dataclass
class _Parts:
    logdet: float
    omega: np.ndarray
    A1inv: np.ndarray
    Ls: list
    R1: np.ndarray
    W: dict | None = None  # k -> (nb, p1, pk) blocks of A_11^{-1} A_12
    Sfac: object = None


def _scatter(rows, cols, vals, q, dense: bool):
    if dense:
        return np.bincount((rows * q + cols).ravel(), weights=vals.ravel(), minlength=q * q).reshape(q, q)
    return sp.csc_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(q, q))


def _evaluate(stats: GeneralStats, theta: np.ndarray) -> _Parts:
    kk = stats.k
    t1 = stats.terms[0]
    Ls = stats.split_theta(theta)
    L1 = Ls[0]
    A1inv, logdet = _inv_small(_mm(L1.T, stats.zz1, L1) + np.eye(t1.p))
    R1 = _mm(L1.T, stats.zg1)  # (l1, p1, k)
    AR1 = _mm(A1inv, R1)
    omega = stats.gg - R1.reshape(-1, kk).T @ AR1.reshape(-1, kk)
    parts = _Parts(logdet, omega, A1inv, Ls, R1)
    K = len(stats.terms)
    if K == 1:
        return parts
    q2 = stats.q2
    dense = q2 <= _DENSE_LIMIT
    A12, W = {}, {}
    h = np.zeros((q2, kk))
    for k in range(1, K):
        a, b, blk = stats.c1[k]
        A12[k] = _mm(L1.T, blk, Ls[k])
        W[k] = _mm(A1inv[a], A12[k])
        idx = stats.rest_index(k, np.arange(stats.terms[k].levels))
        Rk = _mm(Ls[k].T, stats.zgk[k])  # (l_k, p_k, kk)
        contrib = _mm(np.swapaxes(W[k], 1, 2), R1[a])  # (nb, p_k, kk)
        Rk = Rk - _sum_by(b, stats.terms[k].levels, contrib)
        h[idx.ravel()] = Rk.reshape(-1, kk)
    vals = []
    for (m, k), (_bm, _bk, blk) in stats.c22.items():
        v = _mm(Ls[m].T, blk, Ls[k])
        vals.append(v.ravel())
        if m != k:
            vals.append(np.swapaxes(v, 1, 2).ravel())
    for (k, m), (i, j, _a, _bi, _bj) in stats.pairs.items():
        vals.append(_mm(np.swapaxes(A12[k][i], 1, 2), W[m][j]).ravel() * -1.0)
    vals = np.concatenate(vals)
    rows, cols = stats.s_rows, stats.s_cols
    S = _scatter(rows, cols, vals, q2, dense)
    if dense:
        S[np.diag_indices(q2)] += 1.0
        cf = cho_factor(S, lower=True, check_finite=False)
        logdet += 2.0 * np.log(np.diag(cf[0])).sum()
        fac = ("dense", cf)
    else:
        from scipy.sparse.linalg import splu

        lu = splu((S + sp.identity(q2)).tocsc(), permc_spec="MMD_AT_PLUS_A",
                  diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        d = lu.U.diagonal()
        if np.any(d <= 0):
            raise np.linalg.LinAlgError("Schur complement not positive definite")
        logdet += np.log(d).sum()
        fac = ("lu", lu)
    parts.omega = omega - h.T @ _s_solve(fac, h)
    parts.logdet = logdet
    parts.W, parts.Sfac = W, fac
    return parts


def _s_solve(fac, b):
    kind, f = fac
    return cho_solve(f, b, check_finite=False) if kind == "dense" else f.solve(np.asarray(b))


def deviance(stats: GeneralStats, theta, reml: bool = True) -> float:
    """Profiled deviance (-2 log-likelihood, REML or ML) at ``theta``; inf where undefined."""
    try:
        with np.errstate(all="ignore"):
            parts = _evaluate(stats, np.asarray(theta, dtype=float))
            dev = _tail(stats, parts.logdet, parts.omega, reml)[0]
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return np.inf
    return float(dev) if np.isfinite(dev) else np.inf


# ---------------------------------------------------------------------------- fitting


_ANALYTIC_LIMIT = 1500  # Schur complements up to this size get the analytic gradient


def dev_grad(stats: GeneralStats, theta: np.ndarray, reml: bool = True):
    """Profiled deviance and its analytic gradient in theta.

    ``d dev / d theta_j = 2 <dLambda_j, C Lambda N - Z'G K Q'>`` with ``C = Z'Z``,
    ``Q = A^{-1} R``, ``N = A^{-1} + Q K Q'`` and ``K`` as in :mod:`.nested` (``P^{-1}`` for REML
    plus ``(nu / r2) c c'``, ``c = [-b, 1]``). Only the blocks of ``A^{-1}`` on the pattern of
    ``C`` are needed (a selected inverse): the term-1 diagonal blocks, the term-1 x rest blocks
    ``-A_11^{-1} A_12 S^{-1}`` and the rest x rest blocks of ``S^{-1}``.
    """
    from ._nested_deviance import _k_matrix

    parts = _evaluate(stats, theta)
    dev, r2, nu = _tail(stats, parts.logdet, parts.omega, reml)
    Kmat = _k_matrix(parts.omega, stats.p, r2, nu, reml)
    Ls = parts.Ls
    terms = stats.terms
    K = len(terms)
    t1 = terms[0]
    A1inv = parts.A1inv
    Q1 = _mm(A1inv, parts.R1)  # (l1, p1, kk), corrected below
    grads = []
    if K == 1:
        QK1 = Q1 @ Kmat
        N11 = A1inv + QK1 @ np.swapaxes(Q1, 1, 2)
        M1 = stats.zz1 @ Ls[0] @ N11 - stats.zg1 @ np.swapaxes(QK1, 1, 2)
        grads.append(2.0 * M1.sum(0))
    else:
        q2 = stats.q2
        Sinv = _s_solve(parts.Sfac, np.eye(q2))
        kk = stats.k
        # h (q2 x kk) again, and Q2 = S^{-1} h
        h = np.zeros((q2, kk))
        for k in range(1, K):
            a, b, _ = stats.c1[k]
            Rk = _mm(Ls[k].T, stats.zgk[k])
            Rk = Rk - _sum_by(b, terms[k].levels, _mm(np.swapaxes(parts.W[k], 1, 2), parts.R1[a]))
            h[stats.rest_index(k, np.arange(terms[k].levels)).ravel()] = Rk.reshape(-1, kk)
        Q2 = Sinv @ h
        Qk = {k: Q2[stats.rest_index(k, np.arange(terms[k].levels))] for k in range(1, K)}
        for k in range(1, K):
            a, b, _ = stats.c1[k]
            Q1 = Q1 - _sum_by(a, t1.levels, _mm(parts.W[k], Qk[k][b]))
        # selected inverse: term-1 diagonal blocks and term-1 x rest blocks
        A11sel = A1inv.copy()
        WS = {}  # k -> (nb, p1, pk): A^{-1}[(1, a_i), (k, b_i)] for the c1[k] pattern
        for k in range(1, K):
            WS[k] = np.zeros(parts.W[k].shape)
        for (k, m), (i, j, a, bi, bj) in stats.pairs.items():
            ri = stats.rest_index(k, bi)
            ci = stats.rest_index(m, bj)
            blk = Sinv[ri[:, :, None], ci[:, None, :]]  # (np, pk, pm)
            WkS = _mm(parts.W[k][i], blk)  # (np, p1, pm)
            A11sel = A11sel + _sum_by(a, t1.levels, _mm(WkS, np.swapaxes(parts.W[m][j], 1, 2)))
            # A^{-1}_{12}[(1,a), (m, b_j)] = -sum_k W_k[i] Sinv[(k,b_i), (m,b_j)]
            WS[m] = WS[m] - _sum_by(j, WS[m].shape[0], WkS)
        QK1 = Q1 @ Kmat
        N11 = A11sel + QK1 @ np.swapaxes(Q1, 1, 2)
        M1 = _mm(stats.zz1, Ls[0], N11) - stats.zg1 @ np.swapaxes(QK1, 1, 2)
        Mk = {k: -(stats.zgk[k] @ np.swapaxes(Qk[k] @ Kmat, 1, 2)) for k in range(1, K)}
        for k in range(1, K):
            a, b, blk = stats.c1[k]
            # N[(k,b),(1,a)] = A^{-1}[(k,b),(1,a)] + Qk[b] K Q1[a]'
            N_k1 = np.swapaxes(WS[k], 1, 2) + Qk[k][b] @ Kmat @ np.swapaxes(Q1[a], 1, 2)
            M1 = M1 + _sum_by(a, t1.levels, _mm(blk, Ls[k], N_k1))
            Mk[k] = Mk[k] + _sum_by(b, terms[k].levels,
                                    _mm(np.swapaxes(blk, 1, 2), Ls[0], np.swapaxes(N_k1, 1, 2)))
        for (m, k), (bm, bk, blk) in stats.c22.items():
            ri, ci = stats.rest_index(m, bm), stats.rest_index(k, bk)
            N_mk = Sinv[ri[:, :, None], ci[:, None, :]] + Qk[m][bm] @ Kmat @ np.swapaxes(Qk[k][bk], 1, 2)
            # C[(k,b),(m,b')] Lm N[(m,b'),(k,b)] to Mk; for m != k also the transpose to Mm
            Mk[k] = Mk[k] + _sum_by(bk, terms[k].levels, _mm(np.swapaxes(blk, 1, 2), Ls[m], N_mk))
            if m != k:
                Mk[m] = Mk[m] + _sum_by(bm, terms[m].levels,
                                        _mm(blk, Ls[k], np.swapaxes(N_mk, 1, 2)))
        grads.append(2.0 * M1.sum(0))
        for k in range(1, K):
            grads.append(2.0 * Mk[k].sum(0))
    out = np.zeros(stats.n_theta)
    for t, Gt in zip(terms, grads, strict=True):
        r, c, i = t.lmap
        out[i] = Gt[r, c]
    return float(dev), out


def select_columns(stats: GeneralStats, cols) -> GeneralStats:
    """The same cross-products with only the fixed columns ``cols`` (indices into X)."""
    from dataclasses import replace

    cols = np.asarray(cols, dtype=int).reshape(-1)
    if cols.size and (cols.min() < 0 or cols.max() >= stats.p):
        raise EstimationError(f"`cols`: expecting indices in 0..{stats.p - 1}; got {cols.tolist()}.")
    g = np.r_[cols, stats.p]
    return replace(stats, p=int(cols.size), gg=stats.gg[np.ix_(g, g)], zg1=stats.zg1[:, :, g],
                   zgk={k: v[:, :, g] for k, v in stats.zgk.items()})
