"""Optimiser of the profiled deviance and estimates at the optimum (see :mod:`.nested`).

The optimiser part of the fast nested engine: cold fits (L-BFGS-B polished by Newton steps),
warm refits for bootstrap replicates, the Hessian at a point and estimates at a given theta.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize

from ..errors import EstimationError
from ..parallel import one_blas_thread
from ._nested_deviance import _dev_grad, _profile, _split_theta
from ._nested_stats import GRAD_TOL, SINGULAR_TOL, NestedStats, _diag_mask, tri_index


# ---------------------------------------------------------------------- fitting
@dataclass(frozen=True)
class CoreFit:
    """Result of :func:`fit_nested` (plain NumPy; picklable)."""

    beta: np.ndarray
    vcov: np.ndarray
    s2: float
    theta: np.ndarray
    T_in: np.ndarray
    T_out: np.ndarray | None
    loglik: float
    deviance: float
    reml: bool
    converged: bool
    singular: bool
    n_iter: int
    n_eval: int
    grad: np.ndarray
    message: str


def _lower_bounds(stats: NestedStats) -> np.ndarray:
    lb = [np.where(_diag_mask(stats.q_in), 0.0, -np.inf)]
    if stats.q_out:
        lb.append(np.where(_diag_mask(stats.q_out), 0.0, -np.inf))
    return np.concatenate(lb)


def default_theta0(stats: NestedStats) -> np.ndarray:
    """lme4's start: identity relative factors (ones on the diagonals, zeros elsewhere)."""
    parts = [_diag_mask(stats.q_in).astype(float)]
    if stats.q_out:
        parts.append(_diag_mask(stats.q_out).astype(float))
    return np.concatenate(parts)


def _projected(g: np.ndarray, x: np.ndarray, lb: np.ndarray) -> np.ndarray:
    out = g.copy()
    at_bound = (x <= lb + 1e-10) & (g > 0)
    out[at_bound] = 0.0
    return out


def _safe_dev_grad(stats: NestedStats, theta: np.ndarray, reml: bool):
    try:
        with np.errstate(all="ignore"):
            f, g = _dev_grad(stats, theta, reml)
    except (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError):
        return np.inf, np.zeros_like(theta)
    if not np.isfinite(f) or not np.all(np.isfinite(g)):
        return np.inf, np.zeros_like(theta)
    return f, g


def _newton(fun_grad, x0: np.ndarray, lb: np.ndarray, maxit: int = 8):
    """Projected Newton steps (Hessian by differences of the analytic gradient) from a warm start.

    Returns (theta, dev, grad, iterations) on success, None when it does not converge quickly
    (the caller then runs L-BFGS-B).
    """
    x = x0.copy()
    f, g = fun_grad(x)
    if not f < 1e300:
        return None
    # The deviance sums terms of the size of |f| and rounds at about 1e-14 |f| (1e-7 at a million
    # rows), more than a Newton step gains near the optimum; the gradient rounds far less. So
    # steps are accepted unless they raise the deviance by more than `tol`, and convergence is
    # |gradient| < tol, which pins theta down to about tol / (Hessian), a few 1e-10 relative, so
    # that the optimum does not depend on the order in which the statistics were summed.
    tol = 1e-12 * max(1.0, abs(f))
    for it in range(maxit + 1):
        free = ~((x <= lb + 1e-12) & (g > 0))
        if np.max(np.abs(np.where(free, g, 0.0)), initial=0.0) < tol:
            return x, f, g, it
        if it == maxit or not free.any():
            return None
        H = _fd_hessian(fun_grad, x, g)[np.ix_(free, free)]
        try:
            cH = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            return None
        step = np.zeros_like(x)
        step[free] = -np.linalg.solve(cH.T, np.linalg.solve(cH, g[free]))
        for _ in range(10):
            xn = np.maximum(x + step, lb)
            fn, gn = fun_grad(xn)
            if fn <= f + tol:
                break
            step *= 0.5
        else:
            return None
        x, f, g = xn, fn, gn
    return None


