"""One episode against a scripted in-process LLM, checked request by request."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import CALL, FINAL, SPEC, EchoTools, ScriptedLlm

from ste_async import prompts
from ste_async.config import ExploreConfig
from ste_async.explore.episode import run_episode
from ste_async.explore.memory import MemoryShard
from ste_async.llm import Completion
from ste_async.records import trajectory_bytes

MEMORY_HEADER = "Here are the requests already explored"


def config(**kw: Any) -> ExploreConfig:
    return ExploreConfig(**{"trials": 2, "max_turn": 4, **kw})


async def test_full_episode_turn_by_turn() -> None:
    replies = [
        "Query A",  # trial 0: imagine
        'Action: Demo%%Echo\nAction Input: {text: "hi"}',  # bad JSON -> parser feedback
        CALL,  # tool call
        FINAL,
        "Yes, it worked.",  # reflection
        "Query B",  # trial 1: imagine
        CALL, CALL, CALL, CALL, CALL,  # never finishes: max_turn=4 -> 5 replies, 4 answered
        "Now I see: no, I could not finish.",  # reflection ("Now" must not count as No)
    ]
    llm, tools, memory = ScriptedLlm(replies), EchoTools(), MemoryShard(SPEC.name)
    record = await run_episode(config(), SPEC, 0, llm, tools, memory)

    assert len(llm.requests) == len(replies)
    r = llm.requests
    # trial 0, imagination: system + the first imagination prompt, no memory yet
    assert [m["role"] for m in r[0]["messages"]] == ["system", "user"]
    assert "API_name: Demo%%Echo" in r[0]["messages"][1]["content"]
    assert MEMORY_HEADER not in r[0]["messages"][1]["content"]
    assert r[0]["stop"] == "Thought:" and r[1]["stop"] == "Observation:"
    assert r[0]["temperature"] == 1.0 and r[0]["max_tokens"] == 360
    # the act prompt names the query; the parser's complaint comes back as the observation
    assert "Query A" in r[1]["messages"][-1]["content"]
    assert r[2]["messages"][-1]["content"].startswith("Observation: The Action Input is not valid JSON")
    assert r[3]["messages"][-1]["content"] == 'Observation: {"echo":"hi"}'
    assert r[4]["messages"][-1]["content"] == prompts.REFLECT

    # trial 1 continues the same conversation (short-term memory) ...
    imagine_1 = r[5]["messages"]
    assert imagine_1[: len(r[4]["messages"])] == r[4]["messages"]
    assert imagine_1[len(r[4]["messages"])]["content"] == "Yes, it worked."
    # ... and its imagination prompt shows the long-term memory with the label
    assert "Query: Query A | Solved: Yes" in imagine_1[-1]["content"]
    # but the conversation keeps that prompt without the memory, so the prefix stays stable
    kept = r[6]["messages"][len(imagine_1) - 1]
    assert kept["content"] == prompts.imagine_next()
    assert r[6]["messages"][-1]["content"] == prompts.ACT_NEXT

    t0, t1 = record.trials
    assert [s.kind for s in t0.steps] == ["feedback", "call", "final"]
    assert t0.finished and t0.solved is True and t0.solved_reference is True
    assert t0.memory_shown == 0 and t1.memory_shown == 1
    assert [s.kind for s in t1.steps] == ["call"] * 5
    assert [s.observation is not None for s in t1.steps] == [True] * 4 + [False]
    assert not t1.finished
    # ours reads the explicit "no"; the study's substring test agrees here
    assert t1.solved is False and t1.solved_reference is False
    assert len(tools.calls) == 1 + 4
    # every request had its own seed, fixed by its place in the protocol
    seeds = [q["seed"] for q in r]
    assert len(set(seeds)) == len(seeds)
    assert len(record.conversations) == 1
    assert record.conversations[0][-1]["content"] == replies[-1]
    assert [e.query for e in memory.entries] == ["Query A", "Query B"]
    assert [e.solved for e in memory.entries] == [True, False]


async def test_the_same_episode_twice_gives_the_same_record() -> None:
    replies = ["Q", CALL, FINAL, "Yes", "Q2", CALL, FINAL, "No"]
    a = await run_episode(config(), SPEC, 3, ScriptedLlm(replies), EchoTools(), MemoryShard("x"))
    b = await run_episode(config(), SPEC, 3, ScriptedLlm(replies), EchoTools(), MemoryShard("x"))
    assert trajectory_bytes(a) == trajectory_bytes(b)


def _phase_replies(messages: list[dict[str, str]]) -> str:
    last = messages[-1]["content"]
    if last.rstrip().endswith(prompts.QUERY_MARKER):
        return f"query {len(messages)}"
    if last == prompts.REFLECT:
        return "Yes"
    return FINAL if last.startswith("Observation:") else CALL


@pytest.mark.parametrize("trials", [1, 3])
async def test_no_stm_starts_every_trial_fresh(trials: int) -> None:
    llm = ScriptedLlm(_phase_replies)
    record = await run_episode(config(trials=trials, stm=False), SPEC, 0, llm, EchoTools(),
                               MemoryShard(SPEC.name))
    imagines = [q for q in llm.requests if q["stop"] == "Thought:"]
    assert len(imagines) == trials
    for q in imagines:
        assert [m["role"] for m in q["messages"]] == ["system", "user"]
        assert "API_name: Demo%%Echo" in q["messages"][1]["content"]  # first-trial prompt
    assert len(record.conversations) == trials


async def test_no_ltm_never_shows_memory() -> None:
    memory = MemoryShard(SPEC.name)
    memory.publish("an old query", episode=0, trial=0).solved = True
    llm = ScriptedLlm(_phase_replies)
    await run_episode(config(trials=3, ltm=False), SPEC, 1, llm, EchoTools(), memory)
    for q in llm.requests:
        assert MEMORY_HEADER not in q["messages"][-1]["content"]
    # the shard is still written, so a later run with memory could use it
    assert len(memory) == 1 + 3


async def test_ltm_shows_earlier_episodes() -> None:
    memory = MemoryShard(SPEC.name)
    memory.publish("an old query", episode=0, trial=0).solved = False
    llm = ScriptedLlm(_phase_replies)
    record = await run_episode(config(trials=1), SPEC, 1, llm, EchoTools(), memory)
    assert "Query: an old query | Solved: No" in llm.requests[0]["messages"][-1]["content"]
    assert record.trials[0].memory_shown == 1


async def test_no_reflection_skips_the_question_and_the_labels() -> None:
    memory = MemoryShard(SPEC.name)
    memory.publish("an old query", episode=0, trial=0)
    llm = ScriptedLlm(_phase_replies)
    record = await run_episode(config(trials=2, reflection=False), SPEC, 1, llm, EchoTools(),
                               memory)
    assert all(q["messages"][-1]["content"] != prompts.REFLECT for q in llm.requests)
    assert all(t.reflection is None and t.solved is None for t in record.trials)
    shown = llm.requests[0]["messages"][-1]["content"]
    assert "Query: an old query\n" in shown and "Solved" not in shown


async def test_rejected_request_ends_the_episode_and_is_recorded() -> None:
    from ste_async.errors import RequestRejectedError

    class Rejecting(ScriptedLlm):
        async def complete(self, messages: list[dict[str, str]], **kw: Any) -> Completion:
            if len(self.requests) == 2:
                self.requests.append({})
                raise RequestRejectedError("context length exceeded", status=400)
            return await super().complete(messages, **kw)

    llm = Rejecting(["Q", CALL])
    record = await run_episode(config(trials=3), SPEC, 0, llm, EchoTools(), MemoryShard("x"))
    assert record.stopped is not None and "context length" in record.stopped
    assert len(record.trials) == 1 and record.trials[0].steps[-1].kind == "llm_error"
