"""The scripted LLM as an OpenAI-compatible HTTP server, for tests, benches and offline runs.

It serves ``/v1/chat/completions`` with the replies of :class:`~tool_mocks.policy.ScriptedPolicy`
and, around them, the parts of a vLLM server the engine talks to: ``/v1/models`` (with
``max_model_len``), ``/tokenize`` and ``/detokenize`` (the template preflight), ``/metrics``
(the load gauges an adaptive client reads) and ``/health``. Stop sequences, ``max_tokens`` and
the context window are enforced as a real server would.

Latency can be fixed per request (with a spread drawn from the request's seed), per generated
token, and growing with the requests in flight, the way a batching server slows down under
load; ``slots`` bounds the requests served at once and queues the rest, as vLLM does.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
import orjson
from aiohttp import web

from ._serve import serve_app
from .policy import ScriptedPolicy

__all__ = ("MockLlmConfig", "MockLlmState", "llm_state", "make_llm_app", "serve_mock_llm")

_JSON = "application/json"


class MockLlmConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Behaviour of the scripted LLM."""

    host: str = "127.0.0.1"
    port: int = 0
    model: str = "ste-mock"
    latency_ms: float = 0.0  # per request
    latency_spread: float = 0.0  # uniform +-fraction of latency_ms, drawn from the request seed
    per_token_ms: float = 0.0  # per generated token
    load_ms: float = 0.0  # extra per request already in flight (a batching server's slowdown)
    error_rate: float = 0.2  # chance that a trial's first act step holds a mistake
    slots: int = 0  # requests served at once (0 = no limit); the rest queue, as in vLLM
    context_window: int = 32768

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be in [0, 1]")
        if min(self.latency_ms, self.per_token_ms, self.load_ms) < 0:
            raise ValueError("latencies must be >= 0")


class MockLlmState:
    """The counters and queue of one mock server; :func:`llm_state` gives them to tests."""

    served = 0  # replies sent by every instance in this process (tests read it)

    def __init__(self, config: MockLlmConfig):
        self.config = config
        self.policy = ScriptedPolicy(config.error_rate)
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.completed = 0
        self.generated_tokens = 0
        # a batching server runs at most `slots` requests; the rest wait in its queue
        self.slots = anyio.Semaphore(config.slots) if config.slots else None
        self.waiting = 0


_STATE = web.AppKey("mock_llm", MockLlmState)


def _tokens(text: str) -> int:
    """The mock's token count: about four characters a token, at least one."""
    return max(1, len(text) // 4)


def _cut_at_stop(text: str, stop: Any) -> str:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    for s in stops:
        if s and s in text:
            text = text[: text.index(s)]
    return text


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": {"message": message}}),
                        content_type=_JSON)


async def _chat(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    try:
        payload = orjson.loads(await request.read())
        messages = payload["messages"]
        seed = int(payload.get("seed") or 0)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return _error(400, "bad request body")
    prompt_tokens = sum(_tokens(str(m.get("content", ""))) for m in messages)
    if prompt_tokens > state.config.context_window:
        return _error(400, f"This model's maximum context length is "
                           f"{state.config.context_window} tokens; "
                           f"the messages hold {prompt_tokens}.")
    state.requests += 1
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        text = _cut_at_stop(state.policy.reply(messages, seed), payload.get("stop"))
        max_tokens = int(payload.get("max_tokens") or 0)
        finish = "stop"
        if max_tokens and _tokens(text) > max_tokens:
            text, finish = text[: max_tokens * 4], "length"
        completion_tokens = _tokens(text)
        c = state.config
        base = c.latency_ms
        if c.latency_spread:
            base *= 1.0 + c.latency_spread * (2.0 * random.Random(seed ^ 0x1A7E).random() - 1.0)
        delay = base + c.per_token_ms * completion_tokens + c.load_ms * (state.in_flight - 1)
        if state.slots is not None:
            state.waiting += 1
            try:
                await state.slots.acquire()
            finally:
                state.waiting -= 1
            try:
                await anyio.sleep(delay / 1000.0)
            finally:
                state.slots.release()
        elif delay > 0:
            await anyio.sleep(delay / 1000.0)
    finally:
        state.in_flight -= 1
    state.generated_tokens += completion_tokens
    state.completed += 1
    MockLlmState.served += 1
    body = {
        "id": f"chatcmpl-{state.requests}",
        "object": "chat.completion",
        "model": state.config.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
    return web.Response(body=orjson.dumps(body), content_type=_JSON)


async def _models(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    return web.Response(
        body=orjson.dumps({"object": "list", "data": [
            {"id": state.config.model, "object": "model",
             "max_model_len": state.config.context_window}]}),
        content_type=_JSON,
    )


def _render_chat(messages: list[dict[str, Any]]) -> str:
    # a ChatML-style template: the preflight checks that every message comes out, in order
    turns = [f"<|im_start|>{m.get('role')}\n{m.get('content')}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


async def _tokenize(request: web.Request) -> web.Response:
    # vLLM's /tokenize for chat messages; the mock's tokens are the prompt's UTF-8 bytes
    try:
        body = orjson.loads(await request.read())
        text = _render_chat(body["messages"]) if "messages" in body else str(body["prompt"])
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return _error(400, "expected messages or prompt")
    tokens = list(text.encode())
    state = request.app[_STATE]
    return web.Response(body=orjson.dumps({
        "count": len(tokens), "max_model_len": state.config.context_window, "tokens": tokens}),
        content_type=_JSON)


async def _detokenize(request: web.Request) -> web.Response:
    try:
        tokens = orjson.loads(await request.read())["tokens"]
        prompt = bytes(tokens).decode("utf-8", "replace")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return _error(400, "expected tokens: a list of byte values")
    return web.Response(body=orjson.dumps({"prompt": prompt}), content_type=_JSON)


async def _metrics(request: web.Request) -> web.Response:
    # the two gauges vLLM exposes that an adaptive client reads
    state = request.app[_STATE]
    text = (
        f'vllm:num_requests_running{{model_name="{state.config.model}"}} '
        f"{state.in_flight - state.waiting}\n"
        f'vllm:num_requests_waiting{{model_name="{state.config.model}"}} {state.waiting}\n'
        f'vllm:request_success_total{{model_name="{state.config.model}"}} {state.completed}\n'
    )
    return web.Response(text=text)


async def _health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type=_JSON)


def make_llm_app(config: MockLlmConfig | None = None) -> web.Application:
    """The mock server as an aiohttp app, to run in any event loop or runner."""
    app = web.Application()
    app[_STATE] = MockLlmState(config or MockLlmConfig())
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/health", _health)
    app.router.add_post("/tokenize", _tokenize)
    app.router.add_post("/detokenize", _detokenize)
    return app


def llm_state(app: web.Application) -> MockLlmState:
    """The state of a server made by :func:`make_llm_app`."""
    return app[_STATE]


@contextlib.asynccontextmanager
async def serve_mock_llm(config: MockLlmConfig | None = None) -> AsyncIterator[str]:
    """Run the scripted LLM in this event loop; yields its base URL."""
    config = config or MockLlmConfig()
    async with serve_app(make_llm_app(config), config.host, config.port) as url:
        yield url
