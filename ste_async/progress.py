"""One progress display for every long command (explore, in one process or several; distill;
infer; replay; and any later one, a fine-tuning loss included).

A command gives :class:`ProgressDisplay` a function that says where it stands, a
:class:`Sample`: done of total, cumulative counters (LLM calls, tokens, tool calls), what is in
flight and the errors met, by kind. The display derives the rates over the last seconds and
the time left, and shows them:

- on a terminal, as rich's progress bar with lines of rates, work in flight and errors
  below, fitted to the terminal's width: the least important fields are abbreviated first,
  then dropped, so the ETA and the errors stay in view at 80 columns and less;
- anywhere else (a pipe, a log file, a dumb terminal), as one plain line every
  ``plain_every_s`` seconds and one at the end.

The display is redrawn from the command's event loop (rich's ``auto_refresh=False``), never
by rich's refresh thread: a sample function reads counters that the loop's tasks change (dicts
among them), which only the loop's own thread can do safely, and a thread would gain nothing,
since drawing holds the GIL either way. A frame costs 1.2-1.5 ms of rich's layout (3.5 ms on
a core shared by ten busy processes; a plain sample 0.04 ms), twice a second by default: under
1% of the loop's time. rich is imported only when a display is shown (``_progress_live``). Stopping the display (at the end, on an error, on cancellation or Ctrl-C) draws
the last frame, restores the cursor and gives back ``sys.stderr``.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

import anyio
import msgspec

if TYPE_CHECKING:  # rich is loaded when a display is shown, not by a quiet command or a worker
    from rich.console import Console
    from rich.progress import TaskID

    from ._progress_live import Board

__all__ = (
    "LlmCounters",
    "ProgressDisplay",
    "ProgressSettings",
    "Sample",
    "llm_sample",
    "rate_text",
    "show_progress",
)

_SEP = " · "


class Sample(msgspec.Struct, frozen=True, kw_only=True):
    """Where a command stands now. Counters are cumulative; the display makes rates of them.
    A field left None does not apply to the command and is not shown."""

    stage: str  # what is being done ("explore", "judge", ...); a new stage starts a new bar
    done: int
    total: int
    unit: str = "items"
    running: int | None = None  # units in flight (episodes, items)
    llm_calls: int | None = None
    tokens: int | None = None  # completion tokens
    tool_calls: int | None = None
    llm_in_flight: int | None = None
    tool_in_flight: int | None = None
    errors: dict[str, int] = {}  # by kind, most important first
    waiting_s: float | None = None  # how long requests have been waiting for the LLM server
    values: dict[str, float] = {}  # figures shown as they are (a fine-tuning loss)


@dataclass(frozen=True, kw_only=True)
class ProgressSettings:
    """How progress is shown; ``None`` in their place means quiet."""

    console: Console | None = None  # None: standard error, a live display if it is a terminal
    refresh_s: float = 0.5  # between two frames (and two samples)
    plain_every_s: float = 10.0  # between two plain lines, when not on a terminal
    window_s: float = 5.0  # the rates are measured over the last this many seconds
    eta_window_s: float = 60.0  # the ETA follows the pace of the last this many seconds, and
    # so do the rates of counters that did not move in the last ``window_s``
    clock: Callable[[], float] = field(default=time.monotonic)


class LlmCounters(Protocol):
    """What an LLM client counts (``LlmClient`` does), as the display reads it."""

    @property
    def calls(self) -> int: ...

    @property
    def completion_tokens(self) -> int: ...

    @property
    def in_flight(self) -> int: ...

    @property
    def retries(self) -> Mapping[str, int]: ...

    @property
    def waiting_since(self) -> float | None: ...


def llm_sample(client: LlmCounters, *, stage: str, done: int, total: int, unit: str = "items",
               errors: Mapping[str, int] | None = None) -> Sample:
    """A sample of a command whose work is LLM requests (distill, infer): its own counts and
    the client's counters (retries count as an error kind)."""
    kinds = {k: v for k, v in (errors or {}).items() if v}
    retries = sum(client.retries.values())
    if retries:
        kinds["retries"] = retries
    since = client.waiting_since
    return Sample(stage=stage, done=done, total=total, unit=unit, llm_calls=client.calls,
                  tokens=client.completion_tokens, llm_in_flight=client.in_flight,
                  errors=kinds, waiting_s=None if since is None else time.monotonic() - since)


