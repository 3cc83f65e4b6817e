"""A run for the viewer's tests: explored with the scripted LLM, distilled, with one hostile
episode whose model text is markup, and a small prediction file.

Everything the tests check is computed from the files here (records read back with the
store's own reader), not from the viewer's code.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import msgspec
from served import distill_with, explore_with

from ste_async.config import ExploreConfig
from ste_async.distill.runner import DistillConfig
from ste_async.records import EpisodeRecord, Step
from ste_async.store import RunStore, iter_records
from tool_mocks.llm import MockLlmConfig

__all__ = ("APIS", "FAILING_ID", "HOSTILE_ID", "PAYLOADS", "build_run", "records",
           "write_predictions")

APIS = ("add_date", "forecast_weather", "Numbers%%Get math fact")
HOSTILE_ID = "add_date#99"
FAILING_ID = "forecast_weather#50"
# each would set window.__pwned (or open a dialog) if a page ever ran it
PAYLOADS = (
    "<script>window.__pwned = 'script'; alert('script')</script>",
    "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">",
    "</pre><svg onload=\"window.__pwned = 'svg'\"></svg><pre>",
)


def _hostile(base: EpisodeRecord) -> EpisodeRecord:
    """``base`` renumbered, with every model-written text replaced by the payloads."""
    text = " then ".join(PAYLOADS)
    trials = []
    for n, trial in enumerate(base.trials):
        steps = [msgspec.structs.replace(
            step, raw=f"Thought: {text}\nAction: add_date\nAction Input: {PAYLOADS[1]}",
            thought=text, action_input=PAYLOADS[1] if step.action_input is not None else None,
            observation=f"tool said {PAYLOADS[0]}" if step.observation is not None else None)
            for step in trial.steps]
        # the second trial judged unsolved by both readings
        trials.append(msgspec.structs.replace(
            trial, query=f"Please {text}", steps=steps,
            reflection=f"Yes {PAYLOADS[2]}" if n == 0 else f"No {PAYLOADS[2]}",
            solved=n == 0, solved_reference=n == 0))
    return msgspec.structs.replace(base, id=HOSTILE_ID, episode=99, trials=trials)


def _failing(base: EpisodeRecord) -> EpisodeRecord:
    """``base`` renumbered, with a tool that stayed unavailable and a refused LLM request."""
    trial = base.trials[0]
    steps = [msgspec.structs.replace(trial.steps[0], observation="the tool is unavailable",
                                     tool_status=503, tool_kind="unavailable"),
             Step(raw="the server refused the request: context too long", kind="llm_error")]
    return msgspec.structs.replace(
        base, id=FAILING_ID, episode=50, stopped="LLM rejected a request in trial 0",
        trials=[msgspec.structs.replace(trial, steps=steps, finished=False, reflection=None,
                                        solved=None, solved_reference=None)])


def build_run(folder: Path) -> Path:
    """Explore 3 APIs x 3 episodes x 2 trials, add the hostile episode, distil."""
    run = folder / "run"
    anyio.run(lambda: explore_with(ExploreConfig(apis=APIS, episodes=3, trials=2), run,
                                   mock=MockLlmConfig(error_rate=0.5),
                                   handle_signals=False))
    done = list(iter_records(run))
    base = next(r for r in done if r.api == "add_date")
    other = next(r for r in done if r.api == "forecast_weather")

    async def add() -> None:
        async with RunStore(run) as store:
            await store.append(_hostile(base))
            await store.append(_failing(other))

    anyio.run(add)
    anyio.run(lambda: distill_with(run, DistillConfig(target=4), mock=MockLlmConfig()))
    return run


def records(run: Path) -> list[EpisodeRecord]:
    return list(iter_records(run))


def write_predictions(path: Path) -> dict[str, list[dict[str, str]]]:
    """Four items of two APIs: a correct call, a wrong API, a final answer, a malformed one."""
    data = {
        "add_date": [
            {"query": "what is 3 days after 2024-01-01?",
             "model_output": 'Action: add_date\nAction Input: {"date": "2024-01-01", '
                             '"days": 3}',
             "action": "add_date", "action_input": '{"date": "2024-01-01", "days": 3}'},
            {"query": "and 5 days after <b>2024-02-01</b>?",
             "model_output": 'Action: get_today_date\nAction Input: {}',
             "action": "add_date", "action_input": '{"date": "2024-02-01", "days": 5}'},
        ],
        "get_today_date": [
            {"query": "what day is it?", "model_output": "Final Answer: <script>x</script>",
             "action": "get_today_date", "action_input": "{}"},
            {"query": "today?", "model_output": "Action: get_today_date\nAction Input: {oops",
             "action": "get_today_date", "action_input": "{}"},
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return data
