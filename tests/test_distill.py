"""Distillation against the scripted mock LLM: candidates, judging, quota, resume, the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from served import distill_with, explore_with

from ste_async.cli import main
from ste_async.config import ExploreConfig, LlmSettings
from ste_async.distill import prompting
from ste_async.distill.candidates import (
    Judgment,
    ParaphraseSet,
    candidates_of,
    find_candidates,
    load_run,
    paraphrase_count,
    read_journal,
)
from ste_async.distill.examples import load_examples
from ste_async.distill.runner import DistillConfig
from ste_async.errors import ConnectError, SteError, StoreError
from ste_async.ids import shard_filename
from ste_async.records import EpisodeRecord, Step, Trial, encode_record
from tool_mocks.llm import MockLlmConfig
from tool_mocks.policy import ScriptedPolicy

APIS = ("add_date", "Numbers%%Get math fact", "get_today_date", "BART%%Advisory information",
        "Car database%%Makes")


@pytest.fixture(scope="module")
def explored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small explored run (5 APIs x 2 episodes x 4 trials), made once, copied per test."""
    run = tmp_path_factory.mktemp("explored") / "run"
    anyio.run(lambda: explore_with(ExploreConfig(apis=APIS, episodes=2, trials=4), run,
                              mock=MockLlmConfig(), handle_signals=False))
    return run


