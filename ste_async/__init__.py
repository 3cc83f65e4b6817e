"""ste_async: Simulated Trial and Error (STE) tool learning as an async exploration engine."""

from .catalog import ApiSpec, Catalog, Param, builtin_catalog, load_catalog
from .config import ExploreConfig, load_explore_config
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
