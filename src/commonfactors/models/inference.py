"""Inference for fitted linear mixed models: the t-tests, intervals and comparisons of lmerTest/lme4.

Everything here works through a small engine-neutral view of a fit (:func:`adapter`):

- ``theta`` (relative Cholesky factors, blockwise as in lme4) and ``sigma`` (residual SD);
- ``deviance_at(theta, sigma=None, reml=None)``: -2 log-likelihood (REML or ML) at given
  parameters (``sigma=None``: profiled over sigma);
- ``vcov_at(theta, sigma)``: ``sigma^2 (X'V*^{-1}X)^{-1}``, lme4's ``vcov`` at those parameters;
- ``row_blocks()``: independent row blocks of the marginal covariance (Kenward-Roger only);
- ``refit_ml()``: the same model by maximum likelihood.

Methods
-------
Satterthwaite df (Kuznetsova, Brockhoff & Christensen 2017, lmerTest): with ``varpar =
(theta, sigma)``, ``A = 2 H^{-1}`` where ``H`` is the Hessian of the (RE)ML deviance in
``varpar`` (not profiled over sigma), and ``J_k = d vcov / d varpar_k``; for a contrast ``L``,
``df = 2 (L'VL)^2 / (g'Ag)`` with ``g_k = L'J_kL``. Both derivatives are taken numerically by
central differences with Richardson extrapolation (as lmerTest does with numDeriv).

Kenward-Roger (Kenward & Roger 1997; the form of pbkrtest, Halekoh & Hojsgaard 2014): the
covariance parameters are the elements of every random-effect covariance matrix and the
residual variance, ``V = sum_r tau_r G_r``; the adjusted covariance of the fixed effects is
``Phi + 2 Phi U Phi`` and the denominator df of a single contrast follows Kenward & Roger's
moment matching (REML fits only). Sums over independent row blocks make it cheap for nested
models; a crossed model is one block.

Profile intervals (lme4's ``confint(method = "profile")``): like lme4, a REML fit is first
refitted by ML; the ML deviance is profiled in the standard deviations, correlations and sigma,
and each bound is the exact root where the profile exceeds its minimum by the chi-square
quantile (lme4 interpolates a spline through profile points instead; the two differ by up to
about 2e-4 relative in the reference set).

Likelihood-ratio tests follow lme4's ``anova``: when any model is REML-fitted, every model is
refitted by ML first (REML likelihoods of models with different fixed parts are not comparable).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..errors import EstimationError, ModelSpecError

__all__ = ["adapter", "fixed_effects_table", "satterthwaite", "kenward_roger", "profile_ci",
           "anova", "information_criteria", "summary_text", "summary_html"]

_LOG2PI = math.log(2.0 * math.pi)


# ------------------------------------------------------------------------ the protocol
def _tri_index(q: int):
    """Lower-triangle indices in column-major order (lme4's theta order within a block)."""
    r, c = [], []
    for j in range(q):
        for i in range(j, q):
            r.append(i)
            c.append(j)
    return np.array(r, dtype=int), np.array(c, dtype=int)


@dataclass
class _NestedView:
    """The protocol for the nested (fast) engine of :func:`commonfactors.models.fit_mixed`."""

    fit: Any

    @property
    def reml(self) -> bool:
        return bool(self.fit.reml)

    @property
    def fixed(self) -> pd.Series:
        return self.fit.fixed

    @property
    def theta(self) -> np.ndarray:
        return np.asarray(self.fit.theta, dtype=float)

    @property
    def sigma(self) -> float:
        return float(math.sqrt(self.fit.residual_variance))

    @property
    def n_obs(self) -> int:
        return int(self.fit.n_obs)

    @property
    def theta_blocks(self) -> list:
        g = self.fit.groups
        return [(name, list(self.fit.random_cov[name].columns))
                for name in (g.inner, g.outer) if name is not None]

    @property
    def theta_lower(self) -> np.ndarray:
        lb = []
        for _, terms in self.theta_blocks:
            r, c = _tri_index(len(terms))
            lb.append(np.where(r == c, 0.0, -np.inf))
        return np.concatenate(lb)

    def _profile(self, theta, reml):
        from . import _nested
        return _nested._profile(self.fit.stats, np.asarray(theta, dtype=float), reml)

    def deviance_at(self, theta, sigma=None, reml=None) -> float:
        reml = self.reml if reml is None else bool(reml)
        try:
            dev, _omega, r2, nu = self._profile(theta, reml)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            return np.inf
        if sigma is None:
            return float(dev) if np.isfinite(dev) else np.inf
        if not sigma > 0:
            return np.inf
        base = dev - nu * (1.0 + _LOG2PI + math.log(r2 / nu))
        out = base + nu * (_LOG2PI + 2.0 * math.log(sigma)) + r2 / sigma**2
        return float(out) if np.isfinite(out) else np.inf

    def vcov_at(self, theta, sigma) -> np.ndarray:
        _dev, omega, _r2, _nu = self._profile(theta, self.reml)
        p = self.fit.stats.p
        return float(sigma) ** 2 * np.linalg.inv(omega[:p, :p])

    def row_blocks(self):
        fit = self.fit
        X = fit.X.to_numpy(dtype=float)
        g = fit.groups
        outer = g.outer if g.outer is not None else g.inner
        block_codes = pd.factorize(fit.ids[outer].to_numpy())[0]
        inner_codes = pd.factorize(fit.ids[g.inner].to_numpy())[0]
        Zin = fit.Z[g.inner].to_numpy(dtype=float)
        Zout = None if g.outer is None else fit.Z[g.outer].to_numpy(dtype=float)
        order = np.argsort(block_codes, kind="stable")
        bounds = np.flatnonzero(np.diff(block_codes[order])) + 1
        for rows in np.split(order, bounds):
            lev = pd.factorize(inner_codes[rows])[0]
            n_b, q = len(rows), Zin.shape[1]
            Zi = np.zeros((n_b, lev.max() + 1, q))
            Zi[np.arange(n_b), lev, :] = Zin[rows]
            Zs = [Zi.reshape(n_b, -1)]
            if Zout is not None:
                Zs.append(Zout[rows])
            yield X[rows], Zs

    def refit_ml(self):
        if not self.reml:
            return self.fit
        from .mixed import fit_mixed
        return fit_mixed(self.fit.data, self.fit.formula, reml=False, engine=self.fit.engine)


def adapter(fit):
    """The inference protocol of ``fit`` (see the module docstring).

    A fit that already exposes ``deviance_at``, ``vcov_at`` and ``theta_blocks`` (another engine)
    is used as it is; a :class:`~commonfactors.models.MixedFit` of the nested engine is wrapped.
    """
    if all(hasattr(fit, a) for a in ("deviance_at", "vcov_at", "theta_blocks")):
        return fit
    if getattr(fit, "stats", None) is not None and getattr(fit, "engine", None) in ("fast", "nested"):
        return _NestedView(fit)
    raise ModelSpecError(
        f"inference needs a fit of the package's own engine; got engine="
        f"{getattr(fit, 'engine', type(fit).__name__)!r}. Refit with engine='auto'.")


# ------------------------------------------------------------------------ numerical derivatives
def _steps(x: np.ndarray) -> np.ndarray:
    # The profiled quantities carry rounding noise of about 1e-10 relative (r2 is a difference
    # of large cross-products), so small steps lose digits to noise. Steps of 5% of each
    # parameter (at least 0.005) with Richardson extrapolation over h, h/2, h/4 reproduce the
    # exact Satterthwaite df of balanced designs (9 for Pastes, 17 for sleepstudy) to 3e-8
    # and 1.2e-7; steps of 0.1% were off by 3e-5.
    return 0.05 * np.maximum(np.abs(x), 0.1)


def _richardson(vals_by_h):
    """Richardson extrapolation of central differences at h, h/2, h/4 (error O(h^6))."""
    d1, d2, d3 = vals_by_h
    e1 = (4 * d2 - d1) / 3
    e2 = (4 * d3 - d2) / 3
    return (16 * e2 - e1) / 15


def _hessian(f, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    k = x.size
    h0 = _steps(x)
    f0 = f(x)
    H = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            ests = []
            for s in (1.0, 0.5, 0.25):
                hi, hj = h0[i] * s, h0[j] * s
                if i == j:
                    e = np.zeros(k)
                    e[i] = hi
                    ests.append((f(x + e) - 2 * f0 + f(x - e)) / hi**2)
                else:
                    ei, ej = np.zeros(k), np.zeros(k)
                    ei[i], ej[j] = hi, hj
                    ests.append((f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4 * hi * hj))
            H[i, j] = H[j, i] = _richardson(ests)
    return H


def _jacobian(f, x: np.ndarray) -> list:
    x = np.asarray(x, dtype=float)
    h0 = _steps(x)
    out = []
    for i in range(x.size):
        ests = []
        for s in (1.0, 0.5, 0.25):
            e = np.zeros(x.size)
            e[i] = h0[i] * s
            ests.append((f(x + e) - f(x - e)) / (2 * e[i]))
        out.append(_richardson(ests))
    return out


# ------------------------------------------------------------------------ Satterthwaite
@dataclass(frozen=True)
class _Satterthwaite:
    vcov: np.ndarray          # vcov of beta at the optimum
    jac: list                 # d vcov / d varpar_k
    vcov_varpar: np.ndarray   # A = 2 H^{-1}
    warning: str | None

    def df(self, L: np.ndarray) -> float:
        var = float(L @ self.vcov @ L)
        g = np.array([L @ J @ L for J in self.jac])
        denom = float(g @ self.vcov_varpar @ g)
        return 2.0 * var**2 / denom if denom > 0 else np.inf


def satterthwaite(fit) -> _Satterthwaite:
    """Ingredients of lmerTest's Satterthwaite df for ``fit`` (see the module docstring)."""
    m = adapter(fit)
    vp = np.r_[m.theta, m.sigma]
    nt = m.theta.size

    def dev(v):
        return m.deviance_at(v[:nt], v[nt])

    H = _hessian(dev, vp)
    warn = None
    w = np.linalg.eigvalsh(H)
    if np.min(w) <= 0 or not np.all(np.isfinite(w)):
        warn = ("the Hessian of the deviance in the variance parameters is not positive "
                "definite (a boundary or non-identified fit): Satterthwaite df are unreliable")
        A = 2.0 * np.linalg.pinv(H)
    else:
        A = 2.0 * np.linalg.inv(H)
    jac = _jacobian(lambda v: m.vcov_at(v[:nt], v[nt]), vp)
    return _Satterthwaite(vcov=m.vcov_at(m.theta, m.sigma), jac=jac, vcov_varpar=A, warning=warn)


# ------------------------------------------------------------------------ Kenward-Roger
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


# ------------------------------------------------------------------------ fixed-effects table
def fixed_effects_table(fit, ddf: str = "Satterthwaite", level: float = 0.95) -> pd.DataFrame:
    """Fixed effects with estimate, SE, df, t, p and a confidence interval (lmerTest's t-tests).

    Parameters
    ----------
    fit : MixedFit
    ddf : {"Satterthwaite", "Kenward-Roger", "residual"}
        Denominator degrees of freedom; Kenward-Roger also adjusts the SEs (REML fits only);
        "residual" uses n - p (no small-sample correction).
    level : float
        Confidence level of the interval (t quantile with the same df).
    """
    if ddf not in ("Satterthwaite", "Kenward-Roger", "residual"):
        raise ValueError(f"`ddf`: expecting 'Satterthwaite', 'Kenward-Roger' or 'residual'; "
                         f"got {ddf!r}.")
    if not 0 < level < 1:
        raise ValueError(f"`level`: expecting a number between 0 and 1; got {level!r}.")
    m = adapter(fit)
    beta = m.fixed.to_numpy(dtype=float)
    p = beta.size
    eye = np.eye(p)
    if ddf == "Kenward-Roger":
        kr = kenward_roger(fit)
        se = np.sqrt(np.diag(kr.vcov_adj))
        df = np.array([kr.df(eye[i]) for i in range(p)])
    elif ddf == "Satterthwaite":
        sat = satterthwaite(fit)
        se = np.sqrt(np.diag(sat.vcov))
        df = np.array([sat.df(eye[i]) for i in range(p)])
    else:
        se = np.sqrt(np.diag(m.vcov_at(m.theta, m.sigma)))
        df = np.full(p, float(m.n_obs - p))
    t = beta / se
    pval = 2 * stats.t.sf(np.abs(t), df)
    q = stats.t.ppf(0.5 + level / 2, df)
    return pd.DataFrame({"estimate": beta, "std_error": se, "df": df, "t": t, "p_value": pval,
                         "ci_low": beta - q * se, "ci_high": beta + q * se},
                        index=m.fixed.index)


# ------------------------------------------------------------------------ profile intervals
def _sd_names(blocks) -> list:
    """lme4's profile names; a second block on one factor (``Subject.1``) is named by the factor."""
    labels = {g for g, _ in blocks}
    names = []
    for label, terms in blocks:
        base, _, tail = label.rpartition(".")
        group = base if tail.isdigit() and base in labels else label
        r, c = _tri_index(len(terms))
        for i, j in zip(r, c, strict=True):
            t_i = "(Intercept)" if terms[i] == "Intercept" else terms[i]
            t_j = "(Intercept)" if terms[j] == "Intercept" else terms[j]
            names.append(f"sd_{t_i}|{group}" if i == j else f"cor_{t_i}.{t_j}|{group}")
    return names + ["sigma"]


def _theta_to_sdcor(theta, sigma, blocks) -> np.ndarray:
    out, pos = [], 0
    for _, terms in blocks:
        q = len(terms)
        r, c = _tri_index(q)
        Lm = np.zeros((q, q))
        Lm[r, c] = theta[pos:pos + r.size]
        pos += r.size
        T = sigma**2 * Lm @ Lm.T
        sd = np.sqrt(np.diag(T))
        for i, j in zip(r, c, strict=True):
            if i == j:
                out.append(sd[i])
            else:
                out.append(T[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else 0.0)
    return np.array(out + [sigma])


def _chol_psd(T: np.ndarray) -> np.ndarray:
    """Cholesky factor of a positive semi-definite matrix (zero pivots give zero columns)."""
    q = T.shape[0]
    Lm = np.zeros((q, q))
    for j in range(q):
        d = T[j, j] - Lm[j, :j] @ Lm[j, :j]
        Lm[j, j] = math.sqrt(d) if d > 0 else 0.0
        for i in range(j + 1, q):
            Lm[i, j] = (T[i, j] - Lm[i, :j] @ Lm[j, :j]) / Lm[j, j] if Lm[j, j] > 0 else 0.0
    return Lm


def _sdcor_to_theta(phi, blocks):
    sigma = phi[-1]
    if not sigma > 0:
        return None
    out, pos = [], 0
    for _, terms in blocks:
        q = len(terms)
        r, c = _tri_index(q)
        vals = phi[pos:pos + r.size]
        pos += r.size
        sd = np.zeros(q)
        C = np.eye(q)
        for v, i, j in zip(vals, r, c, strict=True):
            if i == j:
                sd[i] = v
            else:
                C[i, j] = C[j, i] = v
        T = np.outer(sd, sd) * C / sigma**2
        if np.min(np.linalg.eigvalsh(C)) < -1e-12:
            return None
        Lm = _chol_psd(T)
        out.append(Lm[r, c])
    return np.concatenate(out), sigma


def profile_ci(fit, level: float = 0.95, *, tol: float = 1e-9) -> pd.DataFrame:
    """Profile-likelihood intervals of the variance parameters, as lme4's ``confint(method="profile")``.

    Returns a DataFrame indexed by lme4's names (``sd_(Intercept)|client``,
    ``cor_session.(Intercept)|client``, ``sigma``) with ``estimate_ml, ci_low, ci_high``.
    Like lme4, a REML fit is refitted by ML and the ML deviance is profiled; each bound is the
    exact root (to ``tol`` relative) where the profile deviance exceeds its minimum by the
    chi-square(1) quantile of ``level``; a bound at a boundary (sd 0, correlation +-1) is
    reported when the profile stays below the cut-off up to it.
    """
    if not 0 < level < 1:
        raise ValueError(f"`level`: expecting a number between 0 and 1; got {level!r}.")
    m = adapter(fit)
    mm = adapter(m.refit_ml())
    blocks = mm.theta_blocks
    names = _sd_names(blocks)
    phi0 = _theta_to_sdcor(mm.theta, mm.sigma, blocks)
    is_cor = np.array([n.startswith("cor_") for n in names])
    lo = np.where(is_cor, -1.0, 0.0)
    hi = np.where(is_cor, 1.0, np.inf)

    def dev_phi(phi):
        conv = _sdcor_to_theta(phi, blocks)
        if conv is None or not phi[-1] > 0:
            return np.inf
        return mm.deviance_at(conv[0], conv[1], reml=False)

    base = dev_phi(phi0)
    if not np.isfinite(base):
        raise EstimationError("profile: the ML deviance is not finite at the ML estimates.")
    cut = float(stats.chi2.ppf(level, 1))
    k = phi0.size
    rows = []
    for j in range(k):
        others = [i for i in range(k) if i != j]
        bnds = [(lo[i], None if not np.isfinite(hi[i]) else hi[i]) for i in others]
        lo_o = np.array([b[0] for b in bnds])
        hi_o = np.array([np.inf if b[1] is None else b[1] for b in bnds])
        warm = phi0[others].copy()

        def excess(s, j=j, others=others, bnds=bnds, lo_o=lo_o, hi_o=hi_o, warm=warm):
            """Profile deviance at phi_j = s minus the minimum (others re-optimised)."""
            x = phi0.copy()
            x[j] = s
            if not others:
                return dev_phi(x) - base

            def f(z):
                x[others] = z
                v = dev_phi(x)
                return v if np.isfinite(v) else 1e100

            r = optimize.minimize(f, np.clip(warm, lo_o, hi_o), method="L-BFGS-B", bounds=bnds,
                                  options={"ftol": 1e-13, "gtol": 1e-6, "maxiter": 1000})
            warm[:] = r.x
            return float(r.fun) - base

        est = []
        for side in (-1.0, 1.0):
            warm[:] = phi0[others]
            bound = lo[j] if side < 0 else hi[j]
            # secant iterations on zeta(s) = sqrt(excess(s)) - sqrt(cut), which is close to
            # linear in s (lme4's signed root deviance); start at a fifth of the estimate
            s_prev, z_prev = phi0[j], -math.sqrt(cut)
            s_cur = phi0[j] + side * (0.2 if is_cor[j] else max(0.2 * abs(phi0[j]), 1e-3))
            root = None
            for _ in range(100):
                if side * (s_cur - bound) >= 0:
                    s_cur = bound
                    z_b = math.sqrt(max(excess(s_cur), 0.0)) - math.sqrt(cut)
                    if z_b <= 0:
                        root = bound
                        break
                    z_cur = z_b
                else:
                    z_cur = math.sqrt(max(excess(s_cur), 0.0)) - math.sqrt(cut)
                if abs(z_cur) < 1e-12:
                    root = s_cur
                    break
                slope = (z_cur - z_prev) / (s_cur - s_prev)
                if not slope * side > 0:  # not increasing away from the estimate: step on
                    s_next = phi0[j] + 2.0 * (s_cur - phi0[j])
                else:
                    s_next = s_cur - z_cur / slope
                if abs(s_next - s_cur) <= tol * max(1.0, abs(s_cur)):
                    root = s_next
                    break
                s_prev, z_prev, s_cur = s_cur, z_cur, s_next
            if root is None:
                raise EstimationError(f"profile: no bound found for {names[j]}.")
            est.append(root)
        rows.append((names[j], phi0[j], est[0], est[1]))
    return pd.DataFrame(rows, columns=["parameter", "estimate_ml", "ci_low", "ci_high"]
                        ).set_index("parameter")


# ------------------------------------------------------------------------ comparison
def information_criteria(fit) -> dict:
    """``npar, loglik, deviance, aic, bic`` as lme4's ``logLik``/``AIC``/``BIC`` (criterion of the fit)."""
    m = adapter(fit)
    npar = int(m.fixed.size + m.theta.size + 1)
    ll = -0.5 * m.deviance_at(m.theta)
    return {"npar": npar, "loglik": ll, "deviance": -2 * ll, "aic": -2 * ll + 2 * npar,
            "bic": -2 * ll + math.log(m.n_obs) * npar}


def anova(*fits, refit: bool = True) -> pd.DataFrame:
    """Likelihood-ratio comparison of nested models, as lme4's ``anova(m0, m1, ...)``.

    Parameters
    ----------
    *fits : MixedFit
        Two or more fits of the same rows, smaller model first or not (sorted by number of
        parameters, as lme4 does).
    refit : bool
        lme4's rule (default): if any fit is REML, every fit is refitted by ML first. With
        ``refit=False`` REML fits are compared as they are (only valid when the fixed parts
        are identical).

    Returns
    -------
    pandas.DataFrame
        One row per model: ``npar, aic, bic, loglik, deviance, chisq, df, p_value`` (the last
        three compare each model with the one above it).
    """
    if len(fits) < 2:
        raise ModelSpecError("anova: give at least two fitted models.")
    views = [adapter(f) for f in fits]
    n = {v.n_obs for v in views}
    if len(n) > 1:
        raise ModelSpecError(f"anova: the models were fitted to different numbers of rows "
                             f"({sorted(n)}); fit them to the same rows.")
    if refit and any(v.reml for v in views):
        views = [adapter(v.refit_ml()) for v in views]
    elif len({v.reml for v in views}) > 1:
        raise ModelSpecError("anova: REML and ML fits cannot be compared; use refit=True.")
    ics = [information_criteria(v) for v in views]
    labels = [getattr(f, "formula", f"model {i + 1}") for i, f in enumerate(fits)]
    order = sorted(range(len(fits)), key=lambda i: ics[i]["npar"])
    rows = []
    for rank, i in enumerate(order):
        ic = ics[i]
        row = {"model": labels[i], **{k: ic[k] for k in ("npar", "aic", "bic", "loglik", "deviance")},
               "chisq": np.nan, "df": np.nan, "p_value": np.nan}
        if rank > 0:
            prev = ics[order[rank - 1]]
            chisq = max(prev["deviance"] - ic["deviance"], 0.0)
            ddf = ic["npar"] - prev["npar"]
            row.update(chisq=chisq, df=ddf,
                       p_value=float(stats.chi2.sf(chisq, ddf)) if ddf > 0 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


# ------------------------------------------------------------------------ display
def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""


def _random_table(fit) -> pd.DataFrame:
    rows = []
    for g, T in fit.random_cov.items():
        terms = list(T.columns)
        sd = np.sqrt(np.diag(T.to_numpy()))
        for i, t in enumerate(terms):
            cors = [T.iloc[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else np.nan
                    for j in range(i)]
            rows.append({"Groups": g if i == 0 else "", "Name": t, "Variance": sd[i] ** 2,
                         "Std.Dev.": sd[i], "Corr": " ".join(f"{c:.2f}" for c in cors)})
    rows.append({"Groups": "Residual", "Name": "", "Variance": fit.residual_variance,
                 "Std.Dev.": math.sqrt(fit.residual_variance), "Corr": ""})
    return pd.DataFrame(rows)


def _scaled_residuals(fit):
    try:
        res = (fit.y.to_numpy() - fit.predict(random=True).to_numpy()) / math.sqrt(
            fit.residual_variance)
    except Exception:  # noqa: BLE001 - the summary line is optional; the fit is not
        return None
    return pd.Series(np.quantile(res, [0, 0.25, 0.5, 0.75, 1.0]),
                     index=["Min", "1Q", "Median", "3Q", "Max"])


def _summary_parts(fit, ddf: str):
    crit = "REML" if fit.reml else "maximum likelihood"
    try:
        table = fixed_effects_table(fit, ddf=ddf)
        method = f"t-tests use {ddf}'s method" if ddf != "residual" else "residual df"
        if ddf == "Satterthwaite":
            w = satterthwaite(fit).warning
            extra = [w] if w else []
        else:
            extra = []
    except (ModelSpecError, EstimationError, np.linalg.LinAlgError) as err:
        table = pd.DataFrame({"estimate": fit.fixed, "std_error": fit.std_errors})
        method = "no t-tests"
        extra = [f"t-tests not available: {err}"]
    return crit, method, table, extra


def _criteria_of(fit) -> dict:
    try:
        return information_criteria(fit)
    except ModelSpecError:  # another engine without the protocol: from its own log-likelihood
        npar = int(len(fit.fixed) + len(fit.theta) + 1)
        ll = float(fit.loglik)
        return {"npar": npar, "loglik": ll, "deviance": -2 * ll, "aic": -2 * ll + 2 * npar,
                "bic": -2 * ll + math.log(fit.n_obs) * npar}


def summary_text(fit, ddf: str = "Satterthwaite") -> str:
    """lmerTest-style text summary of a fit."""
    crit, method, table, extra = _summary_parts(fit, ddf)
    ic = _criteria_of(fit)
    lines = [f"Linear mixed model fit by {crit}. {method} (engine={fit.engine})",
             f"Formula: {fit.formula}", ""]
    if fit.reml:
        lines.append(f"REML criterion at convergence: {ic['deviance']:.1f}")
    else:
        lines.append(f"     AIC      BIC   logLik deviance\n {ic['aic']:8.1f} {ic['bic']:8.1f} "
                     f"{ic['loglik']:8.1f} {ic['deviance']:8.1f}")
    sr = _scaled_residuals(fit)
    if sr is not None:
        lines += ["", "Scaled residuals:", sr.to_frame().T.to_string(
            index=False, float_format=lambda v: f"{v:.4f}")]
    rt = _random_table(fit)
    lines += ["", "Random effects:", rt.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
              f"Number of obs: {fit.n_obs}, groups:  "
              + ", ".join(f"{g}, {n}" for g, n in fit.n_groups.items())]
    if fit.n_dropped:
        lines.append(f"({fit.n_dropped} rows dropped for missing values)")
    lines += ["", "Fixed effects:"]
    if "p_value" in table:
        show = pd.DataFrame({
            "Estimate": table["estimate"], "Std. Error": table["std_error"], "df": table["df"],
            "t value": table["t"],
            "Pr(>|t|)": [f"{p:.3g}" if p >= 2e-16 else "<2e-16" for p in table["p_value"]],
            "": [_stars(p) for p in table["p_value"]]})
        lines.append(show.to_string(float_format=lambda v: f"{v:.4g}"))
        lines.append("---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
    else:
        lines.append(table.to_string(float_format=lambda v: f"{v:.4g}"))
    notes = list(fit.warnings) + extra
    if fit.singular and not any("singular" in w for w in notes):
        notes.append("boundary (singular) fit")
    if not fit.converged:
        notes.append("the optimiser did not converge")
    if notes:
        lines += ["", "Warnings:"] + [f"- {w}" for w in notes]
    return "\n".join(lines)


def _html_table(df: pd.DataFrame, index: bool) -> str:
    """A plain HTML table with every header, label and cell escaped (pandas leaves labels raw)."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.4g}"
        return html.escape(str(v))
    head = ([""] if index else []) + [html.escape(str(c)) for c in df.columns]
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for label, r in zip(df.index, df.itertuples(index=False), strict=True):
        cells = ([f"<th>{html.escape(str(label))}</th>"] if index else []) + [
            f"<td>{cell(v)}</td>" for v in r]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def summary_html(fit, ddf: str = "Satterthwaite") -> str:
    """The same summary as HTML; every user-supplied string (formula, names, warnings) is escaped."""
    crit, method, table, extra = _summary_parts(fit, ddf)
    esc = html.escape
    ic = _criteria_of(fit)
    head = (f"<p><b>Linear mixed model fit by {esc(crit)}</b>. {esc(method)} "
            f"(engine={esc(str(fit.engine))})<br>Formula: <code>{esc(fit.formula)}</code><br>"
            f"n = {fit.n_obs} (dropped {fit.n_dropped}); groups: "
            + ", ".join(f"{esc(str(g))} {n}" for g, n in fit.n_groups.items())
            + f"<br>logLik {ic['loglik']:.3f}; AIC {ic['aic']:.1f}; BIC {ic['bic']:.1f}; "
            f"converged {fit.converged}; singular {fit.singular}</p>")
    body = _html_table(_random_table(fit), index=False) + _html_table(table, index=True)
    notes = list(fit.warnings) + extra
    warn = "".join(f"<li>{esc(w)}</li>" for w in notes)
    return head + body + (f"<ul>{warn}</ul>" if warn else "")