@pytest.fixture
def run_dir(explored: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(explored, copy)
    return copy


def _jsonl_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [msgspec.json.decode(line)["id"] for line in path.read_bytes().splitlines()
            if line.strip()]


def _failing_episode(api: str) -> EpisodeRecord:
    """An episode whose one trial ends in a final answer after a failed call."""
    steps = [
        Step(raw="...", kind="call", action=api, action_input='{"days": 1}',
             args={"days": 1}, observation='{"error": "parameter \'date\' is required"}',
             tool_status=400, tool_kind="api_error"),
        Step(raw="...", kind="final", final_answer="The date is 2024-01-02."),
    ]
    trial = Trial(index=0, query="What is the date one day after 2024-01-01?", memory_shown=0,
                  steps=steps, finished=True)
    return EpisodeRecord(schema=1, id=f"{api}#99", api=api, episode=99, trials=[trial],
                         conversations=[[]])


class CountingLlm:
    """Counts requests by phase; raises a transport fault at the given request of a phase."""

    def __init__(self, inner: Any, fail_judge: int | None, fail_paraphrase: int | None):
        self.inner = inner
        self.fail_judge = fail_judge
        self.fail_paraphrase = fail_paraphrase
        self.judge_calls = 0
        self.paraphrase_calls = 0

    async def complete(self, messages: list[dict[str, str]], **kw: Any) -> Any:
        if prompting.JUDGE_MARKER in messages[-1]["content"]:
            self.judge_calls += 1
            if self.judge_calls == self.fail_judge:
                raise ConnectError("the judge server went away")
        else:
            self.paraphrase_calls += 1
            if self.paraphrase_calls == self.fail_paraphrase:
                raise ConnectError("the paraphrase server went away")
        return await self.inner.complete(messages, **kw)


def wrapper(made: list[CountingLlm], fail_judge: int | None = None,
            fail_paraphrase: int | None = None) -> Any:
    """A ``wrap_llm`` hook that keeps the counting LLM it makes in ``made``."""

    def wrap(inner: Any) -> CountingLlm:
        made.append(CountingLlm(inner, fail_judge, fail_paraphrase))
        return made[-1]

    return wrap


# ---- pure parts ----

def test_paraphrase_count_follows_the_study() -> None:
    assert paraphrase_count(8, 150, 6) == 6  # capped
    assert paraphrase_count(8, 30, 6) == 3  # round(30 / 8.001) - 1
    assert paraphrase_count(8, 3, 6) == 0  # round(0.37) - 1 = -1, clamped
    assert paraphrase_count(0, 150, 6) == 6


def test_candidate_is_the_last_answered_call_before_a_final() -> None:
    call = dict(kind="call", action="A", args={})
    steps = [
        Step(raw="r", kind="feedback", observation="write an Action Input"),
        Step(raw="r", **call, action_input='{"x": 1}', observation="first"),  # type: ignore[arg-type]
        Step(raw="r", **call, action_input='{"x": 2}', observation="second"),  # type: ignore[arg-type]
        Step(raw="r", kind="final", final_answer="done"),
    ]
    trials = [
        Trial(index=0, query="q0", memory_shown=0, steps=steps, finished=True),
        Trial(index=1, query="q1", memory_shown=0, steps=steps[:3], finished=False),
        Trial(index=2, query="q2", memory_shown=0, steps=[steps[0], steps[3]], finished=True),
    ]
    record = EpisodeRecord(schema=1, id="A#3", api="A", episode=3, trials=trials,
                           conversations=[])
    [c] = candidates_of(record, "desc")
    assert (c.id, c.query, c.action_input, c.observation, c.final_ans) == (
        "A#3/0", "q0", '{"x": 2}', "second", "done")


@pytest.mark.parametrize(("text", "ours", "study"), [
    ("1) Yes. Good.\n2) Yes. Faithful.\n3) Yes. Fine.", [True, True, True], True),
    ("1) Yes. Good.\n2) No. Invented a date.\n3) Yes.", [True, False, True], False),
    ("**1.** yes - now complete\n2: YES, nothing invented\n3 - Yes", [True, True, True], True),
    # the study's substring reading rejects a reply that merely cites "No. 5"
    ("1) Yes. It names house No. 5.\n2) Yes.\n3) Yes.", [True, True, True], False),
    ("1) Yes.\n2) Not sure.\n3) Yes.", [True, None, True], True),
    ("Yes, yes and no.", [True, True, False], True),
])
def test_judge_replies_are_read_two_ways(text: str, ours: list[bool | None],
                                         study: bool) -> None:
    assert prompting.read_verdicts(text) == ours
    assert prompting.reference_keep(text) is study


def test_mock_policy_judges_and_paraphrases_by_marker() -> None:
    policy = ScriptedPolicy(error_rate=0.2)
    args = dict(api_descriptions="API_name: add_date\nDescription: d", query="q",
                action="add_date", action_input="{}", final_ans="f")
    good = [{"role": "user", "content": prompting.render_judge(observation="2024-03-01", **args)}]
    bad = [{"role": "user", "content": prompting.render_judge(
        observation='{"error": "missing date"}', **args)}]
    assert prompting.read_verdicts(policy.reply(good, 1)) == [True, True, True]
    for seed in range(20):
        verdicts = prompting.read_verdicts(policy.reply(bad, seed))
        assert False in verdicts and None not in verdicts
        assert policy.reply(bad, seed) == policy.reply(bad, seed)
    messages = [{"role": "user", "content": prompting.paraphrase_first("Add 3 days to today.")}]
    for k in range(8):
        reply = policy.reply(messages, k)
        assert "Add 3 days to today" in reply or "add 3 days to today" in reply
        messages += [{"role": "assistant", "content": reply},
                     {"role": "user", "content": prompting.PARAPHRASE_AGAIN}]
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    assert len(set(replies)) == len(replies)


# ---- end to end ----

@pytest.mark.parametrize(("target", "cap"), [(150, 6), (20, 6), (3, 6), (150, 2)])
async def test_distill_respects_target_and_cap(run_dir: Path, target: int, cap: int) -> None:
    report = await distill_with(run_dir, DistillConfig(target=target, max_paraphrases=cap),
                           mock=MockLlmConfig())
    candidates = find_candidates(load_run(run_dir))
    assert report.candidates == len(candidates) > 0
    judged, _ = read_journal(run_dir / "distill" / "judgments.jsonl", Judgment)
    assert set(judged) == {c.id for c in candidates}
    examples = load_examples(run_dir)
    for api in APIS:
        kept = sum(judged[c.id].kept for c in candidates if c.api == api)
        each = paraphrase_count(kept, target, cap)
        assert report.per_api[api].kept == kept > 0
        assert report.per_api[api].paraphrases_each == each <= cap
        mine = [e for e in examples if e.api == api]
        assert len(mine) == kept * (1 + each)  # the mock never repeats a paraphrase
        originals = [e for e in mine if e.paraphrase_of is None]
        assert len(originals) == kept
        for e in mine:
            assert e.API_name_list == [api] and e.source.startswith(f"{api}#")
            assert f"API_name: {api}" in e.api_descriptions
    sets, _ = read_journal(run_dir / "distill" / "paraphrases.jsonl", ParaphraseSet)
    assert all(len(s.paraphrases) == s.requested for s in sets.values())
    if paraphrase_count(8, target, cap) == 0:
        assert not sets


async def test_a_failed_call_is_judged_and_filtered(run_dir: Path) -> None:
    record = _failing_episode("add_date")
    with (run_dir / "episodes" / shard_filename("add_date")).open("ab") as f:
        f.write(encode_record(record) + b"\n")
    report = await distill_with(run_dir, DistillConfig(target=20), mock=MockLlmConfig())
    judged, _ = read_journal(run_dir / "distill" / "judgments.jsonl", Judgment)
    bad = judged["add_date#99/0"]
    assert not bad.kept and not bad.kept_reference and False in bad.verdicts
    assert bad.text.startswith("1) No.")
    assert report.per_api["add_date"].candidates == report.per_api["add_date"].kept + 1
    assert all(e.source != "add_date#99/0" for e in load_examples(run_dir))


async def test_same_run_same_dataset(run_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "again"
    shutil.copytree(run_dir, other)
    await distill_with(run_dir, DistillConfig(target=30), mock=MockLlmConfig())
    await distill_with(other, DistillConfig(target=30), mock=MockLlmConfig(), cassette="off")
    assert (run_dir / "distill" / "dataset.json").read_bytes() == (
        other / "distill" / "dataset.json").read_bytes()


async def test_crash_mid_judging_resumes_without_rejudging(run_dir: Path) -> None:
    config = DistillConfig(target=30, llm=LlmSettings(concurrency=4))
    with pytest.raises(SteError, match="went away"):
        await distill_with(run_dir, config, mock=MockLlmConfig(), wrap_llm=wrapper([], fail_judge=15))
    journal = run_dir / "distill" / "judgments.jsonl"
    finished = _jsonl_ids(journal)
    total = len(find_candidates(load_run(run_dir)))
    assert 0 < len(finished) < total and len(set(finished)) == len(finished)
    assert not (run_dir / "distill" / "dataset.json").exists()
    with journal.open("ab") as f:
        f.write(b'{"id": "add_date#0/0", "api": "add_')  # a line torn by the crash

    with pytest.raises(StoreError, match="--resume"):
        await distill_with(run_dir, config, mock=MockLlmConfig())
    counting: list[CountingLlm] = []
    report = await distill_with(run_dir, config, resume=True, mock=MockLlmConfig(),
                           wrap_llm=wrapper(counting))
    assert counting[0].judge_calls == total - len(finished) == report.judged_now
    assert report.unreadable_lines == 1
    judged, bad = read_journal(journal, Judgment)
    assert len(judged) == total and bad == 1
    fresh = run_dir.parent / "fresh"
    shutil.copytree(run_dir, fresh)
    shutil.rmtree(fresh / "distill")
    await distill_with(fresh, config, mock=MockLlmConfig())
    # the interrupted and resumed distillation made exactly what an uninterrupted one makes
    assert (fresh / "distill" / "dataset.json").read_bytes() == (
        run_dir / "distill" / "dataset.json").read_bytes()


async def test_crash_mid_paraphrasing_resumes(run_dir: Path) -> None:
    config = DistillConfig(target=150, llm=LlmSettings(concurrency=3))
    with pytest.raises(SteError, match="went away"):
        await distill_with(run_dir, config, mock=MockLlmConfig(),
                      wrap_llm=wrapper([], fail_paraphrase=40))
    finished = set(_jsonl_ids(run_dir / "distill" / "paraphrases.jsonl"))
    counting: list[CountingLlm] = []
    report = await distill_with(run_dir, config, resume=True, mock=MockLlmConfig(),
                           wrap_llm=wrapper(counting))
    assert counting[0].judge_calls == 0
    assert 0 < len(finished) < report.kept
    assert report.paraphrased_now == report.kept - len(finished)
    assert counting[0].paraphrase_calls == 6 * report.paraphrased_now
    sets, _ = read_journal(run_dir / "distill" / "paraphrases.jsonl", ParaphraseSet)
    assert len(sets) == report.kept


async def test_resume_refuses_other_settings(run_dir: Path) -> None:
    await distill_with(run_dir, DistillConfig(target=30), mock=MockLlmConfig())
    with pytest.raises(StoreError, match="target=30"):
        await distill_with(run_dir, DistillConfig(target=40), resume=True, mock=MockLlmConfig())


@pytest.mark.parametrize("content", [b"", b"{", b'{"config": 5}'])
async def test_an_unreadable_distillation_card_is_one_clear_error(run_dir: Path,
                                                                  content: bytes) -> None:
    await distill_with(run_dir, DistillConfig(target=30), mock=MockLlmConfig())
    card = run_dir / "distill" / "distill.json"
    card.write_bytes(content)
    with pytest.raises(StoreError, match=r"distill\.json is corrupt"):
        await distill_with(run_dir, DistillConfig(target=30), resume=True, mock=MockLlmConfig())


def test_cli_distill(run_dir: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["distill", str(run_dir), "--llm", "mock", "--target", "20",
                 "--concurrency", "8"]) == 0
    out = capsys.readouterr().out
    assert "candidate trials" in out and "dataset.json" in out
    assert main(["distill", str(run_dir), "--llm", "mock"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["distill", str(run_dir.parent / "nothing"), "--llm", "mock"]) == 2
    assert "no run.json" in capsys.readouterr().err
    # no LLM option: the embedded model, as explore starts it (here a missing binary)
    monkeypatch.setenv("STE_LLAMA_SERVER", str(run_dir / "no-llama-server"))
    assert main(["distill", str(run_dir), "--target", "20", "--resume"]) == 2
    assert "no-llama-server" in capsys.readouterr().err
