"""The vLLM launcher, against a stand-in executable (tests/fake_vllm.py) that speaks vLLM's
command line and serves the scripted LLM: command, replicas, GPU placement, health wait,
errors that quote the server's log, and no process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest

from ste_async.errors import ConfigError
from ste_async.llm.local import serve_all
from ste_async.llm.vllm import VLLM_ENV, VllmServer, find_vllm, replicas

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in is a shell script")


@pytest.fixture
def fake_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "bin" / "vllm"
    script.parent.mkdir()
    fake = Path(__file__).with_name("fake_vllm.py")
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
    script.chmod(0o755)
    record = tmp_path / "record"
    record.mkdir()
    monkeypatch.setenv(VLLM_ENV, str(script))
    monkeypatch.setenv("FAKE_VLLM_RECORD", str(record))
    return record


def _records(folder: Path) -> dict[int, dict]:
    """What each replica of the stand-in wrote, by port."""
    return {int(p.stem): orjson.loads(p.read_bytes()) for p in folder.iterdir()}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state == "Z"


async def test_replicas_serve_the_model_and_stop(fake_vllm: Path) -> None:
    servers = replicas("org/tiny-chat", 3, port=0, gpus=["0", "1"], gpu_memory=0.9,
                       max_num_seqs=64, extra_args=["--max-model-len", "4096"])
    async with serve_all(servers) as urls:
        assert len(set(urls)) == 3
        async with aiohttp.ClientSession() as session:
            for url in urls:
                async with session.get(f"{url}/v1/models") as reply:
                    assert [m["id"] for m in (await reply.json())["data"]] == ["org/tiny-chat"]
    seen = _records(fake_vllm)
    by_port = [seen[s.port] for s in servers]
    assert [r["gpu"] for r in by_port] == ["0", "1", "0"]  # round-robin over the GPUs
    assert [r["gpu_memory"] for r in by_port] == [0.45, 0.9, 0.45]  # sharers split the memory
    first = by_port[0]["argv"]
    assert first[:2] == ["serve", "org/tiny-chat"]
    assert "--enable-prefix-caching" in first and first[first.index("--max-num-seqs") + 1] == "64"
    assert by_port[0]["extra"] == ["--max-model-len", "4096"]
    assert servers[0].describe().startswith("CUDA_VISIBLE_DEVICES=0 ")
    assert all(_gone(r["pid"]) for r in by_port)


async def test_a_server_that_dies_while_starting_is_quoted(fake_vllm: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VLLM", "fail")
    with pytest.raises(ConfigError, match=r"vLLM exited with status 3") as info:
        async with VllmServer("org/tiny-chat"):
            pass
    assert "CUDA out of memory" in str(info.value)


async def test_health_timeout_names_the_wait_and_stops_every_replica(
        fake_vllm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VLLM", "hang")
    servers = replicas("org/tiny-chat", 2, port=0, startup_timeout=1.0, stop_timeout=2.0)
    with pytest.raises(ConfigError, match=r"did not become ready within 1 s") as info:
        async with serve_all(servers):
            pass
    assert "compiling graphs" in str(info.value)  # the server's last words
    assert all(s.pid is not None and _gone(s.pid) for s in servers)


def test_missing_or_bad_executable_says_what_to_do(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VLLM_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"nowhere .*not an executable"):
        find_vllm()
    monkeypatch.delenv(VLLM_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ConfigError, match=r"pip install 'ste_async\[vllm\]'"):
        find_vllm()


def test_bad_launch_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        VllmServer("")
    with pytest.raises(ConfigError, match="GPU memory fraction"):
        VllmServer("m", gpu_memory=1.5)
    with pytest.raises(ConfigError, match="at least 1"):
        replicas("m", 0)


def test_serve_llm_then_explore_across_the_replicas(fake_vllm: Path, tmp_path: Path) -> None:
    """The user's path: serve-llm prints the URLs and the explore line; explore runs on both
    replicas; Ctrl-C (SIGINT) stops serve-llm and its servers."""
    from ste_async.cli import main
    from ste_async.store import iter_records

    serve = subprocess.Popen(
        [sys.executable, "-m", "ste_async.cli", "serve-llm", "--backend", "vllm", "--model",
         "org/tiny-chat", "--replicas", "2", "--port", "0", "--", "--max-model-len", "4096"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None
        lines = []
        while not (line := serve.stdout.readline()).startswith("explore with:"):
            assert line, f"serve-llm ended early: {serve.stderr.read() if serve.stderr else ''}"
            lines.append(line)
        assert [x.split(" serving at ")[0] for x in lines] == ["vLLM", "vLLM"]
        urls = line.split()[5::2]
        assert len(urls) == 2 and all(u.startswith("http://127.0.0.1:") for u in urls)
        run = tmp_path / "run"
        assert main(["explore", "--apis", "add_date,forecast_weather", "--episodes", "2",
                     "--trials", "1", "--model", "org/tiny-chat", "--out", str(run), "--quiet",
                     *(a for u in urls for a in ("--llm-url", u))]) == 0
        assert len(list(iter_records(run))) == 4
    finally:
        serve.send_signal(signal.SIGINT)
        _, err = serve.communicate(timeout=30)
    assert serve.returncode == 130, err  # stopped by Ctrl-C, as every command reports it
    assert err.count("$ ") == 2 and "--served-model-name org/tiny-chat" in err  # commands shown
    assert all(_gone(r["pid"]) for r in _records(fake_vllm).values())
