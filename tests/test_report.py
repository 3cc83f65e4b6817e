"""``ste-async report``: checked against the records, never against the report's own code.

Three kinds of run: a tiny run written by hand here, whose every count is known; the real
recorded run in ``fixtures/real_run``, counted by reading its JSONL with ``json``; and runs
of the scripted LLM (several worker processes, cut short mid-write, resumed when finished).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ste_async.cli import main
from ste_async.config import ExploreConfig
from ste_async.ids import shard_filename
from ste_async.records import SCHEMA_VERSION, CallStats, EpisodeRecord, Step, Trial
from ste_async.report import Report, build_report, render_html, render_short, render_text
from ste_async.report.build import rejected_parameter
from ste_async.session import RunMeta, write_run_meta
from ste_async.store import lock_run
from ste_async.tools.client import UNAVAILABLE_OBSERVATION

FIXTURE = Path(__file__).parent / "fixtures" / "real_run"
PLACES = "Places%%Geographic coordinates by placename"  # name (req), lang (req enum en|ru), country
ADD_DATE = "add_date"  # date (req), days (req)
SPRING = "What are the coordinates of the town called Springfield in the United States?"


def _stats(latency: float, attempts: int = 1, prompt: int = 10, completion: int = 2
           ) -> CallStats:
    return CallStats(prompt_tokens=prompt, completion_tokens=completion, latency_s=latency,
                     attempts=attempts)


def _call(args: dict[str, Any], kind: str | None, observation: str | None = None,
          attempts: int = 1, latency: float = 0.01, status: int = 200) -> Step:
    return Step(raw="Action: ...", kind="call", action="x", action_input=json.dumps(args),
                args=args, observation=observation,
                tool_kind=kind,  # type: ignore[arg-type]
                tool_status=None if kind is None else status,
                tool_attempts=attempts if kind else 0, tool_latency_s=latency if kind else 0.0,
                llm=_stats(1.0))


def _error(body: dict[str, Any] | str) -> str:
    return body if isinstance(body, str) else json.dumps(body)


def _records() -> list[EpisodeRecord]:
    """Four episodes whose every count the tests below state by hand."""
    p0 = EpisodeRecord(schema=SCHEMA_VERSION, id=f"{PLACES}#0", api=PLACES, episode=0,
                       conversations=[], elapsed_s=2.0, finished_at=1000.0, trials=[
        Trial(index=0, query=SPRING, memory_shown=0, finished=True, reflection="Yes",
              solved=True, solved_reference=True, imagine=_stats(0.5),
              reflect=_stats(0.2, attempts=2), steps=[
                  _call({"name": "Paris", "lang": "fr"}, "api_error", _error(
                      {"error": "parameter 'lang' must be one of en, ru; got 'fr'",
                       "parameter": "lang"}), status=400),
                  _call({"name": "Paris", "lang": "en"}, "ok", '{"name":"Paris"}', attempts=3),
                  Step(raw="Final Answer: 48.85, 2.35", kind="final", final_answer="48.85",
                       llm=_stats(1.0))]),
        Trial(index=1, query="  what are the coordinates of the town called SPRINGFIELD in "
                             "the United States? ", memory_shown=1, finished=False,
              reflection="No", solved=False, solved_reference=False, imagine=_stats(0.5),
              reflect=_stats(0.2), steps=[
                  Step(raw="Action: x\nAction Input: {oops", kind="feedback",
                       feedback="bad_json", observation="The Action Input ...",
                       llm=_stats(1.0)),
                  _call({"lang": "en"}, "api_error", _error(
                      {"error": "missing required parameter 'name'",
                       "required_parameters": ["name", "lang"]}), status=400),
                  _call({"name": "Lyon", "lang": "ru", "country": "FR"}, "unavailable",
                        UNAVAILABLE_OBSERVATION, attempts=6, status=0),
                  _call({"name": "never sent"}, None)])])  # ran out of turns: not a call
    p1 = EpisodeRecord(schema=SCHEMA_VERSION, id=f"{PLACES}#1", api=PLACES, episode=1,
                       conversations=[], elapsed_s=3.0, finished_at=1003.5,
                       stopped="LLM rejected the request: 9000 tokens exceed the 8192 context",
                       trials=[
        Trial(index=0, query=SPRING.replace("Springfield", "Springfeld"), memory_shown=2,
              finished=False, reflection="No.", solved=False, solved_reference=False,
              imagine=_stats(0.5), reflect=_stats(0.2), steps=[
                  # an observation cut short by the observation limit, mid-string
                  _call({"name": "Springfield", "lang": "en", "country": "United States"},
                        "api_error", '{"error":"parameter \'country\' is not a two-letter '
                                     'code; got \'United Sta', status=400),
                  _call({"name": "Springfield", "lang": "en", "foo": 1}, "api_error", _error(
                      {"error": "unknown parameter 'foo'",
                       "accepted_parameters": ["name", "lang", "country"]}), status=400),
                  _call({"name": "Springfield", "lang": "en"}, "api_error", _error(
                      {"error": "no place matches the search text"}), status=404)]),
        Trial(index=1, query="Give me the Russian name of Moscow", memory_shown=3,
              finished=False, imagine=_stats(0.5), steps=[
                  Step(raw="LLM rejected the request: 9000 tokens exceed the 8192 context",
                       kind="llm_error")])])
    a0 = EpisodeRecord(schema=SCHEMA_VERSION, id=f"{ADD_DATE}#0", api=ADD_DATE, episode=0,
                       conversations=[], elapsed_s=1.0, finished_at=1011.0, trials=[
        Trial(index=0, query="What date is 30 days after 2024-01-31?", memory_shown=0,
              finished=True, reflection="Yes, Now done", solved=True, solved_reference=False,
              imagine=_stats(0.5), reflect=_stats(0.2), steps=[
                  _call({"date": "2024-01-31", "days": 30}, "ok", '"2024-03-01"'),
                  Step(raw="Final Answer: 2024-03-01", kind="final", llm=_stats(1.0))])])
    a1 = EpisodeRecord(schema=SCHEMA_VERSION, id=f"{ADD_DATE}#1", api=ADD_DATE, episode=1,
                       conversations=[], elapsed_s=0.5, finished_at=1012.0, trials=[],
                       stopped="LLM rejected a request in trial 0: prompt too long")
    return [p0, p1, a0, a1]


def _write_run(run: Path, records: list[EpisodeRecord], episodes: int = 3) -> None:
    (run / "episodes").mkdir(parents=True)
    config = ExploreConfig(apis=(PLACES, ADD_DATE), episodes=episodes, trials=2)
    write_run_meta(run, RunMeta(config=config, apis=[PLACES, ADD_DATE], model="hand-made",
                                cassette="off"))
    for record in records:
        with (run / "episodes" / shard_filename(record.api)).open("ab") as f:
            f.write(msgspec.json.encode(record) + b"\n")


@pytest.fixture
def hand_run(tmp_path: Path) -> Path:
    run = tmp_path / "hand"
    _write_run(run, _records())
    return run


def test_per_api_rows_and_totals_of_a_run_known_by_hand(hand_run: Path) -> None:
    report = build_report(hand_run)
    rows = {r.api: r for r in report.apis}
    places, dates = rows[PLACES], rows[ADD_DATE]
    assert (places.episodes, places.planned, places.trials) == (2, 3, 4)
    assert (places.solved, places.solved_reference, places.finished) == (1, 1, 1)
    # 2 + 2 + 3 calls answered; the reply that ran out of turns was never sent
    assert (places.tool_calls, places.api_errors, places.unavailable) == (7, 5, 1)
    assert (places.parse_feedback, places.llm_errors) == (1, 1)
    # imagine + reflect (the refused trial imagined only), then the replies of the act loop
    assert places.llm_calls == (2 + 2 + 2 + 1) + (3 + 4 + 3)
    assert places.calls_per_trial == 7 / 4 and places.solved_rate == 0.25
    assert places.time_s == 5.0
    assert (dates.trials, dates.solved, dates.solved_reference, dates.tool_calls) == (1, 1, 0, 1)
    assert dates.llm_errors == 1  # refused before any step: only the episode says so
    t = report.totals
    assert (t.episodes, t.planned, t.trials, t.stopped_episodes) == (4, 6, 5, 2)
    assert (t.llm_retries, t.tool_retries) == (1, 2 + 5)
    assert t.prompt_tokens == 10 * (places.llm_calls + dates.llm_calls)
    assert t.span_s == 12.0 and report.throughput.bucket_s == 1.0
    assert report.throughput.episodes == [1, 0, 0, 1] + [0] * 7 + [1, 1]


def test_coverage_counts_parameters_values_and_rejections(hand_run: Path) -> None:
    cov = {c.api: c for c in build_report(hand_run).coverage}
    places = {p.name: p for p in cov[PLACES].params}
    assert list(places) == ["name", "lang", "country", "foo"]  # declared first, then made up
    name, lang, country, foo = (places[k] for k in ("name", "lang", "country", "foo"))
    assert (name.required, name.calls, name.accepted, name.rejected) == (True, 6, 1, 1)
    assert name.distinct == 3 and {v.value for v in name.top_values} == {
        '"Paris"', '"Lyon"', '"Springfield"'}
    assert (lang.calls, lang.accepted, lang.rejected, lang.distinct) == (7, 1, 1, 3)
    assert lang.choices == ["en", "ru"] and lang.choices_used == ["en", "ru"]
    assert (country.required, country.calls, country.rejected) == (False, 2, 1)  # cut short
    assert (foo.declared, foo.calls, foo.rejected, foo.top_values[0].value) == (
        False, 1, 1, "1")  # the number 1
    assert cov[PLACES].rejected_unattributed == 1 and cov[PLACES].calls == 7
    dates = {p.name: p for p in cov[ADD_DATE].params}
    assert dates["days"].exercised and dates["days"].top_values[0].value == "30"
    assert dates["date"].top_values[0].value == '"2024-01-31"'
    assert (dates["date"].calls, dates["date"].accepted) == (1, 1)


def test_errors_by_kind_and_query_diversity(hand_run: Path) -> None:
    report = build_report(hand_run)
    errors = {e.kind: e for e in report.errors}
    assert {k: e.count for k, e in errors.items()} == {
        "api_error": 5, "parse_feedback": 1, "unavailable": 1, "llm_error": 2}
    assert errors["parse_feedback"].top[0].message == "bad_json"
    assert "parameter 'lang' must be one of en, ru; got 'fr'" in [
        m.message for m in errors["api_error"].top]
    diversity = {d.api: d for d in report.diversity}
    places = diversity[PLACES]
    # the second query folds to the first; "Springfeld" is a near-duplicate; Moscow is new
    assert (places.queries, places.distinct, places.near_duplicates) == (4, 3, 1)
    assert (places.memory_mean, places.memory_max) == (1.5, 3)
    llm = report.llm_latency
    assert llm.count == report.totals.llm_calls and llm.max == 1.0
    assert llm.p50 is not None and abs(llm.p50 - 1.0) <= 0.025


@pytest.mark.parametrize(("observation", "blamed"), [
    ('{"error":"parameter \'date\' must be a date written YYYY-MM-DD; got \'x\'",'
     '"parameter":"date"}', "date"),
    ('{"error":"missing required parameter \'days\'","required_parameters":["date","days"]}',
     "days"),
    ('{"error":"unknown parameter \'key_1\'","accepted_parameters":["date","days"]}', "key_1"),
    ('{"error":"parameter \'name\' is empty; give a character name such as \'Cable\'"}', "name"),
    ('{"error":"parameter \'country\' is not a two-le', "country"),  # cut short
    ('{"error":"value not allowed","parameter":"lang","allowed":["en"', "lang"),  # cut short
    ('{"error":"value not allowed","parameter":"la', None),  # cut inside the name
    ('{"message": "Missing required parameter: \\"query\\"."}', "query"),
    ('{"error": {"message": "Invalid value for `lang`", "code": 400}}', "lang"),
    ("Bad request: 'days' should be a whole number", "days"),
    ('{"error":"no place matches the search text"}', None),
    ("Internal error", None),
])
def test_a_rejection_is_blamed_on_the_parameter_it_names(observation: str,
                                                          blamed: str | None) -> None:
    assert rejected_parameter(observation, ["date", "days", "lang"]) == blamed


def _jsonl(run: Path) -> list[dict[str, Any]]:
    """Every complete line of the run's shards, read with ``json``, each id once."""
    seen, out = set(), []
    for path in sorted((run / "episodes").glob("*.jsonl")):
        for line in path.read_bytes().splitlines(keepends=True):
            if line.endswith(b"\n"):
                record = json.loads(line)
                if record["id"] not in seen:
                    seen.add(record["id"])
                    out.append(record)
    return out


