"""``explore --workers N``: the APIs split across processes, one run directory, the same
episodes a single process writes, and nothing lost or doubled when the parent is killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ste_async.cli import main
from ste_async.errors import ConfigError
from ste_async.explore.workers import partition
from ste_async.records import trajectory_bytes
from ste_async.store import iter_records, scan_run

APIS = "add_date,forecast_weather,Numbers%%Get math fact,search,get_arxiv_article_information"


def test_partition_balances_pending_episodes_and_keeps_order() -> None:
    pending = {"a": [0, 1, 2, 3], "b": [0], "c": [0, 1], "d": [], "e": [0, 1]}
    groups = partition(pending, 2)
    assert sorted(a for g in groups for a in g) == ["a", "b", "c", "e"]  # d has nothing left
    loads = [sum(len(pending[a]) for a in g) for g in groups]
    assert max(loads) - min(loads) <= 1
    assert all(g == sorted(g) for g in groups)  # the run's order within each worker
    assert partition(pending, 10) == [["a"], ["c"], ["e"], ["b"]]  # no empty worker
    with pytest.raises(ConfigError, match="at least 1"):
        partition(pending, 0)


def _trajectories(run: Path) -> dict[str, bytes]:
    return {r.id: trajectory_bytes(r) for r in iter_records(run)}


def test_workers_write_what_one_process_writes(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    args = ["explore", "--llm", "mock", "--apis", APIS, "--episodes", "3", "--trials", "2",
            "--quiet"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    alone = capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "three"), "--workers", "3"]) == 0
    split = capsys.readouterr().out
    one, three = _trajectories(tmp_path / "one"), _trajectories(tmp_path / "three")
    assert len(one) == 15 and one == three  # each API's episodes, byte for byte
    # the per-API table (read from the store) and this start's counts (the workers' tallies,
    # summed) agree with one process's
    assert "episodes 15 new, 0 resumed" in split
    def counts(out: str) -> list[str]:  # the summary less its timings (rates, durations)
        return [re.sub(r" \([\d,.]+k?/s\)| \| [\d,.]+s$| +[\d.]+[smh]$", "", line)
                for line in out.splitlines()
                if not line.startswith(("run directory:", "next:"))]

    assert counts(alone) == counts(split)
    parts = sorted(p.name for p in (tmp_path / "three" / "cassettes").iterdir())
    assert parts == [f"{k}.w{i}.jsonl" for k in ("llm", "tools") for i in range(3)]
    # the recording of three processes replays offline in one, byte for byte
    assert main(["replay", str(tmp_path / "three"), "--out", str(tmp_path / "again")]) == 0
    assert "15 identical, 0 different, 0 missing" in capsys.readouterr().out


def _workers_of(run: Path) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if b"ste_async.explore.workers" in cmdline and str(run).encode() in cmdline \
                    and state != "Z":
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_killed_parent_takes_its_workers_and_a_resume_completes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "ste_async.cli", "explore", "--llm", "mock",
           "--mock-latency-ms", "20", "--apis", APIS, "--episodes", "8", "--trials", "2",
           "--workers", "2", "--quiet", "--out", str(run)]
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 60
        while len(scan_run(run).heads) < 5 if (run / "episodes").exists() else True:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        assert len(_workers_of(run)) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while _workers_of(run) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _workers_of(run)  # the parent-death signal reached both
    kept = len(scan_run(run).heads)
    assert 5 <= kept < 40
    assert main(["explore", "--llm", "mock", "--apis", APIS, "--episodes", "8", "--trials", "2",
                 "--workers", "3", "--quiet", "--resume", "--out", str(run)]) == 0
    ids = [r.id for r in iter_records(run)]
    assert len(ids) == len(set(ids)) == 40


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_drains_every_worker(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "ste_async.cli", "explore", "--llm", "mock",
           "--mock-latency-ms", "20", "--apis", APIS, "--episodes", "8", "--trials", "2",
           "--workers", "2", "--quiet", "--out", str(run)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 60
        while len(scan_run(run).heads) < 3 if (run / "episodes").exists() else True:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "continue with --resume" in err and "run directory:" in out
    assert not _workers_of(run)
    assert len(scan_run(run).heads) < 40


def test_an_interrupt_waits_for_a_worker_that_is_still_starting() -> None:
    from ste_async.explore.workers import _ProcessWorker

    class Child:
        returncode: int | None = None

        def __init__(self) -> None:
            self.sent: list[int] = []

        def send_signal(self, sig: int) -> None:
            self.sent.append(sig)

    started, starting, ended = (_ProcessWorker(Child()) for _ in range(3))  # type: ignore[arg-type]
    ended.process.returncode = 0
    started.started()
    for worker in (started, starting, ended):
        worker.interrupt()
    assert [w.process.sent for w in (started, starting, ended)] == [  # type: ignore[attr-defined]
        [signal.SIGINT], [], []]
    starting.started()  # its first report came in
    assert starting.process.sent == [signal.SIGINT]  # type: ignore[attr-defined]
    starting.started()  # later reports owe nothing
    assert starting.process.sent == [signal.SIGINT]  # type: ignore[attr-defined]


def test_ray_without_the_extra_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as where the [ray] extra is not installed
    code = main(["explore", "--llm", "mock", "--apis", "add_date", "--episodes", "1",
                 "--quiet", "--ray", "--out", str(tmp_path / "run")])
    assert code == 1
    assert "--ray needs Ray: pip install 'ste_async[ray]'" in capsys.readouterr().err
    assert not list((tmp_path / "run").glob("episodes/*.jsonl"))
