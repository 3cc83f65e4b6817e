"""Throughput against requests in flight, next to the Little's-law bound.

The scripted LLM answers after a fixed latency (2 s: a batched generation; 100 ms for the
CPU-ceiling sweep), spread +-20%. For each number N of episodes in flight the engine runs 3N
one-trial episodes with N admitted at a time; a sampler reads the server's completed-request
counter and the engine's memory twice a second, and the rate over the plateau (from the
first to the last sample where the server held at least 90% of its usual peak) is compared
with the bound N / latency; the share of N actually held is reported beside it.

    python -m bench.scaling                      # 2 s latency, N = 64 ... 10,000
    python -m bench.scaling --latency-ms 100 --gc both   # CPU ceiling, GC tuned and not
"""

from __future__ import annotations

import argparse
import gc
import math
import re
import tempfile
import threading
import time
import urllib.request
from typing import Any

import anyio

from ste_async.catalog import builtin_catalog
from ste_async.config import ExploreConfig, LlmSettings
from ste_async.explore.runner import explore
from ste_async.session import Endpoints

from ._common import RESULTS, child_server, free_port, pin, write_result

_GAUGE = re.compile(r"^(vllm:\w+)\{[^}]*\} (\d+)", re.M)


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    def __init__(self, llm_url: str):
        super().__init__(daemon=True)
        self.url = llm_url + "/metrics"
        self.samples: list[tuple[float, int, int, int]] = []  # t, completed, running, rss
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    g = dict(_GAUGE.findall(r.read().decode()))
            except OSError:  # the server is too busy to answer in time: skip this sample
                continue
            self.samples.append((time.monotonic(), int(g["vllm:request_success_total"]),
                                 int(g["vllm:num_requests_running"]), _rss_kb()))


def one_point(llm: str, tools: str, n: int, latency_s: float, gc_tuned: bool) -> dict[str, Any]:
    apis = tuple(builtin_catalog())
    lanes = math.ceil(n / len(apis))
    # enough waves of one-trial episodes (about 4.5 calls each) for several seconds of plateau
    waves = max(3, math.ceil(6.0 / (4.5 * latency_s)))
    config = ExploreConfig(
        apis=apis, episodes=waves * lanes, trials=1, lanes=lanes, max_episodes=n,
        llm=LlmSettings(concurrency=n), tool_concurrency=min(n, 1024),
    )
    endpoints = Endpoints(llm_urls=(llm,), tools_url=tools)
    gc.collect()
    if gc_tuned:
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
    else:
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)
    rss0 = _rss_kb()
    sampler = Sampler(llm)
    sampler.start()
    t0, cpu0 = time.monotonic(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="ste-scale-") as tmp:
        outcome = anyio.run(
            lambda: explore(config, tmp, endpoints, cassette="off", handle_signals=False),
            backend="asyncio", backend_options={"use_uvloop": True},
        )
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    sampler.stop.set()
    sampler.join()
    # steady state: from the first to the last sample where the server held at least 90% of
    # its usual peak (the 90th percentile of what it held: robust to a passing spike)
    held_counts = sorted(s[2] for s in sampler.samples)
    plateau = held_counts[int(0.9 * (len(held_counts) - 1))] if held_counts else 0
    high = [i for i, s in enumerate(sampler.samples) if s[2] >= 0.9 * plateau]
    steady = sampler.samples[high[0]: high[-1] + 1] if high else []
    rate = None
    if len(steady) >= 3:
        (ta, ca, _, _), (tb, cb, _, _) = steady[0], steady[-1]
        rate = (cb - ca) / (tb - ta)
    held = sum(s[2] for s in steady) / len(steady) if steady else 0.0
    bound = n / latency_s
    peak_rss = max((s[3] for s in sampler.samples), default=rss0)
    calls = outcome.metrics.llm_calls
    measured_over = "plateau"
    if not rate:
        # too few readings of a busy server's counter: fall back to the whole run
        rate, measured_over = calls / wall, "whole run"
    return {
        "in_flight": n, "latency_s": latency_s, "gc_tuned": gc_tuned,
        "episodes": outcome.metrics.done, "llm_calls": calls, "wall_s": wall,
        "steady_calls_per_s": rate, "bound_calls_per_s": bound,
        "steady_ratio": None if rate is None else rate / bound,
        "whole_run_calls_per_s": calls / wall, "steady_samples": len(steady),
        "measured_over": measured_over,
        "server_running_mean": held, "held_share_of_n": held / n,
        "engine_cpu_s": cpu, "engine_core_utilisation": cpu / wall,
        "rss_kb_start": rss0, "rss_kb_peak": peak_rss,
        "rss_kb_per_episode": (peak_rss - rss0) / n,
    }


def plot(points: list[dict[str, Any]], name: str, latency_s: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ns = sorted({p["in_flight"] for p in points})
    ax.plot(ns, [n / latency_s for n in ns], "k--", label="Little's law bound (N / latency)")
    for tuned in sorted({p["gc_tuned"] for p in points}):
        pts = [p for p in points if p["gc_tuned"] == tuned and p["steady_calls_per_s"]]
        ax.plot([p["in_flight"] for p in pts], [p["steady_calls_per_s"] for p in pts], "o-",
                label=f"ste_async ({'GC tuned' if tuned else 'default GC'})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("episodes (= LLM requests) in flight")
    ax.set_ylabel("LLM calls / s (steady state)")
    ax.set_title(f"Throughput vs in-flight requests, LLM latency {latency_s * 1000:.0f} ms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = RESULTS / f"{name}.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency-ms", type=float, default=2000.0)
    p.add_argument("--in-flight", default="64,256,1024,4096,10000")
    p.add_argument("--gc", choices=["tuned", "default", "both"], default="tuned")
    args = p.parse_args()
    latency_s = args.latency_ms / 1000
    ns = [int(x) for x in args.in_flight.split(",")]
    modes = {"tuned": [True], "default": [False], "both": [False, True]}[args.gc]
    name = "scaling" if args.latency_ms >= 1000 else "cpu_ceiling"
    llm_port, tools_port = free_port(), free_port()
    pin(0)
    points = []
    # latencies spread +-20% around the mean, as a real server's do: synchronized waves of
    # completions would make a rate measured between samples swing with the phase
    with child_server(["ste_async.cli", "serve-llm", "--backend", "mock", "--port", str(llm_port), "--latency-ms",
                       str(args.latency_ms), "--latency-spread", "0.2"], llm_port,
                      core=1) as llm, \
            child_server(["tool_mocks", "--port", str(tools_port)], tools_port, core=1) as tools:
        for tuned in modes:
            for n in ns:
                point = one_point(llm, tools, n, latency_s, tuned)
                points.append(point)
                ratio = point["steady_ratio"]
                print(f"N={n:>6} gc={'tuned' if tuned else 'default'}: steady "
                      f"{point['steady_calls_per_s'] or 0:,.0f} calls/s of "
                      f"{point['bound_calls_per_s']:,.0f} bound = "
                      f"{'n/a' if ratio is None else f'{ratio:.3f}'} "
                      f"(server held {point['server_running_mean']:,.0f} of {n:,}); "
                      f"{point['rss_kb_per_episode']:.1f} KB RSS per episode in flight; "
                      f"engine core {100 * point['engine_core_utilisation']:.0f}% busy",
                      flush=True)
    png = plot(points, name, latency_s)
    path = write_result(name, {"points": points, "plot": png})
    print(f"-> {path}, {png}")


if __name__ == "__main__":
    main()
