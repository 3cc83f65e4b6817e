"""``explore --ray``: the partitions as Ray actors on a cluster of two node processes on this
machine (2 CPUs in all), writing what one process writes, surviving a killed actor, and
leaving nothing behind when the driver is killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from ste_async.cli import main
from ste_async.config import ExploreConfig
from ste_async.explore.metrics import Metrics
from ste_async.explore.runner import RunOutcome
from ste_async.records import trajectory_bytes
from ste_async.services import LlmChoice, open_services
from ste_async.store import iter_records, scan_run
from tool_mocks.llm import MockLlmConfig

ray = pytest.importorskip("ray", reason="explore --ray needs the [ray] extra: "
                                        "pip install 'ste_async[ray]'")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180),
              pytest.mark.skipif(sys.platform != "linux", reason="a local Ray cluster: Linux")]

TEN = ("add_date,forecast_weather,search,get_arxiv_article_information,get_today_date,"
       "get_weather_today,search_general,search_places,disambiguation,getWolframAlphaResults")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two Ray nodes, each a process tree of its own on this machine, one CPU each; this test
    process is connected to them as a driver."""
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True,
                    head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        nodes.add_node(num_cpus=1)
        ray.init(address=nodes.address, logging_level="ERROR")
        yield nodes
    finally:
        ray.shutdown()
        nodes.shutdown()


def _by_shard(run: Path) -> dict[str, bytes]:
    """Each API's episodes, in the order its shard holds them, less their timings."""
    shards: dict[str, bytes] = {}
    for record in iter_records(run):
        shards[record.api] = shards.get(record.api, b"") + trajectory_bytes(record) + b"\n"
    return shards


def _counts(out: str) -> list[str]:  # the summary less its timings (per API and in all)
    return [re.sub(r" \([\d,.]+k?/s\)| \| [\d,.]+s$|\s+[\d,.]+s$", "", line)
            for line in out.splitlines()
            if not line.startswith(("run directory:", "next:"))]


def test_actors_write_what_one_process_writes(cluster: Any, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    args = ["explore", "--llm", "mock", "--apis", TEN, "--episodes", "2", "--trials", "2",
            "--lanes", "1", "--seed", "7", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    alone = capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "ray"), "--ray", "--workers", "2"]) == 0
    split = capsys.readouterr()
    one, two = _by_shard(tmp_path / "one"), _by_shard(tmp_path / "ray")
    assert len(one) == 10 and one == two  # every API's shard, byte for byte
    assert "ray: 2 actors on" in split.err
    assert "episodes 20 new, 0 resumed" in split.out
    assert _counts(alone) == _counts(split.out)  # the summary, summed from the actors
    parts = sorted(p.name for p in (tmp_path / "ray" / "cassettes").iterdir())
    assert parts == [f"{k}.w{i}.jsonl" for k in ("llm", "tools") for i in range(2)]
    assert not (tmp_path / "ray" / ".ray-check").exists()
    assert main(["replay", str(tmp_path / "ray"), "--out", str(tmp_path / "again")]) == 0
    assert "20 identical, 0 different, 0 missing" in capsys.readouterr().out


def test_the_partitions_run_on_both_nodes(cluster: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--llm", "mock", "--apis", "add_date,search", "--episodes", "1",
                 "--trials", "1", "--quiet", "--out", str(tmp_path / "run"), "--ray"]) == 0
    err = capsys.readouterr().err
    placed = re.findall(r"actor (\d) on [\d.]+ \(node ([0-9a-f]+)\)", err)
    assert sorted(i for i, _ in placed) == ["0", "1"]  # one actor per CPU of the cluster
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    assert len(nodes) == 2
    # each actor on a node of its own: the SPREAD placement used both
    assert sorted(next(n for n in nodes if n.startswith(p)) for _, p in placed) == sorted(nodes)


def test_more_actors_than_cpus_is_refused(cluster: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--llm", "mock", "--apis", "add_date,search,search_places",
                 "--episodes", "1", "--quiet", "--out", str(tmp_path / "run"), "--ray",
                 "--workers", "3"]) == 2
    assert "--workers 3: the Ray cluster has 2 CPUs, and each actor takes one" in \
        capsys.readouterr().err


