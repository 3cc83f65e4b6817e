"""Checking LLM servers before a run: reachable, OpenAI-compatible, serving the model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .._http import (
    Reply,
    Session,
    decode_json,
    get_json,
    one_off_session,
    raise_for_status,
    request,
)
from ..errors import (
    ConfigError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    SteError,
    TransientError,
)

__all__ = (
    "check_chat_template",
    "checked_model",
    "context_window",
    "estimate_longest_prompt",
    "resolve_model",
)


async def resolve_model(urls: Sequence[str], model: str, connect_s: float) -> str:
    """The model name to ask for, checked against every server's ``GET /v1/models``.

    ``model="default"`` takes the first model the servers list. A server that cannot be
    reached, or a model it does not serve, is one clear line (a ConfigError).
    """
    offered: list[str] = []
    async with one_off_session(connect_s) as session:
        for url in urls:
            models_url = url.rstrip("/") + "/v1/models"
            try:
                data = await get_json(session, models_url)
            except (RateLimitedError, ServerError, RequestRejectedError) as exc:
                raise ConfigError(
                    f"LLM server {url} answered HTTP {exc.status} to GET {models_url}; is it "
                    "an OpenAI-compatible server (give its base URL, with or without /v1)?"
                ) from exc
            except TransientError as exc:
                raise ConfigError(
                    f"LLM server {url} is unreachable ({type(exc).__name__}); start one "
                    "(for example `vllm serve MODEL --enable-prefix-caching`, or "
                    "`ste-async serve-llm`) or run with --llm mock"
                ) from exc
            if isinstance(data, dict):
                offered += [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]
    if model == "default":
        return offered[0] if offered else model
    if offered and model not in offered:
        raise ConfigError(
            f"model {model!r} is not served at {', '.join(urls)}; it offers: {', '.join(offered)}"
        )
    return model


# The shape of every conversation the engine sends: a system message, then user and assistant
# turns alternating. Each text is a marker to find in the rendered prompt.
_PROBE = (
    ("system", "ste-probe-system-0"),
    ("user", "ste-probe-user-1"),
    ("assistant", "ste-probe-assistant-2"),
    ("user", "ste-probe-user-3"),
)
_UNCHECKABLE = (401, 403, 404, 405, 501)  # no such route, or not for us


async def check_chat_template(urls: Sequence[str], model: str, connect_s: float) -> None:
    """Render a probe conversation with each server's chat template and check that every
    message comes out, in order.

    llama.cpp renders through ``POST /apply-template``, vLLM through ``POST /tokenize`` and
    ``/detokenize``. A template that refuses the conversation (vLLM answers 400 for a model
    without one, or for a system message its template forbids) or that drops a message (the
    system message carries the API description) is a ConfigError naming the server. A server
    with neither route, or that wants credentials for them, is not checked.
    """
    messages = [{"role": role, "content": text} for role, text in _PROBE]
    async with one_off_session(connect_s) as session:
        for url in urls:
            base = url.rstrip("/")
            try:
                prompt = await _render(session, base, model, messages)
            except TransientError:
                continue  # reachability is resolve_model's to report
            if prompt is None:
                continue
            where = [prompt.find(text) for _, text in _PROBE]
            missing = [role for (role, _), at in zip(_PROBE, where, strict=True) if at < 0]
            if missing:
                raise ConfigError(
                    f"the chat template of {model!r} at {url} drops the {missing[0]} message "
                    "of a conversation; serve the model with a template that keeps every "
                    "message (vLLM: --chat-template FILE; llama.cpp: --chat-template NAME)"
                )
            if where != sorted(where):
                raise ConfigError(f"the chat template of {model!r} at {url} reorders the "
                                  "messages of a conversation")


async def _render(session: Session, base: str, model: str,
                  messages: list[dict[str, str]]) -> str | None:
    """The prompt the server's template makes of ``messages``; None if it cannot say."""
    url = f"{base}/apply-template"
    reply = await request(session, "POST", url, json={"messages": messages})
    if reply.status not in _UNCHECKABLE:
        return _prompt_of(_json_or_refusal(reply, url, base, model))
    url = f"{base}/tokenize"
    reply = await request(session, "POST", url, json={
        "model": model, "messages": messages, "add_generation_prompt": True})
    if reply.status in _UNCHECKABLE:
        return None
    tokens = _json_or_refusal(reply, url, base, model).get("tokens")
    if not isinstance(tokens, list) or not tokens:
        return None
    url = f"{base}/detokenize"
    reply = await request(session, "POST", url, json={"model": model, "tokens": tokens})
    if reply.status in _UNCHECKABLE:
        return None
    return _prompt_of(_json_or_refusal(reply, url, base, model))


