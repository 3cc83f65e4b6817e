"""A pure retry policy: whether to try again and how long to wait, clock and dice passed in."""

from __future__ import annotations

import random

from .config import RetryConfig
from .errors import TransientError

__all__ = ("backoff_delay", "parse_retry_after", "should_retry")


def should_retry(policy: RetryConfig, attempt: int, elapsed: float, error: BaseException) -> bool:
    """True when ``error`` (raised by attempt number ``attempt``, 1-based) deserves another try."""
    if not isinstance(error, TransientError):
        return False
    return attempt < policy.attempts and elapsed < policy.max_elapsed


def backoff_delay(
    policy: RetryConfig, attempt: int, retry_after: float | None, rng: random.Random
) -> float:
    """Full-jitter exponential backoff, never shorter than the server's Retry-After."""
    ceiling = min(policy.cap, policy.base * (2 ** (attempt - 1)))
    delay = rng.uniform(0.0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.cap))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in (possibly fractional) seconds; else None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP-date would need the wall clock; the backoff covers it
    return seconds if seconds >= 0 else None
