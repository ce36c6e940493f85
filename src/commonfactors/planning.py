"""Planning a study: how precisely a design estimates a share, found by simulation.

:func:`plan_precision` simulates many datasets from a preset of the simulator at each design
(numbers of therapists and of clients per therapist), decomposes each one, and summarises the
spread of the estimates around the population truth. The spread of the point estimates over
datasets is the standard error a real study of that size would have, so ``2 * 1.96 * sd`` is the
width a 95% interval can be expected to have.

The dataset function is a plain top-level function run through joblib, so the same call runs on
one core, on several (``n_jobs``), or on a Dask cluster inside
``with joblib.parallel_backend("dask"): ...``; results do not depend on where they ran.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_int, check_option
from .errors import ConfigError
from .parallel import chunks, run, spawn

__all__ = ["plan_precision"]

COLUMNS = ["n_therapists", "clients_per_therapist", "factor", "estimand", "truth",
           "mean_estimate", "sd_estimate", "ci_width", "bias", "n_datasets", "n_failed"]
_Z95 = 1.96


def _int_list(name: str, value: Any, minimum: int) -> list[int]:
    """One integer or a non-empty list of integers, each checked."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = [value]
    elif isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        values = list(value)
        if not values:
            raise ConfigError(f"`{name}`: expecting an integer or a non-empty list of integers; "
                              "got an empty list.")
    else:
        raise ConfigError(f"`{name}`: expecting an integer or a list of integers; got {value!r} "
                          f"({type(value).__name__}).")
    out = [check_int(name, v, minimum=minimum) for v in values]
    return list(dict.fromkeys(out))


def _estimand_pairs(estimands: Any) -> list[tuple[str, str]]:
    if (isinstance(estimands, tuple) and len(estimands) == 2
            and all(isinstance(e, str) for e in estimands)):
        estimands = (estimands,)
    msg = ("`estimands`: expecting (factor, estimand) pairs, e.g. "
           "(('relationship', 'share_total_variance'),); got {!r}.")
    if not isinstance(estimands, Iterable) or isinstance(estimands, (str, bytes)):
        raise ConfigError(msg.format(estimands))
    pairs = []
    for e in estimands:
        if (not isinstance(e, (tuple, list)) or len(e) != 2
                or not all(isinstance(s, str) for s in e)):
            raise ConfigError(msg.format(e))
        pairs.append((e[0], e[1]))
    if not pairs:
        raise ConfigError(msg.format(estimands))
    return list(dict.fromkeys(pairs))


def _design_config(preset, n_therapists: int, clients: int, n_sessions: int, overrides: dict):
    """The simulator configuration of one design (preset calibrated at that design)."""
    from .simulation.simulator import SimConfig, preset_config

    if isinstance(preset, SimConfig):
        return preset.replace(n_therapists=n_therapists, clients_per_therapist=clients,
                              n_sessions=n_sessions, **overrides)
    if not isinstance(preset, str):
        raise ConfigError("`preset`: expecting a preset name (see cf.list_presets()) or a "
                          f"SimConfig; got {type(preset).__name__}.")
    cfg = preset_config(preset, clients_per_therapist=clients, n_sessions=n_sessions)
    return cfg.replace(n_therapists=n_therapists, **overrides)


def _truth_values(cfg, pairs: list[tuple[str, str]], view: str) -> list[float]:
    from .simulation.truth import DEFAULT_FACTORS, truth_table

    t = truth_table(cfg, DEFAULT_FACTORS)
    t = t[t["view"] == view]
    values = {(f, e): float(v) for f, e, v in zip(t["factor"], t["estimand"], t["value"],
                                                    strict=True)}
    missing = [p for p in pairs if p not in values]
    if missing:
        avail = ", ".join(f"({f!r}, {e!r})" for f, e in values)
        raise ConfigError(
            f"`estimands`: no population truth for {', '.join(map(repr, missing))} in the "
            f"{view!r} view; available pairs: {avail}.")
    return [values[p] for p in pairs]


