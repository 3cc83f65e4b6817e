"""One exception tree for the whole package, branched by what the caller can do.

    SteError
    ├── ConfigError              fix the input: bad config, unknown API, corrupt catalog
    │   ├── UnknownApiError
    │   ├── CatalogError
    │   └── ScoreInputError      a prediction file, batch list or label set that cannot be scored
    ├── TransientError           retry with backoff: the fault is on the wire or the server
    │   ├── RateLimitedError     429, carries Retry-After
    │   ├── ServerError          5xx
    │   ├── ConnectError         refused, reset, DNS
    │   ├── ReadTimeoutError
    │   └── MalformedReplyError  a body that does not decode
    ├── RequestRejectedError     4xx other than 429: retrying cannot help (context too long, ...)
    ├── RetryBudgetExceeded      a transient fault outlived the retry policy
    ├── ReplayMissError          replay mode met a request the cassette does not hold
    ├── StoreError               the run directory cannot be used
    │   └── RunBusyError         another process is writing it (wait, or read what is done)
    └── LifecycleError           a client or writer used outside its ``async with`` (a bug)

Every error carries the context needed to act on it (endpoint, api, episode id) in its
message. Transport errors from aiohttp (and timeouts, and bodies that do not decode as JSON)
become this tree in one place, ``ste_async._http``; the clients translate the msgspec errors
of their own reply types. A translated error keeps the original as its ``__cause__``.
"""

from __future__ import annotations

__all__ = (
    "CatalogError",
    "ConfigError",
    "ConnectError",
    "LifecycleError",
    "MalformedReplyError",
    "RateLimitedError",
    "ReadTimeoutError",
    "ReplayMissError",
    "RequestRejectedError",
    "RetryBudgetExceeded",
    "RunBusyError",
    "ScoreInputError",
    "ServerError",
    "SteError",
    "StoreError",
    "TransientError",
    "UnknownApiError",
)


class SteError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(SteError):
    """The configuration or an input file is wrong; the message says what to fix."""


class UnknownApiError(ConfigError):
    """An API name that the catalog does not hold."""


class CatalogError(ConfigError):
    """A catalog file that cannot be read as ToolBench or ste_async format."""


class ScoreInputError(ConfigError):
    """A prediction file, batch list or label set that cannot be scored as given."""


class TransientError(SteError):
    """A fault that a retry may cure."""

    def __init__(self, message: str, *, endpoint: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.endpoint = endpoint
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """HTTP 429."""

    status = 429  # like ServerError and RequestRejectedError, so callers can quote it


class ServerError(TransientError):
    """HTTP 5xx."""

    def __init__(self, message: str, *, status: int, endpoint: str = "",
                 retry_after: float | None = None):
        super().__init__(message, endpoint=endpoint, retry_after=retry_after)
        self.status = status


class ConnectError(TransientError):
    """The connection could not be made or was dropped."""


class ReadTimeoutError(TransientError):
    """No complete reply within the read timeout."""


class MalformedReplyError(TransientError):
    """A reply whose body cannot be decoded."""


class RequestRejectedError(SteError):
    """The server refused the request itself (4xx other than 429); retrying cannot help."""

    def __init__(self, message: str, *, status: int, endpoint: str = "", body: str = ""):
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint
        self.body = body


class RetryBudgetExceeded(SteError):
    """A transient fault persisted past the retry policy; ``last`` is the final fault."""

    def __init__(self, message: str, *, attempts: int, last: TransientError):
        super().__init__(message)
        self.attempts = attempts
        self.last = last


class ReplayMissError(SteError):
    """Replay mode met a request that the cassette does not hold."""


class StoreError(SteError):
    """The run directory is missing, locked or belongs to another configuration."""


class RunBusyError(StoreError):
    """Another process (an exploration, a distillation) holds the run directory's lock."""


class LifecycleError(SteError, RuntimeError):
    """A client, store or writer entered twice, or used before it was entered or after it was
    closed: a bug in the calling code, so the message says which object and what state."""
