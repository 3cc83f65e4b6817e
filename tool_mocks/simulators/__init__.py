"""Deterministic simulators of the 50 STE APIs, registered by full API name."""

from . import (  # noqa: F401  (each module registers its simulators on import)
    business,
    catalogs,
    dates,
    games,
    geo,
    knowledge,
    numbers,
    school,
    security,
    sports,
)
from ._base import REGISTRY, Reply, SimContext, Simulator

__all__ = ("REGISTRY", "Reply", "SimContext", "Simulator")
