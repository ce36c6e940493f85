"""The simulator: therapists, clients and sessions with known truth, and the claim presets.

``cf.simulate(preset_or_config, *, n_therapists, clients_per_therapist, n_sessions, seed,
**overrides)`` draws one dataset from the linear structural model of :mod:`commonfactors.simulation._dgp`
and returns it with its population truth (:mod:`commonfactors.simulation.truth`).

Presets encode the published claims (docs/claims.md). Each preset fixes some parameters and states
headline targets (e.g. the relationship explains 12% of total improvement variance); the free
parameters are solved for, at the requested design, so that the truth table shows the headline
exactly. Keyword overrides are applied *after* calibration: they change the world, and the truth
table shows their consequences (e.g. lower alliance reliability attenuates the relationship
share below the headline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from ..errors import ConfigError
from ._dgp import SimConfig
from ._sample import sample_rows
from .truth import DEFAULT_FACTORS, analytic_truth, truth_table

__all__ = ["simulate", "simulate_config", "list_presets", "Simulation", "SimConfig", "PRESETS",
           "preset_config"]


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    claims: tuple[str, ...]
    params: dict[str, Any]
    targets: tuple[tuple[str, str, str, float], ...]  # factor, estimand, view, value
    free: tuple[str, ...] = ()


def _d_to_r(d: float) -> float:
    return d / np.sqrt(d * d + 4)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "lambert_1992",
            "Lambert's pie: of the mean improvement, 40% extra-therapeutic (natural course), 30% "
            "relationship, 15% expectancy, 15% technique, each relative to its reference level "
            "(alliance 3 on a 1-7 scale, expectancy 3 on 0-10, control arm).",
            ("lambert_1992", "seed_technique", "seed_expectancy", "seed_extra"),
            dict(natural_course=3.2, alliance_effect=1.2, expectancy_effect=0.4,
                 technique_effect=2.4, alliance_state_effect=0.0, alliance_state_sd=0.2,
                 alliance_reliability=0.95),
            (("extra_therapeutic", "share_mean_improvement", "change", 0.40),
             ("relationship", "share_mean_improvement", "change", 0.30),
             ("expectancy", "share_mean_improvement", "change", 0.15),
             ("technique", "share_mean_improvement", "change", 0.15)),
        ),
        Preset(
            "norcross_lambert_2011",
            "Norcross & Lambert (2011): of the variance in improvement, relationship 12%, "
            "technique (method) 8%, therapist 7%, patient/extra-therapeutic 30%, other "
            "(expectancy here) 3%, unexplained 40%.",
            ("norcross_lambert_2011", "seed_relationship_low"),
            dict(expectancy_alliance_corr=0.0),
            (("relationship", "share_total_variance", "change", 0.12),
             ("technique", "share_total_variance", "change", 0.08),
             ("therapist", "share_total_variance", "change", 0.07),
             ("extra_therapeutic", "share_total_variance", "change", 0.30),
             ("expectancy", "share_total_variance", "change", 0.03)),
            ("alliance_effect", "technique_effect", "therapist_effect_sd", "support_effect",
             "expectancy_effect"),
        ),
        Preset(
            "wampold_imel_2015",
            "Wampold & Imel (2015) / Wampold (2015): alliance d = .57, expectations d = .24, "
            "treatment differences d = .20, therapist d = .45 (ICC about .05); expectancy "
            "correlates .2 with the client part of the alliance.",
            ("wampold_2015_summary", "flueckiger_2018_alliance", "therapist_effects"),
            dict(expectancy_alliance_corr=0.2),
            (("relationship", "share_total_variance", "change", _d_to_r(0.57) ** 2),
             ("expectancy", "share_total_variance", "change", _d_to_r(0.24) ** 2),
             ("technique", "share_total_variance", "change", _d_to_r(0.20) ** 2),
             ("therapist", "share_total_variance", "change", 0.45**2 / (4 + 0.45**2))),
            ("alliance_effect", "expectancy_effect", "technique_effect", "therapist_effect_sd"),
        ),
        Preset(
            "seed_relationship_low",
            "The relationship explains 12% of the total variance in improvement.",
            ("seed_relationship_low", "norcross_lambert_2011"),
            dict(),
            (("relationship", "share_total_variance", "change", 0.12),),
            ("alliance_effect",),
        ),
        Preset(
            "seed_relationship_reserved",
            "The relationship is 45% of the therapy-attributable variance (relationship + "
            "technique + expectancy).",
            ("seed_relationship_reserved",),
            dict(),
            (("relationship", "share_therapy_variance", "change", 0.45),),
            ("alliance_effect",),
        ),
        Preset(
            "seed_relationship_high",
            "What 'the relationship accounts for 80%' would need as a variance share: the "
            "relationship explains 80% of the variance in improvement, which implies an "
            "alliance-improvement correlation near .9 (see the 'correlation' row of the truth), "
            "against the published .278.",
            ("seed_relationship_high",),
            dict(alliance_reliability=0.99, alliance_state_sd=0.1, therapist_effect_sd=0.3,
                 improvement_sd=0.5, session_sd=0.8, technique_effect=0.5, expectancy_effect=0.1,
                 support_effect=0.2),
            (("relationship", "share_total_variance", "change", 0.80),),
            ("alliance_effect",),
        ),
        Preset(
            "spurious_alliance",
            "No causal alliance effect: alliance responds to improvement so far (reverse "
            "causation), which alone produces the published alliance-improvement correlation of "
            ".278. The relationship's causal share of mean improvement is 0.",
            ("flueckiger_2018_alliance", "seed_relationship_low"),
            dict(alliance_effect=0.0, alliance_state_effect=0.0),
            (("relationship", "correlation", "change", 0.278),
             ("relationship", "share_mean_improvement", "change", 0.0)),
            ("reverse_effect",),
        ),
    ]
}


def list_presets() -> pd.DataFrame:
    """The presets: name, description, the claim ids each encodes, and its headline targets."""
    rows = []
    for p in PRESETS.values():
        heads = "; ".join(f"{f} {e} ({v}) = {val:.4g}" for f, e, v, val in p.targets)
        rows.append({"preset": p.name, "description": p.description, "claims": ", ".join(p.claims),
                     "headline": heads})
    return pd.DataFrame(rows)


def _lookup(table: pd.DataFrame, factor: str, estimand: str, view: str) -> float:
    sel = table[(table.factor == factor) & (table.estimand == estimand) & (table.view == view)]
    if sel.empty:
        raise ConfigError(f"truth has no value for {factor} / {estimand} / {view}")
    return float(sel["value"].iloc[0])


@lru_cache(maxsize=64)
def _calibrated(name: str, m: int, n: int) -> SimConfig:
    p = PRESETS[name]
    base = SimConfig(clients_per_therapist=m, n_sessions=n).replace(**p.params)
    if not p.free:
        return base
    views = tuple(sorted({t[2] for t in p.targets}))

    def build(x):
        return base.replace(**{k: float(v) for k, v in zip(p.free, x, strict=False)})

    def resid(x):
        t = analytic_truth(build(x), DEFAULT_FACTORS, views=views)
        return [_lookup(t, f, e, v) - val for f, e, v, val in p.targets
                if not (e == "share_mean_improvement")]

    x0 = np.array([max(abs(getattr(base, k)), 0.5) for k in p.free], dtype=float)
    lower = np.array([0.0 if (k.endswith("_sd") or k == "reverse_effect") else -np.inf
                      for k in p.free])
    sol = least_squares(resid, x0, bounds=(lower, np.inf), xtol=1e-12, ftol=1e-12, gtol=1e-12)
    worst = float(np.max(np.abs(sol.fun))) if len(sol.fun) else 0.0
    if worst > 1e-4:
        raise ConfigError(
            f"preset {name!r} cannot reach its headline targets at clients_per_therapist={m}, "
            f"n_sessions={n} (largest miss {worst:.4f}); choose a larger design."
        )
    return build(sol.x)


def preset_config(name: str, *, clients_per_therapist: int = 15, n_sessions: int = 10,
                  **overrides: Any) -> SimConfig:
    """The calibrated configuration of a preset at a design, with overrides applied after."""
    if name not in PRESETS:
        raise ConfigError(
            f"`preset`: unknown preset {name!r}; expecting one of {', '.join(PRESETS)}."
        )
    cfg = _calibrated(name, int(clients_per_therapist), int(n_sessions))
    return cfg.replace(**overrides) if overrides else cfg


@dataclass(frozen=True)
class Simulation:
    """One simulated dataset with its population truth.

    Attributes
    ----------
    data : long DataFrame: therapist, client, session, outcome, alliance, expectancy, arm, support
    truth : DataFrame: factor, estimand, value, view, reference, method, mc_se
    factors : the factor-group mapping of ``data``
    config : the SimConfig that generated it
    preset : preset name or None
    headline : the preset's headline targets beside their truth values
    """

    data: pd.DataFrame
    truth: pd.DataFrame | None
    factors: dict[str, list[str]]
    config: SimConfig
    preset: str | None = None
    headline: pd.DataFrame | None = field(default=None)

    def __repr__(self) -> str:
        d = self.data
        return (f"Simulation(preset={self.preset!r}, therapists={d['therapist'].nunique()}, "
                f"clients={d['client'].nunique()}, rows={len(d)})")

    def summary(self) -> str:
        lines = [repr(self)]
        if self.headline is not None and len(self.headline):
            lines.append("headline targets (truth):")
            for r in self.headline.itertuples():
                lines.append(f"  {r.factor:18s} {r.estimand:26s} {r.view:7s} target {r.target:.4f}"
                             f"  truth {r.value:.4f}")
        return "\n".join(lines)


def simulate_config(cfg: SimConfig, *, seed: int | None = None, truth: bool = True,
                    preset: str | None = None, targets=()) -> Simulation:
    """Draw one dataset from a :class:`SimConfig` (no calibration)."""
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    data = sample_rows(cfg, rng)
    tt = truth_table(cfg, DEFAULT_FACTORS) if truth else None
    head = None
    if tt is not None and targets:
        head = pd.DataFrame([{"factor": f, "estimand": e, "view": v, "target": val,
                              "value": _lookup(tt, f, e, v)} for f, e, v, val in targets])
    return Simulation(data=data, truth=tt, factors={k: list(v) for k, v in DEFAULT_FACTORS.items()},
                      config=cfg.replace(seed=cfg.seed if seed is None else seed),
                      preset=preset, headline=head)


def simulate(preset_or_config: str | SimConfig = "wampold_imel_2015", *,
             n_therapists: int | None = None, clients_per_therapist: int | None = None,
             n_sessions: int | None = None, seed: int | None = None, truth: bool = True,
             **overrides: Any) -> Simulation:
    """Simulate therapists, clients and sessions with known truth.

    Parameters
    ----------
    preset_or_config : str or SimConfig
        A preset name (see :func:`list_presets`) or a full configuration.
    n_therapists, clients_per_therapist, n_sessions : int, optional
        The design (defaults 40, 15, 10).
    seed : int, optional
        Seed of ``np.random.default_rng``; the same seed gives the same data.
    truth : bool
        Compute the truth table (Monte Carlo when the configuration has dropout or a bounded
        scale, which takes a few seconds).
    **overrides
        Any :class:`SimConfig` field, applied after the preset's calibration (e.g.
        ``alliance_reliability=0.7``, ``reverse_effect=0.1``, ``dropout="mar"``,
        ``dropout_rate=0.1``, ``bounds=(0, 27)``, ``integer=True``, ``caseload_spread=5``).

    Returns
    -------
    Simulation
        ``.data``, ``.truth``, ``.factors``, ``.config``, ``.headline``.

    Examples
    --------
    >>> import commonfactors as cf
    >>> sim = cf.simulate("norcross_lambert_2011", n_therapists=10, seed=1)
    >>> sim.data.shape
    (1500, 8)
    >>> t = sim.truth.query("view == 'change' and estimand == 'share_total_variance'")
    >>> round(float(t.set_index('factor').loc['relationship', 'value']), 3)
    0.12
    """
    design = {k: v for k, v in dict(n_therapists=n_therapists,
                                    clients_per_therapist=clients_per_therapist,
                                    n_sessions=n_sessions).items() if v is not None}
    if isinstance(preset_or_config, SimConfig):
        cfg = preset_or_config.replace(**design, **overrides)
        return simulate_config(cfg, seed=seed, truth=truth)
    if not isinstance(preset_or_config, str):
        raise ConfigError(
            "`preset_or_config`: expecting a preset name or a SimConfig; got "
            f"{type(preset_or_config).__name__}."
        )
    name = preset_or_config
    m = design.get("clients_per_therapist", SimConfig.clients_per_therapist)
    n = design.get("n_sessions", SimConfig.n_sessions)
    cfg = preset_config(name, clients_per_therapist=m, n_sessions=n)
    cfg = cfg.replace(**design, **overrides)
    targets = PRESETS[name].targets if not overrides else ()
    return simulate_config(cfg, seed=seed, truth=truth, preset=name, targets=targets)
