"""ste_async: Simulated Trial and Error (STE) tool learning as an async exploration engine.

The names below are loaded on first use, so importing one module of the package (the mocks
import ``ste_async.catalog``, say) does not load the rest of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalog import ApiSpec, Catalog, Param, builtin_catalog, load_catalog
    from .config import ExploreConfig, LlmSettings, load_explore_config
    from .errors import ConfigError, SteError
    from .parsing import Call, Feedback, Final, parse_react, read_reflection
    from .records import EpisodeRecord, Step, Trial

__all__ = (
    "ApiSpec",
    "Call",
    "Catalog",
    "ConfigError",
    "EpisodeRecord",
    "ExploreConfig",
    "Feedback",
    "Final",
    "LlmSettings",
    "Param",
    "SteError",
    "Step",
    "Trial",
    "builtin_catalog",
    "load_catalog",
    "load_explore_config",
    "parse_react",
    "read_reflection",
)

__version__ = "0.1.0"

_HOMES = {
    "catalog": ("ApiSpec", "Catalog", "Param", "builtin_catalog", "load_catalog"),
    "config": ("ExploreConfig", "LlmSettings", "load_explore_config"),
    "errors": ("ConfigError", "SteError"),
    "parsing": ("Call", "Feedback", "Final", "parse_react", "read_reflection"),
    "records": ("EpisodeRecord", "Step", "Trial"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'ste_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value
