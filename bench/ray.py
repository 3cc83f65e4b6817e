"""One engine process, two Ray actors (``--ray --workers 2``, on a local cluster started for
the run) and two worker processes (``--workers 2``), side by side in one run.

The scripted LLM answers in 100 ms (spread +-20%); each variant explores all 50 APIs with
1,024 episodes in flight, one-trial episodes, through the CLI exactly as a user runs it.
Variants alternate over ``--rounds`` so drift on a shared machine hits all alike; the medians
are reported. Two rates: over the whole command (start-up included: for Ray, starting the
cluster and its actors), and over the exploration (the time the summary reports, from the
run's start to its end). The CPU is the engine's and, for Ray, the cluster's own processes:
every process below the command, sampled from /proc (Linux), the servers excluded.

    python -m bench.ray
    python -m bench.ray --rounds 1 --waves 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ste_async.catalog import builtin_catalog

from ._common import explore_command, mock_servers, summary_calls, write_result

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
VARIANTS = {"one": [], "ray-2": ["--ray", "--workers", "2"], "workers-2": ["--workers", "2"]}


_ENGINE = ("PartitionActor", "ste_async.explore.workers")  # a worker's command line


def _tree_cpu(root: int, seen: dict[int, float], engine: set[int]) -> None:
    """Add the CPU seconds so far of ``root`` and every process below it into ``seen``
    (by pid, the highest reading: the counters only grow); the engine's processes (the
    command itself and its workers or actors) into ``engine``, the rest is Ray's."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    below, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in below:
                below.add(child)
                frontier.append(child)
    for pid in below:
        if pid in cpu:
            seen[pid] = max(seen.get(pid, 0.0), cpu[pid])
            if pid not in engine:
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if pid == root or any(m.encode() in cmdline for m in _ENGINE):
                    engine.add(pid)


def one_run(llm: str, tools: str, variant: str, in_flight: int, waves: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ste-ray-") as tmp:
        cmd = explore_command(llm, tools, len(builtin_catalog()), in_flight, waves,
                              f"{tmp}/run", *VARIANTS[variant])
        seen: dict[int, float] = {}
        engine: set[int] = set()
        t0 = time.monotonic()
        with open(f"{tmp}/out", "w+") as out, open(f"{tmp}/err", "w+") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
            while proc.poll() is None:
                _tree_cpu(proc.pid, seen, engine)
                time.sleep(0.25)
            wall = time.monotonic() - t0
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"explore failed ({proc.returncode}): {stderr[-2000:]}")
    calls, run_s = summary_calls(stdout)
    cpu = sum(seen.values())
    ours = sum(c for pid, c in seen.items() if pid in engine)
    return {"variant": variant, "in_flight": in_flight, "llm_calls": calls, "wall_s": wall,
            "run_s": run_s, "startup_s": wall - run_s, "calls_per_s": calls / wall,
            "run_calls_per_s": calls / run_s, "cpu_s": cpu, "engine_cpu_s": ours,
            "cpu_ms_per_call": 1000 * cpu / calls,
            "engine_cpu_ms_per_call": 1000 * ours / calls,
            "runtime_cpu_ms_per_call": 1000 * (cpu - ours) / calls}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--in-flight", type=int, default=1024)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--waves", type=int, default=12, help="episodes per lane")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    if not Path("/proc/self/stat").exists():
        sys.exit("bench.ray reads the processes' CPU from /proc (Linux)")
    runs: list[dict[str, Any]] = []
    with mock_servers(args.latency_ms) as (llm, tools):
        for round_ in range(args.rounds):
            for variant in VARIANTS:
                run = one_run(llm, tools, variant, args.in_flight, args.waves)
                runs.append({"round": round_, **run})
                print(f"round {round_} {variant}: {run['calls_per_s']:,.0f} LLM calls/s "
                      f"({run['run_calls_per_s']:,.0f}/s over the exploration, start-up "
                      f"{run['startup_s']:.1f} s), CPU {run['cpu_ms_per_call']:.3f} ms per "
                      f"call (engine {run['engine_cpu_ms_per_call']:.3f}, Ray's processes "
                      f"{run['runtime_cpu_ms_per_call']:.3f})", flush=True)
    summary: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        mine = [r for r in runs if r["variant"] == variant]
        summary[variant] = {key: statistics.median(r[key] for r in mine) for key in (
            "calls_per_s", "run_calls_per_s", "startup_s", "cpu_ms_per_call",
            "engine_cpu_ms_per_call", "runtime_cpu_ms_per_call")}
    for variant, s in summary.items():
        print(f"{variant}: median {s['calls_per_s']:,.0f} calls/s whole command, "
              f"{s['run_calls_per_s']:,.0f}/s over the exploration, start-up "
              f"{s['startup_s']:.1f} s, CPU {s['cpu_ms_per_call']:.3f} ms per call (engine "
              f"{s['engine_cpu_ms_per_call']:.3f}, Ray's processes "
              f"{s['runtime_cpu_ms_per_call']:.3f})")
    ray2, workers2 = summary["ray-2"], summary["workers-2"]
    extra = ray2["cpu_ms_per_call"] - workers2["cpu_ms_per_call"]
    in_actors = ray2["engine_cpu_ms_per_call"] - workers2["engine_cpu_ms_per_call"]
    print(f"Ray's own CPU per LLM call (ray-2 less workers-2): {extra:.3f} ms, of which "
          f"{in_actors:.3f} ms in the driver and actors and "
          f"{ray2['runtime_cpu_ms_per_call']:.3f} ms in Ray's own processes (start-up "
          "included)")
    path = write_result("ray", {"latency_ms": args.latency_ms, "in_flight": args.in_flight,
                                "runs": runs, "summary": summary,
                                "ray_cpu_ms_per_call": extra})
    print(f"-> {path}")


if __name__ == "__main__":
    main()
