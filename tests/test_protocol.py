"""The fidelity switch: each study-mode point against the study's rule, table by table, and
the protocol recorded on every run card."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from fakes import FINAL, SPEC, ScriptedLlm

from ste_async.config import ExploreConfig, load_explore_config
from ste_async.distill import prompting
from ste_async.distill.candidates import Judgment, is_kept
from ste_async.distill.continual import legacy_choice, select_round
from ste_async.distill.examples import TrainExample
from ste_async.errors import ConfigError, StoreError
from ste_async.explore.episode import run_episode
from ste_async.explore.memory import MemoryShard
from ste_async.parsing import (
    Call,
    Feedback,
    Final,
    parse_react,
    read_reflection,
    reference_reflection,
)
from ste_async.protocol import IMPROVED, POINTS, STUDY, Protocol, resolve_protocol
from ste_async.session import RunMeta, check_resume, read_run_meta, write_run_meta
from ste_async.tools import ToolOutcome

API = SPEC.name


def _reply(action_input: str) -> str:
    return f"Thought: call it\nAction: {API}\nAction Input: {action_input}"


# ---------------------------------------------------------------- resolution


def test_the_presets_and_single_overrides() -> None:
    assert resolve_protocol() == IMPROVED == Protocol()
    assert resolve_protocol("study") == STUDY
    assert all(getattr(STUDY, p) == "study" for p in POINTS)
    assert all(getattr(IMPROVED, p) != "study" for p in POINTS)
    assert STUDY.overrides() == IMPROVED.overrides() == {}
    one = resolve_protocol("study", judge_rule="all-yes")
    assert one.mode == "study" and one.judge_rule == "all-yes" and one.parse == "study"
    assert one.overrides() == {"judge_rule": "all-yes"}
    assert one.describe() == "study (judge_rule=all-yes)"
    # a point alone changes the recorded protocol, not the preset
    alone = resolve_protocol(base=STUDY, parse="json")
    assert alone.mode == "study" and alone.parse == "json" and alone.replay == "study"
    with pytest.raises(ValueError, match="parse must be one of study or json"):
        resolve_protocol(parse="yaml")
    with pytest.raises(ValueError, match="protocol must be 'study' or 'improved'"):
        resolve_protocol("paper")


def test_the_config_reads_a_mode_name_or_a_table(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[explore]\nprotocol = "study"\n')
    assert load_explore_config(path).protocol == STUDY
    path.write_text('[explore.protocol]\nmode = "study"\nparse = "json"\n')
    got = load_explore_config(path).protocol
    assert got.mode == "study" and got.parse == "json" and got.judge_rule == "study"
    # the command line's table changes the file's choice point by point
    got = load_explore_config(path, protocol={"reflection_reading": "first-word"}).protocol
    assert (got.parse, got.reflection_reading, got.replay) == ("json", "first-word", "study")
    path.write_text('[explore]\nprotocol = "paper"\n')
    with pytest.raises(ConfigError, match="protocol must be 'study' or 'improved'"):
        load_explore_config(path)


# ---------------------------------------------------------------- parse


# (Action Input as written, what the study sends the tool, whether it is a JSON object,
#  what this product's json rule makes of it)
PARSE_TABLE = [
    ('{"a": 1}', '{"a": 1}', True, "call"),
    ('{"a": 1,}', '{"a": 1,}', False, "bad_json"),  # the trailing comma of the study's prompt
    ('{\n    "key_1": "value_1",\n    "key_2": "value_2",\n}',
     '{\n    "key_1": "value_1",\n    "key_2": "value_2",\n}', False, "bad_json"),
    ('{{"a": 1}}', '{"a": 1}', True, "bad_json"),  # doubled braces: repaired by the strip
    ('{"a": {"b": 1}}', '{"a": {"b": 1}', False, "call"),  # nested: the study loses a brace
    ('{"q": "x", "o": {"k": [1, 2]}}', '{"q": "x", "o": {"k": [1, 2]}', False, "call"),
    ("{'a': 1}", "{'a': 1}", False, "bad_json"),  # single quotes go to the tool as they are
    ("{}", "{}", True, "call"),
    ("{}}", "{}", True, "bad_json"),
    ('  {"a": 1} and then some words', '{"a": 1}', True, "call"),
]


@pytest.mark.parametrize(("written", "sent", "decodes", "json_rule"), PARSE_TABLE)
def test_the_study_parse_rewrites_and_never_decodes(written: str, sent: str, decodes: bool,
                                                    json_rule: str) -> None:
    study = parse_react(_reply(written), [API], rule="study")
    assert isinstance(study, Call)
    # the study's rule, written out: the text between the first "{" and the last "}", its
    # end braces stripped and one of each put back
    inner = written[written.find("{"): written.rfind("}") + 1]
    assert study.action_input == sent == "{" + inner.strip("{}") + "}"
    assert (study.args is not None) == decodes
    if decodes:
        assert study.args == orjson.loads(sent)
    improved = parse_react(_reply(written), [API])
    if json_rule == "call":
        assert isinstance(improved, Call) and improved.args == orjson.loads(inner)
    else:
        assert isinstance(improved, Feedback) and improved.reason == json_rule


def test_both_rules_share_the_study_checks_before_the_input() -> None:
    for rule in ("study", "json"):
        assert isinstance(parse_react("Action: x\nAction Input: {}", [API], rule=rule),
                          Feedback)  # type: ignore[arg-type]
        assert parse_react(f"Action: {API}\nAction Input: no braces", [API],
                           rule=rule).reason == "no_open_brace"  # type: ignore[arg-type,union-attr]
    # the study keeps what stands between the first and a second "Final Answer:"
    text = "Thought: done\nFinal Answer: 5\nFinal Answer: 6"
    assert parse_react(text, [API], rule="study") == Final(thought="done", answer="5")
    assert parse_react(text, [API]) == Final(thought="done", answer="5\nFinal Answer: 6")


class TextTools:
    """A tool that decodes what it is sent as the study's tools do, and records it."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def call(self, api: str, args: dict[str, Any] | str, context: str = "") -> ToolOutcome:
        self.sent.append(args)
        try:
            value = orjson.loads(args) if isinstance(args, str) else args
        except orjson.JSONDecodeError as exc:
            return ToolOutcome(kind="api_error", status=400,
                               body=orjson.dumps({"error": f"not JSON: {exc}"}).decode(),
                               attempts=1, latency_s=0.0)
        return ToolOutcome(kind="ok", status=200, body=orjson.dumps({"echo": value}).decode(),
                           attempts=1, latency_s=0.0)