def fit_nested(stats: NestedStats, reml: bool = True, theta0=None, *, maxiter: int = 500) -> CoreFit:
    """Fit the nested mixed model by minimising the profiled (RE)ML deviance over theta.

    Parameters
    ----------
    stats : NestedStats
        Sufficient statistics (see :meth:`NestedStats.from_arrays`).
    reml : bool
        REML (default) or ML.
    theta0 : array, optional
        Start (e.g. the theta of a previous fit: a warm start); default lme4's identity start.
    maxiter : int
        Iteration limit of the optimiser.

    Returns
    -------
    CoreFit
        ``converged`` is True only if the optimiser ends at a point whose projected gradient is
        below ``GRAD_TOL`` (absolute, deviance scale); ``message`` says what happened.

    Notes
    -----
    L-BFGS-B on the profiled deviance with its analytic gradient and lower bounds 0 on the
    diagonal elements of the relative Cholesky factors (Bates et al. 2015, section 3). The
    deviance is even in each diagonal element of a one-dimensional factor (and in the last
    diagonal of any factor), so a point with a diagonal on its bound can be a stationary point
    that is not a minimum; every such diagonal is probed off the bound and the optimiser is
    restarted from there when that lowers the deviance.
    """
    with one_blas_thread():
        return _fit_nested(stats, reml, theta0, maxiter)


