"""Append-only JSONL files written by one task, batched, flushed and fsynced off the loop.

Callers queue whole lines (each ending in a newline) for a file named relative to a root
folder; one writer task takes what is queued, writes it from a worker thread and fsyncs every
file it touched before taking more. A line is either entirely on disk or absent; a crash can
leave only a torn last line, which the next writer isolates by starting on a fresh line.

A line may come with an index entry: after the line is on disk, ``<start> <end> <entry>`` is
appended to ``<name>.idx``, giving its byte range. Readers use the index to skip parsing the
file; it is only a cache (not fsynced), so readers check it against the file and scan
whatever it does not cover.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from types import TracebackType

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._resource import Resource

__all__ = ("AppendLog",)

_Item = tuple[str, bytes, bytes | None]  # file name, line, optional index entry


class _Files:
    """Open files by relative name; touched only from the writer's worker thread.

    Each batch goes to each file in one ``write`` system call on an unbuffered descriptor: a
    process killed with SIGKILL finishes the call it is in, so a kill never tears a line (a
    power cut still can, which is why readers also skip torn lines).
    """

    def __init__(self, root: Path, fsync: bool):
        self.root = root
        self.fsync = fsync
        self.open: dict[str, int] = {}
        self.pos: dict[str, int] = {}

    def write(self, batch: list[_Item]) -> None:
        grouped: dict[str, list[tuple[bytes, bytes | None]]] = {}
        for name, line, entry in batch:
            grouped.setdefault(name, []).append((line, entry))
        for name, items in grouped.items():
            fd = self.open.get(name)
            if fd is None:
                fd = self._open(name)
            self._write_all(fd, b"".join(line for line, _ in items))
            if self.fsync:
                os.fsync(fd)
            start = self.pos[name]
            index: list[bytes] = []
            for line, entry in items:
                end = start + len(line)
                if entry is not None:
                    index.append(b"%d %d %s\n" % (start, end, entry))
                start = end
            self.pos[name] = start
            if index:
                idx = name + ".idx"
                self._write_all(self.open.get(idx) or self._open(idx), b"".join(index))

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    def _open(self, name: str) -> int:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(fd).st_size
        if size > 0:
            with path.open("rb") as r:
                r.seek(size - 1)
                if r.read(1) != b"\n":
                    os.write(fd, b"\n")  # isolate a torn line left by a crash
        self.open[name] = fd
        self.pos[name] = os.fstat(fd).st_size
        return fd

    def close(self) -> None:
        for fd in self.open.values():
            os.close(fd)
        self.open.clear()


class AppendLog(Resource):
    """Async context manager owning the writer task; closing flushes everything queued.

    On closing, the queue is closed first, so the writer writes what is left and returns; if
    the writer was cancelled instead (its owner was), what it left queued is written by the
    closer, shielded. Either way every line appended before closing reaches the disk.
    """

    def __init__(self, root: str | Path, *, queue_size: int = 4096, fsync: bool = True):
        self.root = Path(root)
        self._queue_size = queue_size
        self._fsync = fsync
        self._send: MemoryObjectSendStream[_Item] | None = None
        self.written = 0

    async def _open(self, stack: AsyncExitStack) -> None:
        files = _Files(self.root, self._fsync)
        stack.callback(files.close)
        send, receive = anyio.create_memory_object_stream[_Item](self._queue_size)
        stack.callback(receive.close)
        stack.push_async_exit(partial(self._write_leftovers, receive, files))
        tg = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(send.close)  # released first: the writer drains the queue and returns
        tg.start_soon(self._writer, receive, files)
        self._send = send

    async def append(self, name: str, line: bytes, entry: bytes | None = None) -> None:
        """Queue ``line`` for the file ``name`` (and ``entry`` for its index); waits only when
        the writer is far behind."""
        self._require_open()
        assert self._send is not None
        await self._send.send((name, line, entry))

    async def _writer(self, receive: MemoryObjectReceiveStream[_Item], files: _Files) -> None:
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

    async def _write_leftovers(
        self, receive: MemoryObjectReceiveStream[_Item], files: _Files,
        et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None,
    ) -> None:
        """Write what a cancelled writer left queued. After the writer itself failed (the
        disk refused a write), nothing more is tried, so its error is the one reported."""
        if e is not None and not isinstance(e, anyio.get_cancelled_exc_class()):
            return
        rest: list[_Item] = []
        while True:
            try:
                rest.append(receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
        if rest:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(files.write, rest)
            self.written += len(rest)