async def test_a_study_episode_sends_the_text_and_counts_the_step_as_a_call() -> None:
    replies = ["Query A", _reply('{"text": "hi",}'), FINAL, "Yes."]
    for protocol, sent, kinds in (
        (STUDY, ['{"text": "hi",}'], ["call", "final"]),
        (IMPROVED, [], ["feedback", "final"]),
    ):
        tools = TextTools()
        config = ExploreConfig(trials=1, protocol=protocol)
        record = await run_episode(config, SPEC, 0, ScriptedLlm(replies), tools,
                                   MemoryShard(API))
        steps = record.trials[0].steps
        assert [s.kind for s in steps] == kinds
        assert tools.sent == sent
        if protocol is STUDY:
            # the tool's own parse error is the observation, as the study's tools answer
            assert steps[0].tool_status == 400 and "not JSON" in (steps[0].observation or "")
            assert steps[0].args is None and steps[0].action_input == '{"text": "hi",}'


# ---------------------------------------------------------------- reflection reading


REFLECTIONS = [
    # (reply, the study's reading, this product's reading)
    ("Yes.", True, True),
    ("No.", False, False),
    ("Yes, although the API returned Nothing useful.", False, True),
    ("Now that I look again: yes.", False, True),
    ("I could not tell.", True, None),
    ("Not really. No.", False, False),
]