def _fd_hessian(fun_grad, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    H = np.empty((x.size, x.size))
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        H[:, j] = (fun_grad(x + e)[1] - g) / h
    return 0.5 * (H + H.T)


def _conv_measure(fun_grad, theta: np.ndarray, gp: np.ndarray, lb: np.ndarray,
                  H: np.ndarray | None = None) -> float:
    """lme4's gradient check: ``max(min(|scaled gradient|, |gradient|))`` over free parameters.

    The scaled gradient is ``solve(chol(H), g)`` (lme4 ``checkConv``), which makes the test
    invariant to the size of the deviance; the absolute gradient is checked first and the
    Hessian (by differences of the analytic gradient) is only computed when that fails.
    """
    if not gp.size:
        return 0.0
    gabs = float(np.max(np.abs(gp)))
    if gabs < GRAD_TOL:
        return gabs
    free = gp != 0.0
    try:
        if H is None:
            H = _fd_hessian(fun_grad, theta, fun_grad(theta)[1])
        cH = np.linalg.cholesky(H[np.ix_(free, free)])
        scaled = np.linalg.solve(cH, gp[free])
    except np.linalg.LinAlgError:
        return gabs
    return float(np.max(np.minimum(np.abs(scaled), np.abs(gp[free]))))


def refit_warm(stats: NestedStats, reml: bool, theta0: np.ndarray, H0: np.ndarray | None = None,
               *, maxit: int = 40, tol: float = 1e-7) -> CoreFit:
    """Fast refit from a nearby optimum (bootstrap replicates).

    Projected quasi-Newton (BFGS updates) started with the Hessian ``H0`` of the fit it is
    warm-started from, one gradient evaluation per step. It stops when lme4's scaled-gradient
    criterion falls below ``tol`` or the predicted decrease falls below the deviance's rounding;
    if it cannot get there it falls back to :func:`fit_nested`, so a hard replicate is fitted
    as carefully as any other. Measured against cold refits (``bench/decompose_speed.py``, 20
    replicates of the 10k-row design): every decomposition estimand agrees to about 2e-5 or
    better (the largest differences are in ratios of a therapist variance near zero, where the
    likelihood is flat), far below bootstrap error; the point estimates of ``decompose`` always
    use :func:`fit_nested`.
    """
    lb = _lower_bounds(stats)
    x = np.maximum(np.asarray(theta0, dtype=float).copy(), lb)
    counter = [0]

    def fun_grad(t):
        counter[0] += 1
        f, g = _safe_dev_grad(stats, t, reml)
        return (1e300, g) if not np.isfinite(f) else (f, g)

    f, g = fun_grad(x)
    H = _fd_hessian(fun_grad, x, g) if H0 is None else np.array(H0, dtype=float)
    ok = f < 1e300
    it = 0
    for it in range(maxit):  # noqa: B007 - `it` is reported as n_iter
        if not ok:
            break
        gp = _projected(g, x, lb)
        free = gp != 0.0
        if not free.any():
            break
        try:
            cH = np.linalg.cholesky(H[np.ix_(free, free)])
        except np.linalg.LinAlgError:
            H = _fd_hessian(fun_grad, x, g)
            try:
                cH = np.linalg.cholesky(H[np.ix_(free, free)])
            except np.linalg.LinAlgError:
                ok = False
                break
        scaled = np.linalg.solve(cH, gp[free])
        if np.max(np.minimum(np.abs(scaled), np.abs(gp[free]))) < tol:
            break
        step = np.zeros_like(x)
        step[free] = -np.linalg.solve(cH.T, scaled)
        if abs(float(g @ step)) < 1e-12 * max(1.0, abs(f)):
            break  # the predicted decrease is below the deviance's rounding: at the optimum
        t = 1.0
        for _ in range(20):
            xn = np.maximum(x + t * step, lb)
            fn, gn = fun_grad(xn)
            if fn <= f + 1e-4 * t * float(g @ (xn - x)) or fn <= f - 1e-12:
                break
            t *= 0.5
        else:
            ok = False
            break
        sv, yv = xn - x, gn - g
        sy = float(sv @ yv)
        if sy > 1e-12:
            Hs = H @ sv
            H = H - np.outer(Hs, Hs) / float(sv @ Hs) + np.outer(yv, yv) / sy
        x, f, g = xn, fn, gn
    else:
        ok = False
    # diagonals at the bound: accept only if moving off the bound does not lower the deviance
    if ok:
        for j in np.flatnonzero(np.isfinite(lb) & (x <= 1e-8)):
            for off in (1e-3, 0.1):
                t_ = x.copy()
                t_[j] = off
                if fun_grad(t_)[0] < f - 1e-8:
                    ok = False
    if not ok:
        return fit_nested(stats, reml, theta0)
    gp = _projected(g, x, lb)
    gmax = _conv_measure(fun_grad, x, gp, lb, H)
    core = _finish(stats, x, reml)
    return replace(core, converged=bool(gmax < GRAD_TOL), n_iter=it, n_eval=counter[0], grad=gp,
                   message="converged (quasi-Newton from a warm start)" if gmax < GRAD_TOL
                   else f"warm refit stopped with max scaled gradient {gmax:.2g}")


def hessian_at(stats: NestedStats, theta: np.ndarray, reml: bool = True) -> np.ndarray:
    """Hessian of the profiled deviance at ``theta`` (differences of the analytic gradient)."""
    def fun_grad(t):
        return _safe_dev_grad(stats, t, reml)

    return _fd_hessian(fun_grad, np.asarray(theta, dtype=float), fun_grad(theta)[1])


def _fit_nested(stats: NestedStats, reml: bool, theta0, maxiter: int) -> CoreFit:
    if stats.n - stats.p <= 0:
        raise EstimationError(f"`stats`: {stats.n} rows for {stats.p} fixed effects; need more rows.")
    lb = _lower_bounds(stats)
    x0 = default_theta0(stats) if theta0 is None else np.asarray(theta0, dtype=float).copy()
    if x0.shape != lb.shape:
        raise EstimationError(f"`theta0`: expecting {lb.size} values; got {x0.size}.")
    x0 = np.maximum(x0, lb)
    counter = [0]

    def fun_grad(t):
        counter[0] += 1
        f, g = _safe_dev_grad(stats, t, reml)
        return (1e300, g) if not np.isfinite(f) else (f, g)

    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lb]
    opts = {"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-6, "maxls": 50}
    diag = np.isfinite(lb)
    n_iter, msgs = 0, []
    newton = _newton(fun_grad, x0, lb) if theta0 is not None else None
    for _attempt in range(4):
        if newton is not None:
            theta, dev, g, nit = newton
            newton = None
            n_iter += nit
            msgs.append("converged (Newton steps from the warm start)")
            success = True
        else:
            res = optimize.minimize(fun_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options=opts)
            n_iter += int(res.nit)
            theta = np.maximum(res.x, lb)
            dev, g = fun_grad(theta)
            msgs.append(str(res.message))
            success = bool(res.success)
            polished = _newton(fun_grad, theta, lb, maxit=min(8, maxiter))  # quadratic convergence near the optimum
            if polished is not None and polished[1] <= dev + 1e-12 * max(1.0, abs(dev)):
                theta, dev, g, nit = polished
                n_iter += nit
                success = True
        # probe diagonals sitting on the bound
        restart = None
        for j in np.flatnonzero(diag & (theta <= 1e-8)):
            for step in (1e-3, 0.1):
                t = theta.copy()
                t[j] = step
                ft = fun_grad(t)[0]
                if ft < dev - 1e-8:
                    restart, dev = t, ft
        if restart is None:
            break
        x0 = restart
    gp = _projected(g, theta, lb)
    gmax = _conv_measure(fun_grad, theta, gp, lb)
    converged = bool(np.isfinite(dev) and dev < 1e300 and gmax < GRAD_TOL)
    msg = msgs[-1]
    if not converged:
        msg = (f"optimiser did not converge ('{msg}'; max |projected gradient| {gmax:.2g} >= "
               f"{GRAD_TOL:g})")
    elif not success:
        msg = f"optimiser stopped with '{msg}' at a point with max |projected gradient| {gmax:.2g}"
    core = _finish(stats, theta, reml)
    return replace(core, converged=converged, n_iter=n_iter, n_eval=counter[0], grad=gp, message=msg)


def _finish(stats: NestedStats, theta: np.ndarray, reml: bool) -> CoreFit:
    """Estimates at a given theta."""
    dev_, omega, r2, nu = _profile(stats, theta, reml)
    p = stats.p
    s2 = float(r2 / nu)
    if p:
        Pinv = np.linalg.inv(omega[:p, :p])
        beta = Pinv @ omega[:p, p]
        vcov = s2 * Pinv
    else:
        beta, vcov = np.zeros(0), np.zeros((0, 0))
    Li, Lo = _split_theta(stats, theta)
    T_in = s2 * Li @ Li.T
    T_out = None if Lo is None else s2 * Lo @ Lo.T
    diag = np.concatenate([np.diag(Li)] + ([np.diag(Lo)] if Lo is not None else []))
    return CoreFit(
        beta=beta, vcov=vcov, s2=s2, theta=np.asarray(theta, dtype=float), T_in=T_in, T_out=T_out,
        loglik=float(-dev_ / 2.0), deviance=float(dev_), reml=bool(reml), converged=True,
        singular=bool(np.any(diag < SINGULAR_TOL)), n_iter=0, n_eval=1,
        grad=np.zeros_like(theta), message="evaluated at a given theta",
    )


def evaluate_at(stats: NestedStats, theta, reml: bool = True) -> CoreFit:
    """Estimates (beta, variances, log-likelihood) at a fixed ``theta``, without optimising."""
    return _finish(stats, np.asarray(theta, dtype=float), reml)


def theta_from_cov(T_in: np.ndarray, s2: float, T_out: np.ndarray | None = None) -> np.ndarray:
    """theta (relative Cholesky factors) from covariance matrices on the data scale."""
    parts = []
    for T in (T_in, T_out):
        if T is None:
            continue
        T = np.atleast_2d(np.asarray(T, dtype=float)) / s2
        q = T.shape[0]
        try:
            L = np.linalg.cholesky(T)
        except np.linalg.LinAlgError:
            w, V = np.linalg.eigh(T)
            T = V @ np.diag(np.clip(w, 1e-12, None)) @ V.T
            L = np.linalg.cholesky(T)
        r, c = tri_index(q)
        parts.append(L[r, c])
    return np.concatenate(parts)


def conditional_modes(stats: NestedStats, core: CoreFit):
    """Conditional modes (BLUPs) and conditional covariances of the random effects.

    Returns
    -------
    dict
        ``u_in`` (m, q_in), ``var_in`` (m, q_in, q_in), and with an outer factor ``u_out``
        (n_outer, q_out), ``var_out`` (n_outer, q_out, q_out); groups in storage order
        (``stats.inner_label`` / ``stats.outer_label``).
    """
    Li, Lo = _split_theta(stats, core.theta)
    c = np.r_[-core.beta, 1.0]
    A = Li.T @ stats.zz_i @ Li + np.eye(stats.q_in)
    Ainv = np.linalg.inv(A)
    r = Li.T @ (stats.zg_i @ c)[..., None]  # (m, q_in, 1)
    out = {}
    if stats.q_out:
        B = Li.T @ stats.zio_i @ Lo
        BT = np.swapaxes(B, 1, 2)
        S = np.add.reduceat(Lo.T @ stats.oo_i @ Lo - BT @ Ainv @ B, stats.ostart, axis=0)
        Sinv = np.linalg.inv(S + np.eye(stats.q_out))
        h = np.add.reduceat(Lo.T @ (stats.og_i @ c)[..., None] - BT @ Ainv @ r, stats.ostart, axis=0)
        v_out = Sinv @ h
        v_in = Ainv @ (r - B @ v_out[stats.outer_of])
        AB = Ainv @ B
        Minv_ii = Ainv + AB @ Sinv[stats.outer_of] @ np.swapaxes(AB, 1, 2)
        out["u_out"] = (Lo @ v_out)[..., 0]
        out["var_out"] = core.s2 * (Lo @ Sinv @ Lo.T)
    else:
        v_in = Ainv @ r
        Minv_ii = Ainv
    out["u_in"] = (Li @ v_in)[..., 0]
    out["var_in"] = core.s2 * (Li @ Minv_ii @ Li.T)
    return out
