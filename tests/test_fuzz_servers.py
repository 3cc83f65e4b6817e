"""Both mock servers fuzzed with request bodies: wrong types, sizes up to past the limit, deep
nesting, bytes that are not JSON at all. Whatever arrives, the answer is never a 5xx, it has
the route's JSON shape, and the server keeps answering.

The servers run in a thread of their own (an anyio portal) so that hypothesis drives them with
a plain blocking HTTP client, one connection per request as a careless client would.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tool_mocks.config import ToolServerConfig
from tool_mocks.llm import MockLlmConfig, serve_mock_llm
from tool_mocks.server import serve_tools

LIMIT = 64 * 1024  # small limits, so a body past them is quick to send
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with start_blocking_portal() as portal, \
            portal.wrap_async_context_manager(serve_mock_llm(MockLlmConfig(
                max_body_bytes=LIMIT, context_window=4096))) as llm, \
            portal.wrap_async_context_manager(serve_tools(ToolServerConfig(
                port=0, max_body_bytes=LIMIT))) as tools:
        yield llm, tools


def post(base: str, path: str, body: bytes) -> tuple[int, bytes, str]:
    where = urlsplit(base)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader("Content-Type") or ""
    finally:
        conn.close()


def get(base: str, path: str) -> int:
    where = urlsplit(base)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)


def deep(depth: int, kind: str) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


nested = st.builds(deep, st.integers(min_value=1, max_value=900), st.sampled_from(["list", "dict"]))
padding = st.integers(min_value=0, max_value=2 * LIMIT).map(lambda n: "x" * n)
some_padding = st.one_of(st.just(""), st.just(""), padding)

def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` three times in four, so that valid requests reach the deeper code too."""
    return st.one_of(good, good, good, bad)


junk = st.one_of(json_values, nested)
ROLES = st.sampled_from(["system", "user", "assistant", "tool", "wizard", "", "USER"])
good_messages = st.lists(st.fixed_dictionaries({
    "role": st.sampled_from(["system", "user", "assistant"]),
    "content": st.one_of(st.text(max_size=200),
                         st.just("Here is the API.\n\nUser Query:"),
                         st.lists(st.fixed_dictionaries({"type": st.just("text"),
                                                         "text": st.text(max_size=50)}),
                                  max_size=2)),
}), min_size=1, max_size=4)
messages = mostly(good_messages, st.one_of(
    json_values,
    st.lists(st.one_of(json_values, st.fixed_dictionaries({
        "role": st.one_of(ROLES, json_values),
        "content": st.one_of(st.text(max_size=200), json_values)})), max_size=4),
    padding.map(lambda p: [{"role": "user", "content": p}]),
))
TYPED_CHAT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "seed": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "n": st.integers(min_value=-1, max_value=4),
    "max_tokens": st.integers(min_value=-2, max_value=5000),
    "max_completion_tokens": st.integers(min_value=-2, max_value=500),
    "stop": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=3)),
    "stream": st.booleans(),
    "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans()}),
    "temperature": st.floats(min_value=-1, max_value=3),
    "top_p": st.floats(min_value=0, max_value=1),
    "presence_penalty": st.floats(min_value=-3, max_value=3),
    "logprobs": st.booleans(),
    "top_logprobs": st.integers(min_value=-1, max_value=25),
    "response_format": st.fixed_dictionaries({"type": st.sampled_from(
        ["text", "json_object", "json_schema", "yaml"])}),
    "user": st.text(max_size=10),
    "grammar": st.text(max_size=20),
}
chat_bodies = st.fixed_dictionaries(
    {"model": mostly(st.just("ste-mock"), json_values), "messages": messages},
    optional={f: mostly(good, junk) for f, good in TYPED_CHAT_FIELDS.items()},
)


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


raw_bodies = st.one_of(
    st.binary(max_size=300),
    nested.map(encoded),
    st.integers(min_value=1000, max_value=3000).map(lambda d: b"[" * d + b"]" * d),
    padding.map(lambda p: b'{"pad": "' + p.encode() + b'"}'),
)


def assert_answered(status: int, body: bytes, content_type: str) -> Any:
    assert status < 500, (status, body[:300])
    if content_type.startswith("text/event-stream"):
        assert body.endswith(b"data: [DONE]\n\n"), body[-200:]
        return None
    assert content_type.startswith("application/json"), (status, content_type, body[:200])
    return json.loads(body)


@FUZZ
@given(body=st.one_of(chat_bodies.map(encoded), raw_bodies))
def test_the_llm_server_never_fails_on_a_body(servers: tuple[str, str], body: bytes) -> None:
    llm, _ = servers
    status, raw, content_type = post(llm, "/v1/chat/completions", body)
    answer = assert_answered(status, raw, content_type)
    if status >= 400:
        assert set(answer["error"]) == {"message", "type", "param", "code"}, answer
        assert answer["error"]["message"]
    if len(body) > LIMIT:
        assert status == 413
    for path in ("/tokenize", "/detokenize"):
        status, raw, content_type = post(llm, path, body)
        assert_answered(status, raw, content_type)
    assert get(llm, "/health") == 200


API_NAMES = ["add_date", "Car database%%Makes", "Numbers%%Get math fact", "no such api"]
call_bodies = st.fixed_dictionaries(
    {"api": mostly(st.sampled_from(API_NAMES), json_values)},
    optional={"args": mostly(st.fixed_dictionaries({}, optional={
                                 "date": mostly(st.dates().map(str), json_values),
                                 "days": mostly(st.integers(-400, 400), json_values),
                                 "number": mostly(st.integers(), json_values)}),
                             st.one_of(junk, st.text(max_size=60))),
              "padding": some_padding},
)
TOOL_INPUTS = st.fixed_dictionaries({}, optional={"date": st.dates().map(str),
                                                 "days": st.integers(-400, 400)})
virtual_bodies = st.fixed_dictionaries(
    {"tool_name": mostly(st.sampled_from(["Date", "add_date", "car_database",
                                          "Global Email V4", "junk"]), json_values)},
    optional={"category": mostly(st.sampled_from(["Date", "Data", "Business_Software", ""]),
                                 json_values),
              "api_name": mostly(st.sampled_from(["add_date", "makes", "Global Email V4", ""]),
                                 json_values),
              "tool_input": mostly(st.one_of(TOOL_INPUTS, TOOL_INPUTS.map(json.dumps)),
                                   st.one_of(junk, st.text(max_size=60))),
              "strip": mostly(st.sampled_from(["truncate", "filter", ""]), json_values),
              "toolbench_key": json_values, "padding": some_padding},
)


@FUZZ
@given(route=st.sampled_from(["/call", "/virtual"]),
       body=st.one_of(call_bodies.map(encoded), virtual_bodies.map(encoded), raw_bodies))
def test_the_tool_server_never_fails_on_a_body(servers: tuple[str, str], route: str,
                                               body: bytes) -> None:
    _, tools = servers
    status, raw, content_type = post(tools, route, body)
    answer = assert_answered(status, raw, content_type)
    if route == "/call":
        assert set(answer) == {"status", "body"}, answer
        if status != 200:
            assert answer["status"] == status and answer["body"]["error"]
    else:
        assert set(answer) == {"error", "response"}, answer
        if status != 200:
            assert answer["error"]
    if len(body) > LIMIT:
        assert status == 413
    assert get(tools, "/health") == 200
