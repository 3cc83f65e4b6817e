"""The run directory: resolved config, one append-only JSONL shard per API, the resume index.

Layout::

    RUN/
      run.json              schema version, resolved configuration, the APIs of the run
      episodes/<api>.jsonl  one finished episode per line (see ``records.py``)
      episodes/<api>.jsonl.idx   byte range and resume fields of each line (a cache)
      .lock                 held while a process writes the run

Lines are written whole by :class:`~ste_async._appendlog.AppendLog` (one writer task, batches
fsynced from a worker thread). A crash can leave at most a torn last line; readers skip it and
count it, and the next writer starts on a fresh line, never overwriting it.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import mmap
import os
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Protocol, TypeVar

import msgspec

from ._appendlog import AppendLog
from ._resource import Resource
from .errors import RunBusyError, StoreError
from .ids import shard_filename
from .records import EpisodeRecord, encode_record

__all__ = (
    "ResumeIndex",
    "RunStore",
    "ScanResult",
    "iter_records",
    "iter_views",
    "lock_run",
    "scan_run",
)

log = logging.getLogger("ste_async.store")


class _TrialHead(msgspec.Struct):
    index: int
    query: str
    solved: bool | None = None
    solved_reference: bool | None = None


class _RecordHead(msgspec.Struct):
    """The fields resume needs; msgspec skips the rest of the line unread."""

    id: str
    api: str
    episode: int
    trials: list[_TrialHead]


_HEAD = msgspec.json.Decoder(_RecordHead)
_HEAD_ENCODER = msgspec.json.Encoder()


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


def _indexed(path: Path, size: int, data: mmap.mmap | bytes) -> list[tuple[int, int, bytes]]:
    """The index entries of a shard that agree with the shard; [] when the index is unusable."""
    idx = path.with_name(path.name + ".idx")
    if not idx.exists():
        return []
    entries: list[tuple[int, int, bytes]] = []
    last_end = 0
    for raw in idx.read_bytes().split(b"\n"):
        parts = raw.split(b" ", 2)
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            continue  # a torn or foreign entry: the scan below covers its line anyway
        start, end = int(parts[0]), int(parts[1])
        if end > size:
            break  # the shard was cut shorter than the index says: trust the shard
        if start < last_end or end <= start or data[end - 1] != 0x0A or (
            start and data[start - 1] != 0x0A
        ):
            return []  # the index does not describe this file: scan it whole
        entries.append((start, end, parts[2]))
        last_end = end
    return entries


def _scan_lines(chunk: bytes, heads: dict[str, _RecordHead], counts: list[int]) -> None:
    """Parse the lines of ``chunk``; counts = [lines, corrupt, duplicates]."""
    for line in chunk.splitlines(keepends=True):
        if not line.strip():
            continue
        counts[0] += 1
        if not line.endswith(b"\n"):
            counts[1] += 1  # torn by a crash mid-write
            continue
        try:
            head = _HEAD.decode(line)
        except msgspec.DecodeError:
            counts[1] += 1
            continue
        if head.id in heads:
            counts[2] += 1
            continue
        heads[head.id] = head


def scan_run(run_dir: str | Path) -> ScanResult:
    """Finished episodes by id, and the lines that could not be read.

    Each shard's index gives the finished episodes without parsing the shard; the byte
    ranges the index does not cover (lines written just before a crash, torn lines) are
    parsed, so the result is the same as a full scan.
    """
    heads: dict[str, _RecordHead] = {}
    counts = [0, 0, 0]
    for path in _episode_files(Path(run_dir)):
        size = path.stat().st_size
        if size == 0:
            continue
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            pos = 0
            for start, end, entry in _indexed(path, size, data):
                if start > pos:
                    _scan_lines(data[pos:start], heads, counts)
                try:
                    head = _HEAD.decode(entry)
                except msgspec.DecodeError:
                    _scan_lines(data[start:end], heads, counts)
                else:
                    counts[0] += 1
                    if head.id in heads:
                        counts[2] += 1
                    else:
                        heads[head.id] = head
                pos = end
            if pos < size:
                _scan_lines(data[pos:size], heads, counts)
    lines, corrupt, duplicates = counts
    if corrupt:
        log.warning("skipped %d unreadable line(s) in %s", corrupt, run_dir)
    return ScanResult(heads=heads, lines=lines, corrupt=corrupt, duplicates=duplicates)


class _Identified(Protocol):
    id: str


V = TypeVar("V", bound=_Identified)


@functools.cache
def _view_decoder(view: type[V]) -> msgspec.json.Decoder[V]:
    return msgspec.json.Decoder(view)


def iter_views(run_dir: str | Path, view: type[V]) -> Iterator[V]:
    """Every readable episode record decoded as ``view``, each id once, shard by shard in
    file order. ``view`` is a Struct holding some of the record's fields (under the same
    names and types): msgspec skips the others unbuilt, so a reader that needs less of each
    line (a report) pays less per line."""
    decoder = _view_decoder(view)
    seen: set[str] = set()
    for path in _episode_files(Path(run_dir)):
        with path.open("rb") as f:
            for line in f:
                if not line.endswith(b"\n") or not line.strip():
                    continue
                try:
                    record = decoder.decode(line)
                except msgspec.DecodeError:
                    continue
                if record.id not in seen:
                    seen.add(record.id)
                    yield record


def iter_records(run_dir: str | Path) -> Iterator[EpisodeRecord]:
    """Every readable episode record, each id once, shard by shard in file order."""
    return iter_views(run_dir, EpisodeRecord)


def lock_run(run_dir: Path, name: str = ".lock", *, wait: bool = False) -> int:
    """Take the run directory's lock (held until the returned descriptor is closed), so no
    two processes write one run: an exploration, a distillation, a second of either.
    (The workers of one exploration each take a lock of their own ``name``; their parent
    holds the run's.) ``wait`` blocks until the writer holding it is done."""
    try:
        fd = os.open(run_dir / name, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot lock {run_dir}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunBusyError(f"{run_dir} is being written by another process") from None
    return fd


class RunStore(Resource):
    """Owns a run directory while a run writes it: lock, metadata and the writer task."""

    def __init__(self, run_dir: str | Path, *, queue_size: int = 4096, lock: str = ".lock"):
        self.dir = Path(run_dir)
        self._lock_name = lock
        self._log = AppendLog(self.dir, queue_size=queue_size)

    @property
    def written(self) -> int:
        return self._log.written

    async def _open(self, stack: AsyncExitStack) -> None:
        """Take the lock, then start the writer; closing writes what is queued, then unlocks."""
        try:
            (self.dir / "episodes").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create run directory {self.dir}: {exc.strerror}") from exc
        stack.callback(os.close, lock_run(self.dir, self._lock_name))
        await stack.enter_async_context(self._log)

    async def append(self, record: EpisodeRecord) -> None:
        """Queue one finished episode; waits only when the writer is far behind."""
        self._require_open()
        head = _HEAD_ENCODER.encode(_RecordHead(
            id=record.id, api=record.api, episode=record.episode,
            trials=[_TrialHead(index=t.index, query=t.query, solved=t.solved,
                               solved_reference=t.solved_reference)
                    for t in record.trials]))
        await self._log.append(f"episodes/{shard_filename(record.api)}",
                               encode_record(record) + b"\n", head)

    async def append_line(self, name: str, line: bytes) -> None:
        """Queue a line for another append-only file of the run (a cassette)."""
        self._require_open()
        await self._log.append(name, line)
