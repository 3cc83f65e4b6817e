"""Running an aiohttp app inside the current event loop, and reading request bodies whole."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from aiohttp import web

__all__ = ("BodyTooLarge", "read_body", "serve_app")

_CHUNK = 1 << 16


class BodyTooLarge(Exception):
    """A request body longer than the server accepts; ``limit`` is that length in bytes."""

    def __init__(self, limit: int, received: int | None):
        super().__init__(f"request body is larger than the {limit:,}-byte limit")
        self.limit = limit
        self.received = received


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body of ``request``, however it arrives (in pieces, chunked); past ``limit``
    bytes, :class:`BodyTooLarge` (without reading the rest: the server drains it)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit, declared)
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, None)
        parts.append(chunk)


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0 = a free port) and yield its base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=4096)
        await site.start()
        bound = port
        server = site._server  # aiohttp keeps the asyncio server private; it owns the socket
        if server is not None and server.sockets:  # type: ignore[attr-defined]
            bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        yield f"http://{host}:{bound}"
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()
