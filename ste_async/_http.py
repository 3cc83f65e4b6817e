"""The one place where aiohttp's exceptions become this package's error tree, and the retry loop."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import anyio

from .config import RetryConfig, Timeouts
from .errors import (
    ConnectError,
    RateLimitedError,
    ReadTimeoutError,
    RequestRejectedError,
    RetryBudgetExceeded,
    ServerError,
    TransientError,
)
from .retry import backoff_delay, parse_retry_after, should_retry

__all__ = ("client_timeout", "make_session", "post_bytes", "with_retries")

T = TypeVar("T")

_JSON_HEADERS = {"Content-Type": "application/json"}


def client_timeout(t: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read)


def make_session(limit: int, timeouts: Timeouts, headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    """One pooled session; the connector is sized from config, not aiohttp's default of 100."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=client_timeout(timeouts),
        headers=headers,
        skip_auto_headers=("User-Agent",),
    )


async def post_bytes(session: aiohttp.ClientSession, url: str, body: bytes) -> bytes:
    """POST ``body`` and return the reply's bytes; every failure is translated here."""
    try:
        async with session.post(url, data=body, headers=_JSON_HEADERS) as resp:
            raw = await resp.read()
            status = resp.status
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    except TimeoutError:
        raise ReadTimeoutError(f"no reply from {url} in time", endpoint=url) from None
    except aiohttp.ClientConnectionError as exc:
        raise ConnectError(f"{url}: {type(exc).__name__}: {exc}", endpoint=url) from None
    except aiohttp.ClientPayloadError as exc:
        raise ConnectError(f"{url}: truncated reply: {exc}", endpoint=url) from None
    if status == 429:
        raise RateLimitedError(f"{url} answered 429", endpoint=url, retry_after=retry_after)
    if status >= 500:
        raise ServerError(
            f"{url} answered HTTP {status}", status=status, endpoint=url, retry_after=retry_after
        )
    if status >= 400:
        text = raw[:2000].decode("utf-8", "replace")
        raise RequestRejectedError(
            f"{url} rejected the request with HTTP {status}: {text}",
            status=status,
            endpoint=url,
            body=text,
        )
    return raw


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