@pytest.mark.parametrize(("reply", "study", "improved"), REFLECTIONS)
def test_the_reflection_readings(reply: str, study: bool, improved: bool | None) -> None:
    assert reference_reflection(reply) is study == ("No" not in reply)
    assert read_reflection(reply) is improved


@pytest.mark.parametrize(("reply", "study", "improved"), REFLECTIONS)
async def test_the_study_reading_drives_the_memory(reply: str, study: bool,
                                                   improved: bool | None) -> None:
    replies = ["Query A", _reply('{"text": "hi"}'), FINAL, reply, "Query B",
               _reply('{"text": "hi"}'), FINAL, "Yes."]
    for protocol, label in ((STUDY, study), (IMPROVED, improved)):
        llm = ScriptedLlm(replies)
        memory = MemoryShard(API)
        record = await run_episode(ExploreConfig(trials=2, protocol=protocol), SPEC, 0, llm,
                                   TextTools(), memory)
        # both readings are recorded whatever drives the memory
        assert record.trials[0].solved is improved
        assert record.trials[0].solved_reference is study
        assert memory.snapshot()[0] == ("Query A", label)
        shown = llm.requests[4]["messages"][-1]["content"]
        word = "pending" if label is None else ("Yes" if label else "No")
        assert f"Query: Query A | Solved: {word}" in shown
        # a resume rebuilds the same labels from the record
        rebuilt = MemoryShard(API)
        rebuilt.restore([record], study_reading=protocol.reflection_reading == "study")
        assert rebuilt.snapshot() == memory.snapshot()


# ---------------------------------------------------------------- judge rule


JUDGE_TABLE = [
    # (reply, kept by the study's rule, kept by all-yes)
    ("1) Yes. Useful.\n2) Yes. Backed by the result.\n3) Yes. Fitting.", True, True),
    ("1) Yes. Useful.\n2) No, it adds facts the result lacks.\n3) Yes. Fitting.", True, False),
    ("1) Yes. The API returned No. 5 on the list.\n2) Yes. Faithful.\n3) Yes. Fine.", False,
     True),
    ("1) No. The call failed.\n2) Yes.\n3) Yes.", False, False),
    ("1) Yes.\n2) Yes.", True, False),  # the third point unanswered
    ("Looks fine to me.", True, False),
]


@pytest.mark.parametrize(("reply", "study", "all_yes"), JUDGE_TABLE)
def test_the_judge_rules(reply: str, study: bool, all_yes: bool) -> None:
    verdicts = prompting.read_verdicts(reply)
    judged = Judgment(id="a#0/0", api="a", query="q", text=reply, verdicts=verdicts,
                      kept=all(v is True for v in verdicts),
                      kept_reference=prompting.reference_keep(reply), seed=0)
    assert is_kept(judged, "study") is study == ("No." not in reply)
    assert is_kept(judged, "all-yes") is all_yes


def test_the_study_asks_a_paraphrase_even_when_the_quota_is_none() -> None:
    from ste_async.distill.runner import DistillConfig, paraphrase_quota

    config = DistillConfig(target=150, max_paraphrases=6)
    # min(round(150 / kept) - 1, 6): 0 from 101 kept examples on, and negative past 300
    for kept, improved in ((10, 6), (40, 3), (120, 0), (400, 0)):
        assert paraphrase_quota(kept, config, IMPROVED) == improved
        assert paraphrase_quota(kept, config, STUDY) == max(improved, 1)


# ---------------------------------------------------------------- replay


def _examples(sizes: dict[str, int]) -> list[TrainExample]:
    return [TrainExample(query=f"{api} {i}", API_name_list=[api], api_descriptions="",
                         action=api, action_input="{}", observation="", final_ans="", api=api)
            for api, n in sizes.items() for i in range(n)]


