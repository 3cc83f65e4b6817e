"""The store's shard index: a cache that never changes what a scan finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ste_async.records import SCHEMA_VERSION, EpisodeRecord, Trial
from ste_async.store import RunStore, scan_run


def record(api: str, n: int) -> EpisodeRecord:
    trials = [Trial(index=0, query=f"q{n}", memory_shown=n, steps=[], finished=False,
                    solved=n % 2 == 0)]
    return EpisodeRecord(schema=SCHEMA_VERSION, id=f"{api}#{n}", api=api, episode=n,
                         trials=trials, conversations=[])


async def write(run: Path, api: str, numbers: range) -> None:
    async with RunStore(run) as store:
        for n in numbers:
            await store.append(record(api, n))


def full_scan(run: Path) -> tuple[set[str], int]:
    for idx in (run / "episodes").glob("*.idx"):
        idx.rename(idx.with_suffix(".off"))
    try:
        scan = scan_run(run)
    finally:
        for off in (run / "episodes").glob("*.off"):
            off.rename(off.with_suffix(".idx"))
    return set(scan.heads), scan.corrupt


async def test_index_matches_a_full_scan_through_crashes(tmp_path: Path) -> None:
    await write(tmp_path, "A%%x", range(0, 5))
    shard = next((tmp_path / "episodes").glob("*.jsonl"))
    idx = shard.with_name(shard.name + ".idx")
    assert len(idx.read_bytes().splitlines()) == 5
    # a crash mid-write tears a line; the next run isolates it and goes on
    with shard.open("ab") as f:
        f.write(b'{"schema":1,"id":"A%%x#99","api"')
    await write(tmp_path, "A%%x", range(5, 8))
    # a crash between a line and its index entry: the line is there, its entry is not
    lines = idx.read_bytes().splitlines(keepends=True)
    idx.write_bytes(b"".join(lines[:-1]) + b"12 34 {torn")
    scan = scan_run(tmp_path)
    assert set(scan.heads) == {f"A%%x#{n}" for n in range(8)}
    assert (set(scan.heads), scan.corrupt) == full_scan(tmp_path)
    assert scan.corrupt == 1
    assert scan.heads["A%%x#6"].trials[0].query == "q6"


@pytest.mark.parametrize("damage", ["truncate_shard", "shift_index", "garbage_index"])
async def test_an_index_that_disagrees_with_its_shard_is_ignored(tmp_path: Path,
                                                                 damage: str) -> None:
    await write(tmp_path, "B", range(10))
    shard = next((tmp_path / "episodes").glob("*.jsonl"))
    idx = shard.with_name(shard.name + ".idx")
    if damage == "truncate_shard":
        lines = shard.read_bytes().splitlines(keepends=True)
        shard.write_bytes(b"".join(lines[:6]))
    elif damage == "shift_index":
        shard.write_bytes(b"\n" * 3 + shard.read_bytes())  # every offset is now wrong
    else:
        idx.write_bytes(b"\x00\xff" * 50)
    scan = scan_run(tmp_path)
    assert (set(scan.heads), scan.corrupt) == full_scan(tmp_path)
    expected = 6 if damage == "truncate_shard" else 10
    assert len(scan.heads) == expected
