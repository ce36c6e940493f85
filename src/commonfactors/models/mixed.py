"""Linear mixed models in lme4's notation, behind one small interface.

:func:`fit_mixed` takes an lme4 formula (see :mod:`commonfactors.models._formula` for the grammar) and
returns a :class:`MixedFit`. Three engines: ``"nested"`` (profiled REML/ML on per-cluster
sufficient statistics, :mod:`commonfactors.models.nested`; one or two nested grouping factors, the
fast path), ``"general"`` (penalized least squares with a block-sparse Cholesky,
:mod:`commonfactors.models._general`; any number of nested or crossed factors, several terms per
factor) and ``"statsmodels"`` (MixedLM, a reference). ``engine="auto"`` takes the nested path
whenever it applies and the general engine otherwise; ``fit.engine`` says which ran.
:func:`disaggregate` and :func:`lag_within` build the predictors of the growth model.

Warnings about convergence and singular (boundary) fits are stored in ``MixedFit.warnings`` and
also emitted as :class:`ConvergenceWarning` (a ``UserWarning`` subclass defined here, so a filter
on it does not need statsmodels).
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from .._validation import check_option
from ..errors import ColumnError, ModelSpecError
from ..sessions import check_keys
from . import general as _general
from . import nested as _nested
from ._adapter import adapter
from ._design import _design
from ._identify import flat_directions, theta_labels
from ._statsmodels import _fit_statsmodels
from .derived import disaggregate, lag_within

__all__ = ["fit_mixed", "MixedFit", "disaggregate", "lag_within", "ConvergenceWarning", "anova"]

Engine = Literal["auto", "nested", "general", "statsmodels", "fast"]
Missing = Literal["drop", "raise"]


class ConvergenceWarning(UserWarning):
    """A mixed model did not converge cleanly, or its fit is singular (on the boundary)."""


class Groups(NamedTuple):
    """Grouping factors of a nested fit: ``inner`` (e.g. client) and ``outer`` (therapist or None).

    For a fit of the general engine, ``inner`` is the factor with most levels and ``outer`` is
    None; :attr:`MixedFit.random_terms` lists every term.
    """

    inner: str
    outer: str | None


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class MixedFit:
    """A fitted linear mixed model (both engines return this).

    Attributes
    ----------
    fixed, std_errors : pandas.Series
        Fixed effects and their standard errors (index: patsy column names, "Intercept").
    fixed_cov : pandas.DataFrame
        ``sigma^2 (X'V*^{-1}X)^{-1}`` (lme4's ``vcov``).
    variance : pandas.DataFrame
        Columns ``group, term1, term2, estimate``: variances (term1 == term2) and covariances of
        each group's random effects, then a ``residual`` row.
    residual_variance : float
    random_cov : dict
        Group name -> covariance matrix of its random effects (DataFrame).
    theta : numpy.ndarray
        Relative Cholesky factors as in lme4: lower triangle of ``L_inner`` then ``L_outer``, each
        column-major (``T = sigma^2 L L'``).
    loglik, deviance : float
        REML or ML log-likelihood as lme4's ``logLik`` and ``-2 * loglik``.
    converged, singular : bool
        Clean convergence; a relative Cholesky diagonal below 1e-4 (lme4's ``isSingular``).
    identified : bool
        False when the deviance is flat in some direction of ``theta`` (a variance the data
        cannot determine, e.g. a random intercept of a factor that is also a fixed factor);
        ``flat_parameters`` names them and ``converged`` is then False.
    random_terms : tuple of dict
        One dict per random term in lme4's order: ``label``, ``factors`` (grouping columns),
        ``columns`` (its design columns), ``levels`` (number of groups).
    warnings : tuple of str
        What happened during the fit (dropped rows, convergence, boundary, refits).
    X, y, Z, ids, data, design_info
        The design of the rows used (``Z``: group -> random-effect design columns).
    """

    formula: str
    engine: str
    reml: bool
    fixed: pd.Series
    fixed_cov: pd.DataFrame
    std_errors: pd.Series
    variance: pd.DataFrame
    residual_variance: float
    random_cov: dict
    theta: np.ndarray
    loglik: float
    deviance: float
    n_obs: int
    n_dropped: int
    n_groups: dict
    groups: Groups
    converged: bool
    singular: bool
    warnings: tuple
    X: pd.DataFrame = field(repr=False)
    y: pd.Series = field(repr=False)
    Z: dict = field(repr=False)
    ids: pd.DataFrame = field(repr=False)
    data: pd.DataFrame = field(repr=False)
    design_info: Any = field(repr=False)
    stats: Any = field(repr=False, default=None)
    core: Any = field(repr=False, default=None)
    _z_info: dict = field(repr=False, default_factory=dict)
    identified: bool = True
    flat_parameters: tuple = ()
    random_terms: tuple = ()
    context: dict = field(repr=False, default_factory=dict)

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        # the formula's context is the caller's namespace (modules, large objects): keep only
        # the names the formula uses, modules by name (imported again when unpickled)
        import re
        import types

        used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", self.formula))
        ctx = {k: v for k, v in self.context.items() if k in used}
        mods = {k: v.__name__ for k, v in ctx.items() if isinstance(v, types.ModuleType)}
        ctx = {k: v for k, v in ctx.items() if k not in mods}
        return {**self.__dict__, "context": ctx, "_context_modules": mods}

    def __setstate__(self, state: dict) -> None:
        import importlib

        state = dict(state)
        mods = state.pop("_context_modules", {})
        state["context"] = {**state["context"],
                            **{k: importlib.import_module(m) for k, m in mods.items()}}
        self.__dict__.update(state)

    # ------------------------------------------------------------------ design and prediction
    def design_matrix(self, newdata: pd.DataFrame) -> pd.DataFrame:
        """The fixed-effects design of ``newdata`` (same coding as the fit, e.g. counterfactuals)."""
        mm = self.design_info.get_model_matrix(newdata, context=self.context, na_action="raise")
        return pd.DataFrame(np.asarray(mm, dtype=float), index=newdata.index, columns=list(mm.columns))

    def ranef(self, condvar: bool = False) -> dict:
        """Conditional modes (BLUPs) per group; ``condvar=True`` adds ``<term>_se`` columns.

        The conditional standard deviations are lme4's ``condVar`` (fixed effects treated as
        known).
        """
        if self.engine == "general":
            modes = _general.general_modes(self.stats, self.core, condvar=condvar)
            out = {}
            for info, (u, var) in zip(self.random_terms, modes, strict=True):
                idx = pd.Index(info["level_labels"], name=info["label"])
                df = pd.DataFrame(u, index=idx, columns=info["columns"])
                if condvar:
                    se = np.sqrt(np.diagonal(var, axis1=1, axis2=2))
                    for j, t in enumerate(info["columns"]):
                        df[f"{t}_se"] = se[:, j]
                out[info["label"]] = df.sort_index()
            return out
        modes = _nested.conditional_modes(self.stats, self.core)
        out = {}
        for level, name in (("in", self.groups.inner), ("out", self.groups.outer)):
            if name is None:
                continue
            terms = list(self.random_cov[name].columns)
            labels = self.stats.inner_label if level == "in" else self.stats.outer_label
            info = next(t for t in self.random_terms if t["label"] == name)
            idx = pd.Index(np.asarray(info["level_labels"])[labels], name=name)
            df = pd.DataFrame(modes[f"u_{level}"], index=idx, columns=terms)
            if condvar:
                se = np.sqrt(np.diagonal(modes[f"var_{level}"], axis1=1, axis2=2))
                for j, t in enumerate(terms):
                    df[f"{t}_se"] = se[:, j]
            out[name] = df.sort_index()
        return out

    def predict(self, newdata: pd.DataFrame | None = None, *, random: bool = False) -> pd.Series:
        """Fixed-part predictions; ``random=True`` adds the BLUPs of known groups (0 otherwise)."""
        if newdata is None:
            X, frame, index = self.X, self.data, self.X.index
        else:
            X, frame, index = self.design_matrix(newdata), newdata, newdata.index
        pred = X.to_numpy() @ self.fixed.to_numpy()
        if random:
            re = self.ranef()
            for info in self.random_terms:
                spec = self._z_info[info["label"]]
                Zg = np.asarray(spec.get_model_matrix(frame, context=self.context,
                                                      na_action="raise"), dtype=float)
                f = info["factors"]
                key = (frame[f[0]].astype(object) if len(f) == 1 else
                       frame[list(f)].astype(object).apply(lambda r: ":".join(map(str, r)), axis=1))
                u = re[info["label"]][info["columns"]].reindex(pd.Index(key.to_numpy())).fillna(0.0)
                pred = pred + np.sum(Zg * u.to_numpy(), axis=1)
        return pd.Series(pred, index=index, name="predicted")

    # ------------------------------------------------------------------ inference
    def fixed_effects(self, ddf: str = "Satterthwaite", level: float = 0.95) -> pd.DataFrame:
        """Fixed-effects table: estimate, SE, df, t, p and a confidence interval.

        Parameters
        ----------
        ddf : {"Satterthwaite", "Kenward-Roger", "residual"}
            Denominator df as lmerTest: Satterthwaite (default), Kenward-Roger (adjusted SEs
            too; REML fits only) or the residual n - p.
        level : float
            Confidence level of ``ci_low, ci_high`` (t quantile with the same df).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> g = np.repeat(np.arange(20), 5)
        >>> df = pd.DataFrame({"g": g, "x": rng.normal(size=100)})
        >>> df["y"] = 1 + 0.5 * df["x"] + rng.normal(size=20)[g] + rng.normal(size=100)
        >>> tab = fit_mixed(df, "y ~ x + (1 | g)").fixed_effects()
        >>> list(tab.columns)
        ['estimate', 'std_error', 'df', 't', 'p_value', 'ci_low', 'ci_high']
        """
        from .inference import fixed_effects_table
        return fixed_effects_table(self, ddf=ddf, level=level)

    def confint_variance(self, level: float = 0.95, *, method: str = "profile",
                         n_boot: int = 500, seed=None) -> pd.DataFrame:
        """Intervals of the random-effect SDs, correlations and sigma.

        Parameters
        ----------
        level : float
        method : {"profile", "boot"}
            ``"profile"`` (default) as lme4's ``confint(fit, method = "profile")``: a REML fit
            is refitted by ML and the ML deviance is profiled; bounds are exact roots, not
            spline interpolations. ``"boot"``: parametric-bootstrap percentile intervals
            (``n_boot`` refits of data simulated from the fit, ``seed``); failed refits are
            counted in ``n_failed``.
        """
        from ._profile import bootstrap_ci, profile_ci
        if method == "profile":
            return profile_ci(self, level=level)
        if method == "boot":
            return bootstrap_ci(self, n_boot=n_boot, level=level, seed=seed)
        raise ValueError(f"`method`: expecting 'profile' or 'boot'; got {method!r}.")

    def compare(self, other: MixedFit, *, refit: bool = True) -> pd.DataFrame:
        """Likelihood-ratio test against another fit of the same rows (see :func:`anova`)."""
        from .inference import anova
        return anova(self, other, refit=refit)

    @property
    def aic(self) -> float:
        """Akaike's criterion of the fit's own criterion (REML or ML), as lme4's ``AIC``."""
        from .inference import information_criteria
        return information_criteria(self)["aic"]

    @property
    def bic(self) -> float:
        """Schwarz's criterion (n = rows used), as lme4's ``BIC``."""
        from .inference import information_criteria
        return information_criteria(self)["bic"]

    # ------------------------------------------------------------------ inference protocol (models._adapter)
    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        return float(np.sqrt(self.residual_variance))

    @property
    def theta_blocks(self) -> list:
        """(group, term names) per block of ``theta``, in theta's order."""
        return self._protocol().theta_blocks

    @property
    def theta_lower(self) -> np.ndarray:
        """Lower bounds of ``theta`` (0 on the diagonals of the relative factors)."""
        return self._protocol().theta_lower

    def deviance_at(self, theta, sigma=None, reml=None) -> float:
        """-2 log-likelihood at ``theta`` and ``sigma`` (profiled over sigma when None)."""
        return self._protocol().deviance_at(theta, sigma, reml)

    def vcov_at(self, theta, sigma) -> np.ndarray:
        """``sigma^2 (X'V*(theta)^{-1}X)^{-1}``: lme4's ``vcov`` at those parameters."""
        return self._protocol().vcov_at(theta, sigma)

    def row_blocks(self):
        """Independent row blocks ``(X_b, [Z_b1, ...])`` of the marginal covariance."""
        return self._protocol().row_blocks()

    def refit_ml(self) -> MixedFit:
        """The same model on the same rows refitted by ML (itself when already ML)."""
        return self._protocol().refit_ml()

    def _protocol(self):
        return adapter(self)

    # ------------------------------------------------------------------ display
    def summary(self, ddf: str = "Satterthwaite") -> str:
        """A text summary laid out like lmerTest's (t-tests with ``ddf`` df)."""
        from .inference import summary_text
        return summary_text(self, ddf=ddf)

    def to_table(self, style: str = "apa", **kwargs):
        """The table a paper prints (:func:`commonfactors.to_table`; Excel: ``cf.to_excel``)."""
        from ..tables import to_table
        return to_table(self, style=style, **kwargs)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from .inference import summary_html
        return summary_html(self)


# ---------------------------------------------------------------------------- fitting
def fit_mixed(
    data: pd.DataFrame,
    formula: str,
    *,
    reml: bool = True,
    engine: Engine = "auto",
    missing: Missing = "drop",
) -> MixedFit:
    """Fit a linear mixed model written in lme4's notation.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per observation (not modified).
    formula : str
        lme4 notation. Fixed part as in R/patsy (read by formulaic): ``C(arm, Treatment("TAU"))``,
        ``I(session**2)``, ``poly(x, 2)``, ``np.log(x)``, ``bs(x, df=4)``, ``a * b``, ``a:b``,
        ``- x``, ``0 +``, ``Q("a column")``; names not in ``data`` are looked up where
        ``fit_mixed`` is called. Random terms: ``(1 | g)``, ``(1 + x | g)``, ``(0 + x | g)``,
        ``(x || g)`` (uncorrelated), ``(1 | a/b)`` (nested: ``a`` and ``b:a``), ``(1 | a:b)``,
        several terms per factor, any number of nested or crossed grouping factors.
    reml : bool
        REML (default) or ML.
    engine : {"auto", "nested", "general", "statsmodels"}
        ``"auto"``: the nested sufficient-statistics engine when the random part has one or two
        nested grouping factors with one term each, the general engine otherwise. ``"nested"``
        (alias ``"fast"``), ``"general"`` (penalized least squares with a block-sparse
        Cholesky, any random part) or ``"statsmodels"`` (MixedLM, a reference for the
        nested shapes). ``fit.engine`` says which ran.
    missing : {"drop", "raise"}
        Drop rows with a missing value in a used column (counted in ``n_dropped``) or raise.

    Returns
    -------
    MixedFit

    Raises
    ------
    ColumnError
        A column is missing or the outcome is not numeric; missing values with ``missing="raise"``.
    ModelSpecError
        A formula that cannot be read (the message says which part and what lme4 accepts),
        an unknown function, collinear fixed predictors, too many random effects, or a random
        part the chosen engine cannot take.
    DataValidationError
        Fewer than 2 groups of a grouping factor; with ``client`` among the grouping factors, a
        (client, session) pair on two rows or a client under two therapists (the rows named).

    Notes
    -----
    Both engines minimise lme4's profiled deviance (Bates et al. 2015) with lower bounds 0 on
    the diagonals of the relative Cholesky factors. The nested engine works on per-cluster
    cross-products, so its cost after one pass over the rows does not depend on the number of
    rows; the general engine works on the cross-products ``Z'Z``, ``Z'X``, ``X'X`` with an
    analytic gradient. Nothing is hidden: a failed optimisation gives ``converged=False``, a
    warning string and a :class:`ConvergenceWarning`; a boundary fit gives ``singular=True``;
    a direction of ``theta`` along which the deviance is flat (a variance the data do not
    determine) gives ``identified=False``, ``converged=False`` and names the parameters in
    ``flat_parameters``.

    References
    ----------
    1. Bates, D., Maechler, M., Bolker, B. & Walker, S. (2015). Fitting linear mixed-effects
       models using lme4. Journal of Statistical Software, 67(1), 1-48.
    2. Seabold, S. & Perktold, J. (2010). statsmodels: Econometric and statistical modeling
       with Python. Proceedings of the 9th Python in Science Conference.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(20), 5)
    >>> df = pd.DataFrame({"g": g, "x": rng.normal(size=100)})
    >>> df["y"] = 1 + 0.5 * df["x"] + rng.normal(size=20)[g] + rng.normal(size=100)
    >>> fit = fit_mixed(df, "y ~ x + (1 | g)")
    >>> round(float(fit.fixed["x"]), 2)
    0.55
    >>> fit.engine
    'nested'
    >>> df["rater"] = np.tile(np.arange(4), 25)
    >>> crossed = fit_mixed(df, "y ~ x + (1 | g) + (1 | rater)")
    >>> crossed.engine, sorted(crossed.random_cov)
    ('general', ['g', 'rater'])
    """
    check_option("engine", engine, ("auto", "nested", "general", "statsmodels", "fast"))
    check_option("missing", missing, ("drop", "raise"))
    check_option("reml", reml, (True, False))
    if not isinstance(data, pd.DataFrame):
        raise ColumnError(f"`data`: expecting a pandas DataFrame; got {type(data).__name__}.")
    engine = "nested" if engine == "fast" else engine
    here = inspect.currentframe()
    frame = here.f_back if here is not None else None
    try:
        d = _design(data, formula, frame, missing)
    finally:
        del frame
    gcols = list(dict.fromkeys(c for t in d["terms"] for c in t["factors"]))
    if "client" in gcols:  # session data: one row per (client, session), one therapist each
        clean = d["clean"]
        check_keys(clean, client="client",
                   therapist="therapist" if "therapist" in gcols else None,
                   session="session" if "session" in clean.columns else None,
                   where="fit_mixed", outcome=str(d["y"].name),
                   columns=[c for c in d["used"] if c not in gcols])
    return _fit_design(d, formula, engine, reml)


def _fit_checked(data: pd.DataFrame, formula: str, reml: bool = True) -> MixedFit:
    """``fit_mixed`` for rows whose keys were already checked: a bootstrap draw of checked data
    (clusters resampled whole, nested ids relabelled per copy) keeps one row per (client,
    session) and one therapist per client, so the session-key check is not repeated."""
    return _fit_design(_design(data, formula, None, "drop"), formula, "auto", reml)


def _refit(fit: MixedFit, reml: bool) -> MixedFit:
    """The same model on the same rows with another criterion (anova's REML -> ML rule)."""
    d = _design(fit.data, fit.formula, fit.context, "raise")
    d["n_dropped"] = fit.n_dropped
    d["warnings"] = [w for w in fit.warnings if w.startswith("dropped ")]
    return _fit_design(d, fit.formula, fit.engine, reml)


def _fit_design(d: dict, formula: str, engine: str, reml: bool) -> MixedFit:
    if engine == "auto":
        engine = "nested" if d["nested"] else "general"
    if engine == "nested" and not d["nested"]:
        raise ModelSpecError(
            "`engine`: the nested engine takes one or two nested grouping factors with one random "
            f"term each; {formula!r} has " + ", ".join(t["source"] for t in d["terms"])
            + ". Use engine='auto' or 'general'.")
    msgs = list(d["warnings"])
    stats: Any
    core: Any
    if engine == "nested":
        stats = _nested.NestedStats.from_arrays(d["X"].to_numpy(), d["y"].to_numpy(), d["Zin"],
                                                d["Zout"], d["codes_in"], d["codes_out"])
        core = _nested.fit_nested(stats, reml=reml)
        if not core.converged:
            msgs.append(f"nested engine: {core.message}")
    elif engine == "general":
        terms = d["terms"]
        stats = _general.GeneralStats.from_arrays(
            d["X"].to_numpy(), d["y"].to_numpy(), [t["Z"].to_numpy() for t in terms],
            [t["codes"] for t in terms], [t["label"] for t in terms])
        core = _general.fit_general(stats, reml=reml)
        if not core.converged:
            msgs.append(f"general engine: {core.message}")
    else:
        stats, core, msgs = _fit_statsmodels(d, reml)
    return _assemble(d, formula, engine, reml, stats, core, msgs)


def _assemble(d, formula, engine, reml, stats, core, msgs) -> MixedFit:
    X = d["X"]
    names = list(X.columns)
    fixed = pd.Series(core.beta, index=names, name="estimate")
    fixed_cov = pd.DataFrame(core.vcov, index=names, columns=names)
    se = pd.Series(np.sqrt(np.diag(core.vcov)), index=names, name="std_error")
    if engine == "general":
        pairs = [(t["label"], T) for t, T in zip(d["terms"], core.T, strict=True)]
    else:
        pairs = [(g, T) for g, T in ((d["inner"], core.T_in), (d["outer"], core.T_out)) if g]
    random_cov, rows = {}, []
    for g, T in pairs:
        terms = list(d["Z"][g].columns)
        random_cov[g] = pd.DataFrame(T, index=terms, columns=terms)
        r, c = _nested.tri_index(len(terms))
        for a, b in sorted(zip(r, c, strict=True), key=lambda rc: rc[0] != rc[1]):
            rows.append((g, terms[b], terms[a], float(T[a, b])))
    rows.append(("residual", "", "", float(core.s2)))
    variance = pd.DataFrame(rows, columns=["group", "term1", "term2", "estimate"])
    msgs = list(msgs)
    converged = bool(core.converged)
    flat: list[str] = []
    if engine != "statsmodels":
        flat = flat_directions(engine, stats, core, reml, theta_labels(d, engine))
    if flat:
        converged = False
        msgs.append(
            "not identified: the deviance is flat along " + ", ".join(flat) + "; the data do "
            "not determine these variance parameters (e.g. a random intercept of a factor that is "
            "also in the fixed part, or too few groups); the reported values are arbitrary points "
            "of a flat ridge. Remove the term or the fixed factor.")
    if core.singular:
        msgs.append("boundary (singular) fit: a random-effect variance is estimated at 0 or a "
                    "correlation at +-1; simplify the random part or interpret with care")
    for w in msgs:
        if not w.startswith("dropped "):
            warnings.warn(w, ConvergenceWarning, stacklevel=3)
    clean = d["clean"]
    ids = pd.DataFrame(index=clean.index)
    infos = []
    for t in d["terms"]:
        name = t["group"]
        if name not in ids:
            ids[name] = (np.asarray(t["levels"], dtype=object)[t["codes"]] if len(t["factors"]) > 1
                         else clean[t["factors"][0]].to_numpy())
        infos.append({"label": t["label"], "factors": t["factors"], "columns": list(t["Z"].columns),
                      "levels": t["nlev"], "level_labels": t["levels"], "expr": t["expr"],
                      "group": t["group"]})
    if engine != "general":
        order = [g for g in (d["inner"], d["outer"]) if g]
        infos = sorted(infos, key=lambda i: order.index(i["label"]))
        groups = Groups(d["inner"], d["outer"])
    else:
        groups = Groups(d["terms"][0]["label"], None)
    return MixedFit(
        formula=formula, engine=engine, reml=reml, fixed=fixed, fixed_cov=fixed_cov,
        std_errors=se, variance=variance, residual_variance=float(core.s2), random_cov=random_cov,
        theta=np.asarray(core.theta, dtype=float), loglik=float(core.loglik),
        deviance=float(-2.0 * core.loglik), n_obs=int(len(clean)), n_dropped=d["n_dropped"],
        n_groups={i["label"]: i["levels"] for i in infos}, groups=groups,
        converged=converged, singular=bool(core.singular),
        warnings=tuple(msgs), X=X, y=d["y"], Z=d["Z"], ids=ids, data=clean,
        design_info=d["spec"], stats=stats, core=core,
        _z_info={t["label"]: t["spec"] for t in d["terms"]}, identified=not flat,
        flat_parameters=tuple(flat), random_terms=tuple(infos), context=d["context"],
    )


def anova(*fits: MixedFit, refit: bool = True) -> pd.DataFrame:
    """Likelihood-ratio comparison of nested mixed models, as lme4's ``anova(m0, m1)``.

    Parameters
    ----------
    *fits : MixedFit
        Two or more fits of the same rows (any order; sorted by number of parameters).
    refit : bool
        lme4's rule (default): when any fit is REML, all are refitted by ML first, because
        REML likelihoods of models with different fixed parts are not comparable.

    Returns
    -------
    pandas.DataFrame
        Indexed by formula: ``npar, aic, bic, loglik, deviance`` and, against the model above,
        ``chisq, df, p_value``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(20), 5)
    >>> df = pd.DataFrame({"g": g, "x": rng.normal(size=100)})
    >>> df["y"] = 1 + 0.5 * df["x"] + rng.normal(size=20)[g] + rng.normal(size=100)
    >>> tab = anova(fit_mixed(df, "y ~ 1 + (1 | g)"), fit_mixed(df, "y ~ x + (1 | g)"))
    >>> int(tab["df"].iloc[1]), bool(tab["p_value"].iloc[1] < 0.001)
    (1, True)
    """
    from .inference import anova as _anova
    return _anova(*fits, refit=refit)


# ---------------------------------------------------------------------------- helpers
