"""The run directory: resolved config, one append-only JSONL shard per API, the resume index.

Layout::

    RUN/
      run.json              schema version, resolved configuration, the APIs of the run
      episodes/<api>.jsonl  one finished episode per line (see ``records.py``)
      .lock                 held while a process writes the run

A line is written whole, with its newline, by one writer task that batches records and flushes
and fsyncs each batch from a worker thread, so the event loop never waits on the disk. A crash
can leave at most a torn last line; readers skip it (and count it), and the next writer starts
on a fresh line, never overwriting it.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import anyio
import msgspec
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import StoreError
from .ids import shard_filename
from .records import SCHEMA_VERSION, EpisodeRecord, encode_record

__all__ = ("ResumeIndex", "RunStore", "ScanResult", "iter_records", "scan_run")

log = logging.getLogger("ste_async.store")


class _TrialHead(msgspec.Struct):
    index: int
    query: str
    solved: bool | None = None


class _RecordHead(msgspec.Struct):
    """The fields resume needs; msgspec skips the rest of the line unread."""

    id: str
    api: str
    episode: int
    trials: list[_TrialHead]


_HEAD = msgspec.json.Decoder(_RecordHead)
_FULL = msgspec.json.Decoder(EpisodeRecord)


class ScanResult(msgspec.Struct, kw_only=True):
    """What a scan of the episode shards found."""

    heads: dict[str, _RecordHead]  # by episode id; the first complete line wins
    lines: int
    corrupt: int
    duplicates: int


ResumeIndex = ScanResult


def _episode_files(run_dir: Path) -> list[Path]:
    folder = run_dir / "episodes"
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def scan_run(run_dir: str | Path) -> ScanResult:
    """Read every shard once: finished episodes by id, and the lines that could not be read."""
    heads: dict[str, _RecordHead] = {}
    lines = corrupt = duplicates = 0
    for path in _episode_files(Path(run_dir)):
        with path.open("rb") as f:
            for line in f:
                if not line.strip():
                    continue
                lines += 1
                if not line.endswith(b"\n"):
                    corrupt += 1  # torn by a crash mid-write
                    continue
                try:
                    head = _HEAD.decode(line)
                except msgspec.DecodeError:
                    corrupt += 1
                    continue
                if head.id in heads:
                    duplicates += 1
                    continue
                heads[head.id] = head
    if corrupt:
        log.warning("skipped %d unreadable line(s) in %s", corrupt, run_dir)
    return ScanResult(heads=heads, lines=lines, corrupt=corrupt, duplicates=duplicates)


def iter_records(run_dir: str | Path) -> Iterator[EpisodeRecord]:
    """Every readable episode record, each id once, shard by shard in file order."""
    seen: set[str] = set()
    for path in _episode_files(Path(run_dir)):
        with path.open("rb") as f:
            for line in f:
                if not line.endswith(b"\n") or not line.strip():
                    continue
                try:
                    record = _FULL.decode(line)
                except msgspec.DecodeError:
                    continue
                if record.id not in seen:
                    seen.add(record.id)
                    yield record


class _Files:
    """Open shard files; used only from the writer's worker thread."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.open: dict[str, IO[bytes]] = {}

    def write(self, batch: list[tuple[str, bytes]]) -> None:
        touched: dict[str, IO[bytes]] = {}
        for api, line in batch:
            f = self.open.get(api)
            if f is None:
                f = self._open(api)
            f.write(line)
            touched[api] = f
        for f in touched.values():
            f.flush()
            os.fsync(f.fileno())

    def _open(self, api: str) -> IO[bytes]:
        path = self.folder / shard_filename(api)
        f = path.open("ab")
        if f.tell() > 0:
            with path.open("rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    f.write(b"\n")  # isolate a torn line left by a crash
        self.open[api] = f
        return f

    def close(self) -> None:
        for f in self.open.values():
            f.close()
        self.open.clear()


class RunStore:
    """Owns a run directory while a run writes it: lock, metadata and the writer task."""

    def __init__(self, run_dir: str | Path, *, queue_size: int = 4096):
        self.dir = Path(run_dir)
        self._queue_size = queue_size
        self._send: MemoryObjectSendStream[tuple[str, bytes]] | None = None
        self._receive: MemoryObjectReceiveStream[tuple[str, bytes]] | None = None
        self._tg: TaskGroup | None = None
        self._lock_fd: int | None = None
        self._files: _Files | None = None
        self.written = 0

    async def __aenter__(self) -> Self:
        try:
            (self.dir / "episodes").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create run directory {self.dir}: {exc.strerror}") from None
        fd = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"{self.dir} is being written by another process") from None
        self._lock_fd = fd
        self._files = _Files(self.dir / "episodes")
        send, receive = anyio.create_memory_object_stream[tuple[str, bytes]](self._queue_size)
        self._send, self._receive = send, receive
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._writer, receive)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Write what is queued, then release everything; closing twice is harmless."""
        if self._send is not None:
            send, self._send = self._send, None
            send.close()  # the writer drains the queue and returns
        if self._tg is not None:
            tg, self._tg = self._tg, None
            await tg.__aexit__(None, None, None)
        if self._receive is not None and self._files is not None:
            # cancelled before the writer drained the queue: write the rest here
            rest: list[tuple[str, bytes]] = []
            while True:
                try:
                    rest.append(self._receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    break
            if rest:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._files.write, rest)
                self.written += len(rest)
            self._receive.close()
            self._receive = None
        if self._files is not None:
            self._files.close()
            self._files = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write_meta(self, meta: dict[str, Any]) -> None:
        """Write run.json (small; done once before the run starts)."""
        path = self.dir / "run.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode({"schema": SCHEMA_VERSION, **meta})))
        os.replace(tmp, path)

    def read_meta(self) -> dict[str, Any] | None:
        path = self.dir / "run.json"
        if not path.exists():
            return None
        try:
            return msgspec.json.decode(path.read_bytes())
        except msgspec.DecodeError as exc:
            raise StoreError(f"{path} is corrupt: {exc}") from None

    async def append(self, record: EpisodeRecord) -> None:
        """Queue one finished episode; waits only when the writer is far behind."""
        if self._send is None:
            raise StoreError("the store is closed")
        await self._send.send((record.api, encode_record(record) + b"\n"))

    async def _writer(self, receive: MemoryObjectReceiveStream[tuple[str, bytes]]) -> None:
        assert self._files is not None
        files = self._files
        async for first in receive:
            batch = [first]
            while len(batch) < 1024:
                try:
                    batch.append(receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            # shielded: a batch taken off the queue always reaches the disk
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(files.write, batch)
            self.written += len(batch)
