"""Small input checks shared by every module: raise, never assert.

Each helper raises a :mod:`commonfactors.errors` exception whose message names the parameter,
what is allowed and what was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import ColumnError, CommonFactorsError, ConfigError, FactorGroupError


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``; otherwise raise a clear error."""
    allowed = tuple(allowed)
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise CommonFactorsError(f"`{name}`: expecting one of {shown}; got {value!r}.")
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as int if it is an integer (>= minimum); otherwise raise ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"`{name}`: expecting an integer; got {value!r} ({type(value).__name__}).")
    if minimum is not None and value < minimum:
        raise ConfigError(f"`{name}`: expecting an integer >= {minimum}; got {value}.")
    return int(value)


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as float if it is a finite number in the given range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"`{name}`: expecting a number; got {value!r} ({type(value).__name__}).")
    v = float(value)
    if not np.isfinite(v):
        raise ConfigError(f"`{name}`: expecting a finite number; got {value!r}.")
    bad_low = low is not None and (v < low if low_inclusive else v <= low)
    bad_high = high is not None and (v > high if high_inclusive else v >= high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else ("[" if low_inclusive else "(") + f"{low}"
        hi = "inf" if high is None else f"{high}" + ("]" if high_inclusive else ")")
        raise ConfigError(f"`{name}`: expecting a number in {lo}, {hi}; got {v}.")
    return v


def check_columns(data: pd.DataFrame, columns: Sequence[str], *, param: str = "data") -> None:
    """Raise ColumnError naming every column of ``columns`` absent from ``data``."""
    if not isinstance(data, pd.DataFrame):
        raise ColumnError(
            f"`{param}`: expecting a pandas DataFrame; got {type(data).__name__}."
        )
    missing = [c for c in columns if c not in data.columns]
    if missing:
        avail = ", ".join(map(str, list(data.columns)[:20]))
        raise ColumnError(
            f"`{param}`: column(s) {', '.join(map(repr, missing))} not found; "
            f"available columns: {avail}."
        )


def check_factor_groups(
    factors: Mapping[str, Sequence[str]], *, min_groups: int = 1
) -> dict[str, list[str]]:
    """Validate a factor-group mapping ``{group: [columns]}`` and return a clean copy.

    Rejects a non-mapping, an empty group, a column given to two groups (naming both groups),
    and fewer than ``min_groups`` groups.
    """
    if not isinstance(factors, Mapping):
        raise FactorGroupError(
            "`factors`: expecting a mapping {group: [columns]}, e.g. "
            "{'relationship': ['alliance'], 'technique': ['arm']}; "
            f"got {type(factors).__name__}."
        )
    clean: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for group, cols in factors.items():
        if isinstance(cols, str):
            cols = [cols]
        if not isinstance(cols, (list, tuple, np.ndarray, pd.Index)) or not all(
            isinstance(c, str) for c in cols
        ):
            raise FactorGroupError(
                f"`factors`: group {group!r} must list column names (a list of strings, e.g. "
                f"['arm']); got {cols!r}."
            )
        cols = list(cols)
        if not cols:
            raise FactorGroupError(f"`factors`: group {group!r} is empty; give it at least one column.")
        for c in cols:
            if c in owner:
                raise FactorGroupError(
                    f"`factors`: column {c!r} is in two groups, {owner[c]!r} and {group!r}; "
                    "a column belongs to at most one group."
                )
            owner[c] = group
        clean[str(group)] = cols
    if len(clean) < min_groups:
        raise FactorGroupError(
            f"`factors`: expecting at least {min_groups} groups; got {len(clean)} "
            f"({', '.join(map(repr, clean)) or 'none'})."
        )
    return clean
