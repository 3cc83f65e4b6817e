"""OpenAI-compatible chat client: one pooled session, typed replies, routing and retries.

Requests are spread over one or more endpoints by load (fewest requests in flight) with
affinity: every call that names the same ``affinity`` key goes to the same endpoint while it is
up, so one episode's turns reuse that server's prefix cache. An endpoint whose requests keep
failing at the transport level is taken out for a cool-down and tried again afterwards.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import msgspec

from .._http import Session, close_session, get_text, make_session, post_bytes, with_retries
from .._resource import Resource
from ..config import RetryConfig, Timeouts
from ..errors import (
    ConfigError,
    ConnectError,
    MalformedReplyError,
    ReadTimeoutError,
    SteError,
    TransientError,
)
from .adaptive import AdaptiveLimiter

__all__ = ("Completion", "LlmClient", "Message", "encode_chat_request")

Message = dict[str, str]


class _ReplyMessage(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    message: _ReplyMessage
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ChatReply(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage | None = None


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """One model reply and what it cost."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    attempts: int
    endpoint: str


AUTO_MAX = 4096  # the most requests "auto" lets in flight (and the connection pool's size)
_WAITING = re.compile(r"^vllm:num_requests_waiting(?:\{[^}]*\})? ([0-9.eE+]+)", re.M)

_DECODER = msgspec.json.Decoder(_ChatReply)
_ENCODER = msgspec.json.Encoder()