def test_legacy_choice_is_numpys_legacy_sampler() -> None:
    np = pytest.importorskip("numpy", reason="numpy, the study's sampler, is not installed")
    rng = random.Random(7)
    for _ in range(40):
        n = rng.randrange(0, 400)
        size, seed = rng.randrange(0, n + 1), rng.randrange(0, 2**32)
        np.random.seed(seed)
        assert legacy_choice(n, size, seed) == np.random.choice(n, size, replace=False).tolist()


# sizes of batches 0..3 and what the study replays in each round: round(0.1 * size) of every
# earlier batch (Python rounds 2.5 to 2, 1.5 to 2 and 3.5000000000000004 to 4)
REPLAY_TABLE = [
    (0, {}),
    (1, {0: 2}),
    (2, {1: 2, 0: 2}),
    (3, {2: 4, 1: 2, 0: 2}),
]


@pytest.mark.parametrize(("k", "per_batch"), REPLAY_TABLE)
def test_the_study_replay_samples_each_earlier_batch(k: int, per_batch: dict[int, int]) -> None:
    sizes = [{"a": 20, "b": 5}, {"c": 15}, {"d": 30, "e": 5}, {"f": 40}]  # 25, 15, 35, 40
    batches = [list(s) for s in sizes]
    examples = _examples({api: n for s in sizes for api, n in s.items()})
    apis = [api for s in sizes for api in s]
    data = select_round(examples, batches, k, run_apis=apis, rule="study")
    assert data.replay_per_batch == per_batch
    assert len(data.new) == sum(sizes[k].values())
    assert len(data.replay) == sum(per_batch.values())
    # the latest batch first, each in its generator's order, seeded by the batch id
    expected: list[TrainExample] = []
    for i in range(k - 1, -1, -1):
        batch = [e for e in examples if e.api in batches[i]]
        expected += [batch[j] for j in legacy_choice(len(batch), per_batch[i], i)]
    assert data.replay == expected
    pooled = select_round(examples, batches, k, run_apis=apis)
    assert len(pooled.replay) == min(pooled.replay_pool, int(0.1 * len(pooled.new) + 0.5))
    assert pooled.replay_per_batch == {}
    assert select_round(examples, batches, k, run_apis=apis, rule="study",
                        replay_ratio=0.0).replay == []


# ---------------------------------------------------------------- the run card


def _meta(protocol: Protocol) -> RunMeta:
    return RunMeta(config=ExploreConfig(protocol=protocol), apis=[API], model="m",
                   cassette="record")


def test_a_resume_may_not_change_the_protocol(tmp_path: Path) -> None:
    write_run_meta(tmp_path, _meta(STUDY))
    old = read_run_meta(tmp_path)
    assert old is not None and old.config.protocol == STUDY
    check_resume(old, ExploreConfig(protocol=STUDY), tmp_path, True)
    with pytest.raises(StoreError, match=r"protocol\.mode='study'.*protocol\.mode='improved'"):
        check_resume(old, ExploreConfig(), tmp_path, True)
    with pytest.raises(StoreError, match=r"protocol\.judge_rule='study'"):
        check_resume(old, ExploreConfig(protocol=resolve_protocol(base=STUDY,
                                                                  judge_rule="all-yes")),
                     tmp_path, True)


def test_a_card_written_before_the_switch_reads_as_improved(tmp_path: Path) -> None:
    write_run_meta(tmp_path, _meta(IMPROVED))
    raw = msgspec.json.decode((tmp_path / "run.json").read_bytes())
    del raw["config"]["protocol"]
    (tmp_path / "run.json").write_bytes(msgspec.json.encode(raw))
    meta = read_run_meta(tmp_path)
    assert meta is not None and meta.config.protocol == IMPROVED


# ---------------------------------------------------------------- explore, distill, export


APIS = ("add_date", "Numbers%%Get math fact", "get_today_date", "BART%%Advisory information",
        "Car database%%Makes")


