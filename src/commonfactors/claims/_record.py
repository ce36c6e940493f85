"""The :class:`Claim` record, the estimand vocabulary, and the built-in claims.

Re-exported by :mod:`commonfactors.claims`; kept apart so that the registry and comparison code
stays short.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .. import conversions
from .._validation import check_number
from ..errors import ClaimError, CommonFactorsError
from ..estimands import CLAIM_ESTIMANDS
from ..estimands import ESTIMANDS as _ESTIMANDS
from ._published import CLAIM_ROWS, CLAIM_SOURCES

#: Estimand names a claim may use, with what each means (defined in :mod:`commonfactors.estimands`).
ESTIMANDS: dict[str, str] = {n: _ESTIMANDS[n].meaning for n in CLAIM_ESTIMANDS}

STATUSES = ("published", "secondary", "unsupported")

# what each conversion turns a claim into
_DERIVATIONS = {
    "r_to_r2": ("correlation", "share_total_variance", conversions.r_to_r2),
    "d_to_r2": ("cohens_d", "share_total_variance", conversions.d_to_r2),
    "d_to_icc": ("cohens_d", "icc_therapist", conversions.d_to_icc),
}

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _opt_number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return check_number(name, value)
    except CommonFactorsError as exc:
        raise ClaimError(str(exc)) from None


@dataclass(frozen=True)
class Claim:
    """One part of a published (or user) claim.

    Parameters
    ----------
    id : str
        Claim id, e.g. ``"lambert_1992"``; the parts of one figure share it.
    factor : str
        Factor the part is about (``relationship``, ``technique``, ``expectancy``,
        ``extra_therapeutic``, ``therapist``, ``nonspecific``, ``residual``, ... or
        ``"several"`` for a claim about several factors together).
    estimand : str
        One of :data:`ESTIMANDS`.
    value : float or None
        The claimed figure (a proportion for shares: 12% is 0.12). None if the claim has no
        number (e.g. "the rest", "n.s.").
    low, high : float or None
        A claimed range ("40-50%"), or the published interval of ``value``.
    text : str
        The figure as published.
    source : str
        Authors, year, venue.
    status : {"published", "secondary", "unsupported"}
        How well the figure itself is documented.
    note : str
        Caveats.
    component : str or None
        Label of the part within the claim (defaults to ``factor``).
    derived_from : str or None
        For a derived part, the conversion (``"r_to_r2"``...) or re-expression used.
    """

    id: str
    factor: str
    estimand: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    text: str = ""
    source: str = ""
    status: str = "published"
    note: str = ""
    component: str | None = field(default=None)
    derived_from: str | None = None

    def __post_init__(self) -> None:
        for name in ("id", "factor"):
            val = getattr(self, name)
            if not isinstance(val, str) or not _ID_RE.match(val):
                raise ClaimError(
                    f"`{name}`: expecting a non-empty name of letters, digits, '_', '.', '-' "
                    f"(e.g. 'my_study_2024'); got {val!r}."
                )
        if self.estimand not in ESTIMANDS:
            known = ", ".join(ESTIMANDS)
            raise ClaimError(
                f"`estimand`: unknown estimand {self.estimand!r}; expecting one of: {known}."
            )
        if self.status not in STATUSES:
            raise ClaimError(
                f"`status`: expecting one of {', '.join(map(repr, STATUSES))}; "
                f"got {self.status!r}."
            )
        value = _opt_number("value", self.value)
        low = _opt_number("low", self.low)
        high = _opt_number("high", self.high)
        if (low is None) != (high is None):
            raise ClaimError(
                f"claim {self.id!r}: give both `low` and `high` for a range, or neither; "
                f"got low={low!r}, high={high!r}."
            )
        if low is not None and high is not None and low > high:
            raise ClaimError(
                f"claim {self.id!r}: `low` must not exceed `high`; got low={low}, high={high}."
            )
        if value is not None and low is not None and not low <= value <= high:
            raise ClaimError(
                f"claim {self.id!r}: `value` {value} lies outside its interval [{low}, {high}]."
            )
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if self.component is None:
            object.__setattr__(self, "component", self.factor)
        if not self.text:
            object.__setattr__(self, "text", _auto_text(value, low, high))

    @property
    def key(self) -> tuple[str, str, str]:
        """``(id, component, estimand)``: what makes a claim-part unique in a registry."""
        return (self.id, str(self.component), self.estimand)

    @property
    def is_numeric(self) -> bool:
        """True if the claim has a value or a range to compare with."""
        return self.value is not None or self.low is not None

    @property
    def claimed_low(self) -> float:
        """Lower end of what is claimed (the range, else the value); NaN if none."""
        if self.low is not None:
            return self.low
        return math.nan if self.value is None else self.value

    @property
    def claimed_high(self) -> float:
        """Upper end of what is claimed (the range, else the value); NaN if none."""
        if self.high is not None:
            return self.high
        return math.nan if self.value is None else self.value


def _auto_text(value: float | None, low: float | None, high: float | None) -> str:
    if low is not None and value is None:
        return f"{low:g}-{high:g}"
    if low is not None:
        return f"{value:g} [{low:g}, {high:g}]"
    return "no numeric value" if value is None else f"{value:g}"


def _derive(parent: Claim, via: str, text: str | None) -> Claim:
    source_estimand, estimand, fun = _DERIVATIONS[via]
    if parent.estimand != source_estimand:  # pragma: no cover - guards the data file
        raise ClaimError(f"claim {parent.id!r}: {via} needs a {source_estimand} claim.")

    def conv(x: float | None) -> float | None:
        return None if x is None else float(fun(x))

    low, high = conv(parent.low), conv(parent.high)
    if parent.low is not None and parent.low < 0 < parent.high and via != "d_to_icc":
        low, high = 0.0, max(low, high)
    return Claim(
        id=parent.id,
        factor=parent.factor,
        estimand=estimand,
        value=conv(parent.value),
        low=low,
        high=high,
        text=text or f"{via}({parent.text})",
        source=parent.source,
        status=parent.status,
        note=f"derived from the published {source_estimand} with {via}, to set it beside "
        f"a {estimand}" + (f"; {parent.note}" if parent.note else ""),
        component=parent.component,
        derived_from=via,
    )


def _builtin_claims() -> list[Claim]:
    out: list[Claim] = []
    for row in CLAIM_ROWS:
        row = dict(row)
        derive = row.pop("derive", None)
        meta = CLAIM_SOURCES[row["id"]]
        note = "; ".join(n for n in (meta["note"], row.pop("note", "")) if n)
        claim = Claim(source=meta["source"], status=meta["status"], note=note, **row)
        out.append(claim)
        if derive is not None:
            via, text = (derive, None) if isinstance(derive, str) else derive
            out.append(_derive(claim, via, text))
    return out
