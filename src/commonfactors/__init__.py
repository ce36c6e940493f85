"""commonfactors: how much of psychotherapy outcome is due to the relationship?

Simulation with known truth, multilevel models, labelled variance and mean-improvement
decompositions with cluster-bootstrap intervals, and a registry of the published claims.

>>> import commonfactors as cf
>>> sim = cf.simulate("norcross_lambert_2011", n_therapists=4, clients_per_therapist=3,
...                   n_sessions=3, seed=1)
>>> sorted(sim.factors)
['expectancy', 'extra_therapeutic', 'relationship', 'technique']
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use, so `import commonfactors`
# stays fast and does not load statsmodels until a model is fitted)
_PUBLIC = {
    # data layer
    "read_sessions": "data",
    "change_view": "data",
    "validate_sessions": "data",
    # datasets
    "load_dataset": "datasets",
    "list_datasets": "datasets",
    # simulator and truth
    "simulate": "simulate",
    "list_presets": "simulate",
    "SimConfig": "simulate",
    "Simulation": "simulate",
    "truth_table": "truth",
    # models
    "fit_mixed": "models",
    "MixedFit": "models",
    "disaggregate": "models",
    "lag_within": "models",
    # decomposition and bootstrap
    "decompose": "decompose",
    "Decomposition": "decompose",
    "components": "decompose",
    "cluster_bootstrap": "bootstrap",
    # claims
    "claims_registry": "claims",
    "get_claim": "claims",
    "add_claim": "claims",
    "compare_claims": "claims",
    "what_it_would_take": "whatif",
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
    # report, planning, lagged analyses
    "write_report": "report",
    "run_report": "report",
    "plan_precision": "planning",
    "lagged_effects": "lagged",
}

__all__ = sorted(_PUBLIC) + ["__version__"]

# Functions that share their module's name are bound eagerly: importing the submodule would
# otherwise bind the module object to the package attribute of the same name.
from .simulate import simulate as simulate  # noqa: E402,I001


_SUBMODULES = {"data", "datasets", "simulate", "truth", "terms", "models", "decompose",
               "bootstrap", "claims", "meta", "conversions", "whatif", "plots", "report",
               "planning", "lagged", "errors", "cli"}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        if name in _SUBMODULES:  # `cf.plots`, `cf.truth`, ... without an explicit import
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'commonfactors' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_PUBLIC))
from .decompose import decompose as decompose  # noqa: E402,I001