def test_a_directory_the_actors_cannot_see_fails_before_any_episode(
        cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from ste_async.explore import ray_actors

    # the driver writes its token where no actor looks (the actors load the module afresh):
    # as if --out were a directory of the driver's node alone
    monkeypatch.setattr(ray_actors, "_TOKEN", ".ray-check-elsewhere")
    code = main(["explore", "--llm", "mock", "--apis", "add_date", "--episodes", "1",
                 "--quiet", "--out", str(tmp_path / "run"), "--ray"])
    assert code == 1
    err = capsys.readouterr().err
    assert re.search(r"actor \d on node \S+ cannot see the run directory: cannot read "
                     r"\S+/run/\.ray-check \(No such file or directory\)\. On a cluster, "
                     r"--out must be on a file system every node mounts", err), err
    assert not list((tmp_path / "run").glob("episodes/*.jsonl"))


def test_several_llm_urls_are_shared_with_episode_affinity(cluster: Any, tmp_path: Path) -> None:
    from ste_async.explore.ray_actors import explore_on_ray
    from tool_mocks.llm import serve_mock_llm

    run = tmp_path / "run"
    config = ExploreConfig(apis=tuple(TEN.split(",")[:4]), episodes=3, trials=2, seed=5)

    async def explore_on_two() -> RunOutcome:
        async with serve_mock_llm() as first, serve_mock_llm() as second, open_services(
                LlmChoice(urls=(first, second)), seed=config.seed) as endpoints:
            return await explore_on_ray(config, run, endpoints, actors=2,
                                        handle_signals=False)

    assert anyio.run(explore_on_two).metrics.done == 12
    used: set[str] = set()
    for record in iter_records(run):
        calls = [s.llm for t in record.trials for s in t.steps if s.llm is not None]
        calls += [c for t in record.trials for c in (t.imagine, t.reflect) if c is not None]
        endpoints = {c.endpoint for c in calls}
        assert len(endpoints) == 1, record.id  # one episode, one server
        used |= endpoints
    assert len(used) == 2  # the episodes spread over both


def _actor_pids(before: set[str]) -> list[int]:
    """The processes of the actors named since ``before`` was listed: this run's."""
    names = [n for n in ray.util.list_named_actors() if n.startswith("ste-explore-")]
    return [ray.get(ray.get_actor(n).pid.remote(), timeout=30) for n in names
            if n not in before]


def test_a_killed_actor_is_restarted_and_loses_nothing(
        cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ste_async.explore.ray_actors import explore_on_ray

    run = tmp_path / "run"
    config = ExploreConfig(apis=tuple(TEN.split(",")), episodes=6, trials=2, lanes=1, seed=3)
    killed: list[tuple[int, int]] = []
    before = set(ray.util.list_named_actors())

    async def kill_one_actor() -> None:
        def finished() -> int:
            return len(scan_run(run).heads) if (run / "episodes").exists() else 0

        while True:
            if await anyio.to_thread.run_sync(finished) >= 8:
                break
            await anyio.sleep(0.05)
        pids = await anyio.to_thread.run_sync(_actor_pids, before)
        assert len(pids) == 2
        os.kill(pids[0], signal.SIGKILL)
        killed.append((pids[0], len(scan_run(run).heads)))

    async def explore_and_kill() -> RunOutcome:
        async with open_services(LlmChoice(mock=MockLlmConfig(latency_ms=40)),
                                 seed=config.seed) as endpoints, anyio.create_task_group() as tg:
            tg.start_soon(kill_one_actor)
            outcome = await explore_on_ray(config, run, endpoints, actors=2,
                                           handle_signals=False)
            tg.cancel_scope.cancel()
        return outcome

    outcome = anyio.run(explore_and_kill)
    assert killed and killed[0][1] < 60  # it died mid-run
    ids = [r.id for r in iter_records(run)]
    assert len(ids) == len(set(ids)) == 60  # every episode, once
    # the summary counts the killed incarnation's episodes as this run's, once
    assert outcome.metrics.done - outcome.metrics.resumed == 60
    recount = Metrics(total_episodes=60)  # the tally of what the store holds
    for record in iter_records(run):
        recount.episode_started(record.api)
        recount.episode_finished(record)
    assert outcome.metrics.tally() == recount.tally()
    assert main(["replay", str(run), "--out", str(tmp_path / "again")]) == 0
    assert "60 identical, 0 different, 0 missing" in capsys.readouterr().out


def _descendants(root: int) -> dict[int, str]:
    """The processes below ``root``, with their command lines."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] == "Z":
                    continue
                parents[int(entry.name)] = int(stat[1])
                names[int(entry.name)] = (entry / "cmdline").read_bytes().decode(
                    errors="replace").replace("\0", " ")
            except (OSError, IndexError, ValueError):
                continue
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found[child] = names[child]
                frontier.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            left.add(pid)
    return left


def test_a_killed_driver_takes_its_local_cluster_and_a_resume_completes(
        cluster: Any, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["explore", "--llm", "mock", "--apis", TEN, "--episodes", "8", "--trials", "2",
            "--quiet", "--out", str(run), "--workers", "2"]
    cmd = [sys.executable, "-m", "ste_async.cli", *args, "--mock-latency-ms", "40", "--ray"]
    with (tmp_path / "err").open("wb") as err, \
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err) as proc:
        deadline = time.monotonic() + 120
        while len(scan_run(run).heads) < 5 if (run / "episodes").exists() else True:
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "err").read_text()[-3000:]
            time.sleep(0.05)
        tree = _descendants(proc.pid)
        actors = {pid for pid, cmdline in tree.items() if "PartitionActor" in cmdline}
        assert len(actors) == 2  # its own cluster's actors, below it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 30
    while _alive(set(tree)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(set(tree)), [tree[p] for p in _alive(set(tree))]  # nothing left
    kept = len(scan_run(run).heads)
    assert 5 <= kept < 80
    # continued on the test's cluster: exactly the episodes left
    assert main([*args, "--resume", "--ray"]) == 0
    ids = [r.id for r in iter_records(run)]
    assert len(ids) == len(set(ids)) == 80
