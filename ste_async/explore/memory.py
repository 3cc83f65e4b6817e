"""Long-term memory, sharded by API.

Only the episodes of one API write its shard. A query is published the moment it is imagined,
so episodes running in other lanes see it at once; its solved label follows after reflection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

__all__ = ("MemoryEntry", "MemoryShard")


class _FinishedTrial(Protocol):
    index: int
    query: str
    solved: bool | None
    solved_reference: bool | None


class _Finished(Protocol):
    """A finished episode as resume reads it (a full record or just its head)."""

    episode: int

    @property
    def trials(self) -> Sequence[_FinishedTrial]: ...


class MemoryEntry(msgspec.Struct, kw_only=True):
    query: str
    solved: bool | None
    episode: int
    trial: int


class MemoryShard:
    """The explored queries of one API, in the order they were imagined."""

    __slots__ = ("api", "entries")

    def __init__(self, api: str):
        self.api = api
        self.entries: list[MemoryEntry] = []

    def __len__(self) -> int:
        return len(self.entries)

    def publish(self, query: str, episode: int, trial: int) -> MemoryEntry:
        entry = MemoryEntry(query=query, solved=None, episode=episode, trial=trial)
        self.entries.append(entry)
        return entry

    def snapshot(self) -> list[tuple[str, bool | None]]:
        return [(e.query, e.solved) for e in self.entries]

    def discard_episode(self, episode: int) -> None:
        """Forget an abandoned episode's queries; it will run again from the start."""
        self.entries = [e for e in self.entries if e.episode != episode]

    def restore(self, records: Iterable[_Finished], *, study_reading: bool = False) -> None:
        """Rebuild from finished episodes (on resume), in episode order; ``study_reading``:
        the labels are the study's reading of each reflection, as the run showed them."""
        for record in sorted(records, key=lambda r: r.episode):
            for trial in record.trials:
                self.entries.append(
                    MemoryEntry(
                        query=trial.query,
                        solved=trial.solved_reference if study_reading else trial.solved,
                        episode=record.episode,
                        trial=trial.index,
                    )
                )
