"""Inference for fitted linear mixed models: the t-tests, intervals and comparisons of lmerTest/lme4.

Everything here works through a small engine-neutral view of a fit (:func:`adapter`, in
:mod:`._protocol`; Kenward-Roger in :mod:`._kenward_roger`, profiles in :mod:`._profile`):

- ``theta`` (relative Cholesky factors, blockwise as in lme4) and ``sigma`` (residual SD);
- ``deviance_at(theta, sigma=None, reml=None)``: -2 log-likelihood (REML or ML) at given
  parameters (``sigma=None``: profiled over sigma);
- ``vcov_at(theta, sigma)``: ``sigma^2 (X'V*^{-1}X)^{-1}``, lme4's ``vcov`` at those parameters;
- ``row_blocks()``: independent row blocks of the marginal covariance (Kenward-Roger only);
- ``refit_ml()``: the same model by maximum likelihood.

Methods
-------
Satterthwaite df (Kuznetsova, Brockhoff & Christensen 2017, lmerTest): with ``varpar =
(theta, sigma)``, ``A = 2 H^{-1}`` where ``H`` is the Hessian of the (RE)ML deviance in
``varpar`` (not profiled over sigma), and ``J_k = d vcov / d varpar_k``; for a contrast ``L``,
``df = 2 (L'VL)^2 / (g'Ag)`` with ``g_k = L'J_kL``. Both derivatives are taken numerically by
central differences with Richardson extrapolation (as lmerTest does with numDeriv).

Kenward-Roger (Kenward & Roger 1997; the form of pbkrtest, Halekoh & Hojsgaard 2014): the
covariance parameters are the elements of every random-effect covariance matrix and the
residual variance, ``V = sum_r tau_r G_r``; the adjusted covariance of the fixed effects is
``Phi + 2 Phi U Phi`` and the denominator df of a single contrast follows Kenward & Roger's
moment matching (REML fits only). Sums over independent row blocks make it cheap for nested
models; a crossed model is one block.

Profile intervals (lme4's ``confint(method = "profile")``): like lme4, a REML fit is first
refitted by ML; the ML deviance is profiled in the standard deviations, correlations and sigma,
and each bound is the exact root where the profile exceeds its minimum by the chi-square
quantile (lme4 interpolates a spline through profile points instead; in the reference set the
two differ by up to 6e-4 absolute, 3e-4 relative).

Likelihood-ratio tests follow lme4's ``anova``: when any model is REML-fitted, every model is
refitted by ML first (REML likelihoods of models with different fixed parts are not comparable).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import EstimationError, ModelSpecError
from ._kenward_roger import kenward_roger
from ._profile import profile_ci
from ._protocol import adapter

__all__ = ["adapter", "fixed_effects_table", "satterthwaite", "kenward_roger", "profile_ci",
           "anova", "information_criteria", "summary_text", "summary_html"]


# ------------------------------------------------------------------------ numerical derivatives
def _steps(x: np.ndarray) -> np.ndarray:
    # The profiled quantities carry rounding noise of about 1e-10 relative (r2 is a difference
    # of large cross-products), so small steps lose digits to noise. Steps of 5% of each
    # parameter (at least 0.005) with Richardson extrapolation over h, h/2, h/4 reproduce the
    # exact Satterthwaite df of balanced designs (9 for Pastes, 17 for sleepstudy) to 3e-8
    # and 1.2e-7; steps of 0.1% were off by 3e-5.
    return 0.05 * np.maximum(np.abs(x), 0.1)


def _richardson(vals_by_h):
    """Richardson extrapolation of central differences at h, h/2, h/4 (error O(h^6))."""
    d1, d2, d3 = vals_by_h
    e1 = (4 * d2 - d1) / 3
    e2 = (4 * d3 - d2) / 3
    return (16 * e2 - e1) / 15


def _hessian(f, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    k = x.size
    h0 = _steps(x)
    f0 = f(x)
    H = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            ests = []
            for s in (1.0, 0.5, 0.25):
                hi, hj = h0[i] * s, h0[j] * s
                if i == j:
                    e = np.zeros(k)
                    e[i] = hi
                    ests.append((f(x + e) - 2 * f0 + f(x - e)) / hi**2)
                else:
                    ei, ej = np.zeros(k), np.zeros(k)
                    ei[i], ej[j] = hi, hj
                    ests.append((f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4 * hi * hj))
            H[i, j] = H[j, i] = _richardson(ests)
    return H


def _jacobian(f, x: np.ndarray) -> list:
    x = np.asarray(x, dtype=float)
    h0 = _steps(x)
    out = []
    for i in range(x.size):
        ests = []
        for s in (1.0, 0.5, 0.25):
            e = np.zeros(x.size)
            e[i] = h0[i] * s
            ests.append((f(x + e) - f(x - e)) / (2 * e[i]))
        out.append(_richardson(ests))
    return out


# ------------------------------------------------------------------------ Satterthwaite
@dataclass(frozen=True)
class _Satterthwaite:
    vcov: np.ndarray          # vcov of beta at the optimum
    jac: list                 # d vcov / d varpar_k
    vcov_varpar: np.ndarray   # A = 2 H^{-1}
    warning: str | None

    def df(self, L: np.ndarray) -> float:
        var = float(L @ self.vcov @ L)
        g = np.array([L @ J @ L for J in self.jac])
        denom = float(g @ self.vcov_varpar @ g)
        return 2.0 * var**2 / denom if denom > 0 else np.inf


def satterthwaite(fit) -> _Satterthwaite:
    """Ingredients of lmerTest's Satterthwaite df for ``fit`` (see the module docstring)."""
    m = adapter(fit)
    vp = np.r_[m.theta, m.sigma]
    nt = m.theta.size

    def dev(v):
        return m.deviance_at(v[:nt], v[nt])

    H = _hessian(dev, vp)
    warn = None
    w = np.linalg.eigvalsh(H)
    if np.min(w) <= 0 or not np.all(np.isfinite(w)):
        warn = ("the Hessian of the deviance in the variance parameters is not positive "
                "definite (a boundary or non-identified fit): Satterthwaite df are unreliable")
        A = 2.0 * np.linalg.pinv(H)
    else:
        A = 2.0 * np.linalg.inv(H)
    jac = _jacobian(lambda v: m.vcov_at(v[:nt], v[nt]), vp)
    return _Satterthwaite(vcov=m.vcov_at(m.theta, m.sigma), jac=jac, vcov_varpar=A, warning=warn)