def _precision_chunk(cfg, view: str, pairs: list, seeds: list) -> tuple[np.ndarray, np.ndarray]:
    """Simulate and decompose one dataset per seed; return (estimates, ok).

    A top-level function of picklable arguments, so that joblib (and its Dask backend) can ship
    it to workers. A dataset fails when decomposition raises a numerical or validation error,
    when a model of the decomposition does not converge, or when an estimate is not finite.
    """
    from .decomposition.api import decompose
    from .simulation.simulator import simulate_config
    from .simulation.truth import sim_references

    refs = sim_references(cfg)
    out = np.full((len(seeds), len(pairs)), np.nan)
    ok = np.zeros(len(seeds), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, ss in enumerate(seeds):
            seed = int(ss.generate_state(1, dtype=np.uint64)[0])
            sim = simulate_config(cfg, seed=seed, truth=False)
            try:
                res = decompose(sim.data, factors=sim.factors, view=view, n_boot=0,
                                references=refs)
            except (np.linalg.LinAlgError, FloatingPointError, ValueError):
                continue
            table = res.table.set_index(["factor", "estimand"])["estimate"]
            vals = np.array([float(table.get(p, np.nan)) for p in pairs])
            converged = bool(res.subsets["converged"].all()) if len(res.subsets) else True
            if res.fit is not None:
                converged = converged and bool(res.fit.converged)
            out[i] = vals
            ok[i] = converged and bool(np.all(np.isfinite(vals)))
    return out, ok


def plan_precision(
    preset,
    *,
    n_therapists,
    clients_per_therapist,
    n_sessions: int = 10,
    n_datasets: int = 50,
    estimands=(("relationship", "share_total_variance"),),
    view: str = "change",
    seed=0,
    n_jobs: int = 1,
    progress: bool | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Expected precision of estimated shares at candidate designs, by simulation.

    Parameters
    ----------
    preset : str or SimConfig
        The world to simulate: a preset name (see :func:`commonfactors.list_presets`), calibrated
        at each design as in :func:`commonfactors.simulate`, or a full configuration.
    n_therapists, clients_per_therapist : int or list of int
        Candidate numbers of therapists (>= 2) and of clients per therapist (>= 1); every
        combination is a design.
    n_sessions : int
        Sessions per client (>= 2).
    n_datasets : int
        Simulated datasets per design (>= 2).
    estimands : sequence of (factor, estimand) pairs
        What to plan for, named as in ``decompose(...).table`` and the truth table, e.g.
        ``("relationship", "share_total_variance")`` or ``("therapist", "icc_therapist")``.
    view : {"change", "growth"}
        The decomposition's view (see :func:`commonfactors.decompose`).
    seed : int or None
        Seed of ``np.random.SeedSequence``; dataset ``i`` of every design uses the ``i``-th
        spawned seed (common random numbers across designs).
    n_jobs : int
        joblib workers (``-1``: all cores); inside ``joblib.parallel_backend("dask")`` the
        datasets run on a Dask cluster. Results do not depend on ``n_jobs``.
    progress : bool, optional
        Progress bar (default: interactive sessions only).
    **overrides
        :class:`commonfactors.SimConfig` fields applied after calibration (e.g.
        ``alliance_reliability=0.7``).

    Returns
    -------
    pandas.DataFrame
        One row per design and estimand: ``n_therapists, clients_per_therapist, factor,
        estimand, truth, mean_estimate, sd_estimate, ci_width, bias, n_datasets, n_failed``.

    Raises
    ------
    ConfigError
        A design size, ``n_datasets`` or an estimand is invalid, or the preset is unknown.

    Notes
    -----
    For each design the population truth of every estimand comes from the simulator's truth
    table (:func:`commonfactors.truth_table`); each of ``n_datasets`` datasets is decomposed with
    ``n_boot=0`` (point estimates only), with the simulator's reference levels for shares of mean
    improvement. Over the datasets that did not fail, ``mean_estimate`` and ``sd_estimate``
    (``ddof=1``) summarise the sampling distribution; ``bias = mean_estimate - truth`` and
    ``ci_width = 2 * 1.96 * sd_estimate``, the expected width of a 95% Wald-type interval (a
    bootstrap interval of a study of that size has about the same width). A dataset fails when
    decomposition raises, a model does not converge, or an estimate is not finite; failures are
    counted in ``n_failed`` and left out. Singular fits (a variance estimated at 0, frequent with
    few therapists) are kept: they are the estimates such a study would report.

    With few datasets the Monte Carlo error of ``sd_estimate`` is about
    ``sd / sqrt(2 (n_datasets - 1))``; 50 datasets give it to about 10%.

    References
    ----------
    1. Muthen, L. K., & Muthen, B. O. (2002). How to use a Monte Carlo study to decide on sample
       size and determine power. Structural Equation Modeling, 9(4), 599-620.
    2. Morris, T. P., White, I. R., & Crowther, M. J. (2019). Using simulation studies to
       evaluate statistical methods. Statistics in Medicine, 38(11), 2074-2102.
    3. Schiefele, A.-K., et al. (2017). Reliability of therapist effects in practice-based
       psychotherapy research: a guide for the planning of future studies. Administration and
       Policy in Mental Health, 44(5), 598-613.

    Examples
    --------
    >>> import commonfactors as cf
    >>> tab = cf.plan_precision("norcross_lambert_2011", n_therapists=[10, 20],
    ...                         clients_per_therapist=8, n_datasets=4, seed=1)
    >>> tab[["n_therapists", "clients_per_therapist", "n_datasets"]].values.tolist()
    [[10, 8, 4], [20, 8, 4]]
    """
    js = _int_list("n_therapists", n_therapists, minimum=2)
    ms = _int_list("clients_per_therapist", clients_per_therapist, minimum=1)
    n_sessions = check_int("n_sessions", n_sessions, minimum=2)
    n_datasets = check_int("n_datasets", n_datasets, minimum=2)
    n_jobs = check_int("n_jobs", n_jobs)
    if n_jobs == 0:
        raise ConfigError("`n_jobs`: expecting a positive number of workers or -1 (all cores); "
                          "got 0.")
    check_option("view", view, ("change", "growth"))
    pairs = _estimand_pairs(estimands)
    designs = list(itertools.product(js, ms))
    configs = [_design_config(preset, j, m, n_sessions, overrides) for j, m in designs]
    truths = [_truth_values(cfg, pairs, view) for cfg in configs]
    seeds = spawn(seed, n_datasets)
    tasks = [(d, idx) for d in range(len(designs)) for idx in chunks(n_datasets, n_jobs)]

    estimates = [np.full((n_datasets, len(pairs)), np.nan) for _ in designs]
    oks = [np.zeros(n_datasets, dtype=bool) for _ in designs]
    results = run(_precision_chunk,
                  [(configs[d], view, pairs, [seeds[i] for i in idx]) for d, idx in tasks],
                  n_jobs=n_jobs, progress=progress, desc="datasets",
                  sizes=[len(idx) for _, idx in tasks])
    for (d, idx), (vals, ok) in zip(tasks, results, strict=True):
        estimates[d][idx] = vals
        oks[d][idx] = ok

    rows = []
    for d, (j, m) in enumerate(designs):
        good = estimates[d][oks[d]]
        for k, (factor, estimand) in enumerate(pairs):
            v = good[:, k]
            mean = float(v.mean()) if len(v) else np.nan
            sd = float(v.std(ddof=1)) if len(v) > 1 else np.nan
            rows.append({"n_therapists": j, "clients_per_therapist": m, "factor": factor,
                         "estimand": estimand, "truth": truths[d][k], "mean_estimate": mean,
                         "sd_estimate": sd, "ci_width": 2 * _Z95 * sd,
                         "bias": mean - truths[d][k], "n_datasets": n_datasets,
                         "n_failed": int((~oks[d]).sum())})
    return pd.DataFrame(rows, columns=COLUMNS)