class PromptLog:
    """Wraps the distiller's LLM and keeps every conversation it is sent."""

    def __init__(self, inner: Any, log: list[list[dict[str, str]]]):
        self.inner, self.log = inner, log

    async def complete(self, messages: list[dict[str, str]], **kw: Any) -> Any:
        self.log.append([dict(m) for m in messages])
        return await self.inner.complete(messages, **kw)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same small run explored and distilled under each protocol, with the distiller's
    prompts kept."""
    import anyio
    from served import distill_with, explore_with

    from ste_async.distill.runner import DistillConfig
    from tool_mocks.llm import MockLlmConfig

    root = tmp_path_factory.mktemp("protocols")
    out: dict[str, Any] = {}

    async def make() -> None:
        for name, protocol in (("study", STUDY), ("improved", IMPROVED)):
            run = root / name
            log: list[list[dict[str, str]]] = []
            await explore_with(ExploreConfig(apis=APIS, episodes=2, trials=2,
                                             protocol=protocol), run,
                               mock=MockLlmConfig(), handle_signals=False)
            report = await distill_with(run, DistillConfig(target=20), mock=MockLlmConfig(),
                                        wrap_llm=lambda inner, log=log: PromptLog(inner, log))
            out[name] = {"run": run, "prompts": log, "report": report}

    anyio.run(make)
    return out


def test_the_run_cards_record_the_protocol(both: dict[str, Any]) -> None:
    from ste_async.distill.runner import read_distill_meta

    for name, protocol in (("study", STUDY), ("improved", IMPROVED)):
        run = both[name]["run"]
        card = msgspec.json.decode((run / "run.json").read_bytes())
        assert card["config"]["protocol"] == msgspec.to_builtins(protocol)
        distilled = read_distill_meta(run / "distill" / "distill.json")
        assert distilled is not None and distilled.config.protocol == protocol
        assert distilled.summary is not None and distilled.summary.protocol == protocol


def test_study_paraphrases_use_the_study_wording_and_stay_raw(both: dict[str, Any]) -> None:
    from ste_async.distill.candidates import ParaphraseSet, read_journal

    study_first = [c[1]["content"] for c in both["study"]["prompts"]
                   if c[-1]["content"].startswith("Below you will be given a user query.")]
    assert study_first and all(t.endswith("\n\nYour paraphrase of the query:")
                               for t in study_first)
    again = [c[-1]["content"] for c in both["study"]["prompts"] if len(c) > 3]
    assert again and set(again) == {prompting.STUDY_PARAPHRASE_AGAIN}
    assert not any(c[-1]["content"].startswith("Below you will be given")
                   for c in both["improved"]["prompts"])
    # the improved run asked for rewordings in its own words
    assert any(prompting.PARAPHRASE_MARKER in c[-1]["content"]
               for c in both["improved"]["prompts"])
    study, _ = read_journal(both["study"]["run"] / "distill" / "paraphrases.jsonl",
                            ParaphraseSet)
    assert study and all(p.paraphrases == p.replies for p in study.values())
    assert all(p.requested >= 1 for p in study.values())


def test_the_judge_rule_decides_the_dataset(both: dict[str, Any]) -> None:
    from ste_async.distill.candidates import Judgment, read_journal
    from ste_async.distill.examples import load_examples

    for name, rule in (("study", "study"), ("improved", "all-yes")):
        run = both[name]["run"]
        judged, _ = read_journal(run / "distill" / "judgments.jsonl", Judgment)
        kept = {i for i, j in judged.items() if is_kept(j, rule)}  # type: ignore[arg-type]
        sources = {e.source for e in load_examples(run)}
        assert sources == kept
        report = both[name]["report"]
        assert report.kept == len(kept)
        assert report.kept_reference == sum(j.kept_reference for j in judged.values())
        assert report.kept_all_yes == sum(j.kept for j in judged.values())


def test_the_export_card_and_general_data(both: dict[str, Any], tmp_path: Path) -> None:
    from ste_async.export import ExportMeta, export_train, meta_path

    run = both["study"]["run"]
    batches = tmp_path / "batches.json"
    batches.write_text(orjson.dumps([list(APIS[:3]), list(APIS[3:])]).decode())
    with pytest.raises(ConfigError, match="pass --general FILE"):
        export_train(run, "openai", tmp_path / "r1.jsonl", batches=batches, cl_round=1)
    general = tmp_path / "general.json"
    general.write_text(orjson.dumps([
        {"dialog_history": [{"role": "user", "content": "Which language is this? Bonjour"}],
         "response": "French"},
        {"dialog_history": [{"role": "user", "content": "2 + 2?"}], "response": "4"},
    ]).decode())
    done = export_train(run, "openai", tmp_path / "r1.jsonl", batches=batches, cl_round=1,
                        general=general)
    assert done.protocol == STUDY and done.general == 2 and done.round is not None
    lines = [orjson.loads(x) for x in (tmp_path / "r1.jsonl").read_bytes().splitlines()]
    assert lines[-2]["messages"] == [
        {"role": "system", "content": "You are a helpful assistant. You are in normal mode."},
        {"role": "user", "content": "Which language is this? Bonjour"},
        {"role": "assistant", "content": "Final Answer: French"}]
    card = msgspec.json.decode(meta_path(tmp_path / "r1.jsonl").read_bytes(), type=ExportMeta)
    assert card.protocol == STUDY and card.general == 2 and card.round == 1
    assert card.replay_per_batch == done.round.replay_per_batch
    assert card.replay == len(done.round.replay) == sum(done.round.replay_per_batch.values())
    assert card.rows == len(lines)
    with pytest.raises(ConfigError, match="no place in ste-train"):
        export_train(run, "ste-train", tmp_path / "x.json", general=general)
    # an override on the command line beats the run's protocol, and the card says so
    pooled = export_train(run, "openai", tmp_path / "p.jsonl", batches=batches, cl_round=1,
                          protocol=resolve_protocol(base=STUDY, replay="pooled"))
    card = msgspec.json.decode(meta_path(tmp_path / "p.jsonl").read_bytes(), type=ExportMeta)
    assert card.protocol.replay == "pooled" and card.replay_per_batch is None
    assert pooled.general == 0


def test_the_cli_records_and_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ste_async.cli import main

    run = tmp_path / "run"
    base = ["explore", "--llm", "mock", "--apis", "add_date", "--episodes", "1", "--trials",
            "1", "--out", str(run), "--quiet"]
    assert main([*base, "--protocol", "study", "--parse", "json"]) == 0
    meta = read_run_meta(run)
    assert meta is not None
    assert meta.config.protocol == resolve_protocol("study", parse="json")
    assert "protocol study (parse=json)" in capsys.readouterr().err
    # a resume keeps the recorded protocol, and refuses another
    assert main([*base, "--episodes", "2", "--resume"]) == 0
    assert main([*base, "--resume", "--protocol", "improved"]) == 2
    assert "protocol.mode='study'" in capsys.readouterr().err
    assert main(["distill", str(run), "--llm", "mock", "--judge-rule", "all-yes"]) == 0
    assert "protocol study (parse=json, judge_rule=all-yes)" in capsys.readouterr().out
    # a resumed distillation keeps its protocol too; --protocol here sets only the
    # distillation's points
    assert main(["distill", str(run), "--llm", "mock", "--resume", "--protocol", "study"]) == 2
    assert "protocol.judge_rule='all-yes'; this run has protocol.judge_rule='study'" in \
        capsys.readouterr().err
    assert main(["export", str(run), "--format", "openai", "--replay", "pooled"]) == 0
    assert "protocol study (parse=json, judge_rule=all-yes, replay=pooled)" in \
        capsys.readouterr().out


# ---------------------------------------------------------------- descriptions


async def test_study_descriptions_reach_the_model_byte_for_byte(reference_dir: Path,
                                                                tmp_path: Path) -> None:
    """The imagination prompt, as the LLM server receives it, holds each API's text from the
    study's description file exactly; the improved rendering does not."""
    from aiohttp import ClientSession, web
    from served import explore_with

    from ste_async.catalog import builtin_catalog
    from tool_mocks.llm import MockLlmConfig, serve_mock_llm

    catalog_file = reference_dir / "API_descriptions.json"
    texts: dict[str, str] = orjson.loads(catalog_file.read_bytes())
    apis = tuple(builtin_catalog())  # the study's 50, all in its 817-API file
    seen: list[dict[str, Any]] = []

    async with serve_mock_llm(MockLlmConfig(port=0)) as target, ClientSession() as client:
        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            if request.path.endswith("/chat/completions"):
                seen.append(orjson.loads(body))
            async with client.request(request.method, target + request.path_qs, data=body, headers={"Content-Type": "application/json"}) as answer:
                return web.Response(body=await answer.read(), status=answer.status,
                                    content_type="application/json")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            for name, protocol in (("study", STUDY), ("improved", IMPROVED)):
                seen.clear()
                config = ExploreConfig(apis=apis, episodes=1, trials=1, catalog=str(catalog_file),
                                       protocol=protocol)
                config = msgspec.structs.replace(config, llm=msgspec.structs.replace(
                    config.llm, urls=(f"http://127.0.0.1:{port}",)))
                await explore_with(config, tmp_path / name,
                                   handle_signals=False)
                first = {}
                for request in seen:
                    prompt = request["messages"][1]["content"]
                    for api in apis:
                        if f"API_name: {api}\nDescription: " in prompt:
                            first.setdefault(api, prompt)
                assert set(first) == set(apis)
                exact = [api for api in apis
                         if f"API_name: {api}\nDescription: {texts[api]}\n" in first[api]]
                if name == "study":
                    assert exact == list(apis)
                else:  # the rendering re-serialises every RapidAPI entry compactly
                    assert len(exact) <= 10
        finally:
            await runner.cleanup()


