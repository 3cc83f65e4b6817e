"""The STE protocol with mocks at 100 ms per LLM call: one request in flight vs full concurrency.

The reference implementation runs one request at a time. Both variants run here, side by side,
against the same child servers (scripted LLM and tool server pinned to core 1, the engine on
core 0). The sequential variant runs a slice of the protocol (it would take about half an hour
in full); its time per LLM call gives the full protocol's sequential time, which the speedup
compares with the concurrent run of the whole protocol.

    python -m bench.protocol [--episodes 15] [--latency-ms 100] [--slice-apis 3]
"""

from __future__ import annotations

import argparse

from ste_async.catalog import builtin_catalog

from ._common import child_server, free_port, pin, write_result
from ._engine import run_engine


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=15)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--slice-apis", type=int, default=3, help="APIs in the sequential slice")
    args = p.parse_args()
    apis = tuple(builtin_catalog())
    llm_port, tools_port = free_port(), free_port()
    pin(0)
    with child_server(["ste_async.cli", "serve-llm", "--backend", "mock", "--port", str(llm_port), "--latency-ms",
                       str(args.latency_ms)], llm_port, core=1) as llm, \
            child_server(["tool_mocks", "--port", str(tools_port)], tools_port, core=1) as tools:
        sequential = run_engine(
            llm, tools, apis=apis[: args.slice_apis], episodes=1, lanes=1, max_episodes=1,
            llm_concurrency=1, tool_concurrency=1,
        )
        concurrent = run_engine(
            llm, tools, apis=apis, episodes=args.episodes, lanes=args.episodes,
            max_episodes=len(apis) * args.episodes, llm_concurrency=4096, tool_concurrency=512,
        )
    per_call = sequential["wall_s"] / sequential["llm_calls"]
    sequential_full_s = per_call * concurrent["llm_calls"]
    speedup = sequential_full_s / concurrent["wall_s"]
    result = {
        "latency_ms": args.latency_ms,
        "sequential_slice": sequential,
        "concurrent_full": concurrent,
        "sequential_s_per_llm_call": per_call,
        "sequential_full_protocol_s_estimated": sequential_full_s,
        "speedup": speedup,
        "target_speedup": 250,
    }
    path = write_result("protocol", result)
    print(f"sequential (1 in flight): {per_call * 1000:.1f} ms per LLM call -> the full protocol "
          f"({concurrent['llm_calls']:,} LLM calls) would take {sequential_full_s:,.0f}s")
    print(f"concurrent: {concurrent['episodes']:,} episodes, {concurrent['llm_calls']:,} LLM calls "
          f"in {concurrent['wall_s']:.1f}s ({concurrent['llm_calls_per_s']:,.0f} calls/s)")
    print(f"speedup: {speedup:,.0f}x  -> {path}")


if __name__ == "__main__":
    main()
