"""The scripted LLM server driven by the official ``openai`` SDK, a client no one here wrote.

Whatever the SDK does with a real OpenAI or vLLM server it must do here: parse completions,
chunks and model objects into its types, and turn every refusal into its typed exception
(never ``InternalServerError``, which would mean the server broke).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from tool_mocks.llm import MockLlmConfig, serve_mock_llm

MODEL = "ste-mock"
HELLO = [{"role": "system", "content": "You are a helpful assistant."},
         {"role": "user", "content": "Answer.\n\nUser Query:"}]


@pytest.fixture
async def mock_url() -> AsyncIterator[str]:
    async with serve_mock_llm(MockLlmConfig(max_body_bytes=200_000)) as url:
        yield url


@pytest.fixture
async def client(mock_url: str) -> AsyncIterator[Any]:
    sdk = openai.AsyncOpenAI(base_url=f"{mock_url}/v1", api_key="unused", max_retries=0)
    async with sdk:
        yield sdk


async def test_a_plain_completion_parses_into_the_sdks_types(client: Any) -> None:
    reply = await client.chat.completions.create(model=MODEL, messages=HELLO, seed=7)
    assert reply.object == "chat.completion" and reply.model == MODEL
    assert isinstance(reply.created, int) and reply.created > 0
    (choice,) = reply.choices
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant" and choice.message.content
    usage = reply.usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_the_same_seed_gives_the_same_text(client: Any) -> None:
    texts = {(await client.chat.completions.create(model=MODEL, messages=HELLO, seed=11))
             .choices[0].message.content for _ in range(3)}
    assert len(texts) == 1


async def test_a_stop_sequence_cuts_the_text(client: Any) -> None:
    full = await client.chat.completions.create(model=MODEL, messages=HELLO, seed=3)
    text = full.choices[0].message.content
    word = text.split()[1]
    cut = await client.chat.completions.create(model=MODEL, messages=HELLO, seed=3, stop=[word])
    assert cut.choices[0].message.content == text[: text.index(word)]
    assert cut.choices[0].finish_reason == "stop"
    short = await client.chat.completions.create(model=MODEL, messages=HELLO, seed=3,
                                                 max_tokens=2)
    assert short.choices[0].finish_reason == "length"
    assert short.usage.completion_tokens <= 2


async def test_n_gives_n_choices(client: Any) -> None:
    reply = await client.chat.completions.create(model=MODEL, messages=HELLO, seed=1, n=3)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    single = await client.chat.completions.create(model=MODEL, messages=HELLO, seed=1)
    assert reply.choices[0].message.content == single.choices[0].message.content


async def test_a_streamed_completion_yields_the_same_text_and_the_usage(client: Any) -> None:
    plain = await client.chat.completions.create(model=MODEL, messages=HELLO, seed=5, n=2)
    stream = await client.chat.completions.create(
        model=MODEL, messages=HELLO, seed=5, n=2, stream=True,
        stream_options={"include_usage": True})
    texts = ["", ""]
    finishes: dict[int, str] = {}
    usage = None
    roles = set()
    async for chunk in stream:
        assert chunk.object == "chat.completion.chunk" and chunk.model == MODEL
        if not chunk.choices:
            usage = chunk.usage
            continue
        assert chunk.usage is None
        for choice in chunk.choices:
            roles.add(choice.delta.role)
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert texts == [c.message.content for c in plain.choices]
    assert finishes == {0: "stop", 1: "stop"} and "assistant" in roles
    assert usage is not None and usage.completion_tokens == plain.usage.completion_tokens


async def test_a_stream_without_usage_ends_with_done(mock_url: str) -> None:
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    async with aiohttp.ClientSession() as s, s.post(f"{mock_url}/v1/chat/completions",
                                                    json=body) as resp:
        raw = (await resp.read()).decode()
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]" and '"usage"' not in raw


async def test_models_list_and_retrieve(client: Any) -> None:
    listed = [m async for m in client.models.list()]
    assert [m.id for m in listed] == [MODEL]
    model = await client.models.retrieve(MODEL)
    assert model.id == MODEL and model.object == "model" and isinstance(model.created, int)
    with pytest.raises(openai.NotFoundError) as err:
        await client.models.retrieve("no-such-model")
    assert err.value.body["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("change", "error", "param"),
    [
        ({"model": "gpt-nope"}, "NotFoundError", "model"),
        ({"messages": "hi"}, "BadRequestError", "messages"),
        ({"messages": [1, 2]}, "BadRequestError", "messages[0]"),
        ({"messages": []}, "BadRequestError", "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "BadRequestError",
         "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "BadRequestError",
         "messages[0].content"),
        ({"max_tokens": "ten"}, "BadRequestError", "max_tokens"),
        ({"max_tokens": -1}, "BadRequestError", "max_tokens"),
        ({"max_tokens": 40_000}, "BadRequestError", "messages"),  # past the context window
        ({"stop": 5}, "BadRequestError", "stop"),
        ({"temperature": "hot"}, "BadRequestError", "temperature"),
        ({"temperature": -1}, "BadRequestError", "temperature"),
        ({"top_p": 0}, "BadRequestError", "top_p"),
        ({"n": 0}, "BadRequestError", "n"),
        ({"seed": "7"}, "BadRequestError", "seed"),
        ({"stream_options": {"include_usage": True}}, "BadRequestError", "stream_options"),
        ({"response_format": {"type": "yaml"}}, "BadRequestError", "response_format.type"),
    ],
)
async def test_each_bad_request_raises_the_sdks_typed_error(
    client: Any, change: dict[str, Any], error: str, param: str
) -> None:
    request: dict[str, Any] = {"model": MODEL, "messages": HELLO, **change}
    with pytest.raises(openai.APIStatusError) as err:
        await client.chat.completions.create(**request)
    assert type(err.value).__name__ == error
    assert not isinstance(err.value, openai.InternalServerError)
    assert err.value.body["param"] == param, err.value.body
    assert set(err.value.body) == {"message", "type", "param", "code"}


async def test_a_body_past_the_limit_is_a_413_in_openais_shape(client: Any) -> None:
    big = [{"role": "user", "content": "x" * 300_000}]
    with pytest.raises(openai.APIStatusError) as err:
        await client.chat.completions.create(model=MODEL, messages=big)
    assert err.value.status_code == 413
    assert err.value.body["code"] == "request_too_large"


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2, 3]", b'"hi"', b""],
)
async def test_a_body_that_is_no_json_object_is_a_400(mock_url: str, raw: bytes) -> None:
    async with aiohttp.ClientSession() as s, s.post(f"{mock_url}/v1/chat/completions",
                                                    data=io.BytesIO(raw)) as resp:
        body = await resp.json()
    assert resp.status == 400 and body["error"]["type"] == "invalid_request_error"


async def test_unknown_paths_and_methods_answer_in_openais_shape(mock_url: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{mock_url}/v1/nothing-here") as resp:
            missing = (resp.status, await resp.json())
        async with s.get(f"{mock_url}/v1/chat/completions") as resp:
            method = (resp.status, await resp.json())
    assert missing[0] == 404 and "message" in missing[1]["error"]
    assert method[0] == 405 and "message" in method[1]["error"]
