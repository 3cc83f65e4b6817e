"""The progress display: what it shows on a terminal of 80 and 60 columns, the plain lines a
log gets, ``-q``, each long command driving it, and a clean stop on cancellation."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from io import StringIO
from pathlib import Path

import anyio
import pytest
from rich.console import Console
from served import distill_with, explore_with, infer_with

from ste_async.cli import main
from ste_async.config import ExploreConfig, LlmSettings
from ste_async.distill.runner import DistillConfig
from ste_async.evaluate.infer import InferConfig
from ste_async.explore.metrics import Live, Metrics, progress_sample
from ste_async.progress import ProgressDisplay, ProgressSettings, Sample, show_progress
from ste_async.replay import replay_run
from tool_mocks.llm import MockLlmConfig

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SHOW_CURSOR = "\x1b[?25h"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def terminal(width: int) -> tuple[Console, StringIO]:
    out = StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None), out


def last_frame(written: str) -> list[str]:
    """The lines of the last frame a live display drew (each frame starts by erasing the
    one before, line by line), its control codes taken out."""
    frame = written.rsplit("\x1b[2K", 1)[-1]
    return [line for line in _ANSI.sub("", frame).split("\n") if line.strip()]


class Steady:
    """A run of 750 episodes finishing 12 a second, with 40 LLM calls, 2,000 tokens and 15
    tool calls an episode, and a few errors of every kind."""

    def __init__(self, clock: FakeClock):
        self.clock = clock

    def __call__(self) -> Sample:
        done = int(12 * self.clock.now)
        return Sample(stage="explore", done=done, total=750, unit="episodes", running=32,
                      llm_calls=40 * done, tokens=2_000 * done, tool_calls=15 * done,
                      llm_in_flight=64, tool_in_flight=12,
                      errors={"api": 5, "parse": 3, "unavailable": 1, "retries": 2})


def run_for(display: ProgressDisplay, clock: FakeClock, seconds: int) -> None:
    display.start()
    for t in range(1, seconds + 1):
        clock.now = float(t)
        display.tick()
    display.stop()


def test_on_80_columns_everything_is_shown_within_the_width() -> None:
    clock = FakeClock()
    console, out = terminal(80)
    display = ProgressDisplay(Steady(clock), ProgressSettings(console=console, clock=clock))
    run_for(display, clock, 9)
    frame = last_frame(out.getvalue())
    assert all(console.measure(line).maximum <= 80 for line in frame), frame
    bar_row, rates, flight, errors = frame
    # 108 of 750 after 9 s at 12 a second: 14%, and 642 left take 53.5 s, shown rounded up
    assert bar_row.startswith("explore ━")
    assert bar_row.split()[-5:] == ["108/750", "14%", "0:00:09", "ETA", "0:00:54"]
    assert rates == "LLM 480 req/s · 24k tok/s · tools 180 calls/s"  # 12/s x 40, 2,000, 15
    assert flight == "in flight: 32 episodes · LLM 64 · tools 12"
    assert errors == "errors: api 5 · parse 3 · unavailable 1 · retries 2"
    assert out.getvalue().endswith(SHOW_CURSOR)  # the terminal is left as it was


def test_one_unit_in_flight_is_named_in_the_singular() -> None:
    clock = FakeClock()
    console, out = terminal(80)

    def last_one() -> Sample:
        return Sample(stage="explore", done=2, total=3, unit="episodes", running=1,
                      llm_calls=30, llm_in_flight=1)

    run_for(ProgressDisplay(last_one, ProgressSettings(console=console, clock=clock)), clock, 2)
    flight = next(line for line in last_frame(out.getvalue()) if line.startswith("in flight"))
    assert flight.startswith("in flight: 1 episode · ")


@pytest.mark.parametrize("width", [60, 40])
def test_narrower_terminals_abbreviate_and_drop_the_least_important(width: int) -> None:
    clock = FakeClock()
    console, out = terminal(width)
    run_for(ProgressDisplay(Steady(clock), ProgressSettings(console=console, clock=clock)),
            clock, 9)
    frame = last_frame(out.getvalue())
    assert all(console.measure(line).maximum <= width for line in frame), frame
    text = "\n".join(frame)
    # what matters most stays: how far, how long still, the LLM's pace, the errors
    for kept in ("108/750", "ETA 0:00:54", "LLM 480", "errors: api 5 · parse 3"):
        assert kept in text
    assert "━" in frame[0]  # a bar, however short
    if width == 40:
        assert "0:00:09" not in text and "calls/s" not in text  # elapsed and words go first


def test_a_stalled_run_has_no_eta_and_a_waiting_server_is_shown_first() -> None:
    clock = FakeClock()
    console, out = terminal(80)
    metrics = Metrics(total_episodes=100, already_done=40)  # resumed: 40 done before
    live = Live(llm_calls=7, llm_in_flight=3, retries=4, llm_waiting_s=12.0)
    run_for(ProgressDisplay(lambda: progress_sample(metrics, live),
                            ProgressSettings(console=console, clock=clock)), clock, 3)
    frame = last_frame(out.getvalue())
    assert frame[0].split()[-5:] == ["40/100", "40%", "0:00:03", "ETA", "?"]
    assert frame[1] == "WAITING for the LLM server (12s)"
    assert "errors: retries 4" in frame


def test_a_slow_server_s_few_calls_a_minute_do_not_read_as_none() -> None:
    clock = FakeClock()
    out = StringIO()
    display = ProgressDisplay(  # one LLM call every 20 s; the tools stopped
        lambda: Sample(stage="explore", done=0, total=3, llm_calls=int(clock.now // 20),
                       tool_calls=0),
        ProgressSettings(console=Console(file=out), clock=clock, window_s=5.0))
    run_for(display, clock, 45)
    # nothing in the last 5 s: 2 calls over the 45 s seen, and no tool call at all
    assert display.plain().split(" | ")[3:5] == ["LLM 0.04 req/s", "tools 0.00 calls/s"]


def test_off_a_terminal_a_plain_line_every_interval_and_one_at_the_end() -> None:
    clock = FakeClock()
    out = StringIO()
    settings = ProgressSettings(console=Console(file=out, width=80), clock=clock,
                                plain_every_s=10.0)
    run_for(ProgressDisplay(Steady(clock), settings), clock, 25)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue()  # no control codes in a log
    assert [line.split(" | ")[0] for line in lines] == [
        "explore 120/750 episodes 16%",  # at 10 s
        "explore 240/750 episodes 32%",  # at 20 s
        "explore 300/750 episodes 40%",  # at the end, 25 s
    ]
    assert lines[-1].split(" | ")[1:] == [
        "elapsed 0:00:25", "ETA 0:00:38",  # 450 left at 12 a second
        "LLM 480 req/s", "24k tok/s", "tools 180 calls/s",
        "in flight: 32 episodes, LLM 64, tools 12",
        "errors: api 5, parse 3, unavailable 1, retries 2"]  # never cut: a log has no width


class Phases:
    """A command of two stages: 10 trials judged, then 4 paraphrased."""

    def __init__(self) -> None:
        self.stage, self.done, self.total = "judge", 0, 10

    def __call__(self) -> Sample:
        return Sample(stage=self.stage, done=self.done, total=self.total, unit="trials",
                      errors={"rejected": 1})


@pytest.mark.parametrize("live", [False, True])
def test_a_new_stage_starts_a_new_bar_and_keeps_how_the_last_one_ended(live: bool) -> None:
    clock, phases = FakeClock(), Phases()
    out = StringIO()
    console = Console(file=out, width=80, force_terminal=live, color_system=None)
    display = ProgressDisplay(phases, ProgressSettings(console=console, clock=clock))
    display.start()
    clock.now, phases.done = 2.0, 10
    display.tick()  # what a command does as a stage ends
    clock.now, phases.stage, phases.done, phases.total = 3.0, "paraphrase", 0, 4
    display.tick()
    clock.now, phases.done = 4.0, 4
    display.stop()
    if live:
        rows = last_frame(out.getvalue())
        assert rows[0].startswith("judge ") and rows[0].split()[-5:-3] == ["10/10", "100%"]
        assert rows[1].startswith("paraphrase ") and rows[1].split()[-5:-3] == ["4/4", "100%"]
        assert rows[2] == "errors: rejected 1"
    else:
        assert [line.split(" | ")[0] for line in out.getvalue().splitlines()] == [
            "judge 10/10 trials 100%", "paraphrase 4/4 trials 100%"]


async def test_cancellation_stops_the_display_and_leaves_no_task() -> None:
    console, out = terminal(80)
    ticks = anyio.Event()
    done = 0

    def sample() -> Sample:
        if done:
            ticks.set()  # the redraw task has drawn at least once
        return Sample(stage="infer", done=done, total=10)

    with anyio.CancelScope() as scope:
        async with show_progress(sample, ProgressSettings(console=console, refresh_s=0.001)
                                 ) as display:
            assert display is not None and display.state == "running"
            done = 3
            await ticks.wait()
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught and display.state == "stopped"
    assert asyncio.all_tasks() == {asyncio.current_task()}  # the redraw task is gone
    assert out.getvalue().endswith(SHOW_CURSOR)
    assert last_frame(out.getvalue())[0].split()[-5:-3] == ["3/10", "30%"]


async def test_an_exploration_cancelled_mid_run_leaves_the_terminal_clean(
        tmp_path: Path) -> None:
    drawn = anyio.Event()

    class Screen(StringIO):
        def write(self, text: str) -> int:
            if re.search(r"explore .* [1-9]\d*/4 ", _ANSI.sub("", text)):
                drawn.set()  # a frame with an episode done: the run is under way
            return super().write(text)

    out = Screen()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: explore_with(
                ExploreConfig(apis=("add_date",), episodes=4, trials=2), tmp_path / "run",
                mock=MockLlmConfig(latency_ms=20), handle_signals=False,
                progress=ProgressSettings(console=console, refresh_s=0.001)))
            await drawn.wait()
            scope.cancel()
    assert scope.cancelled_caught
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert out.getvalue().endswith(SHOW_CURSOR)


async def test_quiet_shows_nothing() -> None:
    async with show_progress(lambda: Sample(stage="x", done=0, total=1), None) as display:
        assert display is None
    assert asyncio.all_tasks() == {asyncio.current_task()}


# ---------------------------------------------------------------- the commands drive it

APIS = ("add_date", "search")


def frame_of(console_out: StringIO) -> str:
    return "\n".join(last_frame(console_out.getvalue()))


async def test_explore_and_replay_drive_the_display(tmp_path: Path) -> None:
    console, out = terminal(80)
    settings = ProgressSettings(console=console, refresh_s=0.001)
    run = tmp_path / "run"
    outcome = await explore_with(ExploreConfig(apis=APIS, episodes=3, trials=2), run,
                                 mock=MockLlmConfig(error_rate=0.5), handle_signals=False,
                                 progress=settings)
    frame = frame_of(out)
    assert re.search(r"^explore .*6/6 +100%", frame, re.M), frame
    m = outcome.metrics
    assert re.search(r"^LLM [\d.k]+ req/s · [\d.k]+ tok/s · tools [\d.k]+ calls/s$", frame, re.M)
    kinds = [("api", m.tool_kinds["api_error"]), ("parse", sum(m.feedback.values()))]
    assert any(n for _, n in kinds)  # half the first steps hold a mistake
    assert "errors: " + " · ".join(f"{k} {n}" for k, n in kinds if n) in frame
    assert out.getvalue().endswith(SHOW_CURSOR)

    console, out = terminal(80)
    await replay_run(run, tmp_path / "again", progress=ProgressSettings(console=console))
    frame = frame_of(out)
    assert re.search(r"^replay .*6/6 +100%", frame, re.M), frame
    assert "req/s" not in frame  # offline: no clients, no rates to show


async def test_distill_and_infer_drive_the_display(tmp_path: Path) -> None:
    run = tmp_path / "run"
    await explore_with(ExploreConfig(apis=APIS, episodes=1, trials=2), run,
                       handle_signals=False)
    out = StringIO()
    await distill_with(run, DistillConfig(), progress=ProgressSettings(
        console=Console(file=out)))
    lines = out.getvalue().splitlines()
    assert [line.split(" | ")[0] for line in lines] == [
        "judge 4/4 trials 100%", "paraphrase 4/4 trials 100%"]
    assert "LLM " in lines[-1] and "in flight: LLM 0" in lines[-1]

    test = tmp_path / "tool_test.json"
    test.write_text(json.dumps({"add_date": [
        {"query": f"What is 2024-01-0{i} plus {i} days?", "action": "add_date",
         "action_input": f'{{"date": "2024-01-0{i}", "days": {i}}}'} for i in range(1, 6)]}))
    console, written = terminal(60)
    await infer_with(InferConfig(test=str(test), llm=LlmSettings(concurrency=2)),
                     tmp_path / "preds.json",
                     progress=ProgressSettings(console=console, refresh_s=0.001))
    frame = last_frame(written.getvalue())
    assert re.match(r"infer .*5/5 +100% ", frame[0]), frame
    assert all(console.measure(line).maximum <= 60 for line in frame)


def test_the_commands_report_progress_unless_quiet(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    base = ["--llm", "mock", "--apis", "add_date", "--episodes", "2", "--trials", "1"]
    assert main(["explore", *base, "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^explore 2/2 episodes 100% \| .* \| LLM [\d.k]+ req/s", err, re.M), err
    assert main(["distill", str(run), "--llm", "mock", "-q"]) == 0
    assert "judge" not in capsys.readouterr().err
    assert main(["replay", str(run), "-q"]) == 0
    assert "replay 2/2" not in capsys.readouterr().err
    assert main(["replay", str(run), "--out", str(tmp_path / "again")]) == 0
    assert "replay 2/2 episodes 100%" in capsys.readouterr().err
    assert main(["explore", *base, "--out", str(tmp_path / "quiet"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "explore 2/2" not in err and err.startswith("exploring ")  # the header stays
    test = tmp_path / "tool_test.json"
    test.write_text(json.dumps({"add_date": [
        {"query": "What is 2024-01-01 plus 3 days?", "action": "add_date",
         "action_input": '{"date": "2024-01-01", "days": 3}'}]}))
    infer = ["infer", "--test", str(test), "--llm", "mock", "--out", str(tmp_path / "p.json")]
    assert main([*infer, "--quiet"]) == 0
    assert "infer 1/1" not in capsys.readouterr().err
    assert main(infer) == 0
    assert "infer 1/1 items 100% | " in capsys.readouterr().err


def test_a_run_in_workers_shows_the_workers_summed(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--llm", "mock", "--apis", "add_date,search,forecast_weather",
                 "--episodes", "2", "--trials", "2", "--workers", "2", "--out",
                 str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    (line,) = [x for x in captured.err.splitlines() if x.startswith("explore ")]
    assert line.startswith("explore 6/6 episodes 100% | ")
    # the workers' last reports come after their clients closed: the rates stand
    llm = re.search(r"\| LLM ([\d.k]+) req/s \|", line)
    assert llm is not None and float(llm.group(1).rstrip("k")) > 0, line
    # the errors by kind, summed over the workers, are those of the summary's table
    rows = [row.split()[-7:] for row in captured.out.splitlines()
            if row.startswith(("add_date", "search", "forecast_weather"))]
    api, parse = (sum(int(r[i]) for r in rows) for i in (3, 4))
    kinds = ", ".join(f"{k} {n}" for k, n in (("api", api), ("parse", parse)) if n)
    assert (f" | errors: {kinds}" in line) if kinds else ("errors" not in line), line


def test_on_a_real_terminal_ctrl_c_leaves_it_clean(tmp_path: Path) -> None:
    """The command's own standard error on an 80-column terminal: live frames that fit, the
    interrupt's message printed above the display, the cursor given back, exit 130."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ste_async.cli", "explore", "--llm", "mock",
         "--mock-latency-ms", "20", "--apis", "add_date", "--episodes", "40", "--trials", "1",
         "--out", str(tmp_path / "run")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
        env={**env, "TERM": "xterm-256color"})
    os.close(slave)
    seen, interrupted = "", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's last writer is gone
                break
            if not chunk:
                break
            seen += chunk.decode("utf-8", "replace")
            if not interrupted and re.search(r"explore .* [1-9]\d*/40 ", _ANSI.sub("", seen)):
                process.send_signal(signal.SIGINT)
                interrupted = True
    finally:
        os.close(master)
        process.wait(timeout=30)
    assert process.returncode == 130
    assert seen.index("\x1b[?25l") < seen.rindex(SHOW_CURSOR)  # hidden while live, then shown
    shown = _ANSI.sub("", seen.rsplit("\x1b[2K", 1)[-1])
    assert "interrupted: finishing the episodes in flight" in _ANSI.sub("", seen)
    frame = [line for line in shown.replace("\r", "").split("\n") if line.strip()]
    assert frame[0].startswith("explore ") and len(frame[0]) <= 80, frame
    assert "interrupted: partial results kept" in frame[-1]
