"""A scripted OpenAI-compatible LLM that plays the STE policy well enough to drive every path.

It reads the conversation the engine sends and answers by phase:

- imagination (the last message ends in "User Query:"): a user request from the API's
  playbook (``tool_mocks/data/playbook_*.json``), preferring one the long-term memory shown
  in the prompt does not list yet;
- acting: a ReAct step calling the API with the playbook's arguments for that request; with
  probability ``error_rate`` the first attempt of a trial carries a mistake (bad JSON, an
  unknown API name, no Action Input, a wrong parameter name), so the feedback loop runs; after
  an error Observation it corrects itself, after a good one it gives a Final Answer;
- reflection: "Yes" when the last Observation was a success, "No" otherwise.

Everything is drawn from the request's ``seed``, so the same request gets the same reply.
Latency can be fixed, per generated token, and growing with the requests in flight, the way
a batching server slows down under load.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import random
import re
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import anyio
import msgspec
import orjson
from aiohttp import web

from ste_async import prompts
from ste_async.distill import prompting

from . import _test_policy
from ._serve import serve_app
from .backends import API_WRITER_MARKER

__all__ = ("MockLlmConfig", "ScriptedPolicy", "llm_state", "make_llm_app", "serve_mock_llm")

_JSON = "application/json"
_STATE = web.AppKey("mock_llm", "_MockLlm")


class MockLlmConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Behaviour of the scripted LLM."""

    host: str = "127.0.0.1"
    port: int = 0
    model: str = "ste-mock"
    latency_ms: float = 0.0  # per request
    latency_spread: float = 0.0  # uniform +-fraction of latency_ms, drawn from the request seed
    per_token_ms: float = 0.0  # per generated token
    load_ms: float = 0.0  # extra per request already in flight (a batching server's slowdown)
    error_rate: float = 0.2  # chance that a trial's first act step holds a mistake
    slots: int = 0  # requests served at once (0 = no limit); the rest queue, as in vLLM
    context_window: int = 32768

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be in [0, 1]")
        if min(self.latency_ms, self.per_token_ms, self.load_ms) < 0:
            raise ValueError("latencies must be >= 0")


@functools.cache
def _playbook() -> dict[str, list[dict[str, Any]]]:
    book: dict[str, list[dict[str, Any]]] = {}
    folder = resources.files("tool_mocks").joinpath("data")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("playbook") and entry.name.endswith(".json"):
            book.update(orjson.loads(entry.read_bytes()))
    return book


