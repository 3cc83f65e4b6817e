"""The whole STE loop on the scripted LLM: explore -> distill -> infer (ICL) -> score.

Exploration writes a run directory, distillation turns its trials into training examples
(``RUN/distill/dataset.json``), inference retrieves the nearest of them as demonstrations for
every test query, and the scorer reads the predictions. Each stage is the library call the
command line makes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from served import distill_with, explore_with, infer_with

from ste_async.config import ExploreConfig
from ste_async.distill.examples import load_examples
from ste_async.distill.runner import DistillConfig
from ste_async.evaluate.infer import InferConfig
from ste_async.evaluate.score import load_predictions, score
from tool_mocks.llm import MockLlmConfig

APIS = ("add_date", "search", "Car database%%Makes")

# a small test set in the study's layout for the explored APIs
TEST_SET: dict[str, list[dict[str, str]]] = {
    "add_date": [
        {"query": "What date will it be 45 days after 2024-02-10?", "action": "add_date",
         "action_input": '{"date": "2024-02-10", "days": 45}'},
        {"query": "If I add 7 days to 2023-12-28, which day do I get?", "action": "add_date",
         "action_input": '{"date": "2023-12-28", "days": 7}'},
    ],
    "search": [
        {"query": "Tell me who Marie Curie was.", "action": "search",
         "action_input": '{"entity": "Marie Curie"}'},
        {"query": "Give me a short summary about the Eiffel Tower.", "action": "search",
         "action_input": '{"entity": "Eiffel Tower"}'},
    ],
    "Car database%%Makes": [
        {"query": "Which car brands does the database know?", "action": "Car database%%Makes",
         "action_input": "{}"},
        {"query": "List the car makes, please.", "action": "Car database%%Makes",
         "action_input": "{}"},
    ],
}


@pytest.mark.slow
async def test_explore_distill_infer_score(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    mock = MockLlmConfig()

    outcome = await explore_with(ExploreConfig(apis=APIS, episodes=2, trials=2), run_dir,
                            mock=mock, handle_signals=False)
    assert outcome.metrics.failed == 0

    await distill_with(run_dir, DistillConfig(), mock=mock)
    examples = load_examples(run_dir)  # RUN/distill/dataset.json
    assert examples and {e.action for e in examples} <= set(APIS)

    test = tmp_path / "tool_test.json"
    test.write_text(json.dumps(TEST_SET), encoding="utf-8")
    out = tmp_path / "predictions.json"
    meta = await infer_with(InferConfig(test=str(test), setting="icl", demos=str(run_dir), k=4,
                                   cassette="off"), out, mock=mock)
    assert meta.items == 6 and meta.llm_errors == 0
    assert meta.retriever in ("bm25", "embedding:all-MiniLM-L6-v2")
    assert meta.demos_available == len(examples)

    report = score(load_predictions(out), judge="string")
    assert report.total == 6
    assert report.counts.wellformed >= 4  # the scripted model mostly makes one clean call
    assert report.counts.api_match >= 3
