"""ToolBench's own tool environment as a catalog: per-tool files, a tree of them, every field.

The files written here follow ToolBench's ``data/toolenv/tools/<Category>/<tool>.json``: one
object per tool with its RapidAPI metadata (``product_id``, ``home_url``, ``host``, ``score``,
``pricing``, ...) and an ``api_list`` whose entries carry ``url``, ``method``, the two
parameter lists, and the recorded ``code``, ``statuscode``, ``body``, ``headers`` and
``schema``. Such a tree loads through ``--catalog`` for the tool server and for ``explore``,
and, with no simulator for these APIs, they answer through the LLM backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from anyio.from_thread import start_blocking_portal

from ste_async.catalog import builtin_catalog, load_catalog
from ste_async.cli import main
from ste_async.config import ExploreConfig
from ste_async.errors import CatalogError
from ste_async.store import iter_records
from tool_mocks.cli import add_arguments, config_from_args
from tool_mocks.config import LlmBackendConfig, ToolServerConfig
from tool_mocks.llm import MockLlmConfig, serve_mock_llm
from tool_mocks.server import serve_tools


def _param(name: str, kind: str, description: str | None, default: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "description": description, "default": default}


def _api(name: str, description: str | None, required: list[dict[str, Any]],
         optional: list[dict[str, Any]], method: str = "GET") -> dict[str, Any]:
    return {
        "name": name,
        "url": f"https://example.p.rapidapi.com/{name.lower().replace(' ', '-')}",
        "description": description,
        "method": method,
        "required_parameters": required,
        "optional_parameters": optional,
        "code": "import requests\n\nresponse = requests.get(url, headers=headers)",
        "statuscode": 200,
        "body": {"ok": True},
        "headers": {"content-type": "application/json"},
        "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        "test_endpoint": "",
    }


def _tool(name: str, description: str | None, apis: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "product_id": f"api_{name.lower().replace(' ', '_')}",
        "tool_description": description,
        "home_url": f"https://rapidapi.com/someone/api/{name.lower().replace(' ', '-')}/",
        "name": name,
        "title": name,
        "pricing": "FREEMIUM",
        "tool_name": name,
        "score": {"avgServiceLevel": 100, "avgLatency": 412, "avgSuccessRate": 97,
                  "popularityScore": 8.4, "__typename": "Score"},
        "host": f"{name.lower().replace(' ', '-')}.p.rapidapi.com",
        "api_list": apis,
        "standardized_name": name.lower().replace(" ", "_"),
    }


TOOLS: dict[str, list[dict[str, Any]]] = {
    "Sports": [
        _tool("Cricket Scores", "Live and past cricket scores.", [
            _api("Match Details", "A match by its id.",
                 [_param("match_id", "NUMBER", "The match's id", 4312)],
                 [_param("innings", "ENUM", "", "all"),
                  _param("live", "BOOLEAN", None, False)]),
            _api("Recent Matches", None, [],
                 [_param("since", "DATE (YYYY-MM-DD)", "First day", "2024-05-01"),
                  _param("kickoff", "TIME (24-hour HH:MM)", "Local time", "18:30")]),
        ]),
    ],
    "Travel": [
        _tool("Airport Finder", "Airports near a place.", [
            _api("Nearby Airports", "Airports around a point.",
                 [_param("location", "GEOPOINT (latitude, longitude)", "Where", "51.5,-0.12")],
                 [_param("radius_km", "NUMBER", "How far", 50),
                  _param("filters", "OBJECT", "Extra filters", None),
                  _param("types", "ARRAY", "Airport types", "large,medium")],
                 method="POST"),
        ]),
        # a tool whose only API has the tool's own name, as three of the study's have
        _tool("Visa Check", None, [_api("Visa Check", "Whether a visa is needed.", [], [])]),
    ],
}


def write_tree(root: Path) -> Path:
    for category, tools in TOOLS.items():
        folder = root / category
        folder.mkdir(parents=True)
        for tool in tools:
            (folder / f"{tool['standardized_name']}.json").write_text(json.dumps(tool))
    return root


NAMES = ["Cricket Scores%%Match Details", "Cricket Scores%%Recent Matches",
         "Airport Finder%%Nearby Airports", "Visa Check%%Visa Check"]


def test_a_tree_of_tool_files_loads_with_every_field(tmp_path: Path) -> None:
    catalog = load_catalog(write_tree(tmp_path / "tools"))
    assert list(catalog) == NAMES
    match = catalog["Cricket Scores%%Match Details"]
    assert (match.tool, match.api, match.category, match.style) == (
        "Cricket Scores", "Match Details", "Sports", "rapidapi")
    assert match.tool_description == "Live and past cricket scores."
    assert [(p.name, p.type, p.default) for p in match.required] == [("match_id", "number", "4312")]
    assert [(p.name, p.type) for p in match.optional] == [("innings", "enum"), ("live", "boolean")]
    recent = catalog["Cricket Scores%%Recent Matches"]
    assert recent.description == "" and not recent.required
    assert [(p.type, p.format) for p in recent.optional] == [("date", "YYYY-MM-DD"), ("string", "")]
    near = catalog["Airport Finder%%Nearby Airports"]
    assert [p.type for p in near.params] == ["string", "number", "object", "array"]
    assert catalog["Visa Check%%Visa Check"].category == "Travel"
    # the description the model sees is the study's shape, built from the tool file
    shown = json.loads(match.prompt_description())
    assert shown["parent_tool_name"] == "Cricket Scores"
    assert shown["required_parameters"][0]["name"] == "match_id"


def test_one_tool_file_loads_and_takes_its_folders_category(tmp_path: Path) -> None:
    path = write_tree(tmp_path / "tools") / "Travel" / "airport_finder.json"
    catalog = load_catalog(path)
    assert list(catalog) == ["Airport Finder%%Nearby Airports"]
    assert catalog["Airport Finder%%Nearby Airports"].category == "Travel"
    # several tools in one file, as a list
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps([t for tools in TOOLS.values() for t in tools]))
    assert list(load_catalog(bundle)) == NAMES


def test_the_projects_own_form_still_loads(tmp_path: Path) -> None:
    import msgspec

    path = tmp_path / "apis.json"
    path.write_bytes(msgspec.json.encode(list(builtin_catalog().values())))
    assert list(load_catalog(path)) == list(builtin_catalog())


def test_the_studys_description_file_still_loads(reference_dir: Path) -> None:
    catalog = load_catalog(reference_dir / "API_descriptions.json")
    assert len(catalog) == 817 and catalog["add_date"].style == "bmtools"


def _broken(tmp_path: Path, change: Any) -> Path:
    tool = json.loads(json.dumps(TOOLS["Sports"][0]))
    change(tool)
    folder = tmp_path / "Sports"
    folder.mkdir()
    path = folder / "cricket_scores.json"
    path.write_text(json.dumps(tool))
    return path


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda t: t.pop("tool_name"), "'tool_name' must be a string, got null"),
        (lambda t: t.update(tool_name="  "), "'tool_name' must not be empty"),
        (lambda t: t.update(tool_description=7),
         "tool 'Cricket Scores': 'tool_description' must be a string, got a number"),
        (lambda t: t.update(api_list={"a": 1}),
         "tool 'Cricket Scores': 'api_list' must be an array, got an object"),
        (lambda t: t["api_list"].append("Scores"),
         "tool 'Cricket Scores': api_list[2] must be an object, got a string"),
        (lambda t: t["api_list"][1].pop("name"),
         "tool 'Cricket Scores': api_list[1]: 'name' must be a string, got null"),
        (lambda t: t["api_list"][0].update(description=["x"]),
         "API 'Match Details' (api_list[0]): 'description' must be a string, got an array"),
        (lambda t: t["api_list"][0]["required_parameters"][0].pop("name"),
         "API 'Match Details' (api_list[0]): required_parameters[0]: every parameter needs at "
         "least a 'name'"),
        (lambda t: t["api_list"][0].update(optional_parameters="none"),
         "API 'Match Details' (api_list[0]): 'optional_parameters' must be an array, got a "
         "string"),
        (lambda t: t["api_list"].append(t["api_list"][0]),
         "API 'Cricket Scores%%Match Details' appears twice in the catalog"),
    ],
)
def test_an_error_names_the_file_the_entry_and_the_field(tmp_path: Path, change: Any,
                                                         needle: str) -> None:
    path = _broken(tmp_path, change)
    for target in (path, tmp_path):  # the file itself, and a tree that holds it
        with pytest.raises(CatalogError) as err:
            load_catalog(target)
        assert str(path) in str(err.value) and needle in str(err.value), str(err.value)


def test_other_shapes_are_refused_clearly(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogError, match=r"holds no \.json tool files"):
        load_catalog(empty)
    queries = tmp_path / "G1_query.json"
    queries.write_text(json.dumps([{"query": "q", "query_id": 1, "api_list": [
        {"category_name": "Sports", "tool_name": "Cricket Scores", "api_name": "x"}]}]))
    with pytest.raises(CatalogError, match="is a ToolBench query file"):
        load_catalog(queries)
    described = tmp_path / "API_descriptions.json"
    described.write_text(json.dumps({"Tool%%Api": {"description": "x"}}))
    with pytest.raises(CatalogError, match=r"API_descriptions\.json: entry 'Tool%%Api': "
                                           r"description must be a string, got an object"):
        load_catalog(described)
    stray = tmp_path / "tree" / "Sports"
    stray.mkdir(parents=True)
    (stray / "notes.json").write_text('{"hello": "world"}')
    with pytest.raises(CatalogError, match=r"notes\.json: not a ToolBench tool file"):
        load_catalog(tmp_path / "tree")


def _tools_config(argv: list[str]) -> ToolServerConfig:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(argv))


async def test_the_tool_server_serves_the_tree_through_the_llm_backend(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "tools")
    async with serve_mock_llm(MockLlmConfig()) as llm:
        config = _tools_config(["--port", "0", "--catalog", str(tree), "--llm-url", llm])
        async with serve_tools(config) as url, aiohttp.ClientSession() as s:
            async with s.get(f"{url}/apis") as resp:
                apis = await resp.json()
            async with s.post(f"{url}/call", json={
                    "api": "Cricket Scores%%Match Details", "args": {"match_id": "4312"}}) as resp:
                direct = await resp.json()
            payload = {"category": "Travel", "tool_name": "visa_check", "api_name": "visa_check",
                       "tool_input": "{}", "strip": "truncate", "toolbench_key": ""}
            async with s.post(f"{url}/virtual", json=payload) as resp:
                virtual = await resp.json()
            async with s.post(f"{url}/call", json={
                    "api": "Cricket Scores%%Match Details", "args": {}}) as resp:
                invalid = await resp.json()
    assert [(a["name"], a["category"], a["backend"]) for a in apis] == [
        (n, "Sports" if n.startswith("Cricket") else "Travel", "llm") for n in NAMES]
    # the scripted LLM writes a body from the call's arguments, once they passed validation
    assert direct["status"] == 200 and direct["body"]["request"] == {"match_id": "4312"}
    assert virtual["error"] == "" and json.loads(virtual["response"])["status"] == "success"
    assert invalid["status"] == 400 and "match_id" in invalid["body"]["error"]


def test_explore_runs_the_tree_against_a_tool_server_with_an_llm_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = write_tree(tmp_path / "tools")
    run = tmp_path / "run"
    with start_blocking_portal() as portal, \
            portal.wrap_async_context_manager(serve_mock_llm(MockLlmConfig())) as llm, \
            portal.wrap_async_context_manager(serve_tools(ToolServerConfig(
                port=0, catalog=str(tree), llm=LlmBackendConfig(url=llm)))) as tools:
        code = main(["explore", "--llm", "mock", "--catalog", str(tree), "--tools-url", tools,
                     "--episodes", "1", "--trials", "2", "--out", str(run), "--quiet"])
    assert code == 0, capsys.readouterr().err
    records = {r.api: r for r in iter_records(run)}
    assert set(records) == set(NAMES)
    for api, record in records.items():
        answered = [s for t in record.trials for s in t.steps
                    if s.kind == "call" and s.tool_status == 200]
        # the scripted model fills in the documented defaults; the LLM backend answers
        assert answered, api
        assert all('"status":"success"' in (s.observation or "") for s in answered), api
    match = records["Cricket Scores%%Match Details"]
    assert any(s.args == {"match_id": "4312"} for t in match.trials for s in t.steps)


def test_explore_stops_before_any_episode_when_apis_have_no_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = write_tree(tmp_path / "tools")
    run = tmp_path / "run"
    code = main(["explore", "--llm", "mock", "--catalog", str(tree), "--episodes", "1",
                 "--out", str(run), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [x for x in err.splitlines() if x.startswith("ste-async explore: error:")]
    assert "cannot answer 4 API(s) of this run, e.g. 'Cricket Scores%%Match Details'" in line
    assert "--llm-url" in line
    assert not (run / "episodes").exists() or not any((run / "episodes").iterdir())


async def test_explore_through_the_edge_serves_the_tree_with_an_llm_backend(
    tmp_path: Path,
) -> None:
    from served import explore_with

    tree = write_tree(tmp_path / "tools")
    async with serve_mock_llm(MockLlmConfig()) as llm:
        tools = ToolServerConfig(port=0, catalog=str(tree), llm=LlmBackendConfig(url=llm))
        config = ExploreConfig(catalog=str(tree), apis=("Visa Check%%Visa Check",), episodes=1,
                               trials=1)
        outcome = await explore_with(config, tmp_path / "run", tools=tools, handle_signals=False)
    assert outcome.metrics.failed == 0


def test_serve_tools_llm_flags_are_checked() -> None:
    from ste_async.errors import ConfigError

    assert _tools_config(["--llm-url", "http://127.0.0.1:8000"]).llm == LlmBackendConfig(
        url="http://127.0.0.1:8000")
    assert _tools_config(["--llm-url", "http://h:1", "--llm-model", "qwen"]).llm == \
        LlmBackendConfig(url="http://h:1", model="qwen")
    with pytest.raises(ConfigError, match="--llm-model needs --llm-url"):
        _tools_config(["--llm-model", "qwen"])
    with pytest.raises(ConfigError, match="must start with http"):
        _tools_config(["--llm-url", "localhost:8000"])
