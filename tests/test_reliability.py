"""Fault tolerance and hostile input: tool faults, an LLM outage, garbage, secrets, paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from served import explore_with

from ste_async.catalog import load_catalog
from ste_async.config import ExploreConfig, LlmSettings, RetryConfig, Timeouts
from ste_async.errors import CatalogError
from ste_async.ids import shard_filename
from ste_async.store import iter_records, scan_run
from tool_mocks._serve import serve_app
from tool_mocks.config import FaultConfig, ToolServerConfig
from tool_mocks.llm import MockLlmConfig, make_llm_app

APIS = ("add_date", "Numbers%%Get math fact", "JAK_API%%Ben 10", "search")
QUICK_RETRY = RetryConfig(attempts=8, base=0.001, cap=0.02, max_elapsed=30)


async def test_tool_faults_at_30_percent_never_reach_the_model(tmp_path: Path) -> None:
    faults = FaultConfig(server_error=0.1, reset=0.05, malformed=0.1, slow=0.05, slow_ms=300)
    config = ExploreConfig(apis=APIS, episodes=3, trials=2, tool_retry=QUICK_RETRY,
                           tool_timeouts=Timeouts(connect=1, read=0.1, total=0.2))
    outcome = await explore_with(config, tmp_path, mock=MockLlmConfig(),
                            tools=ToolServerConfig(port=0, seed=3, faults=faults),
                            handle_signals=False)
    m = outcome.metrics
    assert m.done == 12 and m.failed == 0
    assert m.tool_retries > 0
    assert f"retries: tool {m.tool_retries}" in m.summary()
    for record in iter_records(tmp_path):
        for trial in record.trials:
            for step in trial.steps:
                obs = step.observation or ""
                assert "injected" not in obs and '"trunc' not in obs
                if step.tool_kind == "unavailable":  # only when the whole budget failed
                    assert step.tool_attempts == QUICK_RETRY.attempts


async def test_llm_outage_mid_run_waits_then_finishes(tmp_path: Path) -> None:
    """The LLM server goes away after some requests and comes back on the same port."""
    import socket

    from aiohttp import web

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = ExploreConfig(apis=APIS, episodes=2, trials=2, llm=LlmSettings(
        urls=(f"http://127.0.0.1:{port}",),
        retry=RetryConfig(attempts=500, base=0.01, cap=0.05),
        timeouts=Timeouts(connect=0.5, read=2, total=3)))
    down = anyio.Event()
    served = 0

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        nonlocal served
        served += 1
        if served == 25:
            down.set()
        return await handler(request)

    async def flaky_server(*, task_status: Any) -> None:
        app = make_llm_app(MockLlmConfig(port=port))
        app.middlewares.append(count)
        async with serve_app(app, "127.0.0.1", port):
            task_status.started()
            await down.wait()
        await anyio.sleep(0.6)  # connections are refused meanwhile
        async with serve_app(make_llm_app(MockLlmConfig(port=port)), "127.0.0.1", port):
            await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        await tg.start(flaky_server)
        outcome = await explore_with(config, tmp_path, handle_signals=False)
        tg.cancel_scope.cancel()
    assert down.is_set()
    assert outcome.metrics.done == 8 and outcome.metrics.failed == 0
    assert outcome.metrics.llm_retries > 0


async def test_garbage_and_empty_llm_replies_become_feedback(tmp_path: Path) -> None:
    from fakes import SPEC, EchoTools, ScriptedLlm

    from ste_async.explore.episode import run_episode
    from ste_async.explore.memory import MemoryShard

    replies = [
        "",  # trial 0: an empty query
        "\x00\xff\ufffd binary junk {{{",  # act: garbage
        "Yes",  # act: not a step at all
        "maybe",  # reflection without yes or no
        "Observation: I made this up",  # trial 1: a query that looks like an observation
        "Thought: I now know the final answer\nFinal Answer: x",
        "No",
    ]
    record = await run_episode(ExploreConfig(trials=2, max_turn=1), SPEC, 0,
                               ScriptedLlm(replies), EchoTools(), MemoryShard("x"))
    kinds = [[s.kind for s in t.steps] for t in record.trials]
    assert kinds == [["feedback", "feedback"], ["final"]]
    assert record.trials[0].query == "" and record.trials[0].solved is None
    assert record.trials[1].query == "Observation: I made this up"
    assert record.trials[1].solved is False


def test_canary_key_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capfd: pytest.CaptureFixture[str]) -> None:
    from ste_async.cli import main

    canary = "sk-canary-7f3e9b1d"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    monkeypatch.setenv("STE_UPSTREAM_KEY", canary)
    run = tmp_path / "run"
    assert main(["explore", "--llm", "mock", "--apis", ",".join(APIS), "--episodes", "1",
                 "--out", str(run)]) == 0
    assert main(["export", str(run)]) == 0
    out, err = capfd.readouterr()
    assert canary not in out and canary not in err
    files = [p for p in run.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for path in files:
        assert canary.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "a/b%%c d", "..", "Tool%%..%%x", "Numéro%%Añadir fecha", "日本語%%API",
     "", "/abs/path", "con\x00trol"],
)
def test_shard_names_cannot_escape_the_run_directory(tmp_path: Path, name: str) -> None:
    filename = shard_filename(name)
    assert "/" not in filename and "\x00" not in filename and not filename.startswith(".")
    assert (tmp_path / filename).resolve().parent == tmp_path.resolve()
    assert filename.isascii()
    assert shard_filename(name) != shard_filename(name + " ")  # folded alike, kept apart


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"x%%y": 5}', "description must be a string"),
        (b'{"x%%y": "{\\"required_parameters\\": [{\\"type\\": \\"STRING\\"}]}"}', "needs at least a 'name'"),
        (b'[{"name": 1}]', "catalog"),
        (b"\xff\xfe\x00binary", "not valid JSON"),
    ],
)
def test_corrupt_catalog_files_fail_clearly(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "catalog.json"
    path.write_bytes(content)
    with pytest.raises(CatalogError, match=needle):
        load_catalog(path)


async def test_huge_tool_answers_are_truncated_like_the_study(tmp_path: Path) -> None:
    from ste_async.tools import ToolOutcome, render_observation

    big = ToolOutcome(kind="ok", status=200, body='"' + "x" * 10_000 + '"', attempts=1,
                      latency_s=0.0)
    assert render_observation(big, 2048) == "x" * 2048
    config = ExploreConfig(apis=("Car database%%Makes",), episodes=1, trials=1)
    await explore_with(config, tmp_path, mock=MockLlmConfig(error_rate=0.0), handle_signals=False)
    (record,) = iter_records(tmp_path)
    observed = [s.observation for s in record.trials[0].steps if s.observation]
    assert observed and all(len(o) <= 2048 for o in observed)
    assert scan_run(tmp_path).corrupt == 0
