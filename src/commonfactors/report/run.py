"""The main job: session data in, one self-contained HTML report out.

:func:`run_report` reads the data (or takes every bundled synthetic dataset), runs
:func:`commonfactors.decompose` with a cluster bootstrap on each, and calls
:func:`write_report`, which renders the results into one HTML file: tables with every estimand
labelled in words, the simulator's truth beside each estimate for synthetic data, the published
claims with verdicts, and figures embedded as PNG (no external CSS, scripts, fonts or images).
The section builders live in :mod:`commonfactors.report._sections`, the HTML building blocks
in :mod:`commonfactors.report._html`.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import check_int, check_option
from ..errors import CommonFactorsError, FactorGroupError
from . import _arms as A
from . import _html as H
from ._sections import dataset_section, toc_entry

__all__ = ["run_report", "write_report", "REPORT_FILE", "FIGURE_FORMATS"]

#: Name of the HTML file written into the ``out`` folder.
REPORT_FILE = "commonfactors_report.html"
#: Formats in which the report can also save its figures (``figure_formats``).
FIGURE_FORMATS = ("svg", "pdf", "png")

_DEFAULT_N_BOOT = 1000
_SMOKE_N_BOOT = 100
_VIEWS = ("growth", "change")


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def run_report(
    data: str | os.PathLike | pd.DataFrame | None = None,
    *,
    factors: Mapping[str, Sequence[str]] | None = None,
    view: str = "change",
    n_boot: int | None = None,
    out: str | os.PathLike = "report",
    seed: int | None = 1,
    progress: bool = True,
    columns: Mapping[str, str] | None = None,
    references: Mapping[str, Mapping[str, Any]] | None = None,
    outside: Sequence[str] | None = None,
    read_options: Mapping[str, Any] | None = None,
    figure_formats: Sequence[str] = (),
) -> Path:
    """Analyse session data (or the bundled datasets) and write the HTML report.

    Parameters
    ----------
    data : str, path, DataFrame or None, default None
        ``None``: every bundled synthetic dataset (``data/synthetic/<preset>.csv``), one
        section each, with the simulator's truth beside every estimate, followed by the real
        session-level datasets that measure a factor (``implement``: alliance and anxiety per
        session, growth view), each with its source, licence, citation and what it cannot
        estimate, and by the arm-level Metapsy database (``load_dataset("metapsy_depression")``)
        with its design-based shares of mean improvement, their sensitivity analyses and what
        the dataset cannot estimate. Otherwise a session
        file (CSV, Parquet, SPSS, Stata) or a long DataFrame, read with
        :func:`commonfactors.read_sessions` (canonical columns ``therapist, client, session,
        outcome``).
    factors : dict, optional
        ``{group: [columns]}`` for your own data (the ``--factors`` JSON of the command line);
        required unless ``data`` is None or a DataFrame whose
        ``attrs["commonfactors"]["factors"]`` holds the mapping (as from
        :func:`commonfactors.load_dataset`). Ignored for the bundled datasets, whose mapping is
        fixed: alliance -> relationship, arm -> technique, expectancy -> expectancy,
        session + support -> extra_therapeutic.
    view : {"change", "growth"}, default "change"
        The model: one row per client (improvement) or sessions in clients in therapists.
    n_boot : int, optional
        Cluster-bootstrap replicates; default 1000, or 100 when the environment variable
        ``CI`` is set (smoke mode). The report states how many ran and how many failed.
    out : str or path, default "report"
        Output folder (created if needed); the file is ``out/commonfactors_report.html``.
    seed : int, optional
        Seed of the bootstrap, passed to every decomposition (the same seed for each dataset).
    progress : bool, default True
        Show progress bars (datasets, replicates) when standard error is a terminal.
    columns : dict, optional
        Your data only: role -> your column name (``{"therapist": "TherID", "outcome":
        "PHQ9"}``), as in :func:`commonfactors.read_sessions`.
    references : dict, optional
        Your data only: reference ("absent") levels, ``{group: {column: value}}``, passed to
        :func:`commonfactors.decompose` (e.g. ``{"technique": {"arm": "TAU"}}``).
    outside : list of str, optional
        Your data only: factor groups outside therapy, passed to
        :func:`commonfactors.decompose` (default there: ``extra_therapeutic``).
    read_options : dict, optional
        Your data only: further :func:`commonfactors.read_sessions` arguments (``na_values``,
        ``ranges``, ``session_dates``, ``value_labels``, ``encoding``, ``sep``, ``sheet``,
        ``higher_is_better``, ``missing``, ``out_of_range``).
    figure_formats : sequence of {"svg", "pdf", "png"}, default ()
        Also save every figure in these formats under ``out/figures/`` (the command line's
        ``--figures svg pdf``); the HTML always embeds them as PNG.

    Returns
    -------
    pathlib.Path
        The path of the HTML file. Beside it, ``out/tables/`` holds each dataset's tables as
        CSV (see :func:`write_report`).

    Raises
    ------
    CommonFactorsError
        ``data`` is a path that does not exist, or of the wrong type; ``factors`` missing for
        your own data (:class:`FactorGroupError`); bad ``view`` / ``n_boot``; any error of
        reading or decomposing your own data. For the bundled datasets an error in one
        dataset is shown in its section and the others are still reported.

    Notes
    -----
    Shares of mean improvement of the bundled datasets use the presets' reference levels
    (:func:`commonfactors.truth.sim_references`): alliance and expectancy at their
    "absent" values, the control arm for technique. The real datasets use the default
    reference (10th percentile of the client means, on the dataset's own scale) and are always
    analysed in the growth view: their only non-relationship factor is the session, which does
    not vary between clients in the change view. Warnings raised while reading and
    fitting are both shown in the report and passed on to the caller.

    Examples
    --------
    >>> import commonfactors as cf, tempfile, json, pathlib
    >>> sim = cf.simulate("norcross_lambert_2011", n_therapists=8, clients_per_therapist=6,
    ...                   n_sessions=4, seed=1)
    >>> path = cf.report.run_report(sim.data, factors=sim.factors, n_boot=0,
    ...                             out=tempfile.mkdtemp(), progress=False)  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'commonfactors_report.html'
    """
    check_option("view", view, _VIEWS)
    n_boot = _resolve_n_boot(n_boot)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    show = bool(progress) and _stderr_is_terminal()

    if data is None:
        given = [n for n, v in (("columns", columns), ("references", references),
                                ("outside", outside), ("read_options", read_options))
                 if v is not None]
        if given:
            raise CommonFactorsError(
                f"`{given[0]}`: only for your own data; the bundled datasets use fixed column "
                "names and references. Pass a data file or DataFrame, or leave it out.")
        jobs = _bundled_jobs(view)
        bundled = True
    else:
        jobs = [_user_job(data, factors, columns=columns, read_options=read_options,
                          references=references)]
        bundled = False

    from tqdm.auto import tqdm

    results: list[tuple[str, Any, Mapping[str, Any] | None]] = []
    for job in tqdm(jobs, desc="datasets", unit="dataset", disable=not show or len(jobs) < 2):
        results.append(_analyse(job, view=view, n_boot=n_boot, seed=seed, progress=show,
                                keep_going=bundled, outside=outside))
    if bundled:
        results.append(_analyse_arm_level(n_boot=n_boot, seed=seed))

    smoke = " (smoke mode: the CI environment variable is set)" if "CI" in os.environ else ""
    header = [
        f"{len(results)} dataset(s); {view} view; {n_boot} bootstrap replicates requested"
        f"{smoke}; seed {seed}.",
    ]
    folder = Path(out)
    return write_report(results, folder / REPORT_FILE, header=header,
                        figure_formats=figure_formats)


def write_report(
    results: Sequence[tuple[str, Any, Mapping[str, Any] | None]],
    path: str | os.PathLike,
    *,
    title: str = "commonfactors report",
    header: Sequence[str] = (),
    figure_formats: Sequence[str] = (),
) -> Path:
    """Render decompositions into one self-contained HTML file.

    Parameters
    ----------
    results : sequence of (title, Decomposition, extras)
        One section per item. An item may instead hold the design-based result of arm-level
        data (from :func:`commonfactors.report._arms.analyse_metapsy`), rendered as a
        design-based section. ``extras`` (a dict, or None) may hold: ``data`` (the long
        session frame: trajectories and the data summary when the decomposition has none),
        ``truth`` (DataFrame ``factor, estimand, value``: population values shown beside the
        estimates), ``factors`` (``{group: [columns]}``), ``source`` (where the data came
        from), ``description``, ``read_info`` (``attrs["commonfactors"]`` of
        :func:`commonfactors.read_sessions`: rows read and dropped), ``warnings`` (messages
        raised while reading and fitting), ``error`` (the message of a failed analysis; the
        decomposition is then None and the section shows the error), and for real data
        ``provenance`` (``{"licence": ..., "citation": ...}``) and ``cannot_estimate``
        (``{factor_or_estimand: reason}``), shown under the section's title.
    path : str or path
        The HTML file to write (its folder is created if needed).
    title : str, default "commonfactors report"
        Page title.
    header : sequence of str
        Lines shown under the title (run settings).
    figure_formats : sequence of {"svg", "pdf", "png"}, default ()
        Also save every figure in these formats in a ``figures/`` folder beside the HTML file,
        named ``<dataset>_<figure>.<format>``.

    Returns
    -------
    pathlib.Path
        ``path``. Beside it, a ``tables/`` folder holds the tables of each dataset as CSV
        (unrounded numbers): ``<dataset>_estimates.csv`` (factor, estimand, its label in
        words, estimate, interval and, for synthetic data, the truth),
        ``<dataset>_components.csv`` (Rights & Sterba components) and
        ``<dataset>_claims.csv`` (the published claims with verdicts); for arm-level data
        ``<dataset>_shares.csv``, ``_sensitivity.csv``, ``_arms.csv`` and ``_claims.csv``.

    Notes
    -----
    Each section holds: the data summary and what was dropped; the model with convergence,
    singular fit and warnings in visible boxes; the Rights & Sterba variance components and
    ICCs; the factor shares under every estimand, each labelled in words (share of total,
    explained and therapy-attributable variance, part R\u00b2, share of mean improvement);
    the shares of mean improvement with their reference levels; the published claims with
    verdicts; and the figures. Numbers are printed with 3 decimals (shares as percentages with
    1 decimal); every estimate cell keeps the unrounded value in its ``data-estimate``,
    ``data-ci-low``, ``data-ci-high`` (and ``data-truth``) attributes together with
    ``data-factor`` and ``data-estimand``. Text from data is HTML-escaped.
    """
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise CommonFactorsError(
            "`results`: expecting a list of (title, Decomposition, extras) tuples; got "
            f"{type(results).__name__}."
        )
    formats = _check_formats(figure_formats)
    out = Path(path)
    sections: list[str] = []
    toc: list[str] = []
    names: dict[str, str] = {}
    items: list[tuple[int, str, str, Any, dict[str, Any]]] = []
    for i, item in enumerate(results, start=1):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise CommonFactorsError(
                f"`results[{i - 1}]`: expecting a (title, Decomposition, extras) tuple; got "
                f"{item!r:.80}."
            )
        name, res = str(item[0]), item[1]
        extras = dict(item[2]) if len(item) == 3 and item[2] is not None else {}
        if A.is_arm_level(res):
            anchor = f"ds-{i}"
            names[anchor] = _slug(res.name, names.values())
            items.append((i, anchor, name, res, extras))
            continue
        if res is None and not extras.get("error"):
            raise CommonFactorsError(
                f"`results[{i - 1}]`: the decomposition is None but extras has no 'error'; "
                "give a Decomposition, or the error message of the failed analysis."
            )
        anchor = f"ds-{i}"
        names[anchor] = _slug(name, names.values())
        items.append((i, anchor, name, res, extras))
    with H.FigureFiles(out.parent / "figures", formats, names) as saved:
        for i, anchor, name, res, extras in items:
            if A.is_arm_level(res):
                sections.append(A.arm_section(i, anchor, res))
                toc.append(A.toc_entry(anchor, name))
                continue
            sections.append(dataset_section(i, anchor, name, res, extras))
            toc.append(toc_entry(i, anchor, name, failed=res is None))
    csvs = _write_csv_tables(out.parent / "tables", items, names)
    header = list(header)
    if csvs:
        header.append(f"Tables as CSV (unrounded): {len(csvs)} files in tables/ beside this "
                      "page.")
    if saved.written:
        header.append(f"Figures as {', '.join(f.upper() for f in formats)}: "
                      f"{len(saved.written)} files in figures/ beside this page.")
    header_html = "".join(f"<p>{H.esc(line)}</p>" for line in header)
    toc_html = f'<nav id="contents"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>'
    text = H.page(title, header_html, toc_html, "".join(sections))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def _check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [formats]
    out = []
    for f in formats:
        check_option("figure_formats", str(f).lower(), FIGURE_FORMATS)
        out.append(str(f).lower())
    return tuple(dict.fromkeys(out))


def _slug(name: str, taken: Any) -> str:
    base = "".join(ch if ch.isalnum() else "_" for ch in str(name).lower()).strip("_") or "data"
    slug, k = base, 2
    while slug in set(taken):
        slug, k = f"{base}_{k}", k + 1
    return slug


def _write_csv_tables(folder: Path, items: Sequence[tuple[Any, ...]],
                      names: Mapping[str, str]) -> list[Path]:
    from ..claims import compare_claims
    from ..plots.style import estimand_label

    written = []
    for _i, anchor, _name, res, extras in items:
        if res is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        stem = names[anchor]
        if A.is_arm_level(res):  # design-based shares of arm-level data
            arm_frames = {"shares": res.shares, "sensitivity": res.sensitivity,
                          "arms": res.arm_summary, "claims": res.claims}
            for kind, frame in arm_frames.items():
                path = folder / f"{stem}_{kind}.csv"
                frame.to_csv(path, index=False, lineterminator="\n")
                written.append(path)
            continue
        est = res.table.copy()
        est.insert(2, "label", est["estimand"].map(estimand_label))
        truth = extras.get("truth")
        if truth is not None and len(truth):
            t = truth.rename(columns={"value": "truth"})[["factor", "estimand", "truth"]]
            est = est.merge(t.drop_duplicates(["factor", "estimand"]), how="left",
                            on=["factor", "estimand"])
        frames = {"estimates": est, "components": res.components}
        factors = extras.get("factors") or None
        try:
            frames["claims"] = compare_claims(res.table,
                                              available=list(factors) if factors else None)
        except CommonFactorsError:
            pass  # the claims section of the page shows why
        for kind, frame in frames.items():
            path = folder / f"{stem}_{kind}.csv"
            frame.to_csv(path, index=False, lineterminator="\n")
            written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
def _resolve_n_boot(n_boot: int | None) -> int:
    if n_boot is None:
        return _SMOKE_N_BOOT if "CI" in os.environ else _DEFAULT_N_BOOT
    return check_int("n_boot", n_boot, minimum=0)


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# jobs: what to analyse
# --------------------------------------------------------------------------------------------
_READ_OPTIONS = ("na_values", "ranges", "out_of_range", "session_dates", "value_labels",
                 "encoding", "sep", "sheet", "higher_is_better", "missing", "format",
                 "require_therapist")


def _user_job(data: Any, factors: Mapping[str, Sequence[str]] | None, *,
              columns: Mapping[str, str] | None = None,
              read_options: Mapping[str, Any] | None = None,
              references: Mapping[str, Any] | None = None) -> dict[str, Any]:
    from ..sessions.api import read_sessions

    if read_options is None:
        read_options = {}
    if not isinstance(read_options, Mapping):
        raise CommonFactorsError(
            f"`read_options`: expecting a mapping of read_sessions arguments; got "
            f"{type(read_options).__name__}.")
    unknown = [k for k in read_options if k not in _READ_OPTIONS]
    if unknown:
        raise CommonFactorsError(
            f"`read_options`: unknown option(s) {', '.join(map(repr, unknown))}; expecting "
            f"some of {', '.join(_READ_OPTIONS)}.")

    if isinstance(data, pd.DataFrame):
        source = "DataFrame"
        title = "Your data"
        if factors is None:
            factors = (data.attrs.get("commonfactors") or {}).get("factors")
    elif isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if not p.is_file():
            raise CommonFactorsError(
                f"`data`: file {str(p)!r} not found; expecting a session file (CSV, Parquet, "
                "SPSS .sav or Stata .dta), or leave `data` out to report on the bundled "
                "datasets."
            )
        source = str(p)
        title = p.name
    else:
        raise CommonFactorsError(
            "`data`: expecting None (bundled datasets), a file path or a pandas DataFrame; got "
            f"{type(data).__name__}."
        )
    if not factors:
        raise FactorGroupError(
            "`factors`: expecting a mapping {group: [columns]} for your own data, e.g. "
            '{"relationship": ["alliance"], "technique": ["arm"], "expectancy": '
            '["expectancy"], "extra_therapeutic": ["session"]}; got none. On the command line '
            "pass it as a JSON file with --factors."
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_sessions(data, factors=factors, columns=columns, **dict(read_options))
    _pass_on(caught)
    info = dict(frame.attrs.get("commonfactors", {}))
    return {
        "title": title,
        "data": frame,
        "factors": info.get("factors") or dict(factors),
        "references": references,
        "truth": None,
        "source": source,
        "description": None,
        "read_info": info,
        "warnings": [str(w.message) for w in caught],
        "notes": [],
    }


def _bundled_jobs(view: str) -> list[dict[str, Any]]:
    from ..datasets.loader import list_datasets, load_dataset

    cat = list_datasets()
    names = cat.loc[(cat["kind"] == "synthetic") & cat["n_rows"].notna(), "name"].tolist()
    real = [n for n in _REAL_IN_REPORT if n in set(cat["name"])]
    if not names:
        raise CommonFactorsError(
            "no bundled synthetic dataset found in data/synthetic/; run `make data` in the "
            "repository (or set COMMONFACTORS_DATA), or pass your own data."
        )
    jobs = []
    for name in names:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = load_dataset(name)
        _pass_on(caught)
        meta = frame.attrs.get("commonfactors", {})
        references, notes = _preset_references(name)
        jobs.append({
            "title": name,
            "data": frame,
            "factors": dict(meta.get("factors", {})),
            "references": references,
            "truth": _truth(meta.get("truth_file"), view),
            "source": meta.get("file", f"data/synthetic/{name}.csv"),
            "description": meta.get("description"),
            "read_info": None,
            "warnings": [str(w.message) for w in caught],
            "notes": notes,
        })
    jobs += [_real_job(name) for name in real]
    return jobs


# real session-level datasets reported beside the synthetic ones, and the view each needs
_REAL_IN_REPORT = {"implement": "growth"}


def _real_job(name: str) -> dict[str, Any]:
    from ..datasets import load_dataset

    job: dict[str, Any] = {"title": f"{name} (real data)", "data": None, "factors": {},
                           "references": None, "truth": None, "source": None,
                           "description": None, "read_info": None, "warnings": [],
                           "notes": [], "view": _REAL_IN_REPORT[name]}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = load_dataset(name)
    except CommonFactorsError as exc:  # shown in the dataset's section, the others still run
        job["error"] = f"{type(exc).__name__}: {exc}"
        return job
    _pass_on(caught)
    meta = frame.attrs.get("commonfactors", {})
    job.update({
        "data": frame,
        "factors": dict(meta.get("factors", {})),
        "source": f"{meta.get('source')} (sha256 {meta.get('sha256')})",
        "description": meta.get("description"),
        "provenance": {"licence": meta.get("licence"), "citation": meta.get("citation")},
        "cannot_estimate": dict(meta.get("cannot_estimate", {})),
        "warnings": [str(w.message) for w in caught],
        "notes": [f"analysed in the {job['view']} view whatever the report's view; shares of "
                  "mean improvement use the default reference (10th percentile of client "
                  "means, on the dataset's centred scale)"] + list(meta.get("notes", [])),
    })
    return job


def _preset_references(name: str) -> tuple[dict[str, dict[str, float]] | None, list[str]]:
    from ..errors import ConfigError
    from ..simulation.simulator import preset_config
    from ..simulation.truth import sim_references

    try:
        cfg = preset_config(name)
    except ConfigError:
        return None, [f"{name!r} is not a simulator preset: no reference levels, so no shares "
                      "of mean improvement."]
    return sim_references(cfg), []


def _truth(path: str | None, view: str) -> pd.DataFrame | None:
    if not path or not Path(path).is_file():
        return None
    t = pd.read_csv(path)
    if "view" in t.columns:
        t = t.loc[t["view"].astype(str) == view]
    return t[["factor", "estimand", "value"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------------------------
def _analyse(job: dict[str, Any], *, view: str, n_boot: int, seed: int | None, progress: bool,
             keep_going: bool, outside: Sequence[str] | None = None
             ) -> tuple[str, Any, dict[str, Any]]:
    from ..decomposition.api import decompose

    extras = {k: job[k] for k in ("data", "truth", "factors", "source", "description",
                                  "read_info")}
    extras.update({k: job[k] for k in ("provenance", "cannot_estimate") if k in job})
    extras["warnings"] = list(job["warnings"])
    extras["notes"] = list(job["notes"])
    res = None
    if job.get("error"):
        extras["error"] = job["error"]
        return job["title"], res, extras
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            more: dict[str, Any] = {} if outside is None else {"outside": outside}
            res = decompose(job["data"], factors=job["factors"], view=job.get("view", view),
                            n_boot=n_boot, seed=seed, progress=progress,
                            references=job["references"], **more)
        except CommonFactorsError as exc:
            if not keep_going:
                raise
            extras["error"] = f"{type(exc).__name__}: {exc}"
    _pass_on(caught)
    extras["warnings"] += _dedupe(str(w.message) for w in caught)
    return job["title"], res, extras


def _analyse_arm_level(*, n_boot: int, seed: int | None) -> tuple[str, Any, dict[str, Any] | None]:
    """Design-based shares of the bundled arm-level data (Metapsy); a failure becomes a note."""
    title = "metapsy_depression (arm-level, design-based)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res: Any = A.analyse_metapsy(n_boot=n_boot, seed=seed)
            extras = None
        except CommonFactorsError as exc:
            res, extras = None, {"error": f"{type(exc).__name__}: {exc}"}
    _pass_on(caught)
    return title, res, extras


def _dedupe(messages) -> list[str]:
    seen: dict[str, None] = {}
    for m in messages:
        seen.setdefault(m, None)
    return list(seen)


def _pass_on(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno or 0)
