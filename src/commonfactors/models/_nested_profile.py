"""Profile of the nested engine's deviance along one variance parameter (see :mod:`.nested`).

Used for profile-likelihood intervals of variance components and the shares built on them
(``commonfactors.decomposition``): the relative standard deviation of a random intercept is
fixed and every other covariance parameter re-optimised, with the fixed effects and ``sigma``
profiled out as in the fit.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ._nested_fit import _lower_bounds, _safe_dev_grad
from ._nested_stats import NestedStats, _n_theta


def intercept_index(stats: NestedStats, level: str) -> int | None:
    """theta index of the random intercept at ``level`` ("inner"/"outer") if its block is 1 x 1."""
    if level == "inner":
        return 0 if stats.q_in == 1 else None
    return _n_theta(stats.q_in) if stats.q_out == 1 else None


class ThetaProfile:
    """The profiled (RE)ML deviance of a nested model along one scalar theta component ``j``.

    ``at(t)`` fixes ``theta[j] = t`` and minimises the deviance over the other components
    (L-BFGS-B from the estimate, their lower bounds kept); ``limits(crit)`` gives the values of
    ``t`` where that profile exceeds its minimum by ``crit`` (the chi-square(1) quantile for a
    likelihood-ratio interval; the lower limit is 0 when the profile at 0 stays below). If a
    constrained optimum is lower than the estimate's deviance, the minimum moves to it.
    ``n_failed`` counts constrained fits whose deviance was not finite.
    """

    def __init__(self, stats, reml: bool, theta_hat: np.ndarray, j: int):
        self.stats, self.reml, self.j = stats, reml, j
        self.lb = _lower_bounds(stats)
        self.theta_hat = np.asarray(theta_hat, dtype=float).copy()
        self.free = np.array([i for i in range(self.theta_hat.size) if i != j], dtype=int)
        self.dev_min = self.deviance_at(self.theta_hat)
        self._cache: dict[float, tuple[float, np.ndarray]] = {}
        self.n_failed = 0

    def deviance_at(self, theta) -> float:
        return float(_safe_dev_grad(self.stats, np.asarray(theta, dtype=float), self.reml)[0])

    def at(self, t: float) -> tuple[float, np.ndarray]:
        """(deviance, theta) with component ``j`` fixed at ``t`` and the others optimised."""
        t = float(t)
        if t in self._cache:
            return self._cache[t]
        theta = self.theta_hat.copy()
        theta[self.j] = t
        if self.free.size:
            def fun(x):
                th = theta.copy()
                th[self.free] = x
                f, g = _safe_dev_grad(self.stats, th, self.reml)
                return f, g[self.free]

            bounds = [(self.lb[i], None) for i in self.free]
            res = optimize.minimize(fun, theta[self.free], jac=True, method="L-BFGS-B",
                                    bounds=bounds, options={"maxiter": 200, "ftol": 1e-13,
                                                            "gtol": 1e-9})
            if not np.isfinite(res.fun):
                self.n_failed += 1
            theta[self.free] = res.x
            dev = float(res.fun)
        else:
            dev = self.deviance_at(theta)
        if dev < self.dev_min:  # the constrained optimum is the better one: the minimum moves
            self.dev_min = dev
        self._cache[t] = (dev, theta)
        return dev, theta

    def limits(self, crit: float) -> tuple[float, float]:
        """Limits of ``t`` where the profile exceeds its minimum by ``crit`` (``inf``: never)."""
        t_hat = max(float(self.theta_hat[self.j]), 0.0)

        def excess(t):
            return self.at(t)[0] - self.dev_min - crit

        lo = 0.0
        if t_hat > 0 and excess(0.0) > 0:
            lo = optimize.brentq(excess, 0.0, t_hat, xtol=1e-7 * max(t_hat, 1e-3), rtol=1e-10)
        step = max(t_hat, 0.05)
        a, b = t_hat, t_hat + step
        while excess(b) <= 0:
            if b > 1e3:
                return lo, np.inf
            a, step = b, 2 * step
            b = t_hat + step
        hi = optimize.brentq(excess, a, b, xtol=1e-7 * max(t_hat, 1e-3), rtol=1e-10)
        return lo, hi