def test_the_real_recorded_run_counted_from_its_jsonl() -> None:
    records = _jsonl(FIXTURE)
    calls: Counter[tuple[str, str]] = Counter()
    rejected: Counter[tuple[str, str]] = Counter()
    kinds: Counter[str] = Counter()
    for r in records:
        for t in r["trials"]:
            for s in t["steps"]:
                if s.get("tool_kind"):
                    kinds[s["tool_kind"]] += 1
                    for name in s.get("args") or {}:
                        calls[r["api"], name] += 1
                if s.get("tool_kind") == "api_error":
                    message = json.loads(s["observation"])["error"]
                    found = re.fullmatch(r"unknown parameter '(.+)'", message)
                    assert found, message  # all of this run's rejections have this shape
                    rejected[r["api"], found.group(1)] += 1
    report = build_report(FIXTURE)
    got_calls = {(c.api, p.name): p.calls for c in report.coverage for p in c.params if p.calls}
    got_rejected = {(c.api, p.name): p.rejected for c in report.coverage for p in c.params
                    if p.rejected}
    assert got_calls == dict(calls) and got_rejected == dict(rejected)
    assert not any(p.exercised for c in report.coverage for p in c.params if p.declared)
    errors = {e.kind: e.count for e in report.errors}
    assert errors["api_error"] == kinds["api_error"] == sum(rejected.values())
    assert errors["unavailable"] == kinds["unavailable"]
    assert sum(r.tool_calls for r in report.apis) == sum(kinds.values())
    assert report.settings.model.startswith("SmolLM2") and report.throughput.undated == 2


