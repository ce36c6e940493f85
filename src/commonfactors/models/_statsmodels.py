"""The statsmodels reference engine of :func:`commonfactors.fit_mixed` (``engine="statsmodels"``).

statsmodels' MixedLM fits the same nested models as the fast engine and is kept as a check on
it. Its known silent failures are guarded: a fit that does not converge, returns a fixed effect
of exactly 0.0 (statsmodels issue 10239) or non-finite standard errors is refitted with the next
optimiser, and what happened is reported in the fit's warnings.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from ..errors import EstimationError, ModelSpecError
from . import nested as _nested


def _fit_statsmodels(d: dict, reml: bool):
    """Reference engine: statsmodels MixedLM with guards against silent failures."""
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    X, y = d["X"], d["y"]
    if not d["nested"]:
        raise ModelSpecError(
            "`engine`: statsmodels takes one or two nested grouping factors with one random term "
            "each; use engine='auto' (the general engine) for this random part.")
    outer = d["outer"]
    if outer is None:
        groups, exog_re, exog_vc = d["codes_in"], d["Zin"], None
    else:
        if d["Zin"].shape[1] != 1:
            raise ModelSpecError(
                "`engine`: statsmodels cannot fit correlated random slopes for the inner factor "
                f"{d['inner']!r} together with an outer factor; use engine='fast'."
            )
        groups, exog_re = d["codes_out"], d["Zout"]
        zin = d["Zin"][:, 0]
        mats, colnames = [], []
        for o in np.unique(groups):  # MixedLM orders groups as np.unique does
            rows = np.flatnonzero(groups == o)
            ci = d["codes_in"][rows]
            levels = np.unique(ci)
            mats.append((ci[:, None] == levels[None, :]) * zin[rows, None])
            colnames.append([f"inner[{lv}]" for lv in levels])
        exog_vc = VCSpec(["inner"], [colnames], [mats])
    model = MixedLM(y.to_numpy(), X.to_numpy(), groups, exog_re=exog_re, exog_vc=exog_vc)
    notes = []
    result, ok = None, False
    for method in ("lbfgs", "bfgs", "nm", "powell"):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml, method=method, maxiter=2000)
            except (np.linalg.LinAlgError, ValueError) as exc:
                notes.append(f"statsmodels method={method!r} failed: {exc}")
                continue
        texts = [f"statsmodels ({method}): {w.message}" for w in rec
                 if "Convergence" in type(w.message).__name__ or "converge" in str(w.message).lower()]
        # "MLE on the boundary" is a singular fit, reported as such below, not a failure
        texts = [t for t in texts if "boundary" not in t]
        fe = np.asarray(res.fe_params, dtype=float)
        problems = []
        if not res.converged:
            problems.append("not converged")
        if np.any(fe == 0.0):
            problems.append("a fixed effect is exactly 0.0 (statsmodels issue 10239)")
        bse = np.asarray(res.bse_fe, dtype=float)
        if not np.all(np.isfinite(bse)) or np.any(bse <= 0):
            problems.append("non-finite standard errors (Hessian not positive definite)")
        result = res
        if not problems and not texts:
            ok = True
            break
        notes.append(f"statsmodels method={method!r}: {'; '.join(problems + texts) or 'warnings'}"
                     "; refitting with another method")
    if result is None:
        raise EstimationError("`engine='statsmodels'`: every optimiser failed; use engine='fast'.")
    s2 = float(result.scale)
    T_out = np.atleast_2d(np.asarray(result.cov_re, dtype=float))
    if outer is None:
        T_in, T_o = T_out, None
    else:
        T_in, T_o = np.atleast_2d(float(np.asarray(result.vcomp)[0])), T_out
    stats = _nested.NestedStats.from_arrays(X.to_numpy(), y.to_numpy(), d["Zin"], d["Zout"],
                                            d["codes_in"], d["codes_out"])
    theta = _nested.theta_from_cov(T_in, s2, T_o)
    base = _nested.evaluate_at(stats, theta, reml)
    # fixed-effect covariance as lme4's vcov, sigma^2 (X'V*^{-1}X)^{-1} at the statsmodels
    # estimates (statsmodels' own Hessian-based covariance differs slightly under REML)
    core = replace(
        base, beta=np.asarray(result.fe_params, dtype=float),
        vcov=base.vcov * s2 / base.s2, s2=s2, T_in=T_in, T_out=T_o,
        loglik=float(result.llf), deviance=float(-2 * result.llf), converged=ok,
        message="statsmodels " + ("converged" if ok else "did not converge cleanly"),
    )
    msgs = list(d["warnings"]) + notes
    if not ok:
        msgs.append("statsmodels: no optimiser gave a clean fit; treat the estimates with caution")
    return stats, core, msgs


