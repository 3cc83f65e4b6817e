"""The scripted LLM as an OpenAI-compatible HTTP server, for tests, benches and offline runs.

It serves ``/v1/chat/completions`` with the replies of :class:`~tool_mocks.policy.ScriptedPolicy`
under OpenAI's contract as vLLM serves it (see :mod:`tool_mocks.chat_contract`): a request is
checked field by field and refused with OpenAI's error body (400 a bad field, 404 a model it
does not serve, 413 a body over ``max_body_bytes``); ``n`` choices, ``stream`` as server-sent
events (with the usage chunk ``stream_options.include_usage`` asks for), stop sequences,
``max_tokens`` and the context window behave as on a real server. Around it, the parts of a
vLLM server the engine talks to: ``/v1/models`` and ``/v1/models/{id}`` (with
``max_model_len``), ``/tokenize`` and ``/detokenize`` (the template preflight), ``/metrics``
(the load gauges an adaptive client reads) and ``/health``. Any other path, or a method a
route does not take, is an OpenAI-style JSON error too.

Latency can be fixed per request (with a spread drawn from the request's seed), per generated
token, and growing with the requests in flight, the way a batching server slows down under
load; ``slots`` bounds the requests served at once and queues the rest, as vLLM does.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import msgspec
import orjson
from aiohttp import web

from ._serve import BodyTooLarge, read_body, serve_app
from .chat_contract import ChatRequest, OpenAIError, parse_chat_request
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
    max_body_bytes: int = 8 << 20  # a longer request body is refused with 413

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be in [0, 1]")
        if self.max_body_bytes < 1 or self.context_window < 1:
            raise ValueError("max_body_bytes and context_window must be >= 1")
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
        self.started = int(time.time())  # the model card's "created"


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


def _error(exc: OpenAIError) -> web.Response:
    return web.Response(status=exc.status, body=exc.body(), content_type=_JSON)


async def _read(request: web.Request) -> bytes:
    """The request body, whole; a 413 in OpenAI's error shape past the configured limit."""
    limit = request.app[_STATE].config.max_body_bytes
    try:
        return await read_body(request, limit)
    except BodyTooLarge:
        raise OpenAIError(413, f"The request body is larger than this server accepts "
                               f"({limit:,} bytes).", code="request_too_large") from None


def _check_context(state: MockLlmState, prompt_tokens: int, max_tokens: int | None) -> None:
    """vLLM's refusal of a request that cannot fit the model's context window."""
    window = state.config.context_window
    if max_tokens is None and prompt_tokens > window:
        raise OpenAIError(400, f"This model's maximum context length is {window} tokens. "
                               f"However, your messages resulted in {prompt_tokens} tokens. "
                               "Please reduce the length of the messages.",
                          param="messages", code="context_length_exceeded")
    if max_tokens is not None and prompt_tokens + max_tokens > window:
        raise OpenAIError(400, f"This model's maximum context length is {window} tokens. "
                               f"However, you requested {prompt_tokens + max_tokens} tokens "
                               f"({prompt_tokens} in the messages, {max_tokens} in the "
                               "completion). Please reduce the length of the messages or "
                               "completion.", param="messages", code="context_length_exceeded")


def _choice_text(state: MockLlmState, chat: ChatRequest, index: int) -> tuple[str, str]:
    """(text, finish_reason) of choice ``index``: the policy's reply to the request's seed
    (the next seeds for further choices), cut at a stop sequence and at max_tokens."""
    text = _cut_at_stop(state.policy.reply(chat.messages, chat.seed + index), chat.stop)
    finish = "stop"
    if chat.max_tokens and _tokens(text) > chat.max_tokens:
        text, finish = text[: chat.max_tokens * 4], "length"
    return text, finish