# ------------------------------------------------------------------------ fixed-effects table
def fixed_effects_table(fit, ddf: str = "Satterthwaite", level: float = 0.95) -> pd.DataFrame:
    """Fixed effects with estimate, SE, df, t, p and a confidence interval (lmerTest's t-tests).

    Parameters
    ----------
    fit : MixedFit
    ddf : {"Satterthwaite", "Kenward-Roger", "residual"}
        Denominator degrees of freedom; Kenward-Roger also adjusts the SEs (REML fits only);
        "residual" uses n - p (no small-sample correction).
    level : float
        Confidence level of the interval (t quantile with the same df).
    """
    if ddf not in ("Satterthwaite", "Kenward-Roger", "residual"):
        raise ValueError(f"`ddf`: expecting 'Satterthwaite', 'Kenward-Roger' or 'residual'; "
                         f"got {ddf!r}.")
    if not 0 < level < 1:
        raise ValueError(f"`level`: expecting a number between 0 and 1; got {level!r}.")
    m = adapter(fit)
    beta = m.fixed.to_numpy(dtype=float)
    p = beta.size
    eye = np.eye(p)
    if ddf == "Kenward-Roger":
        kr = kenward_roger(fit)
        se = np.sqrt(np.diag(kr.vcov_adj))
        df = np.array([kr.df(eye[i]) for i in range(p)])
    elif ddf == "Satterthwaite":
        sat = satterthwaite(fit)
        se = np.sqrt(np.diag(sat.vcov))
        df = np.array([sat.df(eye[i]) for i in range(p)])
    else:
        se = np.sqrt(np.diag(m.vcov_at(m.theta, m.sigma)))
        df = np.full(p, float(m.n_obs - p))
    t = beta / se
    pval = 2 * stats.t.sf(np.abs(t), df)
    q = stats.t.ppf(0.5 + level / 2, df)
    return pd.DataFrame({"estimate": beta, "std_error": se, "df": df, "t": t, "p_value": pval,
                         "ci_low": beta - q * se, "ci_high": beta + q * se},
                        index=m.fixed.index)