def test_text_fits_100_columns_and_json_follows_the_schema(
        hand_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(hand_run)]) == 0
    text = capsys.readouterr().out
    report, _, hint = text.rstrip("\n").rpartition("\n")
    assert max(len(line) for line in report.splitlines()) <= 100
    assert PLACES[:10] in report
    assert hint.startswith(f"next: ste-async explore --out {hand_run} --resume")  # 4 of 6 done
    assert main(["report", str(hand_run), "--json"]) == 0
    decoded = msgspec.json.decode(capsys.readouterr().out, type=Report)
    assert decoded == build_report(hand_run)
    short = render_short(decoded)
    assert short in render_text(decoded) and "COVERAGE" not in short


def test_the_html_page_is_self_contained_and_shows_model_text_as_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = _records()
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    records[0].trials[0].steps[0].args = {"name": evil, "lang": "fr"}
    records[2].trials[0].steps[0].observation = json.dumps({"error": evil})
    records[2].trials[0].steps[0].tool_kind = "api_error"
    run = tmp_path / "evil"
    _write_run(run, records)
    page = tmp_path / "report.html"
    assert main(["report", str(run), "--html", str(page)]) == 0
    html = page.read_text()
    assert html == render_html(build_report(run))
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", html)  # nothing fetched
    assert "<link" not in html
    assert f"wrote {page}" in capsys.readouterr().err


