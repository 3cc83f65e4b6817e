"""Requests in flight that follow the server: ``--llm-concurrency auto``.

A fixed limit has to be guessed: too low leaves a GPU idle, too high only queues requests
inside the server, where they wait, grow latency and hold memory, with no gain in throughput.
:class:`AdaptiveLimiter` moves the limit from two signals:

- the server's own queue, where it reports one (vLLM's ``/metrics``:
  ``num_requests_waiting``): requests waiting there mean the server is full, so the limit
  stops growing and shrinks towards what the server is running;
- otherwise the latency gradient: the limit grows while latency stays near the lowest seen
  (the server has room), and shrinks when latency climbs well above it (requests are
  queueing somewhere).

Growth is multiplicative while there is room (slow start), and the decrease is
multiplicative (AIMD's backoff), so it settles near the server's capacity within a few
windows. The decision function is pure (:func:`next_limit`), tested as a table.
"""

from __future__ import annotations

import math
import time
from types import TracebackType

import anyio

__all__ = ("AdaptiveLimiter", "next_limit")


def next_limit(limit: float, *, in_flight: int, demand: int, min_latency: float,
               latency: float, server_waiting: int | None, lo: int, hi: int) -> float:
    """The limit for the next window, from this window's measurements.

    ``in_flight``: our requests at the server; ``demand``: those plus the ones waiting for a
    slot here; ``server_waiting``: the server's own queue, when it reports one.
    """
    binding = demand >= 0.8 * limit  # otherwise the limit holds nothing back
    if server_waiting is not None:
        if server_waiting > 0:
            # the server is full: aim just above what it runs, never grow
            return max(lo, min(limit * 0.9, (in_flight - server_waiting) * 1.05))
        return min(hi, limit * 2.0) if binding else limit  # slow start: double while room
    if min_latency <= 0 or latency <= 0:
        return limit
    gradient = min_latency / latency  # 1.0 = no queueing anywhere
    if gradient < 0.5:
        return max(lo, limit * 0.8)
    if gradient > 0.8 and binding:
        return min(hi, limit * 1.25 + math.sqrt(limit))
    return limit


class AdaptiveLimiter:
    """A semaphore whose size changes; ``async with limiter:`` around each request."""

    def __init__(self, initial: int = 16, lo: int = 4, hi: int = 4096, window_s: float = 1.0):
        self.limit = float(initial)
        self.lo, self.hi = lo, hi
        self.in_flight = 0
        self.waiting = 0
        self.server_waiting: int | None = None  # set by whoever reads the server's metrics
        self._window_s = window_s
        self._window_start = time.monotonic()
        self._latencies: list[float] = []
        self._min_latency = math.inf
        self._freed = anyio.Event()
        self.history: list[tuple[float, float]] = []  # (time, limit), for benchmarks

    async def __aenter__(self) -> float:
        while self.in_flight >= int(self.limit):
            self.waiting += 1
            try:
                await self._freed.wait()
            finally:
                self.waiting -= 1
        self.in_flight += 1
        return time.monotonic()

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        event, self._freed = self._freed, anyio.Event()
        event.set()

    def observe(self, latency_s: float) -> None:
        """Report one completed request's latency (used when the server reports no queue)."""
        self._latencies.append(latency_s)
        self._min_latency = min(self._min_latency, latency_s)
        if self.server_waiting is not None:
            return  # the server's own queue decides; see server_sample
        now = time.monotonic()
        if now - self._window_start < self._window_s or len(self._latencies) < 8:
            return
        self._latencies.sort()
        self._move(self._latencies[len(self._latencies) // 2], None)
        # let the floor of "no-load latency" drift up slowly, in case the first were lucky
        self._min_latency *= 1.01
        self._latencies.clear()
        self._window_start = now

    def server_sample(self, waiting: int | None) -> None:
        """Report the server's queue length (None: it reports none); moves the limit once per
        sample, so a stale reading is never acted on twice."""
        self.server_waiting = waiting
        if waiting is not None:
            self._move(0.0, waiting)
            self._latencies.clear()

    def _move(self, latency: float, waiting: int | None) -> None:
        old = self.limit
        self.limit = next_limit(old, in_flight=self.in_flight,
                                demand=self.in_flight + self.waiting,
                                min_latency=self._min_latency, latency=latency,
                                server_waiting=waiting, lo=self.lo, hi=self.hi)
        self.history.append((time.monotonic(), self.limit))
        if self.limit > old:
            self._wake()
