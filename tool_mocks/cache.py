"""A persistent response cache keyed by a canonical hash of (api, args).

Reads hit an in-process dictionary first, then SQLite; writes go to the dictionary at once
and to SQLite in batches from a worker thread, so the event loop never waits on the disk: the
first request that finds writes pending becomes the flusher and drains them (group commit),
while the others only queue theirs. SQLite runs in WAL mode with ``INSERT OR IGNORE``: several server
processes may share one file, and the first answer stored for a key is the one every process
serves from then on (:meth:`ResponseCache.put_durable` reads it back for backends whose answers
are not deterministic, such as a live upstream or an LLM).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

import anyio
import orjson

__all__ = ("CachedReply", "ResponseCache", "cache_key", "canonical_args")


def canonical_args(args: Any) -> str:
    """Arguments as canonical JSON text: sorted keys, no spaces (never a Python repr)."""
    return orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()


def cache_key(api: str, canonical: str) -> str:
    return hashlib.blake2b(f"{api}\x00{canonical}".encode(), digest_size=16).hexdigest()


class CachedReply(NamedTuple):
    status: int
    body: bytes  # JSON text of the body


_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    api TEXT NOT NULL,
    args TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL
)
"""


class _Db:
    """The SQLite side; every method runs in a worker thread, serialised by a lock."""

    def __init__(self, path: Path):
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)
        self._conn.commit()

    def get(self, key: str) -> CachedReply | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT status, body FROM replies WHERE key = ?", (key,)
            ).fetchone()
        return CachedReply(row[0], bytes(row[1])) if row else None

    def put_many(self, rows: list[tuple[str, str, str, int, bytes]]) -> None:
        with self._lock:
            self._conn.executemany(
                "INSERT OR IGNORE INTO replies (key, api, args, status, body) VALUES (?,?,?,?,?)",
                rows,
            )
            self._conn.commit()

    def put_and_read(self, row: tuple[str, str, str, int, bytes]) -> CachedReply:
        self.put_many([row])
        got = self.get(row[0])
        assert got is not None
        return got

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class ResponseCache:
    """Memory + SQLite cache; an async context manager that owns its writer task."""

    def __init__(self, path: str | Path | None, *, batch: int = 256):
        self._path = Path(path) if path is not None else None
        self._memory: dict[str, CachedReply] = {}
        self._pending: list[tuple[str, str, str, int, bytes]] = []
        self._flushing: anyio.Event | None = None  # set when the running flush ends
        self._batch = batch
        self._db: _Db | None = None
        self._closed = False

    @property
    def persistent(self) -> bool:
        return self._path is not None

    async def __aenter__(self) -> Self:
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await anyio.to_thread.run_sync(_Db, self._path)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Flush pending writes and close; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            if self._flushing is not None:
                await self._flushing.wait()
            await self.flush()
            if self._db is not None:
                await anyio.to_thread.run_sync(self._db.close)
                self._db = None

    async def get(self, key: str) -> CachedReply | None:
        hit = self._memory.get(key)
        if hit is not None or self._db is None:
            return hit
        hit = await anyio.to_thread.run_sync(self._db.get, key)
        if hit is not None:
            self._memory[key] = hit
        return hit

    async def put(self, key: str, api: str, args: str, reply: CachedReply) -> None:
        """Store a deterministic reply; it reaches the disk with the current batch."""
        self._memory[key] = reply
        if self._db is not None:
            self._pending.append((key, api, args, reply.status, reply.body))
            await self.flush()

    async def put_durable(self, key: str, api: str, args: str, reply: CachedReply) -> CachedReply:
        """Store now and return the reply the cache holds for ``key`` (the first one stored)."""
        if self._db is None:
            return self._memory.setdefault(key, reply)
        row = (key, api, args, reply.status, reply.body)
        stored = await anyio.to_thread.run_sync(self._db.put_and_read, row)
        self._memory[key] = stored
        return stored

    async def count(self) -> int:
        if self._db is None:
            return len(self._memory)
        await self.flush()
        return await anyio.to_thread.run_sync(self._db.count)

    async def flush(self) -> None:
        """Write pending rows unless another caller is already doing it."""
        if self._flushing is not None or self._db is None:
            return
        done = self._flushing = anyio.Event()
        try:
            with anyio.CancelScope(shield=True):  # rows taken off the list must be written
                while self._pending:
                    rows = self._pending[: self._batch]
                    del self._pending[: self._batch]
                    await anyio.to_thread.run_sync(self._db.put_many, rows)
        finally:
            self._flushing = None
            done.set()
