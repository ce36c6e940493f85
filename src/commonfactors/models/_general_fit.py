"""Optimiser of the general engine's profiled deviance and the estimates at the optimum.

See :mod:`._general` for the model, the parametrisation and the deviance; this module holds the
fit (L-BFGS-B with the analytic gradient, Newton polish, lme4's convergence and singular checks,
probes of diagonals on their bound), the estimates at a given theta and the conditional modes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..errors import EstimationError
from ..parallel import one_blas_thread
from ._general import (
    _ANALYTIC_LIMIT,
    GeneralStats,
    _evaluate,
    _s_solve,
    _sum_by,
    dev_grad,
    deviance,
)
from ._nested_deviance import _tail
from ._nested_stats import GRAD_TOL, SINGULAR_TOL

__all__ = ["GeneralFit", "fit_general", "evaluate_general", "general_modes", "hessian_general"]


@dataclass(frozen=True)
class GeneralFit:
    """Result of :func:`fit_general` (mirrors :class:`._nested_fit.CoreFit`)."""

    beta: np.ndarray
    vcov: np.ndarray
    s2: float
    theta: np.ndarray
    T: tuple  # covariance matrix per term (lme4 order)
    loglik: float
    deviance: float
    reml: bool
    converged: bool
    singular: bool
    n_iter: int
    n_eval: int
    grad: np.ndarray
    hessian: np.ndarray | None
    message: str


def _grad_fd(f, x, lb, f0=None):
    """Central differences (one-sided at a bound)."""
    g = np.empty_like(x)
    for j in range(x.size):
        h = 1e-5 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        if x[j] - h < lb[j]:
            f0_ = f(x) if f0 is None else f0
            g[j] = (f(x + e) - f0_) / h
        else:
            g[j] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _hess_fd(f, x, lb):
    n = x.size
    H = np.empty((n, n))
    f0 = f(x)
    for j in range(n):
        h = 1e-4 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        xp = x + e
        xm = x - e if x[j] - h >= lb[j] else x
        step = (xp[j] - xm[j])
        H[:, j] = (_grad_fd(f, xp, lb) - _grad_fd(f, xm, lb, f0 if xm is x else None)) / step
    return 0.5 * (H + H.T)


def fit_general(stats: GeneralStats, reml: bool = True, theta0=None, *, maxiter: int = 1000) -> GeneralFit:
    """Minimise the profiled deviance over theta (see module docstring).

    BLAS runs on one thread meanwhile (the blocks are small; thread hand-offs cost more than
    the arithmetic on a loaded machine).
    """
    with one_blas_thread():
        return _fit_general(stats, reml, theta0, maxiter)


def _fit_general(stats, reml, theta0, maxiter) -> GeneralFit:
    if stats.n - stats.p <= 0:
        raise EstimationError(f"`stats`: {stats.n} rows for {stats.p} fixed effects; need more rows.")
    lb = stats.lower_bounds()
    x0 = stats.theta0() if theta0 is None else np.maximum(np.asarray(theta0, dtype=float), lb)
    counter = [0]
    analytic = stats.q2 <= _ANALYTIC_LIMIT

    def f(t):
        counter[0] += 1
        v = deviance(stats, t, reml)
        return v if np.isfinite(v) else 1e300

    def fg(t):
        if analytic:
            counter[0] += 1
            try:
                with np.errstate(all="ignore"):
                    v, g = dev_grad(stats, t, reml)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError):
                return 1e300, np.zeros_like(t)
            if not np.isfinite(v) or not np.all(np.isfinite(g)):
                return 1e300, np.zeros_like(t)
            return v, g
        v = f(t)
        return v, _grad_fd(f, t, lb, v)

    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lb]
    diag = np.isfinite(lb)
    n_iter, success, msg = 0, False, ""
    for _attempt in range(4):
        res = optimize.minimize(fg, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-6,
                                         "maxls": 50})
        n_iter += int(res.nit)
        theta = np.maximum(res.x, lb)
        success, msg = bool(res.success), str(res.message)
        theta = _polish(fg, theta, lb)
        dev = f(theta)
        restart = None
        for j in np.flatnonzero(diag & (theta <= 1e-8)):
            for step in (1e-3, 0.1):
                t = theta.copy()
                t[j] = step
                ft = f(t)
                if ft < dev - 1e-8:
                    restart, dev = t, ft
        if restart is None:
            break
        x0 = restart
    dev, g = fg(theta)
    gp = g.copy()
    gp[(theta <= lb + 1e-10) & (g > 0)] = 0.0
    H = _hess(fg, theta, lb, g) if theta.size <= 40 else None
    gmax = _scaled_grad(gp, H)
    converged = bool(dev < 1e300 and gmax < GRAD_TOL)
    if not converged:
        msg = f"optimiser did not converge ('{msg}'; max scaled gradient {gmax:.2g} >= {GRAD_TOL:g})"
    elif not success:
        msg = f"optimiser stopped with '{msg}' at a point with max scaled gradient {gmax:.2g}"
    out = evaluate_general(stats, theta, reml)
    return GeneralFit(out.beta, out.vcov, out.s2, out.theta, out.T, out.loglik, out.deviance,
                      reml, converged, out.singular, n_iter, counter[0], gp, H, msg)


def _hess(fg, x, lb, g0):
    """Hessian by forward differences of the gradient (backward at a bound)."""
    n = x.size
    H = np.empty((n, n))
    for j in range(n):
        h = 1e-6 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        H[:, j] = (fg(x + e)[1] - g0) / h
    return 0.5 * (H + H.T)


def hessian_general(stats: GeneralStats, theta, reml: bool = True) -> np.ndarray:
    """Hessian of the profiled deviance at ``theta`` (differences of the analytic gradient)."""
    theta = np.asarray(theta, dtype=float)
    fg = lambda t: dev_grad(stats, t, reml)  # noqa: E731
    return _hess(fg, theta, stats.lower_bounds(), fg(theta)[1])


def _polish(fg, theta, lb, maxit: int = 8):
    """Projected Newton steps on a difference Hessian (quadratic convergence near the optimum)."""
    x = theta.copy()
    fx, g = fg(x)
    for _ in range(maxit):
        free = ~((x <= lb + 1e-10) & (g > 0))
        if not free.any() or np.max(np.abs(g[free])) < 1e-9 * max(1.0, abs(fx)):
            break
        H = _hess(fg, x, lb, g)[np.ix_(free, free)]
        try:
            cH = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            break
        step = np.zeros_like(x)
        step[free] = -np.linalg.solve(cH.T, np.linalg.solve(cH, g[free]))
        t = 1.0
        for _ in range(10):
            xn = np.maximum(x + t * step, lb)
            fn, gn = fg(xn)
            if fn <= fx + 1e-10:
                break
            t *= 0.5
        else:
            break
        x, fx, g = xn, fn, gn
    return x


def _scaled_grad(gp, H):
    if not gp.size:
        return 0.0
    gabs = float(np.max(np.abs(gp)))
    if gabs < GRAD_TOL or H is None:
        return gabs
    free = gp != 0.0
    try:
        cH = np.linalg.cholesky(H[np.ix_(free, free)])
        return float(np.max(np.minimum(np.abs(np.linalg.solve(cH, gp[free])), np.abs(gp[free]))))
    except np.linalg.LinAlgError:
        return gabs


def evaluate_general(stats: GeneralStats, theta, reml: bool = True) -> GeneralFit:
    """Estimates at a given ``theta`` without optimising."""
    theta = np.asarray(theta, dtype=float)
    parts = _evaluate(stats, theta)
    dev, r2, nu = _tail(stats, parts.logdet, parts.omega, reml)
    p = stats.p
    s2 = float(r2 / nu)
    if p:
        Pinv = np.linalg.inv(parts.omega[:p, :p])
        beta = Pinv @ parts.omega[:p, p]
        vcov = s2 * Pinv
    else:
        beta, vcov = np.zeros(0), np.zeros((0, 0))
    Ls = stats.term_factors(theta)
    T = tuple(s2 * L @ L.T for L in Ls)
    sing = bool(np.any(np.concatenate([np.diag(L) for L in Ls]) < SINGULAR_TOL))
    return GeneralFit(beta, vcov, s2, theta, T, float(-dev / 2), float(dev), reml, True, sing,
                      0, 1, np.zeros_like(theta), None, "evaluated at a given theta")


def general_modes(stats: GeneralStats, fit: GeneralFit, condvar: bool = False) -> list:
    """Conditional modes per random term (as given): list of ((levels, p_k), covariances or None).

    ``u = Lambda v`` with ``A v = Lambda'Z'(y - X b)``; the conditional covariance of ``u`` is
    ``s2 Lambda A^{-1} Lambda'`` (lme4's ``condVar``, fixed effects treated as known).
    """
    blocks = _block_modes(stats, fit, condvar)
    out = [None] * len(stats.orig)
    for t, (u, var) in zip(stats.terms, blocks, strict=True):
        o = 0
        for j in t.members:
            pj = stats.orig[j].p
            sl = slice(o, o + pj)
            out[j] = (u[:, sl], None if var is None else var[:, sl, sl])
            o += pj
    return out


def _block_modes(stats: GeneralStats, fit: GeneralFit, condvar: bool = False) -> list:
    """Conditional modes per elimination block (see :func:`general_modes`).

    ``u = Lambda v`` with ``A v = Lambda'Z'(y - X b)``; the conditional covariance of ``u`` is
    ``s2 Lambda A^{-1} Lambda'`` (lme4's ``condVar``, fixed effects treated as known).
    """
    parts = _evaluate(stats, fit.theta)
    c = np.r_[-fit.beta, 1.0]
    t1 = stats.terms[0]
    r1 = parts.R1 @ c  # (l1, p1)
    v1 = (parts.A1inv @ r1[..., None])[..., 0]
    K = len(stats.terms)
    Ls = parts.Ls
    out = []
    var1 = parts.A1inv
    if K > 1:
        r2 = np.zeros(stats.q2)
        for k in range(1, K):
            a, b, _ = stats.c1[k]
            rk = (Ls[k].T @ (stats.zgk[k] @ c)[..., None])[..., 0]
            rk = rk - _sum_by(b, stats.terms[k].levels, (np.swapaxes(parts.W[k], 1, 2) @ r1[a][..., None])[..., 0])
            r2[stats.rest_index(k, np.arange(stats.terms[k].levels)).ravel()] = rk.ravel()
        v2 = _s_solve(parts.Sfac, r2)
        for k in range(1, K):
            a, b, _ = stats.c1[k]
            vb = v2[stats.rest_index(k, b)]  # (nb, p_k)
            v1 = v1 - _sum_by(a, t1.levels, (parts.W[k] @ vb[..., None])[..., 0])
        if condvar:
            Sinv = _s_solve(parts.Sfac, np.eye(stats.q2))
            for (k, m), (i, j, a, bi, bj) in stats.pairs.items():
                ri = stats.rest_index(k, bi)
                ci = stats.rest_index(m, bj)
                blk = Sinv[ri[:, :, None], ci[:, None, :]]
                var1 = var1 + _sum_by(a, t1.levels, parts.W[k][i] @ blk @ np.swapaxes(parts.W[m][j], 1, 2))
    out.append(((Ls[0] @ v1[..., None])[..., 0], fit.s2 * (Ls[0] @ var1 @ Ls[0].T) if condvar else None))
    for k in range(1, K):
        lt = stats.terms[k]
        idx = stats.rest_index(k, np.arange(lt.levels))
        u = (Ls[k] @ v2[idx][..., None])[..., 0]
        var = None
        if condvar:
            var = fit.s2 * (Ls[k] @ Sinv[idx[:, :, None], idx[:, None, :]] @ Ls[k].T)
        out.append((u, var))
    return out
