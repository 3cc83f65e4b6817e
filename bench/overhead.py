"""CPU per LLM call: the whole engine vs a bare aiohttp client, against a zero-latency mock.

The scripted LLM and the tool server run as children pinned to core 1; this process, pinned
to core 0, first runs a bare client (one pooled aiohttp session posting a fixed chat request,
decoding the JSON reply) and then the engine on the 50-API protocol, at the same number of
requests in flight. CPU time is this process's own, so the servers' cost is not counted.

    python -m bench.overhead [--episodes 4] [--in-flight 256]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import orjson

from ste_async.catalog import builtin_catalog

from ._common import child_server, free_port, pin, write_result
from ._engine import run_engine


async def _bare(url: str, calls: int, in_flight: int, prompt_chars: int) -> dict[str, float]:
    filler = "x" * max(0, prompt_chars - 40)
    body = orjson.dumps({"model": "ste-mock", "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": f"{filler}\nAPI_name: add_date\nUser Query:"}],
        "max_tokens": 360, "temperature": 1.0, "seed": 1, "stop": ["Thought:"]})
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as s:
        left = calls

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                async with s.post(url + "/v1/chat/completions", data=body, headers=headers) as r:
                    orjson.loads(await r.read())

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"calls": calls, "wall_s": wall, "cpu_s": cpu, "calls_per_s": calls / wall,
            "cpu_ms_per_call": 1000 * cpu / calls}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--in-flight", type=int, default=256)
    args = p.parse_args()
    apis = tuple(builtin_catalog())
    llm_port, tools_port = free_port(), free_port()
    pin(0)
    with child_server(["ste_async.cli", "serve-llm", "--backend", "mock", "--port", str(llm_port)], llm_port,
                      core=1) as llm, \
            child_server(["tool_mocks", "--port", str(tools_port)], tools_port, core=1) as tools:
        import uvloop

        uvloop.install()
        engine = run_engine(llm, tools, apis=apis, episodes=args.episodes, lanes=args.episodes,
                            max_episodes=args.in_flight, llm_concurrency=args.in_flight)
        # the scripted LLM counts a token per 4 characters: this is the mean prompt size
        prompt_chars = 4 * engine["prompt_tokens"] // max(1, engine["llm_calls"])
        bare = asyncio.run(_bare(llm, engine["llm_calls"], args.in_flight, 0))
        bare_same = asyncio.run(_bare(llm, engine["llm_calls"], args.in_flight, prompt_chars))
    ratio = engine["cpu_ms_per_llm_call"] / bare["cpu_ms_per_call"]
    ratio_same = engine["cpu_ms_per_llm_call"] / bare_same["cpu_ms_per_call"]
    result = {"in_flight": args.in_flight, "engine": engine, "bare_tiny_request": bare,
              "bare_same_size_request": bare_same, "mean_prompt_chars": prompt_chars,
              "cpu_ratio_engine_over_bare_tiny": ratio,
              "cpu_ratio_engine_over_bare_same_size": ratio_same, "target_ratio": 2.0}
    path = write_result("overhead", result)
    print(f"bare aiohttp, tiny request:     {bare['calls_per_s']:,.0f} calls/s, "
          f"{bare['cpu_ms_per_call']:.3f} ms CPU/call")
    print(f"bare aiohttp, {prompt_chars:,}-char prompt: {bare_same['calls_per_s']:,.0f} calls/s, "
          f"{bare_same['cpu_ms_per_call']:.3f} ms CPU/call")
    print(f"engine:       {engine['llm_calls_per_s']:,.0f} LLM calls/s, "
          f"{engine['cpu_ms_per_llm_call']:.3f} ms CPU/LLM call (tool calls, parsing, store included)")
    print(f"engine/bare CPU per call: {ratio:.2f}x (tiny request), {ratio_same:.2f}x "
          f"(same prompt size)  -> {path}")


if __name__ == "__main__":
    main()
