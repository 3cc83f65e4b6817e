"""What the scripted LLM says: a pure function from a conversation and a seed to a reply.

The scripted model plays every role the engine gives a model, well enough to drive each path.
It tells the roles apart by the phrases in :mod:`ste_async.markers`, checked in this order:

- evaluation: a test prompt (``ste-async infer``) gets one call chosen by word overlap with the
  playbook (or a close demonstration); an LLM-judge question gets "Yes." or "No." by comparing
  the two calls' arguments (see :func:`evaluation_reply`);
- API writer: a tool server's LLM backend asks for an API's JSON body; it gets one built from
  the call's arguments;
- distillation: the trial judge gets three numbered verdicts (all Yes for a successful
  observation); a paraphrase request gets a rewording unlike those already given;
- imagination (the last message ends in "User Query:"): a request from the API's playbook,
  preferring one the long-term memory shown in the prompt does not list yet;
- reflection: "Yes" when the trial ended in a Final Answer after a successful Observation,
  "No" otherwise;
- acting: a ReAct step calling the API with the playbook's arguments for the imagined request
  (for an API the playbook does not know, the defaults its description documents).
  With probability ``error_rate`` the first step of a trial carries a mistake (bad JSON, an
  unknown API name, no Action Input, a wrong parameter name) so that the feedback loop runs;
  after an error Observation it corrects itself, after a good one it gives a Final Answer.

Every random choice is drawn from ``random.Random(seed)``, so one request always gets one
reply: recorded runs, cassettes and the replay tests depend on that, byte for byte. Some
evaluation answers go wrong on purpose (a runner-up API, another request's arguments, no call
at all) so that scores are neither zero nor perfect.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ste_async.markers import (
    CALL_JUDGE_MARKER,
    DEMO_INTRO,
    PARAPHRASE_AGAIN_MARKER,
    PARAPHRASE_MARKER,
    QUERY_MARKER,
    REFLECT_MARKER,
    STUDY_PARAPHRASE_AGAIN_MARKER,
    STUDY_PARAPHRASE_MARKER,
    TEST_PROMPT_MARKER,
    TRIAL_JUDGE_MARKER,
    judge_fields,
    paraphrase_source,
)

from .backends import API_WRITER_MARKER
from .playbook import entries_for, playbook

__all__ = (
    "NO_CALL_RATE",
    "WRONG_API_RATE",
    "WRONG_ARGS_RATE",
    "ScriptedPolicy",
    "evaluation_reply",
    "is_judge_prompt",
    "is_test_prompt",
)

_Message = dict[str, Any]

_API_LINE = re.compile(r"^API_name: (.+)$", re.M)
_MEMORY_LINE = re.compile(r"^Query: (.*) \| Solved: ", re.M)
_MISTAKES = ("bad_json", "unknown_api", "no_input", "wrong_param")
_OBSERVATION = "Observation:"


def _content(message: _Message) -> str:
    return str(message.get("content", ""))


class ScriptedPolicy:
    """The scripted model's decisions: conversation in, reply text out, no I/O and no state."""

    def __init__(self, error_rate: float):
        self.error_rate = error_rate

    def reply(self, messages: list[_Message], seed: int) -> str:
        """The reply to ``messages``; the same conversation and seed always give the same text."""
        evaluation = evaluation_reply(messages, seed)
        if evaluation is not None:
            return evaluation
        last = _content(messages[-1]) if messages else ""
        rng = random.Random(seed)
        if messages and _content(messages[0]).startswith(API_WRITER_MARKER):
            return _api_body(last, rng)
        if TRIAL_JUDGE_MARKER in last:
            return _judge(last, rng)
        if any(m in last for m in (PARAPHRASE_MARKER, PARAPHRASE_AGAIN_MARKER,
                                   STUDY_PARAPHRASE_MARKER, STUDY_PARAPHRASE_AGAIN_MARKER)):
            return _paraphrase(messages, rng)
        api = _api_of(messages)
        if last.rstrip().endswith(QUERY_MARKER):
            return _imagine(api, last, rng)
        if last.strip().startswith(REFLECT_MARKER):
            return _reflect(messages)
        return self._act(api, messages, last, rng)

    def _act(self, api: str, messages: list[_Message], last: str, rng: random.Random) -> str:
        args = _args_for_query(api, messages)
        if last.startswith(_OBSERVATION):
            observation = last.removeprefix(_OBSERVATION).strip()
            if not _looks_failed(observation):
                return (
                    "Thought: I now know the final answer\n"
                    f"Final Answer: Here is what I found for your request: {observation[:200]}"
                )
            thought = "Thought: The last attempt failed; I will call the API again correctly."
        else:
            thought = "Thought: I should call the API to answer this request."
            if rng.random() < self.error_rate:
                return _mistake(api, args, rng)
        return f"{thought}\nAction: {api}\nAction Input: {orjson.dumps(args).decode()}"


# ---------------------------------------------------------------- exploration


def _api_of(messages: list[_Message]) -> str:
    """The API named by the first ``API_name:`` line of the user's messages."""
    for m in messages:
        if m.get("role") == "user":
            found = _API_LINE.search(_content(m))
            if found:
                return found.group(1).strip()
    return ""


