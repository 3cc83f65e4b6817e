"""A run directory as the viewer reads it: episodes located through the shard indexes, read
one by one by byte offset, and filtered a page at a time.

Opening a run reads only the ``.idx`` files (byte ranges and heads: id, API, queries, solved
labels), never the shards' lines, so a run of 100,000 episodes opens in about a tenth of a
second. An episode is read with one ``pread`` of its byte range. The index is a cache the
writer does not fsync, so it is trusted only as far as it agrees with the shard: a shard
shorter than its index cuts the index there, lines the index does not cover (a run still
being written, a crash between a line and its entry) are found by their newlines, and a line
read back that does not sit between two newlines makes that shard's index be dropped and its
lines found by scanning. A torn last line (no newline yet) is never shown.

Filters on the head (API, our solved reading, text in the queries) are exact over the whole
run. Filters that need the whole record (the study's solved reading, error kinds) read lines
from the current position on, within a time budget per request; the page then says how far
it got and where the next request goes on. What such a scan learns is kept, so a second pass
is free.
"""

from __future__ import annotations

import bisect
import operator
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

import msgspec

from ..ids import shard_filename
from ..records import EpisodeRecord
from ..session import RunMeta, load_run_meta

__all__ = (
    "ERROR_KINDS",
    "EpisodeHead",
    "Filters",
    "Page",
    "RunIndex",
    "ShardStats",
    "TrialHead",
)

