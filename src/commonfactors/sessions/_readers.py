"""File readers behind :func:`commonfactors.read_sessions`.

Each reader returns the raw table as a DataFrame plus the value and variable labels the file
carries (empty for formats without labels). Labelled numeric columns keep their numeric codes;
the labels go to the metadata, never into the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CommonFactorsError

__all__ = ["SUPPORTED_FORMATS", "read_table"]

# format name -> reader kind; the format name is also the file extension without the dot
SUPPORTED_FORMATS: dict[str, str] = {
    "csv": "csv",
    "tsv": "tsv",
    "txt": "txt",
    "parquet": "parquet",
    "pq": "parquet",
    "sav": "spss",
    "zsav": "spss",
    "dta": "stata",
}


def _supported() -> str:
    return ", ".join(f".{ext}" for ext in SUPPORTED_FORMATS)


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if not isinstance(format, str) or format.lower().lstrip(".") not in SUPPORTED_FORMATS:
            raise CommonFactorsError(
                f"`format`: expecting one of {', '.join(map(repr, SUPPORTED_FORMATS))}; "
                f"got {format!r}."
            )
        return SUPPORTED_FORMATS[format.lower().lstrip(".")]
    ext = path.suffix.lower().lstrip(".")
    if ext not in SUPPORTED_FORMATS:
        raise CommonFactorsError(
            f"`path_or_frame`: cannot tell the file format of {str(path)!r} from its extension "
            f"{path.suffix!r}; supported extensions: {_supported()}. Rename the file or pass "
            "`format=` (e.g. format='csv')."
        )
    return SUPPORTED_FORMATS[ext]


def _labels_from_meta(meta: Any) -> tuple[dict[str, dict[Any, str]], dict[str, str]]:
    value_labels = {
        str(col): {_plain(code): str(label) for code, label in labels.items()}
        for col, labels in (getattr(meta, "variable_value_labels", None) or {}).items()
    }
    variable_labels = {
        str(col): str(label)
        for col, label in (getattr(meta, "column_names_to_labels", None) or {}).items()
        if label
    }
    return value_labels, variable_labels


def _plain(code: Any) -> Any:
    """Return a label code as a plain Python number (integral floats as int) or string."""
    if isinstance(code, str):
        return code
    try:
        f = float(code)
    except (TypeError, ValueError):
        return str(code)
    return int(f) if f.is_integer() else f


def read_table(
    path: str | Path, format: str | None = None
) -> tuple[pd.DataFrame, dict[str, dict[Any, str]], dict[str, str]]:
    """Read a session table from ``path``.

    Parameters
    ----------
    path : str or Path
        File to read.
    format : str, optional
        One of the keys of :data:`SUPPORTED_FORMATS`; overrides the file extension.

    Returns
    -------
    data : DataFrame
    value_labels : dict
        ``{column: {code: label}}`` for labelled columns (SPSS and Stata files).
    variable_labels : dict
        ``{column: label}`` for columns with a variable label (SPSS and Stata files).
    """
    path = Path(path)
    kind = _format_of(path, format)
    if not path.is_file():
        raise CommonFactorsError(
            f"`path_or_frame`: file {str(path)!r} not found; give an existing file path or a "
            "pandas DataFrame."
        )
    try:
        if kind == "csv":
            return pd.read_csv(path), {}, {}
        if kind == "tsv":
            return pd.read_csv(path, sep="\t"), {}, {}
        if kind == "txt":
            # delimiter sniffed from the file (comma, tab, semicolon, whitespace...)
            return pd.read_csv(path, sep=None, engine="python"), {}, {}
        if kind == "parquet":
            return pd.read_parquet(path), {}, {}
        import pyreadstat

        reader = pyreadstat.read_sav if kind == "spss" else pyreadstat.read_dta
        data, meta = reader(str(path), apply_value_formats=False)
    except CommonFactorsError:
        raise
    except Exception as exc:  # parser errors of the underlying libraries
        raise CommonFactorsError(
            f"`path_or_frame`: could not read {str(path)!r} as {kind} "
            f"({type(exc).__name__}: {exc}). Check the file or pass the right `format=`."
        ) from exc
    value_labels, variable_labels = _labels_from_meta(meta)
    return data, value_labels, variable_labels
