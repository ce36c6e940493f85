"""The fast nested engine: profiled (RE)ML from per-cluster sufficient statistics.

This is the numerical core behind :func:`commonfactors.fit_mixed` (``engine="fast"``) and the hot
path of the decomposition and its bootstrap, and the one door through which code outside
:mod:`commonfactors.models` reaches it. It works on plain NumPy arrays only, so its objects
pickle cheaply and can be shipped to worker processes. Private modules hold it, each importing
only the ones before it: sums of row products per group (:mod:`._nested_sums`), checks of
per-group aggregates (:mod:`._nested_checks`), the deviance summed over classes of equal inner
groups (:mod:`._nested_compact`), the statistics (:mod:`._nested_stats`: from rows or from
per-group aggregates), the deviance and its gradient (:mod:`._nested_deviance`) and the
optimiser (:mod:`._nested_fit`).

Model
-----
``y = X b + Z_in u_i + Z_out u_o + e`` for inner groups ``i`` (e.g. clients) nested in outer groups
``o`` (e.g. therapists), ``u_i ~ N(0, T_in)``, ``u_o ~ N(0, T_out)``, ``e ~ N(0, s2 I)``. As in lme4,
``T = s2 L L'`` with ``L`` lower triangular; ``theta`` holds the lower triangles of ``L_in`` and then
``L_out``, each in column-major order (for ``q = 2``: ``L[0,0], L[1,0], L[1,1]``). Diagonal elements
are bounded below by 0. A model with one grouping factor has no outer part.

Notes
-----
With ``Lam = blockdiag(L_in per inner group, L_out per outer group)``, ``W = [Z_in, Z_out]`` and
``V* = I + W Lam Lam' W'``, the matrix ``M = Lam' W'W Lam + I`` has an arrow structure: blocks
``A_i = L_in' Z_i'Z_i L_in + I`` on the inner diagonal, ``D_o = sum_{i in o} L_out' Z_o'Z_o|_i L_out + I``
on the outer diagonal and ``B_i = L_in' Z_i'Z_o|_i L_out`` linking each inner group to its outer group.
Block elimination of the inner groups gives the outer Schur complements
``S_o = D_o - sum_{i in o} B_i' A_i^{-1} B_i`` and

* ``log det V* = sum_i log det A_i + sum_o log det S_o``;
* ``G'V*^{-1}G = G'G - sum_i r_i' A_i^{-1} r_i - sum_o h_o' S_o^{-1} h_o`` for ``G = [X, y]``,
  ``r_i = L_in' Z_i'G_i`` and ``h_o = sum_{i in o} (L_out' Z_o'G|_i - B_i' A_i^{-1} r_i)``.

From ``Omega = G'V*^{-1}G``: ``P = Omega_XX``, ``b = P^{-1} Omega_Xy``, ``r2 = Omega_yy - Omega_yX b``,
``-2 logL_ML = log det V* + n (1 + log(2 pi r2 / n))`` and
``-2 logL_REML = log det V* + log det P + (n - p)(1 + log(2 pi r2 / (n - p)))`` (Bates et al. 2015,
eqs. 34 and 41), ``s2 = r2 / n`` (ML) or ``r2 / (n - p)`` (REML), ``vcov(b) = s2 P^{-1}``.
These are the criteria lme4 reports as ``deviance`` and ``REMLcrit``. Conditional modes of the
spherical effects solve ``M v = Lam'W'(y - X b)`` with the same elimination; the conditional
covariance of ``u = Lam v`` is ``s2 Lam M^{-1} Lam'`` (lme4's ``condVar``, which treats ``b`` as
known).

With one random effect per level (e.g. random intercepts) the blocks are scalars that depend on
theta only through ``Z_i'Z_i`` and ``Z_i'Z_o`` (for intercepts: the cluster size), so the sums
over inner groups above, and those of the analytic gradient, are taken over the few classes of
inner groups with equal values, from per-class and per-(outer group, class) sums computed once
(:mod:`._nested_compact`): an evaluation costs ``O(C k^2 + T C k)`` instead of ``O(m k^2)`` for
``m`` inner groups in ``C`` classes and ``T`` outer groups. The statistics of such a model can
be built from per-group counts, column sums and cross-products alone
(:meth:`NestedStats.from_groups`).

References
----------
1. Bates, D., Maechler, M., Bolker, B. & Walker, S. (2015). Fitting linear mixed-effects models
   using lme4. Journal of Statistical Software, 67(1), 1-48.
2. Pinheiro, J. C. & Bates, D. M. (2000). Mixed-Effects Models in S and S-PLUS. Springer.

Examples
--------
>>> import numpy as np
>>> from commonfactors.models.nested import NestedStats, fit_nested
>>> rng = np.random.default_rng(1)
>>> g = np.repeat(np.arange(30), 5)
>>> y = rng.normal(size=30)[g] + rng.normal(size=150)
>>> st = NestedStats.from_arrays(np.ones((150, 1)), y, np.ones((150, 1)), inner_codes=g)
>>> core = fit_nested(st)
>>> core.converged, round(float(core.T_in[0, 0]), 2), round(core.s2, 2)
(True, 0.72, 0.86)
"""

from ._nested_deviance import profiled_deviance
from ._nested_fit import (
    CoreFit,
    conditional_modes,
    default_theta0,
    evaluate_at,
    fit_nested,
    hessian_at,
    refit_warm,
    theta_from_cov,
)
from ._nested_profile import ThetaProfile, intercept_index
from ._nested_stats import GRAD_TOL, SINGULAR_TOL, NestedStats, tri_index

__all__ = [
    "NestedStats", "CoreFit", "fit_nested", "refit_warm", "hessian_at", "evaluate_at",
    "conditional_modes", "profiled_deviance", "theta_from_cov", "default_theta0", "tri_index",
    "GRAD_TOL", "SINGULAR_TOL", "ThetaProfile", "intercept_index",
]
