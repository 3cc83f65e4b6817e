"""What the report reads of each episode line: the fields of :mod:`ste_async.records` it
counts, under the same names and types. Decoding into these skips the conversations and
the model's prose (most of a line), so a large run is read several times faster."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ..records import CallStats

__all__ = ("RecordView", "StepView", "TrialView")


class StepView(msgspec.Struct, kw_only=True):
    """The parts of a :class:`~ste_async.records.Step` the report counts."""

    kind: Literal["call", "final", "feedback", "llm_error"]
    args: dict[str, Any] | None = None
    feedback: str | None = None
    observation: str | None = None
    tool_kind: Literal["ok", "api_error", "unavailable"] | None = None
    tool_attempts: int = 0
    tool_latency_s: float = 0.0
    llm: CallStats | None = None


class TrialView(msgspec.Struct, kw_only=True):
    """The parts of a :class:`~ste_async.records.Trial` the report counts."""

    query: str
    memory_shown: int
    steps: list[StepView]
    finished: bool
    solved: bool | None = None
    solved_reference: bool | None = None
    imagine: CallStats | None = None
    reflect: CallStats | None = None


class RecordView(msgspec.Struct, kw_only=True):
    """The parts of an :class:`~ste_async.records.EpisodeRecord` the report counts."""

    id: str
    api: str
    trials: list[TrialView]
    stopped: str | None = None  # also the message of an llm_error step, which ends an episode
    elapsed_s: float = 0.0
    finished_at: float = 0.0
