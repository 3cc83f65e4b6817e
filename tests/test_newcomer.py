"""The whole pipeline as a new user runs it: the installed ``ste-async`` command, each step's
output naming the next, explore -> distill -> export -> infer -> score, with the scripted LLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = Path(sys.executable).with_name("ste-async")


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(COMMAND), *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                          check=False)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    assert "Traceback" not in done.stderr
    return done


@pytest.mark.skipif(not COMMAND.exists(), reason=f"no installed console script at {COMMAND} "
                    "(pip install -e . puts it there)")
def test_a_new_user_walks_the_pipeline(tmp_path: Path) -> None:
    explored = _run("explore", "--llm", "mock", "--apis", "add_date,forecast_weather",
                    "--episodes", "2", "--out", "runs/demo", "--quiet", cwd=tmp_path)
    assert "next: ste-async distill runs/demo --llm mock" in explored.stdout

    distilled = _run("distill", "runs/demo", "--llm", "mock", "--target", "10", cwd=tmp_path)
    assert "next: ste-async export --format openai runs/demo" in distilled.stdout
    assert (tmp_path / "runs/demo/distill/dataset.json").exists()

    exported = _run("export", "--format", "openai", "runs/demo", cwd=tmp_path)
    rows = (tmp_path / "runs/demo/train_openai.jsonl").read_text().splitlines()
    assert rows and f"{len(rows)} examples" in exported.stdout
    assert all(json.loads(r)["messages"][0]["role"] == "system" for r in rows)

    test = tmp_path / "tool_test.json"
    test.write_text(json.dumps({"add_date": [
        {"query": "What date is 10 days after 2023-03-01?", "action": "add_date",
         "action_input": '{"date": "2023-03-01", "days": 10}'}]}))
    inferred = _run("infer", "--test", "tool_test.json", "--setting", "icl", "--demos",
                    "runs/demo", "--llm", "mock", "--out", "preds.json", "--quiet", cwd=tmp_path)
    assert "score it: ste-async score preds.json" in inferred.stdout
    assert (tmp_path / "preds.json.meta.json").exists()

    scored = _run("score", "preds.json", "--json", cwd=tmp_path)
    result = json.loads(scored.stdout)
    assert result["judge"] == "string" and result["total"] == 1  # no stored labels: said so
    assert "judged by the string rule" in scored.stderr
