"""Tests for the STE study's scorer: parser quirks, judges, published figures and the CLI."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ste_async.errors import ConfigError
from ste_async.evaluate import (
    STRING_MATCH_APIS,
    ScoreInputError,
    items_needing_llm_judge,
    llm_verdict,
    load_batches,
    load_predictions,
    parse_prediction,
    score,
    score_batches,
    score_cli,
    string_match,
)

PROJECT = Path(score_cli.__file__).resolve().parents[2]  # the folder holding ste_async/
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ste"
BASE = REFERENCE / "saved_results_llama-7Bf.json"
FINETUNED = REFERENCE / "saved_results_llama-7Bf_FT.json"
needs_reference = pytest.mark.skipif(
    not BASE.is_file() or not FINETUNED.is_file(),
    reason=f"the STE study's published prediction files are not at {REFERENCE}",
)

NAMES = ["add_date", "get_today_date", "forecast_weather", "Car database%%Makes", "search"]


# ---------------------------------------------------------------- parser


PARSE_CASES: list[tuple[str, str, str, str | None, dict[str, Any] | None, bool]] = [
    # id, output, kind, action, action_input, grounded
    ("final-only", "Thought: easy.\nFinal Answer: 42", "final", None, None, False),
    ("final-before-call",
     "Final Answer: 42\nAction: add_date\nAction Input: {}", "final", None, None, False),
    ("call-before-final",
     'Action: add_date\nAction Input: {"days": 1}\nObservation: x\nFinal Answer: done',
     "call", "add_date", {"days": 1}, False),
    ("second-input-after-final",
     "Action: search\nAction Input: {}\nFinal Answer: x\nAction Input: {}",
     "call", "search", {}, False),
    ("plain-call", 'Thought: t\nAction: add_date\nAction Input: {"date": "2022-01-01"}',
     "call", "add_date", {"date": "2022-01-01"}, False),
    ("empty-object", "Action: get_today_date\nAction Input: {}",
     "call", "get_today_date", {}, False),
    ("two-action-inputs", "Action: add_date\nAction Input: {}\nAction Input: {}",
     "error", None, None, False),
    ("no-action-input", "Action: add_date", "error", None, None, False),
    ("no-action", "Action Input: {}", "error", None, None, False),
    ("two-actions", "Action: search\nAction: add_date\nAction Input: {}",
     "error", None, None, False),
    ("toolken", 'Action: <tool_add_date> Action Input: {"days": 2}',
     "call", "add_date", {"days": 2}, False),
    ("angle-brackets", "Action: <<search>>\nAction Input: {}", "call", "search", {}, False),
    ("literal-newlines", 'Action: add_date\\n\\n\nAction Input: {"days": 3}\\n\\n',
     "call", "add_date", {"days": 3}, False),
    ("literal-newline-glued", "Action: search\\nAction Input: {}\\n",
     "call", "search", {}, False),
    ("grounded", "Action: add date\nAction Input: {}", "call", "add_date", {}, True),
    ("grounded-tool-prefix", "Action: Car database\nAction Input: {}",
     "call", "Car database%%Makes", {}, True),
    ("nested-object-loses-brace", 'Action: search\nAction Input: {"q": {"a": 1}}',
     "error", "search", None, False),
    ("double-braces", 'Action: search\nAction Input: {{"q": "x"}}',
     "call", "search", {"q": "x"}, False),
    ("text-around-braces", 'Action: search\nAction Input: here {"q": "x"} thanks',
     "call", "search", {"q": "x"}, False),
    ("missing-braces", "Action: search\nAction Input: q=x", "error", None, None, False),
    ("missing-close", 'Action: search\nAction Input: {"q": "x"', "error", None, None, False),
    ("braces-reversed", "Action: search\nAction Input: } and {", "error", None, None, False),
    ("not-json", "Action: search\nAction Input: {q: x}", "error", "search", None, False),
    ("grounded-then-bad-json", "Action: serch\nAction Input: {q}",
     "error", "search", None, True),
    ("grounded-but-no-braces", "Action: serch\nAction Input: none",
     "error", None, None, False),
    ("empty-action", "Action: \nAction Input: {}", "error", None, None, False),
    ("empty-output", "   ", "error", None, None, False),
    ("surrounding-whitespace", "\n\n  Action: search\n  Action Input:  {}  \n\n",
     "call", "search", {}, False),
]


@pytest.mark.parametrize(
    ("output", "kind", "action", "action_input", "grounded"),
    [case[1:] for case in PARSE_CASES],
    ids=[case[0] for case in PARSE_CASES],
)
def test_parse_prediction(output: str, kind: str, action: str | None,
                          action_input: dict[str, Any] | None, grounded: bool) -> None:
    parsed = parse_prediction(output, NAMES)
    assert parsed.kind == kind
    assert parsed.action == action
    assert parsed.action_input == action_input
    assert parsed.grounded is grounded
    assert (parsed.error is None) == (kind != "error")


@pytest.mark.parametrize("raw", ["add date", "Car database", "weather forecast", "searching",
                                 "get_date", "JAK_API", "today"])
def test_grounding_is_difflibs_single_best_match(raw: str) -> None:
    parsed = parse_prediction(f"Action: {raw}\nAction Input: {{}}", NAMES)
    assert parsed.grounded
    assert parsed.raw_action == raw
    assert parsed.action == difflib.get_close_matches(raw, NAMES, n=1, cutoff=0.001)[0]


def test_grounding_targets_are_the_given_names_only() -> None:
    parsed = parse_prediction("Action: add_date\nAction Input: {}", ["sub_date", "search"])
    assert (parsed.action, parsed.grounded) == ("sub_date", True)


# ---------------------------------------------------------------- string rule


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ({"a": "x"}, {"a": "x"}, True),
        ({"a": "Paris "}, {"a": " paris"}, True),
        ({"a": "x"}, {"a": "x", "extra": 1}, True),
        ({}, {}, True),
        ({}, {"a": 1}, True),
        ({"a": "x"}, {}, False),
        ({"a": "x", "b": "y"}, {"a": "x", "b": "z"}, False),
        ({"n": 1}, {"n": "1"}, True),
        ({"n": 1}, {"n": 1.0}, False),  # str(1.0) is "1.0"
        ({"flag": True}, {"flag": "TRUE"}, True),
        ({"l": [1, 2]}, {"l": [1, 2]}, True),
    ],
)
def test_string_match(gold: dict[str, Any], pred: dict[str, Any], expected: bool) -> None:
    assert string_match(gold, pred) is expected


def test_string_match_api_list_and_llm_verdict() -> None:
    assert len(STRING_MATCH_APIS) == 31
    assert {"add_date", "siteDomain%%language list", "Car database%%Makes"} <= STRING_MATCH_APIS
    assert llm_verdict("Yes. The call is right.")
    assert not llm_verdict("No. It misses the date.")
    assert not llm_verdict("Yes. ... No. on reflection")


# ---------------------------------------------------------------- scoring on synthetic data


def _item(output: str, action: str, args: dict[str, Any], label: int | None = None
          ) -> dict[str, Any]:
    item: dict[str, Any] = {"query": "q", "model_output": output, "action": action,
                            "action_input": json.dumps(args)}
    if label is not None:
        item["args_correct"] = label
    return item


def _synthetic(labels: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Two APIs, one judged by string match (add_date), one by an LLM (search)."""
    def lab(value: int) -> int | None:
        return value if labels else None

    return {
        "add_date": [
            _item('Action: add_date\nAction Input: {"days": 2}', "add_date", {"days": 2}, lab(0)),
            _item('Action: add_date\nAction Input: {"days": 3}', "add_date", {"days": 2}, lab(0)),
            _item("Final Answer: no idea", "add_date", {"days": 1}),
            _item("Action: add_date\nAction Input: nothing", "add_date", {"days": 1}),
        ],
        "search": [
            _item('Action: search\nAction Input: {"q": "cats"}', "search", {"q": "cat"}, lab(1)),
            _item('Action: serch\nAction Input: {"q": "dogs"}', "search", {"q": "dog"}, lab(0)),
            _item("Action: add_date\nAction Input: {}", "search", {"q": "x"}),
        ],
    }


