"""Axes-level figures for decompositions, claims, trajectories and bootstrap output.

Every function takes plain tidy DataFrames, draws on ``ax`` (a new one when None) and returns
the Axes.
"""

from .figures import (
    ESTIMAND_LABELS,
    FACTOR_COLORS,
    FACTOR_LABELS,
    estimand_label,
    factor_color,
    factor_label,
    plot_bootstrap,
    plot_caterpillar,
    plot_pie_vs_bar,
    plot_precision,
    plot_sensitivity,
    plot_shares,
    plot_trajectories,
)

__all__ = [
    "FACTOR_COLORS", "FACTOR_LABELS", "ESTIMAND_LABELS", "factor_color", "factor_label",
    "estimand_label", "plot_shares", "plot_pie_vs_bar", "plot_trajectories", "plot_caterpillar",
    "plot_bootstrap", "plot_sensitivity", "plot_precision",
]
