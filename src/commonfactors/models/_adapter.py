"""What the inference layer needs from a fit, for the general engine (and the nested one).

The inference module (Satterthwaite / Kenward-Roger df, profile intervals, likelihood-ratio
tests) works on any engine through a few members: the parameters ``theta`` (relative Cholesky
factors, lme4's blockwise order) and ``sigma``, the deviance and the fixed-effects covariance at
given parameters, the independent row blocks of the marginal covariance and an ML refit.
:func:`adapter` returns them for a :class:`commonfactors.models.MixedFit`.

With ``V = sigma^2 V*(theta)``, ``P(theta) = X'V*^{-1}X`` and ``r2(theta)`` the penalized
residual sum of squares at the conditional estimate of ``b`` (both from the engine's profiled
computation):

* ML: ``-2 log L = n log(2 pi sigma^2) + log det V* + r2 / sigma^2``;
* REML: ``-2 log L_R = (n - p) log(2 pi sigma^2) + log det V* + log det P + r2 / sigma^2``;

minimised over ``sigma^2`` these are lme4's profiled criteria (Bates et al. 2015, eqs. 32-34
and 41), and ``vcov = sigma^2 P^{-1}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import EstimationError
from . import _general, _nested_deviance
from . import nested as _nested

__all__ = ["adapter", "FitAdapter"]

_LOG2PI = np.log(2.0 * np.pi)
_DENSE_ROWS = 6000  # row blocks above this size are refused for dense (Kenward-Roger) algebra


def _engine_parts(fit, theta: np.ndarray):
    """(log det V*, Omega = G'V*^{-1}G) at theta for either engine."""
    theta = np.asarray(theta, dtype=float)
    if fit.engine == "general":
        parts = _general._evaluate(fit.stats, theta)
        return parts.logdet, parts.omega
    return _nested_deviance._omega(fit.stats, theta)


@dataclass(frozen=True, eq=False)
class FitAdapter:
    """The inference protocol's members for one fit (see module docstring)."""

    fit: object

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
        return float(np.sqrt(self.fit.residual_variance))

    @property
    def n_obs(self) -> int:
        return int(self.fit.n_obs)

    @property
    def theta_blocks(self) -> list:
        """(group, term names) per block of theta, in theta's order."""
        if self.fit.engine == "general":
            order = [i["label"] for i in self.fit.random_terms]
        else:
            order = [g for g in (self.fit.groups.inner, self.fit.groups.outer) if g]
        return [(g, list(self.fit.random_cov[g].columns)) for g in order]

    @property
    def theta_lower(self) -> np.ndarray:
        out = []
        for _, terms in self.theta_blocks:
            r, c = _nested.tri_index(len(terms))
            out.append(np.where(r == c, 0.0, -np.inf))
        return np.concatenate(out)

    def _pieces(self, theta):
        logdet, omega = _engine_parts(self.fit, theta)
        p = self.fit.X.shape[1]
        P = omega[:p, :p]
        cP = np.linalg.cholesky(P)
        w = np.linalg.solve(cP, omega[:p, p])
        r2 = float(omega[p, p] - w @ w)
        return float(logdet), P, cP, r2, p

    def deviance_at(self, theta, sigma=None, reml=None) -> float:
        """-2 log-likelihood at ``theta`` and ``sigma`` (profiled over sigma when None)."""
        reml = self.reml if reml is None else bool(reml)
        try:
            with np.errstate(all="ignore"):
                logdet, _, cP, r2, p = self._pieces(theta)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf
        n = self.n_obs
        nu = n - p if reml else n
        dev = logdet + (2.0 * np.log(np.diag(cP)).sum() if reml else 0.0)
        if sigma is None:
            dev += nu * (1.0 + _LOG2PI + np.log(r2 / nu))
        else:
            s2 = float(sigma) ** 2
            dev += nu * (_LOG2PI + np.log(s2)) + r2 / s2
        return float(dev) if np.isfinite(dev) else np.inf

    def vcov_at(self, theta, sigma) -> np.ndarray:
        """``sigma^2 (X'V*(theta)^{-1}X)^{-1}`` (lme4's vcov at those parameters)."""
        _, P, _, _, _ = self._pieces(theta)
        return float(sigma) ** 2 * np.linalg.inv(P)

    def row_blocks(self):
        """Independent row blocks: (X_b, [Z_b1, Z_b2, ...]) per connected set of groups.

        Rows are linked when they share a level of any grouping factor; a nested model splits
        by its outermost factor, a crossed model is usually one block. ``Z_bk`` is dense, with
        the levels of block k present in the block, level-major.
        """
        infos = self._term_codes()
        X = self.fit.X.to_numpy(dtype=float)
        for idx in self.block_rows():
            if idx.size > _DENSE_ROWS:
                raise EstimationError(
                    f"`row_blocks`: a block of {idx.size} rows is too large for dense algebra "
                    f"(limit {_DENSE_ROWS}); use Satterthwaite df instead of Kenward-Roger.")
            Zs = []
            for codes, _, Zk in infos:
                cb = codes[idx]
                lev, local = np.unique(cb, return_inverse=True)
                q = Zk.shape[1]
                Zb = np.zeros((idx.size, lev.size * q))
                Zb[np.arange(idx.size)[:, None], local[:, None] * q + np.arange(q)[None, :]] = Zk[idx]
                Zs.append(Zb)
            yield X[idx], Zs

    def block_rows(self) -> list:
        """Row positions (0-based, in the fit's row order) of each block of :meth:`row_blocks`."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n = self.fit.n_obs
        infos = self._term_codes()
        offs = np.cumsum([0] + [m for _, m, _ in infos])
        rows = np.concatenate([np.arange(n)] * len(infos))
        cols = np.concatenate([c + o for (c, _, _), o in zip(infos, offs[:-1], strict=True)])
        # bipartite graph rows <-> levels; its components are the independent blocks
        N = n + int(offs[-1])
        adj = coo_matrix((np.ones(rows.size), (rows, n + cols)), shape=(N, N))
        _, lab = connected_components(adj, directed=False)
        return [np.flatnonzero(lab[:n] == comp) for comp in np.unique(lab[:n])]

    def _term_codes(self):
        fit = self.fit
        out = []
        for g, _ in self.theta_blocks:
            info = next(i for i in fit.random_terms if i["label"] == g)
            col = fit.ids[info["group"]]
            codes = pd.factorize(col, sort=False)[0]
            out.append((codes, int(codes.max()) + 1, fit.Z[g].to_numpy(dtype=float)))
        return out

    def refit_ml(self):
        """The same model refitted by ML (itself when already ML)."""
        if not self.fit.reml:
            return self.fit
        from .mixed import _refit

        return _refit(self.fit, reml=False)


def adapter(fit) -> FitAdapter:
    """The inference protocol's members for a :class:`MixedFit` of the nested or general engine."""
    if getattr(fit, "engine", None) not in ("nested", "general"):
        raise EstimationError(
            f"`fit`: inference needs a fit of the nested or general engine; got engine "
            f"{getattr(fit, 'engine', None)!r}.")
    return FitAdapter(fit)
