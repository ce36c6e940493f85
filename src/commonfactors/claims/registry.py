"""The registry of published claims, and claim-versus-estimate tables.

Every figure of docs/claims.md (the seed documents' claims and the published figures) is kept here
as data: one :class:`Claim` per claim-part, i.e. per (id, component, estimand). A multi-part
figure such as Lambert's 1992 pie is one id with four parts (extra_therapeutic .40,
relationship .30, expectancy .15, technique .15). Where a published figure is a correlation or a
d, a derived part gives its implied share of total variance (``r**2``) or therapist ICC, marked
with ``derived_from`` = the conversion used, so that it can be set beside a variance share.

:func:`compare_claims` sets a table of estimates (a decomposition's ``.table``) beside the
claims and gives each claim-part a verdict.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, fields
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_columns, check_number
from ..errors import ClaimError
from ._record import ESTIMANDS, STATUSES, Claim, _builtin_claims

__all__ = [
    "Claim",
    "Registry",
    "ESTIMANDS",
    "STATUSES",
    "DEFAULT_REGISTRY",
    "claims_registry",
    "get_claim",
    "add_claim",
    "compare_claims",
]

class Registry:
    """An ordered collection of claim-parts, unique by ``(id, component, estimand)``.

    Parameters
    ----------
    claims : iterable of Claim, optional
        Extra claims to add after the built-in ones.
    builtin : bool, default True
        Start from every claim of docs/claims.md; False starts empty.

    Notes
    -----
    :data:`DEFAULT_REGISTRY` is the instance the module-level functions use when no
    ``registry`` is passed; :func:`add_claim` without a registry adds to it. Give a registry of
    your own (``Registry()``, or ``DEFAULT_REGISTRY.copy()``) to keep additions local.
    """

    def __init__(self, claims: Iterable[Claim] | None = None, *, builtin: bool = True) -> None:
        self._claims: list[Claim] = []
        self._keys: set[tuple[str, str, str]] = set()
        for claim in _builtin_claims() if builtin else ():
            self.add(claim)
        for claim in claims or ():
            self.add(claim)

    def add(self, claim: Claim) -> Claim:
        """Add one claim-part; raise ClaimError if its (id, component, estimand) exists."""
        if not isinstance(claim, Claim):
            raise ClaimError(f"`claim`: expecting a Claim; got {type(claim).__name__}.")
        if claim.key in self._keys:
            raise ClaimError(
                f"claim {claim.id!r}: a part with factor {claim.factor!r}, component "
                f"{claim.component!r} and estimand {claim.estimand!r} is already registered; "
                "use a new id, or a distinct `component` for another part of the same claim."
            )
        self._claims.append(claim)
        self._keys.add(claim.key)
        return claim

    def get(
        self, claim_id: str, *, factor: str | None = None, estimand: str | None = None
    ) -> tuple[Claim, ...]:
        """All parts of claim ``claim_id`` (optionally of one factor / estimand)."""
        parts = [c for c in self._claims if c.id == claim_id]
        if not parts:
            ids = self.ids()
            close = difflib.get_close_matches(str(claim_id), ids, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ClaimError(
                f"`claim_id`: unknown claim {claim_id!r}.{hint} See claims_registry() for the "
                f"{len(ids)} registered ids."
            )
        if factor is not None:
            parts = [c for c in parts if c.factor == factor]
        if estimand is not None:
            parts = [c for c in parts if c.estimand == estimand]
        if not parts:
            raise ClaimError(
                f"claim {claim_id!r} has no part with factor={factor!r}, estimand={estimand!r}."
            )
        return tuple(parts)

    def ids(self) -> list[str]:
        """Claim ids in registration order, each once."""
        return list(dict.fromkeys(c.id for c in self._claims))

    def table(self) -> pd.DataFrame:
        """One row per claim-part, columns as the fields of :class:`Claim`."""
        cols = [f.name for f in fields(Claim)]
        order = ["id", "factor", "component", "estimand", "value", "low", "high", "text",
                 "source", "status", "derived_from", "note"]
        rows = [asdict(c) for c in self._claims]
        tab = pd.DataFrame(rows, columns=cols)[order]
        for c in ("value", "low", "high"):
            tab[c] = tab[c].astype(float)
        return tab

    def copy(self) -> Registry:
        """An independent registry with the same claims."""
        new = Registry(builtin=False)
        for c in self._claims:
            new.add(c)
        return new

    def __len__(self) -> int:
        return len(self._claims)

    def __iter__(self) -> Iterator[Claim]:
        return iter(list(self._claims))

    def __contains__(self, claim_id: object) -> bool:
        return any(c.id == claim_id for c in self._claims)

    def __repr__(self) -> str:
        return f"Registry({len(self.ids())} claims, {len(self)} parts)"


#: The registry used when no ``registry`` is given.
DEFAULT_REGISTRY = Registry()


def _registry(registry: Registry | None) -> Registry:
    if registry is None:
        return DEFAULT_REGISTRY
    if not isinstance(registry, Registry):
        raise ClaimError(f"`registry`: expecting a Registry; got {type(registry).__name__}.")
    return registry


def claims_registry(*, registry: Registry | None = None) -> pd.DataFrame:
    """The registered claims as a tidy table, one row per claim-part.

    Parameters
    ----------
    registry : Registry, optional
        Defaults to :data:`DEFAULT_REGISTRY` (every claim of docs/claims.md plus user additions).

    Returns
    -------
    DataFrame
        Columns ``id, factor, component, estimand, value, low, high, text, source, status,
        derived_from, note``. ``value`` is the claimed figure (a proportion for shares),
        ``low``/``high`` a claimed range or the published interval; ``derived_from`` is set on
        rows converted from a published correlation or d (e.g. ``r_to_r2``).

    Notes
    -----
    Shares are proportions (12% is 0.12). A claim's estimand says what the figure is a share
    of; figures with different estimands must not be compared (docs/methods.md section 9.1).

    Examples
    --------
    >>> import commonfactors as cf
    >>> tab = cf.claims_registry()
    >>> lam = tab[tab["id"] == "lambert_1992"]
    >>> dict(zip(lam["factor"], lam["value"]))
    {'extra_therapeutic': 0.4, 'relationship': 0.3, 'expectancy': 0.15, 'technique': 0.15}
    """
    return _registry(registry).table()


def get_claim(
    claim_id: str,
    *,
    factor: str | None = None,
    estimand: str | None = None,
    registry: Registry | None = None,
) -> tuple[Claim, ...]:
    """The parts of one claim.

    Parameters
    ----------
    claim_id : str
        Registered id, e.g. ``"flueckiger_2018_alliance"``.
    factor, estimand : str, optional
        Keep only the parts of this factor / estimand.
    registry : Registry, optional
        Defaults to :data:`DEFAULT_REGISTRY`.

    Returns
    -------
    tuple of Claim
        Always a tuple, also for a one-part claim.

    Raises
    ------
    ClaimError
        Unknown id (with close matches), or no part with the given factor / estimand.

    Examples
    --------
    >>> import commonfactors as cf
    >>> [round(c.value, 4) for c in cf.get_claim("flueckiger_2018_alliance")]
    [0.278, 0.0773, 0.579]
    """
    return _registry(registry).get(claim_id, factor=factor, estimand=estimand)


def add_claim(
    claim_id: str,
    *,
    factor: str,
    estimand: str,
    value: float | None = None,
    low: float | None = None,
    high: float | None = None,
    text: str = "",
    source: str = "user",
    status: str = "published",
    note: str = "",
    component: str | None = None,
    derived_from: str | None = None,
    registry: Registry | None = None,
) -> Claim:
    """Register a claim-part of your own.

    Parameters
    ----------
    claim_id : str
        New id (or an existing id with a new component/estimand).
    factor, estimand, value, low, high, text, source, status, note, component, derived_from
        As the fields of :class:`Claim`. Give ``value``, or ``low`` and ``high``, or both (a
        point with its interval); shares as proportions.
    registry : Registry, optional
        Where to add it; defaults to :data:`DEFAULT_REGISTRY` (process-wide). Pass your own
        ``Registry()`` to keep the addition local.

    Returns
    -------
    Claim
        The registered claim-part.

    Raises
    ------
    ClaimError
        Unknown estimand (the message lists the known ones), bad status, ``low > high``, or a
        part with the same (id, component, estimand) already registered (component defaults
        to the factor, so the same id and factor twice is rejected).

    Examples
    --------
    >>> import commonfactors as cf
    >>> from commonfactors.claims import Registry
    >>> reg = Registry(builtin=False)
    >>> c = cf.add_claim("my_trial", factor="relationship", estimand="share_total_variance",
    ...                  value=0.09, registry=reg)
    >>> cf.claims_registry(registry=reg)[["id", "value", "text"]].to_dict("records")
    [{'id': 'my_trial', 'value': 0.09, 'text': '0.09'}]
    """
    claim = Claim(
        id=claim_id,
        factor=factor,
        estimand=estimand,
        value=value,
        low=low,
        high=high,
        text=text,
        source=source,
        status=status,
        note=note,
        component=component,
        derived_from=derived_from,
    )
    return _registry(registry).add(claim)


# ---------------------------------------------------------------------------------------------
# claims against estimates
# ---------------------------------------------------------------------------------------------

_NO_FACTOR = {
    "relationship": "no alliance measured: no relationship factor in the data",
    "expectancy": "no expectancy measured: no expectancy factor in the data",
    "technique": "no treatment arm or technique measure: no technique factor in the data",
    "extra_therapeutic": "no extra-therapeutic factor in the data",
    "therapist": "no therapist level in the data",
    "nonspecific": "needs waitlist, placebo (nonspecific) and active arms "
    "(design-based share of mean improvement, design_based_shares)",
}


def _resolve_claims(claims: Any) -> list[Claim]:
    if claims is None or isinstance(claims, Registry):
        return list(_registry(claims))
    if isinstance(claims, Claim):
        return [claims]
    if isinstance(claims, str):
        return list(DEFAULT_REGISTRY.get(claims))
    if isinstance(claims, pd.DataFrame):
        check_columns(claims, ["id", "factor", "estimand"], param="claims")
        keep = [f.name for f in fields(Claim)]
        out = []
        for rec in claims.to_dict("records"):
            kw: dict[str, Any] = {str(k): (None if _isnan(v) else v) for k, v in rec.items()
                                  if k in keep}
            for k in ("text", "source", "note"):
                kw[k] = kw.get(k) or ""
            kw.setdefault("status", "published")
            out.append(Claim(**kw))
        return out
    if isinstance(claims, Iterable):
        out = []
        for item in claims:
            if isinstance(item, Claim):
                out.append(item)
            elif isinstance(item, str):
                out.extend(DEFAULT_REGISTRY.get(item))
            else:
                raise ClaimError(
                    "`claims`: expecting claim ids or Claim objects; got an item of type "
                    f"{type(item).__name__}."
                )
        return out
    raise ClaimError(
        "`claims`: expecting None, a Registry, a claim id, a list of ids or Claims, or a "
        f"claims_registry() table; got {type(claims).__name__}."
    )


def _isnan(v: Any) -> bool:
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def _to_float(v: Any) -> float:
    try:
        return math.nan if pd.isna(v) else float(v)
    except (TypeError, ValueError):
        return math.nan


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _claimed(c: Claim) -> str:
    lo, hi = c.claimed_low, c.claimed_high
    return _fmt(lo) if lo == hi else f"[{_fmt(lo)}, {_fmt(hi)}]"


def _not_estimable_reason(c: Claim, available: set[str], design_based: bool) -> str:
    if (design_based and c.estimand == "share_mean_improvement"
            and c.factor in ("relationship", "expectancy")):
        return ("design-based shares cannot split relationship from expectancy: a placebo arm "
                "carries both; compare the claim with the nonspecific row")
    if c.estimand == "summed_r2":
        return ("summed overlapping r^2 is not a share of anything (docs/methods.md section 9.1); compare "
                "each factor's share_total_variance instead")
    if c.factor == "several":
        return "the claim spans several factors; the table has no combined row for them"
    if c.estimand in ("correlation", "cohens_d"):
        return (f"a {c.estimand} is not a decomposition estimand; compare this claim's "
                "derived share_total_variance (r^2) row where it has one")
    if c.estimand in ("proportion", "pre_post_d", "percent_change"):
        return ("needs untreated (natural-course) or pre-post group data; not estimated by "
                "the decomposition")
    if c.estimand == "multilevel_slope":
        return "claim has no numeric value"
    if c.factor not in available:
        return _NO_FACTOR.get(c.factor, f"no {c.factor} factor in the data")
    if c.estimand == "share_mean_improvement":
        return (f"no share_mean_improvement estimate for {c.factor}: needs a waitlist arm "
                "(design-based share of mean improvement) or reference levels (model-based)")
    return f"the table has no {c.estimand} estimate for factor {c.factor}"


def _verdict(c: Claim, est: float, lo: float, hi: float, tol: float) -> tuple[str, str]:
    clo, chi = c.claimed_low, c.claimed_high
    if c.low is None:
        what = "claimed value"
    else:
        what = "claimed range" if c.value is None else "claimed interval"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        pre = (f"no interval (n_boot=0?): verdict from the point estimate {_fmt(est)} with a "
               f"tolerance of {tol:g}; ")
        if clo - tol <= est <= chi + tol:
            return "consistent", pre + f"{what} {_claimed(c)} matches it"
        side = "above" if clo - tol > est else "below"
        return "inconsistent", pre + f"{what} {_claimed(c)} is {side} it"
    interval = f"[{_fmt(lo)}, {_fmt(hi)}]"
    if chi >= lo and clo <= hi:
        verb = "lies inside" if clo == chi else "overlaps"
        return "consistent", f"{what} {_claimed(c)} {verb} the interval {interval}"
    side = "above" if clo > hi else "below"
    return "inconsistent", f"claim {side} the estimate: {what} {_claimed(c)} vs interval {interval}"


def compare_claims(
    estimates: Any,
    *,
    claims: Any = None,
    available: Iterable[str] | Mapping[str, Any] | None = None,
    tol: float = 0.005,
) -> pd.DataFrame:
    """Set estimates beside the claims, with a verdict per claim-part.

    Parameters
    ----------
    estimates : DataFrame or object with a ``table`` attribute
        Tidy estimates with columns ``factor, estimand, estimate`` and, if there are intervals,
        ``ci_low, ci_high`` (a decomposition's ``.table``). An optional ``view`` column is
        carried through.
    claims : None, Registry, str, list of ids or Claims, or DataFrame, optional
        Which claims; defaults to every claim of :data:`DEFAULT_REGISTRY`. A DataFrame is read
        as a (filtered) :func:`claims_registry` table.
    available : iterable or mapping of str, optional
        Factor groups present in the data (e.g. ``sim.factors``), used to explain why a claim
        cannot be estimated ("no alliance measured: no relationship factor in the data"). The
        factors in ``estimates`` always count as available.
    tol : float, default 0.005
        Tolerance used only when an estimate has no interval (see Notes).

    Returns
    -------
    DataFrame
        One row per claim-part (per matching estimate row, e.g. one per ``view``), columns
        ``claim, factor, component, claimed, claimed_low, claimed_high, estimand, estimate,
        ci_low, ci_high, verdict, reason`` (plus ``view`` if ``estimates`` has one).
        ``claimed`` is the published text.

    Notes
    -----
    A claim is only compared with an estimate of the *same* estimand and factor: a share of
    total variance is never set against a share of mean improvement.

    The claimed interval is ``[low, high]`` for a range ("40-50%") or for a point published
    with its interval (r = .278 [.256, .299]), and ``[value, value]`` for a point. Verdicts:

    - ``"consistent"``: the claimed interval overlaps the estimate's ``[ci_low, ci_high]``
      (for a point: the point lies inside the interval);
    - ``"inconsistent"``: no overlap; the reason says whether the claim lies above or below;
    - ``"not estimable here"``: the claim has no number ("the rest", "n.s."), its estimand or
      factor is absent from the table (the reason says what data it would need: an alliance
      measure, a waitlist arm, ...), or the estimate is missing.

    With a design-based table (a ``nonspecific`` share of mean improvement, from
    ``design_based_shares``), relationship and expectancy shares of mean improvement are not
    estimable: the arms cannot split them, and the reason points to the nonspecific row.

    Without an interval (``ci_low``/``ci_high`` NaN, e.g. ``n_boot=0``) the verdict comes from
    the point estimate alone, which must lie within ``tol`` of the claimed interval; the reason
    then starts with "no interval". Such a verdict ignores sampling error: run a bootstrap
    before reading it as a test.

    Examples
    --------
    >>> import pandas as pd
    >>> import commonfactors as cf
    >>> est = pd.DataFrame({"factor": ["relationship"], "estimand": ["share_total_variance"],
    ...                     "estimate": [0.06], "ci_low": [0.04], "ci_high": [0.09]})
    >>> out = cf.compare_claims(est, claims=["seed_relationship_low", "elliott_2018_empathy"])
    >>> out[["claim", "estimand", "verdict"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['seed_relationship_low', 'share_total_variance', 'inconsistent'],
     ['elliott_2018_empathy', 'correlation', 'not estimable here'],
     ['elliott_2018_empathy', 'share_total_variance', 'consistent']]
    """
    table = getattr(estimates, "table", estimates)
    check_columns(table, ["factor", "estimand", "estimate"], param="estimates")
    tol = check_number("tol", tol, low=0.0)
    table = table.copy()
    for col in ("ci_low", "ci_high"):
        if col not in table.columns:
            table[col] = np.nan
    has_view = "view" in table.columns
    table["factor"] = table["factor"].astype(str)
    table["estimand"] = table["estimand"].astype(str)
    avail = set(table["factor"])
    if available is not None:
        if isinstance(available, str):
            available = [available]
        avail |= {str(a) for a in available}
    groups = {k: g for k, g in table.groupby(["factor", "estimand"], sort=False)}
    design_based = ("nonspecific", "share_mean_improvement") in groups

    rows: list[dict[str, Any]] = []
    for c in _resolve_claims(claims):
        base = {
            "claim": c.id,
            "factor": c.factor,
            "component": c.component,
            "claimed": c.text,
            "claimed_low": c.claimed_low,
            "claimed_high": c.claimed_high,
            "estimand": c.estimand,
        }
        empty: dict[str, Any] = {"estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        if has_view:
            empty["view"] = None
        if not c.is_numeric:
            rows.append(base | empty | {"verdict": "not estimable here",
                                        "reason": "claim has no numeric value"})
            continue
        match = groups.get((c.factor, c.estimand))
        if match is None:
            reason = _not_estimable_reason(c, avail, design_based)
            rows.append(base | empty | {"verdict": "not estimable here", "reason": reason})
            continue
        for rec in match.to_dict("records"):
            est, lo, hi = (_to_float(rec[k]) for k in ("estimate", "ci_low", "ci_high"))
            out = base | {"estimate": est, "ci_low": lo, "ci_high": hi}
            if has_view:
                out["view"] = rec["view"]
            if not np.isfinite(est):
                out |= {"verdict": "not estimable here", "reason": "the estimate is missing (NaN)"}
            else:
                verdict, reason = _verdict(c, est, lo, hi, tol)
                out |= {"verdict": verdict, "reason": reason}
            rows.append(out)
    cols = ["claim", "factor", "component", "claimed", "claimed_low", "claimed_high",
            "estimand", "estimate", "ci_low", "ci_high", "verdict", "reason"]
    if has_view:
        cols.insert(cols.index("estimand") + 1, "view")
    return pd.DataFrame(rows, columns=cols)
