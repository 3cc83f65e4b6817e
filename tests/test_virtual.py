"""``POST /virtual`` driven the way ToolBench-style clients drive it.

Two clients are played here, each written from its own project's conventions rather than from
this server's code:

- the STE study's, which sends the catalog's own names and its ``tool2cate`` category, with
  ``tool_input`` the model's Action Input text;
- StableToolBench's, which sends *standardized* names (its ``standardize`` and
  ``change_name``), the category folder name, ``tool_input`` as JSON text or as an object,
  ``strip`` and ``toolbench_key``, and reads ``{"error", "response"}`` (any HTTP status other
  than 200 is a failure to it).

Every one of the study's 40 RapidAPI APIs must be reached both ways.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ste_async.catalog import ApiSpec, Catalog, Param, builtin_catalog
from tool_mocks.config import LlmBackendConfig, ToolServerConfig
from tool_mocks.playbook import entries_for
from tool_mocks.server import serve_tools

RAPIDAPI = [s for s in builtin_catalog().values() if s.style == "rapidapi"]


def toolbench_standardize(name: str) -> str:
    """ToolBench's standardize(): characters outside [CJK a-zA-Z0-9_^] become "_", runs of
    "_" collapse, lower case, "_" trimmed at both ends, a leading digit gets "get_"."""
    text = re.sub("[^\u4e00-\u9fa5^a-zA-Z0-9_]", "_", name)
    text = re.sub(r"(_)\1+", "_", text).lower()
    while text.startswith("_"):
        text = text[1:]
    while text.endswith("_"):
        text = text[:-1]
    if text and text[0].isdigit():
        text = "get_" + text
    return text


def toolbench_change_name(name: str) -> str:
    return "is_" + name if name in ("from", "class", "return", "false", "true", "id", "and") else name


async def stabletoolbench_call(session: aiohttp.ClientSession, url: str, category: str,
                               tool: str, api: str, tool_input: Any) -> dict[str, Any]:
    """One call as StableToolBench's client makes it; failures become its own error shape."""
    payload = {"category": category, "tool_name": toolbench_standardize(tool),
               "api_name": toolbench_change_name(toolbench_standardize(api)),
               "tool_input": tool_input, "strip": "truncate", "toolbench_key": "EMPTY"}
    async with session.post(f"{url}/virtual", json=payload,
                            headers={"toolbench_key": "EMPTY"}) as resp:
        if resp.status != 200:
            return {"error": f"request invalid, data error. status_code={resp.status}",
                    "response": ""}
        answer: dict[str, Any] = await resp.json()
        return answer


async def study_call(session: aiohttp.ClientSession, url: str, category: str, tool: str,
                     api: str, action_input: str) -> dict[str, Any]:
    payload = {"category": category, "tool_name": tool, "api_name": api,
               "tool_input": action_input, "strip": "filter"}
    async with session.post(f"{url}/virtual", json=payload) as resp:
        assert resp.status == 200
        answer: dict[str, Any] = await resp.json()
        return answer


async def direct_call(session: aiohttp.ClientSession, url: str, api: str,
                      args: dict[str, Any]) -> dict[str, Any]:
    async with session.post(f"{url}/call", json={"api": api, "args": args}) as resp:
        answer: dict[str, Any] = await resp.json()
        return answer


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def test_the_rapidapi_apis_are_the_studys_40(reference_dir: Path) -> None:
    """The study's RapidAPI APIs are those of its list written TOOL%%API (the tools whose API
    has the tool's own name included): exactly the ones its tool2cate file gives a category."""
    names = json.loads((reference_dir / "API_list.json").read_text())
    tool2cate = json.loads((reference_dir / "tool2cate_50.json").read_text())
    study = [n for n in names if "%%" in n]
    assert len(study) == 40
    assert [s.name for s in RAPIDAPI] == study
    assert {n.split("%%")[0] for n in study} == set(tool2cate)
    assert all(s.category == tool2cate[s.tool] for s in RAPIDAPI)
    same = [n for n in study if n.split("%%")[0] == n.split("%%")[1]]
    assert same == ["Global Email V4%%Global Email V4", "Weather_dataSet%%Weather_dataSet",
                    "Numbers Translator%%Numbers Translator"]


@pytest.mark.parametrize("spec", RAPIDAPI, ids=[s.name for s in RAPIDAPI])
async def test_every_rapidapi_api_answers_both_clients(spec: ApiSpec, tools_url: str,
                                                       session: aiohttp.ClientSession) -> None:
    args = entries_for(spec.name)[0]["args"]
    expected = await direct_call(session, tools_url, spec.name, args)
    assert expected["status"] == 200
    text = json.dumps(args)
    as_study = await study_call(session, tools_url, spec.category, spec.tool, spec.api, text)
    as_string = await stabletoolbench_call(session, tools_url, spec.category, spec.tool,
                                           spec.api, text)
    as_object = await stabletoolbench_call(session, tools_url, spec.category, spec.tool,
                                           spec.api, args)
    for answer in (as_study, as_string, as_object):
        assert answer["error"] == "", answer
        body = answer["response"]
        assert (json.loads(body) if body[:1] in "{[" else body) == expected["body"]