def test_score_stored_string_llm_on_synthetic_file() -> None:
    data = _synthetic()
    stored = score(data, judge="stored")
    assert (stored.counts.total, stored.counts.no_call, stored.counts.err) == (7, 1, 1)
    assert (stored.counts.wellformed, stored.counts.api_match, stored.counts.correct) == (5, 4, 1)
    assert stored.counts.grounded == 1
    assert (stored.wellformed, stored.api_match, stored.correct) == (
        round(100 * (5 / 7), 3), round(100 * 4 / 5, 3), round(100 * 1 / 7, 3))
    assert stored.judged_by == {"stored": 4}
    assert stored.per_api["add_date"].total == 4 and stored.per_api["search"].api_match == 2

    # The string rule overrides the stored 0 of add_date's first item; search keeps its labels.
    string = score(data, judge="string")
    assert string.counts.correct == 2
    assert string.judged_by == {"stored": 2, "string": 2}

    needed = items_needing_llm_judge(data)
    assert [(api, index) for api, index, _, _ in needed] == [("search", 0), ("search", 1)]
    assert needed[1][3].grounded
    llm = score(data, judge="llm", llm_labels={("search", 0): True, ("search", 1): True})
    assert llm.counts.correct == 3
    assert llm.judged_by == {"llm": 2, "string": 2}
    by_index = {(o.api, o.index): o for o in llm.items}
    assert by_index[("search", 1)].grounded and by_index[("search", 1)].args_correct
    assert by_index[("search", 2)].action == "add_date" and not by_index[("search", 2)].api_match


