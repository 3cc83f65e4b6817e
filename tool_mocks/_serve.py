"""Running an aiohttp app inside the current event loop, for tests and in-process use."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from aiohttp import web

__all__ = ("serve_app",)


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