_API_LINE = re.compile(r"^API_name: (.+)$", re.M)
_MEMORY_LINE = re.compile(r"^Query: (.*) \| Solved: ", re.M)
_MISTAKES = ("bad_json", "unknown_api", "no_input", "wrong_param")


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedPolicy:
    """Pure decision logic: conversation in, reply text out."""

    def __init__(self, error_rate: float):
        self.error_rate = error_rate

    def reply(self, messages: list[dict[str, Any]], seed: int) -> str:
        evaluation = _test_policy.evaluation_reply(messages, seed)  # infer / LLM-judge prompts
        if evaluation is not None:
            return evaluation
        last = str(messages[-1].get("content", "")) if messages else ""
        rng = random.Random(seed)
        if messages and str(messages[0].get("content", "")).startswith(API_WRITER_MARKER):
            return self._api_answer(last, rng)
        # distillation phases first: their prompts are recognised by marker phrases
        if prompting.JUDGE_MARKER in last:
            return self._judge(last, rng)
        if prompting.PARAPHRASE_MARKER in last or prompting.PARAPHRASE_AGAIN_MARKER in last:
            return self._paraphrase(messages, rng)
        api = self._api(messages)
        if last.rstrip().endswith(prompts.QUERY_MARKER):
            return self._imagine(api, last, rng)
        if last.strip() == prompts.REFLECT:
            return self._reflect(messages)
        return self._act(api, messages, last, rng)

    @staticmethod
    def _api_answer(prompt: str, rng: random.Random) -> str:
        """Stand in for an API the tool server cannot simulate: a JSON body built from the call."""
        found = re.search(r"^Call arguments: (.*)$", prompt, re.M)
        try:
            args = orjson.loads(found.group(1)) if found else {}
        except orjson.JSONDecodeError:
            args = {}
        body = {"status": "success", "request": args,
                "data": {"id": rng.randrange(10**6), "score": round(rng.random(), 3)}}
        return orjson.dumps(body).decode()

    @staticmethod
    def _api(messages: list[dict[str, Any]]) -> str:
        for m in messages:
            if m.get("role") == "user":
                found = _API_LINE.search(str(m.get("content", "")))
                if found:
                    return found.group(1).strip()
        return ""

    @staticmethod
    def _entries(api: str) -> list[dict[str, Any]]:
        return _playbook().get(api) or [{"query": f"Please show me what {api} can do.", "args": {}}]

    def _imagine(self, api: str, prompt: str, rng: random.Random) -> str:
        entries = self._entries(api)
        seen = set(_MEMORY_LINE.findall(prompt))
        fresh = [e for e in entries if e["query"] not in seen]
        return str(rng.choice(fresh or entries)["query"])

    def _query_and_args(self, api: str, messages: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        query = ""
        for prev, cur in itertools.pairwise(messages):
            if prev.get("role") == "user" and str(prev.get("content", "")).rstrip().endswith(
                prompts.QUERY_MARKER
            ) and cur.get("role") == "assistant":
                query = str(cur.get("content", ""))
        for entry in self._entries(api):
            if entry["query"] == query:
                return query, dict(entry["args"])
        return query, dict(self._entries(api)[0]["args"])

    def _act(self, api: str, messages: list[dict[str, Any]], last: str, rng: random.Random) -> str:
        _query, args = self._query_and_args(api, messages)
        if last.startswith("Observation:"):
            observation = last.removeprefix("Observation:").strip()
            if not _looks_failed(observation):
                return (
                    "Thought: I now know the final answer\n"
                    f"Final Answer: Here is what I found for your request: {observation[:200]}"
                )
            thought = "Thought: The last attempt failed; I will call the API again correctly."
        else:
            thought = "Thought: I should call the API to answer this request."
            if rng.random() < self.error_rate:
                return self._mistake(api, args, rng)
        return f"{thought}\nAction: {api}\nAction Input: {orjson.dumps(args).decode()}"

    @staticmethod
    def _mistake(api: str, args: dict[str, Any], rng: random.Random) -> str:
        kind = rng.choice(_MISTAKES)
        thought = "Thought: I will call the API."
        if kind == "bad_json":
            body = ", ".join(f"{k}: '{v}'" for k, v in args.items())
            return f"{thought}\nAction: {api}\nAction Input: {{{body}"
        if kind == "unknown_api":
            return f"{thought}\nAction: {api.split('%%')[-1]}_api\nAction Input: {orjson.dumps(args).decode()}"
        if kind == "no_input":
            return f"{thought}\nAction: {api}"
        wrong = {f"{k}_value": v for k, v in args.items()} or {"query": "help"}
        return f"{thought}\nAction: {api}\nAction Input: {orjson.dumps(wrong).decode()}"

    @staticmethod
    def _reflect(messages: list[dict[str, Any]]) -> str:
        for m in reversed(messages):
            if m.get("role") == "assistant" and "Final Answer:" in str(m.get("content", "")):
                break
            if m.get("role") == "user" and str(m.get("content", "")).startswith("Observation:"):
                return "No"
        else:
            return "No"
        observations = [
            str(m.get("content", "")) for m in messages
            if m.get("role") == "user" and str(m.get("content", "")).startswith("Observation:")
        ]
        if observations and not _looks_failed(observations[-1].removeprefix("Observation:")):
            return "Yes"
        return "No"


    # distillation replies, drawn by seed
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

    @staticmethod
    def _judge(prompt: str, rng: random.Random) -> str:
        """Three numbered verdicts: all Yes for a successful observation, else a No or more."""
        fields = prompting.judge_fields(prompt) or {}
        observation = fields.get("observation", "")
        if observation.strip() and not _looks_failed(observation):
            reasons = rng.choice(ScriptedPolicy._JUDGE_YES)
            return "\n".join(f"{i}) Yes. {r}" for i, r in enumerate(reasons, 1))
        # a failed call: the answer cannot be informative; the other two points vary by seed
        lines = ["1) No. The API call failed, so the answer does not give what was asked."]
        lines.append("2) Yes. The answer reports the error it got." if rng.random() < 0.5
                     else "2) No. The answer states things the result does not contain.")
        lines.append("3) Yes. The API was relevant to the request." if rng.random() < 0.5
                     else "3) No. The arguments did not fit what the API expects.")
        return "\n".join(lines)

    @staticmethod
    def _paraphrase(messages: list[dict[str, Any]], rng: random.Random) -> str:
        """A rewording of the conversation's query, unlike the rewordings already given."""
        query = ""
        for m in messages:
            if m.get("role") == "user":
                query = prompting.paraphrase_source(str(m.get("content", ""))) or query
                if query:
                    break
        earlier = {str(m.get("content", "")) for m in messages if m.get("role") == "assistant"}
        body = query.strip() or "Please help me with my request."
        lowered = body[0].lower() + body[1:]
        options = [t.format(q=body, lq=lowered) for t in ScriptedPolicy._REWORDINGS]
        fresh = [o for o in options if o not in earlier]
        if fresh:
            return rng.choice(fresh)
        return f"{rng.choice(options)} (version {len(earlier) + 1})"


def _looks_failed(observation: str) -> bool:
    text = observation.lstrip()[:300].lower()
    return (
        text.startswith('{"error"')
        or '"error":' in text[:40]
        or text.startswith(("if you already", "write ", "use exactly", "name the api", "the action input"))
        or "not valid json" in text
        or "did not answer" in text
        or text.startswith("could not find")
    )


class _MockLlm:
    served = 0  # replies sent by every instance in this process (tests read it)

    def __init__(self, config: MockLlmConfig):
        self.config = config
        self.policy = ScriptedPolicy(config.error_rate)
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.completed = 0
        self.generated_tokens = 0
        # a batching server runs at most `slots` requests; the rest wait in its queue
        self.slots = anyio.Semaphore(config.slots) if config.slots else None
        self.waiting = 0


def _cut_at_stop(text: str, stop: Any) -> str:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    for s in stops:
        if s and s in text:
            text = text[: text.index(s)]
    return text


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": {"message": message}}),
                        content_type=_JSON)


