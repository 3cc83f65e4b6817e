"""``--llm-concurrency auto`` against fixed limits, on a server with a fixed capacity.

The scripted LLM serves at most ``--slots`` requests at once (200 ms each, +-20%); more wait
in its queue, as in a batching server such as vLLM, and it reports running and waiting
requests on /metrics. The same exploration (50 APIs, one-trial episodes, 16 lanes) runs
with fixed limits and with ``auto``, which is not told the capacity.

    python -m bench.adaptive [--slots 64] [--fixed 16,64,256,1024]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import anyio

from ste_async.catalog import builtin_catalog
from ste_async.config import ExploreConfig, LlmSettings
from ste_async.explore.runner import explore
from ste_async.session import Endpoints

from ._common import child_server, free_port, pin, write_result


def run(llm: str, tools: str, limit: int | str, episodes: int) -> dict[str, Any]:
    config = ExploreConfig(apis=tuple(builtin_catalog()), episodes=episodes, trials=1,
                           lanes=episodes, max_episodes=4096,
                           llm=LlmSettings(concurrency=limit))  # type: ignore[arg-type]
    endpoints = Endpoints(llm_urls=(llm,), tools_url=tools)
    with tempfile.TemporaryDirectory(prefix="ste-adaptive-") as tmp:
        t0 = time.perf_counter()
        outcome = anyio.run(
            lambda: explore(config, tmp, endpoints, cassette="off", handle_signals=False),
            backend="asyncio", backend_options={"use_uvloop": True})
        wall = time.perf_counter() - t0
    calls = outcome.metrics.llm_calls
    return {"limit": limit, "llm_calls": calls, "wall_s": wall, "calls_per_s": calls / wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slots", type=int, default=64)
    p.add_argument("--fixed", default="16,64,256,1024")
    p.add_argument("--episodes", type=int, default=16, help="episodes per API")
    args = p.parse_args()
    llm_port, tools_port = free_port(), free_port()
    pin(0)
    results = []
    with child_server(["ste_async.cli", "serve-llm", "--backend", "mock", "--port", str(llm_port), "--latency-ms",
                       "200", "--latency-spread", "0.2", "--slots", str(args.slots)], llm_port,
                      core=1) as llm, \
            child_server(["tool_mocks", "--port", str(tools_port)], tools_port, core=1) as tools:
        for limit in [*(int(x) for x in args.fixed.split(",")), "auto"]:
            r = run(llm, tools, limit, args.episodes)
            results.append(r)
            print(f"limit {limit!s:>5}: {r['calls_per_s']:,.0f} LLM calls/s "
                  f"({r['llm_calls']:,} calls in {r['wall_s']:.1f}s)", flush=True)
    best = max(r["calls_per_s"] for r in results if r["limit"] != "auto")
    auto = next(r for r in results if r["limit"] == "auto")
    share = auto["calls_per_s"] / best
    path = write_result("adaptive", {"slots": args.slots, "latency_ms": 200, "runs": results,
                                     "auto_share_of_best_fixed": share, "target_share": 0.9})
    print(f"auto reached {100 * share:.1f}% of the best fixed limit's throughput "
          f"(capacity {args.slots / 0.2:,.0f} calls/s)  -> {path}")


if __name__ == "__main__":
    main()
