"""Small input checks shared by every module: raise, never assert.

Each helper raises a :mod:`commonfactors.errors` exception whose message names the parameter,
what is allowed and what was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import ArgumentError, ColumnError, CommonFactorsError, ConfigError, FactorGroupError

MIN_BOOT = 20
"""Fewest bootstrap replicates accepted (besides 0): below it a 95% percentile interval rests on
the one or two most extreme replicates."""
ROUGH_BOOT = 200
"""Below this many replicates the interval end points are rough (a warning says so)."""


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


def did_you_mean(name: str, candidates: Iterable[str], cutoff: float = 0.75) -> str:
    """`` Did you mean 'x'?`` for the closest candidate (difflib), or an empty string."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=cutoff)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_analysis_args(*, n_boot: Any = 0, level: Any = 0.95, seed: Any = None,
                        n_jobs: Any = 1, ci: str | None = None) -> dict[str, Any]:
    """Validate the resampling arguments shared by the analysis functions, in one place.

    Returns ``{"n_boot", "level", "seed", "n_jobs"}`` with plain types: ``n_boot`` is 0 (no
    interval) or at least :data:`MIN_BOOT` (a ``UserWarning`` below :data:`ROUGH_BOOT`);
    ``level`` a number strictly between 0 and 1; ``seed`` an int >= 0 (``None`` draws one from
    the operating system's entropy, a ``numpy.random.Generator`` draws one from itself, so the
    seed actually used can be stored with the result and the run repeated); ``n_jobs`` a non-zero
    integer (``-1``: all cores) or None (= 1). Every failure raises :class:`ArgumentError`.
    """
    import warnings

    if ci is not None:
        check_option("ci", ci, ("percentile", "basic", "bca"))
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)):
        raise ArgumentError(f"`n_boot`: expecting an integer; got {n_boot!r} "
                            f"({type(n_boot).__name__}).")
    n_boot = int(n_boot)
    if n_boot < 0:
        raise ArgumentError(f"`n_boot`: expecting an integer >= 0; got {n_boot}.")
    if 0 < n_boot < MIN_BOOT:
        raise ArgumentError(
            f"`n_boot`: expecting 0 (point estimates only, no interval) or at least {MIN_BOOT} "
            f"bootstrap replicates; got {n_boot}, too few for an interval. Use n_boot=0 or "
            f"n_boot>={ROUGH_BOOT} (1000 or more for final results).")
    if 0 < n_boot < ROUGH_BOOT:
        warnings.warn(f"n_boot={n_boot}: intervals from fewer than {ROUGH_BOOT} bootstrap "
                      "replicates are rough; use 1000 or more for results you report.",
                      UserWarning, stacklevel=3)
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"`level`: expecting a number between 0 and 1 (e.g. 0.95); got "
                            f"{level!r} ({type(level).__name__}).")
    level = float(level)
    if not (0.0 < level < 1.0):
        raise ArgumentError(f"`level`: expecting a coverage strictly between 0 and 1 (e.g. 0.95 "
                            f"for a 95% interval); got {level!r}.")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    elif isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2**63))
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ArgumentError(
            f"`seed`: expecting an integer >= 0, None (a seed is drawn and stored with the "
            f"result) or a numpy Generator; got {seed!r} ({type(seed).__name__}).")
    elif seed < 0:
        raise ArgumentError(f"`seed`: expecting an integer >= 0; got {seed}.")
    else:
        seed = int(seed)
    if n_jobs is None:
        n_jobs = 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ArgumentError(f"`n_jobs`: expecting a non-zero integer (1: no parallel workers, "
                            f"-1: all cores); got {n_jobs!r}.")
    return {"n_boot": n_boot, "level": level, "seed": seed, "n_jobs": int(n_jobs)}


def user_stacklevel() -> int:
    """``stacklevel`` for a warning raised by the caller of this function, pointing at the first
    frame outside the package: the line of the user's code that made the call, however deep
    inside the package the warning is raised."""
    import sys

    frame = sys._getframe(1)  # the function that warns: stacklevel 1
    level = 1
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(
            "commonfactors"):
        frame = frame.f_back
        level += 1
    return level
