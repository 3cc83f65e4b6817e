"""Rate limiting and seeded fault and latency draws for the tool server."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Literal

from .config import FaultConfig, LatencyConfig, RateLimit
from .simulators._base import stable_int

__all__ = ("FaultKind", "TokenBucket", "draw_fault", "draw_latency_s", "unit_draw")

FaultKind = Literal["server_error", "reset", "malformed", "slow"]


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; :meth:`take` says how long to wait if empty."""

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic):
        self.rate = limit.rate
        self.burst = float(limit.burst)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    def take(self) -> float:
        """0.0 when a token was taken; otherwise the seconds until one is available."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


def unit_draw(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    return stable_int(*parts) / 2.0**64


def draw_fault(faults: FaultConfig, seed: int, key: str, attempt: int) -> FaultKind | None:
    """The fault of the ``attempt``-th request for ``key``: fixed by the seed, not by timing."""
    if not faults.any:
        return None
    u = unit_draw(seed, "fault", key, attempt)
    for kind in ("server_error", "reset", "malformed", "slow"):
        p = getattr(faults, kind)
        if u < p:
            return kind
        u -= p
    return None


def draw_latency_s(latency: LatencyConfig, seed: int, key: str, attempt: int) -> float:
    if latency.ms <= 0:
        return 0.0
    if latency.distribution == "fixed":
        return latency.ms / 1000.0
    u = unit_draw(seed, "latency", key, attempt)
    if latency.distribution == "uniform":
        return max(0.0, latency.ms * (1.0 + latency.spread * (2.0 * u - 1.0))) / 1000.0
    # lognormal with median ``ms``: inverse normal CDF by a rational approximation is overkill;
    # the Box-Muller transform of two seeded uniforms is exact and cheap.
    u2 = unit_draw(seed, "latency2", key, attempt)
    z = math.sqrt(-2.0 * math.log(max(u, 1e-12))) * math.cos(2.0 * math.pi * u2)
    return latency.ms * math.exp(latency.spread * z) / 1000.0