def _mock_explore(run: Path, *extra: str, apis: str = f"add_date,{PLACES},search,JAK_API%%Ben 10"
                  ) -> int:
    return main(["explore", "--llm", "mock", "--apis", apis, "--trials", "2", "--quiet",
                 "--out", str(run), *extra])


def test_a_run_of_several_workers_and_one_cut_short_mid_write(tmp_path: Path) -> None:
    run = tmp_path / "w"
    assert _mock_explore(run, "--episodes", "3", "--workers", "2") == 0
    records = _jsonl(run)
    assert len(records) == 12
    # a writer mid-line: the last line of one shard is torn, as while a run is being written
    shard = sorted((run / "episodes").glob("*.jsonl"))[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1] + data[-200:-100])
    records = _jsonl(run)
    fd = lock_run(run)  # a writer holds the run: a report only reads
    try:
        report = build_report(run)
    finally:
        os.close(fd)
    by_api: Counter[str] = Counter(r["api"] for r in records)
    assert {r.api: r.episodes for r in report.apis} == dict(by_api)
    assert report.totals.episodes == 11 and report.totals.planned == 12
    assert report.totals.unreadable_lines == 1
    assert report.totals.tool_calls == sum(
        1 for r in records for t in r["trials"] for s in t["steps"] if s.get("tool_kind"))
    assert report.totals.trials == sum(len(r["trials"]) for r in records)
    assert report.settings.workers == 2
    assert sum(report.throughput.episodes) + report.throughput.undated == 11


