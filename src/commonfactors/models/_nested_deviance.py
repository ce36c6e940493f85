"""Profiled (RE)ML deviance and its analytic gradient from :class:`NestedStats` (see :mod:`.nested`).

The deviance part of the fast nested engine; the formulas are in the docstring of
:mod:`commonfactors.models.nested`.
"""

from __future__ import annotations

import numpy as np

from ._nested_compact import compact_grad, compact_of, compact_omega
from ._nested_stats import NestedStats, _build_l, _n_theta, tri_index

_LOG2PI = np.log(2.0 * np.pi)


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
        cp = compact_of(stats)
        if cp is not None:  # sums over classes of equal inner groups (see ._nested_compact)
            return compact_omega(cp, stats.gg, theta)[:2]
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
    """:func:`_dev_grad` for one random intercept (or slope) per level: all blocks are scalars.

    Summed over classes of equal inner groups when there are few (see ``._nested_compact``),
    otherwise over inner groups.
    """
    cp = compact_of(stats)
    if cp is not None:
        logdet, omega, st = compact_omega(cp, stats.gg, theta)
        dev, r2, nu = _tail(stats, logdet, omega, reml)
        return float(dev), compact_grad(cp, st, _k_matrix(omega, stats.p, r2, nu, reml))
    return _dev_grad_groups(stats, theta, reml)


def _dev_grad_groups(stats: NestedStats, theta: np.ndarray, reml: bool):
    """:func:`_dev_grad_scalar` summed over inner groups."""
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
    r, cc = tri_index(qi)
    grad = [g_in[r, cc]]
    if qo:
        r, cc = tri_index(qo)
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
