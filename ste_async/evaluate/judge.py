"""The LLM judge of the STE study, asked concurrently: is a predicted call semantically right?

For every API-matched call outside the string-match APIs (:func:`.score.items_needing_llm_judge`)
the study asked a chat model whether the predicted call is correct with respect to the gold
call: the same API name on both sides, the arguments as JSON, an answer that starts with
"Yes." or "No." (temperature 0, 256 tokens, system message "You are a helpful assistant."),
read as correct unless the reply contains "No." (:func:`.score.llm_verdict`). The question is
worded in this project's own words (``test_prompts/judge.txt``).

Requests go through the same pooled client, worker pool and recording as ``infer``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from .._pool import run_pool
from .._text import load_prompt
from ..config import LlmSettings
from ..errors import RequestRejectedError, RetryBudgetExceeded
from ..ids import request_seed
from ..markers import CALL_JUDGE_MARKER
from ..prompts import SYSTEM
from ..session import open_llm
from .infer import STOP
from .score import items_needing_llm_judge, llm_verdict

__all__ = (
    "JUDGE_MAX_TOKENS",
    "JUDGE_TEMPERATURE",
    "JudgeOutcome",
    "judge_llm",
    "judge_prompt",
)

JUDGE_TEMPERATURE = 0.0
JUDGE_MAX_TOKENS = 256
_JUDGE_LLM = LlmSettings(concurrency=64)

_TEMPLATE = load_prompt("ste_async.evaluate", "test_prompts", "judge.txt",
                        marker=CALL_JUDGE_MARKER)


class JudgeOutcome(msgspec.Struct, kw_only=True):
    """The labels for :func:`.score.score` and what it took to get them."""

    labels: dict[tuple[str, int], bool]
    replies: dict[tuple[str, int], str]
    model: str
    errors: list[str]  # items whose request failed; they are labelled wrong


def judge_prompt(api: str, gold_args: Mapping[str, Any], pred_args: Mapping[str, Any]) -> str:
    """The question for one item; both calls name the gold API, as the study's did."""
    return _TEMPLATE.format(gold_api=api, gold_args=json.dumps(gold_args), pred_api=api,
                            pred_args=json.dumps(pred_args))


async def judge_llm(
    data: Mapping[str, list[dict[str, Any]]],
    llm_urls: Sequence[str],
    *,
    llm: LlmSettings = _JUDGE_LLM,
    seed: int = 0,
    cassette_dir: str | Path | None = None,
) -> JudgeOutcome:
    """Ask the judge at ``llm_urls`` about every item that needs it; returns labels keyed by
    (api, index)."""
    needed = items_needing_llm_judge(data)
    jobs = []
    for api, index, item, parsed in needed:
        gold = json.loads(item["action_input"])
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": judge_prompt(api, gold, parsed.action_input or {})}]
        jobs.append((api, index, messages, request_seed(seed, f"judge:{api}", index, 0, 0)))
    errors: list[str] = []
    replies: dict[tuple[str, int], str] = {}
    if not jobs:
        return JudgeOutcome(labels={}, replies={}, model=llm.model, errors=[])

    concurrency = 64 if llm.concurrency == "auto" else llm.concurrency
    record_to = None if cassette_dir is None else Path(cassette_dir)
    async with open_llm(llm, llm_urls, seed=seed, record_to=record_to) as (_, judge, served):
        async def ask(job: tuple[str, int, list[dict[str, str]], int]) -> None:
            api, index, messages, job_seed = job
            try:
                reply = await judge.complete(messages, stop=STOP, seed=job_seed,
                                           temperature=JUDGE_TEMPERATURE,
                                           max_tokens=JUDGE_MAX_TOKENS,
                                           affinity=f"judge:{api}#{index}")
                replies[(api, index)] = reply.text
            except (RetryBudgetExceeded, RequestRejectedError) as exc:
                errors.append(f"{api}#{index}: {exc}")
                replies[(api, index)] = "No."  # unjudged counts as wrong, never as right

        await run_pool(jobs, ask, concurrency)
    labels = {key: llm_verdict(text) for key, text in replies.items()}
    return JudgeOutcome(labels=labels, replies=replies, model=served, errors=errors)
