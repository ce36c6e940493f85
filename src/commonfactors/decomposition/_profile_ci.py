"""Profile-likelihood intervals of the variance-component estimands (therapist and client shares,
ICCs, ``d_therapist``).

Why: a cluster bootstrap cannot give a variance near zero an honest interval. When the fitted
therapist variance is 0 (a singular fit, frequent when the true therapist share is about 1%),
most resampled datasets fit 0 again and the percentile interval collapses to about ``[0, 0.003]``,
missing a true share of 0.0065 (coverage study in the repository's ``bench/``). The likelihood
does not have that problem: its profile is flat near zero and rises only where the data rule a
variance out.

How: the scalar relative standard deviation ``t`` of a role's random intercept (``theta`` of the
nested engine: ``sd / sigma``) is fixed on a grid of values and every other covariance parameter
re-optimised (fixed effects and ``sigma`` are profiled out as in the fit). The interval of ``t`` is
where the profiled (RE)ML deviance stays within the chi-square(1) quantile of its minimum
(``3.84`` at 95%, the same criterion as lme4's ``confint(method = "profile")``; a lower limit at the
boundary is 0). Each estimand is then evaluated at the constrained optima at both limits of
``t`` (and at the estimate): the estimand's interval runs from the smallest to the largest of
those values. The shares and ICCs rise with ``t`` along the profile, so this is the profile
interval of ``t`` carried to the estimand's scale, as lme4's interval of a standard deviation
is carried to a variance.

Only random intercepts (a 1 x 1 block of the role) are profiled: with random slopes the role's
share depends on a matrix, and those rows keep the bootstrap interval (their ``method`` column
says so).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from ..conversions import icc_to_d
from ..models.nested import ThetaProfile, evaluate_at, intercept_index
from ..parallel import one_blas_thread
from . import _estimates as E


def _where(problem, role: str) -> str | None:
    if problem.inner_role == role:
        return "in"
    if problem.outer_role == role:
        return "out"
    return None


def _index(stats, where: str) -> int | None:
    """theta index of the role's random intercept, if its block is 1 x 1."""
    return intercept_index(stats, "inner" if where == "in" else "outer")


def _parts(stats, theta, reml: bool, where: str) -> tuple[float, float]:
    """(role's share of total variance, role's share of variance beyond the fixed part)."""
    core = evaluate_at(stats, theta, reml)
    b = core.beta
    f = float(b @ stats.x_cov() @ b) if b.size else 0.0
    v_in, m_in, v_out, m_out = E._random_parts(stats, core.T_in, core.T_out)
    total = f + v_in + m_in + v_out + m_out + core.s2
    part = v_in + m_in if where == "in" else v_out + m_out
    return part / total, part / (total - f)


def _limits(stats, reml, fit, where, crit):
    """Profile limits of (share of total variance, share beyond the fixed part) of the role at
    ``where`` in the model ``fit`` of ``stats`` (one profile serves both), or None."""
    j = _index(stats, where)
    if j is None or fit is None or not fit.converged:
        return None
    try:
        with one_blas_thread(), np.errstate(all="ignore"):
            prof = ThetaProfile(stats, reml, fit.theta, j)
            t_lo, t_hi = prof.limits(crit)
            vals = [_parts(stats, fit.theta, reml, where), _parts(stats, prof.at(t_lo)[1], reml, where)]
            # the data cannot bound the variance: the shares' upper limit is 1
            vals.append(_parts(stats, prof.at(t_hi)[1], reml, where) if np.isfinite(t_hi)
                        else (1.0, 1.0))
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None  # the rows keep their bootstrap interval (their method says so)
    vals = np.array(vals)
    if prof.n_failed or not np.all(np.isfinite(vals)):
        return None
    return [(float(v.min()), float(v.max())) for v in vals.T]


def profile_limits(problem, fits, level: float = 0.95, roles=("therapist", "client")) -> dict:
    """``{(factor, estimand): (low, high)}`` of the profile intervals this problem allows.

    ``fits`` are the point estimate's subset fits (:func:`._estimates.estimate` with
    ``details=True``); ``roles`` the levels whose variance components are wanted. Estimands
    without a profile interval (least squares, random slopes on the role, a fit that did not
    converge) are left out, and keep the bootstrap interval.
    """
    if problem.stats is None:
        return {}
    crit = float(sps.chi2.ppf(level, 1))
    groups = frozenset(problem.groups)
    full_stats = problem.stats.select(E.subset_columns(problem, groups))
    if problem.icc_null is not None:  # random slopes: the random-intercept null model
        null_stats, null_fit = problem.icc_null, fits.icc_null
    else:
        null_stats, null_fit = (problem.stats.select(E.subset_columns(problem, frozenset())),
                                fits[frozenset()])
    out = {}
    for role in roles:
        where = _where(problem, role)
        if where is None:
            continue
        full = _limits(full_stats, problem.reml, fits[groups], where, crit)
        if full is not None:
            out[(role, "share_total_variance")], out[(role, f"icc_{role}_adjusted")] = full
        null = _limits(null_stats, problem.reml, null_fit, where, crit)
        if null is not None:
            icc = null[1]
            out[(role, f"icc_{role}")] = icc
            if role == "therapist":
                out[(role, "d_therapist")] = tuple(
                    float(icc_to_d(v)) if v < 1 else np.inf for v in icc)
    return out
