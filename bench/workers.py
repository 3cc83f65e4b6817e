"""One engine process against several (``explore --workers N``), side by side in one run.

The scripted LLM answers in 100 ms (spread +-20%), so the engine's CPU, not the latency,
bounds the rate: the CPU-ceiling regime. Each variant explores all 50 APIs with the same
episodes in flight, one-trial episodes, through the CLI exactly as a user runs it; the rate
is LLM calls over the whole run, start-up included, and the CPU is the engine's own (parent
and workers, not the servers). Variants alternate over ``--rounds`` so drift on a shared
machine hits both alike.

    python -m bench.workers                     # 1 vs 2 workers, 1,024 in flight
    python -m bench.workers --workers 1,2,4 --in-flight 2048

The servers are child processes too: on a machine with few cores they compete with the
workers for them, which the result shows as it is.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from typing import Any

from ste_async.catalog import builtin_catalog

from ._common import explore_command, mock_servers, summary_calls, write_result


def one_run(llm: str, tools: str, workers: int, in_flight: int, waves: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ste-workers-") as tmp:
        cmd = explore_command(llm, tools, len(builtin_catalog()), in_flight, waves,
                              f"{tmp}/run", "--workers", str(workers))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"explore failed ({done.returncode}): {done.stderr[-2000:]}")
    calls, _ = summary_calls(done.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"workers": workers, "in_flight": in_flight, "llm_calls": calls, "wall_s": wall,
            "calls_per_s": calls / wall, "engine_cpu_s": cpu,
            "engine_cpu_ms_per_call": 1000 * cpu / calls}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", default="1,2")
    p.add_argument("--in-flight", type=int, default=1024)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--waves", type=int, default=12, help="episodes per lane")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    variants = [int(w) for w in args.workers.split(",")]
    runs: list[dict[str, Any]] = []
    with mock_servers(args.latency_ms) as (llm, tools):
        for round_ in range(args.rounds):
            for w in variants:
                run = one_run(llm, tools, w, args.in_flight, args.waves)
                runs.append({"round": round_, **run})
                print(f"round {round_} workers {w}: {run['calls_per_s']:,.0f} LLM calls/s, "
                      f"engine CPU {run['engine_cpu_ms_per_call']:.3f} ms per call, "
                      f"{run['wall_s']:.1f} s", flush=True)
    summary = {}
    for w in variants:
        rates = [r["calls_per_s"] for r in runs if r["workers"] == w]
        summary[str(w)] = {"median_calls_per_s": statistics.median(rates),
                           "ratio_to_1": statistics.median(rates) / statistics.median(
                               [r["calls_per_s"] for r in runs if r["workers"] == variants[0]])}
        print(f"workers {w}: median {summary[str(w)]['median_calls_per_s']:,.0f} calls/s "
              f"= {summary[str(w)]['ratio_to_1']:.2f}x workers {variants[0]}")
    path = write_result("workers", {"latency_ms": args.latency_ms, "in_flight": args.in_flight,
                                    "cores": os.cpu_count(), "runs": runs, "summary": summary})
    print(f"-> {path}")


if __name__ == "__main__":
    main()
