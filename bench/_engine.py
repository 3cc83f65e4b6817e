"""Running the engine against child mock servers, measuring wall and CPU time."""

from __future__ import annotations

import tempfile
import time
from typing import Any

import anyio
import msgspec

from ste_async.config import load_explore_config
from ste_async.explore.runner import explore
from ste_async.session import Endpoints

__all__ = ("run_engine",)


def run_engine(llm_url: str, tools_url: str, **settings: Any) -> dict[str, Any]:
    """One exploration run into a temporary directory; returns its measurements."""
    config = load_explore_config(None, **settings)  # flat LLM keys (llm_concurrency) allowed
    endpoints = Endpoints(llm_urls=(llm_url,), tools_url=tools_url)
    with tempfile.TemporaryDirectory(prefix="ste-bench-") as tmp:
        cpu0, t0 = time.process_time(), time.perf_counter()
        outcome = anyio.run(
            lambda: explore(config, tmp, endpoints, handle_signals=False),
            backend="asyncio", backend_options={"use_uvloop": True},
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        # (measured before the directory is removed: deleting it is not the engine's work)
    m = outcome.metrics
    return {
        "settings": {k: len(v) if k == "apis" else v for k, v in msgspec.to_builtins(settings).items()},
        "episodes": m.done,
        "llm_calls": m.llm_calls,
        "prompt_tokens": m.prompt_tokens,
        "tool_calls": sum(m.tool_kinds.values()),
        "wall_s": wall,
        "cpu_s": cpu,
        "llm_calls_per_s": m.llm_calls / wall,
        "cpu_ms_per_llm_call": 1000 * cpu / max(1, m.llm_calls),
    }
