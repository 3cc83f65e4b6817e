"""The tool server's other backends: a real upstream behind a proxy, and an LLM writer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ste_async.catalog import ApiSpec, Catalog, Param
from tool_mocks._serve import serve_app
from tool_mocks.config import LlmBackendConfig, ToolServerConfig, UpstreamConfig
from tool_mocks.llm import MockLlmConfig, serve_mock_llm
from tool_mocks.server import serve_tools

ODD = ApiSpec(name="Weather Oracle%%forecast", tool="Weather Oracle", api="forecast",
              description="Forecast for a city.", category="Weather",
              required=(Param(name="city"),), optional=(Param(name="days", type="integer"),))
CATALOG = Catalog([ODD])
KEY = "sk-upstream-canary-51c2"


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"body": body, "header": request.headers.get("toolbench_key")})
        if "Atlantis" in body["tool_input"]:
            return web.json_response({"error": "city not found", "response": ""})
        return web.json_response({"error": "", "response": '{"city": "Oslo", "temp": 3}'})

    app = web.Application()
    app.router.add_post("/rapidapi", handle)
    async with serve_app(app, "127.0.0.1", 0) as url:
        yield url + "/rapidapi", seen


async def call(url: str, args: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.post(
        f"{url}/call", json={"api": ODD.name, "args": args}
    ) as resp:
        return await resp.json()


async def test_proxy_forwards_caches_and_keeps_the_key_secret(
    tmp_path: Path, upstream: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = upstream
    monkeypatch.setenv("STE_UPSTREAM_KEY", KEY)
    db = tmp_path / "cache.sqlite3"
    config = ToolServerConfig(port=0, backend="proxy", cache_path=str(db),
                              upstream=UpstreamConfig(url=url))
    async with serve_tools(config, CATALOG) as tools:
        ok = await call(tools, {"city": "Oslo"})
        again = await call(tools, {"city": "Oslo"})
        missing = await call(tools, {"city": "Atlantis"})
        invalid = await call(tools, {"days": 2})  # validated before anything is forwarded
    assert ok == again == {"status": 200, "body": {"city": "Oslo", "temp": 3}}
    assert missing["status"] == 400 and missing["body"]["error"] == "city not found"
    assert invalid["status"] == 400 and "city" in invalid["body"]["error"]
    assert len(seen) == 2  # the repeat came from the cache
    assert seen[0]["header"] == KEY and seen[0]["body"]["tool_name"] == "Weather Oracle"
    assert not files_holding(tmp_path, KEY)


def files_holding(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


async def test_llm_backend_writes_a_stable_answer_for_an_api_without_simulator(
    tmp_path: Path,
) -> None:
    async with serve_mock_llm(MockLlmConfig()) as llm:
        config = ToolServerConfig(port=0, backend="llm", cache_path=str(tmp_path / "c.sqlite3"),
                                  llm=LlmBackendConfig(url=llm))
        async with serve_tools(config, CATALOG) as tools:
            first = await call(tools, {"city": "Lima", "days": 2})
            second = await call(tools, {"days": 2, "city": "Lima"})
            invalid = await call(tools, {"town": "Lima"})
        # a second server on the same cache answers the same, without asking the LLM
        async with serve_tools(config, CATALOG) as tools:
            third = await call(tools, {"city": "Lima", "days": 2})
    assert first["status"] == 200 and first["body"]
    assert first == second == third
    assert invalid["status"] == 400 and "town" in invalid["body"]["error"]


async def test_an_api_with_no_backend_is_a_clear_501() -> None:
    async with serve_tools(ToolServerConfig(port=0), CATALOG) as tools:
        answer = await call(tools, {"city": "Oslo"})
    assert answer["status"] == 501 and ODD.name in answer["body"]["error"]


@pytest.mark.parametrize("echo", ["json", "html"])
async def test_an_upstream_that_echoes_the_key_never_passes_it_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo: str) -> None:
    # a careless upstream: its answers repeat the request, headers and body, key included
    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        headers = dict(request.headers)
        if echo == "json":
            return web.json_response({"error": "", "response": {"you_sent": body,
                                                                "headers": headers}})
        page = f"<html><h1>Bad request</h1><pre>{headers}\n{body}</pre></html>"
        return web.Response(status=404, text=page, content_type="text/html")

    app = web.Application()
    app.router.add_post("/rapidapi", handle)
    monkeypatch.setenv("STE_UPSTREAM_KEY", KEY)
    async with serve_app(app, "127.0.0.1", 0) as upstream_url:
        config = ToolServerConfig(port=0, backend="proxy",
                                  cache_path=str(tmp_path / "c.sqlite3"),
                                  upstream=UpstreamConfig(url=upstream_url + "/rapidapi"))
        async with serve_tools(config, CATALOG) as tools:
            answer = await call(tools, {"city": "Oslo"})
            again = await call(tools, {"city": "Oslo"})  # from the cache
    text = json.dumps(answer)
    assert KEY not in text and "[redacted]" in text  # it did echo, and was cleaned
    assert answer == again
    assert not files_holding(tmp_path, KEY)
