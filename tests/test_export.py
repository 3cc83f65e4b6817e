"""Training exports of a distilled run: schemas, errors, and continual-learning rounds."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import anyio
import msgspec
import pytest
from served import distill_with, explore_with

from ste_async.cli import main
from ste_async.config import ExploreConfig
from ste_async.distill.continual import load_batches, select_round
from ste_async.distill.examples import TrainExample, load_examples
from ste_async.distill.runner import DistillConfig
from ste_async.errors import ConfigError, StoreError
from ste_async.export import export_train
from tool_mocks.llm import MockLlmConfig

REFERENCE_BATCHES = (Path(__file__).resolve().parents[2] / "shared" / "reference" / "ste"
                     / "CL_batches.json")


# strict schemas, written independently of the exporter's own Structs
class SteTrain(msgspec.Struct, forbid_unknown_fields=True):
    query: str
    API_name_list: list[str]
    api_descriptions: str
    action: str
    action_input: str
    observation: str
    final_ans: str


class Message(msgspec.Struct, forbid_unknown_fields=True):
    role: str
    content: str


class OpenAiLine(msgspec.Struct, forbid_unknown_fields=True):
    messages: list[Message]


class Turn(msgspec.Struct, forbid_unknown_fields=True, rename={"sender": "from"}):
    sender: str
    value: str


class ShareGptLine(msgspec.Struct, forbid_unknown_fields=True):
    conversations: list[Turn]


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 50 APIs, one episode each, explored and distilled (target 10) with the mock."""
    run = tmp_path_factory.mktemp("distilled") / "run"

    async def make() -> None:
        await explore_with(ExploreConfig(episodes=1), run, mock=MockLlmConfig(),
                           handle_signals=False)
        await distill_with(run, DistillConfig(target=10), mock=MockLlmConfig())

    anyio.run(make)
    return run


@pytest.fixture
def examples(distilled: Path) -> list[TrainExample]:
    return load_examples(distilled)


def _lines(path: Path, kind: type) -> list:
    return [msgspec.json.decode(line, type=kind) for line in path.read_bytes().splitlines()]


def test_ste_train_is_the_study_layout(distilled: Path, examples: list[TrainExample],
                                       tmp_path: Path) -> None:
    done = export_train(distilled, "ste-train", tmp_path / "train.json")
    items = msgspec.json.decode(done.path.read_bytes(), type=list[SteTrain])
    assert len(items) == len(examples) == done.examples > 0
    assert done.apis == 50
    for item, e in zip(items, examples, strict=True):
        assert (item.query, item.action, item.observation, item.final_ans) == (
            e.query, e.action, e.observation, e.final_ans)
    assert json.loads(done.path.read_text())[0].keys() == {
        "query", "API_name_list", "api_descriptions", "action", "action_input",
        "observation", "final_ans"}


def test_an_export_into_a_folder_not_yet_made_makes_it(distilled: Path, tmp_path: Path) -> None:
    done = export_train(distilled, "openai", tmp_path / "new" / "deeper" / "chat.jsonl")
    assert done.path.read_bytes().count(b"\n") == done.examples > 0


@pytest.mark.parametrize("with_observation", [False, True])
def test_openai_chat_export(distilled: Path, examples: list[TrainExample], tmp_path: Path,
                            with_observation: bool) -> None:
    done = export_train(distilled, "openai", tmp_path / "chat.jsonl",
                        with_observation=with_observation)
    lines = _lines(done.path, OpenAiLine)
    assert len(lines) == len(examples)
    for line, e in zip(lines, examples, strict=True):
        roles = [m.role for m in line.messages]
        assert roles == ["system", "user", "assistant"] + (
            ["user", "assistant"] if with_observation else [])
        prompt, call = line.messages[1].content, line.messages[2].content
        assert f"API_name: {e.API_name_list[0]}" in prompt
        assert prompt.endswith(f"User Query: {e.query}")
        assert re.fullmatch(r"Thought: .+\nAction: (.+)\nAction Input: (.*)", call, re.S)
        assert call.split("\nAction: ")[1].startswith(e.action + "\n")
        assert call.endswith(f"Action Input: {e.action_input}")
        if with_observation:
            assert line.messages[3].content == f"Observation: {e.observation}"
            assert line.messages[4].content.endswith(f"Final Answer: {e.final_ans}")


