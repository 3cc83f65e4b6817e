"""Time to scan a large run directory and build the resume index.

Writes a run of ``--episodes`` records through the store (copies of real records from a small
scripted run, renumbered, spread over 50 API shards), then times
:func:`ste_async.store.scan_run` and the planning step that rebuilds every API's long-term
memory from it, with the shards' indexes and, side by side, without them (a full parse).

    python -m bench.resume [--episodes 100000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import anyio
import msgspec

from ste_async.catalog import builtin_catalog
from ste_async.config import ExploreConfig
from ste_async.explore.runner import plan_run
from ste_async.ids import episode_id
from ste_async.records import encode_record
from ste_async.store import RunStore, iter_records, scan_run
from tool_mocks.llm import MockLlmConfig

from ._common import explore_mock, write_result


def build(folder: Path, episodes: int) -> int:
    seed_run = folder / "seed"
    config = ExploreConfig(episodes=2)
    anyio.run(lambda: explore_mock(config, seed_run, MockLlmConfig(), handle_signals=False))
    samples = list(iter_records(seed_run))
    apis = list(builtin_catalog())
    per_api = episodes // len(apis)
    run = folder / "big"

    async def write() -> int:
        size = 0
        async with RunStore(run) as store:
            for e in range(per_api):
                for a, api in enumerate(apis):
                    r = samples[(a * 7 + e) % len(samples)]
                    clone = msgspec.structs.replace(r, id=episode_id(api, e), api=api, episode=e)
                    size += len(encode_record(clone)) + 1
                    await store.append(clone)
        return size

    return anyio.run(write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=100_000)
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ste-resume-"))
    try:
        size = build(folder, args.episodes)
        run = folder / "big"
        scan_run(run)  # once to warm the page cache, as a resume right after a crash finds it
        t0 = time.perf_counter()
        scan = scan_run(run)
        t_scan = time.perf_counter() - t0
        for idx in (run / "episodes").glob("*.idx"):
            idx.unlink()
        t0 = time.perf_counter()
        full = scan_run(run)
        t_full = time.perf_counter() - t0
        assert set(full.heads) == set(scan.heads)
        specs = list(builtin_catalog().values())
        t0 = time.perf_counter()
        _pending, memory, _done = plan_run(ExploreConfig(episodes=args.episodes // 50 + 1), specs,
                                         scan)
        t_plan = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {"episodes": len(scan.heads), "bytes": size, "scan_s": t_scan,
              "scan_without_index_s": t_full, "plan_s": t_plan,
              "total_s": t_scan + t_plan, "memory_entries": sum(len(m) for m in memory.values()),
              "target_s": 2.0}
    path = write_result("resume", result)
    print(f"resume index of {len(scan.heads):,} episodes ({size / 1e9:.2f} GB): scan "
          f"{t_scan:.2f}s + plan {t_plan:.2f}s = {t_scan + t_plan:.2f}s "
          f"(a full parse without the index: {t_full:.2f}s)  -> {path}")


if __name__ == "__main__":
    main()