T = TypeVar("T")
ErrorKind = Literal["api_error", "feedback", "unavailable", "llm_error"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("api_error", "feedback", "unavailable", "llm_error")


class TrialHead(msgspec.Struct):
    """What the index keeps of a trial."""

    index: int
    query: str
    solved: bool | None = None


class EpisodeHead(msgspec.Struct):
    """What the index keeps of an episode (the writer's index entry)."""

    id: str
    api: str
    episode: int
    trials: list[TrialHead]


class _FacetStep(msgspec.Struct):
    kind: str
    tool_kind: str | None = None


class _FacetTrial(msgspec.Struct):
    steps: list[_FacetStep]
    solved_reference: bool | None = None


class _FacetRecord(msgspec.Struct):
    trials: list[_FacetTrial]
    stopped: str | None = None


class _Facets(msgspec.Struct, frozen=True):
    errors: frozenset[str]
    solved_study: bool  # at least one trial solved by the study's reading


_HEAD = msgspec.json.Decoder(EpisodeHead)
_FACETS = msgspec.json.Decoder(_FacetRecord)
_RECORD = msgspec.json.Decoder(EpisodeRecord)


def _facets(line: bytes) -> _Facets:
    record = _FACETS.decode(line)
    errors: set[str] = set()
    for trial in record.trials:
        for step in trial.steps:
            if step.kind in ("feedback", "llm_error"):
                errors.add(step.kind)
            if step.tool_kind in ("api_error", "unavailable"):
                errors.add(step.tool_kind)
    if record.stopped:
        errors.add("llm_error")
    return _Facets(errors=frozenset(errors),
                   solved_study=any(t.solved_reference for t in record.trials))


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    """What the episode list shows. Empty strings mean "any"."""

    api: str = ""
    solved: Literal["", "yes", "no"] = ""  # ours: at least one trial judged solved, or none
    solved_study: Literal["", "yes", "no"] = ""  # the same by the study's reading
    error: Literal["", "api_error", "feedback", "unavailable", "llm_error", "none"] = ""
    text: str = ""  # case-insensitive, in any of the episode's queries

    @property
    def needs_records(self) -> bool:
        """Whether the filter reads whole lines rather than the index."""
        return bool(self.solved_study or self.error)


class Page(msgspec.Struct, kw_only=True):
    """One page of the episode list."""

    items: list[EpisodeHead]
    start: int  # the position this page began at, in the run's episode order
    next: int | None  # where the next page begins; None at the end
    total: int  # episodes in the list's scope: the run, or the API of the filter
    matching: int | None  # episodes that match, when known without reading records
    scanned_to: int  # the position the scan reached (records read up to here)
    stopped_early: bool  # the time budget ran out before the page was full


class ShardStats(msgspec.Struct, kw_only=True):
    """Counts of one API's shard, from its index alone."""

    api: str
    episodes: int
    trials: int
    solved: int  # trials solved by our reading
    unjudged: int  # trials without a reading (no reflection)
    torn: int  # a last line still without its newline


class _Shard:
    """One API's shard: where its lines are, and what is known of them so far."""

    __slots__ = ("_facets", "_heads", "_ids", "_index_counts", "_pending", "_stats", "api", "ends", "entries",
                 "path", "stamp", "starts", "torn")

    def __init__(self, path: Path, api: str | None):
        self.path = path
        self.api = api or ""
        self.stamp: tuple[int, int] = (-1, -1)
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.entries: list[bytes | None] = []
        self.torn = 0
        self._heads: list[EpisodeHead | None] | None = None
        self._ids: dict[str, int] | None = None
        self._facets: dict[int, _Facets] = {}  # by line start: a written line never changes
        self._stats: ShardStats | None = None
        self._pending = False
        self._index_counts: tuple[int, int, int] | None = None

    def __len__(self) -> int:
        self.ensure()
        return len(self.starts)

    # -- loading ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Note whether the shard or its index changed size; the line table is read again
        when it is next needed (so a page about one API reads one index)."""
        idx = self.path.with_name(self.path.name + ".idx")
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        try:
            idx_size = idx.stat().st_size
        except FileNotFoundError:
            idx_size = 0
        if (size, idx_size) != self.stamp:
            self.stamp = (size, idx_size)
            self._pending = True

    def ensure(self) -> None:
        """Read the line table if the shard changed since it was last read."""
        if self._pending:
            self._pending = False
            self._load(self.stamp[0], self.path.with_name(self.path.name + ".idx"),
                       trust_index=True)

    def _load(self, size: int, idx: Path, *, trust_index: bool) -> None:
        starts: list[int] = []
        ends: list[int] = []
        entries: list[bytes | None] = []
        counts = None
        if trust_index and size:
            starts, ends, entries, counts = _read_index(idx, size)
        self.torn = 0
        pos = ends[-1] if ends else 0
        if ends and not self._sits_on_lines(starts[-1], ends[-1]):
            starts, ends, entries, pos = [], [], [], 0  # the index is not this shard's
            counts = None
        self._index_counts = counts
        if pos < size:
            self._find_lines(pos, size, starts, ends, entries)
        self.starts, self.ends, self.entries = starts, ends, entries
        self._heads = None
        self._ids = None
        self._stats = None

    def _sits_on_lines(self, start: int, end: int) -> bool:
        with self.path.open("rb") as f:
            before = os.pread(f.fileno(), 1, start - 1) if start else b"\n"
            last = os.pread(f.fileno(), 1, end - 1)
        return before == b"\n" and last == b"\n"

    def _find_lines(self, pos: int, size: int, starts: list[int], ends: list[int],
                    entries: list[bytes | None]) -> None:
        """Lines the index does not cover: found by their newlines, a block at a time."""
        with self.path.open("rb") as f:
            f.seek(pos)
            carry = b""
            line_start = pos
            while pos < size:
                block = f.read(min(1 << 20, size - pos))
                if not block:
                    break
                pos += len(block)
                data = carry + block
                cut = 0
                while (nl := data.find(b"\n", cut)) >= 0:
                    if data[cut:nl].strip():
                        starts.append(line_start)
                        ends.append(line_start + nl - cut + 1)
                        entries.append(None)
                    line_start += nl - cut + 1
                    cut = nl + 1
                carry = data[cut:]
            if carry.strip():
                self.torn = 1

    # -- reading ------------------------------------------------------------------------

    def read_line(self, i: int) -> bytes:
        """Line ``i`` of the shard, read by its byte range."""
        self.ensure()
        start, end = self.starts[i], self.ends[i]
        with self.path.open("rb") as f:
            data = os.pread(f.fileno(), end - start + (1 if start else 0),
                            start - 1 if start else 0)
        if start:
            ok = data[:1] == b"\n"
            data = data[1:]
        else:
            ok = True
        if not ok or not data.endswith(b"\n") or len(data) != end - start:
            # the index described another file (copied, truncated and rewritten): find the
            # lines anew, and read the line again from there
            raise _StaleIndex(self)
        return data

    def heads(self) -> list[EpisodeHead | None]:
        """Every line's head (None for a line that is not an episode), decoded on first use."""
        self.ensure()
        if self._heads is None:
            heads: list[EpisodeHead | None] = []
            for i, entry in enumerate(self.entries):
                try:
                    heads.append(_HEAD.decode(entry if entry is not None
                                              else self.read_line(i)))
                except msgspec.DecodeError:
                    heads.append(None)
            self._heads = heads
            if not self.api:
                self.api = next((h.api for h in heads if h is not None), "")
        return self._heads

    def head(self, i: int) -> EpisodeHead | None:
        self.ensure()
        if self._heads is not None:
            return self._heads[i]
        entry = self.entries[i]
        try:
            return _HEAD.decode(entry if entry is not None else self.read_line(i))
        except msgspec.DecodeError:
            return None

    def find(self, episode_id: str) -> int | None:
        """The line of ``episode_id`` (the first, should the shard hold it twice)."""
        self.ensure()
        if self._ids is None:
            ids: dict[str, int] = {}
            for i, head in enumerate(self.heads()):
                if head is not None:
                    ids.setdefault(head.id, i)
            self._ids = ids
        return self._ids.get(episode_id)

    def facets(self, i: int) -> _Facets | None:
        self.ensure()
        start = self.starts[i]
        found = self._facets.get(start)
        if found is None:
            try:
                found = _facets(self.read_line(i))
            except msgspec.DecodeError:
                return None
            self._facets[start] = found
        return found

    def stats(self) -> ShardStats:
        """Counts from the index entries (see :func:`_count_trials`), kept until the shard
        changes; lines the index does not cover count by their heads."""
        self.ensure()
        if self._stats is not None:
            return self._stats
        if self._index_counts is not None:  # counted on the index file as it was read
            trials, solved, unjudged = self._index_counts
        else:
            blob = b"\n".join(e for e in self.entries if e is not None)
            trials, solved, unjudged = _count_trials(blob)
        for i, entry in enumerate(self.entries):
            if entry is None:  # a line the index does not cover: its head tells
                head = self.head(i)
                if head is not None:
                    trials += len(head.trials)
                    solved += sum(t.solved is True for t in head.trials)
                    unjudged += sum(t.solved is None for t in head.trials)
        self._stats = ShardStats(api=self.api, episodes=len(self), trials=trials,
                                 solved=solved, unjudged=unjudged, torn=self.torn)
        return self._stats

    def reload_scanning(self) -> None:
        """Drop the index and find the lines by scanning the shard."""
        size = self.path.stat().st_size if self.path.exists() else 0
        self._load(size, self.path, trust_index=False)
        self._facets.clear()


class _StaleIndex(Exception):
    def __init__(self, shard: _Shard):
        self.shard = shard


def _count_trials(heads: bytes) -> tuple[int, int, int]:
    """Trials, trials solved (our reading) and trials without a reading in index entries.
    ``"solved":true`` can only be a key and its value in JSON (a quote inside a string is
    escaped), so counting the bytes counts the trials, with no head decoded."""
    trials = heads.count(b'"index":')
    solved = heads.count(b'"solved":true')
    return trials, solved, trials - solved - heads.count(b'"solved":false')


_Index = tuple[list[int], list[int], list[bytes | None], tuple[int, int, int] | None]


def _read_index(idx: Path, size: int) -> _Index:
    """The entries of an index file that lie within ``size`` bytes, in order, and their trial
    counts when every line of the file was such an entry; an index whose ranges go
    backwards is not trusted at all."""
    try:
        raw = idx.read_bytes()
    except FileNotFoundError:
        return [], [], [], None
    first: list[bytes] = []
    second: list[bytes] = []
    entries: list[bytes | None] = []
    for line in raw.split(b"\n"):
        parts = line.split(b" ", 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            first.append(parts[0])
            second.append(parts[1])
            entries.append(parts[2])
        # else: a torn or foreign line; the shard's line it stood for is found by scanning
    starts = list(map(int, first))
    ends = list(map(int, second))
    if not (all(map(operator.lt, starts, ends))
            and all(map(operator.le, ends[:-1], starts[1:]))):
        return [], [], [], None
    cut = bisect.bisect_right(ends, size)  # the shard is shorter than its index: trust it
    whole = cut == len(entries) == raw.count(b"\n")
    return starts[:cut], ends[:cut], entries[:cut], _count_trials(raw) if whole else None


class RunIndex:
    """The episodes of one run directory, in the run's API order, then file order.

    Not thread-safe: the web app calls it from one worker thread at a time.
    """

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.meta: RunMeta = load_run_meta(self.dir)
        self._order = {api: i for i, api in enumerate(self.meta.apis)}
        self._by_file = {shard_filename(api): api for api in self.meta.apis}
        self._shards: dict[str, _Shard] = {}

    # -- keeping up with the writer -------------------------------------------------------

    def refresh(self) -> None:
        """See new shards and lines (a run being written); cheap when nothing changed."""
        folder = self.dir / "episodes"
        names = sorted(p.name for p in folder.glob("*.jsonl")) if folder.is_dir() else []
        for name in names:
            if name not in self._shards:
                self._shards[name] = _Shard(folder / name, self._by_file.get(name))
        for shard in self._shards.values():
            shard.refresh()
            if not shard.api and len(shard):
                self._safe(shard.heads)  # a shard of an API the card does not list: name it
        ordered = sorted(self._shards.items(),
                         key=lambda kv: (self._order.get(kv[1].api, len(self._order)),
                                         kv[1].api, kv[0]))
        self._shards = dict(ordered)

    def _safe(self, fn: Callable[[], T]) -> T:
        """``fn()``, after rescanning any shard whose index turned out not to be its own."""
        for _ in range(3):
            try:
                return fn()
            except _StaleIndex as stale:
                stale.shard.reload_scanning()
        return fn()

    # -- what the run holds ---------------------------------------------------------------

    @property
    def total(self) -> int:
        return sum(len(s) for s in self._shards.values())

    def apis(self) -> list[str]:
        """The APIs of the run: those of the run card, then any other shard's."""
        seen = list(self.meta.apis)
        seen += [s.api for s in self._shards.values() if s.api and s.api not in self._order]
        return seen

    def shard_stats(self) -> list[ShardStats]:
        """Per-API counts from the indexes, in run order; APIs without a shard yet count 0."""
        by_api = {s.api: self._safe(s.stats) for s in self._shards.values()}
        return [by_api.get(api) or ShardStats(api=api, episodes=0, trials=0, solved=0,
                                               unjudged=0, torn=0) for api in self.apis()]

    def torn(self) -> int:
        """Last lines still without their newline, all shards together."""
        return sum(s.stats().torn for s in self._shards.values())

    # -- one episode ----------------------------------------------------------------------

    def _shard_of_api(self, api: str) -> _Shard | None:
        shard = self._shards.get(shard_filename(api))
        if shard is None:  # a shard named otherwise (copied in): look by content
            shard = next((s for s in self._shards.values() if s.api == api), None)
        return shard

    def _locate(self, episode_id: str) -> tuple[_Shard, int] | None:
        api, sep, _ = episode_id.rpartition("#")
        if not sep:
            return None
        shard = self._shard_of_api(api)
        if shard is None:
            return None
        i = shard.find(episode_id)
        return None if i is None else (shard, i)

    def episode(self, episode_id: str) -> EpisodeRecord | None:
        """The record of ``episode_id``, read by its byte range; None when the run has none
        (or its line cannot be read as an episode)."""
        def read() -> EpisodeRecord | None:
            found = self._locate(episode_id)
            if found is None:
                return None
            shard, i = found
            try:
                record = _RECORD.decode(shard.read_line(i))
            except msgspec.DecodeError:
                return None
            if record.id != episode_id:  # the index named another line: it is not this file's
                raise _StaleIndex(shard)
            return record

        return self._safe(read)

    def neighbours(self, episode_id: str) -> tuple[str | None, str | None]:
        """The ids of the episodes before and after ``episode_id`` in its API's shard."""
        found = self._safe(lambda: self._locate(episode_id))
        if found is None:
            return None, None
        shard, i = found
        heads = self._safe(shard.heads)
        before = next((h.id for h in reversed(heads[:i]) if h is not None), None)
        after = next((h.id for h in heads[i + 1:] if h is not None), None)
        return before, after

    def memory_before(self, api: str, shown: int) -> list[TrialHead]:
        """The first ``shown`` queries of ``api`` in episode and trial order, with their
        labels: what the long-term memory held when it showed ``shown`` entries, exactly so
        for a run with one lane (with more, other lanes' queries may have stood elsewhere)."""
        shard = self._shard_of_api(api)
        if shard is None or shown <= 0:
            return []
        heads = sorted((h for h in self._safe(shard.heads) if h is not None),
                       key=lambda h: h.episode)
        out: list[TrialHead] = []
        for head in heads:
            for trial in head.trials:
                out.append(trial)
                if len(out) == shown:
                    return out
        return out

    # -- the list ---------------------------------------------------------------------------

    def _scope(self, api: str) -> list[_Shard]:
        """The shards a list covers: every one, or the one of ``api`` (whose positions then
        count from its first line, so that list reads no other index)."""
        if not api:
            return list(self._shards.values())
        shard = self._shard_of_api(api)
        return [shard] if shard is not None else []

    @staticmethod
    def _positions(shards: list[_Shard]) -> Iterator[tuple[int, _Shard, int]]:
        """(position in the list, shard, line) of every episode of ``shards``."""
        base = 0
        for shard in shards:
            for i in range(len(shard)):
                yield base + i, shard, i
            base += len(shard)

    @staticmethod
    def _head_matches(head: EpisodeHead, f: Filters, needle: str) -> bool:
        if f.solved:
            solved = any(t.solved for t in head.trials)
            if solved != (f.solved == "yes"):
                return False
        return not needle or any(needle in t.query.casefold() for t in head.trials)

    @staticmethod
    def _record_matches(facets: _Facets, f: Filters) -> bool:
        if f.solved_study and facets.solved_study != (f.solved_study == "yes"):
            return False
        if f.error == "none":
            return not facets.errors
        return not f.error or f.error in facets.errors

    def page(self, f: Filters, *, start: int = 0, size: int = 50,
             budget_s: float = 0.4) -> Page:
        """Up to ``size`` episodes that match ``f``, from position ``start`` (in the run's
        episode order, or in its API's with an API filter) on. Filters on the index count every match; a filter on whole records
        reads lines from ``start`` on and stops after ``budget_s`` seconds with what it
        found, saying where it stopped."""
        return self._safe(lambda: self._page(f, start, size, budget_s))

    def _page(self, f: Filters, start: int, size: int, budget_s: float) -> Page:
        needle = f.text.casefold().strip()
        on_heads = bool(f.solved or needle)
        counting = not f.needs_records
        items: list[EpisodeHead] = []
        next_pos: int | None = None
        matching = 0
        scanned_to = start
        stopped_early = False
        deadline = time.monotonic() + budget_s
        shards = self._scope(f.api)
        total = sum(len(s) for s in shards)
        for pos, shard, i in self._positions(shards):
            head = shard.heads()[i] if on_heads else None
            if on_heads and (head is None or not self._head_matches(head, f, needle)):
                continue
            if counting:  # every match is counted; the page takes its share
                matching += 1
                if pos >= start:
                    if len(items) < size:
                        head = head or shard.head(i)
                        if head is not None:
                            items.append(head)
                    elif next_pos is None:
                        next_pos = pos
                continue
            if pos < start:
                continue
            if len(items) >= size:
                next_pos = pos
                break
            if scanned_to > start and time.monotonic() > deadline:  # after one, at least
                next_pos, stopped_early = pos, True
                break
            facets = shard.facets(i)
            scanned_to = pos + 1
            if facets is not None and self._record_matches(facets, f):
                head = head or shard.head(i)
                if head is not None:
                    items.append(head)
        else:
            scanned_to = total
        return Page(items=items, start=start, next=next_pos, total=total,
                    matching=matching if counting else None,
                    scanned_to=scanned_to if not counting else total,
                    stopped_early=stopped_early)