def _imagine(api: str, prompt: str, rng: random.Random) -> str:
    entries = entries_for(api)
    seen = set(_MEMORY_LINE.findall(prompt))
    fresh = [e for e in entries if e["query"] not in seen]
    return str(rng.choice(fresh or entries)["query"])


def _args_for_query(api: str, messages: list[_Message]) -> dict[str, Any]:
    """The playbook arguments of the request this trial imagined (the first entry's if none)."""
    query = ""
    for prev, cur in itertools.pairwise(messages):
        if (prev.get("role") == "user" and _content(prev).rstrip().endswith(QUERY_MARKER)
                and cur.get("role") == "assistant"):
            query = _content(cur)
    if api not in playbook():
        return _described_defaults(api, messages)
    entries = entries_for(api)
    for entry in entries:
        if entry["query"] == query:
            return dict(entry["args"])
    return dict(entries[0]["args"])


def _described_defaults(api: str, messages: list[_Message]) -> dict[str, Any]:
    """For an API the playbook does not know (a catalog of one's own): the defaults its
    description gives its required parameters, read from the prompt, the way a model would
    fill in a documented example."""
    if not api:
        return {}
    line = re.compile(rf"^API_name: {re.escape(api)}\nDescription: (\{{.*)$", re.M)
    for m in messages:
        found = line.search(_content(m)) if m.get("role") == "user" else None
        if found is None:
            continue
        try:
            described = orjson.loads(found.group(1))
        except orjson.JSONDecodeError:
            return {}
        params = described.get("required_parameters") if isinstance(described, dict) else None
        return {p["name"]: p["default"] for p in params or ()
                if isinstance(p, dict) and isinstance(p.get("name"), str)
                and p.get("default") not in (None, "")}
    return {}


def _mistake(api: str, args: dict[str, Any], rng: random.Random) -> str:
    kind = rng.choice(_MISTAKES)
    thought = "Thought: I will call the API."
    if kind == "bad_json":
        body = ", ".join(f"{k}: '{v}'" for k, v in args.items())
        return f"{thought}\nAction: {api}\nAction Input: {{{body}"
    if kind == "unknown_api":
        name = api.split("%%")[-1]
        return f"{thought}\nAction: {name}_api\nAction Input: {orjson.dumps(args).decode()}"
    if kind == "no_input":
        return f"{thought}\nAction: {api}"
    wrong = {f"{k}_value": v for k, v in args.items()} or {"query": "help"}
    return f"{thought}\nAction: {api}\nAction Input: {orjson.dumps(wrong).decode()}"


def _reflect(messages: list[_Message]) -> str:
    """Yes only when a Final Answer closed the trial and the last Observation was a success."""
    for m in reversed(messages):
        if m.get("role") == "assistant" and "Final Answer:" in _content(m):
            break
        if m.get("role") == "user" and _content(m).startswith(_OBSERVATION):
            return "No"
    else:
        return "No"
    observations = [_content(m) for m in messages
                    if m.get("role") == "user" and _content(m).startswith(_OBSERVATION)]
    if observations and not _looks_failed(observations[-1].removeprefix(_OBSERVATION)):
        return "Yes"
    return "No"


def _looks_failed(observation: str) -> bool:
    """Whether an observation is an error or one of the engine's format complaints."""
    text = observation.lstrip()[:300].lower()
    return (
        text.startswith('{"error"')
        or '"error":' in text[:40]
        or text.startswith(("if you already", "write ", "use exactly", "name the api",
                            "the action input"))
        or "not valid json" in text
        or "did not answer" in text
        or text.startswith("could not find")
    )


def _api_body(prompt: str, rng: random.Random) -> str:
    """Stand in for an API the tool server cannot simulate: a JSON body built from the call."""
    found = re.search(r"^Call arguments: (.*)$", prompt, re.M)
    try:
        args = orjson.loads(found.group(1)) if found else {}
    except orjson.JSONDecodeError:
        args = {}
    body = {"status": "success", "request": args,
            "data": {"id": rng.randrange(10**6), "score": round(rng.random(), 3)}}
    return orjson.dumps(body).decode()


# ---------------------------------------------------------------- distillation

_JUDGE_YES = (
    ("The answer gives the user what the request asked for.",
     "Everything it says comes from the API's result.",
     "The relevant API was called with fitting arguments."),
    ("The response addresses the request with concrete details.",
     "The details match the execution result.",
     "Calling the API was the right way to get this information."),
)

_REWORDINGS = (
    "Could you help me with this? {q}",
    "I have a question for you: {lq}",
    "{q} Thanks a lot!",
    "Quick one: {lq}",
    "Hello there! {q}",
    "I'd appreciate some help here. {q}",
    "Here is what I need: {lq}",
    "{q} Could you look into it for me?",
    "Would you mind helping me out? {q}",
    "Please take care of this request: {lq}",
)


