"""Every command against broken input and a broken environment: one line, the right exit
code, no traceback, no temporary file left behind, and nothing written before lost.

The full-disk and read-only cases run on a small tmpfs mounted for the test (root only); where
it cannot be mounted they skip, saying why.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ste_async.cli import main
from ste_async.store import scan_run

APIS = "add_date,forecast_weather"


def _one_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"ste-async {command}: error: "), err
    return last


def _explore(out: Path, *extra: str) -> int:
    return main(["explore", "--llm", "mock", "--apis", APIS, "--trials", "1", "--out",
                 str(out), "--quiet", *extra])


def _no_temporary_files(folder: Path) -> None:
    assert not [p for p in folder.rglob("*.tmp")], "a temporary file was left behind"


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}); "
                    "the full-disk and read-only cases need root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with _tmpfs(tmp_path / f"disk-{uuid.uuid4().hex[:6]}", "160k") as disk:
        yield disk


# ---------------------------------------------------------------- a full disk


def test_explore_on_a_full_disk_is_one_line_and_keeps_what_was_written(
        small_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = small_disk / "run"
    assert _explore(run, "--episodes", "1") == 0
    before = scan_run(run)
    assert len(before.heads) == 2
    capsys.readouterr()
    assert _explore(run, "--episodes", "200", "--resume") == 1
    assert "no space left on the device" in _one_line(capsys, "explore")
    after = scan_run(run)
    assert set(before.heads) <= set(after.heads)  # nothing finished before was lost
    assert after.duplicates == 0
    _no_temporary_files(run)


def test_distill_and_export_on_a_full_disk(tmp_path: Path, small_disk: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert _explore(run, "--episodes", "2") == 0
    on_disk = small_disk / "run"
    shutil.copytree(run, on_disk)
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"x" * max(0, free - 4096))  # a few KB left
    capsys.readouterr()
    assert main(["distill", str(on_disk), "--llm", "mock"]) == 1
    assert "no space left on the device" in _one_line(capsys, "distill")
    _no_temporary_files(on_disk)
    assert main(["export", str(run), "--out", str(small_disk / "data_dict.json")]) == 1
    assert "no space left on the device" in _one_line(capsys, "export")
    _no_temporary_files(small_disk)
    assert not (small_disk / "data_dict.json").exists()
    assert len(scan_run(on_disk).heads) == 4  # the copied episodes are intact


def test_a_read_only_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    with _tmpfs(tmp_path / "ro", "512k") as disk:
        run = disk / "run"
        assert _explore(run, "--episodes", "1") == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        capsys.readouterr()
        assert _explore(run, "--episodes", "2", "--resume") == 2
        assert "Read-only file system" in _one_line(capsys, "explore")
        assert main(["export", str(run)]) == 1  # data_dict.json goes into the run
        assert "Read-only file system" in _one_line(capsys, "export")
        assert main(["export", str(run), "--out", str(tmp_path / "d.json")]) == 0
        assert json.loads((tmp_path / "d.json").read_text())
        assert main(["distill", str(run), "--llm", "mock"]) == 2
        assert "Read-only file system" in _one_line(capsys, "distill")
        assert len(scan_run(run).heads) == 2


# ---------------------------------------------------------------- broken input


@pytest.fixture(scope="module")
def explored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("faults") / "run"
    assert _explore(run, "--episodes", "2") == 0
    return run


@pytest.mark.parametrize("card", [b"", b'{"schema": 2, "config": {', b"[1, 2]", b'"run"',
                                  b'{"schema": 2, "config": {"episodes": "x"}, "apis": [], '
                                  b'"model": "m", "cassette": "record"}'])
@pytest.mark.parametrize("command", [["export"], ["replay"], ["distill", "--llm", "mock"],
                                     ["explore-resume"]])
def test_an_unreadable_run_card(tmp_path: Path, explored: Path, card: bytes,
                                command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(explored, run)
    (run / "run.json").write_bytes(card)
    if command == ["explore-resume"]:
        code, name = _explore(run, "--resume"), "explore"
    else:
        code, name = main([command[0], str(run), *command[1:]]), command[0]
    assert code == 2
    assert "run.json is corrupt" in _one_line(capsys, name)
    assert len(scan_run(run).heads) == 4


@pytest.mark.parametrize(("config", "needle"), [
    ("explore = 5\n", "[explore] must be a table"),
    ("explore = [1, 2]\n", "[explore] must be a table"),
    ("[explore]\nepisodes = 'many'\n", "Expected `int`"),
    ("[explore]\nepisodes = 9223372036854775807\n", "episodes must be between 1 and"),
    ("[explore]\nlanes = -1\n", "lanes must be between 1 and"),
    ("[explore.llm]\nconcurrency = 0\n", "llm concurrency must be between 1"),
    ("[explore]\nnot_a_setting = 1\n", "not_a_setting"),
])
def test_a_bad_config(tmp_path: Path, config: str, needle: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config)
    out = tmp_path / "run"
    assert main(["explore", "--config", str(path), "--llm", "mock", "--out", str(out),
                 "--quiet"]) == 2
    assert needle in _one_line(capsys, "explore")
    assert not out.exists()  # nothing written for a run that never started


def test_an_empty_distillation_card_on_resume(tmp_path: Path, explored: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(explored, run)
    assert main(["distill", str(run), "--llm", "mock"]) == 0
    (run / "distill" / "distill.json").write_bytes(b"")
    capsys.readouterr()
    assert main(["distill", str(run), "--llm", "mock", "--resume"]) == 2
    assert "distill.json is corrupt" in _one_line(capsys, "distill")


def test_a_prediction_file_nested_too_deeply(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["score", str(path)]) == 2
    last = _one_line(capsys, "score")
    assert "nested too deeply" in last or "p.json" in last


def test_a_resume_with_other_apis_leaves_the_card_alone(
        tmp_path: Path, explored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(explored, run)
    before = json.loads((run / "run.json").read_text())
    assert main(["explore", "--llm", "mock", "--apis", "add_date", "--out", str(run),
                 "--quiet", "--resume"]) == 2
    assert "apis=" in _one_line(capsys, "explore")
    assert json.loads((run / "run.json").read_text()) == before


def test_a_catalog_entry_of_the_wrong_shape(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "API_descriptions.json"
    entry = {"description": "Adds days to a date.", "required_parameters": 5,
             "optional_parameters": []}
    path.write_text(json.dumps({"Dates%%add": json.dumps(entry)}))
    assert main(["explore", "--catalog", str(path), "--llm", "mock", "--out",
                 str(tmp_path / "r"), "--quiet"]) == 2
    line = _one_line(capsys, "explore")
    assert "'Dates%%add'" in line and "'required_parameters' must be an array" in line


@pytest.mark.parametrize(("case", "needle"), [
    ("config not UTF-8", "is not UTF-8 text"),
    ("API list not UTF-8", "is not UTF-8 text"),
    ("empty --apis", "names no API"),
    ("empty API list file", "names no API"),
    ("resume with --cassette off", "cassette='record'; this run has cassette='off'"),
    ("resume with fewer episodes", "may add episodes, not drop them"),
    ("episodes without run.json", "holds episodes but no run.json"),
])
def test_nothing_is_accepted_silently(tmp_path: Path, explored: Path, case: str, needle: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(explored, run)
    before = (run / "run.json").read_bytes()
    argv = ["explore", "--llm", "mock", "--out", str(run), "--quiet"]
    bad = tmp_path / "bad"
    if case == "config not UTF-8":
        bad.write_bytes(b"[explore]\nepisodes = 2 # \xff\n")
        argv += ["--config", str(bad)]
    elif case == "API list not UTF-8":
        bad.write_bytes(b"add_date\n\xfe\n")
        argv += ["--apis", f"@{bad}"]
    elif case == "empty --apis":
        argv += ["--apis", ","]
    elif case == "empty API list file":
        bad.write_text("\n")
        argv += ["--apis", f"@{bad}"]
    elif case == "resume with --cassette off":
        argv += ["--resume", "--cassette", "off"]
    elif case == "resume with fewer episodes":
        argv += ["--resume", "--episodes", "1"]
    else:
        (run / "run.json").unlink()
        argv += ["--apis", APIS, "--trials", "1", "--episodes", "2"]
    capsys.readouterr()
    assert main(argv) == 2
    assert needle in _one_line(capsys, "explore")
    if (run / "run.json").exists():
        assert (run / "run.json").read_bytes() == before
    assert len(scan_run(run).heads) == 4
