"""The tool server: an aiohttp app in front of the backends, with limits, faults and a cache.

Routes:
    POST /call     {"api": NAME, "args": {...}} -> {"status": S, "body": ...}
                   HTTP 200 carries every answer of the API itself, errors included (they
                   are the learning signal). Everything else is another HTTP status with the
                   same shape, ``{"status": S, "body": {"error": MESSAGE}}``: 400 a request
                   that is not one, 404 an unknown API, 413 a body over the limit, 429 rate
                   limited, 5xx a backend that cannot be reached (or an injected fault). An
                   injected reset drops the connection and an injected malformed answer is
                   not JSON: those two are the faults they stand for.
    POST /virtual  ToolBench form {category, tool_name, api_name, tool_input[, strip,
                   toolbench_key]} -> {"error": "", "response": "..."}; the API is found by
                   any of the names ToolBench clients and the study use (see ``naming``).
                   Every failure, an error answer of the API included, has a non-empty
                   ``error``; the HTTP status is 200 for what the API (or its absence) says,
                   and 400 / 413 / 429 / 5xx as on /call for the rest.
    GET  /apis     the catalog, each API with the backend that answers it (``backend``:
                   "simulator", "upstream", "llm" or null); GET /health, GET /stats
                   (counters; names that are no API are counted together, under "(unknown)").
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import anyio
import orjson
from aiohttp import web

from ste_async.catalog import ApiSpec, Catalog, load_catalog

from ._serve import BodyTooLarge, read_body, serve_app
from .backends import Backend, LlmBackend, ProxyBackend, SimulatorBackend, UpstreamFault
from .cache import CachedReply, ResponseCache, cache_key, canonical_args
from .config import ToolServerConfig
from .limits import TokenBucket, draw_fault, draw_latency_s
from .naming import ApiResolver
from .simulators._base import SimContext

__all__ = ("UNKNOWN_BUCKET", "Refusal", "ToolServer", "make_app", "serve_tools", "server_of")

log = logging.getLogger("tool_mocks")

_JSON = "application/json"
_STATS_KEY: web.AppKey[ToolServer] = web.AppKey("tool_server")
UNKNOWN_BUCKET = "(unknown)"


class Refusal(NamedTuple):
    """A call answered by the server instead of the API: HTTP ``status`` and why."""

    status: int
    message: str
    headers: dict[str, str] | None = None


class ToolServer:
    """State behind the routes: catalog, backends, cache, buckets and counters."""

    def __init__(self, config: ToolServerConfig, catalog: Catalog | None = None):
        self.config = config
        self.catalog = catalog if catalog is not None else load_catalog(config.catalog)
        self.resolver = ApiResolver(self.catalog)
        self.cache = ResponseCache(config.cache_path)
        self.backends: list[Backend] = [SimulatorBackend()]
        if config.upstream is not None:
            proxy = ProxyBackend(config.upstream)
            self.backends.insert(0 if config.backend == "proxy" else 1, proxy)
        if config.llm is not None:
            self.backends.append(LlmBackend(config.llm))
        self._buckets: dict[str, TokenBucket] = {}
        self._attempts: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.per_api: dict[str, Counter[str]] = {}
        self._apis_body = orjson.dumps(
            [
                {
                    "name": s.name,
                    "tool": s.tool,
                    "api": s.api,
                    "category": s.category,
                    "style": s.style,
                    "description": s.description,
                    "required": [p.name for p in s.required],
                    "optional": [p.name for p in s.optional],
                    "backend": self.backend_kind(s),
                }
                for s in self.catalog.values()
            ]
        )

    async def start(self) -> None:
        await self.cache.__aenter__()

    async def stop(self) -> None:
        await self.cache.aclose()
        for backend in self.backends:
            await backend.aclose()

    def _count(self, api: str, what: str) -> None:
        self.stats[what] += 1
        self.per_api.setdefault(api, Counter())[what] += 1

    def count_unknown(self) -> None:
        """Count a call of a name that is no API: one bucket for all, however many names."""
        self._count(UNKNOWN_BUCKET, "calls")
        self._count(UNKNOWN_BUCKET, "unknown_api")

    def _bucket(self, api: str) -> TokenBucket | None:
        limit = self.config.limit_for(api)
        if limit.rate <= 0:
            return None
        bucket = self._buckets.get(api)
        if bucket is None:
            bucket = self._buckets[api] = TokenBucket(limit)
        return bucket

    def _backend_for(self, spec: ApiSpec) -> Backend | None:
        for backend in self.backends:
            if backend.handles(spec):
                return backend
        return None

    def backend_kind(self, spec: ApiSpec) -> str | None:
        """What answers ``spec`` here ("simulator", "upstream", "llm"), or None: nothing."""
        backend = self._backend_for(spec)
        return None if backend is None else backend.kind

    async def answer(self, spec: ApiSpec, args: Any, canonical: str | None = None) -> CachedReply:
        """The API's answer to ``args``: from the cache, or computed and cached."""
        if canonical is None:
            canonical = canonical_args(args)
        key = cache_key(spec.name, canonical)
        hit = await self.cache.get(key)
        if hit is not None:
            self.stats["cache_hits"] += 1
            return hit
        self.stats["cache_misses"] += 1
        backend = self._backend_for(spec)
        if backend is None:
            return CachedReply(501, orjson.dumps({
                "error": f"no backend can answer {spec.name!r}: it has no simulator, and this "
                         "server has neither an upstream nor an LLM configured"}))
        ctx = SimContext(self.config.seed, self.config.today, spec.name, canonical)
        reply = await backend.answer(spec, args, ctx)
        cached = CachedReply(reply.status, orjson.dumps(reply.body))
        if backend.deterministic:
            await self.cache.put(key, spec.name, canonical, cached)
            return cached
        return await self.cache.put_durable(key, spec.name, canonical, cached)

    async def handle_call(
        self, api: str, args: Any, request: web.Request
    ) -> CachedReply | Refusal | web.StreamResponse:
        """Limits and faults first, then the answer. A :class:`Refusal` is the server's
        answer instead of the API's; a Response is an injected fault sent as it is."""
        spec = self.catalog.get(api)
        if spec is None:
            self.count_unknown()
            return Refusal(404, f"unknown API {api[:200]!r}; GET /apis lists the "
                                f"{len(self.catalog)} APIs")
        return await self.call_api(spec, args, request)

    async def call_api(
        self, spec: ApiSpec, args: Any, request: web.Request
    ) -> CachedReply | Refusal | web.StreamResponse:
        """:meth:`handle_call` for an API already found in the catalog."""
        api = spec.name
        self._count(api, "calls")
        bucket = self._bucket(api)
        if bucket is not None:
            wait = bucket.take()
            if wait > 0:
                self._count(api, "rate_limited")
                return Refusal(429, f"rate limit exceeded for {api!r}",
                               {"Retry-After": f"{wait:.3f}"})
        try:
            canonical = canonical_args(args)
        except TypeError:
            # orjson writes at most 254 levels of nesting; no API takes arguments that deep
            self._count(api, "api_errors")
            return CachedReply(400, orjson.dumps({"error": "arguments are nested too deeply"}))
        key = cache_key(api, canonical)
        self._attempts[key] += 1
        attempt = self._attempts[key]
        fault = draw_fault(self.config.faults, self.config.seed, key, attempt)
        delay = draw_latency_s(self.config.latency, self.config.seed, key, attempt)
        if fault == "slow":
            delay += self.config.faults.slow_ms / 1000.0
        if delay > 0:
            await anyio.sleep(delay)
        if fault is not None:
            self._count(api, f"fault_{fault}")
        if fault == "server_error":
            return Refusal((500, 502, 503)[attempt % 3], "upstream service error (injected)")
        if fault == "reset":
            if request.transport is not None:
                request.transport.abort()  # the client sees the connection drop mid-request
            return web.Response(status=500)
        try:
            reply = await self.answer(spec, args, canonical)
        except UpstreamFault as exc:
            self._count(api, "upstream_faults")
            return Refusal(502, str(exc))
        if reply.status >= 400:
            self._count(api, "api_errors")
        if fault == "malformed":
            return web.Response(status=200, body=b'{"status": 200, "body": {"trunc', content_type=_JSON)
        return reply


