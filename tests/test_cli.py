"""The command line as a user meets it: a real run, the export layout, errors, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ste_async.cli import main
from ste_async.store import scan_run

API = "Places%%Geographic coordinates by placename"


def test_explore_mock_then_export_the_study_layout(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    apis = f"{API},add_date,JAK_API%%Ben 10"
    assert main(["explore", "--llm", "mock", "--apis", apis, "--episodes", "2", "--out",
                 str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "add_date" in out and "episodes 6 new" in out
    assert main(["export", "--format", "ste", str(run)]) == 0
    data = json.loads((run / "data_dict.json").read_text())
    assert list(data) == [a for a in json.loads((run / "run.json").read_text())["apis"]]
    assert len(data) == 3
    for sessions in data.values():
        assert len(sessions) == 2
        for session in sessions:
            assert len(session["item_list"]) == 4
            assert all(set(item) == {"query", "chains"} for item in session["item_list"])
            roles = [m["role"] for m in session["messages"]]
            assert roles[0] == "system" and roles.count("assistant") >= 4 * 3
    # a second run into the same folder is refused unless resumed
    assert main(["explore", "--llm", "mock", "--apis", apis, "--episodes", "2", "--out",
                 str(run), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["explore", "--llm", "mock", "--apis", apis, "--episodes", "3", "--out",
                 str(run), "--quiet", "--resume"]) == 0
    assert len(scan_run(run).heads) == 9


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--apis", "Placez"], "unknown API 'Placez'"),
        (["--episodes", "0"], "episodes must be >= 1"),
        (["--llm-url", "http://127.0.0.1:9"], "LLM server http://127.0.0.1:9 is unreachable"),
        (["--llm-url", "localhost:8000"], "must start with http://"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path: Path, argv: list[str], needle: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["explore", "--out", str(tmp_path / "r"), "--quiet", "--apis", "add_date"]
    if "--llm-url" not in argv:
        base += ["--llm", "mock"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert needle in err[-1] and err[-1].startswith("error: ")


def test_config_file_unknown_key_and_wrong_type(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[explore]\nepisodez = 3\n")
    assert main(["explore", "--config", str(cfg), "--llm", "mock", "--quiet"]) == 2
    assert "episodez" in capsys.readouterr().err
    cfg.write_text("[explore]\nepisodes = 'three'\n")
    assert main(["explore", "--config", str(cfg), "--llm", "mock", "--quiet"]) == 2
    assert "episodes" in capsys.readouterr().err


def test_ctrl_c_drains_keeps_results_and_exits_130(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "ste_async.cli", "explore", "--llm", "mock",
           "--mock-latency-ms", "20", "--episodes", "3", "--out", str(run), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size for p in (run / "episodes").glob("*.jsonl")
                      if (run / "episodes").is_dir()):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err
    first = scan_run(run)
    assert first.corrupt == 0 and 0 < len(first.heads) < 150
    assert main(["explore", "--llm", "mock", "--episodes", "3", "--out", str(run), "--quiet",
                 "--resume"]) == 0
    final = scan_run(run)
    assert len(final.heads) == 150 and final.duplicates == 0


@pytest.mark.parametrize("read_first", [0, 200])
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path,
                                                          read_first: int) -> None:
    """`ste-async score FILE --json | head -c 200`: once the reader has closed the pipe, the
    command stops without a traceback or a message (exit 141, as for SIGPIPE)."""
    # enough APIs that the per-API report outgrows the pipe's buffer: the writer is still
    # writing when the reader leaves
    predictions = {f"api_{i}": [{"query": "q", "model_output": f"Action: api_{i}\nAction Input: {{}}",
                                 "action": f"api_{i}", "action_input": "{}", "args_correct": "1"}]
                   for i in range(1500)}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions), encoding="utf-8")
    cmd = [sys.executable, "-m", "ste_async.cli", "score", str(path), "--json", "--per-api"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stderr is not None
    try:
        head = proc.stdout.read(read_first)
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert len(head) == read_first
    assert err.decode() == "" and code == 141
