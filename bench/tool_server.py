"""Cached calls per second of the tool server on one core, over loopback.

The server runs in a child process pinned to core 0; the load generator (a bare aiohttp
client with many requests in flight) runs pinned to core 1. Every call is answered from the
cache after a warm-up pass, so this measures the server's own cost per call.

    python -m bench.tool_server [--seconds 10] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import orjson

from ._common import child_server, free_port, pin, write_result


def _calls() -> list[bytes]:
    from tool_mocks.playbook import playbook

    bodies = []
    for api, entries in sorted(playbook().items()):
        if "#" in api:
            continue
        for e in entries:
            bodies.append(orjson.dumps({"api": api, "args": e["args"]}))
    return bodies


async def _load(url: str, bodies: list[bytes], seconds: float, concurrency: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector) as s:
        for b in bodies:  # warm the cache
            async with s.post(url + "/call", data=b, headers=headers) as r:
                await r.read()
        done = 0
        statuses: dict[int, int] = {}
        stop = time.monotonic() + seconds

        async def worker(k: int) -> None:
            nonlocal done
            i = k
            while time.monotonic() < stop:
                async with s.post(url + "/call", data=bodies[i % len(bodies)], headers=headers) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                done += 1
                i += concurrency

        t0 = time.monotonic()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.monotonic() - t0
        async with s.get(url + "/stats") as r:
            stats = orjson.loads(await r.read())
    return {"calls": done, "seconds": elapsed, "calls_per_s": done / elapsed,
            "non_200": sum(v for k, v in statuses.items() if k != 200),
            "cache_hit_ratio": stats["cache_hits"] / max(1, stats["calls"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=64)
    args = p.parse_args()
    bodies = _calls()
    port = free_port()
    with child_server(["tool_mocks", "--port", str(port)], port, core=0) as url:
        pin(1)
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        result = asyncio.run(_load(url, bodies, args.seconds, args.concurrency))
    result.update(distinct_calls=len(bodies), concurrency=args.concurrency, target_calls_per_s=3000)
    path = write_result("tool_server", result)
    print(f"tool server, cached, one core: {result['calls_per_s']:,.0f} calls/s "
          f"({result['calls']:,} calls in {result['seconds']:.1f}s, "
          f"hit ratio {result['cache_hit_ratio']:.3f}, non-200 {result['non_200']}) -> {path}")


if __name__ == "__main__":
    main()
