"""The chat-template preflight: every message of the engine's conversation shape must come out
of the server's template, in order, whichever route the server renders through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from ste_async.errors import ConfigError
from ste_async.llm.preflight import check_chat_template, checked_model
from tool_mocks._serve import serve_app
from tool_mocks.llm import MockLlmConfig, llm_state, make_llm_app, serve_mock_llm

Template = Callable[[list[dict[str, Any]]], str]


def chatml(messages: list[dict[str, Any]]) -> str:
    return "".join(f"<|{m['role']}|>{m['content']}\n" for m in messages) + "<|assistant|>"


def without_system(messages: list[dict[str, Any]]) -> str:
    return chatml([m for m in messages if m["role"] != "system"])


def backwards(messages: list[dict[str, Any]]) -> str:
    return chatml(messages[::-1])


@asynccontextmanager
async def renderer(style: str, template: Template = chatml, *,
                   status: int = 200) -> AsyncIterator[str]:
    """A server that renders like llama.cpp (``/apply-template``) or like vLLM (``/tokenize``
    then ``/detokenize``, tokens being the prompt's bytes), or has neither (``none``)."""
    def refuse() -> web.Response:
        return web.Response(status=status, content_type="application/json", body=orjson.dumps(
            {"error": {"message": "Cannot use chat template functions: no template is set"}}))

    async def apply(request: web.Request) -> web.Response:
        if status != 200:
            return refuse()
        return web.json_response({"prompt": template((await request.json())["messages"])})

    async def tokenize(request: web.Request) -> web.Response:
        body = await request.json()
        if status != 200:
            return refuse()
        assert body["model"] == "m" and body["add_generation_prompt"] is True
        return web.json_response({"tokens": list(template(body["messages"]).encode())})

    async def detokenize(request: web.Request) -> web.Response:
        return web.json_response({"prompt": bytes((await request.json())["tokens"]).decode()})

    async def no_tokens(_request: web.Request) -> web.Response:
        return web.json_response({"tokens": []})  # llama.cpp's /tokenize ignores messages

    app = web.Application()
    if style == "llama.cpp":
        app.router.add_post("/apply-template", apply)
        app.router.add_post("/tokenize", no_tokens)
    elif style == "vllm":
        app.router.add_post("/tokenize", tokenize)
        app.router.add_post("/detokenize", detokenize)
    async with serve_app(app, "127.0.0.1", 0) as url:
        yield url


@pytest.mark.parametrize("style", ["llama.cpp", "vllm"])
async def test_a_template_that_keeps_every_message_passes(style: str) -> None:
    async with renderer(style) as url:
        await check_chat_template([url], "m", 2.0)


@pytest.mark.parametrize("style", ["llama.cpp", "vllm"])
async def test_a_template_that_drops_the_system_message_is_named(style: str) -> None:
    async with renderer(style, without_system) as url:
        with pytest.raises(ConfigError, match=rf"'m' at {url} drops the system message"):
            await check_chat_template([url], "m", 2.0)


async def test_a_template_that_reorders_is_named() -> None:
    async with renderer("vllm", backwards) as url:
        with pytest.raises(ConfigError, match="reorders the messages"):
            await check_chat_template([url], "m", 2.0)


@pytest.mark.parametrize("style", ["llama.cpp", "vllm"])
async def test_a_refusal_quotes_the_server(style: str) -> None:
    async with renderer(style, status=400) as url:
        with pytest.raises(ConfigError, match=r"HTTP 400: Cannot use chat template functions"):
            await check_chat_template([url], "m", 2.0)


@pytest.mark.parametrize("status", [401, 404])
async def test_a_server_that_cannot_say_is_not_checked(status: int) -> None:
    async with renderer("none") as url:
        await check_chat_template([url], "m", 2.0)
    async with renderer("vllm", without_system, status=status) as url:
        await check_chat_template([url], "m", 2.0)  # credentials or routes we do not have


async def test_every_server_is_checked_and_the_scripted_llm_passes() -> None:
    async with serve_mock_llm(MockLlmConfig(model="m")) as good, renderer(
            "llama.cpp", without_system) as bad:
        assert await checked_model([good], "default", 2.0) == "m"
        with pytest.raises(ConfigError, match=bad):
            await check_chat_template([good, bad], "m", 2.0)


async def test_explore_stops_before_any_episode_on_a_bad_template(tmp_path: Path) -> None:
    from served import explore_with

    from ste_async.config import ExploreConfig, LlmSettings

    async def drop_system(request: web.Request) -> web.Response:
        return web.json_response({"prompt": without_system((await request.json())["messages"])})

    app = make_llm_app(MockLlmConfig())
    app.router.add_post("/apply-template", drop_system)
    async with serve_app(app, "127.0.0.1", 0) as url:
        config = ExploreConfig(apis=("add_date",), episodes=1, trials=1,
                               llm=LlmSettings(urls=(url,)))
        with pytest.raises(ConfigError, match="drops the system message"):
            await explore_with(config, tmp_path / "run", handle_signals=False)
        assert llm_state(app).requests == 0  # not one chat request was sent