# ------------------------------------------------------------------------ comparison
def information_criteria(fit) -> dict:
    """``npar, loglik, deviance, aic, bic`` as lme4's ``logLik``/``AIC``/``BIC`` (criterion of the fit)."""
    m = adapter(fit)
    npar = int(m.fixed.size + m.theta.size + 1)
    ll = -0.5 * m.deviance_at(m.theta)
    return {"npar": npar, "loglik": ll, "deviance": -2 * ll, "aic": -2 * ll + 2 * npar,
            "bic": -2 * ll + math.log(m.n_obs) * npar}


def anova(*fits, refit: bool = True) -> pd.DataFrame:
    """Likelihood-ratio comparison of nested models, as lme4's ``anova(m0, m1, ...)``.

    Parameters
    ----------
    *fits : MixedFit
        Two or more fits of the same rows, smaller model first or not (sorted by number of
        parameters, as lme4 does).
    refit : bool
        lme4's rule (default): if any fit is REML, every fit is refitted by ML first. With
        ``refit=False`` REML fits are compared as they are (only valid when the fixed parts
        are identical).

    Returns
    -------
    pandas.DataFrame
        One row per model: ``npar, aic, bic, loglik, deviance, chisq, df, p_value`` (the last
        three compare each model with the one above it).
    """
    if len(fits) < 2:
        raise ModelSpecError("anova: give at least two fitted models.")
    views = [adapter(f) for f in fits]
    n = {v.n_obs for v in views}
    if len(n) > 1:
        raise ModelSpecError(f"anova: the models were fitted to different numbers of rows "
                             f"({sorted(n)}); fit them to the same rows.")
    if refit and any(v.reml for v in views):
        views = [adapter(v.refit_ml()) for v in views]
    elif len({v.reml for v in views}) > 1:
        raise ModelSpecError("anova: REML and ML fits cannot be compared; use refit=True.")
    ics = [information_criteria(v) for v in views]
    labels = [getattr(f, "formula", f"model {i + 1}") for i, f in enumerate(fits)]
    order = sorted(range(len(fits)), key=lambda i: ics[i]["npar"])
    rows = []
    for rank, i in enumerate(order):
        ic = ics[i]
        row = {"model": labels[i], **{k: ic[k] for k in ("npar", "aic", "bic", "loglik", "deviance")},
               "chisq": np.nan, "df": np.nan, "p_value": np.nan}
        if rank > 0:
            prev = ics[order[rank - 1]]
            chisq = max(prev["deviance"] - ic["deviance"], 0.0)
            ddf = ic["npar"] - prev["npar"]
            row.update(chisq=chisq, df=ddf,
                       p_value=float(stats.chi2.sf(chisq, ddf)) if ddf > 0 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


# ------------------------------------------------------------------------ display
def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""


def _random_table(fit) -> pd.DataFrame:
    rows = []
    for g, T in fit.random_cov.items():
        terms = list(T.columns)
        sd = np.sqrt(np.diag(T.to_numpy()))
        for i, t in enumerate(terms):
            cors = [T.iloc[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else np.nan
                    for j in range(i)]
            rows.append({"Groups": g if i == 0 else "", "Name": t, "Variance": sd[i] ** 2,
                         "Std.Dev.": sd[i], "Corr": " ".join(f"{c:.2f}" for c in cors)})
    rows.append({"Groups": "Residual", "Name": "", "Variance": fit.residual_variance,
                 "Std.Dev.": math.sqrt(fit.residual_variance), "Corr": ""})
    return pd.DataFrame(rows)


def _scaled_residuals(fit):
    try:
        res = (fit.y.to_numpy() - fit.predict(random=True).to_numpy()) / math.sqrt(
            fit.residual_variance)
    except Exception:  # noqa: BLE001 - the summary line is optional; the fit is not
        return None
    return pd.Series(np.quantile(res, [0, 0.25, 0.5, 0.75, 1.0]),
                     index=["Min", "1Q", "Median", "3Q", "Max"])


def _summary_parts(fit, ddf: str):
    crit = "REML" if fit.reml else "maximum likelihood"
    try:
        table = fixed_effects_table(fit, ddf=ddf)
        method = f"t-tests use {ddf}'s method" if ddf != "residual" else "residual df"
        if ddf == "Satterthwaite":
            w = satterthwaite(fit).warning
            extra = [w] if w else []
        else:
            extra = []
    except (ModelSpecError, EstimationError, np.linalg.LinAlgError) as err:
        table = pd.DataFrame({"estimate": fit.fixed, "std_error": fit.std_errors})
        method = "no t-tests"
        extra = [f"t-tests not available: {err}"]
    return crit, method, table, extra


def _criteria_of(fit) -> dict:
    try:
        return information_criteria(fit)
    except ModelSpecError:  # another engine without the protocol: from its own log-likelihood
        npar = int(len(fit.fixed) + len(fit.theta) + 1)
        ll = float(fit.loglik)
        return {"npar": npar, "loglik": ll, "deviance": -2 * ll, "aic": -2 * ll + 2 * npar,
                "bic": -2 * ll + math.log(fit.n_obs) * npar}


def summary_text(fit, ddf: str = "Satterthwaite") -> str:
    """lmerTest-style text summary of a fit."""
    crit, method, table, extra = _summary_parts(fit, ddf)
    ic = _criteria_of(fit)
    lines = [f"Linear mixed model fit by {crit}. {method} (engine={fit.engine})",
             f"Formula: {fit.formula}", ""]
    if fit.reml:
        lines.append(f"REML criterion at convergence: {ic['deviance']:.1f}")
    else:
        lines.append(f"     AIC      BIC   logLik deviance\n {ic['aic']:8.1f} {ic['bic']:8.1f} "
                     f"{ic['loglik']:8.1f} {ic['deviance']:8.1f}")
    sr = _scaled_residuals(fit)
    if sr is not None:
        lines += ["", "Scaled residuals:", sr.to_frame().T.to_string(
            index=False, float_format=lambda v: f"{v:.4f}")]
    rt = _random_table(fit)
    lines += ["", "Random effects:", rt.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
              f"Number of obs: {fit.n_obs}, groups:  "
              + ", ".join(f"{g}, {n}" for g, n in fit.n_groups.items())]
    if fit.n_dropped:
        lines.append(f"({fit.n_dropped} rows dropped for missing values)")
    lines += ["", "Fixed effects:"]
    if "p_value" in table:
        show = pd.DataFrame({
            "Estimate": table["estimate"], "Std. Error": table["std_error"], "df": table["df"],
            "t value": table["t"],
            "Pr(>|t|)": [f"{p:.3g}" if p >= 2e-16 else "<2e-16" for p in table["p_value"]],
            "": [_stars(p) for p in table["p_value"]]})
        lines.append(show.to_string(float_format=lambda v: f"{v:.4g}"))
        lines.append("---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
    else:
        lines.append(table.to_string(float_format=lambda v: f"{v:.4g}"))
    notes = list(fit.warnings) + extra
    if fit.singular and not any("singular" in w for w in notes):
        notes.append("boundary (singular) fit")
    if not fit.converged:
        notes.append("the optimiser did not converge")
    if notes:
        lines += ["", "Warnings:"] + [f"- {w}" for w in notes]
    return "\n".join(lines)


def _html_table(df: pd.DataFrame, index: bool) -> str:
    """A plain HTML table with every header, label and cell escaped (pandas leaves labels raw)."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.4g}"
        return html.escape(str(v))
    head = ([""] if index else []) + [html.escape(str(c)) for c in df.columns]
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for label, r in zip(df.index, df.itertuples(index=False), strict=True):
        cells = ([f"<th>{html.escape(str(label))}</th>"] if index else []) + [
            f"<td>{cell(v)}</td>" for v in r]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def summary_html(fit, ddf: str = "Satterthwaite") -> str:
    """The same summary as HTML; every user-supplied string (formula, names, warnings) is escaped."""
    crit, method, table, extra = _summary_parts(fit, ddf)
    esc = html.escape
    ic = _criteria_of(fit)
    head = (f"<p><b>Linear mixed model fit by {esc(crit)}</b>. {esc(method)} "
            f"(engine={esc(str(fit.engine))})<br>Formula: <code>{esc(fit.formula)}</code><br>"
            f"n = {fit.n_obs} (dropped {fit.n_dropped}); groups: "
            + ", ".join(f"{esc(str(g))} {n}" for g, n in fit.n_groups.items())
            + f"<br>logLik {ic['loglik']:.3f}; AIC {ic['aic']:.1f}; BIC {ic['bic']:.1f}; "
            f"converged {fit.converged}; singular {fit.singular}</p>")
    body = _html_table(_random_table(fit), index=False) + _html_table(table, index=True)
    notes = list(fit.warnings) + extra
    warn = "".join(f"<li>{esc(w)}</li>" for w in notes)
    return head + body + (f"<ul>{warn}</ul>" if warn else "")
