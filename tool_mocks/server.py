"""The tool server: an aiohttp app in front of the backends, with limits, faults and a cache.

Routes:
    POST /call     {"api": NAME, "args": {...}} -> {"status": S, "body": ...}
                   HTTP 200 carries every answer of the API itself, errors included (they
                   are the learning signal); HTTP 429 / 5xx / a dropped connection / a
                   non-JSON body are transport faults (real or injected).
    POST /virtual  ToolBench form {category, tool_name, api_name, tool_input} ->
                   {"error": "", "response": "..."}
    GET  /apis     the catalog, GET /health, GET /stats (counters).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson
from aiohttp import web

from ste_async.catalog import ApiSpec, Catalog, load_catalog

from ._serve import serve_app
from .backends import Backend, LlmBackend, ProxyBackend, SimulatorBackend, UpstreamFault
from .cache import CachedReply, ResponseCache, cache_key, canonical_args
from .config import ToolServerConfig
from .limits import TokenBucket, draw_fault, draw_latency_s
from .simulators._base import SimContext

__all__ = ("ToolServer", "make_app", "serve_tools", "server_of")

log = logging.getLogger("tool_mocks")

_JSON = "application/json"
_STATS_KEY: web.AppKey[ToolServer] = web.AppKey("tool_server")


class ToolServer:
    """State behind the routes: catalog, backends, cache, buckets and counters."""

    def __init__(self, config: ToolServerConfig, catalog: Catalog | None = None):
        self.config = config
        self.catalog = catalog if catalog is not None else load_catalog(config.catalog)
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

    async def answer(self, spec: ApiSpec, args: Any) -> CachedReply:
        """The API's answer to ``args``: from the cache, or computed and cached."""
        try:
            canonical = canonical_args(args)
        except TypeError:
            canonical = repr(args)
        key = cache_key(spec.name, canonical)
        hit = await self.cache.get(key)
        if hit is not None:
            self.stats["cache_hits"] += 1
            return hit
        self.stats["cache_misses"] += 1
        backend = self._backend_for(spec)
        if backend is None:
            return CachedReply(
                501, orjson.dumps({"error": f"no backend can answer {spec.name!r}"})
            )
        ctx = SimContext(self.config.seed, self.config.today, spec.name, canonical)
        reply = await backend.answer(spec, args, ctx)
        cached = CachedReply(reply.status, orjson.dumps(reply.body))
        if backend.deterministic:
            await self.cache.put(key, spec.name, canonical, cached)
            return cached
        return await self.cache.put_durable(key, spec.name, canonical, cached)

    async def handle_call(self, api: str, args: Any, request: web.Request) -> web.StreamResponse | CachedReply:
        """Limits and faults first, then the answer; a Response here is a transport fault."""
        self._count(api, "calls")
        spec = self.catalog.get(api)
        if spec is None:
            self._count(api, "unknown_api")
            return _json_response(
                404, {"error": f"unknown API {api!r}; GET /apis lists the {len(self.catalog)} APIs"}
            )
        bucket = self._bucket(api)
        if bucket is not None:
            wait = bucket.take()
            if wait > 0:
                self._count(api, "rate_limited")
                return _json_response(
                    429,
                    {"error": f"rate limit exceeded for {api!r}"},
                    headers={"Retry-After": f"{wait:.3f}"},
                )
        key = cache_key(api, canonical_args(args) if _jsonable(args) else repr(args))
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
            status = (500, 502, 503)[attempt % 3]
            return web.Response(status=status, text="upstream service error (injected)")
        if fault == "reset":
            if request.transport is not None:
                request.transport.abort()  # the client sees the connection drop mid-request
            return web.Response(status=500)
        try:
            reply = await self.answer(spec, args)
        except UpstreamFault as exc:
            self._count(api, "upstream_faults")
            return web.Response(status=502, text=str(exc))
        if reply.status >= 400:
            self._count(api, "api_errors")
        if fault == "malformed":
            return web.Response(status=200, body=b'{"status": 200, "body": {"trunc', content_type=_JSON)
        return reply


def _jsonable(args: Any) -> bool:
    try:
        orjson.dumps(args)
    except TypeError:
        return False
    return True


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=_JSON, headers=headers)


async def _read_json(request: web.Request, limit: int) -> Any:
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            body=orjson.dumps({"error": f"request body is not JSON: {exc}"}), content_type=_JSON
        ) from None


async def _call(request: web.Request) -> web.StreamResponse:
    server = request.app[_STATS_KEY]
    payload = await _read_json(request, server.config.max_body_bytes)
    if not isinstance(payload, dict) or not isinstance(payload.get("api"), str):
        return _json_response(400, {"error": 'expected {"api": NAME, "args": {...}}'})
    args = payload.get("args", {})
    if isinstance(args, str):
        # a model's Action Input may arrive as text; decode it the way the API would
        try:
            args = orjson.loads(args) if args.strip() else {}
        except orjson.JSONDecodeError as exc:
            return web.Response(
                body=b'{"status":400,"body":'
                + orjson.dumps({"error": f"arguments are not valid JSON: {exc}"})
                + b"}",
                content_type=_JSON,
            )
    result = await server.handle_call(payload["api"], args, request)
    if isinstance(result, web.StreamResponse):
        return result
    return web.Response(
        body=b'{"status":%d,"body":%s}' % (result.status, result.body), content_type=_JSON
    )


async def _virtual(request: web.Request) -> web.StreamResponse:
    server = request.app[_STATS_KEY]
    payload = await _read_json(request, server.config.max_body_bytes)
    if not isinstance(payload, dict):
        return _json_response(400, {"error": "expected a JSON object"})
    tool, api = payload.get("tool_name"), payload.get("api_name")
    name = f"{tool}%%{api}" if api and api != tool else str(tool)
    if name not in server.catalog and api in server.catalog:
        name = str(api)
    raw_input = payload.get("tool_input", {})
    if isinstance(raw_input, str):
        try:
            raw_input = orjson.loads(raw_input) if raw_input.strip() else {}
        except orjson.JSONDecodeError:
            return _json_response(200, {"error": "tool_input is not valid JSON", "response": ""})
    result = await server.handle_call(name, raw_input, request)
    if isinstance(result, web.StreamResponse):
        if result.status == 404:
            return _json_response(200, {"error": f"API not found: {name}", "response": ""})
        return result
    return _json_response(200, {"error": "", "response": result.body.decode()})


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

