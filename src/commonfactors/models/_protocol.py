"""The engine-neutral view of a fit that the inference layer works through (see :mod:`.inference`).

``adapter(fit)`` returns an object with ``reml, fixed, theta, sigma, n_obs, theta_blocks,
theta_lower, deviance_at(theta, sigma=None, reml=None), vcov_at(theta, sigma), row_blocks()``,
``block_rows()`` and ``refit_ml()``. A fit that already carries these members (another engine) is used as it
is; a fit of the nested engine is wrapped here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import ModelSpecError
from ._adapter import FitAdapter

_LOG2PI = math.log(2.0 * math.pi)


def _tri_index(q: int):
    """Lower-triangle indices in column-major order (lme4's theta order within a block)."""
    r, c = [], []
    for j in range(q):
        for i in range(j, q):
            r.append(i)
            c.append(j)
    return np.array(r, dtype=int), np.array(c, dtype=int)


class _NestedView(FitAdapter):
    """The protocol for the nested (fast) engine of :func:`commonfactors.models.fit_mixed`.

    The parameters, their blocks and bounds are :class:`._adapter.FitAdapter`'s; the deviance,
    the covariance, the row blocks (one per outermost group) and the refits use the nested
    engine's own statistics.
    """

    def _profile(self, theta, reml):
        from ._nested_deviance import _profile
        return _profile(self.fit.stats, np.asarray(theta, dtype=float), reml)

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

    def block_rows(self) -> list:
        """Row positions (in the fit's row order) of each block of :meth:`row_blocks`."""
        g = self.fit.groups
        outer = g.outer if g.outer is not None else g.inner
        block_codes = pd.factorize(self.fit.ids[outer].to_numpy())[0]
        order = np.argsort(block_codes, kind="stable")
        bounds = np.flatnonzero(np.diff(block_codes[order])) + 1
        return np.split(order, bounds)

    def row_blocks(self):
        fit = self.fit
        X = fit.X.to_numpy(dtype=float)
        g = fit.groups
        inner_codes = pd.factorize(fit.ids[g.inner].to_numpy())[0]
        Zin = fit.Z[g.inner].to_numpy(dtype=float)
        Zout = None if g.outer is None else fit.Z[g.outer].to_numpy(dtype=float)
        for rows in self.block_rows():
            lev = pd.factorize(inner_codes[rows])[0]
            n_b, q = len(rows), Zin.shape[1]
            Zi = np.zeros((n_b, lev.max() + 1, q))
            Zi[np.arange(n_b), lev, :] = Zin[rows]
            Zs = [Zi.reshape(n_b, -1)]
            if Zout is not None:
                Zs.append(Zout[rows])
            yield X[rows], Zs

    def refit_y(self, y):
        """Refit the same design to a new outcome vector, warm-started at the fit's theta.

        Returns ``(theta, sigma, converged)``. Starting from the original estimates is what
        lme4's ``refit`` (and so ``bootMer``) does.
        """
        from . import nested as _nested
        fit = self.fit
        g = fit.groups
        stats = _nested.NestedStats.from_arrays(
            fit.X.to_numpy(dtype=float), np.asarray(y, dtype=float),
            fit.Z[g.inner].to_numpy(dtype=float),
            None if g.outer is None else fit.Z[g.outer].to_numpy(dtype=float),
            pd.factorize(fit.ids[g.inner].to_numpy())[0],
            None if g.outer is None else pd.factorize(fit.ids[g.outer].to_numpy())[0])
        core = _nested.fit_nested(stats, reml=self.reml, theta0=self.theta)
        if core.singular or not core.converged:
            # the nested optimiser can stop at a spurious boundary point from either start
            # (seen in sleepstudy replicates: theta = [0, b, 0] with a REML criterion 9 above
            # lme4's); keep the better of the warm and the cold start
            cold = _nested.fit_nested(stats, reml=self.reml)
            if cold.converged and (not core.converged or cold.deviance < core.deviance - 1e-9):
                core = cold
        return np.asarray(core.theta, dtype=float), float(math.sqrt(core.s2)), bool(core.converged)

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
    engine = getattr(fit, "engine", None)
    if engine in ("fast", "nested") and getattr(fit, "stats", None) is not None:
        return _NestedView(fit)  # with refit_y: warm and cold start, the better kept
    if engine == "general":
        from ._adapter import adapter as engine_adapter
        return engine_adapter(fit)
    if engine is None and all(hasattr(fit, a) for a in ("deviance_at", "vcov_at", "theta_blocks")):
        return fit  # another object that carries the protocol itself
    raise ModelSpecError(
        f"inference needs a fit of the package's own engine; got engine="
        f"{getattr(fit, 'engine', type(fit).__name__)!r}. Refit with engine='auto'.")


