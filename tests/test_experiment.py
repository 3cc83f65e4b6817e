"""``python -m bench.experiment`` end to end on a tiny size, killed mid-way and resumed.

The scripted LLM explores and judges; the packaged model answers the test items, is really
fine-tuned for a few LoRA steps, served with its adapter by llama.cpp, and asked again. Needs
the ``[train]`` extra, the embedded model, matplotlib and the study's test set; skipped
otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ste_async.errors import ConfigError
from ste_async.llm.embedded import find_default_model, find_server_binary

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT.parent / "shared" / "reference" / "ste" / "tool_test.json"
NEEDED = ("torch", "transformers", "peft", "trl", "datasets", "gguf", "matplotlib")
EARLIER = ("test.json", "zero-shot.json", "explore/run.json", "explore/distill/dataset.json",
           "icl.json")
TINY = ["--explorer-llm", "mock", "--judge-llm", "mock", "--apis", "2", "--items", "1",
        "--episodes", "1", "--trials", "2", "--target", "3", "--k", "2", "--max-tokens", "32",
        "--max-steps", "3", "--batch-size", "4", "--max-length", "160", "--lr", "5e-3",
        "--score-llm", "mock"]


def _require() -> None:
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"needs the [train] and [bench] extras (no {', '.join(missing)})")
    try:
        find_server_binary(), find_default_model()
    except ConfigError as exc:
        pytest.skip(f"the embedded LLM is not installed: {exc}")
    if not TEST_SET.is_file():
        pytest.skip(f"the study's test set is not at {TEST_SET}")


def _command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench.experiment", "--out", str(out), *TINY, *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1"}


@pytest.mark.embedded
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_experiment_runs_end_to_end_and_resumes_a_killed_stage(tmp_path: Path) -> None:
    _require()
    out = tmp_path / "exp"
    log = tmp_path / "first.log"
    # the first run is killed (SIGKILL, no chance to tidy up) once fine-tuning has begun
    with log.open("wb") as sink:
        proc = subprocess.Popen(_command(out), cwd=ROOT, env=_env(), stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 1500
            while not (out / "finetune" / "finetune.json").exists():
                assert proc.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "fine-tuning never started"
                time.sleep(0.2)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    card = json.loads((out / "experiment.json").read_text())
    assert [s for s in card["stages"]] == ["subset", "zero-shot", "explore", "distill", "icl"]
    assert all(v["status"] == "done" for v in card["stages"].values())
    assert not (out / "fine-tuned.json").exists()
    before = {name: (out / name).stat().st_mtime_ns for name in EARLIER}

    done = subprocess.run(_command(out), cwd=ROOT, env=_env(), capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    # the stages done before were skipped, not redone: their artefacts and records unchanged
    assert {name: (out / name).stat().st_mtime_ns for name in EARLIER} == before
    for stage in ("subset", "zero-shot", "explore", "distill", "icl"):
        assert f"[{stage}] done before" in done.stdout
    after = json.loads((out / "experiment.json").read_text())
    for stage, record in card["stages"].items():
        assert after["stages"][stage] == record
    assert list(after["stages"]) == ["subset", "zero-shot", "explore", "distill", "icl",
                                     "finetune", "fine-tuned", "score"]

    # every stage's artefact
    subset = json.loads((out / "test.json").read_text())
    assert len(subset) == 2 and all(len(items) == 1 for items in subset.values())
    for name in ("zero-shot", "icl", "fine-tuned"):
        predictions = json.loads((out / f"{name}.json").read_text())
        assert list(predictions) == list(subset)
        assert all(isinstance(it["model_output"], str) for v in predictions.values() for it in v)
    assert json.loads((out / "icl.json.meta.json").read_text())["retriever"] == "bm25"
    ft = json.loads((out / "finetune" / "finetune.json").read_text())
    assert ft["status"] == "done" and ft["steps"]["done"] == 3
    assert (out / "finetune" / "adapter.gguf").stat().st_size > 0
    assert "--lora" in done.stdout and "adapter.gguf" in done.stdout  # served with it
    assert after["stages"]["distill"]["sizes"]["examples"] > 0

    results = json.loads((out / "results.json").read_text())
    assert [r["setting"] for r in results["rows"]] == ["zero-shot", "ICL", "fine-tuned"]
    assert all(r["items"] == 2 for r in results["rows"])
    assert results["who"]["explorer"] == "mock" and results["who"]["judge"] == "mock"
    assert results["sizes"]["distilled_examples"] == after["stages"]["distill"]["sizes"][
        "examples"]
    # every stage's wall time but the scoring's own, which ends after it writes them
    assert set(results["stage_wall_s"]) == set(after["stages"]) - {"score"}
    # the LLM judge's column: only API-matched calls can be right, whoever judges them
    for row in results["rows"]:
        assert 0.0 <= row["correct_llm"] <= row["wellformed"] * row["api_match"] / 100 + 0.1
    assert results["who"]["scored_by"] == "string judge and LLM judge (scripted LLM)"
    text = (out / "results.txt").read_text()
    assert text.splitlines()[1].startswith("zero-shot") and "fine-tuned" in text
    assert "correct (LLM judge) %" in text.splitlines()[0]
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a rerun of a finished experiment does nothing; other settings are refused
    again = subprocess.run(_command(out), cwd=ROOT, env=_env(), capture_output=True,
                           text=True, check=False)
    assert again.returncode == 0 and "[score] done before" in again.stdout
    other = subprocess.run(_command(out, "--seed", "1"), cwd=ROOT, env=_env(),
                           capture_output=True, text=True, check=False)
    assert other.returncode == 2
    assert "other settings (seed differ)" in other.stderr


def test_the_subset_is_seeded_and_spread_over_the_tools() -> None:
    from bench.experiment import select_subset
    from ste_async.catalog import builtin_catalog

    catalog = builtin_catalog()
    test = {name: [{"query": f"{name} {i}", "action": name, "action_input": "{}"}
                   for i in range(6)] for name in catalog}
    tools = {spec.tool for spec in catalog.values()}
    subset = select_subset(test, len(tools), 4, seed=3)
    # as many APIs as tools: one from each, none twice
    assert sorted(catalog[a].tool for a in subset) == sorted(tools)
    assert list(subset) == [a for a in test if a in subset]  # the file's order
    for api, items in subset.items():
        assert len(items) == 4 and all(it in test[api] for it in items)
        assert [test[api].index(it) for it in items] == sorted(test[api].index(it)
                                                               for it in items)
    assert select_subset(test, len(tools), 4, seed=3) == subset
    assert select_subset(test, len(tools), 4, seed=4) != subset
    assert sum(map(len, select_subset(test, 0, 0, seed=0).values())) == 6 * len(catalog)


def test_a_missing_test_set_is_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run(_command(tmp_path / "exp", "--test", str(tmp_path / "none.json")),
                          cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"python -m bench.experiment: error: the test set {tmp_path / 'none.json'} is not "
        "there (the study's tool_test.json); pass --test FILE"]


@pytest.mark.parametrize("option", ["--explorer-llm", "--judge-llm", "--score-llm"])
def test_a_name_that_is_no_llm_is_refused_before_any_stage(tmp_path: Path, option: str) -> None:
    done = subprocess.run(_command(tmp_path / "exp", option, "gpt4"), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"python -m bench.experiment: error: {option}: an LLM is mock, embedded or an "
        "http(s) URL, got 'gpt4'"]
    assert not (tmp_path / "exp").exists()
