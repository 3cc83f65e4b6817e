"""Configuration of the mock tool server: frozen, validated, loadable from TOML."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal

import msgspec

__all__ = (
    "FaultConfig",
    "LatencyConfig",
    "LlmBackendConfig",
    "RateLimit",
    "ToolServerConfig",
    "UpstreamConfig",
    "load_tool_server_config",
)

DEFAULT_TODAY = dt.date(2024, 5, 17)


def _check_url(section: str, url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{section}: url {url!r} must start with http:// or https://")


class RateLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A token bucket: ``rate`` calls per second sustained, ``burst`` at once. 0 = no limit."""

    rate: float = 0.0
    burst: int = 0

    def __post_init__(self) -> None:
        if self.rate < 0 or self.burst < 0:
            raise ValueError("rate limit: rate and burst must be >= 0")
        if self.rate > 0 and self.burst < 1:
            raise ValueError("rate limit: burst must be >= 1 when a rate is set")


class FaultConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seeded fault injection, each a probability per request (off by default)."""

    server_error: float = 0.0  # 500/502/503 with a short body
    reset: float = 0.0  # the connection is dropped without an answer
    malformed: float = 0.0  # 200 with a body that is not JSON
    slow: float = 0.0  # the answer is delayed by slow_ms
    slow_ms: float = 2000.0

    def __post_init__(self) -> None:
        for name in ("server_error", "reset", "malformed", "slow"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"faults.{name} must be a probability in [0, 1], got {p}")
        if self.server_error + self.reset + self.malformed + self.slow > 1.0:
            raise ValueError("faults: the probabilities add up to more than 1")

    @property
    def any(self) -> bool:
        return (self.server_error + self.reset + self.malformed + self.slow) > 0


class LatencyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Added latency per call: a fixed delay, or drawn (seeded) around ``ms``."""

    ms: float = 0.0
    distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    spread: float = 0.5  # uniform: +-spread*ms; lognormal: sigma

    def __post_init__(self) -> None:
        if self.ms < 0 or self.spread < 0:
            raise ValueError("latency: ms and spread must be >= 0")


class UpstreamConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A real ToolBench/RapidAPI-style upstream; the key is read from ``key_env`` only."""

    url: str
    key_env: str = "STE_UPSTREAM_KEY"
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        _check_url("upstream", self.url)


class LlmBackendConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An OpenAI-compatible server that writes answers for APIs with no simulator."""

    url: str
    model: str = "default"
    temperature: float = 0.0
    max_tokens: int = 512
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        _check_url("llm", self.url)


class ToolServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the tool server needs; defaults give a fast, fault-free local server."""

    host: str = "127.0.0.1"
    port: int = 8765
    seed: int = 0
    today: dt.date = DEFAULT_TODAY
    catalog: str | None = None  # a ToolBench or ste_async catalog file; None = built-in 50
    cache_path: str | None = None  # SQLite file; None = in-memory only
    backend: Literal["simulate", "proxy", "llm"] = "simulate"
    rate_limit: RateLimit = RateLimit()
    rate_limits: dict[str, RateLimit] = {}
    faults: FaultConfig = FaultConfig()
    latency: LatencyConfig = LatencyConfig()
    upstream: UpstreamConfig | None = None
    llm: LlmBackendConfig | None = None
    max_body_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.backend == "proxy" and self.upstream is None:
            raise ValueError("backend 'proxy' needs an [upstream] section with a url")
        if self.backend == "llm" and self.llm is None:
            raise ValueError("backend 'llm' needs an [llm] section with a url")

    def limit_for(self, api: str) -> RateLimit:
        return self.rate_limits.get(api, self.rate_limit)


def load_tool_server_config(path: str | Path, **overrides: object) -> ToolServerConfig:
    """Read a TOML file (optionally a ``[tools]`` table) and apply ``overrides``."""
    from ste_async.errors import ConfigError

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    data = data.get("tools", data)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(data, ToolServerConfig)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
