"""Helpers shared by the benchmarks: child servers pinned to a core, results on disk."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

__all__ = ("RESULTS", "child_server", "explore_command", "free_port", "mock_servers", "pin",
           "summary_calls", "write_result")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(core: int) -> None:
    """Pin this process to one core where the OS allows it (Linux)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > core:
        os.sched_setaffinity(0, {core})


@contextlib.contextmanager
def child_server(args: list[str], port: int, core: int | None = None,
                 health: str = "/health") -> Iterator[str]:
    """Run ``python -m ...args`` as a child (pinned to ``core``), wait for health, yield URL."""
    cmd = [sys.executable, "-m", *args]
    if core is not None and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > core:
        cmd = ["taskset", "-c", str(core), *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + health, timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"server {' '.join(args)} did not start: {err[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def mock_servers(latency_ms: float, spread: float = 0.2) -> Iterator[tuple[str, str]]:
    """The scripted LLM (answering after ``latency_ms``, give or take ``spread``) and the tool
    server, each a child process of its own; yields their URLs."""
    llm_port, tools_port = free_port(), free_port()
    with child_server(["ste_async.cli", "serve-llm", "--backend", "mock", "--port",
                       str(llm_port), "--latency-ms", str(latency_ms),
                       "--latency-spread", str(spread)], llm_port) as llm, \
            child_server(["tool_mocks", "--port", str(tools_port)], tools_port) as tools:
        yield llm, tools


def explore_command(llm: str, tools: str, apis: int, in_flight: int, waves: int, out: str,
                    *extra: str) -> list[str]:
    """``ste-async explore`` keeping ``in_flight`` episodes going over ``apis`` APIs for
    ``waves`` episodes a lane, one trial each, unrecorded and quiet."""
    lanes = -(-in_flight // apis)
    return [sys.executable, "-m", "ste_async.cli", "explore", "--llm-url", llm,
            "--tools-url", tools, "--episodes", str(waves * lanes), "--trials", "1",
            "--lanes", str(lanes), "--max-episodes", str(in_flight),
            "--llm-concurrency", str(in_flight), "--tool-concurrency", "1024",
            "--cassette", "off", "--quiet", "--out", out, *extra]


# explore's last summary line: "episodes ... | LLM 1,234 calls (56.0/s) | retries: ... | 7.8s"
_SUMMARY = re.compile(r"\| LLM ([\d,]+) calls \(.*\| ([\d,.]+)s$", re.MULTILINE)


def summary_calls(stdout: str) -> tuple[int, float]:
    """The LLM calls and the seconds of the run that explore's summary line reports."""
    found = _SUMMARY.search(stdout)
    if found is None:
        raise RuntimeError(f"no summary in the output: {stdout[-2000:]}")
    return int(found.group(1).replace(",", "")), float(found.group(2).replace(",", ""))


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"benchmark": name, "machine": platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), **data}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


async def explore_mock(config: Any, run_dir: str | Path, mock: Any, **options: Any) -> Any:
    """An exploration against the scripted LLM ``mock`` and the in-process tool server,
    started the way the command line starts them."""
    from ste_async.explore.runner import explore
    from ste_async.services import LlmChoice, open_services

    async with open_services(LlmChoice(mock=mock), catalog=config.catalog,
                             seed=config.seed) as endpoints:
        return await explore(config, run_dir, endpoints, **options)
