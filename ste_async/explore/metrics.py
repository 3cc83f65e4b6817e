"""Counters of a run, the live progress line, and the line that says what a run did (the
per-API table at the end is read from the store: ``ste_async.report``)."""

from __future__ import annotations

import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import NamedTuple, TextIO

import anyio
import msgspec

from ..records import EpisodeRecord

__all__ = ("Live", "Metrics", "Rates", "Tally", "progress_loop")


class Live(msgspec.Struct, frozen=True, kw_only=True):
    """What the clients report right now."""

    llm_calls: int = 0
    completion_tokens: int = 0
    tool_calls: int = 0
    llm_in_flight: int = 0
    tool_in_flight: int = 0
    retries: int = 0
    llm_waiting_s: float | None = None


class Rates(NamedTuple):
    llm_per_s: float
    tokens_per_s: float
    tools_per_s: float


class Tally(msgspec.Struct, kw_only=True):
    """What a run counted, in a form that crosses processes (a worker's to its parent)."""

    new: int = 0
    failed: int = 0
    steps: dict[str, int] = {}
    feedback: dict[str, int] = {}
    tool_kinds: dict[str, int] = {}
    tool_retries: int = 0
    llm_retries: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: list[str] = []


class Metrics:
    """What happened so far; updated by the scheduler, read by the display."""

    def __init__(self, total_episodes: int, already_done: int = 0):
        self.total = total_episodes
        self.done = already_done
        self.resumed = already_done
        self.failed = 0
        self.running = 0
        self.steps: Counter[str] = Counter()
        self.feedback: Counter[str] = Counter()
        self.tool_kinds: Counter[str] = Counter()
        self.tool_retries = 0
        self.llm_retries = 0
        self.llm_calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.errors: list[str] = []
        self.started = time.monotonic()

    def episode_started(self, api: str) -> None:
        self.running += 1

    def episode_failed(self, api: str, why: str) -> None:
        self.running -= 1
        self.failed += 1
        if len(self.errors) < 20:
            self.errors.append(why)

    def episode_finished(self, record: EpisodeRecord) -> None:
        self.running -= 1
        self.done += 1
        for trial in record.trials:
            self.llm_calls += 1 + (trial.reflection is not None)
            for stats in (trial.imagine, trial.reflect):
                if stats is not None:
                    self.prompt_tokens += stats.prompt_tokens
                    self.completion_tokens += stats.completion_tokens
                    self.llm_retries += max(0, stats.attempts - 1)  # 0: from a cassette
            for step in trial.steps:
                self.steps[step.kind] += 1
                if step.llm is not None:
                    self.llm_calls += 1
                    self.prompt_tokens += step.llm.prompt_tokens
                    self.completion_tokens += step.llm.completion_tokens
                    self.llm_retries += max(0, step.llm.attempts - 1)
                if step.kind == "feedback":
                    self.feedback[step.feedback or "?"] += 1
                if step.tool_kind is not None:
                    self.tool_kinds[step.tool_kind] += 1
                    self.tool_retries += max(0, step.tool_attempts - 1)

    def tally(self) -> Tally:
        return Tally(
            new=self.done - self.resumed, failed=self.failed,
            steps=dict(self.steps), feedback=dict(self.feedback),
            tool_kinds=dict(self.tool_kinds), tool_retries=self.tool_retries,
            llm_retries=self.llm_retries, llm_calls=self.llm_calls,
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
            errors=self.errors,
        )

    def add(self, tally: Tally) -> None:
        """Count in another run's tally (one worker's, on disjoint APIs)."""
        self.done += tally.new
        self.failed += tally.failed
        self.steps.update(tally.steps)
        self.feedback.update(tally.feedback)
        self.tool_kinds.update(tally.tool_kinds)
        self.tool_retries += tally.tool_retries
        self.llm_retries += tally.llm_retries
        self.llm_calls += tally.llm_calls
        self.prompt_tokens += tally.prompt_tokens
        self.completion_tokens += tally.completion_tokens
        self.errors.extend(tally.errors[: max(0, 20 - len(self.errors))])

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, live: Live | None = None, rates: Rates | None = None) -> str:
        """The status line: progress from the records, live figures from the clients."""
        live = live or Live()
        t = max(self.elapsed, 1e-9)
        fresh = self.done - self.resumed
        left = self.total - self.done
        eta = f"{left * t / fresh:,.0f}s" if fresh > 0 else "?"
        if rates is None:
            rates = Rates(live.llm_calls / t, live.completion_tokens / t, live.tool_calls / t)
        parts = [
            f"episodes {self.done:,}/{self.total:,}",
            f"running {self.running}",
            f"LLM {rates.llm_per_s:,.1f} req/s",
            f"{rates.tokens_per_s:,.0f} tok/s",
            f"tools {rates.tools_per_s:,.1f} calls/s",
            f"in flight llm {live.llm_in_flight} tools {live.tool_in_flight}",
            f"ETA {eta}",
        ]
        errs = []
        if self.feedback:
            errs.append(f"parse {sum(self.feedback.values())}")
        if self.tool_kinds["api_error"]:
            errs.append(f"api {self.tool_kinds['api_error']}")
        if self.tool_kinds["unavailable"]:
            errs.append(f"unavailable {self.tool_kinds['unavailable']}")
        if live.retries:
            errs.append(f"retries {live.retries}")
        if self.failed:
            errs.append(f"failed {self.failed}")
        if errs:
            parts.append("errors: " + " ".join(errs))
        if live.llm_waiting_s is not None:
            parts.append(f"WAITING for the LLM server ({live.llm_waiting_s:.0f}s)")
        return " | ".join(parts)

    def summary(self) -> str:
        """What this command did: episodes new, resumed and abandoned, calls, retries, time
        (the run's per-API table comes from the store: ``ste_async.report``)."""
        t = max(self.elapsed, 1e-9)
        return (
            f"episodes {self.done - self.resumed:,} new, {self.resumed:,} resumed, "
            f"{self.failed} abandoned | LLM {self.llm_calls:,} calls ({self.llm_calls / t:,.0f}/s)"
            f" | retries: tool {self.tool_retries}, LLM {self.llm_retries} | {t:,.1f}s"
        )


async def progress_loop(
    metrics: Metrics,
    snapshot: Callable[[], Live],
    *,
    stream: TextIO = sys.stderr,
    interval: float = 0.5,
    window: float = 5.0,
) -> None:
    """Redraw the status line until cancelled (a plain line every 10 s when not a tty).

    Rates are measured over the last ``window`` seconds, so they show the present pace.
    """
    tty = stream.isatty()
    every = interval if tty else max(interval, 10.0)
    history: deque[tuple[float, Live]] = deque()
    try:
        while True:
            await anyio.sleep(every)
            now, live = anyio.current_time(), snapshot()
            history.append((now, live))
            while len(history) > 2 and now - history[0][0] > window:
                history.popleft()
            t0, old = history[0]
            span = now - t0
            rates = None
            if span > 0:
                rates = Rates((live.llm_calls - old.llm_calls) / span,
                              (live.completion_tokens - old.completion_tokens) / span,
                              (live.tool_calls - old.tool_calls) / span)
            text = metrics.line(live, rates)
            if tty:
                stream.write("\r\x1b[2K" + text[: _width()])
            else:
                stream.write(text + "\n")
            stream.flush()
    finally:
        if tty:
            stream.write("\r\x1b[2K")
            stream.flush()


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((160, 20)).columns - 1
