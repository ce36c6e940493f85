"""What it would take: the world in which a published claim would be true.

``cf.what_it_would_take(claim_id)`` finds the simulator configuration that realises a claim
about a factor (by solving for that factor's effect, starting from a base preset) and sets the
parameters and other estimands it implies beside the published ones. Example: the relationship
explaining 80% of the total variance in improvement implies an alliance-improvement correlation
near .9, against Fluckiger et al.'s (2018) meta-analytic .278 [.256, .299].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from .._validation import check_option
from ..conversions import r_to_d
from ..errors import ClaimError
from ..estimands import SHARE_ESTIMANDS
from ._dgp import SimConfig
from .simulator import preset_config
from .truth import DEFAULT_FACTORS, analytic_truth

__all__ = ["what_it_would_take", "WhatItWouldTake"]

ESTIMANDS = SHARE_ESTIMANDS[:3] + ("share_mean_improvement", "correlation")
_EFFECT = {"relationship": "alliance_effect", "technique": "technique_effect",
           "expectancy": "expectancy_effect"}
# published comparison points (docs/claims.md)
_PUBLISHED = {
    "relationship": [("correlation", 0.278, "Fluckiger et al. 2018: r = .278 [.256, .299]"),
                     ("cohens_d", 0.579, "Fluckiger et al. 2018: d = .579"),
                     ("share_total_variance", 0.077, "Fluckiger et al. 2018: r^2 = 7.7%")],
    "expectancy": [("correlation", 0.18, "Constantino et al. 2018: r = .18"),
                   ("share_total_variance", 0.032, "Constantino et al. 2018: r^2 = 3.2%")],
    "technique": [("cohens_d", 0.20, "Wampold et al. 1997: differences between treatments d <= .20")],
}


@dataclass(frozen=True)
class WhatItWouldTake:
    """A claim, the configuration that realises it, and what that configuration implies.

    Attributes
    ----------
    claim : str; factor : str; estimand : str; target : float
    config : SimConfig usable with ``cf.simulate(config, ...)``
    table : DataFrame ``quantity, implied, published, source``
    """

    claim: str
    factor: str
    estimand: str
    target: float
    config: SimConfig
    table: pd.DataFrame

    def summary(self) -> str:
        lines = [f"what it would take: {self.claim} ({self.factor}, {self.estimand} = {self.target:.3f})"]
        for r in self.table.itertuples():
            pub = "" if pd.isna(r.published) else f"   published {r.published:.3f} ({r.source})"
            lines.append(f"  {r.quantity:40s} {r.implied:8.3f}{pub}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _value(t: pd.DataFrame, factor: str, estimand: str, view: str = "change") -> float:
    sel = t[(t.factor == factor) & (t.estimand == estimand) & (t.view == view)]
    return float(sel["value"].iloc[0]) if len(sel) else np.nan


def what_it_would_take(claim_id: str, *, factor: str | None = None, estimand: str | None = None,
                       value: float | None = None, base: str = "wampold_imel_2015",
                       clients_per_therapist: int = 15, n_sessions: int = 10) -> WhatItWouldTake:
    """The simulator world that realises a claim, beside the published parameters.

    Parameters
    ----------
    claim_id : str
        A claim of the registry (``cf.claims_registry()``), e.g. ``"seed_relationship_high"``.
    factor : str, optional
        Which part of a multi-part claim (default: the relationship if the claim has it).
    estimand : str, optional
        Read the claim as this estimand instead of the registry's (e.g. the 80% claim, whose
        estimand is unclear, as ``"share_total_variance"``).
    value : float, optional
        The claimed value (default: the registry's point value or the middle of its range).
    base : str
        The preset the other parameters come from.

    Returns
    -------
    WhatItWouldTake
        ``.config`` is a SimConfig (``cf.simulate(result.config, ...)`` draws from that world);
        ``.table`` lists the implied alliance-improvement correlation and d, the factor's share
        under every estimand, and the published values beside them.

    Examples
    --------
    >>> import commonfactors as cf
    >>> w = cf.what_it_would_take("seed_relationship_high", estimand="share_total_variance")
    >>> round(float(w.table.set_index("quantity").loc["correlation with improvement", "implied"]), 2)
    0.91
    """
    from ..claims.registry import get_claim

    try:
        parts = get_claim(claim_id)
    except Exception as exc:  # the registry raises ClaimError with the known ids
        raise ClaimError(str(exc)) from None
    by_factor = {p.factor: p for p in parts}
    if factor is None:
        factor = "relationship" if "relationship" in by_factor else parts[0].factor
    if factor not in by_factor:
        raise ClaimError(f"`factor`: claim {claim_id!r} has parts {', '.join(by_factor)}; got {factor!r}.")
    if factor not in _EFFECT:
        raise ClaimError(
            f"`factor`: what it would take is computed for relationship, technique and "
            f"expectancy; got {factor!r}.")
    part = by_factor[factor]
    estimand = estimand or part.estimand
    check_option("estimand", estimand, ESTIMANDS)
    if value is None:
        if part.value is not None and not pd.isna(part.value):
            value = float(part.value)
        elif part.low is not None and part.high is not None:
            value = (float(part.low) + float(part.high)) / 2
        else:
            raise ClaimError(f"claim {claim_id!r} ({factor}) has no numeric value; pass `value=`.")
    cfg0 = preset_config(base, clients_per_therapist=clients_per_therapist, n_sessions=n_sessions)
    cfg0 = cfg0.replace(alliance_reliability=max(cfg0.alliance_reliability, 0.99),
                        alliance_state_sd=min(cfg0.alliance_state_sd, 0.1),
                        reverse_effect=0.0)
    name = _EFFECT[factor]

    def world(effect: float) -> SimConfig:
        return cfg0.replace(**{name: effect})

    def gap(effect: float) -> float:
        t = analytic_truth(world(effect), DEFAULT_FACTORS, views=("change",))
        return _value(t, factor, estimand) - value

    lo, hi = 0.0, max(abs(getattr(cfg0, name)), 0.1)
    for _ in range(60):
        if gap(hi) > 0:
            break
        hi *= 2
    else:
        raise ClaimError(f"no effect size of {factor} reaches {estimand} = {value} in this design.")
    if gap(lo) > 0:
        raise ClaimError(f"{estimand} of {factor} is already above {value} with no effect.")
    effect = brentq(gap, lo, hi, xtol=1e-10)
    cfg = world(effect)
    t = analytic_truth(cfg, DEFAULT_FACTORS, views=("change",))
    r = _value(t, factor, "correlation")
    rows = [
        (f"{name} (outcome points per unit)", effect, np.nan, f"base preset {base}: {getattr(cfg0, name):.3f}"),
        ("correlation with improvement", r, np.nan, ""),
        ("cohens_d (from r)", float(r_to_d(r)), np.nan, ""),
    ]
    for est in ESTIMANDS[:4]:
        rows.append((est, _value(t, factor, est), np.nan, ""))
    table = pd.DataFrame(rows, columns=["quantity", "implied", "published", "source"])
    for est, pub, src in _PUBLISHED.get(factor, []):
        key = {"correlation": "correlation with improvement", "cohens_d": "cohens_d (from r)"}.get(est, est)
        m = table["quantity"] == key
        table.loc[m, "published"] = pub
        table.loc[m, "source"] = src
    return WhatItWouldTake(claim=claim_id, factor=factor, estimand=estimand, target=value,
                           config=cfg, table=table)
