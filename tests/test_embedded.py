"""The embedded llama-server: it starts, answers with and without a grammar, and leaves no
process behind however its block is left. Skipped unless ``ste_async[embedded]`` is installed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aiohttp
import anyio
import pytest

from ste_async.errors import ConfigError
from ste_async.llm.embedded import EmbeddedServer, find_default_model, find_server_binary
from ste_async.llm.grammar import react_grammar
from ste_async.llm.preflight import check_chat_template
from ste_async.parsing import Call, Final, parse_react

# a small model on a shared CPU: allow minutes, not the default minute
pytestmark = [pytest.mark.embedded, pytest.mark.timeout(300)]

API = "Café & Co: 14-day forecast [v2] 100%%"


def _installed() -> tuple[Path, Path]:
    try:
        return find_server_binary(), find_default_model()
    except ConfigError as exc:
        pytest.skip(f"the embedded LLM is not installed: {exc}")


def _gone(pid: int | None) -> bool:
    assert pid is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _server(model: Path, binary: Path) -> EmbeddedServer:
    return EmbeddedServer(model, binary=binary, slots=2, ctx_per_slot=2048, startup_timeout=50)


async def _chat(url: str, grammar: str | None, max_tokens: int) -> tuple[str, str]:
    body: dict[str, object] = {
        "messages": [{"role": "user", "content": f"What will the weather be in Paris? "
                      f"Answer with Thought:, Action: {API} and Action Input: as JSON."}],
        "max_tokens": max_tokens, "temperature": 0.7, "seed": 1,
    }  # fmt: skip
    if grammar is not None:
        body["grammar"] = grammar
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v1/chat/completions", json=body) as reply:
            assert reply.status == 200, await reply.text()
            choice = (await reply.json())["choices"][0]
            return choice["message"]["content"], choice["finish_reason"]


async def test_answers_with_and_without_grammar_then_stops() -> None:
    binary, model = _installed()
    lines: list[str] = []
    server = EmbeddedServer(model, binary=binary, slots=2, ctx_per_slot=2048, progress=lines.append)
    async with server:
        assert server.url.startswith("http://127.0.0.1:")
        await check_chat_template([server.url], "any", 5.0)  # the packaged model's template
        free, _ = await _chat(server.url, None, 32)
        grammar = react_grammar([API, "other"], thought_chars=60)
        step, finish = await _chat(server.url, grammar, 96)
    assert free.strip()
    assert step.startswith("Thought: ")
    if finish == "stop":  # the grammar was complete, not cut by max_tokens
        assert isinstance(parse_react(step, [API, "other"]), Call | Final), step
    assert any("ready" in line for line in lines)
    assert _gone(server.pid)


async def test_cancellation_inside_leaves_no_process() -> None:
    binary, model = _installed()
    with anyio.CancelScope() as scope:
        async with _server(model, binary) as server:
            scope.cancel()
            await anyio.sleep(30)
    assert scope.cancelled_caught
    assert _gone(server.pid)


async def test_error_inside_propagates_as_itself() -> None:
    binary, model = _installed()
    with pytest.raises(KeyError, match="boom"):
        async with _server(model, binary) as server:
            raise KeyError("boom")
    assert _gone(server.pid)


async def test_server_that_cannot_load_is_a_config_error(tmp_path: Path) -> None:
    binary, _ = _installed()
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file")
    server = _server(bad, binary)
    with pytest.raises(ConfigError, match="llama-server exited"):
        async with server:
            pass
    assert _gone(server.pid)


def test_missing_model_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.gguf"):
        find_default_model(tmp_path / "nowhere.gguf")


def test_grammar_quotes_api_names() -> None:
    grammar = react_grammar(['say "hi" \\ Café', "plain"], allow_final=False)
    assert 'api ::= "say \\"hi\\" \\\\ Caf\\u00E9" | "plain"' in grammar
    assert "Final Answer" not in grammar
    with pytest.raises(ValueError):
        react_grammar([])


def _llama_servers(parent: int | None = None) -> set[int]:
    """Pids of llama-server processes (children of ``parent`` only, when given): other
    programs on the machine may run servers of their own."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if b"llama-server" in (entry / "cmdline").read_bytes() and (
                    parent is None or ppid == parent
                ):
                    found.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def test_explore_on_the_embedded_model_then_no_server_is_left(tmp_path: Path) -> None:
    """``ste-async explore`` with no LLM option: the embedded model, one API, one episode."""
    _installed()
    from ste_async.cli import main
    from ste_async.store import iter_records

    run = tmp_path / "run"
    assert main(["explore", "--apis", "add_date", "--episodes", "1", "--trials", "1",
                 "--max-turn", "2", "--max-tokens", "96", "--out", str(run), "--quiet"]) == 0
    (record,) = iter_records(run)
    (trial,) = record.trials
    assert trial.query and trial.steps and trial.reflection is not None
    assert all(s.raw for s in trial.steps)
    meta = (run / "run.json").read_text()
    assert '"constrain_actions": true' in meta.replace(" ", "").replace('":true', '": true')
    assert not _llama_servers(parent=os.getpid())  # the server it started is gone


def test_the_server_dies_with_a_killed_engine(tmp_path: Path) -> None:
    """SIGKILL leaves no cleanup code a chance; the parent-death signal still stops the server."""
    import signal
    import subprocess
    import sys
    import time

    _installed()
    cmd = [sys.executable, "-m", "ste_async.cli", "explore", "--apis", "add_date",
           "--episodes", "1", "--trials", "1", "--out", str(tmp_path / "run"), "--quiet"]
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 120
        while not (servers := _llama_servers(parent=proc.pid)):
            assert proc.poll() is None and time.monotonic() < deadline, "no server started"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in servers)


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux only")
def test_the_wrapper_runs_the_server_only_under_its_own_parent() -> None:
    """The engine can die in the tens of milliseconds before the wrapper sets the signal: the
    wrapper, adopted by another process, must then exit instead of starting an orphan."""
    import subprocess

    from ste_async.llm.local import _PDEATHSIG, dies_with_parent

    command = dies_with_parent(["/bin/sh", "-c", "exit 7"])
    assert command[3] == str(os.getpid())
    assert subprocess.run(command, timeout=30).returncode == 7  # the server ran
    orphan = [sys.executable, "-c", _PDEATHSIG, "1", "/bin/sh", "-c", "exit 7"]
    assert subprocess.run(orphan, timeout=30).returncode == 1  # a stranger's child: no server