def test_score_restricted_to_apis_and_batches() -> None:
    data = _synthetic()
    only = score(data, judge="stored", apis={"search"})
    assert only.total == 3 and list(only.per_api) == ["search"]
    reports = score_batches(data, [["search"], ["add_date", "search"]], judge="stored")
    assert [r.total for r in reports] == [3, 7]
    with pytest.raises(ScoreInputError, match="batch 1: API 'nope'"):
        score_batches(data, [["search"], ["nope"]])


def test_stored_judge_without_labels_names_the_item() -> None:
    with pytest.raises(ScoreInputError, match=r"item 0 of 'add_date'.*--judge string or "
                                              r"--judge llm"):
        score(_synthetic(labels=False), judge="stored")
    # The string judge still works: the string rule stands in for the missing labels.
    assert score(_synthetic(labels=False), judge="string").judged_by == {"string": 4}


def test_llm_judge_requires_labels() -> None:
    with pytest.raises(ScoreInputError, match="llm_labels"):
        score(_synthetic(), judge="llm")
    with pytest.raises(ScoreInputError, match=r"item 1 of 'search'"):
        score(_synthetic(), judge="llm", llm_labels={("search", 0): True})


def test_empty_denominators_give_zero() -> None:
    data = {"search": [_item("Final Answer: x", "search", {})]}
    report = score(data, judge="stored")
    assert (report.wellformed, report.api_match, report.correct) == (0.0, 0.0, 0.0)
    assert score(data, judge="stored", apis=[]).total == 0


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ("{}", "holds no APIs"),
        ('{"a": {}}', "should map to a list"),
        ('{"a": [1]}', "item 0 of 'a' is not an object"),
        ('{"a": [{"action": "a", "action_input": "{}"}]}', "lacks 'model_output'"),
        ('{"a": [{"model_output": 1, "action": "a", "action_input": "{}"}]}',
         "non-string 'model_output'"),
    ],
)
def test_load_predictions_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "preds.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScoreInputError, match=message):
        load_predictions(path)


def test_load_errors_for_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ScoreInputError, match="not found"):
        load_predictions(tmp_path / "absent.json")
    with pytest.raises(ScoreInputError, match="directory"):
        load_predictions(tmp_path)
    bad = tmp_path / "batches.json"
    bad.write_text('[["a"], "b"]', encoding="utf-8")
    with pytest.raises(ConfigError, match="list of lists"):
        load_batches(bad)


def test_bad_stored_label_and_gold() -> None:
    data = {"search": [_item("Action: search\nAction Input: {}", "search", {}, label=None)]}
    data["search"][0]["args_correct"] = "maybe"
    with pytest.raises(ScoreInputError, match="'args_correct' should be 0 or 1"):
        score(data, judge="stored")
    data["search"][0]["args_correct"] = "1"  # the study's files may store labels as strings
    assert score(data, judge="stored").counts.correct == 1
    data = {"add_date": [_item("Action: add_date\nAction Input: {}", "add_date", {})]}
    data["add_date"][0]["action_input"] = "not json"
    with pytest.raises(ScoreInputError, match="gold 'action_input' is not JSON"):
        score(data, judge="string")


# ---------------------------------------------------------------- the published files


@needs_reference
@pytest.mark.parametrize(
    ("path", "judge", "figures"),
    [
        (BASE, "stored", (34.533, 40.154, 10.667)),
        (FINETUNED, "stored", (99.2, 94.892, 73.333)),
        (BASE, "string", (34.533, 40.154, 10.933)),
        (FINETUNED, "string", (99.2, 94.892, 74.533)),
    ],
    ids=["base-stored", "ft-stored", "base-string", "ft-string"],
)
def test_published_figures(path: Path, judge: str, figures: tuple[float, float, float]
                           ) -> None:
    report = score(load_predictions(path), judge=judge)  # type: ignore[arg-type]
    assert report.total == 750
    assert (report.wellformed, report.api_match, report.correct) == figures


