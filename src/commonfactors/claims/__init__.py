"""The registry of published claims and claim-versus-estimate tables.

Every published figure is held once, here, with its estimand and source; presets and
"what it would take" read their published values from this registry.
"""

from ._record import ESTIMANDS, STATUSES, Claim
from .registry import (
    DEFAULT_REGISTRY,
    Registry,
    add_claim,
    claims_registry,
    compare_claims,
    get_claim,
)

__all__ = ["ESTIMANDS", "STATUSES", "Claim", "Registry", "DEFAULT_REGISTRY", "claims_registry", "get_claim", "add_claim",
           "compare_claims"]
