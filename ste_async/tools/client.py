"""Tool-server client with typed outcomes.

An answer of the API itself, error or not, is the learning signal and becomes the model's
Observation. A transport fault (429, 5xx, timeout, reset, a body that does not decode) is
retried and never shown to the model; if the retry budget runs out, the outcome is
``unavailable`` and flagged in the record.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import msgspec
import orjson

from .._http import Session, close_session, get_json, make_session, post_bytes, with_retries
from .._resource import Resource
from ..config import RetryConfig, Timeouts
from ..errors import MalformedReplyError, RetryBudgetExceeded, TransientError

__all__ = ("UNAVAILABLE_OBSERVATION", "ToolClient", "ToolOutcome", "render_observation")

UNAVAILABLE_OBSERVATION = "The API did not answer (service unavailable). Try again later."


class ToolOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a tool call produced."""

    kind: Literal["ok", "api_error", "unavailable"]
    status: int  # the API's status; 0 when unavailable
    body: str  # JSON text of the API's answer ("" when unavailable)
    attempts: int
    latency_s: float


class _Envelope(msgspec.Struct):
    status: int
    body: msgspec.Raw


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def render_observation(outcome: ToolOutcome, limit: int) -> str:
    """The Observation text: the API's answer as text, truncated like the study's (2,048)."""
    if outcome.kind == "unavailable":
        return UNAVAILABLE_OBSERVATION
    text = outcome.body
    if text.startswith('"'):
        # a plain-text API (the study's BMTools tools) answers a JSON string: show the text
        try:
            decoded = orjson.loads(text)
            if isinstance(decoded, str):
                text = decoded
        except orjson.JSONDecodeError:
            pass
    return text[:limit]


class ToolClient(Resource):
    """Async context manager around one pooled session to the tool server."""

    def __init__(
        self,
        url: str,
        *,
        concurrency: int,
        timeouts: Timeouts,
        retry: RetryConfig,
        seed: int = 0,
    ):
        self.url = url.rstrip("/")
        self._call_url = self.url + "/call"
        # fast_acquire: an uncontended acquire does not yield to the event loop
        self._limiter = anyio.Semaphore(concurrency, fast_acquire=True)
        self._concurrency = concurrency
        self._timeouts = timeouts
        self._retry = retry
        self._rng = random.Random(seed ^ 0x5EED)
        self._session: Session | None = None
        self.retries: Counter[str] = Counter()
        self.calls = 0
        self.unavailable = 0

    async def _open(self, stack: AsyncExitStack) -> None:
        session = make_session(self._concurrency, self._timeouts)
        stack.push_async_callback(close_session, session)
        self._session = session

    @property
    def in_flight(self) -> int:
        return self._concurrency - self._limiter.value

    async def list_apis(self) -> list[dict[str, Any]]:
        """The APIs the server offers, asked once and not retried (a preflight check).

        Raises :class:`ConnectError` or :class:`ReadTimeoutError` when the server cannot be
        reached, :class:`ServerError` or :class:`RequestRejectedError` for an error status,
        and :class:`MalformedReplyError` for a body that is not JSON.
        """
        self._require_open()
        assert self._session is not None
        apis: list[dict[str, Any]] = await get_json(self._session, self.url + "/apis")
        return apis

    async def call(self, api: str, args: dict[str, Any] | str, context: str = ""
                   ) -> ToolOutcome:
        """Call ``api`` with ``args``; never raises for a fault of the tool or the wire.

        ``context`` names the call's place in the protocol; only recorders use it.
        """
        self._require_open()
        body = orjson.dumps({"api": api, "args": args})
        started = time.monotonic()
        self.calls += 1
        async with self._limiter:
            try:
                (status, answer), attempts = await with_retries(
                    lambda _attempt: self._attempt(body),
                    self._retry,
                    self._rng,
                    what=f"tool call {api}",
                    on_retry=self._on_retry,
                )
            except RetryBudgetExceeded as exc:
                self.unavailable += 1
                return ToolOutcome(
                    kind="unavailable",
                    status=0,
                    body="",
                    attempts=exc.attempts,
                    latency_s=time.monotonic() - started,
                )
        return ToolOutcome(
            kind="ok" if status < 400 else "api_error",
            status=status,
            body=answer,
            attempts=attempts,
            latency_s=time.monotonic() - started,
        )

    async def _attempt(self, body: bytes) -> tuple[int, str]:
        self._require_open()  # a retry may come after the client was closed
        assert self._session is not None
        raw = await post_bytes(self._session, self._call_url, body)
        try:
            envelope = _ENVELOPE.decode(raw)
        except msgspec.DecodeError as exc:
            raise MalformedReplyError(
                f"{self._call_url} sent a body that is not a tool answer: {exc}",
                endpoint=self._call_url,
            ) from exc
        return envelope.status, bytes(envelope.body).decode("utf-8", "replace")

    def _on_retry(self, exc: TransientError, delay: float) -> None:
        self.retries[type(exc).__name__] += 1
