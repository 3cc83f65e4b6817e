"""A real recorded run replayed offline: the whole pipeline on real model text.

``fixtures/real_run`` was explored with the embedded model (SmolLM2-135M through llama.cpp,
constrained steps) against the built-in tool simulators, two APIs, one episode of two trials,
and recorded. Replaying it contacts no server and must reproduce every trajectory byte for
byte; the exports must accept it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ste_async.export import export_ste
from ste_async.replay import replay_run
from ste_async.store import iter_records, scan_run

FIXTURE = Path(__file__).parent / "fixtures" / "real_run"


def test_the_fixture_is_a_real_model_run() -> None:
    meta = json.loads((FIXTURE / "run.json").read_text())
    assert meta["model"].startswith("SmolLM2") and meta["config"]["constrain_actions"] is True
    records = list(iter_records(FIXTURE))
    assert len(records) == 2 and scan_run(FIXTURE).corrupt == 0
    for r in records:
        for t in r.trials:
            assert t.query and t.reflection is not None
            assert any(s.observation for s in t.steps)
            assert any(s.kind == "call" and s.tool_status for s in t.steps)


async def test_the_real_run_replays_offline_byte_for_byte(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    report = await replay_run(run, tmp_path / "replayed")
    assert report.episodes == 2
    assert report.identical == 2, (report.different, report.missing)


def test_the_real_run_exports_to_the_study_layout(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    path, n_apis, n_episodes = export_ste(run)
    data = json.loads(path.read_text())
    assert (n_apis, n_episodes) == (2, 2)
    assert all(len(s["item_list"]) == 2 for sessions in data.values() for s in sessions)
