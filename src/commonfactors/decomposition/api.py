"""``cf.decompose``: factor-group shares, variance components and shares of mean improvement.

Every number comes labelled with its estimand (docs/methods.md sections 3-5) and, with ``n_boot > 0``,
a cluster-bootstrap interval (section 6).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from .._validation import check_analysis_args, check_columns, check_factor_groups, check_option
from ..errors import ColumnError, FactorGroupError, SmallDesignWarning
from ..estimands import EXTRA_THERAPEUTIC as THERAPY_EXCLUDE
from ..models import ConvergenceWarning
from ..models.nested import NestedStats
from ..models.terms import build_terms, default_terms
from ..sessions import check_keys
from . import _estimates as E
from . import _inputs as AI
from ._moments import canonical_order
from ._references import (
    Built,
    DataContrast,
    LazyFit,
    MeanModel,
    _codes,
    _contrast_rows,
    _default_references,
    _merged,
    _remainder_label,
    client_range,
)
from .intervals import MIN_THERAPISTS, choose_intervals, corrected_estimates
from .replicates import bootstrap_problem
from .result import Decomposition

__all__ = ["decompose", "Decomposition", "components"]

_LEVEL_NAMES = {
    ("client", "therapist"): {1: "f1", 2: "f2", 3: "f3"},
    ("client", None): {1: "f1", 2: "f2"},
    ("therapist", None): {2: "f2", 3: "f3"},
}


# --------------------------------------------------------------------------------------
# building the problem
# --------------------------------------------------------------------------------------

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
    problem, built = _build(frame, factors, view, references, "client",
                            "therapist" if has_t else None, "session", reml, outside, categorical)
    built = replace(built, notes=tuple(notes) + built.notes)
    return problem, built, sum(n for _, n in pieces)


def _build(frame, factors, view, references, client, therapist, session, reml,
           outside=(THERAPY_EXCLUDE,), categorical=None):
    """The change view's problem from its change frame (one row per client, as
    :func:`commonfactors.change_view`; made from per-client statistics, :mod:`._moments`)."""
    notes = []
    categorical = categorical or {}
    has_t = therapist is not None and therapist in frame.columns
    preds = sorted({c for cols in factors.values() for c in cols if c != session})
    # process measures are client means over the sessions where they were rated; a client
    # with no rating of a factor column at all has no value and leaves the model
    no_value = frame[preds].isna().any(axis=1) if preds else pd.Series(False, frame.index)
    if no_value.any():
        which = ", ".join(f"{c} ({int(frame[c].isna().sum())})" for c in preds
                          if frame[c].isna().any())
        notes.append(f"dropped {int(no_value.sum())} of {len(frame)} clients with no observed "
                     f"value of a factor column (clients per column: {which})")
        frame = frame.loc[~no_value].reset_index(drop=True)
    # one row order (therapist, then client label) whatever the order of the rows given
    frame = frame.iloc[canonical_order(frame[client].to_numpy(),
                                       frame[therapist].to_numpy() if has_t else None)]
    frame = frame.reset_index(drop=True)
    outcome = "improvement"
    AI.check_design(frame, outcome, view, has_t, therapist, client)
    derived, terms = build_terms(frame, factors, view=view, client=client,
                                 therapist=therapist if has_t else None, time=session)
    present = {t.group for t in terms}
    for g in factors:
        if g not in present:
            raise FactorGroupError(
                f"`factors`: group {g!r} has no variation in the {view} view (its columns "
                f"{factors[g]} are constant); remove it or give it a column that varies.")
    y = frame[outcome].to_numpy(float)
    X = np.column_stack([np.ones(len(frame)), derived.to_numpy()])
    names = ["Intercept"] + list(derived.columns)
    AI.check_rank(X.T @ X, names, view)
    groups = tuple(factors)
    col_group = np.array([-1] + [groups.index(t.group) for t in terms])
    inner_role, outer_role = ("therapist" if has_t else None), None
    inner_codes = _codes(frame[therapist]) if has_t else None
    outer_codes = None
    lvmap = _LEVEL_NAMES.get((inner_role, outer_role), {})
    col_level = np.array([""] + [lvmap.get(t.level, "f") for t in terms])
    # mean model: one pooled column per factor column
    dm, _ = build_terms(frame, factors, view=view, client=client,
                        therapist=therapist if has_t else None, time=session, pooled=True)
    Xm = np.column_stack([np.ones(len(frame)), dm.to_numpy()])
    refs, ref_rows = _default_references(frame, factors, references, client, outside, categorical)
    rows_c, client_rows = _contrast_rows(Xm, view, frame, client, session)
    remainder = _remainder_label(outside, groups)
    mean_groups = tuple([g for g in groups if g in refs] + [remainder])

    contrast = DataContrast(frame, factors, view, tuple(dm.columns), client,
                            therapist if has_t else None, session)
    ref_groups = [g for g in mean_groups if g != remainder]
    cf_rows = [rows_c] + [contrast.rows(_merged(refs, ref_groups, mask))
                          for mask in range(1, 2 ** len(ref_groups))]
    corr_cols = []
    multi = {d for inf in categorical.values() if len(inf["dummies"]) > 1 for d in inf["dummies"]}
    for g, cols in factors.items():
        main = [c for c in cols if c != session and c in dm.columns]
        if main and main[0] not in multi:  # no single correlation for a multi-level arm
            corr_cols.append((g, 1 + list(dm.columns).index(main[0])))
    # units that the contrasts follow: the stats' inner groups, or rows for least squares
    if inner_codes is not None:
        unit = inner_codes[client_rows]
        n_units = int(inner_codes.max()) + 1
    else:
        unit, n_units = np.arange(len(frame)), len(frame)

    def per_unit(a):
        out = np.zeros((n_units, a.shape[1]))
        np.add.at(out, unit, a)
        return out

    contrast_obs = per_unit(rows_c)
    contrast_cf = np.stack([per_unit(a) for a in cf_rows])
    contrast_n = np.bincount(unit, minlength=n_units).astype(float)
    if inner_codes is not None:
        Z_in = np.ones((len(frame), 1))
        Z_out = np.ones((len(frame), 1)) if outer_codes is not None else None
        stats = NestedStats.from_arrays(X, y, Z_in, Z_out, inner_codes, outer_codes)
        mstats = NestedStats.from_arrays(Xm, y, Z_in, Z_out, inner_codes, outer_codes)
        problem = E.Problem(stats=stats, rows=None, col_group=col_group, col_level=col_level,
                            groups=groups, inner_role=inner_role, outer_role=outer_role, reml=reml,
                            mean_stats=mstats, contrast_obs=contrast_obs, contrast_cf=contrast_cf,
                            contrast_n=contrast_n, mean_groups=mean_groups,
                            corr_cols=tuple(corr_cols), corr_sign=1.0,
                            outside=tuple(outside), remainder=remainder)
    else:
        notes.append("no therapist ids: the change model is fitted by least squares (no random effects)")
        problem = E.Problem(stats=None, rows=np.column_stack([X, y]), col_group=col_group,
                            col_level=col_level, groups=groups, inner_role=None, outer_role=None,
                            reml=reml, mean_rows=np.column_stack([Xm, y]), contrast_obs=contrast_obs,
                            contrast_cf=contrast_cf, contrast_n=contrast_n, mean_groups=mean_groups,
                            corr_cols=tuple(corr_cols), outside=tuple(outside), remainder=remainder)
    rand = [f"(1 | {therapist})"] if has_t else []
    formula = (f"{outcome} ~ " + " + ".join(AI.formula_name(n) for n in names[1:])
               + (" + " + " + ".join(rand) if rand else ""))
    fit_frame = pd.concat([frame[[c for c in (therapist, client) if c and c in frame]].reset_index(drop=True),
                           derived.reset_index(drop=True),
                           pd.Series(y, name=outcome)], axis=1)
    lo, med = client_range(frame, refs, client)
    dummies = {d: c for c, inf in categorical.items() for d in inf["dummies"]}
    built = Built(frame=frame, names=names, formula=formula, ref_rows=ref_rows, notes=tuple(notes),
                  mean=MeanModel(refs, contrast, lo, med, dummies=dummies), rand=tuple(rand),
                  fit_frame=fit_frame, description=default_terms(factors, view=view),
                  categorical=categorical)
    return problem, built


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
    ci : {"auto", "percentile", "bc", "logit_basic", "basic", "bca"}
        Interval method. ``"auto"`` (default): each estimand family gets the method the
        coverage study chose for it (:data:`commonfactors.decomposition.intervals.
        DEFAULT_METHODS`: the percentile interval, except the logit-scale basic interval for
        ``r2_marginal``, whose percentile interval sits too high); ``"percentile"`` for every
        row (as before ``"auto"`` existed); ``"bc"``: bias-corrected percentile;
        ``"logit_basic"``: basic interval on the logit scale (moves against the bootstrap's
        estimate of bias and stays inside (0, 1); estimands outside (0, 1) fall back to the
        percentile interval);
        ``"basic"``: reverse percentile (can cross 0 for shares near 0); ``"bca"``: BCa from a
        jackknife over clusters. The table's ``method`` column names the method of each row.
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
    check_option("ci", ci, ("percentile", "basic", "bca", "auto", "bc", "logit_basic"))
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
                                finish=(n_boot, ci, seed, n_jobs, progress, resample_clients,
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
            return _finish(problem, built, view, n_boot, ci, seed, n_jobs, progress,
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
    data, factors = _to_roles(data_or_fit, factors, client, therapist, session)
    client, session = "client", "session"
    therapist = "therapist" if "therapist" in data.columns else None
    check_keys(data, client=client, therapist=therapist, session=session, where="decompose",
               outcome="outcome", columns=[c for cs in factors.values() for c in cs])
    AI.check_values(data, factors, session)
    return _decompose_rows(data, factors, view=view, references=references, outside=outside,
                           reml=reml, finish=(n_boot, ci, seed, n_jobs, progress,
                                              resample_clients, level))


def _decompose_rows(data, factors, *, view, references, outside, reml, finish):
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
                                           keep=cross_products_kept(finish))
    notes = _used_notes(len(data), n_used, used, categorical) + list(built.notes)
    fit = None
    if built.rand:
        fit = (LazyFit(built.formula, reml, rows=data, factors=factors,
                       names=tuple(built.names[1:]), used=tuple(used)) if view == "growth"
               else LazyFit(built.formula, reml, fit_frame=built.fit_frame))
    built = replace(built, notes=tuple(notes), data_summary=summary)
    return _finish(problem, built, view, *finish, fit)


def cross_products_kept(finish) -> str:
    """Which per-group cross-products the bootstrap needs (``finish``: the arguments of
    :func:`_finish` from ``n_boot`` to ``level``): none for point estimates, per therapist for
    a therapist bootstrap, per client when clients are resampled."""
    n_boot, resample_clients = finish[0], finish[5]
    return "total" if n_boot == 0 else ("inner" if resample_clients else "outer")


def _used_notes(n_rows: int, n_used: int, used, categorical) -> list[str]:
    notes = []
    if n_used < n_rows:
        notes.append(f"dropped {n_rows - n_used} of {n_rows} rows with a missing value in "
                     f"{', '.join(used)}")
    for c, inf in categorical.items():
        notes.append(f"{c} ({inf['group']}) is categorical: levels {', '.join(map(str, inf['levels']))}"
                     f"; reference level {inf['reference']} ({inf['rule']})")
    return notes


def _to_roles(data: pd.DataFrame, factors: dict, client: str, therapist, session: str):
    """A copy with own therapist, client and session column names renamed to their roles (both
    views read the roles, e.g. :func:`commonfactors.change_view`); ``attrs`` kept, and a
    ``therapist`` column dropped when ``therapist=None``."""
    ren = {}
    for role, col in (("client", client), ("therapist", therapist), ("session", session)):
        if col is None or col == role or col not in data.columns:
            continue
        if role in data.columns:
            raise ColumnError(
                f"`{role}`: the {role} ids are in column {col!r}, but `data` also has a column "
                f"named {role!r}; rename or drop that column first.")
        ren[col] = role
    out = data.rename(columns=ren) if ren else data.copy(deep=False)  # never modified in place
    out.attrs = dict(data.attrs)
    if therapist is None and "therapist" in out.columns:
        out = out.drop(columns="therapist")
    if ren:
        factors = {g: [ren.get(c, c) for c in cs] for g, cs in factors.items()}
    return out, factors


def _finish(problem, built: Built, view, n_boot, ci, seed, n_jobs, progress, resample_clients, level, fit):
    keys = E.estimand_keys(problem)
    point, ok, fits = E.estimate(problem, details=True)
    notes = list(built.notes)
    bad = [("+".join(sorted(s)) or "(none)") for s, f in fits.items() if not f.converged]
    sing = [("+".join(sorted(s)) or "(none)") for s, f in fits.items() if f.singular]
    if bad:
        notes.append(f"subset models that did not converge: {', '.join(bad)}")
        warnings.warn(f"decompose: {len(bad)} subset model(s) did not converge: {', '.join(bad)}",
                      ConvergenceWarning, stacklevel=3)
    if sing:
        notes.append(f"singular fits (a variance at zero): {', '.join(sing)}")
    if not problem.level_pure:
        notes.append("not every predictor is centred at its level: Rights & Sterba components "
                     "are reported as total f, v, m only")
    mean_fit = fits.mean  # the mean model's point fit, or None
    warm = {s: (f.theta, f.hessian) if f.hessian is not None else f.theta for s, f in fits.items()}
    if mean_fit is not None and mean_fit.theta is not None:
        warm["mean"] = (mean_fit.theta, mean_fit.hessian)
    lo = hi = np.full(len(point), np.nan)
    reps = np.empty((0, len(point)))
    n_failed = 0
    methods = ["none"] * len(point)
    corrected = np.full(len(point), np.nan)
    if n_boot > 0:
        br = bootstrap_problem(problem, point, warm, n_boot=n_boot, seed=seed, n_jobs=n_jobs,
                               progress=progress, ci=ci if ci in ("basic", "bca") else "percentile",
                               level=level, inner=resample_clients, names=keys)
        lo, hi, reps, n_failed = br.ci_low, br.ci_high, br.replicates, br.n_failed
        if ci in ("basic", "bca"):
            methods = [ci] * len(point)
        else:
            lo, hi, methods = choose_intervals(keys, point, reps, ci, level)
        corrected = corrected_estimates(keys, point, reps)
        if n_failed:
            notes.append(f"{n_failed} of {n_boot} bootstrap replicates failed to converge and "
                         "are left out of the intervals")
        n_clusters = problem.n_clusters if problem.stats is not None else 0
        unit = problem.outer_role or problem.inner_role
        if unit and n_clusters < MIN_THERAPISTS:
            msg = (f"{n_clusters} {unit}s resampled: fewer than the {MIN_THERAPISTS} at which "
                   "the coverage study showed the intervals to cover 92-98%; with fewer the "
                   "coverage of several estimands was measured below 92% (treat the intervals "
                   "as too narrow)")
            notes.append(msg)
            warnings.warn(f"decompose: {msg}", SmallDesignWarning, stacklevel=3)
    rows = pd.DataFrame({"factor": [k[0] for k in keys], "estimand": [k[1] for k in keys],
                         "estimate": point, "ci_low": lo, "ci_high": hi,
                         "estimate_corrected": corrected, "method": methods})
    is_comp = rows["estimand"].str.startswith("component:")
    is_com = rows["estimand"] == "commonality"
    table = rows[~is_comp & ~is_com].reset_index(drop=True)
    rows = rows.drop(columns=["estimate_corrected", "method"])
    comps = rows[is_comp].rename(columns={"factor": "component"}).reset_index(drop=True)
    comps.insert(1, "measure", comps.pop("estimand").str.replace("component:", "", regex=False))
    com = rows[is_com].rename(columns={"factor": "groups"}).drop(columns="estimand").reset_index(drop=True)
    subsets = pd.DataFrame([{"subset": "+".join(g for g in problem.groups if g in s),
                             "r2m": f.f / f.total, "f": f.f, "total": f.total,
                             "converged": f.converged, "singular": f.singular}
                            for s, f in fits.items()])
    mean = built.mean
    if mean is not None and mean_fit is not None:
        b = mean_fit.beta
        labels = problem.unit_labels()
        a_obs = problem.contrast_obs[labels].sum(axis=0) / problem.contrast_n[labels].sum()
        mean = replace(mean, beta=b, M=float(a_obs @ b))
    stats = problem.stats
    n_obs = int(stats.n) if stats is not None else int(problem.rows.shape[0])
    frame = built.frame
    n_clients = int(frame[built.client].nunique()) if built.client in frame else 0
    n_ther = int(frame[built.therapist].nunique()) if built.therapist in frame else 0
    return Decomposition(
        table=table, components=comps, commonality=com,
        references=pd.DataFrame(built.ref_rows, columns=["factor", "column", "reference", "note"]),
        subsets=subsets, view=view, formula=built.formula, fit=fit, n_obs=n_obs,
        n_clients=n_clients, n_therapists=n_ther, data_summary=built.data_summary,
        n_boot=n_boot, n_boot_failed=n_failed, ci=ci, seed=seed, notes=tuple(notes),
        replicates=pd.DataFrame(reps, columns=[f"{a}|{b}" for a, b in keys]), _mean=mean,
        level=float(level))


def components(fit_or_data, **kwargs) -> pd.DataFrame:
    """Rights & Sterba components of a model (``decompose(..., n_boot=0).components``)."""
    kwargs.setdefault("n_boot", 0)
    return decompose(fit_or_data, **kwargs).components
