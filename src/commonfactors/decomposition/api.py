"""``cf.decompose``: factor-group shares, variance components and shares of mean improvement.

Every number comes labelled with its estimand (docs/methods.md sections 3-5) and, with ``n_boot > 0``,
a cluster-bootstrap interval (section 6).
"""

from __future__ import annotations

import os
from dataclasses import replace

import pandas as pd

from .._validation import check_analysis_args, check_columns, check_factor_groups, check_option
from ..errors import ColumnError
from ..estimands import EXTRA_THERAPEUTIC as THERAPY_EXCLUDE
from ..sessions import check_keys
from . import _inputs as AI
from ._change import build_change
from ._finish import cross_products_kept, finish, used_notes
from ._references import (
    LazyFit,
)
from .result import Decomposition

__all__ = ["decompose", "Decomposition", "components"]

def build_problem(data, factors, view, references=None, *, reml=True, outside=(THERAPY_EXCLUDE,),
                  categorical=None, chunk_rows=None, keep="outer"):
    """(Problem, Built, rows used) of canonical session rows (role-named columns ``therapist``,
    ``client``, ``session``, ``outcome``; factor columns numeric or dummy-coded).

    Growth view: from per-client statistics read in chunks of ``chunk_rows`` rows
    (:mod:`._growth`), never a row-sized design. Change view: from the change frame (one row
    per client). Rows with a missing value in a column the view uses are left out; the count of
    rows used is returned.
    """
    categorical = categorical or {}
    if view == "growth":
        from ._growth import growth_from_rows

        return growth_from_rows(data, factors, references=references, outside=outside,
                                categorical=categorical, reml=reml, chunk_rows=chunk_rows,
                                keep=keep)
    from ._growth import CHUNK_ROWS
    from ._moments import change_frame, change_part, chunks, combine

    keys = [c for c in ("therapist", "client", "session") if c in data.columns]
    preds = sorted({c for cs in factors.values() for c in cs if c != "session"})
    pieces = [change_part(ch, preds, keys) for ch in chunks(data, int(chunk_rows or CHUNK_ROWS))]
    frame, notes = change_frame(combine([p for p, _ in pieces]), preds)
    has_t = "therapist" in data.columns
    problem, built = build_change(frame, factors, view, references, "client",
                            "therapist" if has_t else None, "session", reml, outside, categorical)
    built = replace(built, notes=tuple(notes) + built.notes)
    return problem, built, sum(n for _, n in pieces)


