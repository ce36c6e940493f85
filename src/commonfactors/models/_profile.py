"""Profile-likelihood intervals of the variance parameters (lme4's ``confint(method = "profile")``).

Like lme4, a REML fit is refitted by ML and the ML deviance is profiled in the standard
deviations, correlations and sigma; each bound is the exact root where the profile exceeds its
minimum by the chi-square(1) quantile (lme4 interpolates a spline through profile points).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..errors import EstimationError
from ._protocol import _tri_index, adapter


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




def bootstrap_ci(fit, n_boot: int = 500, level: float = 0.95, *, seed=None) -> pd.DataFrame:
    """Parametric-bootstrap percentile intervals of the variance parameters (lme4's ``bootMer``).

    Each replicate draws the random effects and residuals from the fitted model (the same rows,
    the same design), refits with the fit's criterion starting from the fit's estimates (as
    lme4's ``refit``), and records the SDs, correlations and sigma. Replicates whose refit did not converge are dropped and counted
    (``n_failed``), never hidden.

    Returns
    -------
    pandas.DataFrame
        Indexed like :func:`profile_ci`: ``estimate`` (the fit's own), ``ci_low, ci_high``,
        ``n_boot`` (replicates used) and ``n_failed``.
    """
    import warnings

    from .mixed import ConvergenceWarning, fit_mixed

    if not 0 < level < 1:
        raise ValueError(f"`level`: expecting a number between 0 and 1; got {level!r}.")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"`n_boot`: expecting an integer of at least 2; got {n_boot!r}.")
    m = adapter(fit)
    blocks = m.theta_blocks
    names = _sd_names(blocks)
    sigma = m.sigma
    Ts, pos = [], 0
    for _, terms in blocks:
        q = len(terms)
        r, c = _tri_index(q)
        Lm = np.zeros((q, q))
        Lm[r, c] = m.theta[pos:pos + r.size]
        pos += r.size
        Ts.append(sigma * Lm)  # Cholesky factor of T (T = sigma^2 L L')
    beta = m.fixed.to_numpy(dtype=float)
    parts = list(zip(m.block_rows(), m.row_blocks(), strict=True))
    rhs = fit.formula.split("~", 1)[1]
    col = "y_boot_"
    while col in fit.data.columns:
        col += "_"
    data = fit.data.copy()
    rng = np.random.default_rng(seed)
    draws, failed = [], 0
    for _ in range(int(n_boot)):
        y = np.empty(m.n_obs)
        for rows, (Xb, Zs) in parts:
            mu = Xb @ beta
            for Zb, C in zip(Zs, Ts, strict=True):
                q = C.shape[0]
                u = rng.standard_normal((Zb.shape[1] // q, q)) @ C.T
                mu = mu + Zb @ u.ravel()
            y[rows] = mu + sigma * rng.standard_normal(len(rows))
        if hasattr(m, "refit_y"):  # same design, warm start at the fit's theta (lme4's refit)
            theta_b, sigma_b, ok = m.refit_y(y)
        else:
            data[col] = y
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                refit = fit_mixed(data, f"{col} ~{rhs}", reml=m.reml)
            rm = adapter(refit)
            theta_b, sigma_b, ok = rm.theta, rm.sigma, refit.converged
        if not ok:
            failed += 1
            continue
        draws.append(_theta_to_sdcor(theta_b, sigma_b, blocks))
    if len(draws) < 2:
        raise EstimationError(f"parametric bootstrap: {failed} of {n_boot} refits failed.")
    draws = np.array(draws)
    a = (1 - level) / 2
    est = _theta_to_sdcor(m.theta, sigma, blocks)
    return pd.DataFrame({"parameter": names, "estimate": est,
                         "ci_low": np.quantile(draws, a, axis=0),
                         "ci_high": np.quantile(draws, 1 - a, axis=0),
                         "n_boot": len(draws), "n_failed": failed}).set_index("parameter")