# ---------------------------------------------------------------- text of the fields


class _Field(NamedTuple):
    full: str
    short: str | None  # an abbreviation, or None
    rank: int  # 0 is the most important


def _fit(fields: Sequence[_Field], width: int, prefix: str = "") -> str:
    """The fields joined on one line of at most ``width`` cells: the least important are
    abbreviated first, then dropped. Empty when not even one field fits."""
    from rich.cells import cell_len

    texts = {i: f.full for i, f in enumerate(fields)}
    least_first = sorted(range(len(fields)), key=lambda i: (-fields[i].rank, -i))

    def size() -> int:
        return cell_len(prefix + _SEP.join(texts[i] for i in sorted(texts)))

    for i in least_first:
        if size() <= width:
            break
        short = fields[i].short
        if short is not None:
            texts[i] = short
    for i in least_first:
        if size() <= width:
            break
        del texts[i]
    return prefix + _SEP.join(texts[i] for i in sorted(texts)) if texts else ""


def _clock_text(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}:{s // 60 % 60:02}:{s % 60:02}"


def rate_text(per_s: float) -> str:
    """A rate in at most four characters that keeps what matters: 0.34, 56.0, 637, 1.2k, 12k."""
    if per_s < 0.995:
        return f"{per_s:.2f}"
    if per_s >= 9_999.5:
        return f"{per_s / 1000:,.0f}k"
    if per_s >= 999.5:
        return f"{per_s / 1000:.1f}k"
    if per_s >= 99.95:
        return f"{per_s:.0f}"
    return f"{per_s:.1f}"


class _Rates(NamedTuple):
    llm: float | None
    tokens: float | None
    tools: float | None


class _View(NamedTuple):
    """One moment, as text: the cells of the bar's row and the fields of the lines below."""

    title: str
    fraction: str
    unit: str
    percent: str
    elapsed: str
    eta: str
    rates: list[_Field]
    flight: list[_Field]
    errors: list[_Field]
    error_total: int
    waiting: _Field | None

    def plain(self) -> str:
        """The whole view on one line, for a log."""
        parts = [f"{self.title} {self.fraction} {self.unit} {self.percent}",
                 f"elapsed {self.elapsed}", self.eta]
        parts += [f.full for f in self.rates]
        if self.flight:
            parts.append("in flight: " + ", ".join(f.full for f in self.flight))
        if self.errors:
            parts.append("errors: " + ", ".join(f.full for f in self.errors))
        if self.waiting is not None:
            parts.append(self.waiting.full)
        return " | ".join(parts)

    def lines(self, width: int) -> list[tuple[str, str]]:
        """The lines under the bar, each fitted to ``width``, with their style."""
        out = []
        if self.waiting is not None:
            out.append((_fit([self.waiting], width), "bold yellow"))
        for fields, prefix, style in ((self.rates, "", ""), (self.flight, "in flight: ", ""),
                                      (self.errors, "errors: ", "red")):
            text = _fit(fields, width, prefix) if fields else ""
            if not text and fields and fields is self.errors:  # too narrow for any kind
                text = _fit([_Field(f"errors {self.error_total:,}", None, 0)], width)
            if text:
                out.append((text, style))
        return out


# ---------------------------------------------------------------- the display


class _Stage:
    def __init__(self, name: str, now: float, done: int, task: TaskID | None):
        self.name = name
        self.started = now
        self.start_done = done
        self.paces: deque[tuple[float, int]] = deque([(now, done)])
        self.task = task


class ProgressDisplay:
    """Progress of one command, on a terminal or as plain lines; see the module's docstring.

    ``start``, ``tick`` and ``stop`` are plain calls (tests drive them with a fake clock);
    :func:`show_progress` runs them around a block of work.
    """

    def __init__(self, sample: Callable[[], Sample], settings: ProgressSettings | None = None):
        self.settings = settings or ProgressSettings()
        self._sample = sample
        self._clock = self.settings.clock
        self.console = self.settings.console or _stderr()
        self.live = self.console.is_terminal and not self.console.is_dumb_terminal
        self.state: Literal["new", "running", "stopped"] = "new"
        self._board: Board | None = None
        self._stage: _Stage | None = None
        self._history: deque[tuple[float, Sample]] = deque()
        self._view: _View | None = None
        self._last_plain = 0.0

    # -- lifecycle

    def start(self) -> None:
        """Take the first sample and show the display (idempotent)."""
        if self.state != "new":
            return
        self.state = "running"
        now = self._clock()
        if self.live:
            from ._progress_live import Board

            # stderr goes above the display while it runs, unless the console is not stderr's
            self._board = Board(self.console, self._clock,
                                redirect=self.settings.console is None, lines=self._lines)
        self._last_plain = now
        self._update(now, self._sample())
        if self._board is not None:
            self._board.start()

    def tick(self) -> None:
        """Sample now; redraw the terminal, or write a plain line when one is due."""
        if self.state != "running":
            return
        now = self._clock()
        self._update(now, self._sample())
        if self._board is not None:
            self._board.refresh()
        elif now - self._last_plain >= self.settings.plain_every_s:
            self._write_plain(now)

    def stop(self) -> None:
        """Show the last state and leave the terminal as it was (idempotent)."""
        if self.state != "running":
            self.state = "stopped"
            return
        self.state = "stopped"
        try:
            self._update(self._clock(), self._sample())
            if self._board is None:
                self._write_plain(self._clock())
        finally:
            if self._board is not None:
                self._board.stop()

    # -- what is shown

    def plain(self) -> str:
        """The present state as one plain line (what a log gets)."""
        return self._view.plain() if self._view is not None else ""

    def _lines(self, width: int) -> list[tuple[str, str]]:
        return self._view.lines(width) if self._view is not None else []

    def _write_plain(self, now: float) -> None:
        self._last_plain = now
        file = self.console.file
        file.write(self.plain() + "\n")
        file.flush()

    def _update(self, now: float, sample: Sample) -> None:
        stage = self._stage
        if stage is None or stage.name != sample.stage:
            if stage is not None and self._board is None:
                self._write_plain(now)  # the stage that ended, as it ended
            task = None
            if self._board is not None:
                task = self._board.add_task(sample.stage, total=sample.total,
                                            completed=sample.done)
            stage = self._stage = _Stage(sample.stage, now, sample.done, task)
            self._history.clear()
        self._history.append((now, sample))
        while len(self._history) > 2 and now - self._history[1][0] >= self.settings.eta_window_s:
            self._history.popleft()
        stage.paces.append((now, sample.done))
        while len(stage.paces) > 2 and now - stage.paces[1][0] >= self.settings.eta_window_s:
            stage.paces.popleft()
        self._view = view = self._make_view(now, sample, stage)
        if self._board is not None and stage.task is not None:
            # cells as wide as they will get, so the bar keeps its length as the figures grow
            widest = f"{sample.total:,}"
            self._board.update(stage.task, total=max(sample.total, 1),
                               completed=sample.done if sample.total else 1, title=view.title,
                               count=view.fraction.rjust(2 * len(widest) + 1),
                               percent=view.percent.rjust(4), elapsed=view.elapsed,
                               eta=view.eta.ljust(len("ETA 0:00:00")))

    def _rates(self, now: float, sample: Sample) -> _Rates:
        """Rates over the last ``window_s``; over the longer history (up to ``eta_window_s``)
        for a counter that did not move in that window, so a slow server's few calls a
        minute do not read as none at all."""
        recent = self._history[0]
        for entry in self._history:
            if now - entry[0] < self.settings.window_s:
                break
            recent = entry
        spans = (recent, self._history[0])

        def per_s(new: int | None, old: Callable[[Sample], int | None]) -> float | None:
            if new is None:
                return None
            for then, past in spans:
                was = old(past) or 0
                if new > was and now > then:
                    return (new - was) / (now - then)
            return 0.0

        return _Rates(per_s(sample.llm_calls, lambda s: s.llm_calls),
                      per_s(sample.tokens, lambda s: s.tokens),
                      per_s(sample.tool_calls, lambda s: s.tool_calls))

    def _eta(self, now: float, sample: Sample, stage: _Stage) -> float | None:
        """Seconds left at the pace of the last ``eta_window_s`` (of the whole stage when
        nothing finished in that window); None while there is no pace to go by."""
        left = sample.total - sample.done
        if left <= 0:
            return 0.0
        then, done_then = stage.paces[0]
        if sample.done > done_then and now > then:
            return left * (now - then) / (sample.done - done_then)
        if sample.done > stage.start_done and now > stage.started:
            return left * (now - stage.started) / (sample.done - stage.start_done)
        return None

    def _make_view(self, now: float, sample: Sample, stage: _Stage) -> _View:
        rates = self._rates(now, sample)
        eta = self._eta(now, sample, stage)
        total = sample.total
        percent = 100 if total <= 0 else min(100, 100 * sample.done // total)
        fields = [_Field(f"{name} {value:.4g}", None, 0) for name, value in sample.values.items()]
        if rates.llm is not None:
            fields.append(_Field(f"LLM {rate_text(rates.llm)} req/s", f"LLM {rate_text(rates.llm)}/s", 1))
        if rates.tokens is not None:
            fields.append(_Field(f"{rate_text(rates.tokens)} tok/s", None, 2))
        if rates.tools is not None:
            fields.append(_Field(f"tools {rate_text(rates.tools)} calls/s",
                                 f"tools {rate_text(rates.tools)}/s", 3))
        flight = []
        if sample.running is not None:
            unit = sample.unit.removesuffix("s") if sample.running == 1 else sample.unit
            flight.append(_Field(f"{sample.running:,} {unit}", f"{sample.running:,}", 0))
        if sample.llm_in_flight is not None:
            flight.append(_Field(f"LLM {sample.llm_in_flight:,}", None, 1))
        if sample.tool_in_flight is not None:
            flight.append(_Field(f"tools {sample.tool_in_flight:,}", None, 2))
        errors = [_Field(f"{kind} {n:,}", None, rank)
                  for rank, (kind, n) in enumerate(sample.errors.items()) if n]
        waiting = None
        if sample.waiting_s is not None:
            waiting = _Field(f"WAITING for the LLM server ({sample.waiting_s:.0f}s)",
                             f"WAITING for LLM {sample.waiting_s:.0f}s", 0)
        return _View(
            title=sample.stage, fraction=f"{sample.done:,}/{total:,}", unit=sample.unit,
            percent=f"{percent}%", elapsed=_clock_text(now - stage.started),
            eta="ETA ?" if eta is None else f"ETA {_clock_text(math.ceil(eta))}",
            rates=fields, flight=flight, errors=errors,
            error_total=sum(sample.errors.values()), waiting=waiting)


def _stderr() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr)


@contextlib.asynccontextmanager
async def show_progress(sample: Callable[[], Sample], settings: ProgressSettings | None
                        ) -> AsyncIterator[ProgressDisplay | None]:
    """Show progress while the block runs (nothing when ``settings`` is None). The display is
    redrawn by a task of its own, in a task group of its own; it is stopped however the block
    ends, and shows the state of the end."""
    if settings is None:
        yield None
        return
    display = ProgressDisplay(sample, settings)
    display.start()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_redraw, display)
            try:
                yield display
            finally:
                tg.cancel_scope.cancel()
    finally:
        display.stop()


async def _redraw(display: ProgressDisplay) -> None:
    while True:
        await anyio.sleep(display.settings.refresh_s)
        display.tick()
