"""File readers behind :func:`commonfactors.read_sessions`.

Each reader returns the raw table as a DataFrame plus the value and variable labels the file
carries (empty for formats without labels). Labelled numeric columns keep their numeric codes;
the labels go to the metadata, never into the data.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
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
    "xlsx": "excel",
    "xlsm": "excel",
}
_DELIMITERS = ",;\t|"
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


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
    if ext in ("xls", "ods", "numbers"):
        raise CommonFactorsError(
            f"`path_or_frame`: {str(path)!r} is an old Excel / other spreadsheet file "
            f"({path.suffix}); save it as .xlsx (Excel workbook) or .csv and read that file.")
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


def _decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """Text of a CSV file and the encoding used (UTF-8 first, then Windows/Latin-1)."""
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding
        except LookupError:
            raise CommonFactorsError(
                f"`encoding`: unknown encoding {encoding!r}; expecting e.g. 'utf-8', 'latin-1', "
                "'cp1252'.") from None
        except UnicodeDecodeError as exc:
            raise CommonFactorsError(
                f"`encoding`: the file is not valid {encoding} (byte {raw[exc.start]:#x} at "
                f"position {exc.start}); try encoding='latin-1' or 'cp1252', or leave "
                "`encoding` out to detect it.") from None
    for enc in _ENCODINGS:
        try:
            return raw.decode(enc), ("utf-8" if enc == "utf-8-sig" else enc)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _sniff_sep(text: str) -> str:
    """The delimiter of a CSV text: the csv sniffer over , ; tab |, or the most regular one."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        lines = [ln for ln in sample.splitlines() if ln.strip()]
        best, best_n = ",", 0
        for d in _DELIMITERS:
            counts = [ln.count(d) for ln in lines]
            if counts and min(counts) > 0 and len(set(counts)) == 1 and counts[0] > best_n:
                best, best_n = d, counts[0]
        return best


def _read_csv(path: Path, kind: str, encoding: str | None, sep: str | None
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    import io

    text, used = _decode(path.read_bytes(), encoding)
    if sep is None:
        sep = "\t" if kind == "tsv" else _sniff_sep(text)
    elif not isinstance(sep, str) or not sep:
        raise CommonFactorsError(f"`sep`: expecting a delimiter such as ',' or ';'; got {sep!r}.")
    data = pd.read_csv(io.StringIO(text), sep=sep, engine="python" if len(sep) > 1 else "c")
    if data.shape[1] == 1:
        name = str(data.columns[0])
        hits = [d for d in _DELIMITERS if d in name]
        if hits:
            raise CommonFactorsError(
                f"`sep`: the file was read as one column {name[:60]!r}; its delimiter looks like "
                f"{hits[0]!r}, not {sep!r}. Pass sep={hits[0]!r}.")
    return data, {"encoding": used, "sep": sep}


def _user_missing(data: pd.DataFrame, meta: Any) -> dict[str, int]:
    """Set SPSS/Stata user-missing values to NaN (in place on the reader's own frame)."""
    counts: dict[str, int] = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        if col not in data.columns:
            continue
        s = data[col]
        hit = pd.Series(False, index=s.index)
        for r in ranges:
            lo, hi = r.get("lo"), r.get("hi")
            if pd.api.types.is_numeric_dtype(s.dtype):
                hit |= (s >= lo) & (s <= hi)
            else:
                hit |= s.astype(str).isin({str(lo), str(hi)})
        if hit.any():
            data[col] = s.where(~hit, np.nan)
            counts[str(col)] = int(hit.sum())
    return counts


def read_table(
    path: str | Path,
    format: str | None = None,
    *,
    encoding: str | None = None,
    sep: str | None = None,
    sheet: str | int | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[Any, str]], dict[str, str], dict[str, Any]]:
    """Read a session table from ``path``.

    Parameters
    ----------
    path : str or Path
        File to read.
    format : str, optional
        One of the keys of :data:`SUPPORTED_FORMATS`; overrides the file extension.
    encoding, sep : str, optional
        Text encoding and delimiter of a CSV/TSV/TXT file; detected when None (UTF-8, else
        Windows-1252, else Latin-1; delimiter among , ; tab |).
    sheet : str or int, optional
        Excel sheet (name or 0-based position); default the first.

    Returns
    -------
    data : DataFrame
    value_labels : dict
        ``{column: {code: label}}`` for labelled columns (SPSS and Stata files).
    variable_labels : dict
        ``{column: label}`` for columns with a variable label (SPSS and Stata files).
    info : dict
        How the file was read: ``encoding`` and ``sep`` (text files), ``sheet`` (Excel),
        ``user_missing`` (SPSS/Stata: column -> number of user-missing values set to NaN).
    """
    path = Path(path)
    kind = _format_of(path, format)
    if not path.is_file():
        raise CommonFactorsError(
            f"`path_or_frame`: file {str(path)!r} not found; give an existing file path or a "
            "pandas DataFrame."
        )
    if kind not in ("csv", "tsv", "txt") and (encoding is not None or sep is not None):
        raise CommonFactorsError(
            f"`encoding`/`sep`: only for text files (CSV, TSV, TXT); {str(path)!r} is read as "
            f"{kind}. Leave them out.")
    if kind != "excel" and sheet is not None:
        raise CommonFactorsError(
            f"`sheet`: only for Excel files; {str(path)!r} is read as {kind}. Leave it out.")
    try:
        if kind in ("csv", "tsv", "txt"):
            data, info = _read_csv(path, kind, encoding, sep)
            return data, {}, {}, info
        if kind == "parquet":
            return pd.read_parquet(path), {}, {}, {}
        if kind == "excel":
            sheet_name = 0 if sheet is None else sheet
            try:
                data = pd.read_excel(path, sheet_name=sheet_name, engine="openpyxl")
            except (ValueError, IndexError, KeyError) as exc:
                if "not found" in str(exc) or "out of range" in str(exc) or isinstance(
                        exc, (IndexError, KeyError)):
                    import openpyxl

                    names = openpyxl.load_workbook(path, read_only=True).sheetnames
                    raise CommonFactorsError(
                        f"`sheet`: no sheet {sheet_name!r} in {str(path)!r}; its sheets: "
                        f"{', '.join(map(repr, names))}.") from None
                raise
            return data, {}, {}, {"sheet": sheet_name}
        import pyreadstat

        reader = pyreadstat.read_sav if kind == "spss" else pyreadstat.read_dta
        data, meta = reader(str(path), apply_value_formats=False, user_missing=True)
    except CommonFactorsError:
        raise
    except Exception as exc:  # parser errors of the underlying libraries
        hint = {
            "csv": "Check the file, or pass `sep=` (e.g. sep=';') and `encoding=` (e.g. "
                   "encoding='latin-1').",
            "excel": "Check that it is an Excel workbook (.xlsx) and pass `sheet=` if the "
                     "data are not on the first sheet.",
        }.get(kind if kind not in ("tsv", "txt") else "csv",
              "Check the file, or pass `format=` if its extension is wrong.")
        raise CommonFactorsError(
            f"`path_or_frame`: could not read {str(path)!r} as {kind} "
            f"({type(exc).__name__}: {str(exc)[:200]}). {hint}"
        ) from exc
    value_labels, variable_labels = _labels_from_meta(meta)
    return data, value_labels, variable_labels, {"user_missing": _user_missing(data, meta)}