def test_a_later_steps_protocol_sets_only_its_own_points(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    from ste_async.cli import main
    from ste_async.distill.runner import read_distill_meta
    from ste_async.export import ExportMeta, meta_path

    run = tmp_path / "run"
    assert main(["explore", "--llm", "mock", "--apis", "add_date,get_today_date", "--episodes",
                 "1", "--trials", "2", "--out", str(run), "--quiet"]) == 0
    assert main(["distill", str(run), "--llm", "mock", "--protocol", "study"]) == 0
    card = read_distill_meta(run / "distill" / "distill.json")
    assert card is not None
    got = card.config.protocol
    assert (got.mode, got.judge_rule, got.paraphrase_cleanup) == ("study", "study", "study")
    assert (got.parse, got.reflection_reading, got.replay) == ("json", "first-word", "pooled")
    batches = tmp_path / "b.json"
    batches.write_text('[["add_date"], ["get_today_date"]]')
    out = tmp_path / "r1.jsonl"
    assert main(["export", str(run), "--format", "openai", "--batches", str(batches),
                 "--round", "1", "--protocol", "study", "--no-general", "--out", str(out)]) == 0
    exported = msgspec.json.decode(meta_path(out).read_bytes(), type=ExportMeta)
    assert exported.protocol.replay == "study" and exported.protocol.parse == "json"
    assert exported.replay_per_batch == {0: exported.replay}
    capsys.readouterr()


async def test_a_study_run_replays_offline_byte_for_byte(both: dict[str, Any],
                                                         tmp_path: Path) -> None:
    from ste_async.replay import replay_run

    report = await replay_run(both["study"]["run"], tmp_path / "replay")
    assert report.episodes == len(APIS) * 2
    assert report.identical == report.episodes and not report.different and not report.missing
