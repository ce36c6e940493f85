"""Profiled deviance of one random effect per level, summed over classes of equal inner groups.

In the scalar path of :mod:`._nested_deviance` (``q_in = 1``, ``q_out <= 1``) an inner group ``i``
enters the deviance through its scalars ``zz_i = Z_i'Z_i`` and ``zio_i = Z_i'Z_o|_i`` and through
vectors (``zg_i = Z_i'G_i``, ``oo_i``, ``og_i``) that enter linearly or as outer products with
theta-free coefficients. Inner groups with equal ``(zz_i, zio_i)`` form a class ``c`` (random
intercepts: equal cluster size ``n_i``), and a few sums per class, per (outer group, class) pair
and per outer group, computed once, replace the sums over inner groups at every evaluation:

* ``S_c = sum_{i in c} zg_i zg_i'`` and ``n_c``;
* ``P_tc = sum_{i in t, c} zg_i`` and ``n_tc`` for each pair present;
* ``OOs_t = sum_{i in t} oo_i`` and ``OGs_t = sum_{i in t} og_i``.

An evaluation then costs ``O(C k^2 + pairs k + T k^2)`` instead of ``O(m k^2)``. The formulas are
those of ``_dev_grad_scalar`` with the class scalars ``A_c = li^2 zz_c + 1``, ``a_c = 1/A_c`` and
``AB_c = li lo zio_c a_c`` pulled out of the sums (see :func:`compact_omega`, :func:`compact_grad`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._nested_sums import _segment_cross

_MIN_SAVING = 4  # use the classes when there are at most m / 4 of them
_DENSE_MIN = 4  # keep the pair sums dense when at least T * C / 4 pairs occur


@dataclass(frozen=True, eq=False)
class Compact:
    """Class sums of one :class:`NestedStats` (see the module docstring); plain NumPy.

    The (outer, class) pair sums are kept as pairs (``pair_*``, ``P``) or, when at least a
    quarter of all T x C pairs occur, dense (``Pd`` (T, k, C), ``Nd`` (T, C), zeros for absent
    pairs) so that their class-weighted sums are one matrix product.
    """

    zz: np.ndarray  # (C,) zz_c
    zio: np.ndarray | None  # (C,) zio_c (None without an outer level)
    cnt: np.ndarray  # (C,) n_c, inner groups per class
    S: np.ndarray  # (C, k, k)
    pair_c: np.ndarray | None  # (pairs,) class of each pair, pairs sorted by (t, c)
    pair_n: np.ndarray | None  # (pairs,) n_tc
    P: np.ndarray | None  # (pairs, k) P_tc
    pstart: np.ndarray | None  # (T,) first pair of each outer group
    Pd: np.ndarray | None  # (T, k, C) dense P_tc
    Nd: np.ndarray | None  # (T, C) dense n_tc
    OOs: np.ndarray | None  # (T,)
    OGs: np.ndarray | None  # (T, k)

    @property
    def outer(self) -> bool:
        return self.OGs is not None

    def select(self, g: np.ndarray) -> Compact:
        """The same sums for the columns ``g`` of ``G`` (what ``NestedStats.select`` keeps)."""
        return replace(self, S=self.S[:, g[:, None], g],
                       P=None if self.P is None else self.P[:, g],
                       Pd=None if self.Pd is None else self.Pd[:, g, :],
                       OGs=None if self.OGs is None else self.OGs[:, g])

    def pw(self, W: np.ndarray) -> np.ndarray:
        """``sum_c W_cr P_tc`` for class weights W (C, r): shape (T, k, r)."""
        if self.Pd is not None:
            T, k, C = self.Pd.shape
            return (self.Pd.reshape(T * k, C) @ W).reshape(T, k, -1)
        return np.add.reduceat(self.P[:, :, None] * W[self.pair_c][:, None, :], self.pstart, axis=0)

    def nw(self, W: np.ndarray) -> np.ndarray:
        """``sum_c W_cr n_tc`` for class weights W (C, r): shape (T, r)."""
        if self.Nd is not None:
            return self.Nd @ W
        return np.add.reduceat(self.pair_n[:, None] * W[self.pair_c], self.pstart, axis=0)


def compact_of(stats) -> Compact | None:
    """The class sums of ``stats`` (built once and cached on it), or None when they do not pay
    (not the scalar path, or more than m / 4 classes)."""
    c = stats.__dict__.get("_compact")
    if c is None:
        c = _build(stats)
        object.__setattr__(stats, "_compact", False if c is None else c)
    return c or None


def _build(stats) -> Compact | None:
    if stats.q_in != 1 or stats.q_out > 1:
        return None
    m = stats.n_inner
    zz = stats.zz_i[:, 0, 0]
    u_zz, i_zz = np.unique(zz, return_inverse=True)
    if stats.q_out:
        zio = stats.zio_i[:, 0, 0]
        u_io, i_io = np.unique(zio, return_inverse=True)
        key = i_zz.reshape(-1).astype(np.int64) * u_io.size + i_io.reshape(-1)
    else:
        key = i_zz.reshape(-1).astype(np.int64)
    first, cls = np.unique(key, return_index=True, return_inverse=True)[1:]
    cls = cls.reshape(-1)
    C = first.size
    if _MIN_SAVING * C > m:
        return None
    # S_c: class-sorted zg rows, per-class cross-products (blocked reduceat, upper triangle)
    order = np.argsort(cls, kind="stable")
    zgt = np.ascontiguousarray(stats.zg_i[order, 0, :].T)  # (k, m)
    cstart = np.flatnonzero(np.r_[True, np.diff(cls[order]) != 0])
    S = _segment_cross(zgt, zgt, cstart)
    del zgt
    cnt = np.bincount(cls, minlength=C).astype(float)
    out = dict(zz=zz[first], zio=None, cnt=cnt, S=S, pair_c=None, pair_n=None, P=None,
               pstart=None, Pd=None, Nd=None, OOs=None, OGs=None)
    if stats.q_out:
        pkey, pinv = np.unique(stats.outer_of.astype(np.int64) * C + cls, return_inverse=True)
        pinv = pinv.reshape(-1)
        n_pairs = pkey.size
        zg = stats.zg_i[:, 0, :]
        P = np.empty((n_pairs, stats.k))
        for j in range(stats.k):
            P[:, j] = np.bincount(pinv, weights=zg[:, j], minlength=n_pairs)
        pair_t, pair_c = pkey // C, pkey % C
        pair_n = np.bincount(pinv, minlength=n_pairs).astype(float)
        T = stats.n_outer
        out.update(zio=stats.zio_i[first, 0, 0],
                   OOs=np.add.reduceat(stats.oo_i[:, 0, 0], stats.ostart),
                   OGs=np.add.reduceat(stats.og_i[:, 0, :], stats.ostart, axis=0))
        if _DENSE_MIN * n_pairs >= T * C:  # dense: many pairs occur
            Pd = np.zeros((T, stats.k, C))
            Pd[pair_t, :, pair_c] = P
            Nd = np.zeros((T, C))
            Nd[pair_t, pair_c] = pair_n
            out.update(Pd=Pd, Nd=Nd)
        else:
            out.update(pair_c=pair_c, pair_n=pair_n, P=P,
                       pstart=np.flatnonzero(np.r_[True, pair_t[1:] != pair_t[:-1]]))
    return Compact(**out)


def compact_omega(cp: Compact, gg: np.ndarray, theta: np.ndarray):
    """``log det V*``, ``Omega = G'V*^{-1}G`` and the intermediates of :func:`compact_grad`.

    Per class ``A_c = li^2 zz_c + 1``; ``sum_i log A_i = sum_c n_c log A_c`` and
    ``sum_i R_i R_i'/A_i = li^2 sum_c S_c / A_c`` (``R_i = li zg_i``). With an outer level,
    ``B_i = li lo zio_c``, ``AB_c = B_c / A_c``, per outer group t
    ``S_t = lo^2 OOs_t - sum_{c} n_tc B_c AB_c + 1``, ``H_t = sum_{i in t} AB_i R_i =
    li sum_c AB_c P_tc``, ``h_t = lo OGs_t - H_t``, ``Qo_t = h_t / S_t`` and
    ``Omega = G'G - li^2 sum_c S_c / A_c - sum_t h_t h_t' / S_t``.
    """
    li = theta[0]
    A = li * li * cp.zz + 1.0
    a = 1.0 / A
    logdet = float(cp.cnt @ np.log(A))
    omega = gg - (li * li) * np.tensordot(a, cp.S, axes=1)
    st = {"li": li, "a": a}
    if cp.outer:
        lo = theta[1]
        B = (li * lo) * cp.zio
        AB = B * a
        S = lo * lo * cp.OOs - cp.nw((B * AB)[:, None])[:, 0] + 1.0
        Sinv = 1.0 / S
        logdet += float(np.log(S).sum())
        pab = cp.pw(AB[:, None])[:, :, 0]  # sum_c AB_c P_tc
        h = lo * cp.OGs - li * pab
        Qo = h * Sinv[:, None]
        omega = omega - h.T @ Qo
        st.update(lo=lo, AB=AB, Sinv=Sinv, Qo=Qo, pab=pab)
    return logdet, omega, st


def compact_grad(cp: Compact, st: dict, K: np.ndarray) -> np.ndarray:
    """Analytic gradient of the profiled deviance in theta, from the class sums.

    ``_dev_grad_scalar`` sums over inner groups, with ``Qi_i = a_c R_i - AB_c Qo_t``:
    ``g_in = -2 sum_i zg_i'K Qi_i + 2 li sum_i zz_i N_ii + 2 lo sum_i zio_i N_io`` and
    ``g_out = 2 li sum_i zio_i N_io + 2 lo sum_t OOs_t N_oo_t - 2 sum_t OGs_t'K Qo_t``, where
    ``N_ii = a_c + Qi_i'K Qi_i + AB_c^2 / S_t``, ``N_io = -AB_c / S_t + Qi_i'K Qo_t`` and
    ``N_oo_t = 1/S_t + q_t``, ``q_t = Qo_t'K Qo_t``. Expanding ``Qi_i`` leaves only
    ``sum_{i in c} zg_i'K zg_i = tr(K S_c)`` and ``sum_{i in t, c} zg_i'K Qo_t = P_tc'K Qo_t``,
    which enter as class-weighted sums ``sum_tc w_c P_tc'K Qo_t = sum_t (K Qo_t)' pw(w)_t``:

    * ``sum_i zg_i'K Qi_i = li sum_c a_c tr(K S_c) - sum_t (K Qo_t)' pw(AB)_t``;
    * ``sum_i zz_i N_ii = sum_c zz_c (n_c a_c + li^2 a_c^2 tr(K S_c))
      + sum_t (q_t + 1/S_t) nw(zz AB^2)_t - 2 li sum_t (K Qo_t)' pw(zz a AB)_t``;
    * ``sum_i zio_i N_io = li sum_t (K Qo_t)' pw(zio a)_t - sum_t (q_t + 1/S_t) nw(zio AB)_t``.
    """
    li, a = st["li"], st["a"]
    trKS = np.einsum("cjl,jl->c", cp.S, K)
    zg_kq = li * (a @ trKS)
    zz_n = cp.zz @ (cp.cnt * a + li * li * a * a * trKS)
    if not cp.outer:
        return np.array([-2.0 * zg_kq + 2.0 * li * zz_n])
    lo, AB, Sinv, Qo = st["lo"], st["AB"], st["Sinv"], st["Qo"]
    KQo = Qo @ K
    q = np.einsum("tj,tj->t", Qo, KQo)
    w = q + Sinv
    pw = cp.pw(np.column_stack([cp.zz * a * AB, cp.zio * a]))
    kp = np.einsum("tj,tjr->r", KQo, pw)
    nw = w @ cp.nw(np.column_stack([cp.zz * AB * AB, cp.zio * AB]))
    zg_kq -= np.einsum("tj,tj->", KQo, st["pab"])
    zz_n += nw[0] - 2.0 * li * kp[0]
    zio_n = li * kp[1] - nw[1]
    g_in = -2.0 * zg_kq + 2.0 * (li * zz_n + lo * zio_n)
    g_out = 2.0 * (li * zio_n + lo * (cp.OOs @ w)) - 2.0 * np.einsum("tj,tj->", cp.OGs, KQo)
    return np.array([g_in, g_out])
