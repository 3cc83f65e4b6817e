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
from .records import trajectory_bytes
from .session import load_run_meta
from .store import iter_records

__all__ = ("ReplayReport", "replay_run")


class ReplayReport(msgspec.Struct, kw_only=True):
    out: str
    episodes: int
    identical: int
    different: list[str]
    missing: list[str]


async def replay_run(run_dir: str | Path, out: str | Path | None = None) -> ReplayReport:
    run_dir = Path(run_dir)
    meta = load_run_meta(run_dir)
    if not recordings(run_dir, "llm"):
        raise ConfigError(f"{run_dir} has no recording (cassettes/llm.jsonl); it was run with "
                          "--cassette off")
    config = meta.config
    original = {r.id: trajectory_bytes(r) for r in iter_records(run_dir)}
    out = Path(out) if out is not None else run_dir / "replay"
    if (out / "run.json").exists():
        raise StoreError(f"{out} already holds a run; pass another --out")
    await explore(config, out, None, cassette="off", replay_from=run_dir, only=set(original),
                  display=False, handle_signals=False)
    replayed = {r.id: trajectory_bytes(r) for r in iter_records(out)}
    different = sorted(i for i in original if i in replayed and replayed[i] != original[i])
    missing = sorted(i for i in original if i not in replayed)
    return ReplayReport(out=str(out), episodes=len(original),
                        identical=len(original) - len(different) - len(missing),
                        different=different, missing=missing)
