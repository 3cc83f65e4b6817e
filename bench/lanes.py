"""What lanes cost: long-term memory visible at imagination time, and avoidable repeats.

The 50-API protocol (15 episodes x 4 trials) against the scripted LLM (20 ms per call) with
lanes 1, 4 and 16. With more lanes, episodes of one API imagine their queries side by side,
each seeing less of the others' memory. Two measures per run:

- memory shown: the mean number of earlier queries listed in the imagination prompt;
- avoidable repeats: imagined queries that repeat an earlier query of the same API while the
  scripted LLM still had unused ones (its playbook holds 6-8 queries per API; it avoids the
  ones it is shown), as a share of all imagined queries.

    python -m bench.lanes [--lanes 1,4,16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import anyio

from ste_async.config import ExploreConfig, LlmSettings
from ste_async.store import iter_records
from tool_mocks.llm import MockLlmConfig
from tool_mocks.playbook import playbook

from ._common import RESULTS, explore_mock, write_result


def measure(lanes: int, episodes: int, latency_ms: float) -> dict[str, Any]:
    config = ExploreConfig(episodes=episodes, lanes=lanes, max_episodes=4096,
                           llm=LlmSettings(concurrency=4096))
    with tempfile.TemporaryDirectory(prefix="ste-lanes-") as tmp:
        t0 = time.perf_counter()
        anyio.run(lambda: explore_mock(config, tmp, MockLlmConfig(latency_ms=latency_ms),
                                  cassette="off", handle_signals=False),
                  backend="asyncio", backend_options={"use_uvloop": True})
        wall = time.perf_counter() - t0
        records = list(iter_records(tmp))
    book = playbook()
    shown, trials, avoidable = 0, 0, 0
    by_api: dict[str, list[Any]] = {}
    for r in records:
        by_api.setdefault(r.api, []).append(r)
    sequential_shown = 0
    for api, eps in by_api.items():
        size = len(book[api])
        # order of imagination: episodes by number, trials in order (exact for lanes=1)
        seen: set[str] = set()
        for r in sorted(eps, key=lambda e: e.episode):
            for t in r.trials:
                trials += 1
                shown += t.memory_shown
                sequential_shown += r.episode * len(r.trials) + t.index
                if t.query in seen and len(seen) < size:
                    avoidable += 1
                seen.add(t.query)
    return {"lanes": lanes, "wall_s": wall, "trials": trials,
            "memory_shown_mean": shown / trials,
            "memory_shown_if_sequential": sequential_shown / trials,
            "avoidable_repeat_share": avoidable / trials}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lanes", default="1,4,16")
    p.add_argument("--episodes", type=int, default=15)
    p.add_argument("--latency-ms", type=float, default=20.0)
    args = p.parse_args()
    points = []
    for lanes in (int(x) for x in args.lanes.split(",")):
        point = measure(lanes, args.episodes, args.latency_ms)
        points.append(point)
        print(f"lanes {lanes:>2}: memory shown {point['memory_shown_mean']:.1f} of "
              f"{point['memory_shown_if_sequential']:.1f} (sequential); avoidable repeats "
              f"{100 * point['avoidable_repeat_share']:.1f}%; {point['wall_s']:.1f}s", flush=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax1 = plt.subplots(figsize=(6.5, 4))
    xs = [p["lanes"] for p in points]
    ax1.plot(xs, [p["memory_shown_mean"] for p in points], "o-", color="tab:blue",
             label="memory shown at imagination (mean entries)")
    ax1.axhline(points[0]["memory_shown_if_sequential"], color="tab:blue", ls=":",
                label="sequential (lanes=1) expectation")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("lanes (episodes of one API at once)")
    ax1.set_ylabel("entries shown", color="tab:blue")
    ax2 = ax1.twinx()
    ax2.plot(xs, [100 * p["avoidable_repeat_share"] for p in points], "s-", color="tab:red",
             label="avoidable repeats (%)")
    ax2.set_ylabel("avoidable repeats, % of queries", color="tab:red")
    ax1.set_title("Lanes vs long-term memory and query diversity")
    fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0.88), fontsize=8)
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    png = RESULTS / "lanes.png"
    fig.savefig(png, dpi=110)
    path = write_result("lanes", {"points": points, "plot": str(png)})
    print(f"-> {path}, {png}")


if __name__ == "__main__":
    main()
