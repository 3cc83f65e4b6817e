"""The scripted LLM's answers to evaluation prompts: the test prompt and the LLM judge.

A test prompt (``ste-async infer``) offers every API and ends with ``User Query: <query>``.
The scripted model answers with one call, as a plausible small model would: it picks the API
whose playbook requests share the most words with the query, takes the arguments of the
closest of those requests, and stops before ``Observation:``. With demonstrations in the prompt
(the ICL setting) a demonstration closer to the query than any playbook request is copied
instead, so demonstrations help as they should. Some answers go wrong on purpose, drawn from
the request's seed (a runner-up API, another request's arguments, a final answer without a
call), so that scores are neither zero nor perfect.

A judge prompt (``ste-async score --judge llm``) shows a reference call and a call to check;
the scripted judge says "Yes." when every reference argument is matched (trimmed, case-folded
text), "No." otherwise.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

__all__ = ("evaluation_reply", "is_judge_prompt", "is_test_prompt")

# literals of ste_async/evaluate/test_prompts/{test,judge}.txt; tests check they still match
_TEST_MARKER = "User Query: the request you have to serve"
_JUDGE_MARKER = "The call to check:"
_DEMO_INTRO = "Here are a few examples:"
_QUERY = "User Query: "
_DEMO = re.compile(r"^User Query: (.*)\nAction: (.*)\nAction Input: (.*(?:\n(?!---|User Query: "
                   r"|Your turn).*)*)", re.M)
_API_LINE = re.compile(r"^API_name: (.+)$", re.M)
_ARGS_LINE = re.compile(r"^API arguments: (.*)$", re.M)
_WORD = re.compile(r"[a-z0-9]+")
# words that say nothing about which API a request needs
_STOP = frozenset("a an and are can could do for from give i in is it me my of on please show "
                  "tell the to what which with you".split())

WRONG_API_RATE = 0.12
WRONG_ARGS_RATE = 0.08
NO_CALL_RATE = 0.03


def is_test_prompt(text: str) -> bool:
    return _TEST_MARKER in text and _QUERY in text


def is_judge_prompt(text: str) -> bool:
    return _JUDGE_MARKER in text and len(_ARGS_LINE.findall(text)) >= 2


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower())) - _STOP


@functools.cache
def _book() -> dict[str, list[tuple[frozenset[str], dict[str, Any]]]]:
    from .llm import _playbook  # late: llm.py imports this module

    return {api: [(_words(e["query"]), dict(e["args"])) for e in entries]
            for api, entries in _playbook().items() if "#" not in api}


def _ranked(query: frozenset[str], offered: Iterable[str]
            ) -> list[tuple[int, str, dict[str, Any]]]:
    """(overlap, api, args of the closest request) per offered API, best first."""
    book, out = _book(), []
    for api in offered:
        entries = book.get(api)
        if not entries:
            continue
        overlap, args = max(((len(query & words), args) for words, args in entries),
                            key=lambda pair: pair[0])
        out.append((overlap, api, args))
    out.sort(key=lambda row: -row[0])  # stable: ties keep the prompt's order
    return out


def _call(api: str, args: Any, thought: str) -> str:
    text = args if isinstance(args, str) else orjson.dumps(args).decode()
    # the stop sequence cuts what follows, as a real server's would
    return f"Thought: {thought}\nAction: {api}\nAction Input: {text}\nObservation:"


def _answer_test(text: str, rng: random.Random) -> str:
    tools, _, query = text.rpartition(_QUERY)
    offered = _API_LINE.findall(tools)
    words = _words(query)
    if rng.random() < NO_CALL_RATE:
        return "Thought: I can answer this myself.\nFinal Answer: I am not sure."
    ranked = _ranked(words, offered)
    shown = tools.partition(_DEMO_INTRO)[2]  # the format section's sample must not count
    demos = [(len(words & _words(q)), a.strip(), ai.strip()) for q, a, ai in _DEMO.findall(shown)]
    best_demo = max(demos, key=lambda d: d[0], default=None)
    if best_demo and best_demo[0] and (not ranked or best_demo[0] >= ranked[0][0]):
        return _call(best_demo[1], best_demo[2], "An example above asks for the same thing.")
    if not ranked:
        return "Thought: None of the APIs fits.\nFinal Answer: I cannot help with that."
    _, api, args = ranked[1 if len(ranked) > 1 and rng.random() < WRONG_API_RATE else 0]
    if rng.random() < WRONG_ARGS_RATE:
        args = rng.choice([a for _, a in _book()[api]])
    return _call(api, args, "I should call the API that fits this request.")


def _loose_equal(gold: dict[str, Any], pred: dict[str, Any]) -> bool:
    return all(k in pred and str(pred[k]).strip().lower() == str(v).strip().lower()
               for k, v in gold.items())


def _answer_judge(text: str) -> str:
    gold_text, pred_text = _ARGS_LINE.findall(text)[-2:]
    try:
        gold, pred = json.loads(gold_text), json.loads(pred_text)
    except ValueError:
        return "No. The arguments cannot be read."
    if isinstance(gold, dict) and isinstance(pred, dict) and _loose_equal(gold, pred):
        return "Yes. The call asks for the same thing."
    return "No. The arguments differ from the reference."


def evaluation_reply(messages: Sequence[dict[str, Any]], seed: int) -> str | None:
    """The reply to an evaluation prompt, or None when the conversation is not one."""
    last = str(messages[-1].get("content", "")) if messages else ""
    if is_judge_prompt(last):
        return _answer_judge(last)
    if is_test_prompt(last):
        return _answer_test(last, random.Random(seed))
    return None
