"""commonfactors: how much of psychotherapy outcome is due to the relationship?

Simulation with known truth, multilevel models, labelled variance and mean-improvement
decompositions with cluster-bootstrap intervals, and a registry of the published claims.

Layout, one room per step (data flows one way: sessions -> models -> decomposition ->
bootstrap -> claims -> plots/report; the public names below are re-exported here):

* ``sessions``: canonical long schema, readers, checks, change view;
* ``datasets``: bundled synthetic and real datasets;
* ``simulation``: data-generating process, presets, population truth, what it would take;
* ``models``: lme4 formulas, designs and engines (``models.nested``: the fast nested engine);
* ``decomposition``: factor shares, components, mean-improvement shares, bootstrap replicates;
* ``claims``: the registry of published claims and their comparison with estimates;
* ``meta``: random-effects meta-regression and design-based shares of arm-level data;
* ``plots`` and ``report``: figures and the HTML report;
* top level: ``errors``, ``estimands`` (every estimand defined once), ``parallel`` (one runner),
  ``bootstrap``, ``conversions``, ``planning``, ``cli``.

>>> import commonfactors as cf
>>> sim = cf.simulate("norcross_lambert_2011", n_therapists=4, clients_per_therapist=3,
...                   n_sessions=3, seed=1)
>>> sorted(sim.factors)
['expectancy', 'extra_therapeutic', 'relationship', 'technique']
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

# public name -> module that defines it (imported on first use, so `import commonfactors`
# stays fast and does not load statsmodels until a model is fitted)
_PUBLIC = {
    # data layer
    "read_sessions": "sessions",
    "change_view": "sessions",
    "validate_sessions": "sessions",
    "check_sessions": "sessions",
    "clean_sessions": "sessions",
    "raise_on_errors": "sessions",
    "score_items": "sessions",
    "wide_to_long": "sessions",
    # datasets
    "load_dataset": "datasets",
    "list_datasets": "datasets",
    # simulator and truth
    "simulate": "simulation",
    "list_presets": "simulation",
    "SimConfig": "simulation",
    "Simulation": "simulation",
    "truth_table": "simulation",
    # models
    "fit_mixed": "models",
    "MixedFit": "models",
    "disaggregate": "models",
    "lag_within": "models",
    "anova": "models",
    # decomposition and bootstrap
    "decompose": "decomposition",
    "Decomposition": "decomposition",
    "components": "decomposition",
    "cluster_bootstrap": "bootstrap",
    # claims
    "claims_registry": "claims",
    "get_claim": "claims",
    "add_claim": "claims",
    "compare_claims": "claims",
    "what_it_would_take": "simulation",
    "design_based_shares": "meta",
    "random_effects_metareg": "meta",
    "Claim": "claims",
    "Registry": "claims",
    # conversions
    "r_to_d": "conversions",
    "d_to_r": "conversions",
    "icc_to_d": "conversions",
    "d_to_icc": "conversions",
    "besd": "conversions",
    "r_to_r2": "conversions",
    "d_to_r2": "conversions",
    "ConvergenceWarning": "models",
    # tables for papers
    "to_table": "tables",
    "to_excel": "tables",
    "PaperTable": "tables",
    # report, planning, lagged analyses
    "write_report": "report",
    "run_report": "report",
    "plan_precision": "planning",
    "lagged_effects": "models",
}

__all__ = sorted(_PUBLIC) + ["__version__"]

_SUBMODULES = {"sessions", "datasets", "simulation", "models", "decomposition", "bootstrap",
               "claims", "meta", "conversions", "plots", "report", "planning", "errors", "cli",
               "estimands", "parallel", "tables"}

# Module paths that moved when the package was split into subpackages; `cf.truth.sim_references`
# and friends keep working.
_ALIASES = {"truth": "simulation.truth", "terms": "models.terms", "whatif": "simulation.whatif",
            "lagged": "models.lagged", "data": "sessions"}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        if name in _SUBMODULES:  # `cf.plots`, `cf.meta`, ... without an explicit import
            return importlib.import_module(f".{name}", __name__)
        if name in _ALIASES:
            return importlib.import_module(f".{_ALIASES[name]}", __name__)
        raise AttributeError(f"module 'commonfactors' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_PUBLIC))
