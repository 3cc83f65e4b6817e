"""All 50 APIs through the real server: coverage, 1,000 random calls, repeatability."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from ste_async.catalog import builtin_catalog, load_toolbench
from tool_mocks.playbook import playbook


def _random_calls(n: int, seed: int) -> list[tuple[str, Any]]:
    """Valid playbook calls, known-invalid ones, and random mutations of both."""
    rng = random.Random(seed)
    book = playbook()
    catalog = builtin_catalog()
    junk: list[Any] = ["", "zzz", -1, 0, 3.5, True, None, [], {}, "2024-13-45", "x" * 300]
    calls: list[tuple[str, Any]] = []
    for _ in range(n):
        api = rng.choice(list(catalog))
        entries = book[api]
        args: Any = dict(rng.choice(entries)["args"])
        roll = rng.random()
        if roll < 0.15:
            args = dict(rng.choice(book[f"{api}#invalid"])["args"])
        elif roll < 0.3 and args:
            args.pop(rng.choice(list(args)))
        elif roll < 0.45:
            args[rng.choice(["foo", "query", "q", "id"])] = rng.choice(junk)
        elif roll < 0.65 and catalog[api].params:
            args[rng.choice(catalog[api].params).name] = rng.choice(junk)
        elif roll < 0.7:
            args = rng.choice(["not an object", [1, 2], 7])
        calls.append((api, args))
    return calls


async def test_every_api_is_listed_and_answers_its_playbook(tools_url: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{tools_url}/apis") as resp:
            listed = [a["name"] for a in await resp.json()]
        assert len(listed) == 50
        for api in listed:
            for entry in playbook()[api]:
                async with s.post(f"{tools_url}/call",
                                  json={"api": api, "args": entry["args"]}) as resp:
                    body = await resp.json()
                assert body["status"] == 200, (api, entry, body)


async def test_a_thousand_random_calls_never_5xx_and_repeat_exactly(tools_url: str) -> None:
    calls = _random_calls(1000, seed=11)
    first: list[bytes] = []
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as s:

        async def one(api: str, args: Any) -> bytes:
            async with s.post(f"{tools_url}/call", json={"api": api, "args": args}) as resp:
                assert resp.status == 200, (api, args, resp.status)
                raw = await resp.read()
            status = json.loads(raw)["status"]
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, (api, args, raw[:300])
            return raw

        for api, args in calls:
            first.append(await one(api, args))
        # the same calls again, 32 at a time: every answer identical to the first
        again: list[bytes | None] = [None] * len(calls)
        todo = iter(range(len(calls)))

        async def worker() -> None:
            for i in todo:
                again[i] = await one(*calls[i])

        async with anyio.create_task_group() as tg:
            for _ in range(32):
                tg.start_soon(worker)
    assert again == first
    assert statuses.get(200, 0) > 300 and sum(v for k, v in statuses.items() if k >= 400) > 200


def test_the_study_catalog_of_817_apis_loads(reference_dir: Path) -> None:
    catalog = load_toolbench(reference_dir / "API_descriptions.json")
    assert len(catalog) == 817
    assert catalog["forecast_weather"].style == "bmtools"
    assert [p.name for p in catalog["forecast_weather"].required] == ["location", "days"]
    assert catalog["Places%%Geographic coordinates by placename"].tool == "Places"


def test_builtin_names_match_the_study(reference_dir: Path) -> None:
    names = json.loads((reference_dir / "API_list.json").read_text())
    assert list(builtin_catalog()) == names
    study = load_toolbench(reference_dir / "API_descriptions_50.json")
    for name, spec in builtin_catalog().items():
        ours = {p.name for p in spec.params}
        assert {p.name for p in study[name].required} <= ours, name
