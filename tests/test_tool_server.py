"""The tool server's mechanics: envelope, validation, cache, rate limits, faults, stats."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import orjson
import pytest

from ste_async.catalog import ApiSpec, Catalog, Param
from tool_mocks.config import FaultConfig, RateLimit, ToolServerConfig
from tool_mocks.server import serve_tools
from tool_mocks.simulators import REGISTRY, Reply, SimContext

ECHO = ApiSpec(
    name="Test%%Echo",
    tool="Test",
    api="Echo",
    description="Echoes its text with a random number drawn from the call's seed.",
    required=(Param(name="text"),),
    optional=(Param(name="times", type="integer"), Param(name="mode", type="enum",
                                                           choices=("plain", "loud"))),
)
CATALOG = Catalog([ECHO])
computed: list[dict[str, Any]] = []


def _echo(args: dict[str, Any], ctx: SimContext) -> Reply:
    computed.append(args)
    text = args["text"] * args.get("times", 1)
    if args.get("mode") == "loud":
        text = text.upper()
    return Reply(200, {"echo": text, "draw": ctx.rng().random(), "today": ctx.today.isoformat()})


@pytest.fixture(autouse=True)
def echo_simulator() -> Iterator[None]:
    REGISTRY[ECHO.name] = _echo
    computed.clear()
    yield
    del REGISTRY[ECHO.name]


async def call(session: aiohttp.ClientSession, url: str, args: Any, api: str = ECHO.name
               ) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with session.post(f"{url}/call", json={"api": api, "args": args}) as resp:
        body = await resp.json(content_type=None) if resp.status == 200 else await resp.text()
        return resp.status, body, resp


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    config = getattr(request, "param", ToolServerConfig(port=0))
    async with serve_tools(config, CATALOG) as url:
        yield url


async def test_valid_call_answers_in_an_envelope(server: str) -> None:
    async with aiohttp.ClientSession() as s:
        status, body, _ = await call(s, server, {"text": "ab", "times": "2", "mode": "loud"})
    assert status == 200
    assert body["status"] == 200
    assert body["body"]["echo"] == "ABAB"
    assert body["body"]["today"] == "2024-05-17"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({}, "missing required parameter 'text'"),
        ({"text": "a", "colour": "red"}, "unknown parameter 'colour'"),
        ({"text": "a", "times": "two"}, "parameter 'times' must be an integer"),
        ({"text": "a", "mode": "quiet"}, "must be one of plain, loud"),
        ({"text": ["a"]}, "parameter 'text' must be a string"),
        ("not json {", "arguments are not valid JSON"),
        ([1, 2], "arguments must be a JSON object"),
    ],
)
async def test_invalid_calls_get_a_400_that_names_the_problem(server: str, args: Any,
                                                              needle: str) -> None:
    async with aiohttp.ClientSession() as s:
        status, body, _ = await call(s, server, args)
    assert status == 200 and body["status"] == 400
    assert needle in body["body"]["error"]


async def test_unknown_api_is_a_404_naming_it(server: str) -> None:
    async with aiohttp.ClientSession() as s:
        status, body, _ = await call(s, server, {}, api="Nope%%Nope")
    assert status == 404 and "Nope%%Nope" in body


async def test_repeat_is_identical_and_a_cache_hit(server: str) -> None:
    async with aiohttp.ClientSession() as s:
        first = await call(s, server, {"times": 3, "text": "x"})
        second = await call(s, server, {"text": "x", "times": 3})  # key order does not matter
        async with s.get(f"{server}/stats") as resp:
            stats = await resp.json()
    assert first[1] == second[1]
    assert len(computed) == 1
    assert stats["cache_hits"] == 1 and stats["cache_misses"] == 1 and stats["calls"] == 2


@pytest.mark.parametrize(
    "server",
    [ToolServerConfig(port=0, rate_limits={ECHO.name: RateLimit(rate=0.5, burst=3)})],
    indirect=True,
)
async def test_rate_limit_answers_429_with_retry_after(server: str) -> None:
    async with aiohttp.ClientSession() as s:
        statuses = []
        retry_after = None
        for i in range(5):
            status, _, resp = await call(s, server, {"text": str(i)})
            statuses.append(status)
            if status == 429:
                retry_after = float(resp.headers["Retry-After"])
        async with s.get(f"{server}/stats") as resp:
            stats = await resp.json()
    assert statuses == [200, 200, 200, 429, 429]
    assert retry_after is not None and 0 < retry_after <= 2.0
    assert stats["rate_limited"] == 2


@pytest.mark.parametrize(
    "server",
    [ToolServerConfig(port=0, seed=7, faults=FaultConfig(server_error=0.1, malformed=0.1,
                                                         reset=0.1))],
    indirect=True,
)
async def test_injected_faults_appear_at_the_configured_rate(server: str) -> None:
    n = 600
    outcomes = {"ok": 0, "5xx": 0, "malformed": 0, "reset": 0}
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            try:
                async with s.post(f"{server}/call",
                                  json={"api": ECHO.name, "args": {"text": str(i)}}) as resp:
                    raw = await resp.read()
                    if resp.status >= 500:
                        outcomes["5xx"] += 1
                        continue
                    try:
                        orjson.loads(raw)
                        outcomes["ok"] += 1
                    except orjson.JSONDecodeError:
                        outcomes["malformed"] += 1
            except aiohttp.ClientError:
                outcomes["reset"] += 1
        async with s.get(f"{server}/stats") as resp:
            stats = await resp.json()
    for kind in ("5xx", "malformed", "reset"):
        assert 0.05 * n < outcomes[kind] < 0.15 * n, outcomes  # 10% each, binomial slack
    assert stats["fault_server_error"] == outcomes["5xx"]
    assert stats["fault_malformed"] == outcomes["malformed"]


async def test_faults_are_decided_by_seed_not_timing() -> None:
    from tool_mocks.limits import draw_fault

    faults = FaultConfig(server_error=0.3)
    a = [draw_fault(faults, 1, "k", n) for n in range(1, 50)]
    assert a == [draw_fault(faults, 1, "k", n) for n in range(1, 50)]
    assert a != [draw_fault(faults, 2, "k", n) for n in range(1, 50)]


async def test_persistent_cache_survives_restart_and_concurrent_clients(tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite3"
    config = ToolServerConfig(port=0, cache_path=str(db))
    args = [{"text": f"t{i % 40}"} for i in range(400)]
    async with serve_tools(config, CATALOG) as url, aiohttp.ClientSession() as s:
        results: dict[str, Any] = {}

        async def worker(chunk: list[dict[str, Any]]) -> None:
            for a in chunk:
                _, body, _ = await call(s, url, a)
                assert results.setdefault(a["text"], body) == body

        async with anyio.create_task_group() as tg:
            for k in range(20):
                tg.start_soon(worker, args[k::20])
    assert len(computed) <= 40 * 2  # concurrent first calls may compute twice, never more
    # a second server process on the same file answers from the cache, identically
    computed.clear()
    other = ToolServerConfig(port=0, cache_path=str(db), seed=999)  # another seed: must not matter
    async with serve_tools(other, CATALOG) as url, aiohttp.ClientSession() as s:
        for text, expected in results.items():
            _, body, _ = await call(s, url, {"text": text})
            assert body == expected
    assert computed == []


async def test_toolbench_virtual_route(server: str) -> None:
    async with aiohttp.ClientSession() as s:
        payload = {"category": "Other", "tool_name": "Test", "api_name": "Echo",
                   "tool_input": '{"text": "hi"}'}
        async with s.post(f"{server}/virtual", json=payload) as resp:
            body = await resp.json()
    assert body["error"] == "" and '"echo":"hi"' in body["response"]


async def test_apis_and_health(server: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{server}/apis") as resp:
            apis = await resp.json()
        async with s.get(f"{server}/health") as resp:
            health = await resp.json()
    assert [a["name"] for a in apis] == [ECHO.name]
    assert apis[0]["required"] == ["text"]
    assert health == {"status": "ok", "apis": 1}


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="probability"):
        FaultConfig(reset=1.5)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(rate=1.0, burst=0)
    assert ToolServerConfig().today == dt.date(2024, 5, 17)


async def test_a_body_under_the_limit_is_read_whole_however_it_arrives(server: str) -> None:
    padding = "x" * 900_000  # under the 1 MiB limit, far more than one read returns
    body = orjson.dumps({"api": ECHO.name, "args": {"text": "hi"}, "padding": padding})

    async def in_pieces() -> AsyncIterator[bytes]:
        for at in range(0, len(body), 50_000):
            yield body[at:at + 50_000]

    async with aiohttp.ClientSession() as s:
        for data in (body, in_pieces()):  # with a Content-Length, then chunked
            async with s.post(f"{server}/call", data=data) as resp:
                answer = await resp.json()
            assert resp.status == 200 and answer["body"]["echo"] == "hi", answer


async def test_a_body_over_the_limit_is_a_413_in_the_routes_shape(server: str) -> None:
    huge = b'{"api": "Test%%Echo", "args": {"text": "' + b"x" * 10_000_000 + b'"}}'

    async def chunked() -> AsyncIterator[bytes]:
        for at in range(0, len(huge), 1 << 20):
            yield huge[at:at + (1 << 20)]

    async with aiohttp.ClientSession() as s:
        for data in (io.BytesIO(huge), chunked()):
            async with s.post(f"{server}/call", data=data) as resp:
                answer = await resp.json()
            assert resp.status == 413 and answer["status"] == 413
            assert "1,048,576-byte limit" in answer["body"]["error"]
        async with s.post(f"{server}/virtual", data=io.BytesIO(huge)) as resp:
            answer = await resp.json()
        assert resp.status == 413 and answer["response"] == ""
        assert "1,048,576-byte limit" in answer["error"]
        # and the server still answers
        status, body, _ = await call(s, server, {"text": "ok"})
    assert status == 200 and body["body"]["echo"] == "ok"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"{nope", "request body is not JSON"),
        (b"[1]", "request body is an array"),
        (b'{"args": {}}', "got no 'api'"),
        (b'{"api": 5}', "got 'api' as a number"),
    ],
)
async def test_a_request_that_is_no_call_is_a_400_in_the_documented_shape(
    server: str, raw: bytes, needle: str
) -> None:
    async with aiohttp.ClientSession() as s, s.post(f"{server}/call", data=raw) as resp:
        answer = await resp.json()
    assert resp.status == 400 and answer["status"] == 400
    assert needle in answer["body"]["error"]


async def test_names_that_are_no_api_share_one_stats_bucket(server: str) -> None:
    async with aiohttp.ClientSession() as s:
        for i in range(50):
            status, _, _ = await call(s, server, {}, api=f"junk-{i}")
            assert status == 404
        payload = {"tool_name": "junk", "api_name": "more junk", "tool_input": {}}
        async with s.post(f"{server}/virtual", json=payload) as resp:
            assert (await resp.json())["error"].startswith("API not found")
        await call(s, server, {"text": "a"})
        async with s.get(f"{server}/stats") as resp:
            stats = await resp.json()
    assert set(stats["per_api"]) == {"(unknown)", ECHO.name}
    assert stats["per_api"]["(unknown)"] == {"calls": 51, "unknown_api": 51}
    assert stats["calls"] == 52


async def test_apis_say_which_backend_answers_each(server: str) -> None:
    lone = ApiSpec(name="Lone%%x", tool="Lone", api="x", description="No simulator.")
    async with serve_tools(ToolServerConfig(port=0), Catalog([ECHO, lone])) as url, \
            aiohttp.ClientSession() as s, s.get(f"{url}/apis") as resp:
        apis = {a["name"]: a["backend"] for a in await resp.json()}
    assert apis == {ECHO.name: "simulator", "Lone%%x": None}
