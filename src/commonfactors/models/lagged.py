"""Session-by-session alliance and outcome: lagged within-client effects and the reverse path.

:func:`lagged_effects` fits three mixed models to long session data and returns one tidy row per
path: the naive concurrent association, the forward lagged within-client effect (Falkenstrom et
al. 2013) and the reverse path (improvement so far predicting the next alliance rating), so that
an alliance-outcome association can be read beside the two directions that could produce it
(docs/methods.md sections 2 and 9.2).
"""

from __future__ import annotations

import functools
import keyword
import warnings
from typing import cast

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._validation import check_columns, check_int, check_number, check_option
from ..errors import ColumnError, DataValidationError
from ..sessions import check_keys

__all__ = ["lagged_effects"]

COLUMNS = ["path", "formula", "term", "estimate", "std_error", "ci_low", "ci_high", "se_method",
           "ci_method", "n_obs", "converged", "n_boot", "n_failed"]
PATHS = ("naive", "forward", "reverse")
#: fewest clusters (therapists, else clients) for which ``se="auto"`` uses the cluster bootstrap
MIN_BOOT_CLUSTERS = 10


def _check_name(param: str, name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ColumnError(
            f"`{param}`: the column name {name!r} cannot be used in a model formula; expecting a "
            "name made of letters, digits and underscores (rename the column first, e.g. "
            "data.rename(columns={...})).")


def _numeric(data: pd.DataFrame, param: str, column: str) -> None:
    s = data[column]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise ColumnError(f"`{param}`: column {column!r} must be numeric; got dtype {s.dtype}.")


def lagged_effects(
    data: pd.DataFrame,
    *,
    x: str = "alliance",
    outcome: str = "outcome",
    client: str = "client",
    therapist: str | None = "therapist",
    session: str = "session",
    higher_is_worse: bool = True,
    se: str = "auto",
    n_boot: int = 200,
    seed=None,
    level: float = 0.95,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Naive, forward lagged and reverse-path estimates of a session-level predictor and outcome.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per session (not modified).
    x : str
        Session-level process measure, e.g. ``"alliance"``.
    outcome : str
        Symptom measure at each session.
    client, therapist, session : str
        Column names; ``therapist=None`` (or the default ``"therapist"`` absent from ``data``)
        fits models with a client random intercept only; another therapist name that is not a
        column raises. Each (client, session) pair must occur once and each client under one
        therapist (DataValidationError naming the rows otherwise).
    higher_is_worse : bool
        Direction of ``outcome``; "improvement so far" is ``first - previous`` when True
        (symptom scales), ``previous - first`` otherwise.
    se : {"auto", "bootstrap", "model"}
        Where the standard errors and intervals come from. ``"bootstrap"``: cluster bootstrap
        over therapists (over clients when there is no therapist column): whole clusters are
        drawn with replacement, the lags are rebuilt and the three models refitted; the standard
        error is the SD of the replicates and the interval their percentile interval.
        ``"model"``: the model-based (REML) standard error and a Wald interval
        ``estimate +- z std_error``, which rests on the model's assumptions about the errors
        (the lagged outcome treated as fixed, client intercepts). In the coverage study
        (``spurious_alliance``, 10 sessions, 40 datasets per design) both kinds covered
        0.875-0.975 for the three paths at 13 therapists x 5 clients and 40 x 15, the bootstrap
        a little narrower at 13. ``"auto"`` (default): the bootstrap when the data have at least
        ``MIN_BOOT_CLUSTERS`` (10) clusters, the model otherwise (the table says which).
    n_boot : int
        Bootstrap replicates (at least 20); a replicate with a failed or non-converged fit is
        counted in ``n_failed`` and left out.
    seed : int, optional
        Seed of the bootstrap (results do not depend on ``n_jobs``).
    level : float
        Coverage of the intervals (default 0.95).
    n_jobs, progress
        joblib workers for the replicates; progress bar (default: interactive sessions only).

    Returns
    -------
    pandas.DataFrame
        One row per path, ``path, formula, term, estimate, std_error, ci_low, ci_high,
        se_method, ci_method, n_obs, converged, n_boot, n_failed``: ``naive``, ``forward``,
        ``reverse`` (see Notes for each estimand). ``se_method`` is ``"cluster_bootstrap"``
        (with ``ci_method`` ``"percentile"``) or ``"model"`` (with ``ci_method`` ``"wald"``);
        ``n_boot``/``n_failed`` are 0 for model-based rows. ``attrs["notes"]`` says which
        clusters were resampled, or why the model-based errors were used.

    Raises
    ------
    ColumnError
        A column is missing, not numeric, or its name cannot be used in a formula.
    DataValidationError
        No client has two sessions (nothing to lag).

    Notes
    -----
    All three models have random intercepts for client and (when present) therapist, REML
    (:func:`commonfactors.fit_mixed`); rows without a previous session drop out of the lagged
    models (``n_obs`` says how many rows were used). With ``x_w = x - mean_client(x)``
    (:func:`commonfactors.lag_within`) and "previous" meaning the client's previous observed
    session:

    * ``naive``: ``outcome ~ x + session``, the coefficient of ``x``; the concurrent association
      of x with the outcome at the same session, mixing every level (therapist, client and
      session parts of x) and both causal directions. Points of outcome per point of x.
    * ``forward``: ``outcome ~ x_w_lag1 + outcome_lag1 + session``, the coefficient of
      ``x_w_lag1``; the within-client effect of last session's x (relative to the client's own
      mean) on this session's outcome, holding last session's outcome (Falkenstrom et al. 2013).
      Negative when a better alliance is followed by fewer symptoms.
    * ``reverse``: ``x ~ improvement_lag1 + x_lag1 + session``, the coefficient of
      ``improvement_lag1`` (outcome at the first session minus outcome at the previous one, for
      a symptom scale); the change in x per point of improvement so far, holding last session's
      x. Positive when clients who have improved rate the alliance higher afterwards (DeRubeis &
      Feeley 1990; Tang & DeRubeis 1999).

    The lag-1 model answers a lag-1 question. When x acts on the outcome within the same
    session only, the forward coefficient reflects how far the state of x persists from one
    session to the next, and adjusting for the previous outcome (which x itself moved) pulls
    it towards positive values: with serially independent states it is positive although x
    lowers symptoms. A lagged dependent variable with client random intercepts also carries the
    short-panel bias of dynamic panel models (Nickell 1981; Falkenstrom et al. 2017), so the
    forward estimate is a screening tool, not a causal effect size.

    References
    ----------
    1. Falkenstrom, F., Granstrom, F. & Holmqvist, R. (2013). Therapeutic alliance predicts
       symptomatic improvement session by session. Journal of Counseling Psychology, 60(3),
       317-328.
    2. Falkenstrom, F., Finkel, S., Sandell, R., Rubel, J. A. & Holmqvist, R. (2017). Dynamic
       models of individual change in psychotherapy process research. Journal of Consulting and
       Clinical Psychology, 85(6), 537-549.
    3. DeRubeis, R. J. & Feeley, M. (1990). Determinants of change in cognitive therapy for
       depression. Cognitive Therapy and Research, 14(5), 469-482.
    4. Tang, T. Z. & DeRubeis, R. J. (1999). Sudden gains and critical sessions in cognitive-
       behavioral therapy for depression. Journal of Consulting and Clinical Psychology, 67(6),
       894-904.
    5. Nickell, S. (1981). Biases in dynamic models with fixed effects. Econometrica, 49(6),
       1417-1426.

    Examples
    --------
    >>> import commonfactors as cf
    >>> sim = cf.simulate("spurious_alliance", n_therapists=20, clients_per_therapist=10,
    ...                   seed=1)
    >>> tab = cf.lagged_effects(sim.data, n_boot=20, seed=1)
    >>> tab["path"].tolist()
    ['naive', 'forward', 'reverse']
    >>> tab["se_method"].unique().tolist(), int(tab["n_failed"].sum())
    (['cluster_bootstrap'], 0)
    >>> bool(tab.set_index("path").loc["reverse", "ci_low"] > 0)
    True
    """
    from .mixed import fit_mixed

    check_option("higher_is_worse", higher_is_worse, (True, False))
    has_t = therapist is not None and isinstance(data, pd.DataFrame) and therapist in data.columns
    roles = {"x": x, "outcome": outcome, "client": client, "session": session}
    if has_t and therapist is not None:
        roles["therapist"] = therapist
    check_columns(data, list(roles.values()), param="data")
    for param, name in roles.items():
        _check_name(param, name)
    if len(set(roles.values())) < len(roles):
        raise ColumnError(f"expecting different columns for {', '.join(roles)}; got {roles}.")
    for param in ("x", "outcome", "session"):
        _numeric(data, param, roles[param])
    if therapist is not None and not has_t and therapist != "therapist":
        check_columns(data, [therapist], param="therapist")
    check_keys(data, client=client, therapist=therapist if has_t else None, session=session,
               where="lagged_effects", outcome=outcome, columns=[x])
    if not data[client].duplicated().any():
        raise DataValidationError(
            f"`data`: every client ({client!r}) has a single row; lagged effects need at least "
            "two sessions per client.")

    check_option("se", se, ("auto", "bootstrap", "model"))
    level = check_number("level", level, low=0, high=1, low_inclusive=False, high_inclusive=False)
    n_clusters = int(data[therapist if has_t else client].nunique())
    cluster = therapist if has_t else client
    notes = []
    use_boot = se == "bootstrap" or (se == "auto" and n_clusters >= MIN_BOOT_CLUSTERS)
    if use_boot:
        n_boot = check_int("n_boot", n_boot, minimum=20)
        if n_clusters < 2:
            raise DataValidationError(
                f"`se`: the cluster bootstrap needs at least 2 {cluster!r} clusters; found "
                f"{n_clusters}. Use se='model'.")
    elif se == "auto":
        notes.append(f"model-based standard errors: {n_clusters} {cluster} clusters, fewer than "
                     f"the {MIN_BOOT_CLUSTERS} the cluster bootstrap needs (se='auto'); they "
                     "rest on the model's assumptions about the errors")
    spec = _Spec(x, outcome, client, therapist if has_t else None, session, higher_is_worse)
    work, models = _prepare(data, spec)
    z = float(sps.norm.ppf(0.5 + level / 2))
    rows = []
    for path, formula, term in models:
        fit = fit_mixed(work, formula)
        est, se_m = float(fit.fixed[term]), float(fit.std_errors[term])
        rows.append({"path": path, "formula": formula, "term": term, "estimate": est,
                     "std_error": se_m, "ci_low": est - z * se_m, "ci_high": est + z * se_m,
                     "se_method": "model", "ci_method": "wald", "n_obs": int(fit.n_obs),
                     "converged": bool(fit.converged), "n_boot": 0, "n_failed": 0})
    out = pd.DataFrame(rows, columns=COLUMNS)
    if use_boot:
        from ..bootstrap import cluster_bootstrap

        # lags are within client, so a draw of whole clusters keeps every lagged value: the
        # lagged frame is built once and only the fits are repeated
        terms = {t for _, f, _ in models for t in f.replace("~", "+").replace("(1 |", "+")
                 .replace(")", "").replace(" ", "").split("+") if t}
        frame = work[[c for c in work.columns if c in terms or c == client]].copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            br = cluster_bootstrap(frame, functools.partial(_boot_statistic, spec=spec,
                                                            models=tuple(models)),
                                   cluster=cast(str, cluster), n_boot=n_boot, seed=seed,
                                   n_jobs=n_jobs, nested=[client] if cluster != client else [],
                                   progress=progress, level=level)
        reps = br.replicates
        out["std_error"] = reps.std(axis=0, ddof=1) if len(reps) > 1 else np.nan
        out["ci_low"], out["ci_high"] = br.ci_low, br.ci_high
        out["se_method"], out["ci_method"] = "cluster_bootstrap", "percentile"
        out["n_boot"], out["n_failed"] = n_boot, br.n_failed
        notes.append(f"cluster bootstrap over {n_clusters} {cluster} clusters ({n_boot} "
                     f"replicates, {br.n_failed} failed and left out); model-based standard "
                     "errors: se='model'")
        if br.n_failed:
            warnings.warn(f"lagged_effects: {br.n_failed} of {n_boot} bootstrap replicates "
                          "failed and are left out of the standard errors", RuntimeWarning,
                          stacklevel=2)
    out["estimate"] = out["estimate"].astype(np.float64)
    out.attrs["notes"] = notes
    return out


class _Spec(tuple):
    """Column roles of one lagged analysis (a picklable tuple)."""

    def __new__(cls, x, outcome, client, therapist, session, higher_is_worse):
        return super().__new__(cls, (x, outcome, client, therapist, session, higher_is_worse))

    x = property(lambda s: s[0])
    outcome = property(lambda s: s[1])
    client = property(lambda s: s[2])
    therapist = property(lambda s: s[3])
    session = property(lambda s: s[4])
    higher_is_worse = property(lambda s: s[5])

    def __getnewargs__(self):
        return tuple(self)


def _prepare(data: pd.DataFrame, spec: _Spec):
    """Lagged columns and the three (path, formula, term) models."""
    from .mixed import lag_within

    x, outcome, client, session = spec.x, spec.outcome, spec.client, spec.session
    work = lag_within(data, x, outcome=outcome, client=client, session=session, reverse=True)
    order = work.sort_values([client, session], kind="stable").index
    prev_x = work.loc[order, x].groupby(work.loc[order, client], sort=False).shift(1)
    xlag, xw_lag, ylag = f"{x}_lag1", f"{x}_w_lag1", f"{outcome}_lag1"
    imp = "improvement_lag1"
    work[xlag] = prev_x.reindex(work.index)
    sign = -1.0 if spec.higher_is_worse else 1.0
    work[imp] = sign * work[f"{outcome}_change_lag1"]
    rand = (f" + (1 | {spec.therapist})" if spec.therapist else "") + f" + (1 | {client})"
    models = [
        ("naive", f"{outcome} ~ {x} + {session}{rand}", x),
        ("forward", f"{outcome} ~ {xw_lag} + {ylag} + {session}{rand}", xw_lag),
        ("reverse", f"{x} ~ {imp} + {xlag} + {session}{rand}", imp),
    ]
    return work, models


def _boot_statistic(frame: pd.DataFrame, spec: _Spec, models: tuple) -> np.ndarray:
    """The three path estimates of one bootstrap draw (NaN when a fit does not converge).

    A therapist drawn twice keeps its clients twice: ``cluster_bootstrap`` makes the client ids
    of each drawn copy unique (``nested``).
    """
    from .mixed import _fit_checked

    out = np.full(len(models), np.nan)
    for i, (_, formula, term) in enumerate(models):
        fit = _fit_checked(frame, formula)
        if not fit.converged:
            return np.full(len(models), np.nan)
        out[i] = float(fit.fixed[term])
    return out