def _judge(prompt: str, rng: random.Random) -> str:
    """Three numbered verdicts: all Yes for a successful observation, else a No or more."""
    fields = judge_fields(prompt) or {}
    observation = fields.get("observation", "")
    if observation.strip() and not _looks_failed(observation):
        reasons = rng.choice(_JUDGE_YES)
        return "\n".join(f"{i}) Yes. {r}" for i, r in enumerate(reasons, 1))
    # a failed call cannot have informed the answer; the other two points vary with the seed
    lines = ["1) No. The API call failed, so the answer does not give what was asked."]
    lines.append("2) Yes. The answer reports the error it got." if rng.random() < 0.5
                 else "2) No. The answer states things the result does not contain.")
    lines.append("3) Yes. The API was relevant to the request." if rng.random() < 0.5
                 else "3) No. The arguments did not fit what the API expects.")
    return "\n".join(lines)


def _paraphrase(messages: list[_Message], rng: random.Random) -> str:
    """A rewording of the conversation's query, unlike the rewordings already given."""
    query = ""
    for m in messages:
        if m.get("role") == "user":
            query = paraphrase_source(_content(m)) or query
            if query:
                break
    earlier = {_content(m) for m in messages if m.get("role") == "assistant"}
    body = query.strip() or "Please help me with my request."
    lowered = body[0].lower() + body[1:]
    options = [t.format(q=body, lq=lowered) for t in _REWORDINGS]
    fresh = [o for o in options if o not in earlier]
    if fresh:
        return rng.choice(fresh)
    return f"{rng.choice(options)} (version {len(earlier) + 1})"


# ---------------------------------------------------------------- evaluation

WRONG_API_RATE = 0.12  # a test answer calls the runner-up API
WRONG_ARGS_RATE = 0.08  # ... or the right API with another playbook request's arguments
NO_CALL_RATE = 0.03  # ... or answers without calling anything

_QUERY = f"{QUERY_MARKER} "
_DEMO = re.compile(r"^User Query: (.*)\nAction: (.*)\nAction Input: (.*(?:\n(?!---|User Query: "
                   r"|Your turn).*)*)", re.M)
_ARGS_LINE = re.compile(r"^API arguments: (.*)$", re.M)
_WORD = re.compile(r"[a-z0-9]+")
# words that say nothing about which API a request needs
_STOP = frozenset("a an and are can could do for from give i in is it me my of on please show "
                  "tell the to what which with you".split())


def is_test_prompt(text: str) -> bool:
    """Whether ``text`` is an ``ste-async infer`` test prompt."""
    return TEST_PROMPT_MARKER in text and _QUERY in text


def is_judge_prompt(text: str) -> bool:
    """Whether ``text`` is the LLM judge's question (a reference call and a call to check)."""
    return CALL_JUDGE_MARKER in text and len(_ARGS_LINE.findall(text)) >= 2


def evaluation_reply(messages: Sequence[_Message], seed: int) -> str | None:
    """The reply to an evaluation prompt, or None when the conversation is not one."""
    last = _content(messages[-1]) if messages else ""
    if is_judge_prompt(last):
        return _answer_judge(last)
    if is_test_prompt(last):
        return _answer_test(last, random.Random(seed))
    return None


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower())) - _STOP


@functools.cache
def _word_book() -> dict[str, list[tuple[frozenset[str], dict[str, Any]]]]:
    """Each API's playbook requests as word sets, with their arguments."""
    return {api: [(_words(e["query"]), dict(e["args"])) for e in entries]
            for api, entries in playbook().items() if "#" not in api}


def _ranked(query: frozenset[str], offered: Iterable[str]
            ) -> list[tuple[int, str, dict[str, Any]]]:
    """(overlap, api, args of the closest request) per offered API, best first."""
    book, out = _word_book(), []
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
    # the reply runs into the stop sequence; the server cuts it there, as a real one would
    return f"Thought: {thought}\nAction: {api}\nAction Input: {text}\nObservation:"


def _answer_test(text: str, rng: random.Random) -> str:
    tools, _, query = text.rpartition(_QUERY)
    offered = _API_LINE.findall(tools)
    words = _words(query)
    if rng.random() < NO_CALL_RATE:
        return "Thought: I can answer this myself.\nFinal Answer: I am not sure."
    ranked = _ranked(words, offered)
    shown = tools.partition(DEMO_INTRO)[2]  # the sample in the format section must not count
    demos = [(len(words & _words(q)), a.strip(), ai.strip()) for q, a, ai in _DEMO.findall(shown)]
    best_demo = max(demos, key=lambda d: d[0], default=None)
    if best_demo and best_demo[0] and (not ranked or best_demo[0] >= ranked[0][0]):
        return _call(best_demo[1], best_demo[2], "An example above asks for the same thing.")
    if not ranked:
        return "Thought: None of the APIs fits.\nFinal Answer: I cannot help with that."
    _, api, args = ranked[1 if len(ranked) > 1 and rng.random() < WRONG_API_RATE else 0]
    if rng.random() < WRONG_ARGS_RATE:
        args = rng.choice([a for _, a in _word_book()[api]])
    return _call(api, args, "I should call the API that fits this request.")


def _loose_equal(gold: dict[str, Any], pred: dict[str, Any]) -> bool:
    """Every reference argument present with the same text, trimmed and case-folded."""
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
