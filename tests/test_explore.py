"""The scheduler and the store together: order, lanes, fairness, resume, drain."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ste_async import prompts
from ste_async.catalog import ApiSpec, Param
from ste_async.config import ExploreConfig, load_explore_config
from ste_async.errors import ConfigError
from ste_async.explore.metrics import Metrics
from ste_async.explore.runner import plan_run
from ste_async.explore.scheduler import Explorer
from ste_async.llm import Completion
from ste_async.store import RunStore, iter_records, scan_run
from ste_async.tools import ToolOutcome

SPECS = [
    ApiSpec(name=f"Tool{i}%%Api", tool=f"Tool{i}", api="Api", description="demo",
            required=(Param(name="q"),))
    for i in range(3)
]
FINAL = "Thought: I now know the final answer\nFinal Answer: done"


class YieldingLlm:
    """Replies by phase after a random number of scheduling points, tracking concurrency."""

    def __init__(self, seed: int = 0, on_call: Any = None):
        self.rng = random.Random(seed)
        self.calls = 0
        self.on_call = on_call
        self.running: dict[str, int] = {}
        self.max_running: dict[str, int] = {}

    async def complete(self, messages: list[dict[str, str]], **kw: Any) -> Completion:
        self.calls += 1
        if self.on_call is not None:
            self.on_call(self.calls)
        api = kw["affinity"].split("#")[0]
        self.running[api] = self.running.get(api, 0) + 1
        self.max_running[api] = max(self.max_running.get(api, 0), self.running[api])
        try:
            for _ in range(self.rng.randrange(4)):
                await anyio.lowlevel.checkpoint()
        finally:
            self.running[api] -= 1
        last = messages[-1]["content"]
        if last.rstrip().endswith(prompts.QUERY_MARKER):
            text = f"query {kw['affinity']} seed {kw['seed']}"
        elif last == prompts.REFLECT:
            text = "Yes"
        elif last.startswith("Observation:"):
            text = FINAL
        else:
            text = f'Action: {api}\nAction Input: {{"q": "x"}}'
        return Completion(text=text, finish_reason="stop", prompt_tokens=1, completion_tokens=1,
                          latency_s=0.0, attempts=1, endpoint="fake")


class OkTools:
    async def call(self, api: str, args: dict[str, Any], context: str = "") -> ToolOutcome:
        await anyio.lowlevel.checkpoint()
        return ToolOutcome(kind="ok", status=200, body='{"ok":true}', attempts=1, latency_s=0.0)


async def run(tmp: Path, llm: Any, explorer_hook: Any = None, **kw: Any) -> Explorer:
    config = ExploreConfig(**{"episodes": 4, "trials": 2, "max_turn": 2, **kw})
    async with RunStore(tmp) as store:
        pending, memory, done = plan_run(config, SPECS, scan_run(tmp))
        explorer = Explorer(config, SPECS, pending, memory, llm, OkTools(), store,
                            Metrics(config.episodes * len(SPECS), done))
        if explorer_hook is not None:
            explorer_hook(explorer)
        await explorer.run()
    return explorer


def by_api(tmp: Path) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in iter_records(tmp):
        out.setdefault(r.api, []).append(r)
    return out


async def test_lanes_1_keeps_order_and_complete_memory(tmp_path: Path) -> None:
    llm = YieldingLlm(seed=1)
    await run(tmp_path, llm, lanes=1, max_episodes=64)
    assert llm.max_running == {s.name: 1 for s in SPECS}
    for api, records in by_api(tmp_path).items():
        # written in episode order, each episode seeing every trial of the ones before
        assert [r.episode for r in records] == [0, 1, 2, 3], api
        for r in records:
            assert [t.memory_shown for t in r.trials] == [2 * r.episode, 2 * r.episode + 1]
    # APIs ran side by side: all three were in flight at some point together
    assert scan_run(tmp_path).lines == 12


async def test_lanes_let_episodes_of_one_api_overlap(tmp_path: Path) -> None:
    llm = YieldingLlm(seed=2)
    await run(tmp_path, llm, lanes=4, max_episodes=64)
    assert max(llm.max_running.values()) > 1
    assert scan_run(tmp_path).lines == 12


async def test_episode_limit_bounds_work_in_flight(tmp_path: Path) -> None:
    in_flight = max_seen = 0

    class Counting(YieldingLlm):
        async def complete(self, messages: list[dict[str, str]], **kw: Any) -> Completion:
            nonlocal in_flight, max_seen
            in_flight += 1
            max_seen = max(max_seen, in_flight)
            try:
                return await super().complete(messages, **kw)
            finally:
                in_flight -= 1

    await run(tmp_path, Counting(seed=3), lanes=4, max_episodes=2)
    assert max_seen <= 2


async def test_stop_drains_and_resume_finishes_without_duplicates(tmp_path: Path) -> None:
    box: dict[str, Explorer] = {}

    def stop_after(n: int) -> None:
        if n == 40:
            box["e"].stop()

    explorer = await run(tmp_path, YieldingLlm(seed=4, on_call=stop_after),
                         explorer_hook=lambda e: box.setdefault("e", e), lanes=2)
    assert explorer.stopping
    first = scan_run(tmp_path)
    assert 0 < first.lines < 12 and first.corrupt == 0
    # a crash mid-write leaves a torn line; resume must skip it and never write over it
    shard = next((tmp_path / "episodes").glob("*.jsonl"))
    with shard.open("ab") as f:
        f.write(b'{"schema":1,"id":"torn')
    await run(tmp_path, YieldingLlm(seed=5), lanes=2)
    final = scan_run(tmp_path)
    assert final.corrupt == 1 and final.duplicates == 0
    assert sorted(final.heads) == sorted(f"{s.name}#{e}" for s in SPECS for e in range(4))
    assert b'{"schema":1,"id":"torn\n' in shard.read_bytes()


async def test_stop_with_zero_drain_cancels_in_flight_episodes(tmp_path: Path) -> None:
    box: dict[str, Explorer] = {}
    gate = anyio.Event()

    class Blocking(YieldingLlm):
        async def complete(self, messages: list[dict[str, str]], **kw: Any) -> Completion:
            if self.calls >= 6:
                box["e"].stop()
                await gate.wait()  # never set: only cancellation ends this
            return await super().complete(messages, **kw)

    with anyio.fail_after(5):
        await run(tmp_path, Blocking(seed=6), explorer_hook=lambda e: box.setdefault("e", e),
                  drain_seconds=0.0)
    assert scan_run(tmp_path).corrupt == 0


async def test_store_refuses_a_second_writer(tmp_path: Path) -> None:
    from ste_async.errors import StoreError

    async with RunStore(tmp_path):
        with pytest.raises(StoreError, match="another process"):
            async with RunStore(tmp_path):
                pass


def test_episode_queue_yields_what_is_left_in_order_without_listing_it() -> None:
    from ste_async.explore.scheduler import EpisodeQueue

    queue = EpisodeQueue(6, done=[0, 3, 9])
    assert len(queue) == 4
    assert [queue.popleft() for _ in range(4)] == [1, 2, 4, 5] and not queue
    with pytest.raises(IndexError):
        queue.popleft()
    chosen = EpisodeQueue(6, done=[1], only=[5, 1, 2, 7])
    assert len(chosen) == 2 and [chosen.popleft(), chosen.popleft()] == [2, 5]
    huge = EpisodeQueue(1_000_000, done=range(10))  # no list of a million is made
    assert len(huge) == 999_990 and huge.popleft() == 10


@pytest.mark.parametrize("settings", [
    {"episodes": 9_223_372_036_854_775_807}, {"trials": 10**9}, {"max_episodes": 0},
    {"lanes": 2**40},
])
def test_counts_past_their_documented_maxima_are_refused(settings: dict[str, int]) -> None:
    name = next(iter(settings))
    with pytest.raises(ConfigError, match=rf"{name} must be between 1 and"):
        load_explore_config(None, **settings)
    with pytest.raises(ConfigError, match="llm concurrency must be between 1 and 100,000"):
        load_explore_config(None, llm_concurrency=10**6)