def decompose(data_or_fit, *, factors, view="growth", n_boot: int = 1000, ci: str = "auto",
              seed=None, n_jobs: int = 1, progress: bool | None = None, references=None,
              outside=None, resample_clients: bool = False, level: float = 0.95, reml: bool = True,
              client: str = "client", therapist: str | None = "therapist",
              session: str = "session") -> Decomposition:
    """Decompose outcome variance and mean improvement into factor groups, with intervals.

    Parameters
    ----------
    data_or_fit : DataFrame, Dask DataFrame, Parquet path or MixedFit
        Canonical long data (one row per session: therapist, client, session, outcome and the
        factor columns), e.g. ``cf.simulate(...).data`` or ``cf.read_sessions(...)``. Data too
        large for one process's memory: a ``dask.dataframe`` DataFrame, or the path of a
        Parquet file or directory; each partition is checked and reduced to per-client
        statistics where it lives (on the workers of an active ``dask.distributed`` client),
        and the result equals the in-memory one to rounding (see the docs' "Large data" page).
        Or a :class:`commonfactors.MixedFit` of a model you specified: with a fit of the general
        engine (three or more levels, several terms per factor, crossed factors) the Rights &
        Sterba components are given per level (``f1 .. f{L+1}``, ``m_<factor>``,
        ``within_<innermost>``, ``between_<factor>``; total measures only for crossed
        factors), and the intervals come from a cluster bootstrap over the outermost factor.
    factors : dict
        ``{group: [columns]}``, at least two groups, a column in one group only. The groups in
        ``outside`` are outside therapy (left out of ``share_therapy_variance``'s denominator)
        and carry the remainder of the mean improvement. A group name close to a standard one
        (``relationship, technique, expectancy, extra_therapeutic``) but not equal warns ("did
        you mean ..."), since claims are matched by name. Column names need not be valid Python
        names (``"alliance score"``, ``"WAI-SR"``): they are quoted in the fitted formula.
        A text, category, boolean or value-labelled column (SPSS codes with labels, or a
        two-level column recoded by :func:`commonfactors.read_sessions`) is categorical: it is
        dummy-coded inside its group (``arm[CBT]``, ``arm[IPT]`` against the reference level)
        and stays one group. ``correlation`` is the zero-order
        correlation of each group's first column with improvement (change view: client mean
        against pre - post; growth view: session value against lower symptoms, i.e. minus the
        outcome), oriented like the published alliance-outcome correlations.
    view : {"growth", "change"}
        growth: sessions in clients in therapists, ``outcome ~ session_w + level-pure parts of
        every factor column + their interaction with time + (1 | therapist) + (1 | client)``;
        change: one row per client, ``improvement ~ level-pure parts + (1 | therapist)``
        (see :mod:`commonfactors.models.terms`). The fitted formula is in ``.formula``.
    n_boot : int
        Cluster-bootstrap replicates (therapists resampled): 0 for point estimates only, or at
        least 20 (fewer cannot give a 95% interval; below 200 a warning says the interval is
        rough).
    ci : {"auto", "percentile", "bc", "logit_basic", "basic", "bca", "profile"}
        Interval method. ``"auto"`` (default): each estimand family gets the method the
        coverage study chose for it (:data:`commonfactors.decomposition.intervals.
        DEFAULT_METHODS`): the profile-likelihood interval for the therapist's variance
        components (``share_total_variance``, ``icc_therapist``, ``icc_therapist_adjusted``,
        ``d_therapist``: the bootstrap cannot cover a therapist variance near zero), the
        logit-scale basic interval for ``r2_marginal`` (whose percentile interval sits too
        high) and the percentile interval for everything else; ``"percentile"`` for every
        row (as before ``"auto"`` existed); ``"bc"``: bias-corrected percentile;
        ``"logit_basic"``: basic interval on the logit scale (moves against the bootstrap's
        estimate of bias and stays inside (0, 1); estimands outside (0, 1) fall back to the
        percentile interval);
        ``"basic"``: reverse percentile (can cross 0 for shares near 0); ``"bca"``: BCa from a
        jackknife over clusters; ``"profile"``: the profile-likelihood interval wherever the
        model has one (therapist and client variance components with a random intercept;
        the (RE)ML criterion profiled in that variance, limits at its chi-square(1) quantile,
        the estimand evaluated at the limits), percentile elsewhere; with ``n_boot=0`` the
        profile rows still get their interval. The table's ``method`` column names the method
        of each row.
    seed : int, numpy Generator or None
        Seed of the bootstrap (results do not depend on ``n_jobs``). None draws a seed and a
        Generator gives one; the seed used is stored in ``.seed``, so any run can be repeated.
    n_jobs : int
        joblib workers (a non-zero integer, ``-1``: all cores); inside
        ``joblib.parallel_backend("dask")`` the replicates run on a Dask cluster.
    progress : bool, optional
        Progress bar (default: interactive sessions only).
    references : dict, optional
        Reference ("absent") level of each factor column for the shares of mean improvement,
        ``{group: {column: value}}``, e.g. ``{"technique": {"arm": "TAU"}, "relationship":
        {"alliance": 3.0}}``. Numeric columns default to 0 for a 0/1 column (control arm),
        otherwise the 10th percentile of client means. A categorical column takes a level; its
        default is ``False`` for a boolean column, else the one level that is a recognised
        control label (control, TAU / treatment as usual, care as usual, usual care, waitlist,
        no treatment, placebo, ...); with none or several such levels an error asks for it
        (never alphabetical). Unknown groups or columns, groups in ``outside`` and numeric
        values outside the observed range by more than its width raise; values just outside
        it warn. Always reported in ``.references`` and in :meth:`Decomposition.summary`.
    outside : sequence of str, optional
        Factor groups outside therapy. Default: ``("extra_therapeutic",)`` when the mapping has
        that group, otherwise none. Names that are not groups raise.
    resample_clients : bool
        Also resample clients within each drawn therapist.
    level : float
        Coverage of the intervals, strictly between 0 and 1.
    client, therapist, session : str
        Column names. ``therapist=None`` (or the default ``"therapist"`` absent from the data)
        analyses clients without a therapist level; another therapist name that is not a
        column raises. Each (client, session) pair must occur once and each client under one
        therapist (DataValidationError naming the rows otherwise).

    Returns
    -------
    Decomposition
        ``table`` (factor, estimand, estimate, ci_low, ci_high, estimate_corrected, method;
        see Notes), ``components`` (Rights &
        Sterba), ``commonality``, ``references``, ``subsets`` (every refitted subset model),
        ``fit`` (the full model as a :class:`commonfactors.MixedFit`), ``n_boot_failed``,
        ``notes``, ``replicates``.

    Notes
    -----
    Missing values: in the change view ``pre`` and ``post`` come from the outcome alone (the
    first and last observed outcome, whether or not a process measure was rated at that
    session) and each factor column is the client's mean over the sessions where it was
    observed (:func:`commonfactors.change_view`); a client with no observed value of a factor
    column leaves the model (counted in ``notes``). In the growth view a row enters with every
    column. ``data_summary["missing"]`` counts missing values per column of the data given.

    Therapist ICC. ``icc_therapist`` is the null-model ICC: the therapist intercept variance
    over the sum of the intercept variances and the residual variance of a random-intercept
    model of the same rows. For the default models the null model is the model without any
    factor group. For a user's fit with random slopes (``decompose(fit)``, e.g. ``(1 + session
    | therapist)``) the null model keeps the intercept and the fixed counterparts of the
    random slopes (the time terms) and has random intercepts only: a null model that keeps
    random slopes while dropping their fixed effects inflates the slope variances.
    ``icc_therapist_adjusted`` is from the fitted model, the therapist's random-effect variance
    (intercept plus slopes averaged over the rows; Johnson 2014) over all random-effect variance
    plus the residual. With random slopes the ICC depends on time: ``icc_therapist_first`` and
    ``icc_therapist_last`` are the fitted model's ICC at the first and last value of the slope
    variable, ``z' T z`` of each level over their sum plus the residual variance (Snijders &
    Bosker 2012, section 8.1; Goldstein 2011). ``d_therapist = 2 sqrt(ICC / (1 - ICC))`` uses
    the null-model ICC.

    ``share_total_variance`` is the Shapley value of the group over the marginal R2 of every
    subset model, each refitted with the same random effects and rows and with its own
    denominator (glmm.hp; Lai et al. 2022); they sum to the full model's marginal R2.
    ``share_explained_variance`` divides by that R2, ``share_therapy_variance`` by the sum over
    groups not in ``outside``. ``part_r2`` is partR2's (Stoffel et al. 2021).
    Variance-component shares of therapist, client and residual are of the full model's total
    variance. ``share_mean_improvement`` is the counterfactual share of the mean predicted
    improvement (docs/methods.md section 5) from a mean model with one pooled coefficient per factor
    column. Replicates whose refits fail to converge are counted in ``n_boot_failed`` and left
    out of the intervals.

    ``estimate`` is always the plain (uncorrected) estimate. R2-type estimates are biased in
    small samples: the fitted fixed effects carry their sampling variance into the explained
    variance, so ``r2_marginal`` and the groups' shares of total variance are too large and
    the largest group's share of explained variance too small. ``estimate_corrected`` is the
    bootstrap bias-corrected estimate ``2 estimate - mean(replicates)`` (Efron & Tibshirani
    1993, section 10.5) for the R2 family (``r2_marginal``, ``r2_conditional``, ``part_r2``,
    the groups' ``share_total_variance``) and the ratios (``share_explained_variance``,
    ``share_therapy_variance``); NaN for other estimands and without bootstrap. It is not
    clipped to [0, 1] and is more variable than ``estimate``: it trades variance for bias.

    The intervals were shown to cover 92-98% (coverage study in ``bench/``) with at least
    ``MIN_THERAPISTS`` (40) therapists; with fewer resampled clusters the result carries a
    note and a :class:`~commonfactors.errors.SmallDesignWarning`: coverage there was measured
    lower for several estimands.

    References
    ----------
    1. Rights, J. D., & Sterba, S. K. (2019). Quantifying explained variance in multilevel
       models. Psychological Methods, 24, 309-338.
    2. Stoffel, M. A., Nakagawa, S., & Schielzeth, H. (2021). partR2. PeerJ, 9, e11414.
    3. Lai, J., Zou, Y., Zhang, S., Zhang, X., & Mao, L. (2022). glmm.hp. Journal of Plant
       Ecology, 15, 1302-1307.
    4. Snijders, T. A. B., & Bosker, R. J. (2012). Multilevel analysis (2nd ed.). Sage.
    5. Goldstein, H. (2011). Multilevel statistical models (4th ed.). Wiley.
    6. Johnson, P. C. D. (2014). Extension of Nakagawa & Schielzeth's R2GLMM to random slopes
       models. Methods in Ecology and Evolution, 5, 944-946.

    Examples
    --------
    >>> import commonfactors as cf
    >>> sim = cf.simulate("norcross_lambert_2011", n_therapists=20, seed=1)
    >>> res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=0)
    >>> sorted(res.table["estimand"].unique())[:3]
    ['correlation', 'd_therapist', 'icc_therapist']

    A text arm is dummy-coded against its control level (recognised by its label):

    >>> d = sim.data.assign(arm=sim.data["arm"].map({0: "TAU", 1: "CBT"}))
    >>> res = cf.decompose(d, factors=sim.factors, view="change", n_boot=0)
    >>> res.references.set_index("column").loc["arm", "reference"]
    'TAU'
    """
    check_option("view", view, ("growth", "change"))
    check_option("ci", ci, ("percentile", "basic", "bca", "auto", "bc", "logit_basic", "profile"))
    args = check_analysis_args(n_boot=n_boot, level=level, seed=seed, n_jobs=n_jobs)
    n_boot, level, seed, n_jobs = args["n_boot"], args["level"], args["seed"], args["n_jobs"]
    from ._sources import decompose_source, is_dask_frame, open_parquet

    if isinstance(data_or_fit, (str, os.PathLike)):
        data_or_fit = open_parquet(data_or_fit)
    if is_dask_frame(data_or_fit):
        factors = check_factor_groups(factors, min_groups=2)
        outside = AI.resolve_outside(outside, factors)
        AI.warn_group_names(factors)
        return decompose_source(data_or_fit, factors, view=view, client=client,
                                therapist=therapist, session=session, references=references,
                                outside=outside, reml=reml,
                                args=(n_boot, ci, seed, n_jobs, progress, resample_clients,
                                        level))
    if not isinstance(data_or_fit, pd.DataFrame):
        from ..models.mixed import MixedFit

        if isinstance(data_or_fit, MixedFit) and data_or_fit.engine == "general":
            from ._general import decompose_general

            return decompose_general(data_or_fit, factors, n_boot=n_boot, ci=ci, seed=seed,
                                     level=level, session=session, view=view,
                                     references=references, client=client)
        if isinstance(data_or_fit, MixedFit):
            from ._from_fit import problem_from_fit

            factors = check_factor_groups(factors, min_groups=2)
            outside = AI.resolve_outside(outside, factors)
            AI.warn_group_names(factors)
            AI.check_references(references, factors, outside, data_or_fit.data, (),
                                session=session)
            problem, built = problem_from_fit(data_or_fit, factors, view, references, client,
                                              therapist, session, outside)
            return finish(problem, built, view, n_boot, ci, seed, n_jobs, progress,
                           resample_clients, level, data_or_fit)
        raise ColumnError(
            "`data_or_fit`: expecting a DataFrame of sessions or a commonfactors MixedFit; got "
            f"{type(data_or_fit).__name__}.")
    factors = check_factor_groups(factors, min_groups=2)
    outside = AI.resolve_outside(outside, factors)
    AI.warn_group_names(factors)
    if therapist is not None and therapist not in data_or_fit.columns and therapist != "therapist":
        check_columns(data_or_fit, [therapist], param="therapist")
    cols = [c for cs in factors.values() for c in cs]
    need = ["outcome", client] + cols + ([session] if session in cols or view == "change" else [])
    check_columns(data_or_fit, need, param="data")
    data, factors = AI.to_roles(data_or_fit, factors, client, therapist, session)
    client, session = "client", "session"
    therapist = "therapist" if "therapist" in data.columns else None
    check_keys(data, client=client, therapist=therapist, session=session, where="decompose",
               outcome="outcome", columns=[c for cs in factors.values() for c in cs])
    AI.check_values(data, factors, session)
    return _decompose_rows(data, factors, view=view, references=references, outside=outside,
                           reml=reml, args=(n_boot, ci, seed, n_jobs, progress,
                                              resample_clients, level))