def test_resume_of_a_finished_run_shows_its_summary_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "done"
    assert _mock_explore(run, "--episodes", "2") == 0
    first = capsys.readouterr().out
    assert _mock_explore(run, "--episodes", "2", "--resume") == 0
    again = capsys.readouterr().out
    assert "episodes 0 new, 8 resumed, 0 abandoned" in again

    def table(out: str) -> list[str]:
        lines = out.splitlines()
        return lines[: lines.index(next(x for x in lines if x.startswith("episodes 8 of 8")))]

    rows = table(again)
    assert len(rows) == 2 + 4 + 1  # head, rule, one row per API, rule
    assert all(row[27:].split()[:2] == ["2", "4"] for row in rows[2:6])  # episodes, trials
    assert rows == table(first)
    assert "next: ste-async report" in again


@pytest.mark.parametrize(("setup", "code", "message"), [
    ("missing", 2, "is not a directory"),
    ("empty", 2, "no run.json"),
    ("corrupt", 2, "run.json is corrupt"),
])
def test_report_refuses_what_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          setup: str, code: int, message: str) -> None:
    run = tmp_path / "run"
    if setup != "missing":
        run.mkdir()
    if setup == "corrupt":
        (run / "run.json").write_text('{"config": 3}')
    assert main(["report", str(run)]) == code
    err = capsys.readouterr().err
    assert err.startswith("ste-async report: error: ") and message in err
    assert "Traceback" not in err


