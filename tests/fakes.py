"""Test doubles shared by several test modules: a scripted LLM and an echo tool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ste_async.catalog import ApiSpec, Param
from ste_async.llm import Completion
from ste_async.tools import ToolOutcome

SPEC = ApiSpec(
    name="Demo%%Echo",
    tool="Demo",
    api="Echo",
    description="Echoes a text back.",
    required=(Param(name="text", type="string"),),
)
CALL = 'Thought: call it\nAction: Demo%%Echo\nAction Input: {"text": "hi"}'
FINAL = "Thought: I now know the final answer\nFinal Answer: it said hi"


class ScriptedLlm:
    """Answers from a list of replies and keeps every request it received."""

    def __init__(self, replies: list[str] | Callable[[list[dict[str, str]]], str]):
        self.replies = replies
        self.requests: list[dict[str, Any]] = []

    async def complete(self, messages: list[dict[str, str]], **kw: Any) -> Completion:
        self.requests.append({"messages": [dict(m) for m in messages], **kw})
        if callable(self.replies):
            text = self.replies(messages)
        else:
            text = self.replies[len(self.requests) - 1]
        return Completion(text=text, finish_reason="stop", prompt_tokens=10,
                          completion_tokens=5, latency_s=0.0, attempts=1, endpoint="fake")


class EchoTools:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, api: str, args: dict[str, Any], context: str = "") -> ToolOutcome:
        self.calls.append((api, args))
        if "text" not in args:
            return ToolOutcome(kind="api_error", status=400, body='{"error":"missing text"}',
                               attempts=1, latency_s=0.0)
        return ToolOutcome(kind="ok", status=200, body=f'{{"echo":"{args["text"]}"}}',
                           attempts=1, latency_s=0.0)
