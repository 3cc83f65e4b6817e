"""Retry counts survive a kill: the resumed run's summary counts the retries of every exchange
its episodes are made of, replayed ones included, exactly as the cassettes recorded them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec
from aiohttp import web

from ste_async.store import scan_run
from tool_mocks._serve import serve_app
from tool_mocks.config import FaultConfig, ToolServerConfig
from tool_mocks.llm import MockLlmConfig, make_llm_app
from tool_mocks.server import serve_tools

APIS = "add_date,Numbers%%Get math fact,search"
_SUMMARY = re.compile(r"retries: tool (\d+), LLM (\d+)")


class Servers:
    """A scripted LLM that answers every fifth request with a 503 (the retry then gets the
    reply), and a tool server with 20% injected server errors, on an event loop of their
    own."""

    def __init__(self) -> None:
        self.llm = self.tools = ""
        self._ready = threading.Event()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=lambda: anyio.run(self._main), daemon=True)

    async def _main(self) -> None:
        requests = 0

        @web.middleware
        async def flaky(request: web.Request, handler: Any) -> web.StreamResponse:
            nonlocal requests
            if request.method == "POST" and request.path.endswith("/chat/completions"):
                requests += 1
                if requests % 5 == 0:
                    return web.json_response({"error": {"message": "busy"}}, status=503)
            return await handler(request)

        app = make_llm_app(MockLlmConfig(latency_ms=2))
        app.middlewares.append(flaky)
        tools = ToolServerConfig(port=0, faults=FaultConfig(server_error=0.2))
        async with serve_app(app, "127.0.0.1", 0) as llm, serve_tools(tools) as tools_url:
            self.llm, self.tools = llm, tools_url
            self._ready.set()
            await anyio.to_thread.run_sync(self._halt.wait)

    def __enter__(self) -> Servers:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self._thread.join(10)


class _Line(msgspec.Struct):
    key: str
    at: str
    attempts: int = 1


def _retries_in(cassette: Path, episodes: set[str], tool: bool) -> int:
    seen: set[str] = set()
    total = 0
    for raw in cassette.read_bytes().splitlines():
        line = msgspec.json.decode(raw, type=_Line)
        if line.key in seen:
            continue
        seen.add(line.key)
        episode = line.at.rsplit("/", 2)[0] if tool else line.at.rsplit(" seed ", 1)[0]
        if episode in episodes:
            total += line.attempts - 1
    return total


def test_a_resumed_run_counts_the_retries_its_cassettes_recorded(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = tmp_path / "c.toml"
    config.write_text("[explore]\ntool_retry = {attempts = 20, base = 0.001, cap = 0.005}\n"
                      "[explore.llm]\nretry = {attempts = 20, base = 0.001, cap = 0.005}\n")
    with Servers() as servers:
        cmd = [sys.executable, "-m", "ste_async.cli", "explore", "--config", str(config),
               "--llm-url", servers.llm, "--tools-url", servers.tools, "--apis", APIS,
               "--episodes", "4", "--trials", "2", "--out", str(run), "--quiet"]
        first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (run / "episodes").is_dir() or not any(
                p.stat().st_size for p in (run / "episodes").glob("*.jsonl")):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        before = set(scan_run(run).heads)
        resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True,
                                 timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr
    found = _SUMMARY.search(resumed.stdout)
    assert found is not None, resumed.stdout
    after = set(scan_run(run).heads)
    now = after - before
    assert len(after) == 12 and now
    tool_retries = _retries_in(run / "cassettes" / "tools.jsonl", now, tool=True)
    llm_retries = _retries_in(run / "cassettes" / "llm.jsonl", now, tool=False)
    assert llm_retries > 0 and tool_retries > 0  # the faults did happen
    assert (int(found.group(1)), int(found.group(2))) == (tool_retries, llm_retries)
