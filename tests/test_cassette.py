"""Recording, offline replay, and resume that repeats no recorded LLM call."""

from __future__ import annotations

from pathlib import Path

import pytest
from served import explore_with

from ste_async.config import ExploreConfig
from ste_async.errors import ReplayMissError
from ste_async.records import trajectory_bytes
from ste_async.replay import replay_run
from ste_async.store import iter_records, scan_run
from tool_mocks.llm import MockLlmConfig

CONFIG = ExploreConfig(apis=("add_date", "Numbers%%Get math fact"), episodes=3, trials=3)


async def record(run: Path) -> None:
    await explore_with(CONFIG, run, mock=MockLlmConfig(error_rate=0.3), handle_signals=False)


async def test_replay_reproduces_every_trajectory(tmp_path: Path) -> None:
    run = tmp_path / "run"
    await record(run)
    report = await replay_run(run, tmp_path / "again")
    assert report.episodes == 6 and report.identical == 6
    assert not report.different and not report.missing


async def test_resume_replays_recorded_work_instead_of_asking_again(tmp_path: Path) -> None:
    run = tmp_path / "run"
    await record(run)
    before = {r.id: trajectory_bytes(r) for r in iter_records(run)}
    # lose the last episode of each shard, as a crash after its calls but before its line would
    for shard in (run / "episodes").glob("*.jsonl"):
        lines = shard.read_bytes().splitlines(keepends=True)
        shard.write_bytes(b"".join(lines[:-1]))
    assert len(scan_run(run).heads) == 4
    from tool_mocks.llm import MockLlmState

    served_before = MockLlmState.served
    outcome = await explore_with(CONFIG, run, resume=True, mock=MockLlmConfig(error_rate=0.3),
                            handle_signals=False)
    assert MockLlmState.served == served_before  # every LLM reply came from the cassette
    assert outcome.metrics.done == 6
    after = {r.id: trajectory_bytes(r) for r in iter_records(run)}
    assert after == before


async def test_a_replay_miss_names_the_request(tmp_path: Path) -> None:
    run = tmp_path / "run"
    await record(run)
    cassette = run / "cassettes" / "llm.jsonl"
    lines = cassette.read_bytes().splitlines(keepends=True)
    cassette.write_bytes(b"".join(lines[:5]) + b'{"key":"torn')  # and a torn last line
    with pytest.raises(ReplayMissError, match=r"LLM request of .*#\d seed \d+ .*cannot be replayed"):
        await replay_run(run, tmp_path / "again")


def _tear(shard: Path, line: int) -> None:
    """Cut line ``line`` of a shard in half, as a power cut mid-write would, and drop the
    index so the scan reads the shard itself."""
    lines = shard.read_bytes().split(b"\n")
    lines[line] = lines[line][: len(lines[line]) // 2]
    shard.write_bytes(b"\n".join(lines))
    shard.with_name(shard.name + ".idx").unlink(missing_ok=True)


async def test_a_replay_reports_an_episode_redone_after_a_torn_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = ExploreConfig(apis=("add_date",), episodes=3, trials=2)
    await explore_with(config, run, handle_signals=False)
    (shard,) = (run / "episodes").glob("*.jsonl")
    _tear(shard, 1)  # the middle episode of three
    outcome = await explore_with(config, run, resume=True, handle_signals=False)
    assert outcome.metrics.done - outcome.metrics.resumed == 1  # add_date#1, done again
    report = await replay_run(run)
    assert (report.identical, report.different, report.missing) == (2, [], [])
    assert list(report.redone) == ["add_date#1"]
    assert "redone on resume after later episodes" in report.redone["add_date#1"]


async def test_an_episode_that_changed_is_still_reported_as_different(tmp_path: Path) -> None:
    run = tmp_path / "run"
    await explore_with(ExploreConfig(apis=("add_date",), episodes=2, trials=1), run,
                       handle_signals=False)
    (shard,) = (run / "episodes").glob("*.jsonl")
    # an answer edited after the fact: the replay must not explain it away
    shard.write_bytes(shard.read_bytes().replace(b'"solved":true', b'"solved":false', 1))
    shard.with_name(shard.name + ".idx").unlink(missing_ok=True)
    report = await replay_run(run)
    assert len(report.different) == 1 and not report.redone
