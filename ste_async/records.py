"""The episode record: what the store writes, one JSON line per finished episode.

Schema version 1. Every field that depends on timing (latencies, endpoints, attempts) lives in
a :class:`CallStats`, so a replayed run can be compared byte for byte with those left out.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = (
    "SCHEMA_VERSION",
    "CallStats",
    "EpisodeRecord",
    "Step",
    "Trial",
    "decode_record",
    "encode_record",
    "trajectory_bytes",
)

SCHEMA_VERSION = 1


class CallStats(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Cost of one model call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    attempts: int = 1
    finish_reason: str | None = None
    endpoint: str = ""


class Step(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One act round: the model's reply, how it parsed, and what it was answered."""

    raw: str
    kind: Literal["call", "final", "feedback", "llm_error"]
    thought: str = ""
    action: str | None = None
    action_input: str | None = None  # the JSON text as the model wrote it (study parse: rewritten)
    args: dict[str, Any] | None = None  # decoded; None under the study parse when it is no object
    final_answer: str | None = None
    feedback: str | None = None  # parser's reason code
    observation: str | None = None  # None: the step was not answered (last, or final)
    tool_status: int | None = None
    tool_kind: Literal["ok", "api_error", "unavailable"] | None = None
    tool_attempts: int = 0
    tool_latency_s: float = 0.0
    llm: CallStats | None = None


class Trial(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One imagined query and the attempt to serve it."""

    index: int
    query: str
    memory_shown: int  # long-term memory entries in the imagination prompt
    steps: list[Step]
    finished: bool  # ended with a final answer
    reflection: str | None = None  # the raw reply to the reflection question
    solved: bool | None = None  # this project's reading of it
    solved_reference: bool | None = None  # the study's reading ("No" substring means no)
    imagine: CallStats | None = None
    reflect: CallStats | None = None


class EpisodeRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A finished episode."""

    schema: int
    id: str
    api: str
    episode: int
    trials: list[Trial]
    conversations: list[list[dict[str, str]]]  # one with short-term memory, else one a trial
    stopped: str | None = None  # why the episode ended early (a rejected LLM request)
    elapsed_s: float = 0.0
    finished_at: float = 0.0  # Unix time the episode ended (0: not recorded)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(EpisodeRecord)


def encode_record(record: EpisodeRecord) -> bytes:
    return _ENCODER.encode(record)


def decode_record(line: bytes) -> EpisodeRecord:
    return _DECODER.decode(line)


_TIMING_KEYS = frozenset(
    {"latency_s", "endpoint", "attempts", "elapsed_s", "finished_at", "tool_latency_s",
     "tool_attempts"}
)


def _drop_timing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_timing(v) for k, v in value.items() if k not in _TIMING_KEYS}
    if isinstance(value, list):
        return [_drop_timing(v) for v in value]
    return value


def trajectory_bytes(record: EpisodeRecord) -> bytes:
    """The record without timing, retries or endpoints: what a faithful replay reproduces."""
    return _ENCODER.encode(_drop_timing(msgspec.to_builtins(record)))
