"""Restricted maximum likelihood for meta-regression with a study random intercept.

Private engine of :func:`commonfactors.meta.random_effects_metareg`: per-study sufficient
statistics, the restricted log-likelihood with its gradient and Fisher information, and a
projected Fisher-scoring optimizer for the variance components.
"""

from __future__ import annotations

import numpy as np


class _Problem:
    """Per-study sufficient statistics of a meta-regression with a study random intercept."""

    def __init__(self, y: np.ndarray, v: np.ndarray, X: np.ndarray, codes: np.ndarray) -> None:
        self.y, self.v, self.X, self.codes = y, v, X, codes
        self.n_studies = int(codes.max()) + 1
        self.k, self.p = X.shape
        self.logdet_xtx = np.linalg.slogdet(X.T @ X)[1]

    def _sums(self, a: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=a, minlength=self.n_studies)

    def gls(self, tau2: float, sigma2: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Return (b, X'V^-1X, r'V^-1r, log|V|) at the given variance components."""
        y, X = self.y, self.X
        d = self.v + sigma2
        w = 1.0 / d
        sw = self._sums(w)
        a = tau2 / (1.0 + tau2 * sw)
        wx = X * w[:, None]
        sx = np.column_stack([self._sums(wx[:, j]) for j in range(self.p)])
        sy = self._sums(w * y)
        xtvx = X.T @ wx - sx.T @ (a[:, None] * sx)
        xtvy = X.T @ (w * y) - sx.T @ (a * sy)
        ytvy = float(np.sum(w * y * y) - np.sum(a * sy * sy))
        b = np.linalg.solve(xtvx, xtvy)
        rss = ytvy - float(xtvy @ b)
        logdet_v = float(np.sum(np.log(d)) + np.sum(np.log1p(tau2 * sw)))
        return b, xtvx, rss, logdet_v

    def reml_score(
        self, tau2: float, sigma2: float, *, info: bool = False
    ) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Restricted log-likelihood, its gradient in (tau2, sigma2), and the Fisher information.

        With ``V = D + sigma2 I + tau2 Z Z'`` (``Z`` the study indicators) and ``P = V^-1 -
        V^-1 X (X'V^-1X)^-1 X'V^-1``: ``dl/dtheta_j = -tr(P G_j)/2 + y'P G_j P y / 2`` and
        ``I_jk = tr(P G_j P G_k) / 2`` for ``G = Z Z'`` and ``G = I``. Every trace reduces to
        per-study sums because each block ``V_s^-1 = W_s - a_s w_s w_s'`` (Sherman-Morrison).
        """
        y, X, codes, sums = self.y, self.X, self.codes, self._sums
        d = self.v + sigma2
        w = 1.0 / d
        sw = sums(w)
        a = tau2 / (1.0 + tau2 * sw)
        a_i = a[codes]

        def vinv(col: np.ndarray) -> np.ndarray:  # V^-1 @ col, block by block
            return w * col - w * a_i * sums(w * col)[codes]

        Q = np.column_stack([vinv(X[:, j]) for j in range(self.p)])  # V^-1 X
        M = X.T @ Q
        sign, logdet_m = np.linalg.slogdet(M)
        if sign <= 0:
            return -np.inf, np.zeros(2), None
        Minv = np.linalg.inv(M)
        b = Minv @ (Q.T @ y)
        r = y - X @ b
        e = vinv(r)  # P y
        logdet_v = float(np.sum(np.log(d)) + np.sum(np.log1p(tau2 * sw)))
        ll = -0.5 * ((self.k - self.p) * np.log(2 * np.pi) - self.logdet_xtx + logdet_v
                     + logdet_m + float(r @ e))
        C = np.column_stack([sums(Q[:, j]) for j in range(self.p)])  # Z'V^-1 X
        D = sw / (1.0 + tau2 * sw)  # diagonal of Z'V^-1 Z
        sw2 = sums(w * w)
        CMC = C @ Minv  # S x p
        QM = Q @ Minv  # k x p
        tr_pg_tau = float(np.sum(D) - np.sum(CMC * C))
        tr_pg_sig = float(np.sum(w) - np.sum(a * sw2) - np.sum(QM * Q))
        grad = 0.5 * np.array([float(np.sum(sums(e) ** 2)) - tr_pg_tau,
                               float(e @ e) - tr_pg_sig])
        if not info:
            return ll, grad, None
        CtC, QtQ = C.T @ C, Q.T @ Q
        # tr(P ZZ' P ZZ') = ||Z'PZ||^2 with Z'PZ = diag(D) - C M^-1 C'
        i_tt = float(np.sum(D * D) - 2 * np.sum(D * np.sum(CMC * C, axis=1))
                     + np.sum((Minv @ CtC) * (Minv @ CtC).T))
        # tr(P P)
        tr_v2 = float(np.sum(sw2) - 2 * np.sum(a * sums(w**3)) + np.sum(a * a * sw2 * sw2))
        VQ = np.column_stack([vinv(Q[:, j]) for j in range(self.p)])
        i_ss = float(tr_v2 - 2 * np.sum(Minv * (Q.T @ VQ))
                     + np.sum((Minv @ QtQ) * (Minv @ QtQ).T))
        # tr(P ZZ' P) = ||Z'P||^2 with Z'P = Z'V^-1 - C M^-1 Q'
        u = w / (1.0 + tau2 * sw)[codes]
        ZVQ = np.column_stack([sums(u * Q[:, j]) for j in range(self.p)])
        i_ts = float(np.sum(u * u) - 2 * np.sum(Minv * (C.T @ ZVQ))
                     + np.sum((Minv @ CtC) * (Minv @ QtQ).T))
        return ll, grad, 0.5 * np.array([[i_tt, i_ts], [i_ts, i_ss]])


def _optimise(prob: _Problem, arm_level: bool) -> tuple[float, float, bool, str]:
    """Maximise the restricted likelihood over the variance components (>= 0).

    Fisher scoring with step halving, projected onto the non-negative orthant; a component
    whose gradient points below zero at zero stays at the boundary.
    """
    n = 2 if arm_level else 1
    beta = np.linalg.lstsq(prob.X, prob.y, rcond=None)[0]
    resid = prob.y - prob.X @ beta
    excess = max(float(np.var(resid) - np.mean(prob.v)), 0.0)
    scale = max(float(np.var(prob.y)), float(np.mean(prob.v)), 1e-8)
    start = max(excess, 0.05 * scale)
    theta = np.array([start, start / 2])[:n]

    def at(th: np.ndarray, info: bool = False):
        return prob.reml_score(th[0], th[1] if n == 2 else 0.0, info=info)

    ll, grad, fisher = at(theta, info=True)
    if not np.isfinite(ll):
        return float(theta[0]), 0.0, False, "restricted likelihood not finite at the start"
    for it in range(1, 201):
        g = grad[:n]
        info_m = fisher[:n, :n]
        free = (theta > 0) | (g > 0)
        step = np.zeros(n)
        if free.any():
            sub = info_m[np.ix_(free, free)]
            try:
                step[free] = np.linalg.solve(sub, g[free])
            except np.linalg.LinAlgError:
                step[free] = g[free] * scale**2
        t = 1.0
        for _ in range(40):
            cand = np.maximum(theta + t * step, 0.0)
            ll_new, grad_new, fisher_new = at(cand, info=True)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            t /= 2.0
        else:
            return float(theta[0]), float(theta[1]) if n == 2 else 0.0, False, (
                f"no ascent after {it} scoring steps")
        change = np.max(np.abs(cand - theta)) / scale
        theta, ll, grad, fisher = cand, ll_new, grad_new, fisher_new
        proj = np.where(theta > 0, grad[:n], np.maximum(grad[:n], 0.0))
        if change < 1e-10 or np.max(np.abs(proj)) * scale < 1e-10:
            return float(theta[0]), float(theta[1]) if n == 2 else 0.0, True, (
                f"converged after {it} Fisher scoring steps")
    return float(theta[0]), float(theta[1]) if n == 2 else 0.0, False, (
        "no convergence in 200 Fisher scoring steps")