def test_an_html_file_that_cannot_be_written_is_one_line(
        hand_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(hand_run), "--html", str(tmp_path / "no" / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ste-async report: error: ") and "r.html" in err
    assert not list(tmp_path.glob("no*"))


def test_a_catalog_that_moved_leaves_coverage_to_what_was_given(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    meta = json.loads((run / "run.json").read_text())
    meta["config"]["catalog"] = str(tmp_path / "gone.json")
    (run / "run.json").write_text(json.dumps(meta))
    report = build_report(run)
    assert any("gone.json" in n for n in report.notes)
    assert all(not p.declared for c in report.coverage for p in c.params)


def test_the_report_reads_the_records_fields_under_their_own_names_and_types() -> None:
    from ste_async.records import Step as FullStep
    from ste_async.records import Trial as FullTrial
    from ste_async.report.views import RecordView, StepView, TrialView

    for view, full in ((RecordView, EpisodeRecord), (TrialView, FullTrial), (StepView, FullStep)):
        types = {f.name: f.type for f in msgspec.structs.fields(full)}
        for field in msgspec.structs.fields(view):
            assert field.name in types, (view, field.name)
            if field.name not in ("trials", "steps"):  # lists of the views themselves
                assert field.type == types[field.name], (view, field.name)


def test_the_short_form_needs_only_rows_and_totals(hand_run: Path) -> None:
    full, quick = build_report(hand_run), build_report(hand_run, detail=False)
    assert quick.apis == full.apis and quick.totals == full.totals
    assert [e.count for e in quick.errors] == [e.count for e in full.errors]
    assert quick.coverage == [] and quick.diversity == [] and quick.llm_latency.count == 0
    assert render_short(quick) == render_short(full)


async def test_a_report_taken_while_the_run_is_being_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from served import explore_with

    from ste_async import _appendlog
    from tool_mocks.llm import MockLlmConfig

    run = tmp_path / "live"
    shard = run / "episodes" / shard_filename(ADD_DATE)
    taken: list[tuple[int, Report]] = []
    write = _appendlog._Files.write

    def write_then_report(self: Any, batch: Any) -> None:
        """The writer's thread, right after a batch reached the disk: the first time the
        shard holds an episode, report on the run while the writer holds everything else."""
        write(self, batch)
        if not taken and shard.exists() and b"\n" in shard.read_bytes():
            taken.append((shard.read_bytes().count(b"\n"), build_report(run)))

    monkeypatch.setattr(_appendlog._Files, "write", write_then_report)
    config = ExploreConfig(apis=(ADD_DATE,), episodes=30, trials=2)
    await explore_with(config, run, mock=MockLlmConfig(), handle_signals=False)
    ((lines, mid),) = taken
    assert mid.totals.episodes == lines < 30 and mid.totals.planned == 30
    assert mid.totals.trials == 2 * lines  # whole episodes only
    assert build_report(run).totals.episodes == 30


def test_the_text_of_a_very_large_run_still_fits_100_columns(hand_run: Path) -> None:
    report = build_report(hand_run)
    big = 987_654_321
    huge = msgspec.structs.replace
    report = huge(report, totals=huge(report.totals, **{
        f: big for f in ("episodes", "planned", "trials", "solved", "solved_reference",
                         "llm_calls", "tool_calls", "prompt_tokens", "completion_tokens",
                         "llm_retries", "tool_retries", "stopped_episodes")}, time_s=9e6,
        span_s=9e6), apis=[huge(r, api="x" * 200, **{
            f: big for f in ("episodes", "planned", "trials", "llm_calls", "tool_calls",
                             "api_errors", "parse_feedback", "prompt_tokens")},
            time_s=9e6) for r in report.apis])
    for text in (render_text(report), render_short(report)):
        assert max(len(line) for line in text.splitlines()) <= 100, text


def test_the_run_cards_protocol_is_shown(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    if "protocol" not in ExploreConfig.__struct_fields__:
        pytest.skip("this version records no protocol setting")
    from ste_async.protocol import resolve_protocol  # type: ignore[import-not-found]

    chosen = resolve_protocol("study")
    run = tmp_path / "run"
    (run / "episodes").mkdir(parents=True)
    config = ExploreConfig(apis=(ADD_DATE,), episodes=1, protocol=chosen)  # type: ignore[call-arg]
    write_run_meta(run, RunMeta(config=config, apis=[ADD_DATE], model="m", cassette="off"))
    report = build_report(run)
    assert report.settings.protocol == chosen.describe() and "study" in chosen.describe()
    assert main(["report", str(run)]) == 0
    assert f"protocol {chosen.describe()}" in capsys.readouterr().out