@pytest.mark.parametrize("with_observation", [False, True])
def test_sharegpt_export(distilled: Path, examples: list[TrainExample], tmp_path: Path,
                         with_observation: bool) -> None:
    done = export_train(distilled, "sharegpt", tmp_path / "sg.jsonl",
                        with_observation=with_observation)
    chat = _lines(export_train(distilled, "openai", tmp_path / "chat.jsonl",
                               with_observation=with_observation).path, OpenAiLine)
    lines = _lines(done.path, ShareGptLine)
    assert len(lines) == len(examples)
    names = {"system": "system", "user": "human", "assistant": "gpt"}
    for line, same in zip(lines, chat, strict=True):
        assert [(t.sender, t.value) for t in line.conversations] == [
            (names[m.role], m.content) for m in same.messages]


def test_training_export_needs_a_distilled_run(distilled: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(distilled, bare, ignore=shutil.ignore_patterns("distill"))
    with pytest.raises(StoreError, match="has not been distilled"):
        export_train(bare, "ste-train")
    assert main(["export", "--format", "openai", str(bare)]) == 2
    assert "ste-async distill" in capsys.readouterr().err
    assert main(["export", "--format", "ste", str(bare)]) == 0  # the explored data still is


def test_cli_default_names(distilled: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(distilled, run)
    for fmt, name in (("ste-train", "tool_data_train.json"), ("openai", "train_openai.jsonl"),
                      ("sharegpt", "train_sharegpt.jsonl")):
        assert main(["export", "--format", fmt, str(run)]) == 0
        assert (run / name).exists()
    batches = tmp_path / "b.json"
    apis = json.loads((run / "run.json").read_text())["apis"]
    batches.write_text(json.dumps([apis[:20], apis[20:]]))
    assert main(["export", "--format", "ste-train", str(run), "--batches", str(batches),
                 "--round", "1"]) == 0
    assert main(["export", "--format", "ste-train", str(run), "--batches", str(batches),
                 "--round", "1", "--no-replay"]) == 0
    assert (run / "CL_round_1.json").exists() and (run / "CL_round_1_no_replay.json").exists()
    assert main(["export", "--format", "ste-train", str(run), "--batches", str(batches),
                 "--round", "2"]) == 2
    assert "rounds 0..1" in capsys.readouterr().err
    assert main(["export", "--format", "ste-train", str(run), "--batches", str(batches)]) == 2
    assert main(["export", str(run), "--batches", str(batches), "--round", "0"]) == 2


# ---- continual learning ----

def _check_round(examples: list[TrainExample], batches: list[list[str]], k: int,
                 ratio: float, seed: int = 0) -> None:
    run_apis = [a for b in batches for a in b]
    data = select_round(examples, batches, k, run_apis=run_apis, replay_ratio=ratio,
                        seed=seed)
    per_api = Counter(e.api for e in examples)
    batch = set(batches[k])
    earlier = {a for b in batches[:k] for a in b}
    assert {e.api for e in data.new} == {a for a in batch if per_api[a]}
    assert len(data.new) == sum(per_api[a] for a in batch)
    pool = sum(per_api[a] for a in earlier)
    assert data.replay_pool == pool
    assert len(data.replay) == min(pool, int(ratio * len(data.new) + 0.5))
    assert {e.api for e in data.replay} <= earlier
    assert len({id(e) for e in data.replay}) == len(data.replay)  # without replacement
    again = select_round(examples, batches, k, run_apis=run_apis, replay_ratio=ratio,
                         seed=seed)
    assert again.examples == data.examples  # seeded


def test_cl_rounds_of_the_study_batches(examples: list[TrainExample], distilled: Path,
                                        tmp_path: Path) -> None:
    if not REFERENCE_BATCHES.exists():
        pytest.skip(f"the study's CL_batches.json is not at {REFERENCE_BATCHES}")
    batches = load_batches(REFERENCE_BATCHES)
    for k in range(len(batches)):
        for ratio in (0.1, 0.0, 0.5):
            _check_round(examples, batches, k, ratio)
    done = export_train(distilled, "ste-train", tmp_path / "r2.json",
                        batches=REFERENCE_BATCHES, cl_round=2, seed=3)
    assert done.round is not None and done.round.round == 2
    assert done.examples == len(done.round.new) + len(done.round.replay)
    new = sum(1 for e in examples if e.api in set(batches[2]))
    assert len(done.round.replay) == int(0.1 * new + 0.5) > 0
    plain = export_train(distilled, "ste-train", tmp_path / "r2n.json",
                         batches=REFERENCE_BATCHES, cl_round=2, replay_ratio=0.0)
    assert plain.examples == new


def test_cl_rounds_of_a_synthetic_schedule(examples: list[TrainExample]) -> None:
    apis = sorted({e.api for e in examples})
    batches = [apis[0:3], apis[3:5], apis[5:9]]
    for k in range(3):
        for ratio in (0.1, 0.25, 1.0, 10.0):  # 10.0: capped at the earlier batches' size
            _check_round(examples, batches, k, ratio, seed=k)
    data = select_round(examples, batches, 2, run_apis=apis, replay_ratio=10.0)
    assert len(data.replay) == data.replay_pool
    round0 = select_round(examples, batches, 0, run_apis=apis, replay_ratio=0.5)
    assert round0.replay == [] and round0.replay_pool == 0
    assert any("in no batch" in w for w in round0.warnings)
    a = select_round(examples, batches, 2, run_apis=apis, replay_ratio=0.5, seed=1)
    b = select_round(examples, batches, 2, run_apis=apis, replay_ratio=0.5, seed=2)
    assert a.replay != b.replay  # another seed draws another sample


def test_cl_errors(examples: list[TrainExample], tmp_path: Path) -> None:
    apis = sorted({e.api for e in examples})
    with pytest.raises(ConfigError, match=r"rounds 0\.\.1"):
        select_round(examples, [apis[:2], apis[2:4]], 2, run_apis=apis)
    with pytest.raises(ConfigError, match=r"rounds 0\.\.1"):
        select_round(examples, [apis[:2], apis[2:4]], -1, run_apis=apis)
    with pytest.raises(ConfigError, match="not explored"):
        select_round(examples, [apis[:2], ["Nonexistent%%Api"]], 1, run_apis=apis)
    # an explored API without any kept example only warns
    thinned = [e for e in examples if e.api != apis[0]]
    data = select_round(thinned, [apis[:2], apis[2:4]], 1, run_apis=apis)
    assert any(apis[0] in w for w in data.warnings)
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([[apis[0]], [apis[0]]]))
    with pytest.raises(ConfigError, match="batch 0 and batch 1"):
        load_batches(dup)
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(ConfigError, match="not a list of batches"):
        load_batches(bad)
    with pytest.raises(ConfigError, match="replay ratio"):
        select_round(examples, [apis], 0, run_apis=apis, replay_ratio=-1)


def test_export_of_a_run_being_written_says_so_or_waits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    from ste_async.cli import main
    from ste_async.session import locked

    run = tmp_path / "run"
    assert main(["explore", "--llm", "mock", "--apis", "add_date", "--episodes", "1",
                 "--trials", "1", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    release, holding = threading.Event(), threading.Event()

    def writer() -> None:  # stands for an exploration holding the run
        with locked(run):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        assert main(["export", str(run)]) == 0
        captured = capsys.readouterr()
        assert "is being written; exporting what is finished so far" in captured.err
        assert "1 episodes" in captured.out
        threading.Timer(0.05, release.set).start()
        assert main(["export", str(run), "--wait"]) == 0  # returns once the writer is done
        assert "being written" not in capsys.readouterr().err
    finally:
        release.set()
        thread.join()


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "ste-train"])
def test_exact_duplicate_rows_are_left_out_and_counted(distilled: Path, tmp_path: Path,
                                                       fmt: str) -> None:
    examples = load_examples(distilled)
    run = tmp_path / "run"
    shutil.copytree(distilled, run)
    # the same examples twice over: every row of the second half repeats one of the first
    dataset = run / "distill" / "dataset.json"
    dataset.write_bytes(msgspec.json.encode(examples + examples))
    kept = export_train(run, fmt, tmp_path / "kept")
    every = export_train(run, fmt, tmp_path / "every", keep_duplicates=True)
    assert every.examples == 2 * len(examples) and every.duplicates == 0
    assert kept.duplicates >= len(examples) and kept.examples + kept.duplicates == every.examples
    if fmt == "ste-train":
        rows = [json.dumps(r) for r in json.loads((tmp_path / "kept").read_text())]
    else:
        rows = (tmp_path / "kept").read_text().splitlines()
    assert len(rows) == kept.examples == len(set(rows))
