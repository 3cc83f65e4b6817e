"""Clients, store and writer: entered once, used while open, closed once, and closed properly
when their owner is cancelled; cassettes load off the event loop."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from ste_async import cassette as cassette_module
from ste_async._appendlog import AppendLog
from ste_async._resource import Resource, State
from ste_async.cassette import Cassette
from ste_async.config import RetryConfig, Timeouts
from ste_async.errors import LifecycleError, SteError
from ste_async.llm import LlmClient
from ste_async.records import SCHEMA_VERSION, EpisodeRecord
from ste_async.store import RunStore
from ste_async.tools import ToolClient

TIMEOUTS = Timeouts(connect=1, read=1, total=2)
RETRY = RetryConfig(attempts=1)
DEAD = "http://127.0.0.1:9"  # nothing is called in these tests


def record() -> EpisodeRecord:
    return EpisodeRecord(schema=SCHEMA_VERSION, id="A#0", api="A", episode=0, trials=[],
                         conversations=[])


# each: a factory, and one use that needs the resource open
Case = tuple[Callable[[Path], Resource], Callable[[Any], Awaitable[object]]]
CASES: dict[str, Case] = {
    "AppendLog": (lambda d: AppendLog(d, fsync=False),
                  lambda r: r.append("x.jsonl", b"line\n")),
    "RunStore": (lambda d: RunStore(d), lambda r: r.append(record())),
    "LlmClient": (lambda d: LlmClient([DEAD], "m", concurrency="auto", timeouts=TIMEOUTS,
                                      retry=RETRY),
                  lambda r: r.send(b"{}")),
    "ToolClient": (lambda d: ToolClient(DEAD, concurrency=1, timeouts=TIMEOUTS, retry=RETRY),
                   lambda r: r.call("api", {})),
}


@pytest.mark.parametrize("name", CASES)
async def test_a_resource_is_entered_once_and_used_only_while_open(tmp_path: Path,
                                                                   name: str) -> None:
    make, use = CASES[name]
    resource = make(tmp_path)
    assert resource.state is State.UNOPENED
    with pytest.raises(LifecycleError, match=f"{name} is not open yet"):
        await use(resource)
    async with resource:
        assert resource.state is State.OPEN
        with pytest.raises(LifecycleError, match=f"{name} is already open"):
            await resource.__aenter__()
    assert resource.state is State.CLOSED
    with pytest.raises(LifecycleError, match=f"{name} is closed"):
        await use(resource)
    with pytest.raises(LifecycleError, match="cannot be reopened"):
        await resource.__aenter__()
    await resource.aclose()  # closing twice is harmless
    assert resource.state is State.CLOSED


@pytest.mark.parametrize("name", CASES)
async def test_closing_one_never_opened_is_harmless(tmp_path: Path, name: str) -> None:
    resource = CASES[name][0](tmp_path)
    await resource.aclose()
    assert resource.state is State.CLOSED


def test_a_lifecycle_error_is_a_package_error_and_a_runtime_error() -> None:
    assert issubclass(LifecycleError, SteError) and issubclass(LifecycleError, RuntimeError)


async def test_a_failed_open_releases_what_it_took(tmp_path: Path) -> None:
    async with RunStore(tmp_path):
        second = RunStore(tmp_path)
        with pytest.raises(SteError, match="another process"):
            await second.__aenter__()
        assert second.state is State.CLOSED
    async with RunStore(tmp_path) as store:  # the first released the lock on closing
        await store.append(record())


async def test_a_cancelled_owner_still_gets_every_queued_line_on_disk(tmp_path: Path) -> None:
    log = AppendLog(tmp_path, fsync=False)
    with anyio.CancelScope() as scope:
        async with log:
            for n in range(500):
                await log.append("x.jsonl", b"%d\n" % n)
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught and log.state is State.CLOSED
    assert (tmp_path / "x.jsonl").read_bytes() == b"".join(b"%d\n" % n for n in range(500))
    assert log.written == 500


async def test_closing_an_auto_client_on_cancellation_stops_its_reader() -> None:
    llm = LlmClient([DEAD], "m", concurrency="auto", timeouts=TIMEOUTS, retry=RETRY)
    with anyio.fail_after(5), anyio.CancelScope() as scope:
        async with llm:
            session = llm._session
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught and session is not None and session.closed


def write_cassette(run: Path) -> None:
    folder = run / "cassettes"
    folder.mkdir(parents=True)
    (folder / "llm.jsonl").write_bytes(b'{"key":"a","at":"x","text":"one"}\n{"key":"b","at')
    (folder / "llm.w0.jsonl").write_bytes(b'{"key":"a","at":"x","text":"two"}\n'
                                          b'{"key":"c","at":"x","text":"three"}\n')


async def test_a_cassette_loads_in_a_worker_thread(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write_cassette(tmp_path)
    threads: list[int] = []
    read = cassette_module._read_recordings

    def spy(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return read(*args)

    monkeypatch.setattr(cassette_module, "_read_recordings", spy)
    loaded = await Cassette.open(tmp_path, "llm", "replay")
    assert threads and threads[0] != threading.get_ident()  # not the event loop's thread
    assert loaded.lookup("a") == b'{"key":"a","at":"x","text":"one"}\n'  # the run's own first
    assert loaded.lookup("c") is not None and loaded.lookup("b") is None
    assert loaded.corrupt == 1  # the torn last line

    threads.clear()
    recording = await Cassette.open(tmp_path, "llm", "record", part="w1")
    assert not threads and recording.lookup("a") is None  # nothing to read when recording
    assert recording.name == "cassettes/llm.w1.jsonl"


def test_making_a_cassette_reads_nothing(tmp_path: Path) -> None:
    write_cassette(tmp_path)
    assert Cassette("llm", "replay").lookup("a") is None


async def test_a_writer_that_failed_is_reported_and_not_retried_at_close(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ste_async import _appendlog

    calls: list[int] = []

    def refuse(self: Any, batch: list[Any]) -> None:
        calls.append(len(batch))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_appendlog._Files, "write", refuse)
    log = AppendLog(tmp_path, fsync=False)
    with pytest.raises(BaseExceptionGroup) as caught:
        async with log:
            for n in range(10):
                await log.append("x.jsonl", b"%d\n" % n)
            await anyio.sleep_forever()  # the writer's failure cancels this
    assert caught.group_contains(OSError, match="No space left")
    assert len(calls) == 1 and log.state is State.CLOSED
