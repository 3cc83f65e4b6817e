"""The command line as a user meets it: a real run, the export layout, errors, Ctrl-C."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ste_async._runtime import explain
from ste_async.cli import main
from ste_async.errors import ConfigError, ConnectError, RetryBudgetExceeded, StoreError
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
        (["--episodes", "0"], "episodes must be between 1 and 1,000,000, got 0"),
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
    assert needle in err[-1] and err[-1].startswith("ste-async explore: error: ")


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


@pytest.mark.parametrize(("exc", "code", "line"), [
    (ConfigError("bad --apis"), 2, "bad --apis"),
    (StoreError("r is being written by another process"), 2,
     "r is being written by another process"),
    (RetryBudgetExceeded("gave up", attempts=3, last=ConnectError("x")), 1, "gave up"),
    (OSError(errno.ENOSPC, "No space left on device", "runs/r/episodes/a.jsonl"), 1,
     "runs/r/episodes/a.jsonl: no space left on the device"),
    (PermissionError(errno.EACCES, "Permission denied", "runs/r/.lock"), 1,
     "runs/r/.lock: Permission denied"),
    (RecursionError(), 2, "the input is nested too deeply to read"),
    (ExceptionGroup("tg", [ExceptionGroup("inner", [ConfigError("deep\ninside")])]), 2,
     "deep inside"),
])
def test_expected_failures_are_one_line_with_their_code(exc: BaseException, code: int,
                                                        line: str) -> None:
    assert explain(exc) == (code, line)


def test_a_bug_is_not_dressed_as_an_expected_failure() -> None:
    assert explain(KeyError("x")) is None
    assert explain(ExceptionGroup("tg", [KeyError("x")])) is None


def test_an_os_error_from_a_command_is_one_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = blocker / "run"  # its parent is a file: the run directory cannot be made
    assert main(["explore", "--llm", "mock", "--apis", "add_date", "--episodes", "1",
                 "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ste-async explore: error: cannot read")
    assert err[0].endswith("Not a directory")


def test_verbose_anywhere_shows_the_traceback(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--llm", "mock", "--apis", "Placez", "--out", str(tmp_path / "r"), "--quiet"]
    assert main(["explore", *argv, "-v"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "unknown API 'Placez'" in err.splitlines()[-1]
    assert main(["explore", *argv]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("ste-async 0.")


def _explore(run: Path, *extra: str) -> int:
    return main(["explore", "--llm", "mock", "--apis", "add_date,forecast_weather",
                 "--trials", "1", "--out", str(run), "--quiet", *extra])


def test_a_resume_continues_the_recorded_settings(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _explore(run, "--episodes", "2") == 0
    # no --episodes: the run keeps its 2 per API (the default, 15, is not silently applied)
    assert _explore(run, "--resume") == 0
    assert len(scan_run(run).heads) == 4
    card = json.loads((run / "run.json").read_text())
    assert card["config"]["episodes"] == 2 and card["cassette"] == "record"
    assert _explore(run, "--resume", "--episodes", "3") == 0  # more episodes: allowed
    assert len(scan_run(run).heads) == 6


@pytest.mark.parametrize(("change", "needle"), [
    (["--episodes", "1"], "may add episodes, not drop them"),
    (["--apis", "add_date"], "apis="),
    (["--cassette", "off"], "cassette='record'; this run has cassette='off'"),
    (["--trials", "2"], "trials=1; this run has trials=2"),
])
def test_a_resume_that_contradicts_the_run_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: list[str],
        needle: str) -> None:
    run = tmp_path / "run"
    assert _explore(run, "--episodes", "2") == 0
    before = (run / "run.json").read_bytes()
    argv = ["explore", "--llm", "mock", "--out", str(run), "--quiet", "--resume", *change]
    if "--apis" not in change:
        argv += ["--apis", "add_date,forecast_weather"]
    capsys.readouterr()
    assert main(argv) == 2
    assert needle in capsys.readouterr().err
    assert (run / "run.json").read_bytes() == before  # the card still describes the run


def test_episodes_without_a_run_card_are_adopted_only_with_resume(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert _explore(run, "--episodes", "1") == 0
    (run / "run.json").unlink()
    assert _explore(run, "--episodes", "1") == 2
    assert "holds episodes but no run.json" in capsys.readouterr().err
    assert _explore(run, "--episodes", "2", "--resume") == 0
    assert len(scan_run(run).heads) == 4 and (run / "run.json").exists()


@pytest.mark.parametrize("apis", [",", " , ", "@empty.txt"])
def test_an_empty_api_selection_is_an_error(tmp_path: Path, apis: str,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.txt").write_text("\n\n")
    assert main(["explore", "--llm", "mock", "--apis", apis, "--out", "r", "--quiet"]) == 2
    assert "names no API" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_config_or_api_list_that_is_not_utf8_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"[explore]\nepisodes = 1 # \xff\xfe\n")
    assert main(["explore", "--config", str(bad), "--llm", "mock", "--quiet"]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err
    names = tmp_path / "apis.txt"
    names.write_bytes(b"add_date\n\xff\n")
    assert main(["explore", "--apis", f"@{names}", "--llm", "mock", "--quiet"]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


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


def test_every_option_of_every_command_has_help_that_shows_its_default() -> None:
    import argparse

    from ste_async.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lacking: list[str] = []
    for name, command in commands.choices.items():
        text = command.format_help()
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not action.help:
                lacking.append(f"{where}: no help")
                continue
            shown = command._get_formatter()._expand_help(action) if action.help else ""
            takes_value = action.nargs != 0 and action.option_strings
            if (takes_value and action.default not in (None, argparse.SUPPRESS)
                    and "default" not in shown):
                lacking.append(f"{where}: default {action.default!r} not shown")
        assert "--verbose" in text
    assert not lacking, "\n".join(lacking)
