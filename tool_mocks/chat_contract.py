"""The request side of OpenAI's chat-completions contract, as vLLM's server enforces it.

:func:`parse_chat_request` turns a request body into a :class:`ChatRequest` or raises
:class:`OpenAIError` naming the field and the problem, with the status a real server answers:
400 for a body or a field that is not what the contract says, 404 for a model the server
does not serve. Fields the contract knows are checked for type and range; fields it does not
know are ignored, as vLLM ignores them (it accepts engine-specific extras such as
``guided_grammar``, and llama.cpp's ``grammar``).

Every error is the body OpenAI and vLLM send,
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import orjson

__all__ = ("ROLES", "ChatRequest", "OpenAIError", "message_text", "parse_chat_request")

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_INT64 = 1 << 63
_MAX_N = 128


class OpenAIError(Exception):
    """An error answer of an OpenAI-compatible server: HTTP ``status`` and its JSON body."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None, type: str = "invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type

    def body(self) -> bytes:
        return orjson.dumps({"error": {"message": self.message, "type": self.type,
                                       "param": self.param, "code": self.code}})


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChatRequest:
    """The parts of a checked chat-completion request that the scripted model uses."""

    messages: list[dict[str, Any]]  # as sent, every content made text
    model: str
    seed: int
    n: int
    max_tokens: int | None
    stop: list[str]
    stream: bool
    include_usage: bool


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _wrong_type(field: str, expected: str, value: Any) -> OpenAIError:
    return OpenAIError(400, f"Invalid type for '{field}': expected {expected}, but got "
                            f"{_kind(value)} instead.", param=field, code="invalid_type")


def _bad_value(field: str, why: str) -> OpenAIError:
    return OpenAIError(400, f"Invalid '{field}': {why}", param=field, code="invalid_value")


def _int(payload: dict[str, Any], field: str, low: int, high: int) -> int | None:
    value = payload.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(field, "an integer", value)
    if not low <= value <= high:
        parts = [f"at least {low}"] if low > -_INT64 else []
        parts += [f"at most {high}"] if high < _INT64 - 1 else []
        expected = "of " + " and ".join(parts) if parts else "within the 64-bit integer range"
        raise _bad_value(field, f"expected a value {expected}, but got {value} instead.")
    return value


def _number(payload: dict[str, Any], field: str, low: float, high: float,
            *, open_low: bool = False) -> None:
    value = payload.get(field)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong_type(field, "a number", value)
    if not math.isfinite(value) or value < low or value > high or (open_low and value == low):
        bound = f"greater than {low}" if open_low else f"at least {low}"
        upper = "" if high == math.inf else f" and at most {high}"
        raise _bad_value(field, f"expected a number {bound}{upper}, but got {value} instead.")


def _bool(payload: dict[str, Any], field: str) -> bool:
    value = payload.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _wrong_type(field, "a boolean", value)
    return value


