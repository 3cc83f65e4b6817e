"""``kill -9`` at random moments, 20 times in a row, resuming each time.

The engine runs as a child process against a scripted LLM served from this process, which
notes the seed of every request it answers. Afterwards: the store holds exactly the expected
episodes, no duplicates and no torn lines, and no request recorded in the cassette before a
kill was ever sent to the LLM again.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web

from ste_async.store import scan_run
from tool_mocks._serve import serve_app
from tool_mocks.llm import MockLlmConfig, make_llm_app

APIS = "add_date,Numbers%%Get math fact,JAK_API%%Ben 10,search,Car database%%Makes"
EPISODES = 6
_SEED = re.compile(rb'"at":"[^"]*? seed (\d+)"')


class LlmThread:
    """The scripted LLM on its own event loop in a thread, logging served seeds per round."""

    def __init__(self) -> None:
        self.url = ""
        self.round = 0
        self.served: dict[int, list[int]] = {}
        self._ready = threading.Event()
        self._stop: Any = None
        self._thread = threading.Thread(target=lambda: anyio.run(self._main), daemon=True)

    async def _main(self) -> None:
        @web.middleware
        async def note(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.method == "POST":
                body = await request.json()
                self.served.setdefault(self.round, []).append(int(body["seed"]))
            return await handler(request)

        app = make_llm_app(MockLlmConfig(latency_ms=3))
        app.middlewares.append(note)
        self._stop = anyio.Event()
        async with serve_app(app, "127.0.0.1", 0) as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> LlmThread:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(0.1)


def recorded_seeds(run: Path) -> set[int]:
    path = run / "cassettes" / "llm.jsonl"
    if not path.exists():
        return set()
    return {int(m.group(1)) for m in _SEED.finditer(path.read_bytes())}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_twenty_kills_then_resume(tmp_path: Path) -> None:
    rng = random.Random(20)
    run = tmp_path / "run"
    with LlmThread() as llm:
        episodes = EPISODES

        def cmd() -> list[str]:
            return [sys.executable, "-m", "ste_async.cli", "explore", "--llm-url", llm.url,
                    "--apis", APIS, "--episodes", str(episodes), "--out", str(run), "--quiet"]

        recorded_before: list[set[int]] = []
        kills = 0
        while kills < 20:
            llm.round = len(recorded_before)
            recorded_before.append(recorded_seeds(run))
            argv = cmd() + (["--resume"] if (run / "run.json").exists() else [])
            with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
                time.sleep(rng.uniform(0.3, 1.2))
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    kills += 1
                _, err = proc.communicate()
            if proc.returncode == 0:
                # the run finished before the kill: give it more episodes to be killed in
                episodes += EPISODES
            else:
                assert proc.returncode == -signal.SIGKILL, err.decode()
        llm.round = len(recorded_before)
        recorded_before.append(recorded_seeds(run))
        final = subprocess.run([*cmd(), "--resume"], capture_output=True, timeout=120)
        assert final.returncode == 0, final.stderr.decode()

    scan = scan_run(run)
    expected = {f"{api}#{e}" for api in APIS.split(",") for e in range(episodes)}
    assert set(scan.heads) == expected
    assert scan.duplicates == 0 and scan.corrupt == 0
    # the kills landed mid-run: most rounds did LLM work before they were killed
    assert sum(1 for seeds in llm.served.values() if seeds) >= 10
    # a request recorded before round r's start is never served in round r
    for r, before in enumerate(recorded_before):
        again = before & set(llm.served.get(r, []))
        assert not again, f"round {r} asked the LLM again for {len(again)} recorded request(s)"
