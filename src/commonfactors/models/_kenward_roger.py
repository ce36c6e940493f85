"""Kenward-Roger adjusted covariance and denominator df (Kenward & Roger 1997; pbkrtest's form).

The covariance parameters are the elements of every random-effect covariance matrix and the
residual variance, ``V = sum_r tau_r G_r``; all sums run over independent row blocks of the
marginal covariance (the outermost factor's groups of a nested model; a crossed model is one
block), so only block-sized dense matrices are formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EstimationError, ModelSpecError
from ._protocol import _tri_index, adapter


@dataclass(frozen=True)
class _KenwardRoger:
    vcov: np.ndarray      # Phi: unadjusted
    vcov_adj: np.ndarray  # Phi_A
    P: list
    W: np.ndarray

    def df(self, L: np.ndarray) -> float:
        """Denominator df of a single contrast (q = 1), Kenward & Roger (1997) section 4."""
        V0 = self.vcov
        L = np.atleast_2d(L)
        q = L.shape[0]
        Theta = L.T @ np.linalg.solve(L @ V0 @ L.T, L)
        TV = Theta @ V0
        u = [TV @ P @ V0 for P in self.P]
        tr = np.array([np.trace(x) for x in u])
        k = len(u)
        A1 = A2 = 0.0
        for i in range(k):
            for j in range(i, k):
                e = 1.0 if i == j else 2.0
                A1 += e * self.W[i, j] * tr[i] * tr[j]
                A2 += e * self.W[i, j] * float(np.sum(u[i] * u[j].T))
        B = (A1 + 6 * A2) / (2 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        den = 3 * q + 2 * (1 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
        v0 = 1 + c1 * B
        v0 = 0.0 if abs(v0) < 1e-10 else v0
        v1, v2 = 1 - c2 * B, 1 - c3 * B
        rho = ((1 - A2 / q) / v1) ** 2 * v0 / v2 / q
        return 4 + (q + 2) / (q * rho - 1)


def kenward_roger(fit, max_block: int = 5000) -> _KenwardRoger:
    """Kenward-Roger adjusted covariance of the fixed effects and its ingredients (REML fits)."""
    m = adapter(fit)
    if not m.reml:
        raise ModelSpecError("Kenward-Roger df need a REML fit; refit with reml=True.")
    s2 = m.sigma**2
    # covariance matrices of each theta block (data scale)
    Ts, pos = [], 0
    for _, terms in m.theta_blocks:
        q = len(terms)
        r, c = _tri_index(q)
        Lm = np.zeros((q, q))
        Lm[r, c] = m.theta[pos:pos + r.size]
        pos += r.size
        Ts.append(s2 * Lm @ Lm.T)
    # parameters: each (i, j), i >= j, of each T, then the residual variance
    params = []
    for k, T in enumerate(Ts):
        r, c = _tri_index(T.shape[0])
        params += [(k, i, j) for i, j in zip(r, c, strict=True)]
    n_par = len(params) + 1
    p = m.fixed.size
    Phi = m.vcov_at(m.theta, m.sigma)
    P = [np.zeros((p, p)) for _ in range(n_par)]
    Q = [[None] * n_par for _ in range(n_par)]
    for a in range(n_par):
        for b in range(a, n_par):
            Q[a][b] = np.zeros((p, p))
    K = np.zeros((n_par, n_par))
    for Xb, Zs in m.row_blocks():
        n_b = Xb.shape[0]
        if n_b > max_block:
            raise EstimationError(
                f"Kenward-Roger: an independent block has {n_b} rows (more than max_block="
                f"{max_block}); use the Satterthwaite df.")
        Sigma = s2 * np.eye(n_b)
        for Zb, T in zip(Zs, Ts, strict=True):
            q = T.shape[0]
            nl = Zb.shape[1] // q
            Sigma += Zb @ np.kron(np.eye(nl), T) @ Zb.T
        Si = np.linalg.inv(Sigma)
        G = []
        for k, i, j in params:
            Zb = Zs[k]
            q = Ts[k].shape[0]
            Zi, Zj = Zb[:, i::q], Zb[:, j::q]
            G.append(Zi @ Zi.T if i == j else Zi @ Zj.T + Zj @ Zi.T)
        G.append(np.eye(n_b))
        TT = Si @ Xb
        Hs = [Gr @ Si for Gr in G]
        Os = [Hr @ Xb for Hr in Hs]
        SO = [Si @ o for o in Os]
        for a in range(n_par):
            P[a] -= Os[a].T @ TT
            for b in range(a, n_par):
                Q[a][b] += Os[a].T @ SO[b]
                K[a, b] += float(np.sum(Hs[a].T * Hs[b]))
    P = [(x + x.T) / 2 for x in P]
    IE2 = np.zeros((n_par, n_par))
    for a in range(n_par):
        PhiPa = Phi @ P[a]
        for b in range(a, n_par):
            IE2[a, b] = IE2[b, a] = (K[a, b] - 2 * np.sum(Phi * Q[a][b])
                                     + np.sum(PhiPa * (P[b] @ Phi)))
    ev = np.linalg.eigvalsh(IE2)
    W = 2 * (np.linalg.inv(IE2) if np.min(np.abs(ev)) > 1e-10 else np.linalg.pinv(IE2))
    W = (W + W.T) / 2
    U = np.zeros((p, p))
    for a in range(n_par - 1):
        for b in range(a + 1, n_par):
            U += W[a, b] * (Q[a][b] - P[a] @ Phi @ P[b])
    U = U + U.T
    for a in range(n_par):
        U += W[a, a] * (Q[a][a] - P[a] @ Phi @ P[a])
    return _KenwardRoger(vcov=Phi, vcov_adj=Phi + 2 * Phi @ U @ Phi, P=P, W=W)