async def _chat(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    try:
        chat = parse_chat_request(await _read(request), state.config.model)
        prompt_tokens = sum(_tokens(str(m.get("content", ""))) for m in chat.messages)
        _check_context(state, prompt_tokens, chat.max_tokens)
    except OpenAIError as exc:
        return _error(exc)
    state.requests += 1
    number = state.requests
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        choices = [_choice_text(state, chat, i) for i in range(chat.n)]
        completion_tokens = sum(_tokens(text) for text, _ in choices)
        c = state.config
        base = c.latency_ms
        if c.latency_spread:
            base *= 1.0 + c.latency_spread * (2.0 * random.Random(chat.seed ^ 0x1A7E).random() - 1.0)
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
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    if chat.stream:
        return await _stream(request, f"chatcmpl-{number}", state.config.model, choices,
                             usage if chat.include_usage else None)
    body = {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": state.config.model,
        "choices": [{"index": i, "message": {"role": "assistant", "content": text},
                     "logprobs": None, "finish_reason": finish}
                    for i, (text, finish) in enumerate(choices)],
        "usage": usage,
    }
    return web.Response(body=orjson.dumps(body), content_type=_JSON)


_PIECE = re.compile(r"\S*\s*")


async def _stream(request: web.Request, ident: str, model: str,
                  choices: list[tuple[str, str]], usage: dict[str, int] | None
                  ) -> web.StreamResponse:
    """The reply as server-sent events, the way vLLM streams it: per choice a first chunk with
    the role, one chunk per word, a last one with the finish reason; with
    ``stream_options.include_usage``, every chunk has ``usage: null`` and one more chunk, with
    no choices, carries the usage; then ``data: [DONE]``."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    created = int(time.time())

    def chunk(choice_list: list[dict[str, Any]], last_usage: Any = None) -> bytes:
        data: dict[str, Any] = {"id": ident, "object": "chat.completion.chunk",
                                "created": created, "model": model, "choices": choice_list}
        if usage is not None:
            data["usage"] = last_usage
        return b"data: " + orjson.dumps(data) + b"\n\n"

    def delta(index: int, content: dict[str, str], finish: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": content, "logprobs": None, "finish_reason": finish}

    for index, (text, finish) in enumerate(choices):
        await response.write(chunk([delta(index, {"role": "assistant", "content": ""})]))
        for piece in _PIECE.findall(text):
            if piece:
                await response.write(chunk([delta(index, {"content": piece})]))
        await response.write(chunk([delta(index, {}, finish)]))
    if usage is not None:
        await response.write(chunk([], usage))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _model_card(state: MockLlmState) -> dict[str, Any]:
    model = state.config.model
    return {"id": model, "object": "model", "created": state.started, "owned_by": "ste_async",
            "root": model, "parent": None, "max_model_len": state.config.context_window}


async def _models(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    return web.Response(body=orjson.dumps({"object": "list", "data": [_model_card(state)]}),
                        content_type=_JSON)


async def _model(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    wanted = request.match_info["model"]
    if wanted != state.config.model:
        return _error(OpenAIError(404, f"The model `{wanted[:200]}` does not exist.",
                                  param="model", code="model_not_found"))
    return web.Response(body=orjson.dumps(_model_card(state)), content_type=_JSON)


def _render_chat(messages: list[dict[str, Any]]) -> str:
    # a ChatML-style template: the preflight checks that every message comes out, in order
    turns = [f"<|im_start|>{m.get('role')}\n{m.get('content')}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


async def _tokenize(request: web.Request) -> web.Response:
    # vLLM's /tokenize for chat messages; the mock's tokens are the prompt's UTF-8 bytes
    state = request.app[_STATE]
    try:
        body = orjson.loads(await _read(request))
        if not isinstance(body, dict):
            raise OpenAIError(400, "expected a JSON object with messages or prompt")
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise OpenAIError(400, "'model' must be a string", param="model")
        if model and model != state.config.model:
            raise OpenAIError(404, f"The model `{model[:200]}` does not exist.", param="model",
                              code="model_not_found")
        if "messages" in body:
            messages = body["messages"]
            if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
                raise OpenAIError(400, "'messages' must be an array of message objects",
                                  param="messages")
            text = _render_chat(messages)
        elif isinstance(body.get("prompt"), str):
            text = body["prompt"]
        else:
            raise OpenAIError(400, "expected messages or prompt (a string)")
    except orjson.JSONDecodeError:
        return _error(OpenAIError(400, "request body is not JSON"))
    except OpenAIError as exc:
        return _error(exc)
    tokens = list(text.encode())
    return web.Response(body=orjson.dumps({
        "count": len(tokens), "max_model_len": state.config.context_window, "tokens": tokens}),
        content_type=_JSON)


async def _detokenize(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await _read(request))
        tokens = body.get("tokens") if isinstance(body, dict) else None
        if not isinstance(tokens, list) or not all(
                isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 256 for t in tokens):
            raise OpenAIError(400, "expected tokens: a list of byte values", param="tokens")
        prompt = bytes(tokens).decode("utf-8", "replace")
    except orjson.JSONDecodeError:
        return _error(OpenAIError(400, "request body is not JSON"))
    except OpenAIError as exc:
        return _error(exc)
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


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _openai_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """An unknown path, a wrong method or a failure inside a handler is answered in OpenAI's
    error shape too, never aiohttp's plain text."""
    try:
        return await handler(request)
    except OpenAIError as exc:
        return _error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind = "not_found" if exc.status == 404 else None
        return _error(OpenAIError(exc.status, f"{exc.reason}: {request.method} {request.path}",
                                  code=kind))


def make_llm_app(config: MockLlmConfig | None = None) -> web.Application:
    """The mock server as an aiohttp app, to run in any event loop or runner."""
    config = config or MockLlmConfig()
    # bodies are read by the routes themselves, up to config.max_body_bytes
    app = web.Application(middlewares=[_openai_errors], client_max_size=config.max_body_bytes)
    app[_STATE] = MockLlmState(config)
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/v1/models/{model:.+}", _model)
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