def _decompose_rows(data, factors, *, view, references, outside, reml, args):
    """decompose() of checked, role-named session rows held in memory."""
    session = "session"
    from ..sessions.api import summarize_sessions

    try:  # what the user's rows look like, missing values per column included
        summary = summarize_sessions(data)
    except Exception:  # noqa: BLE001 - the summary is descriptive only
        summary = None
    cols = [c for cs in factors.values() for c in cs]
    cat_cols = {c for c in cols if c != session and AI.is_categorical(data, c)}
    num_refs = AI.check_references(references, factors, outside, data, cat_cols, session=session)
    data, factors, categorical = AI.code_categoricals(data, factors, references, outside,
                                                     protected=(session,))
    cols = [c for cs in factors.values() for c in cs]
    keys = [c for c in ("therapist", "client", "session") if c in data.columns]
    # growth view: a row enters the model with every column; change view: pre and post come
    # from the outcome alone, and factor columns are client means over the rated sessions
    used = list(dict.fromkeys(keys + ["outcome"] + cols)) if view == "growth" else keys
    problem, built, n_used = build_problem(data, factors, view, num_refs, reml=reml,
                                           outside=outside, categorical=categorical,
                                           keep=cross_products_kept(args))
    notes = used_notes(len(data), n_used, used, categorical) + list(built.notes)
    fit = None
    if built.rand:
        fit = (LazyFit(built.formula, reml, rows=data, factors=factors,
                       names=tuple(built.names[1:]), used=tuple(used)) if view == "growth"
               else LazyFit(built.formula, reml, fit_frame=built.fit_frame))
    built = replace(built, notes=tuple(notes), data_summary=summary)
    return finish(problem, built, view, *args, fit)


def components(fit_or_data, **kwargs) -> pd.DataFrame:
    """Rights & Sterba components of a model (``decompose(..., n_boot=0).components``)."""
    kwargs.setdefault("n_boot", 0)
    return decompose(fit_or_data, **kwargs).components
