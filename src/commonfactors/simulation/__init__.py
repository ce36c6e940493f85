"""The simulator with known truth: data-generating process, presets, population truth, and
"what it would take" for a published claim to hold.
"""

from .simulator import (
    Preset,
    SimConfig,
    Simulation,
    list_presets,
    preset_config,
    simulate,
    simulate_config,
)
from .truth import (
    DEFAULT_FACTORS,
    analytic_truth,
    empirical_truth,
    monte_carlo_truth,
    ols_mean_shares,
    sim_references,
    truth_table,
)
from .whatif import WhatItWouldTake, what_it_would_take

__all__ = [
    "simulate", "simulate_config", "SimConfig", "Simulation", "Preset", "list_presets",
    "preset_config", "DEFAULT_FACTORS", "analytic_truth", "empirical_truth", "monte_carlo_truth",
    "ols_mean_shares", "sim_references", "truth_table", "WhatItWouldTake", "what_it_would_take",
]