@needs_reference
@pytest.mark.parametrize("path", [BASE, FINETUNED], ids=["base", "ft"])
def test_reparse_agrees_with_every_stored_outcome(path: Path) -> None:
    data = load_predictions(path)
    for outcome in score(data, judge="stored").items:
        item = data[outcome.api][outcome.index]
        stored = (bool(item["no_call"]), bool(item["err"]), bool(item.get("api_match")))
        assert stored == (outcome.no_call, outcome.err, outcome.api_match), outcome


@needs_reference
def test_grounded_count_in_base_file() -> None:
    report = score(load_predictions(BASE), judge="stored")
    assert report.counts.grounded == 97
    assert sum(counts.grounded for counts in report.per_api.values()) == 97


@needs_reference
def test_batches_partition_the_file() -> None:
    data = load_predictions(FINETUNED)
    batches = load_batches(REFERENCE / "CL_batches.json")
    reports = score_batches(data, batches, judge="stored")
    assert len(reports) == 4
    assert sum(r.total for r in reports) == 750
    assert sum(r.counts.correct for r in reports) == 550


# ---------------------------------------------------------------- command line


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="ste-async score")
    score_cli.add_arguments(parser)
    code = score_cli.run(parser.parse_args(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _write(tmp_path: Path, data: Any, name: str = "preds.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_cli_json_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _synthetic())
    batches = _write(tmp_path, [["add_date"], ["search"]], "batches.json")
    code, out, err = _cli([path, "--json", "--per-api", "--batches", batches], capsys)
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result["judge"] == "stored" and result["total"] == 7
    assert result["correct"] == round(100 * 1 / 7, 3)
    assert set(result["per_api"]) == {"add_date", "search"}
    assert [b["total"] for b in result["batches"]] == [4, 3]


def test_cli_text_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli([_write(tmp_path, _synthetic()), "--per-api"], capsys)
    assert code == 0
    assert "wellformed %" in out and "add_date" in out and "search" in out


@needs_reference
def test_cli_json_published(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli([str(BASE), "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert (result["wellformed"], result["api_match"], result["correct"]) == (
        34.533, 40.154, 10.667)
    code, out, _ = _cli([str(FINETUNED), "--json", "--judge", "string"], capsys)
    assert json.loads(out)["correct"] == 74.533


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("unlabelled", ["--judge", "stored"], "--judge string or --judge llm"),
        ("corrupt", [], "not valid JSON"),
        ("missing", [], "not found"),
        ("unlabelled", ["--judge", "llm"], "LLM endpoint"),
        ("labelled", ["--batches", "missing-batches.json"], "cannot read batches file"),
    ],
)
def test_cli_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         setup: str, extra: list[str], message: str) -> None:
    if setup == "corrupt":
        path = tmp_path / "preds.json"
        path.write_text('{"add_date": [', encoding="utf-8")
        target = str(path)
    elif setup == "missing":
        target = str(tmp_path / "absent.json")
    else:
        target = _write(tmp_path, _synthetic(labels=setup == "labelled"))
    extra = [str(tmp_path / a) if a.endswith(".json") else a for a in extra]
    code, out, err = _cli([target, "--json", *extra], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_a_file_without_labels_is_judged_by_the_string_rule_saying_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = _write(tmp_path, _synthetic(labels=False))
    code, out, err = _cli([target, "--json"], capsys)
    assert code == 0 and json.loads(out)["judge"] == "string"
    assert err.count("\n") == 1 and "judged by the string rule" in err
    labelled = _write(tmp_path, _synthetic(labels=True))
    code, out, err = _cli([labelled, "--json"], capsys)
    assert code == 0 and json.loads(out)["judge"] == "stored" and err == ""


def test_module_entry_point(tmp_path: Path) -> None:
    path = _write(tmp_path, _synthetic())
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-m", "ste_async.evaluate.score_cli", path, "--json"],
                          capture_output=True, text=True, env=env, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 7
    bad = subprocess.run([sys.executable, "-m", "ste_async.evaluate.score_cli", path,
                          "--judge", "nope"], capture_output=True, text=True, env=env,
                         timeout=30, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_main_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert score_cli.main([_write(tmp_path, _synthetic()), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["wellformed"] == round(100 * (5 / 7), 3)