async def test_function_style_names_reach_the_api(tools_url: str,
                                                  session: aiohttp.ClientSession) -> None:
    # ToolBench's function names append "_for_<tool>" to the API and the category to the tool
    payload = {"category": "Business_Software",
               "tool_name": "global_email_v4_for_Business_Software",
               "api_name": "global_email_v4_for_global_email_v4",
               "tool_input": {"opt": "VerifyMailbox:Express", "email": "a@example.com"},
               "strip": "", "toolbench_key": ""}
    async with session.post(f"{tools_url}/virtual", json=payload) as resp:
        answer = await resp.json()
    assert resp.status == 200 and answer["error"] == "", answer


async def test_a_bmtools_api_is_found_by_its_bare_name(tools_url: str,
                                                       session: aiohttp.ClientSession) -> None:
    for tool, api in (("add_date", ""), ("Date", "add_date"), ("add_date", "add_date")):
        payload = {"tool_name": tool, "api_name": api,
                   "tool_input": '{"date": "2024-02-27", "days": 3}'}
        async with session.post(f"{tools_url}/virtual", json=payload) as resp:
            assert await resp.json() == {"error": "", "response": "2024-03-01"}, (tool, api)
    # a bare name of another tool is not taken for this one
    payload = {"tool_name": "Numbers", "api_name": "search", "tool_input": {}}
    async with session.post(f"{tools_url}/virtual", json=payload) as resp:
        assert (await resp.json())["error"].startswith("API not found")


LONE = ApiSpec(name="Moon Phase%%phase", tool="Moon Phase", api="phase", category="Science",
               description="The moon's phase on a date.", required=(Param(name="date"),))


@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"tool_name": "Nope", "api_name": "Nothing", "tool_input": "{}"}, 200,
         "API not found: tool 'Nope', API 'Nothing'"),
        ({"tool_name": "Moon Phase", "api_name": "phase", "tool_input": {"date": "x"}}, 200,
         "no backend can answer 'Moon Phase%%phase'"),
        ({"tool_name": "Date", "api_name": "add_date", "tool_input": {"days": 1}}, 200,
         "add_date answered status 400: missing required parameter 'date'"),
        ({"tool_name": "Date", "api_name": "add_date", "tool_input": "{days: 1"}, 200,
         "tool_input is not valid JSON"),
        ({}, 400, "no 'tool_name'"),
        ({"tool_name": ["a"], "api_name": "b"}, 400, "'tool_name' must be a string, got an array"),
        ({"tool_name": "Date", "api_name": "add_date", "tool_input": 7}, 400,
         "'tool_input' must be a JSON string or an object, got a number"),
    ],
)
async def test_every_failure_is_the_toolbench_shape_with_an_error(
    payload: dict[str, Any], status: int, needle: str, session: aiohttp.ClientSession
) -> None:
    catalog = Catalog([*builtin_catalog().values(), LONE])
    async with serve_tools(ToolServerConfig(port=0), catalog) as url:
        async with session.post(f"{url}/virtual", json=payload) as resp:
            answer = await resp.json()
    assert resp.status == status
    assert set(answer) == {"error", "response"}
    assert needle in answer["error"], answer


async def test_a_body_that_is_not_a_json_object_is_refused_in_shape(
    tools_url: str, session: aiohttp.ClientSession
) -> None:
    for raw in (b"{nope", b"[1, 2]", b""):
        async with session.post(f"{tools_url}/virtual", data=raw) as resp:
            answer = await resp.json()
        assert resp.status == 400 and answer["response"] == "" and answer["error"], raw


async def test_an_unreachable_llm_backend_is_a_502_in_each_routes_shape(
    session: aiohttp.ClientSession,
) -> None:
    config = ToolServerConfig(port=0, backend="llm",
                              llm=LlmBackendConfig(url="http://127.0.0.1:9", timeout_s=5))
    async with serve_tools(config, Catalog([LONE])) as url:
        payload = {"tool_name": "Moon Phase", "api_name": "phase",
                   "tool_input": {"date": "2024-01-01"}}
        async with session.post(f"{url}/virtual", json=payload) as resp:
            virtual = (resp.status, await resp.json())
        async with session.post(f"{url}/call",
                                json={"api": LONE.name, "args": {"date": "2024-01-01"}}) as resp:
            call = (resp.status, await resp.json())
    assert virtual[0] == 502 and virtual[1]["response"] == ""
    assert "LLM backend http://127.0.0.1:9 failed" in virtual[1]["error"]
    assert call[0] == 502 and call[1]["status"] == 502
    assert "LLM backend http://127.0.0.1:9 failed" in call[1]["body"]["error"]