def _of_type(payload: dict[str, Any], field: str, kind: type, expected: str) -> Any:
    value = payload.get(field)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise _wrong_type(field, expected, value)
    return value


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content
                         if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _messages(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise OpenAIError(400, "Missing required parameter: 'messages'.", param="messages",
                          code="missing_required_parameter")
    if not isinstance(value, list):
        raise _wrong_type("messages", "an array of message objects", value)
    if not value:
        raise _bad_value("messages", "empty array. Expected an array with minimum length 1, "
                                     "but got an empty array instead.")
    checked: list[dict[str, Any]] = []
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _wrong_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise OpenAIError(400, f"Missing required parameter: '{where}.role'.",
                              param=f"{where}.role", code="missing_required_parameter")
        if not isinstance(role, str):
            raise _wrong_type(f"{where}.role", "a string", role)
        if role not in ROLES:
            supported = ", ".join(f"'{r}'" for r in ROLES)
            raise _bad_value(f"{where}.role", f"'{role[:50]}'. Supported values are: {supported}.")
        content = message.get("content")
        if content is None:
            if role != "assistant":  # only an assistant turn may hold tool calls instead
                raise OpenAIError(400, f"Missing required parameter: '{where}.content'.",
                                  param=f"{where}.content", code="missing_required_parameter")
        elif isinstance(content, list):
            for j, part in enumerate(content):
                at = f"{where}.content[{j}]"
                if not isinstance(part, dict):
                    raise _wrong_type(at, "an object", part)
                if not isinstance(part.get("type"), str):
                    raise _wrong_type(f"{at}.type", "a string", part.get("type"))
                if part["type"] == "text" and not isinstance(part.get("text"), str):
                    raise _wrong_type(f"{at}.text", "a string", part.get("text"))
            message = {**message, "content": message_text(content)}
        elif not isinstance(content, str):
            raise _wrong_type(f"{where}.content", "a string or an array of content parts",
                              content)
        checked.append(message)
    return checked


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return list(value)
    raise _wrong_type("stop", "a string or an array of strings", value)


def parse_chat_request(raw: bytes, served_model: str) -> ChatRequest:
    """The checked request in ``raw``; :class:`OpenAIError` for anything a real server refuses."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise OpenAIError(400, f"We could not parse the JSON body of your request ({exc}). "
                               "The request body must be a JSON object.") from None
    if not isinstance(payload, dict):
        raise OpenAIError(400, f"The request body must be a JSON object, not {_kind(payload)}.")
    model = _of_type(payload, "model", str, "a string")
    if model and model != served_model:
        raise OpenAIError(404, f"The model `{model[:200]}` does not exist.", param="model",
                          code="model_not_found")
    messages = _messages(payload.get("messages"))
    seed = _int(payload, "seed", -_INT64, _INT64 - 1)
    n = _int(payload, "n", 1, _MAX_N)
    max_tokens = _int(payload, "max_tokens", 1, _INT64 - 1)
    max_completion = _int(payload, "max_completion_tokens", 1, _INT64 - 1)
    _int(payload, "min_tokens", 0, _INT64 - 1)
    _int(payload, "top_k", -1, _INT64 - 1)
    _number(payload, "temperature", 0.0, math.inf)
    _number(payload, "top_p", 0.0, 1.0, open_low=True)
    _number(payload, "presence_penalty", -2.0, 2.0)
    _number(payload, "frequency_penalty", -2.0, 2.0)
    _number(payload, "repetition_penalty", 0.0, math.inf, open_low=True)
    stop = _stop(payload.get("stop"))
    stream = _bool(payload, "stream")
    options = _of_type(payload, "stream_options", dict, "an object")
    if options is not None and not stream:
        raise _bad_value("stream_options", "stream options can only be given when "
                                           "`stream` is true.")
    include_usage = _bool(options or {}, "include_usage")
    _bool(options or {}, "continuous_usage_stats")
    logprobs = _bool(payload, "logprobs")
    if _int(payload, "top_logprobs", 0, 20) is not None and not logprobs:
        raise _bad_value("top_logprobs", "`logprobs` must be true when `top_logprobs` is given.")
    for field in ("ignore_eos", "skip_special_tokens", "echo", "parallel_tool_calls",
                  "add_generation_prompt"):
        _bool(payload, field)
    _of_type(payload, "user", str, "a string")
    _of_type(payload, "logit_bias", dict, "an object")
    _of_type(payload, "tools", list, "an array")
    choice = payload.get("tool_choice")
    if choice is not None and not isinstance(choice, (str, dict)):
        raise _wrong_type("tool_choice", "a string or an object", choice)
    response_format = _of_type(payload, "response_format", dict, "an object")
    if response_format is not None:
        kind = response_format.get("type")
        if kind not in ("text", "json_object", "json_schema"):
            raise _bad_value("response_format.type", f"{str(kind)[:50]!r}. Supported values "
                                                     "are: 'text', 'json_object', 'json_schema'.")
    return ChatRequest(
        messages=messages, model=served_model, seed=seed or 0, n=n or 1,
        max_tokens=max_completion if max_completion is not None else max_tokens,
        stop=stop, stream=stream, include_usage=include_usage,
    )
