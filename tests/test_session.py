"""The run session: the typed run card, resume rules, the LLM opener, the edge's services."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from served import explore_with

from ste_async.cli import main
from ste_async.config import ExploreConfig, LlmSettings, load_explore_config
from ste_async.errors import ConfigError, StoreError
from ste_async.explore.runner import explore
from ste_async.services import LlmChoice, base_url, llm_servers, open_services
from ste_async.session import (
    RUN_SCHEMA,
    Endpoints,
    RunMeta,
    cassette_mode,
    check_resume,
    open_llm,
    read_run_meta,
)
from tool_mocks.llm import MockLlmConfig

FIXTURE = Path(__file__).parent / "fixtures" / "real_run"
APIS = ("add_date",)


def test_a_first_layout_run_card_reads_as_the_current_one() -> None:
    raw = json.loads((FIXTURE / "run.json").read_text())
    assert raw["schema"] == 1 and "llm_urls" in raw["config"]  # the flat layout
    meta = read_run_meta(FIXTURE)
    assert meta is not None and meta.schema == RUN_SCHEMA
    assert meta.config.llm.model == raw["config"]["model"]
    assert meta.config.llm.retry.attempts == raw["config"]["llm_retry"]["attempts"]
    assert meta.config.constrain_actions is True and meta.apis == raw["apis"]


@pytest.mark.parametrize("content, problem", [
    (b'{"schema": 2, "config": {}, "ap', "corrupt"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"schema": 2, "config": {"episodes": "many"}, "apis": [], "model": "m", '
     b'"cassette": "record"}', "Expected `int`"),
    (b'{"schema": 2, "config": {}, "apis": [], "model": "m", "cassette": "sometimes"}',
     "cassette"),
])
def test_an_unreadable_run_card_is_one_clear_error(tmp_path: Path, content: bytes,
                                                   problem: str) -> None:
    (tmp_path / "run.json").write_bytes(content)
    with pytest.raises(StoreError, match=problem) as caught:
        read_run_meta(tmp_path)
    assert str(tmp_path / "run.json") in str(caught.value)


def test_no_run_card_is_none(tmp_path: Path) -> None:
    assert read_run_meta(tmp_path) is None


def test_resume_rules() -> None:
    config = ExploreConfig(apis=APIS, episodes=2, constrain_actions=False)
    card = RunMeta(config=config, apis=list(APIS), model="m", cassette="record")
    check_resume(None, config, Path("r"), resume=False)  # nothing there: anything goes
    with pytest.raises(StoreError, match="already holds a run"):
        check_resume(card, config, Path("r"), resume=False)
    check_resume(card, config, Path("r"), resume=True)
    # more episodes and other concurrency may change on resume; the protocol may not
    check_resume(card, ExploreConfig(apis=APIS, episodes=9, constrain_actions=False,
                                     llm=LlmSettings(concurrency=3)), Path("r"), resume=True)
    with pytest.raises(StoreError, match="trials=4; this run has trials=2"):
        check_resume(card, ExploreConfig(apis=APIS, trials=2, constrain_actions=False),
                     Path("r"), resume=True)
    with pytest.raises(StoreError, match="model='default'; this run has model='other'"):
        check_resume(card, ExploreConfig(apis=APIS, constrain_actions=False,
                                         llm=LlmSettings(model="other")), Path("r"), True)


@pytest.mark.parametrize("requested, resume, mode", [
    ("record", False, "record"), ("record", True, "replay-then-live"),
    ("off", True, "off"), ("replay", True, "replay"),
])
def test_cassette_mode(requested: str, resume: bool, mode: str) -> None:
    assert cassette_mode(requested, resume) == mode  # type: ignore[arg-type]


def test_flat_llm_keys_in_a_config_file_still_load(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[explore]\nepisodes = 2\nllm_urls = ["http://127.0.0.1:9"]\n'
                    'llm_concurrency = 7\n[explore.llm]\nmodel = "m"\n')
    config = load_explore_config(path, llm_concurrency=5)
    assert config.episodes == 2 and config.llm.urls == ("http://127.0.0.1:9",)
    assert config.llm.model == "m" and config.llm.concurrency == 5  # the option wins


def test_a_config_whose_explore_is_no_table_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("explore = 5\n")
    with pytest.raises(ConfigError, match=r"\[explore\] must be a table"):
        load_explore_config(path)


async def test_the_engine_needs_servers_or_a_recording(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs servers"):
        await explore(ExploreConfig(apis=APIS), tmp_path / "run", None, handle_signals=False)


async def test_a_failed_preflight_leaves_no_run_card(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = ExploreConfig(apis=APIS, episodes=1, trials=1,
                           llm=LlmSettings(urls=("http://127.0.0.1:9",)))
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1:9"):
        await explore_with(config, run, handle_signals=False)
    assert read_run_meta(run) is None
    # so the retry with a server that answers needs no --resume and no clean-up
    outcome = await explore_with(ExploreConfig(apis=APIS, episodes=1, trials=1), run,
                                 handle_signals=False)
    assert outcome.metrics.done == 1
    card = read_run_meta(run)
    assert card is not None and card.model == "ste-mock" and card.cassette == "record"


async def test_open_services_gives_the_engine_urls_and_stops_the_servers() -> None:
    async with open_services(LlmChoice(mock=MockLlmConfig())) as endpoints:
        assert endpoints.tools_url is not None and len(endpoints.llm_urls) == 1
        assert not endpoints.embedded
        async with open_llm(LlmSettings(), endpoints.llm_urls, seed=0) as side:
            reply = await side.llm.complete([{"role": "user", "content": "User Query:"}],
                                            stop=None, seed=1, temperature=1.0, max_tokens=20)
            assert side.model == "ste-mock" and reply.text
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1"):  # stopped with the block
        async with open_llm(LlmSettings(), endpoints.llm_urls, seed=0):
            pass


async def test_given_urls_are_used_as_they_are() -> None:
    async with llm_servers(LlmChoice(urls=("http://127.0.0.1:1",))) as (urls, embedded):
        assert urls == ("http://127.0.0.1:1",) and not embedded


def test_cli_refuses_a_used_directory_before_starting_any_server(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    started: list[str] = []
    monkeypatch.setattr("ste_async.services.tool_server",
                        lambda *a, **k: started.append("tools"))  # would break if called
    # the recorded run used the embedded model; naming no LLM asks for the same
    code = main(["explore", "--apis", "add_date", "--out", str(run), "--quiet"])
    assert code == 2 and not started
    assert "already holds a run" in capsys.readouterr().err


def test_endpoints_travel_to_worker_processes_as_json() -> None:
    import msgspec

    endpoints = Endpoints(llm_urls=("http://a", "http://b"), tools_url="http://t")
    assert msgspec.json.decode(msgspec.json.encode(endpoints), type=Endpoints) == endpoints


@pytest.mark.parametrize("given", ["http://h:8000", "http://h:8000/", "http://h:8000/v1",
                                   "http://h:8000/v1/"])
def test_a_base_url_is_taken_with_or_without_v1(given: str) -> None:
    assert base_url(given) == "http://h:8000"


def test_explore_takes_a_v1_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    import anyio

    ready, stop, urls = threading.Event(), threading.Event(), []

    async def serve() -> None:
        async with llm_servers(LlmChoice(mock=MockLlmConfig())) as (served, _):
            urls.append(served[0])
            ready.set()
            await anyio.to_thread.run_sync(stop.wait)

    thread = threading.Thread(target=anyio.run, args=(serve,))
    thread.start()
    try:
        assert ready.wait(10)
        assert main(["explore", "--llm-url", urls[0] + "/v1", "--apis", "add_date",
                     "--episodes", "1", "--trials", "1", "--out", str(tmp_path / "r"),
                     "--quiet"]) == 0
    finally:
        stop.set()
        thread.join()
