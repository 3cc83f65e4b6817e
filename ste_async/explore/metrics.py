"""Counters of a run, what the progress display shows of them, and the line that says what a
run did (the per-API table at the end is read from the store: ``ste_async.report``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping

import msgspec

from ..progress import Sample, rate_text
from ..records import EpisodeRecord

__all__ = ("Live", "Metrics", "Tally", "progress_sample")


class Live(msgspec.Struct, frozen=True, kw_only=True):
    """What the clients report right now."""

    llm_calls: int = 0
    completion_tokens: int = 0
    tool_calls: int = 0
    llm_in_flight: int = 0
    tool_in_flight: int = 0
    retries: int = 0
    llm_waiting_s: float | None = None


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

    def error_counts(self) -> dict[str, int]:
        """The errors met so far, by kind, most telling first (for the progress display)."""
        kinds = {"api": self.tool_kinds["api_error"], "parse": sum(self.feedback.values()),
                 "unavailable": self.tool_kinds["unavailable"], "failed": self.failed}
        return {kind: n for kind, n in kinds.items() if n}

    def summary(self) -> str:
        """What this command did: episodes new, resumed and abandoned, calls, retries, time
        (the run's per-API table comes from the store: ``ste_async.report``)."""
        t = max(self.elapsed, 1e-9)
        return (
            f"episodes {self.done - self.resumed:,} new, {self.resumed:,} resumed, "
            f"{self.failed} abandoned | LLM {self.llm_calls:,} calls "
            f"({rate_text(self.llm_calls / t)}/s)"
            f" | retries: tool {self.tool_retries}, LLM {self.llm_retries} | {t:,.1f}s"
        )


def progress_sample(metrics: Metrics, live: Live | None, *, stage: str = "explore",
                    errors: Mapping[str, int] | None = None) -> Sample:
    """What the progress display shows of an exploration: episodes from the records, the
    rest from the clients (``live``; None when replaying, where there are no clients).
    ``errors`` replaces the metrics' own counts (a run in workers sums theirs)."""
    kinds = dict(metrics.error_counts() if errors is None else errors)
    if live is None:
        return Sample(stage=stage, done=metrics.done, total=metrics.total, unit="episodes",
                      running=metrics.running, errors=kinds)
    if live.retries:
        kinds["retries"] = live.retries
    return Sample(stage=stage, done=metrics.done, total=metrics.total, unit="episodes",
                  running=metrics.running, llm_calls=live.llm_calls,
                  tokens=live.completion_tokens, tool_calls=live.tool_calls,
                  llm_in_flight=live.llm_in_flight, tool_in_flight=live.tool_in_flight,
                  errors=kinds, waiting_s=live.llm_waiting_s)
