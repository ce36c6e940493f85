"""Identifiability of a fit: directions of theta along which the profiled deviance is flat.

lme4 checks the Hessian of the deviance at the optimum and warns when its eigenvalues span more
than six orders of magnitude ("Model is nearly unidentifiable"); here such a direction is
reported with the parameters that load on it, and the fit is not called converged. The usual
cause is a random intercept of a factor that is also in the fixed part (its variance does not
enter the REML criterion at all), or a factor whose levels coincide with another's.
"""

from __future__ import annotations

import numpy as np

from . import nested as _nested
from ._nested_fit import _lower_bounds, hessian_at

__all__ = ["flat_directions", "theta_labels"]


def flat_directions(engine, stats, core, reml, labels) -> list[str]:
    """Parameters of theta along which the deviance is flat (lme4's eigenvalue-ratio check).

    The Hessian of the profiled deviance over the parameters off their bounds; an eigenvalue
    below 1e-6 times the largest (lme4's ``check.conv.hess`` ratio) is a direction the data do
    not determine. Returns the labels of the parameters that load on such directions.
    """
    theta = np.asarray(core.theta, dtype=float)
    if engine == "nested":
        H = hessian_at(stats, theta, reml)
    else:
        H = core.hessian
    if H is None or not np.all(np.isfinite(H)):
        return []
    lb = stats.lower_bounds() if engine == "general" else _nested_lb(stats)
    free = ~(theta <= lb + 1e-8)
    if free.sum() == 0:
        return []
    Hf = H[np.ix_(free, free)]
    w, V = np.linalg.eigh(0.5 * (Hf + Hf.T))
    top = max(float(np.abs(w).max()), 1e-300)
    flat = []
    idx = np.flatnonzero(free)
    for j in np.flatnonzero(np.abs(w) < 1e-6 * top):
        for i in np.flatnonzero(np.abs(V[:, j]) > 0.3):
            flat.append(labels[idx[i]])
    return list(dict.fromkeys(flat))


def _nested_lb(stats) -> np.ndarray:
    return _lower_bounds(stats)


def theta_labels(d, engine) -> list[str]:
    """One label per theta element: 'group: term' (diagonal) or 'group: term1~term2'."""
    if engine == "general":
        order = [t["label"] for t in d["terms"]]
    else:
        order = [g for g in (d["inner"], d["outer"]) if g]
    out = []
    for g in order:
        cols = list(d["Z"][g].columns)
        r, c = _nested.tri_index(len(cols))
        out += [f"{g}: {cols[a]}" if a == b else f"{g}: {cols[b]}~{cols[a]}" for a, b in zip(r, c, strict=True)]
    return out
