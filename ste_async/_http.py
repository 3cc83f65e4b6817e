"""Every HTTP request of the package goes through here, and so does the retry loop.

This is the one module that knows aiohttp's exceptions: a request that fails on the wire, runs
out of time, answers an error status or sends a body that does not decode raises this
package's error (see ``ste_async.errors``) with the original as its cause. Callers hold a
:data:`Session`, pooled (:func:`make_session`) for a run's traffic or short-lived
(:func:`one_off_session`) for a few checks, and never handle aiohttp's errors themselves.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, NamedTuple, TypeVar

import aiohttp
import anyio
import orjson

from .config import RetryConfig, Timeouts
from .errors import (
    ConfigError,
    ConnectError,
    MalformedReplyError,
    RateLimitedError,
    ReadTimeoutError,
    RequestRejectedError,
    RetryBudgetExceeded,
    ServerError,
    TransientError,
)
from .retry import backoff_delay, parse_retry_after, should_retry

__all__ = (
    "CLOSE_TIMEOUT_S",
    "Reply",
    "Session",
    "client_timeout",
    "close_session",
    "decode_json",
    "get_json",
    "get_text",
    "make_session",
    "one_off_session",
    "post_bytes",
    "post_json",
    "raise_for_status",
    "request",
    "with_retries",
)

T = TypeVar("T")

#: The session type the clients hold; only this module creates one.
Session = aiohttp.ClientSession

#: How long closing a session may take; it is shielded from cancellation, so it is bounded.
CLOSE_TIMEOUT_S = 5.0

_JSON_HEADERS = {"Content-Type": "application/json"}

# URLs aiohttp refuses before sending anything (NonHttpUrlClientError is new in aiohttp 3.10)
_BAD_URL = (aiohttp.InvalidURL, getattr(aiohttp, "NonHttpUrlClientError", aiohttp.InvalidURL))


class Reply(NamedTuple):
    """A reply read whole: its status, its body, and its Retry-After in seconds if any."""

    status: int
    body: bytes
    retry_after: float | None


def client_timeout(t: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read)


def make_session(limit: int, timeouts: Timeouts, headers: dict[str, str] | None = None) -> Session:
    """One pooled session; the connector is sized from config, not aiohttp's default of 100."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=client_timeout(timeouts),
        headers=headers,
        skip_auto_headers=("User-Agent",),
    )


async def close_session(session: Session) -> None:
    """Close ``session``, shielded so that a cancelled owner still releases its connections,
    and bounded by :data:`CLOSE_TIMEOUT_S` so that the shield never holds a cancellation up
    for long."""
    with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
        await session.close()


@asynccontextmanager
async def one_off_session(total_s: float) -> AsyncIterator[Session]:
    """A session for a few checks (a preflight, health polls): each request may take at most
    ``total_s`` seconds in all, and the session is closed on leaving however it is left."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=total_s))
    try:
        yield session
    finally:
        await close_session(session)


async def request(session: Session, method: str, url: str, *, body: bytes | None = None,
                  json: Any = None) -> Reply:
    """Send one request (``body`` as JSON bytes, or ``json`` to encode) and read the whole
    reply, whatever its status; only a request that does not complete raises.

    A timeout becomes :class:`ReadTimeoutError`, a failed, dropped or truncated exchange
    :class:`ConnectError` (both transient), a URL that cannot be requested
    :class:`ConfigError`.
    """
    if json is not None:
        body = orjson.dumps(json)
    headers = _JSON_HEADERS if body is not None else None
    try:
        async with session.request(method, url, data=body, headers=headers) as resp:
            raw = await resp.read()
            return Reply(resp.status, raw, parse_retry_after(resp.headers.get("Retry-After")))
    except TimeoutError as exc:
        raise ReadTimeoutError(f"no reply from {url} in time", endpoint=url) from exc
    except _BAD_URL as exc:
        raise ConfigError(f"{url} is not a URL that can be requested: {exc}") from exc
    except aiohttp.ClientPayloadError as exc:
        raise ConnectError(f"{url}: truncated reply: {exc}", endpoint=url) from exc
    except aiohttp.ClientError as exc:
        raise ConnectError(f"{url}: {type(exc).__name__}: {exc}", endpoint=url) from exc


def raise_for_status(reply: Reply, url: str) -> bytes:
    """The body of a successful reply; an error status raises the error it stands for:
    429 :class:`RateLimitedError` and 5xx :class:`ServerError` (transient, with Retry-After),
    any other 4xx :class:`RequestRejectedError` quoting the start of the body."""
    status = reply.status
    if status == 429:
        raise RateLimitedError(f"{url} answered 429", endpoint=url, retry_after=reply.retry_after)
    if status >= 500:
        raise ServerError(f"{url} answered HTTP {status}", status=status, endpoint=url,
                          retry_after=reply.retry_after)
    if status >= 400:
        text = reply.body[:2000].decode("utf-8", "replace")
        raise RequestRejectedError(
            f"{url} rejected the request with HTTP {status}: {text}",
            status=status,
            endpoint=url,
            body=text,
        )
    return reply.body


def decode_json(raw: bytes, url: str) -> Any:
    """``raw`` decoded as JSON; a body that is not JSON is a :class:`MalformedReplyError`."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedReplyError(f"{url} sent a body that is not JSON: {exc}",
                                  endpoint=url) from exc


async def post_bytes(session: Session, url: str, body: bytes) -> bytes:
    """POST the JSON ``body`` and return the bytes of a successful reply."""
    return raise_for_status(await request(session, "POST", url, body=body), url)


async def post_json(session: Session, url: str, payload: Any) -> Any:
    """POST ``payload`` as JSON and return the decoded JSON of a successful reply."""
    return decode_json(raise_for_status(await request(session, "POST", url, json=payload), url),
                       url)


async def get_json(session: Session, url: str) -> Any:
    """GET ``url`` and return the decoded JSON of a successful reply."""
    return decode_json(raise_for_status(await request(session, "GET", url), url), url)


async def get_text(session: Session, url: str) -> str:
    """GET ``url`` and return a successful reply's body as UTF-8 text."""
    raw = raise_for_status(await request(session, "GET", url), url)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedReplyError(f"{url} sent a body that is not UTF-8 text: {exc}",
                                  endpoint=url) from exc


async def with_retries(
    attempt_fn: Callable[[int], Awaitable[T]],
    policy: RetryConfig,
    rng: random.Random,
    *,
    what: str,
    on_retry: Callable[[TransientError, float], None] | None = None,
    on_recovered: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """Run ``attempt_fn(attempt)`` until it succeeds; (result, attempts used).

    Transient errors are retried by the policy; anything else propagates at once.
    Cancellation interrupts the backoff sleep and propagates.
    """
    start = time.monotonic()
    attempt = 1
    while True:
        try:
            result = await attempt_fn(attempt)
        except TransientError as exc:
            elapsed = time.monotonic() - start
            if not should_retry(policy, attempt, elapsed, exc):
                raise RetryBudgetExceeded(
                    f"{what}: gave up after {attempt} attempts: {exc}", attempts=attempt, last=exc
                ) from exc
            delay = backoff_delay(policy, attempt, exc.retry_after, rng)
            if on_retry is not None:
                on_retry(exc, delay)
            await anyio.sleep(delay)
            attempt += 1
            continue
        if attempt > 1 and on_recovered is not None:
            on_recovered()
        return result, attempt
