"""``ste-async replay``: re-run a recorded run offline and check it comes out the same.

The replay reads the run's configuration and cassettes, contacts no server, writes its
episodes to a new directory, and compares every episode's trajectory (the record without
timings, retry counts and endpoints) with the recorded one, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from .cassette import recordings
from .errors import ConfigError, StoreError
from .explore.runner import explore
from .progress import ProgressSettings
from .records import EpisodeRecord, trajectory_bytes
from .session import load_run_meta
from .store import iter_records

__all__ = ("ReplayReport", "replay_run")


class ReplayReport(msgspec.Struct, kw_only=True):
    """How the replay compared with the recording, episode by episode."""

    out: str
    episodes: int
    identical: int
    different: list[str]
    missing: list[str]
    # episodes whose record cannot match by construction, with the reason: an episode lost to
    # a torn line and redone on resume, after later episodes of its API, saw their queries in
    # its memory; the replay, in the run's order, reproduces it as it was first run
    redone: dict[str, str] = msgspec.field(default_factory=dict)


def _memory_at_start(record: EpisodeRecord) -> int:
    return record.trials[0].memory_shown if record.trials else 0


async def replay_run(run_dir: str | Path, out: str | Path | None = None, *,
                     progress: ProgressSettings | None = None) -> ReplayReport:
    """Replay the run in ``run_dir`` offline into ``out`` and compare it with the recording;
    ``progress`` shows the replay's progress (None: quiet)."""
    run_dir = Path(run_dir)
    meta = load_run_meta(run_dir)
    if not recordings(run_dir, "llm"):
        raise ConfigError(f"{run_dir} has no recording (cassettes/llm.jsonl); it was run with "
                          "--cassette off")
    config = meta.config
    records = {r.id: r for r in iter_records(run_dir)}
    original = {i: trajectory_bytes(r) for i, r in records.items()}
    out = Path(out) if out is not None else run_dir / "replay"
    if (out / "run.json").exists():
        raise StoreError(f"{out} already holds a run; pass another --out")
    await explore(config, out, None, cassette="off", replay_from=run_dir, only=set(original),
                  progress=progress, handle_signals=False)
    again = {r.id: r for r in iter_records(out)}
    redone: dict[str, str] = {}
    different: list[str] = []
    for i in sorted(i for i in original if i in again):
        if trajectory_bytes(again[i]) == original[i]:
            continue
        seen, expected = _memory_at_start(records[i]), _memory_at_start(again[i])
        if seen > expected:
            redone[i] = (f"redone on resume after later episodes of its API: its memory showed "
                         f"{seen} queries where the run's order shows {expected}")
        else:
            different.append(i)
    missing = sorted(i for i in original if i not in again)
    return ReplayReport(out=str(out), episodes=len(original),
                        identical=len(original) - len(different) - len(missing) - len(redone),
                        different=different, missing=missing, redone=redone)
