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


@dataclass(frozen=True, eq=False)
class Compact:
    """Class sums of one :class:`NestedStats` (see the module docstring); plain NumPy."""

    zz: np.ndarray  # (C,) zz_c
    zio: np.ndarray | None  # (C,) zio_c (None without an outer level)
    cnt: np.ndarray  # (C,) n_c, inner groups per class
    S: np.ndarray  # (C, k, k)
    pair_t: np.ndarray | None  # (P,) outer group of each pair, pairs sorted by (t, c)
    pair_c: np.ndarray | None  # (P,) class of each pair
    pair_n: np.ndarray | None  # (P,) n_tc
    P: np.ndarray | None  # (P, k)
    pstart: np.ndarray | None  # (T,) first pair of each outer group
    OOs: np.ndarray | None  # (T,)
    OGs: np.ndarray | None  # (T, k)

    def select(self, g: np.ndarray) -> Compact:
        """The same sums for the columns ``g`` of ``G`` (what ``NestedStats.select`` keeps)."""
        return replace(self, S=self.S[:, g[:, None], g],
                       P=None if self.P is None else self.P[:, g],
                       OGs=None if self.OGs is None else self.OGs[:, g])


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
    out = dict(zz=zz[first], zio=None, cnt=cnt, S=S, pair_t=None, pair_c=None, pair_n=None,
               P=None, pstart=None, OOs=None, OGs=None)
    if stats.q_out:
        pkey, pinv = np.unique(stats.outer_of.astype(np.int64) * C + cls, return_inverse=True)
        pinv = pinv.reshape(-1)
        n_pairs = pkey.size
        zg = stats.zg_i[:, 0, :]
        P = np.empty((n_pairs, stats.k))
        for j in range(stats.k):
            P[:, j] = np.bincount(pinv, weights=zg[:, j], minlength=n_pairs)
        pair_t = pkey // C
        out.update(
            zio=stats.zio_i[first, 0, 0], pair_t=pair_t, pair_c=pkey % C,
            pair_n=np.bincount(pinv, minlength=n_pairs).astype(float), P=P,
            pstart=np.flatnonzero(np.r_[True, pair_t[1:] != pair_t[:-1]]),
            OOs=np.add.reduceat(stats.oo_i[:, 0, 0], stats.ostart),
            OGs=np.add.reduceat(stats.og_i[:, 0, :], stats.ostart, axis=0),
        )
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
    if cp.P is not None:
        lo = theta[1]
        AB = (li * lo) * cp.zio * a
        ABp = AB[cp.pair_c]
        S = lo * lo * cp.OOs - np.add.reduceat(cp.pair_n * (li * lo) * cp.zio[cp.pair_c] * ABp,
                                                cp.pstart) + 1.0
        Sinv = 1.0 / S
        logdet += float(np.log(S).sum())
        h = lo * cp.OGs - li * np.add.reduceat(ABp[:, None] * cp.P, cp.pstart, axis=0)
        Qo = h * Sinv[:, None]
        omega = omega - h.T @ Qo
        st.update(lo=lo, ABp=ABp, Sinv=Sinv, Qo=Qo)
    return logdet, omega, st


def compact_grad(cp: Compact, st: dict, K: np.ndarray) -> np.ndarray:
    """Analytic gradient of the profiled deviance in theta, from the class sums.

    ``_dev_grad_scalar`` sums over inner groups, with ``Qi_i = a_c R_i - AB_c Qo_t``:
    ``g_in = -2 sum_i zg_i'K Qi_i + 2 li sum_i zz_i N_ii + 2 lo sum_i zio_i N_io`` and
    ``g_out = 2 li sum_i zio_i N_io + 2 lo sum_t OOs_t N_oo_t - 2 sum_t OGs_t'K Qo_t``, where
    ``N_ii = a_c + Qi_i'K Qi_i + AB_c^2 / S_t``, ``N_io = -AB_c / S_t + Qi_i'K Qo_t`` and
    ``N_oo_t = 1/S_t + q_t``, ``q_t = Qo_t'K Qo_t``. Expanding ``Qi_i`` leaves only
    ``sum_{i in c} zg_i'K zg_i = tr(K S_c)`` and ``sum_{i in t, c} zg_i'K Qo_t = P_tc'K Qo_t = d_tc``:

    * ``sum_i zg_i'K Qi_i = li sum_c a_c tr(K S_c) - sum_tc AB_c d_tc``;
    * ``sum_i zz_i N_ii = sum_c zz_c (n_c a_c + li^2 a_c^2 tr(K S_c))
      + sum_tc zz_c (n_tc AB_c^2 (q_t + 1/S_t) - 2 li a_c AB_c d_tc)``;
    * ``sum_i zio_i N_io = sum_tc zio_c (li a_c d_tc - n_tc AB_c (q_t + 1/S_t))``.
    """
    li, a = st["li"], st["a"]
    trKS = np.einsum("cjl,jl->c", cp.S, K)
    zg_kq = li * (a @ trKS)
    zz_n = cp.zz @ (cp.cnt * a + li * li * a * a * trKS)
    if cp.P is None:
        return np.array([-2.0 * zg_kq + 2.0 * li * zz_n])
    lo, ABp, Sinv, Qo = st["lo"], st["ABp"], st["Sinv"], st["Qo"]
    KQo = Qo @ K
    q = np.einsum("tj,tj->t", Qo, KQo)
    d = np.einsum("pj,pj->p", cp.P, KQo[cp.pair_t])
    w = (q + Sinv)[cp.pair_t]
    c = cp.pair_c
    zg_kq -= ABp @ d
    zz_n += cp.zz[c] @ (cp.pair_n * ABp * ABp * w - 2.0 * li * a[c] * ABp * d)
    zio_n = cp.zio[c] @ (li * a[c] * d - cp.pair_n * ABp * w)
    g_in = -2.0 * zg_kq + 2.0 * (li * zz_n + lo * zio_n)
    g_out = 2.0 * (li * zio_n + lo * (cp.OOs @ (Sinv + q))) - 2.0 * np.einsum("tj,tj->", cp.OGs, KQo)
    return np.array([g_in, g_out])
