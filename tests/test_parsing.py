"""The ReAct parser on every feedback case, and the reflection readers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ste_async.parsing import (
    Call,
    Feedback,
    Final,
    parse_react,
    read_reflection,
    reference_reflection,
)

API = ["Places%%Geographic coordinates by placename"]
NAME = API[0]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Thought: hmm, I am not sure", "no_action_input"),
        ("Observation: something", "no_action_input"),
        (f"Action: {NAME}\nAction Input: {{}}\nAction Input: {{}}", "several_action_inputs"),
        ("Thought: x\nAction Input: {}", "no_action"),
        (f"Action: {NAME}\nAction: {NAME}\nAction Input: {{}}", "several_actions"),
        ("Action: Places\nAction Input: {}", "unknown_api"),
        (f"Action: {NAME}\nAction Input: name=London", "no_open_brace"),
        (f'Action: {NAME}\nAction Input: {{"name": "London"', "no_close_brace"),
        (f"Action: {NAME}\nAction Input: }} {{", "bad_json"),
        (f"Action: {NAME}\nAction Input: {{name: 'London'}}", "bad_json"),
        (f'Action: {NAME}\nAction Input: {{"a": 1}} and {{"b": 2}}', "bad_json"),
    ],
)
def test_feedback_cases(text: str, reason: str) -> None:
    parsed = parse_react(text, API)
    assert isinstance(parsed, Feedback), parsed
    assert parsed.reason == reason
    assert parsed.message  # always something the model can act on


def test_unknown_api_feedback_lists_the_allowed_names() -> None:
    parsed = parse_react("Action: Places\nAction Input: {}", API)
    assert isinstance(parsed, Feedback) and NAME in parsed.message


def test_well_formed_call_keeps_raw_json_and_decodes_it() -> None:
    text = f'Thought: look it up\nAction: {NAME}\nAction Input: {{\n  "name": "Oslo",\n  "lang": "en"\n}}'
    parsed = parse_react(text, API)
    assert parsed == Call(
        thought="look it up",
        action=NAME,
        action_input='{\n  "name": "Oslo",\n  "lang": "en"\n}',
        args={"name": "Oslo", "lang": "en"},
    )


def test_nested_objects_decode() -> None:
    parsed = parse_react(f'Action: {NAME}\nAction Input: {{"a": {{"b": 1}}}}', API)
    assert isinstance(parsed, Call) and parsed.args == {"a": {"b": 1}}


def test_trailing_literal_backslash_n_is_dropped_from_the_action() -> None:
    parsed = parse_react(f"Action: {NAME}\\n\nAction Input: {{}}\\n", API)
    assert isinstance(parsed, Call) and parsed.action == NAME


def test_final_answer() -> None:
    parsed = parse_react("Thought: I now know the final answer\nFinal Answer: 51.5, -0.12", API)
    assert parsed == Final(thought="I now know the final answer", answer="51.5, -0.12")


def test_final_answer_after_a_call_in_the_same_reply_is_a_call() -> None:
    # the study keeps what precedes "Final Answer:" and runs the call found there
    text = f'Action: {NAME}\nAction Input: {{"name": "Rome"}}\nFinal Answer: Rome is at 41.9N'
    parsed = parse_react(text, API)
    assert isinstance(parsed, Call) and parsed.args == {"name": "Rome"}


@given(st.text())
def test_parser_never_raises(text: str) -> None:
    assert isinstance(parse_react(text, API), Call | Final | Feedback)


@pytest.mark.parametrize(
    ("text", "ours", "study"),
    [
        ("Yes", True, True),
        ("No", False, False),
        ("Yes, I did.", True, True),
        ("No, the API returned an error.", False, False),
        ("Now that I see the answer: yes.", True, False),
        ("Not really, no.", False, False),
        ("I fulfilled it; Nothing was missing. Yes", True, False),
        ("I am unsure.", None, True),
        ("YES", True, True),
    ],
)
def test_reflection_readings(text: str, ours: bool | None, study: bool) -> None:
    assert read_reflection(text) is ours
    assert reference_reflection(text) is study