def _json_or_refusal(reply: Reply, url: str, base: str, model: str) -> dict[str, Any]:
    """The JSON object of a successful reply; a 4xx is the template refusing (a ConfigError),
    a 5xx or a body that is not JSON a transient error."""
    if 400 <= reply.status < 500:
        raise ConfigError(f"the chat template of {model!r} at {base} cannot render a "
                          f"conversation: HTTP {reply.status}: {_error_text(reply.body)}")
    data = decode_json(raise_for_status(reply, url), url)
    return data if isinstance(data, dict) else {}


def _prompt_of(data: dict[str, Any]) -> str | None:
    prompt = data.get("prompt")
    return prompt if isinstance(prompt, str) else None


def _error_text(body: bytes) -> str:
    """The message of an OpenAI-style error body, else the body itself, shortened."""
    try:
        data = orjson.loads(body)
        error = data.get("error", data) if isinstance(data, dict) else data
        text = error.get("message", error) if isinstance(error, dict) else error
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace")
    text = " ".join(str(text).split())
    return text if len(text) <= 300 else text[:297] + "..."


async def checked_model(urls: Sequence[str], model: str, connect_s: float) -> str:
    """:func:`resolve_model`, then :func:`check_chat_template` for the model it names."""
    model = await resolve_model(urls, model, connect_s)
    await check_chat_template(urls, model, connect_s)
    return model


async def context_window(urls: Sequence[str], model: str, connect_s: float) -> int | None:
    """The smallest context, in tokens, that the servers report for ``model``; None if none
    reports one (vLLM lists ``max_model_len`` in /v1/models; llama.cpp's server gives each
    slot's ``n_ctx`` in /props)."""
    found: list[int] = []
    async with one_off_session(connect_s) as session:
        for url in urls:
            base = url.rstrip("/")
            try:
                data = await _json_if_ok(session, base + "/v1/models")
                for m in data.get("data", []) if isinstance(data, dict) else []:
                    if isinstance(m, dict) and m.get("id") == model and m.get("max_model_len"):
                        found.append(int(m["max_model_len"]))
                props = await _json_if_ok(session, base + "/props")
                settings = props.get("default_generation_settings") if isinstance(
                    props, dict) else None
                n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
                if n_ctx:
                    found.append(int(n_ctx))
            except (SteError, ValueError, TypeError):
                continue  # best effort: a server that cannot say is not counted
    return min(found) if found else None


async def _json_if_ok(session: Session, url: str) -> Any:
    """The decoded JSON of a 200 reply; {} for an empty body or any other status (the route
    is optional)."""
    reply = await request(session, "GET", url)
    return decode_json(reply.body, url) if reply.status == 200 and reply.body.strip() else {}


def estimate_longest_prompt(*, description_chars: int, episodes: int, trials: int,
                            max_turn: int, max_tokens: int, observation_chars: int,
                            ltm: bool = True) -> int:
    """A generous estimate, in tokens (4 characters each), of the longest prompt an episode
    can send: the last reflection of the last trial, with the whole conversation before it."""
    instructions = 2_500  # the imagination and act prompts' own text, in characters
    memory = 120 * episodes * trials if ltm else 0  # a line per earlier query
    per_trial = (instructions + max_tokens * 4  # imagine
                 + (max_turn + 1) * (max_tokens * 4 + observation_chars + 40)  # act rounds
                 + 200 + max_tokens * 4)  # reflection
    return (description_chars + memory + trials * per_trial) // 4
