"""``ste-async view`` over HTTP: the JSON and HTML endpoints, filters, paging, bad input, a run
still being written, an index that does not match its shard, and the command itself.

The run (``viewrun.py``) is explored with the scripted LLM, distilled, and given two
hand-made episodes (model text that is markup; a tool that stayed unavailable and a refused
LLM request). Every expectation is computed here from the records, read back with the
store's own reader, never from the viewer's code.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient, TestServer
from viewrun import APIS, FAILING_ID, HOSTILE_ID, PAYLOADS, build_run, records, write_predictions

from ste_async.cli import main
from ste_async.records import EpisodeRecord
from ste_async.report import build_report
from ste_async.view.app import CSP, Viewer, make_app
from ste_async.view.runindex import Filters, RunIndex

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_run(tmp_path_factory.mktemp("viewed"))


@pytest.fixture
def run(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(built, copy)
    return copy


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "predictions.json"
    write_predictions(path)
    return path


@pytest.fixture
async def client(run: Path, predictions: Path) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app(Viewer(run, predictions)))) as c:
        yield c


async def _json(client: TestClient[Any, Any], url: str, status: int = 200) -> Any:
    response = await client.get(url)
    assert response.status == status, await response.text()
    assert response.headers["Content-Security-Policy"] == CSP
    return await response.json()


async def _all_ids(client: TestClient[Any, Any], query: str, size: int = 50) -> list[str]:
    """Follow the pages of the list to its end."""
    ids: list[str] = []
    start: int | None = 0
    while start is not None:
        page = await _json(client, f"/api/episodes?{query}&size={size}&start={start}")
        ids += [item["id"] for item in page["items"]]
        start = page["next"]
    return ids


# -- what the records say, computed independently -----------------------------------------

def _in_run_order(recs: list[EpisodeRecord]) -> list[EpisodeRecord]:
    rank = {api: n for n, api in enumerate(APIS)}
    return sorted(recs, key=lambda r: rank[r.api])  # stable: file order within an API


def _error_kinds(r: EpisodeRecord) -> set[str]:
    kinds = set()
    for trial in r.trials:
        for step in trial.steps:
            if step.kind == "feedback":
                kinds.add("feedback")
            if step.kind == "llm_error" or r.stopped:
                kinds.add("llm_error")
            if step.tool_kind in ("api_error", "unavailable"):
                kinds.add(step.tool_kind)
    return kinds


EXPECTED: dict[str, Callable[[EpisodeRecord], bool]] = {
    "api=forecast_weather": lambda r: r.api == "forecast_weather",
    "solved=yes": lambda r: any(t.solved for t in r.trials),
    "solved=no": lambda r: not any(t.solved for t in r.trials),
    "solved_study=no": lambda r: not any(t.solved_reference for t in r.trials),
    "error=feedback": lambda r: "feedback" in _error_kinds(r),
    "error=api_error": lambda r: "api_error" in _error_kinds(r),
    "error=unavailable": lambda r: "unavailable" in _error_kinds(r),
    "error=llm_error": lambda r: "llm_error" in _error_kinds(r),
    "error=none": lambda r: not _error_kinds(r),
    "text=BERLIN": lambda r: any("berlin" in t.query.lower() for t in r.trials),
    "api=add_date&error=feedback": lambda r: r.api == "add_date"
    and "feedback" in _error_kinds(r),
}


# -- the list -------------------------------------------------------------------------------

async def test_the_list_holds_every_episode_in_run_order(client: TestClient[Any, Any],
                                                          run: Path) -> None:
    expected = [r.id for r in _in_run_order(records(run))]
    page = await _json(client, "/api/episodes")
    assert [item["id"] for item in page["items"]] == expected
    assert page["total"] == page["matching"] == len(expected) == 11
    assert page["next"] is None
    one = await _json(client, "/api/episodes?api=add_date&size=2")  # its API's positions
    assert one["total"] == one["matching"] == sum(r.api == "add_date" for r in records(run))
    assert [i["id"] for i in one["items"]] == ["add_date#0", "add_date#1"] and one["next"] == 2


@pytest.mark.parametrize("query", sorted(EXPECTED))
async def test_each_filter_matches_the_records(client: TestClient[Any, Any], run: Path,
                                               query: str) -> None:
    expected = [r.id for r in _in_run_order(records(run)) if EXPECTED[query](r)]
    assert expected, f"the run should hold an episode for {query}"
    assert await _all_ids(client, query) == expected
    assert await _all_ids(client, query, size=1) == expected  # one a page, to the end


async def test_the_hand_made_episodes_land_in_their_filters(
        client: TestClient[Any, Any]) -> None:
    # a guard on the fixture itself: each error kind is there to be found
    assert FAILING_ID in await _all_ids(client, "error=unavailable")
    assert FAILING_ID in await _all_ids(client, "error=llm_error")
    assert HOSTILE_ID in await _all_ids(client, "solved=yes")
    assert HOSTILE_ID not in await _all_ids(client, "solved_study=no")


def test_a_record_filter_out_of_time_goes_on_where_it_stopped(run: Path) -> None:
    index = RunIndex(run)
    index.refresh()
    f = Filters(error="feedback")
    expected = [r.id for r in _in_run_order(records(run)) if "feedback" in _error_kinds(r)]
    found: list[str] = []
    start: int | None = 0
    pages = 0
    while start is not None:
        page = index.page(f, start=start, budget_s=0.0)  # reads one record per request
        assert page.matching is None  # not known without reading every record
        found += [h.id for h in page.items]
        start = page.next
        pages += 1
    assert found == expected
    assert pages > len(expected)  # it stopped early, and went on
    again = index.page(f, budget_s=60)  # what the pass learnt is kept: one page, all of it
    assert [h.id for h in again.items] == expected and not again.stopped_early


# -- one episode ----------------------------------------------------------------------------

async def test_an_episode_is_its_record(client: TestClient[Any, Any], run: Path) -> None:
    for record in records(run):
        got = await _json(client, f"/api/episode?id={record.id.replace('#', '%23')}")
        assert got["record"] == msgspec.to_builtins(record)


async def test_the_memory_shown_is_the_earlier_queries(client: TestClient[Any, Any],
                                                       run: Path) -> None:
    recs = sorted((r for r in records(run) if r.api == "add_date" and r.episode < 3),
                  key=lambda r: r.episode)
    earlier = [(t.query, t.solved) for r in recs for t in r.trials]
    got = await _json(client, "/api/episode?id=add_date%232")
    third = recs[2]
    assert [t["memory_shown"] for t in got["record"]["trials"]] == [4, 5]
    for trial, memory in zip(third.trials, got["memory_shown"], strict=True):
        assert [(m["query"], m["solved"]) for m in memory] == earlier[:trial.memory_shown]
    assert (got["previous"], got["next"]) == ("add_date#1", HOSTILE_ID)


async def test_the_episode_page_shows_each_step(client: TestClient[Any, Any],
                                                run: Path) -> None:
    record = next(r for r in records(run) if r.id == "add_date#0")
    response = await client.get("/episode?id=add_date%230")
    assert response.status == 200
    page = await response.text()
    for trial in record.trials:
        assert f'id="trial-{trial.index}"' in page
        for step in trial.steps:
            for text in (step.thought, step.action, step.action_input, step.observation):
                if text:
                    assert _escaped(text) in page
            if step.tool_status is not None:
                assert f"{step.tool_status} {step.tool_kind}" in page


def _escaped(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


async def test_model_text_is_escaped_everywhere(client: TestClient[Any, Any]) -> None:
    for url in ("/episode?id=add_date%2399", "/episodes", "/episodes?api=add_date",
                "/distilled", "/predictions", "/report"):
        response = await client.get(url)
        page = await response.text()
        assert response.headers["Content-Security-Policy"] == CSP
        assert "<script>" not in page and "<img" not in page and "<svg" not in page, url
        assert page.count("<script") == 1  # the page's own, from /static/app.js
    page = await (await client.get("/episode?id=add_date%2399")).text()
    for payload in PAYLOADS:
        assert _escaped(payload) in page


# -- the other pages ------------------------------------------------------------------------

async def test_the_overview_table_counts_the_records(client: TestClient[Any, Any],
                                                     run: Path) -> None:
    got = await _json(client, "/api/overview")
    table = got["tables"][0]
    rows = {row[0]: row for row in table["rows"]}
    recs = records(run)
    for api in APIS:
        mine = [r for r in recs if r.api == api]
        trials = [t for r in mine for t in r.trials]
        assert rows[api][1:4] == [len(mine), len(trials), sum(bool(t.solved) for t in trials)]
    assert rows["all"][1] == len(recs)
    assert got["settings"]["model"] == "ste-mock" and got["distilled"] is True


async def test_the_report_page_counts_the_records(client: TestClient[Any, Any],
                                                 run: Path) -> None:
    """The report's tables, served as JSON and HTML, hold what the records say: episodes,
    trials, both solved readings and tool calls per API."""
    got = await _json(client, "/api/report")
    page = await (await client.get("/report")).text()
    rows = {row["api"]: row for row in got["apis"]}
    recs = records(run)
    for api in APIS:
        trials = [t for r in recs if r.api == api for t in r.trials]
        row = rows[api]
        assert (row["episodes"], row["trials"]) == (sum(r.api == api for r in recs),
                                                    len(trials))
        assert row["solved"] == sum(t.solved is True for t in trials)
        assert row["solved_reference"] == sum(t.solved_reference is True for t in trials)
        assert row["tool_calls"] == sum(s.tool_kind is not None for t in trials
                                        for s in t.steps)
        assert f">{api}</a></td>" in page  # linked to its episodes
    assert got["totals"]["episodes"] == len(recs)
    for title in ("Per API", "Parameter coverage", "Errors by kind", "Query diversity",
                  "Latency"):
        assert f"<h2>{title}" in page


async def test_the_report_is_built_again_only_when_the_run_changed(
        run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ste_async.view.app as app

    builds: list[Path] = []

    def counted(run_dir: Path) -> Any:
        builds.append(run_dir)
        return build_report(run_dir)

    monkeypatch.setattr(app, "build_report", counted)
    async with TestClient(TestServer(make_app(Viewer(run)))) as client:
        first = await _json(client, "/api/report")
        assert (await client.get("/report")).status == 200
        assert await _json(client, "/api/report") == first
        assert len(builds) == 1  # three opens, one build
        shard = next((run / "episodes").glob("add_date-*.jsonl"))
        line = next(line for line in shard.read_bytes().splitlines(keepends=True)
                    if b'"add_date#1"' in line)
        with shard.open("ab") as f:  # the writer appends an episode
            f.write(line.replace(b'"add_date#1"', b'"add_date#7"')
                    .replace(b'"episode":1,', b'"episode":7,'))
        again = await _json(client, "/api/report")
        assert len(builds) == 2
        assert again["totals"]["episodes"] == first["totals"]["episodes"] + 1


async def test_the_distilled_page_has_every_judgment(client: TestClient[Any, Any],
                                                     run: Path) -> None:
    lines = [msgspec.json.decode(line) for line in
             (run / "distill" / "judgments.jsonl").read_bytes().splitlines()]
    dataset = msgspec.json.decode((run / "distill" / "dataset.json").read_bytes())
    got = await _json(client, "/api/distilled")
    assert got["total"] == len(lines) > 0
    by_id = {row["judgment"]["id"]: row for row in got["rows"]}
    for line in lines:
        row = by_id[line["id"]]
        assert row["judgment"]["text"] == line["text"]
        assert [e["query"] for e in row["examples"]] == \
            [e["query"] for e in dataset if e["source"] == line["id"]]
    kept = await _json(client, "/api/distilled?kept=no")
    assert kept["total"] == sum(not line["kept"] for line in lines)


async def test_the_predictions_are_scored_item_by_item(client: TestClient[Any, Any]) -> None:
    got = await _json(client, "/api/predictions")
    verdicts = [(r["api"], r["index"], r["verdict"]) for r in got["rows"]]
    assert verdicts == [("add_date", 0, "correct"), ("add_date", 1, "wrong API"),
                        ("get_today_date", 0, "no call"), ("get_today_date", 1, "malformed")]
    assert got["summary"]["correct %"] == 25.0
    only = await _json(client, "/api/predictions?verdict=no+call")
    assert [r["index"] for r in only["rows"]] == [0] and only["total"] == 1


async def test_static_files_come_from_the_package(client: TestClient[Any, Any]) -> None:
    script = await client.get("/static/app.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    assert "textContent" in await script.text()
    assert (await client.get("/static/nothing.js")).status == 404
    assert (await client.get("/favicon.ico")).status == 204


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "status", "says"), [
    ("/api/episodes?start=-1", 400, "start"),
    ("/api/episodes?start=ten", 400, "start"),
    ("/api/episodes?size=100000", 400, "size"),
    ("/api/episodes?solved=maybe", 400, "solved"),
    ("/api/episodes?error=oops", 400, "error"),
    ("/api/episode", 400, "which episode"),
    ("/api/episode?id=add_date%23404", 404, "no episode"),
    ("/api/episode?id=nohash", 404, "no episode"),
    ("/api/distilled?kept=perhaps", 400, "kept"),
])
async def test_bad_requests_are_named(client: TestClient[Any, Any], url: str, status: int,
                                      says: str) -> None:
    got = await _json(client, url, status)
    assert says in got["error"]
    html = await client.get(url.removeprefix("/api"))
    assert html.status == status and html.headers["Content-Security-Policy"] == CSP


def test_the_command_refuses_what_is_not_a_run(tmp_path: Path, run: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(tmp_path)]) == 2
    assert "is not a run directory (no run.json)" in capsys.readouterr().err
    assert main(["view", str(tmp_path / "absent")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert main(["view", str(run), "--predictions", str(bad)]) == 2
    assert "expected a JSON object" in capsys.readouterr().err
    assert main(["view", str(run), "--port", "70000"]) == 2


# -- a run being written, an index that lies --------------------------------------------------

async def test_a_run_being_written_shows_what_is_complete(run: Path) -> None:
    shard = next((run / "episodes").glob("add_date-*.jsonl"))
    line = next(line for line in shard.read_bytes().splitlines(keepends=True)
                if b'"add_date#1"' in line)
    moved = line.replace(b'"add_date#1"', b'"add_date#7"').replace(b'"episode":1,',
                                                                    b'"episode":7,')
    viewer = Viewer(run)
    async with TestClient(TestServer(make_app(viewer))) as client:
        before = await _all_ids(client, "api=add_date")
        with shard.open("ab") as f:
            f.write(moved[:len(moved) // 2])  # torn: the writer is in the middle of it
        assert await _all_ids(client, "api=add_date") == before
        overview = await _json(client, "/api/overview")
        assert overview["settings"]["torn last lines (being written)"] == 1
        with shard.open("ab") as f:
            f.write(moved[len(moved) // 2:])  # done; its index entry is not written yet
        assert await _all_ids(client, "api=add_date") == [*before, "add_date#7"]
        got = await _json(client, "/api/episode?id=add_date%237")
        assert got["record"]["episode"] == 7
        trials = len(got["record"]["trials"])
        rows = {row[0]: row for row in (await _json(client, "/api/overview"))["tables"][0]["rows"]}
        recs = [r for r in records(run) if r.api == "add_date"]  # the new line included
        assert rows["add_date"][1:3] == [len(recs), sum(len(r.trials) for r in recs)]
        assert len(recs) == len(before) + 1 and trials == len(recs[-1].trials)


async def test_a_shard_without_its_index_is_scanned(run: Path) -> None:
    for idx in (run / "episodes").glob("*.idx"):
        idx.unlink()
    async with TestClient(TestServer(make_app(Viewer(run)))) as client:
        expected = [r.id for r in _in_run_order(records(run))]
        assert await _all_ids(client, "") == expected
        got = await _json(client, f"/api/episode?id={HOSTILE_ID.replace('#', '%23')}")
        assert got["record"]["id"] == HOSTILE_ID


async def test_an_index_of_another_file_is_not_believed(run: Path) -> None:
    # the shard's lines rewritten in another order under the old index: every byte range
    # the index gives now points at a different line
    shard = next((run / "episodes").glob("add_date-*.jsonl"))
    lines = shard.read_bytes().splitlines(keepends=True)
    shard.write_bytes(b"".join(reversed(lines)))
    async with TestClient(TestServer(make_app(Viewer(run)))) as client:
        for record in records(run):
            got = await _json(client, f"/api/episode?id={record.id.replace('#', '%23')}")
            assert got["record"]["id"] == record.id


async def test_an_index_whose_heads_were_swapped_is_not_believed(run: Path) -> None:
    # every byte range still falls on a line, but the heads name the wrong lines
    shard = next((run / "episodes").glob("forecast_weather-*.jsonl"))
    idx = shard.with_name(shard.name + ".idx")
    entries = [line.split(b" ", 2) for line in idx.read_bytes().splitlines()]
    heads = [e[2] for e in entries]
    idx.write_bytes(b"".join(b"%s %s %s\n" % (e[0], e[1], h)
                             for e, h in zip(entries, heads[1:] + heads[:1], strict=True)))
    async with TestClient(TestServer(make_app(Viewer(run)))) as client:
        for record in records(run):
            got = await _json(client, f"/api/episode?id={record.id.replace('#', '%23')}")
            assert got["record"] == msgspec.to_builtins(record)


# -- the command --------------------------------------------------------------------------------

def test_the_command_serves_until_ctrl_c(run: Path) -> None:
    import urllib.request

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-m", "ste_async.cli", "view", str(run)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, cwd=ROOT) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            url = line.split(" at ", 1)[1].split()[0]
            assert url.startswith("http://127.0.0.1:")
            with urllib.request.urlopen(url + "api/overview", timeout=10) as response:
                assert msgspec.json.decode(response.read())["settings"]["model"] == "ste-mock"
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
            assert proc.returncode == 130, err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
