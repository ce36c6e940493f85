"""Random-effects meta-regression and design-based shares of mean improvement.

The design-based estimator of docs/methods.md section 5 splits the average pre-post improvement of
clients in bona fide therapy into the part that also happens without treatment (natural course,
waitlist arms), the part that a nonspecific or placebo treatment adds, and the part only the
active treatment adds. Arm-level pre-post changes from many trials are pooled with a
random-effects meta-regression (a random intercept per study, known sampling variances, REML),
whose arm-type means give the ratios; intervals come from a bootstrap over studies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import check_columns, check_int, check_number, check_option
from ..errors import (
    ColumnError,
    ConfigError,
    DataValidationError,
    EstimationError,
    ModelSpecError,
)
from ..parallel import chunks, run
from ._arms import arm_numbers
from ._reml import _optimise, _Problem

__all__ = [
    "MetaRegression",
    "random_effects_metareg",
    "pre_post_variance",
    "design_based_shares",
    "ARM_TYPES",
    "DEFAULT_ARM_MAPPING",
]

#: Canonical arm types of the design-based estimator.
ARM_TYPES = ("natural_course", "placebo", "active")

#: Arm labels understood without a ``mapping`` (matched case-insensitively, spaces as "_").
DEFAULT_ARM_MAPPING: dict[str, str] = {
    "waitlist": "natural_course",
    "wait_list": "natural_course",
    "waiting_list": "natural_course",
    "wl": "natural_course",
    "no_treatment": "natural_course",
    "natural_course": "natural_course",
    "placebo": "placebo",
    "pill_placebo": "placebo",
    "psychological_placebo": "placebo",
    "attention_control": "placebo",
    "nonspecific": "placebo",
    "non_specific": "placebo",
    "supportive": "placebo",
    "active": "active",
    "bona_fide": "active",
}


# ---------------------------------------------------------------------------------------------
# REML meta-regression
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaRegression:
    """Result of :func:`random_effects_metareg`.

    Attributes
    ----------
    coef, se : Series
        Fixed effects (GLS at the REML variance components) and their standard errors.
    cov : DataFrame
        Covariance of ``coef``.
    tau2 : float
        Between-study variance (study random intercept).
    sigma2 : float
        Within-study (estimate-level) heterogeneity variance; 0.0 when not modelled.
    loglik : float
        Restricted log-likelihood at the estimates (metafor's convention, with the
        ``+ log|X'X| / 2`` term).
    k, n_studies, df : int
        Number of estimates, of studies, and residual degrees of freedom ``k - p``.
    knapp_hartung : bool
        Whether ``se`` carries the Knapp-Hartung adjustment (then tests use t with ``df``).
    converged : bool
        Whether the optimizer reported success at a finite optimum.
    message : str
        The optimizer's message.
    """

    coef: pd.Series
    se: pd.Series
    cov: pd.DataFrame
    tau2: float
    sigma2: float
    loglik: float
    k: int
    n_studies: int
    df: int
    knapp_hartung: bool
    converged: bool
    message: str = ""
    level: float = field(default=0.95)

    @property
    def table(self) -> pd.DataFrame:
        """Tidy coefficient table: term, estimate, se, statistic, p_value, ci_low, ci_high."""
        stat = self.coef / self.se
        if self.knapp_hartung:
            p = 2 * stats.t.sf(np.abs(stat), self.df)
            crit = stats.t.ppf(0.5 + self.level / 2, self.df)
        else:
            p = 2 * stats.norm.sf(np.abs(stat))
            crit = stats.norm.ppf(0.5 + self.level / 2)
        return pd.DataFrame(
            {
                "term": self.coef.index.astype(str),
                "estimate": self.coef.to_numpy(),
                "se": self.se.to_numpy(),
                "statistic": stat.to_numpy(),
                "p_value": np.asarray(p),
                "ci_low": (self.coef - crit * self.se).to_numpy(),
                "ci_high": (self.coef + crit * self.se).to_numpy(),
            }
        )

    def summary(self) -> str:
        """A plain-text summary."""
        lines = [
            f"Random-effects meta-regression (REML): k = {self.k}, studies = {self.n_studies}",
            f"tau2 (study) = {self.tau2:.4g}, sigma2 (estimate) = {self.sigma2:.4g}, "
            f"REML logLik = {self.loglik:.4f}, converged = {self.converged}",
            self.table.to_string(index=False, float_format=lambda x: f"{x:.4f}"),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _as_design(X: Any, k: int) -> tuple[np.ndarray, list[str]]:
    if X is None:
        return np.ones((k, 1)), ["intercept"]
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        arr = X.to_numpy(dtype=float)
    else:
        arr = np.asarray(X, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        names = [f"x{j}" for j in range(arr.shape[1])]
    if arr.ndim != 2 or arr.shape[0] != k:
        raise ModelSpecError(
            f"`X`: expecting a 2-D design with {k} rows (one per estimate); got shape "
            f"{arr.shape}."
        )
    if not np.isfinite(arr).all():
        raise ModelSpecError("`X`: expecting finite values; found NaN or infinite entries.")
    rank = np.linalg.matrix_rank(arr)
    if rank < arr.shape[1]:
        raise ModelSpecError(
            f"`X`: the design has {arr.shape[1]} columns but rank {rank}; drop redundant "
            "columns (e.g. an intercept together with a full set of indicators)."
        )
    return arr, names


def random_effects_metareg(
    y: Any,
    v: Any,
    X: Any = None,
    study: Any = None,
    *,
    arm_level: bool = False,
    knapp_hartung: bool = False,
    level: float = 0.95,
) -> MetaRegression:
    """REML random-effects meta-regression with a study random intercept.

    Fits ``y_i = x_i' b + u_study(i) + e_i + eps_i`` with ``u ~ N(0, tau2)`` per study,
    optionally ``e_i ~ N(0, sigma2)`` per estimate (``arm_level=True``), and known sampling
    variances ``eps_i ~ N(0, v_i)``.

    Parameters
    ----------
    y : array-like
        Effect sizes (e.g. arm-level pre-post d), length k.
    v : array-like
        Their sampling variances, all > 0.
    X : array-like or DataFrame, optional
        Fixed-effects design (k rows, full column rank); column names are kept from a
        DataFrame. None fits an intercept only.
    study : array-like, optional
        Study label of each estimate; None gives every estimate its own study (the usual
        random-effects model, where ``tau2`` is the between-estimate variance).
    arm_level : bool, default False
        Also estimate ``sigma2``, heterogeneity between estimates of one study (R:
        ``random = ~ 1 | study/arm``). Needs some studies with several estimates.
    knapp_hartung : bool, default False
        Scale the covariance of ``b`` by ``r'V^-1 r / (k - p)`` and use t tests with
        ``k - p`` degrees of freedom.
    level : float, default 0.95
        Confidence level of the ``table`` intervals.

    Returns
    -------
    MetaRegression

    Notes
    -----
    The variance components maximise the restricted likelihood [1]_

    ``l_R = -1/2 [ (k-p) log 2 pi - log|X'X| + log|V| + log|X'V^-1 X| + r'V^-1 r ]``

    over ``tau2, sigma2 >= 0`` (Fisher scoring with step halving), with ``V`` block-diagonal by study. Each block
    ``D_s + tau2 J`` is inverted in closed form (Sherman-Morrison), so a fit costs a few
    passes over the data; the fixed effects are the GLS estimates at the optimum with
    covariance ``(X'V^-1X)^-1`` [2]_. The Knapp-Hartung adjustment [3]_ is the one of
    metafor's ``test = "knha"``, without truncation. Coefficients, standard errors, variance
    components and the restricted log-likelihood agree with metafor's ``rma.mv`` / ``rma``
    (REML) to a relative 1e-6 or better, except where metafor stops its own iterations early
    (its default threshold of 1e-5 on the change in ``tau2``): there the two differ by up to
    1e-4 relative and the REML gradient is smaller here (tests/reference_meta).

    References
    ----------
    .. [1] Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in
       the random-effects model. *Journal of Educational and Behavioral Statistics*, 30(3),
       261-293.
    .. [2] Konstantopoulos, S. (2011). Fixed effects and variance components estimation in
       three-level meta-analysis. *Research Synthesis Methods*, 2(1), 61-76.
    .. [3] Knapp, G., & Hartung, J. (2003). Improved tests for a random effects
       meta-regression with a single covariate. *Statistics in Medicine*, 22(17), 2693-2710.

    Examples
    --------
    >>> import numpy as np
    >>> from commonfactors.meta import random_effects_metareg
    >>> fit = random_effects_metareg([0.1, 0.5, 0.3, 0.9], [0.02, 0.03, 0.02, 0.04])
    >>> round(float(fit.coef["intercept"]), 3), fit.converged
    (0.429, True)
    """
    y_arr = np.asarray(y, dtype=float).ravel()
    v_arr = np.asarray(v, dtype=float).ravel()
    k = y_arr.size
    if v_arr.size != k:
        raise ModelSpecError(f"`v`: expecting {k} sampling variances (one per y); got {v_arr.size}.")
    if not np.isfinite(y_arr).all():
        raise DataValidationError("`y`: expecting finite effect sizes; found NaN or infinite.")
    if not (np.isfinite(v_arr).all() and (v_arr > 0).all()):
        raise DataValidationError(
            "`v`: expecting finite sampling variances > 0; found "
            f"{int(np.sum(~(np.isfinite(v_arr) & (v_arr > 0))))} invalid value(s)."
        )
    Xa, names = _as_design(X, k)
    p = Xa.shape[1]
    if study is None:
        codes = np.arange(k)
    else:
        study_arr = np.asarray(study).ravel()
        if study_arr.size != k:
            raise ModelSpecError(f"`study`: expecting {k} labels (one per y); got {study_arr.size}.")
        codes = pd.factorize(pd.Series(study_arr), use_na_sentinel=False)[0]
    n_studies = int(codes.max()) + 1
    if k - p < 1 + int(arm_level):
        raise ModelSpecError(
            f"`X`: {k} estimates leave too few degrees of freedom for {p} coefficients and "
            f"{1 + int(arm_level)} variance component(s); need k > p + components."
        )
    if arm_level and n_studies == k:
        raise ModelSpecError(
            "`arm_level=True` needs studies with several estimates; every study has one, so "
            "tau2 and sigma2 cannot be told apart. Use arm_level=False."
        )
    level = check_number("level", level, low=0.0, high=1.0, low_inclusive=False,
                         high_inclusive=False)
    prob = _Problem(y_arr, v_arr, Xa, codes)
    tau2, sigma2, ok, msg = _optimise(prob, arm_level)
    b, xtvx, rss, _ = prob.gls(tau2, sigma2)
    cov = np.linalg.inv(xtvx)
    if knapp_hartung:
        cov = cov * (rss / (k - p))
    se = np.sqrt(np.diag(cov))
    return MetaRegression(
        coef=pd.Series(b, index=names),
        se=pd.Series(se, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        tau2=float(tau2),
        sigma2=float(sigma2),
        loglik=float(prob.reml_score(tau2, sigma2)[0]),
        k=k,
        n_studies=n_studies,
        df=k - p,
        knapp_hartung=bool(knapp_hartung),
        converged=ok,
        message=msg,
        level=level,
    )


# ---------------------------------------------------------------------------------------------
# design-based shares of mean improvement
# ---------------------------------------------------------------------------------------------


def pre_post_variance(d: Any, n: Any, r: float = 0.5) -> np.ndarray:
    """Large-sample sampling variance of a within-arm standardized pre-post change.

    Parameters
    ----------
    d : array-like
        Standardized pre-post change (change over the pre-test SD).
    n : array-like
        Arm sizes (> 1).
    r : float, default 0.5
        Assumed pre-post correlation, in (-1, 1).

    Returns
    -------
    ndarray
        ``2 (1 - r) / n + d**2 / (2 n)``.

    Notes
    -----
    Becker's large-sample variance of the standardized mean change [1]_ [2]_. Trials rarely
    report the pre-post correlation; 0.5 is the usual assumption, and the shares depend on it
    only through the weights.

    References
    ----------
    .. [1] Becker, B. J. (1988). Synthesizing standardized mean-change measures. *British
       Journal of Mathematical and Statistical Psychology*, 41(2), 257-278.
    .. [2] Morris, S. B., & DeShon, R. P. (2002). Combining effect size estimates in
       meta-analysis with repeated measures and independent-groups designs. *Psychological
       Methods*, 7(1), 105-125.

    Examples
    --------
    >>> from commonfactors.meta import pre_post_variance
    >>> float(pre_post_variance(0.5, 50))
    0.0225
    """
    r = check_number("r", r, low=-1.0, high=1.0, low_inclusive=False, high_inclusive=False)
    d_arr = np.asarray(d, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    if np.any(~np.isfinite(n_arr)) or np.any(n_arr <= 1):
        raise DataValidationError("`n`: expecting arm sizes > 1; found a value <= 1 or missing.")
    return 2.0 * (1.0 - r) / n_arr + d_arr**2 / (2.0 * n_arr)


def _norm_label(x: Any) -> str:
    return str(x).strip().lower().replace(" ", "_").replace("-", "_")


def _arm_types(labels: pd.Series, mapping: Mapping[str, Any] | None) -> pd.Series:
    table = dict(DEFAULT_ARM_MAPPING)
    for key, val in (mapping or {}).items():
        if val is not None:
            check_option(f"mapping[{key!r}]", val, ARM_TYPES + (None,))
        table[_norm_label(key)] = val
    norm = labels.map(_norm_label)
    unknown = sorted(set(norm) - set(table))
    if unknown:
        raise ColumnError(
            f"`arm_col`: arm label(s) {', '.join(map(repr, unknown))} are not mapped to an arm "
            f"type ({', '.join(ARM_TYPES)}). Pass mapping={{label: type}}, e.g. "
            "mapping={'usual_care': 'placebo'}, or {'usual_care': None} to drop those arms."
        )
    return norm.map(table)


def _shares(means: np.ndarray) -> np.ndarray:
    wl, pl, ac = means
    return np.array([wl / ac, (pl - wl) / ac, (ac - pl) / ac])


_SHARE_FACTORS = ("extra_therapeutic", "nonspecific", "technique")


def design_based_shares(
    arms: pd.DataFrame,
    *,
    arm_col: str,
    change_col: str,
    study_col: str,
    var_col: str | None = None,
    n_col: str | None = None,
    pre_post_r: float = 0.5,
    mapping: Mapping[str, str | None] | None = None,
    arm_level: bool = False,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Shares of mean improvement from waitlist, placebo and active arms (arm ratios).

    Parameters
    ----------
    arms : DataFrame
        One row per trial arm.
    arm_col : str
        Arm label; mapped to ``natural_course`` (waitlist / no treatment), ``placebo``
        (placebo / nonspecific / supportive) or ``active`` (bona fide treatment), see
        :data:`DEFAULT_ARM_MAPPING` and ``mapping``.
    change_col : str
        Standardized pre-post change of the arm, positive = improvement.
    study_col : str
        Trial id.
    var_col, n_col : str, optional
        Exactly one: the sampling variance of the change, or the arm size, from which the
        variance is computed by :func:`pre_post_variance` with ``pre_post_r``.
    pre_post_r : float, default 0.5
        Assumed pre-post correlation when ``n_col`` is given.
    mapping : dict, optional
        Extra or overriding ``{label: arm type}`` entries; an arm type of None drops those
        arms. Usual care is deliberately not in the defaults: it is partly active treatment,
        so map it yourself (``{"usual_care": "placebo"}``) or drop it.
    arm_level : bool, default False
        Also model heterogeneity between arms of a study (see :func:`random_effects_metareg`).
    n_boot : int, default 1000
        Bootstrap replicates (studies resampled with replacement); 0 for no intervals.
    level : float, default 0.95
        Level of the percentile intervals.
    seed : int or Generator, optional
        Seed for ``np.random.default_rng``.
    n_jobs : int, default 1
        Parallel workers for the bootstrap (joblib; -1 = all cores). The resamples are drawn
        before they are shared out, so results do not depend on ``n_jobs``.

    Returns
    -------
    DataFrame
        Three rows, ``factor`` = extra_therapeutic, nonspecific, technique, with ``estimand`` =
        "share_mean_improvement", ``estimate, ci_low, ci_high``, and ``n_boot``, ``n_failed``
        (replicates that failed: a resample without one of the arm types, a non-converged fit,
        or an active-arm mean <= 0; they are left out of the intervals).

    Notes
    -----
    A meta-regression of the arm changes on the three arm-type indicators, with a random
    intercept per study (REML), gives the mean change of natural-course arms ``WL``,
    placebo arms ``P`` and active arms ``A``. Following Cuijpers et al. [1]_ (after Kirsch &
    Sapirstein [2]_) the active arms' improvement is split as

    - ``extra_therapeutic = WL / A`` (what happens anyway: natural course, regression to the
      mean, time),
    - ``nonspecific = (P - WL) / A`` (what a credible treatment without the specific
      ingredients adds),
    - ``technique = (A - P) / A`` (the specific ingredients),

    which sum to 1. The design cannot split ``nonspecific`` into relationship and expectancy:
    a placebo or supportive arm carries both, so the row is called "nonspecific", not
    "relationship". The study random intercept lets within-study contrasts inform the arm-type
    means, since trials differ in samples and measures. The shares are ratios of means; they
    are undefined when ``A <= 0``.

    References
    ----------
    .. [1] Cuijpers, P., Driessen, E., Hollon, S. D., van Oppen, P., Barth, J., & Andersson, G.
       (2012). The efficacy of non-directive supportive therapy for adult depression: A
       meta-analysis. *Clinical Psychology Review*, 32(4), 280-291.
    .. [2] Kirsch, I., & Sapirstein, G. (1998). Listening to Prozac but hearing placebo: A
       meta-analysis of antidepressant medication. *Prevention & Treatment*, 1(2), Article 2a.
    .. [3] Becker, B. J. (1988). Synthesizing standardized mean-change measures. *British
       Journal of Mathematical and Statistical Psychology*, 41(2), 257-278.

    Examples
    --------
    >>> import pandas as pd
    >>> from commonfactors.meta import design_based_shares
    >>> arms = pd.DataFrame({"study": [1, 1, 1, 2, 2, 2, 3, 3, 3],
    ...                      "arm": ["waitlist", "placebo", "active"] * 3,
    ...                      "d": [0.5, 1.2, 1.5, 0.4, 1.3, 1.5, 0.6, 1.25, 1.5],
    ...                      "n": [40] * 9})
    >>> out = design_based_shares(arms, arm_col="arm", change_col="d", study_col="study",
    ...                           n_col="n", n_boot=0)
    >>> out[["factor", "estimate"]].round(3).values.tolist()
    [['extra_therapeutic', 0.331], ['nonspecific', 0.501], ['technique', 0.167]]
    """
    if (var_col is None) == (n_col is None):
        raise ColumnError(
            "`var_col`, `n_col`: give exactly one: the sampling variance of the change, or the "
            f"arm size to compute it from; got var_col={var_col!r}, n_col={n_col!r}."
        )
    size_col = var_col if var_col is not None else n_col
    check_columns(arms, [arm_col, change_col, study_col, str(size_col)], param="arms")
    n_boot = check_int("n_boot", n_boot, minimum=0)
    n_jobs = check_int("n_jobs", n_jobs)
    if n_jobs == 0:
        raise ConfigError("`n_jobs`: expecting a positive number of workers or -1 (all); got 0.")
    level = check_number("level", level, low=0.0, high=1.0, low_inclusive=False,
                         high_inclusive=False)
    data = arms[[arm_col, change_col, study_col, size_col]].copy()
    data["_type"] = _arm_types(data[arm_col], mapping)
    data = data[data["_type"].notna()]
    bad = data[[change_col, size_col, study_col]].isna().any(axis=1)
    if bad.any():
        raise DataValidationError(
            f"`arms`: {int(bad.sum())} arm(s) have a missing {change_col!r}, {size_col!r} or "
            f"{study_col!r}; drop or fill them first."
        )
    pre_post_r = check_number("pre_post_r", pre_post_r, low=-1.0, high=1.0, low_inclusive=False,
                              high_inclusive=False)
    y = arm_numbers(data, change_col, "`change_col`", "the standardized pre-post change")
    if var_col is not None:
        v = arm_numbers(data, var_col, "`var_col`", "sampling variances > 0", low=0.0)
    else:
        n = arm_numbers(data, n_col, "`n_col`", "arm sizes > 1", low=1.0)
        v = pre_post_variance(y, n, pre_post_r)
    types = data["_type"].to_numpy(dtype=object)
    missing = [t for t in ARM_TYPES if t not in set(types)]
    if missing:
        raise DataValidationError(
            f"`arms`: the design needs all three arm types {', '.join(ARM_TYPES)}; no arm of "
            f"type {', '.join(map(repr, missing))} after mapping the labels of {arm_col!r}."
        )
    X = np.column_stack([(types == t).astype(float) for t in ARM_TYPES])
    codes = pd.factorize(data[study_col])[0]

    fit = random_effects_metareg(y, v, X, codes, arm_level=arm_level)
    if not fit.converged:
        raise EstimationError(
            f"design_based_shares: the meta-regression did not converge ({fit.message}); "
            "check the arm data (sampling variances, outliers)."
        )
    means = fit.coef.to_numpy()
    if means[2] <= 0:
        raise EstimationError(
            f"design_based_shares: the mean change of active arms is {means[2]:.3g} <= 0, so "
            "shares of improvement are undefined; check the sign of `change_col` "
            "(positive = improvement)."
        )
    estimate = _shares(means)

    boots = _bootstrap(y, v, X, codes, arm_level, n_boot, np.random.default_rng(seed), n_jobs)
    n_failed = n_boot - boots.shape[0]
    if boots.shape[0] >= 2:
        alpha = 1.0 - level
        ci = np.quantile(boots, [alpha / 2, 1 - alpha / 2], axis=0)
    else:
        ci = np.full((2, 3), np.nan)
    return pd.DataFrame(
        {
            "factor": list(_SHARE_FACTORS),
            "estimand": "share_mean_improvement",
            "estimate": estimate,
            "ci_low": ci[0],
            "ci_high": ci[1],
            "n_boot": n_boot,
            "n_failed": n_failed,
        }
    )


def _replicates(y: np.ndarray, v: np.ndarray, X: np.ndarray, rows: Sequence[np.ndarray],
                arm_level: bool, draws: np.ndarray) -> list[np.ndarray]:
    """Shares for each row of ``draws`` (study indices); failed replicates are left out."""
    n_studies = len(rows)
    out = []
    for draw in draws:
        idx = np.concatenate([rows[s] for s in draw])
        new_codes = np.repeat(np.arange(n_studies), [rows[s].size for s in draw])
        Xb = X[idx]
        if (Xb.sum(axis=0) == 0).any():  # an arm type missing from the resample
            continue
        try:
            fit = random_effects_metareg(y[idx], v[idx], Xb, new_codes, arm_level=arm_level)
        except (ModelSpecError, np.linalg.LinAlgError):
            continue
        means = fit.coef.to_numpy()
        if not fit.converged or means[2] <= 0:
            continue
        out.append(_shares(means))
    return out


def _bootstrap(y: np.ndarray, v: np.ndarray, X: np.ndarray, codes: np.ndarray, arm_level: bool,
               n_boot: int, rng: np.random.Generator, n_jobs: int) -> np.ndarray:
    """Shares from ``n_boot`` resamples of studies, as an array (successful replicates, 3)."""
    n_studies = int(codes.max()) + 1
    rows = [np.flatnonzero(codes == s) for s in range(n_studies)]
    # all resamples are drawn up front, so the result does not depend on n_jobs
    draws = rng.integers(0, n_studies, size=(n_boot, n_studies))
    tasks = [(y, v, X, rows, arm_level, draws[idx]) for idx in chunks(n_boot, n_jobs)]
    parts = run(_replicates, tasks, n_jobs=n_jobs)
    out = [r for part in parts for r in part]
    return np.array(out).reshape(-1, 3)
