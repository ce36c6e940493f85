"""Subset arithmetic shared by the truth and the estimators: Shapley values and commonality.

Given the marginal R2 of the model refitted with every subset of factor groups, the Shapley value
(hierarchical partitioning; Lai et al. 2022) of group g is the average over orders of g's
increment; commonality analysis splits R2 into the unique part of each group and the parts
shared by every combination of groups.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from math import factorial

__all__ = ["all_subsets", "shapley_values", "commonality"]


def all_subsets(groups: Sequence[str]) -> list[frozenset[str]]:
    """Every subset of ``groups`` (the empty set first, the full set last)."""
    out: list[frozenset[str]] = []
    for k in range(len(groups) + 1):
        out.extend(frozenset(c) for c in combinations(groups, k))
    return out


def shapley_values(
    r2: Mapping[frozenset[str], float] | Callable[[frozenset[str]], float],
    groups: Sequence[str],
) -> dict[str, float]:
    """Shapley value of each group: ``sum_S |S|!(k-|S|-1)!/k! (R2(S+g) - R2(S))``.

    ``r2`` maps every subset (a frozenset of group names; the empty set maps to 0 or to the
    intercept-only model's value) to its R2. The values sum to ``r2[full] - r2[empty]``.
    """
    get = r2 if callable(r2) else r2.__getitem__
    k = len(groups)
    out = {}
    for g in groups:
        others = [h for h in groups if h != g]
        total = 0.0
        for size in range(k):
            w = factorial(size) * factorial(k - size - 1) / factorial(k)
            for s in combinations(others, size):
                s = frozenset(s)
                total += w * (get(s | {g}) - get(s))
        out[g] = total
    return out


def commonality(r2: Mapping[frozenset[str], float], groups: Sequence[str]) -> dict[frozenset[str], float]:
    """Commonality coefficients: the part of R2(full) unique to each combination of groups.

    For a combination C of the groups G, the coefficient is
    ``(-1)^(|C|+1) * sum_{T subset of C} (-1)^|T| R2(G - T)`` (Mood 1969; Seibold & McPhee 1979):
    for one group it is its unique part ``R2(G) - R2(G - g)``, for two groups
    ``R2(G - a) + R2(G - b) - R2(G - a - b) - R2(G)``. The coefficients over all non-empty
    combinations sum to ``R2(G) - R2(empty)``.
    """
    full = frozenset(groups)
    base = r2.get(frozenset(), 0.0)
    out = {}
    for size in range(1, len(groups) + 1):
        for combo in combinations(groups, size):
            value = 0.0
            for tsize in range(size + 1):
                for t in combinations(combo, tsize):
                    value += (-1) ** tsize * (r2[full - frozenset(t)] - base)
            out[frozenset(combo)] = (-1) ** (size + 1) * value
    return out