class _BadRequest(Exception):
    """A request the route cannot take: answered with ``status`` in the route's own shape."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=_JSON, headers=headers)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


async def _read_object(request: web.Request, limit: int, shape: str) -> dict[str, Any]:
    """The request's JSON object, read whole; :class:`_BadRequest` (400 or 413) otherwise."""
    try:
        raw = await read_body(request, limit)
    except BodyTooLarge as exc:
        raise _BadRequest(413, str(exc)) from None
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _BadRequest(400, f"request body is not JSON ({exc}); expected {shape}") from None
    if not isinstance(payload, dict):
        raise _BadRequest(400, f"request body is {_type_name(payload)}; expected {shape}")
    return payload


def _decode_args(args: Any) -> Any:
    """Arguments sent as JSON text decoded the way the API would read them (empty: none);
    text that is not JSON raises ValueError with the decoder's message."""
    if not isinstance(args, str):
        return args
    if not args.strip():
        return {}
    try:
        return orjson.loads(args)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


_CALL_SHAPE = '{"api": NAME, "args": {...}}'


def _call_refusal(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json_response(status, {"status": status, "body": {"error": message}}, headers)


async def _call(request: web.Request) -> web.StreamResponse:
    server = request.app[_STATS_KEY]
    try:
        payload = await _read_object(request, server.config.max_body_bytes, _CALL_SHAPE)
        api = payload.get("api")
        if not isinstance(api, str):
            got = "no 'api'" if api is None else f"'api' as {_type_name(api)}"
            raise _BadRequest(400, f"expected {_CALL_SHAPE}, got {got}")
    except _BadRequest as exc:
        return _call_refusal(exc.status, exc.message)
    try:
        args = _decode_args(payload.get("args", {}))
    except ValueError as exc:
        # a model's Action Input may arrive as text: to the API, bad JSON is a bad request
        return web.Response(
            body=b'{"status":400,"body":'
            + orjson.dumps({"error": f"arguments are not valid JSON: {exc}"})
            + b"}",
            content_type=_JSON,
        )
    result = await server.handle_call(api, args, request)
    if isinstance(result, Refusal):
        return _call_refusal(*result)
    if isinstance(result, web.StreamResponse):
        return result
    return web.Response(
        body=b'{"status":%d,"body":%s}' % (result.status, result.body), content_type=_JSON
    )


_VIRTUAL_SHAPE = '{"category", "tool_name", "api_name", "tool_input"}'


def _virtual_answer(status: int, error: str, response: str = "",
                    headers: dict[str, str] | None = None) -> web.Response:
    return _json_response(status, {"error": error, "response": response}, headers)


def _virtual_fields(payload: dict[str, Any]) -> tuple[str, str, str]:
    """(category, tool_name, api_name) of a /virtual request, each checked to be text."""
    values: list[str] = []
    for field in ("category", "tool_name", "api_name"):
        value = payload.get(field)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise _BadRequest(400, f"'{field}' must be a string, got {_type_name(value)}")
        values.append(value.strip())
    category, tool, api = values
    if not tool and not api:
        raise _BadRequest(400, f"no 'tool_name' (nor 'api_name') given; expected {_VIRTUAL_SHAPE}")
    return category, tool or api, api


async def _virtual(request: web.Request) -> web.StreamResponse:
    server = request.app[_STATS_KEY]
    try:
        payload = await _read_object(request, server.config.max_body_bytes, _VIRTUAL_SHAPE)
        category, tool, api = _virtual_fields(payload)
        tool_input = payload.get("tool_input", {})
        if tool_input is not None and not isinstance(tool_input, (str, dict)):
            raise _BadRequest(400, "'tool_input' must be a JSON string or an object, got "
                                   f"{_type_name(tool_input)}")
    except _BadRequest as exc:
        return _virtual_answer(exc.status, exc.message)
    found = server.resolver.resolve(tool, api, category)
    if isinstance(found, str):
        server.count_unknown()
        return _virtual_answer(200, found)
    try:
        args = _decode_args({} if tool_input is None else tool_input)
    except ValueError as exc:
        return _virtual_answer(200, f"tool_input is not valid JSON: {exc}")
    result = await server.call_api(found, args, request)
    if isinstance(result, Refusal):
        return _virtual_answer(result.status, result.message, headers=result.headers)
    if isinstance(result, web.StreamResponse):
        return result
    text = _response_text(result.body)
    if result.status >= 400:
        return _virtual_answer(200, f"{found.name} answered status {result.status}: "
                                    f"{_error_of(result.body)}", text)
    return _virtual_answer(200, "", text)


def _response_text(body: bytes) -> str:
    """The answer as ToolBench's ``response`` holds it: JSON text, or the text itself."""
    if body.startswith(b'"'):
        try:
            decoded = orjson.loads(body)
            if isinstance(decoded, str):
                return decoded
        except orjson.JSONDecodeError:
            pass
    return body.decode("utf-8", "replace")


def _error_of(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"]:
        return str(data["error"])[:500]
    return _response_text(body)[:500] or "(no body)"


async def _apis(request: web.Request) -> web.Response:
    return web.Response(body=request.app[_STATS_KEY]._apis_body, content_type=_JSON)


async def _health(request: web.Request) -> web.Response:
    return _json_response(200, {"status": "ok", "apis": len(request.app[_STATS_KEY].catalog)})


async def _stats(request: web.Request) -> web.Response:
    server = request.app[_STATS_KEY]
    counters: dict[str, Any] = dict(server.stats)
    for name in ("calls", "cache_hits", "cache_misses", "api_errors", "rate_limited"):
        counters.setdefault(name, 0)
    counters["per_api"] = {api: dict(c) for api, c in sorted(server.per_api.items())}
    return _json_response(200, counters)


def make_app(config: ToolServerConfig, catalog: Catalog | None = None) -> web.Application:
    """The aiohttp application; starting and stopping it opens and flushes the cache."""
    server = ToolServer(config, catalog)
    app = web.Application(client_max_size=config.max_body_bytes)
    app[_STATS_KEY] = server
    app.router.add_post("/call", _call)
    app.router.add_post("/virtual", _virtual)
    app.router.add_get("/apis", _apis)
    app.router.add_get("/health", _health)
    app.router.add_get("/stats", _stats)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await server.start()
        yield
        await server.stop()

    app.cleanup_ctx.append(lifecycle)
    return app


@contextlib.asynccontextmanager
async def serve_tools(
    config: ToolServerConfig | None = None, catalog: Catalog | None = None
) -> AsyncIterator[str]:
    """Run the tool server in this event loop (port 0 picks a free port); yields its URL."""
    config = config or ToolServerConfig(port=0)
    async with serve_app(make_app(config, catalog), config.host, config.port) as url:
        yield url


def server_of(app: web.Application) -> ToolServer:
    """The :class:`ToolServer` behind ``app`` (for tests and the CLI's summary)."""
    return app[_STATS_KEY]