def encode_chat_request(
    model: str,
    messages: Sequence[Message],
    *,
    stop: str | Sequence[str] | None,
    seed: int,
    temperature: float,
    max_tokens: int,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The body of a chat completion request; the same arguments give the same bytes."""
    payload: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "seed": seed,
    }
    if stop:
        payload["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if extra:
        payload.update(extra)
    return _ENCODER.encode(payload)


class _Endpoint:
    __slots__ = ("calls", "down_until", "failures", "in_flight", "url")

    def __init__(self, url: str):
        self.url = url.rstrip("/") + "/v1/chat/completions"
        self.in_flight = 0
        self.calls = 0
        self.failures = 0
        self.down_until = 0.0


class LlmClient(Resource):
    """Async context manager; :meth:`complete` is the only call the engine makes.

    While open it owns one pooled session and, with ``concurrency="auto"``, a task group
    whose task reads the servers' queue; closing stops that task, then closes the session.
    """

    COOL_DOWN_S = 5.0
    FAILURES_TO_DOWN = 3
    metrics_interval_s = 0.5  # how often "auto" reads the servers' queue

    def __init__(
        self,
        urls: Sequence[str],
        model: str,
        *,
        concurrency: int | Literal["auto"],
        timeouts: Timeouts,
        retry: RetryConfig,
        api_key_env: str = "OPENAI_API_KEY",
        seed: int = 0,
    ):
        if not urls:
            raise ConfigError("no LLM endpoint given: pass --llm-url URL or --llm mock")
        self.model = model
        self._endpoints = [_Endpoint(u) for u in urls]
        # episode -> endpoint, most recent last; bounded, since episodes end without saying so
        self._affinity: OrderedDict[str, _Endpoint] = OrderedDict()
        self._adaptive: AdaptiveLimiter | None = None
        self._limiter: anyio.Semaphore | AdaptiveLimiter
        if concurrency == "auto":
            self._adaptive = self._limiter = AdaptiveLimiter(hi=AUTO_MAX)
            self._concurrency = AUTO_MAX
        else:
            # fast_acquire: an uncontended acquire does not yield to the event loop
            self._limiter = anyio.Semaphore(concurrency, fast_acquire=True)
            self._concurrency = concurrency
        self._timeouts = timeouts
        self._retry = retry
        self._rng = random.Random(seed)
        key = os.environ.get(api_key_env, "")
        self._headers = {"Authorization": f"Bearer {key}"} if key else None
        self._session: Session | None = None
        self.retries: Counter[str] = Counter()
        self.waiting_since: float | None = None  # set while calls back off on a failing server
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.calls = 0

    async def _open(self, stack: AsyncExitStack) -> None:
        session = make_session(self._concurrency, self._timeouts, self._headers)
        stack.push_async_callback(close_session, session)
        self._session = session
        if self._adaptive is not None:
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)  # released first: stop the reader
            tg.start_soon(self._watch_server_queue, session, self._adaptive)

    @property
    def in_flight(self) -> int:
        if self._adaptive is not None:
            return self._adaptive.in_flight
        assert isinstance(self._limiter, anyio.Semaphore)
        return self._concurrency - self._limiter.value

    @property
    def queued(self) -> int:
        if self._adaptive is not None:
            return self._adaptive.waiting
        assert isinstance(self._limiter, anyio.Semaphore)
        return self._limiter.statistics().tasks_waiting

    @property
    def limit(self) -> int:
        """Requests allowed in flight now (it moves with ``concurrency="auto"``)."""
        return int(self._adaptive.limit) if self._adaptive is not None else self._concurrency

    async def _watch_server_queue(self, session: Session, adaptive: AdaptiveLimiter) -> None:
        """Read the servers' own queue length (vLLM's /metrics) every ``metrics_interval_s``,
        from the servers that publish one."""
        urls = [e.url.removesuffix("/v1/chat/completions") + "/metrics" for e in self._endpoints]
        while urls:
            total, readable = 0, []
            for url in urls:
                try:
                    text = await get_text(session, url)
                except (ConnectError, ReadTimeoutError):
                    readable.append(url)  # down for now; the retry logic handles it
                    continue
                except SteError:
                    continue  # an error status or a body that is not text: no metrics here
                found = _WAITING.findall(text)
                if found:
                    total += sum(int(float(v)) for v in found)
                    readable.append(url)
            urls = readable
            adaptive.server_sample(total if urls else None)
            await anyio.sleep(self.metrics_interval_s)

    def calls_per_endpoint(self) -> dict[str, int]:
        return {e.url: e.calls for e in self._endpoints}

    def _pick(self, affinity: str | None) -> _Endpoint:
        now = time.monotonic()
        if affinity is not None:
            chosen = self._affinity.get(affinity)
            if chosen is not None:
                self._affinity.move_to_end(affinity)
            if chosen is not None and chosen.down_until <= now:
                return chosen
        live = [e for e in self._endpoints if e.down_until <= now] or self._endpoints
        chosen = min(live, key=lambda e: e.in_flight)
        if affinity is not None:
            self._affinity[affinity] = chosen
            if len(self._affinity) > 4 * self._concurrency:
                self._affinity.popitem(last=False)
        return chosen

    def release_affinity(self, affinity: str) -> None:
        """Forget an affinity whose work is done (the map also drops the oldest by itself)."""
        self._affinity.pop(affinity, None)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        stop: str | Sequence[str] | None,
        seed: int,
        temperature: float,
        max_tokens: int,
        affinity: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Completion:
        """One chat completion, retried on transient faults by the configured policy."""
        body = encode_chat_request(self.model, messages, stop=stop, seed=seed,
                                   temperature=temperature, max_tokens=max_tokens, extra=extra)
        return await self.send(body, affinity=affinity)

    async def send(self, body: bytes, *, affinity: str | None = None) -> Completion:
        """Send an encoded request (see :func:`encode_chat_request`)."""
        self._require_open()
        started = time.monotonic()
        async with self._limiter:
            admitted = time.monotonic()
            (reply, endpoint), attempts = await with_retries(
                lambda _attempt: self._attempt(body, affinity),
                self._retry,
                self._rng,
                what=f"LLM call for {affinity or 'request'}",
                on_retry=self._on_retry,
                on_recovered=self._on_recovered,
            )
            if self._adaptive is not None and attempts == 1:
                self._adaptive.observe(time.monotonic() - admitted)
        if not reply.choices:
            raise MalformedReplyError("LLM reply has no choices", endpoint=endpoint)
        choice = reply.choices[0]
        usage = reply.usage or _Usage()
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        # the study strips every reply before it enters the conversation
        return Completion(
            text=(choice.message.content or "").strip(),
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_s=time.monotonic() - started,
            attempts=attempts,
            endpoint=endpoint,
        )

    async def _attempt(self, body: bytes, affinity: str | None) -> tuple[_ChatReply, str]:
        self._require_open()  # a retry may come after the client was closed
        assert self._session is not None
        endpoint = self._pick(affinity)
        endpoint.in_flight += 1
        try:
            raw = await post_bytes(self._session, endpoint.url, body)
        except TransientError:
            endpoint.failures += 1
            if endpoint.failures >= self.FAILURES_TO_DOWN and len(self._endpoints) > 1:
                endpoint.down_until = time.monotonic() + self.COOL_DOWN_S
                endpoint.failures = 0
            raise
        finally:
            endpoint.in_flight -= 1
        endpoint.failures = 0
        endpoint.calls += 1
        try:
            return _DECODER.decode(raw), endpoint.url
        except msgspec.DecodeError as exc:
            raise MalformedReplyError(
                f"{endpoint.url} sent a reply that is not a chat completion: {exc}",
                endpoint=endpoint.url,
            ) from exc

    def _on_retry(self, exc: TransientError, delay: float) -> None:
        self.retries[type(exc).__name__] += 1
        if self.waiting_since is None:
            self.waiting_since = time.monotonic()

    def _on_recovered(self) -> None:
        self.waiting_since = None