async def _chat(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    try:
        payload = orjson.loads(await request.read())
        messages = payload["messages"]
        seed = int(payload.get("seed") or 0)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return _error(400, "bad request body")
    prompt_tokens = sum(_tokens(str(m.get("content", ""))) for m in messages)
    if prompt_tokens > state.config.context_window:
        return _error(400, f"This model's maximum context length is "
                           f"{state.config.context_window} tokens; the messages hold {prompt_tokens}.")
    state.requests += 1
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        text = _cut_at_stop(state.policy.reply(messages, seed), payload.get("stop"))
        max_tokens = int(payload.get("max_tokens") or 0)
        finish = "stop"
        if max_tokens and _tokens(text) > max_tokens:
            text, finish = text[: max_tokens * 4], "length"
        completion_tokens = _tokens(text)
        c = state.config
        base = c.latency_ms
        if c.latency_spread:
            base *= 1.0 + c.latency_spread * (2.0 * random.Random(seed ^ 0x1A7E).random() - 1.0)
        delay = base + c.per_token_ms * completion_tokens + c.load_ms * (state.in_flight - 1)
        if state.slots is not None:
            state.waiting += 1
            try:
                await state.slots.acquire()
            finally:
                state.waiting -= 1
            try:
                await anyio.sleep(delay / 1000.0)
            finally:
                state.slots.release()
        elif delay > 0:
            await anyio.sleep(delay / 1000.0)
    finally:
        state.in_flight -= 1
    state.generated_tokens += completion_tokens
    state.completed += 1
    _MockLlm.served += 1
    body = {
        "id": f"chatcmpl-{state.requests}",
        "object": "chat.completion",
        "model": state.config.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
    return web.Response(body=orjson.dumps(body), content_type=_JSON)


async def _models(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    return web.Response(
        body=orjson.dumps({"object": "list", "data": [
            {"id": state.config.model, "object": "model",
             "max_model_len": state.config.context_window}]}),
        content_type=_JSON,
    )


def _render_chat(messages: list[dict[str, Any]]) -> str:
    # a ChatML-style template: the preflight checks that every message comes out, in order
    turns = [f"<|im_start|>{m.get('role')}\n{m.get('content')}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


async def _tokenize(request: web.Request) -> web.Response:
    # vLLM's /tokenize for chat messages; the mock's tokens are the prompt's UTF-8 bytes
    try:
        body = orjson.loads(await request.read())
        text = _render_chat(body["messages"]) if "messages" in body else str(body["prompt"])
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return _error(400, "expected messages or prompt")
    tokens = list(text.encode())
    state = request.app[_STATE]
    return web.Response(body=orjson.dumps({
        "count": len(tokens), "max_model_len": state.config.context_window, "tokens": tokens}),
        content_type=_JSON)


async def _detokenize(request: web.Request) -> web.Response:
    try:
        tokens = orjson.loads(await request.read())["tokens"]
        prompt = bytes(tokens).decode("utf-8", "replace")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return _error(400, "expected tokens: a list of byte values")
    return web.Response(body=orjson.dumps({"prompt": prompt}), content_type=_JSON)


async def _metrics(request: web.Request) -> web.Response:
    # the two gauges vLLM exposes that an adaptive client reads
    state = request.app[_STATE]
    text = (
        f'vllm:num_requests_running{{model_name="{state.config.model}"}} '
        f"{state.in_flight - state.waiting}\n"
        f'vllm:num_requests_waiting{{model_name="{state.config.model}"}} {state.waiting}\n'
        f'vllm:request_success_total{{model_name="{state.config.model}"}} {state.completed}\n'
    )
    return web.Response(text=text)


async def _health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type=_JSON)


def make_llm_app(config: MockLlmConfig | None = None) -> web.Application:
    app = web.Application()
    app[_STATE] = _MockLlm(config or MockLlmConfig())
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/health", _health)
    app.router.add_post("/tokenize", _tokenize)
    app.router.add_post("/detokenize", _detokenize)
    return app


def llm_state(app: web.Application) -> _MockLlm:
    return app[_STATE]


@contextlib.asynccontextmanager
async def serve_mock_llm(config: MockLlmConfig | None = None) -> AsyncIterator[str]:
    """Run the scripted LLM in this event loop; yields its base URL."""
    config = config or MockLlmConfig()
    async with serve_app(make_llm_app(config), config.host, config.port) as url:
        yield url
