"""The HTTP helpers: every way a request can fail becomes an error of the package's tree, with
aiohttp's (or the decoder's) exception kept as its cause."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import anyio
import orjson
import pytest
from aiohttp import web

from ste_async._http import (
    get_json,
    get_text,
    make_session,
    one_off_session,
    post_bytes,
    post_json,
    request,
)
from ste_async.config import RetryConfig, Timeouts
from ste_async.errors import (
    ConnectError,
    MalformedReplyError,
    RateLimitedError,
    ReadTimeoutError,
    RequestRejectedError,
    ServerError,
    TransientError,
)
from ste_async.tools import ToolClient


class Server:
    """An in-process server on port 0 whose routes answer each way a server can."""

    def __init__(self) -> None:
        self.release = anyio.Event()  # lets the hanging route return before shutdown
        self.url = ""

    async def echo(self, request: web.Request) -> web.Response:
        return web.json_response({"got": orjson.loads(await request.read())})

    async def status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        headers = {"Retry-After": "2.5"} if code in (429, 503) else None
        return web.Response(status=code, text=f"status {code} body", headers=headers)

    async def hang(self, _request: web.Request) -> web.Response:
        await self.release.wait()
        return web.json_response({})

    def app(self) -> web.Application:
        def fixed(response: web.Response) -> Any:
            async def handle(_request: web.Request) -> web.Response:
                return response
            return handle

        app = web.Application()
        app.router.add_get("/json", fixed(web.json_response({"a": [1, 2]})))
        app.router.add_get("/text", fixed(web.Response(text="queue 3\n")))
        app.router.add_get("/garbage", fixed(web.Response(body=b"{not json")))
        app.router.add_get("/latin1", fixed(web.Response(body=b"caf\xe9")))
        app.router.add_post("/echo", self.echo)
        app.router.add_route("*", "/status/{code}", self.status)
        app.router.add_route("*", "/hang", self.hang)
        return app


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    runner = web.AppRunner(state.app(), access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        await web.SockSite(runner, sock).start()
        state.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield state
    finally:
        state.release.set()
        await runner.cleanup()
        sock.close()


@pytest.fixture
def refused() -> Iterator[str]:
    """A URL whose port is bound but not listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_successful_replies_are_decoded(server: Server) -> None:
    async with one_off_session(5) as session:
        assert await get_json(session, server.url + "/json") == {"a": [1, 2]}
        assert await get_text(session, server.url + "/text") == "queue 3\n"
        assert await post_json(session, server.url + "/echo", {"x": 1}) == {"got": {"x": 1}}
        raw = await post_bytes(session, server.url + "/echo", b'{"y":2}')
        assert orjson.loads(raw) == {"got": {"y": 2}}
        reply = await request(session, "GET", server.url + "/status/404")
        assert reply.status == 404 and reply.body == b"status 404 body"  # request never judges


async def test_a_refused_connection_is_a_connect_error(refused: str) -> None:
    async with one_off_session(5) as session:
        with pytest.raises(ConnectError, match=refused) as caught:
            await get_json(session, refused + "/json")
    assert caught.value.endpoint == refused + "/json"
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectionError)


async def test_no_reply_in_time_is_a_read_timeout(server: Server) -> None:
    async with one_off_session(0.05) as session:
        with pytest.raises(ReadTimeoutError, match="in time") as caught:
            await get_text(session, server.url + "/hang")
    assert isinstance(caught.value.__cause__, TimeoutError)
    # a pooled session applies its read timeout the same way
    session = make_session(2, Timeouts(connect=1, read=0.05, total=1))
    try:
        with pytest.raises(ReadTimeoutError):
            await post_bytes(session, server.url + "/hang", b"{}")
    finally:
        await session.close()


@pytest.mark.parametrize("code", [400, 404, 422])
async def test_a_4xx_is_rejected_with_its_body(server: Server, code: int) -> None:
    async with one_off_session(5) as session:
        with pytest.raises(RequestRejectedError, match=f"HTTP {code}") as caught:
            await get_json(session, f"{server.url}/status/{code}")
    assert caught.value.status == code and caught.value.body == f"status {code} body"
    assert not isinstance(caught.value, TransientError)  # retrying cannot help


async def test_a_429_is_rate_limited_with_its_retry_after(server: Server) -> None:
    async with one_off_session(5) as session:
        with pytest.raises(RateLimitedError) as caught:
            await get_text(session, server.url + "/status/429")
    assert caught.value.status == 429 and caught.value.retry_after == 2.5


@pytest.mark.parametrize("code", [500, 503])
async def test_a_5xx_is_a_transient_server_error(server: Server, code: int) -> None:
    async with one_off_session(5) as session:
        with pytest.raises(ServerError, match=f"HTTP {code}") as caught:
            await post_bytes(session, f"{server.url}/status/{code}", b"{}")
    assert caught.value.status == code
    assert caught.value.retry_after == (2.5 if code == 503 else None)


async def test_an_undecodable_body_is_malformed(server: Server) -> None:
    async with one_off_session(5) as session:
        with pytest.raises(MalformedReplyError, match="not JSON") as caught:
            await get_json(session, server.url + "/garbage")
        assert isinstance(caught.value.__cause__, orjson.JSONDecodeError)
        with pytest.raises(MalformedReplyError, match="not UTF-8") as caught:
            await get_text(session, server.url + "/latin1")
        assert isinstance(caught.value.__cause__, UnicodeDecodeError)


async def test_a_one_off_session_is_closed_even_when_its_user_is_cancelled() -> None:
    with anyio.CancelScope() as scope:
        async with one_off_session(5) as session:
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught and session.closed


async def test_the_tool_clients_listing_raises_the_package_errors(refused: str,
                                                                  server: Server) -> None:
    timeouts = Timeouts(connect=1, read=1, total=2)
    for url, error in ((refused, ConnectError), (server.url, RequestRejectedError)):
        async with ToolClient(url, concurrency=1, timeouts=timeouts,
                              retry=RetryConfig(attempts=1)) as tools:
            with pytest.raises(error):
                await tools.list_apis()  # the test server has no /apis: 404
