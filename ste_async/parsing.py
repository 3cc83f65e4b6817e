"""Reading a model's ReAct reply: a call, a final answer, or feedback for the model.

The steps follow the STE study's parser: a ``Final Answer:`` with no ``Action Input:`` before
it ends the trial; otherwise exactly one ``Action Input:`` and one ``Action:`` must be present,
the action must name an offered API, and the input is the text between the first ``{`` and the
last ``}``. Where the study passed that text on undecoded, this parser also decodes it, so
that malformed JSON is answered with precise feedback; the raw text is always kept. A parse
failure is never an exception: it becomes a :class:`Feedback`, which the engine shows the
model as the next Observation.

``rule="study"`` follows the study instead: the input's outer braces are stripped and one of
each put back (``"{" + text.strip("{}") + "}"``), and that text is the call, decoded or not;
the tool then judges it (a nested object at the end loses a closing brace, a trailing comma
stays, and the tool answers with its own parse error).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import msgspec
import orjson

__all__ = (
    "Call",
    "Feedback",
    "Final",
    "Parsed",
    "parse_react",
    "read_reflection",
    "reference_reflection",
    "study_action_input",
)

_FINAL = "Final Answer:"
_INPUT = "Action Input:"
_ACTION = "Action:"


class Call(msgspec.Struct, frozen=True, tag="call"):
    """A well-formed API call."""

    thought: str
    action: str
    action_input: str  # the JSON text as extracted (study rule: as rewritten)
    args: dict[str, Any] | None  # None: the study rule's text, which does not decode to an object


class Final(msgspec.Struct, frozen=True, tag="final"):
    """The model's final answer to the user."""

    thought: str
    answer: str


class Feedback(msgspec.Struct, frozen=True, tag="feedback"):
    """What was wrong with the reply, phrased for the model."""

    reason: str  # a short machine-readable code
    message: str


Parsed = Call | Final | Feedback


def _trim(text: str) -> str:
    # the study also drops trailing literal backslash-n pairs that models sometimes emit
    text = text.strip()
    while text.endswith("\\n"):
        text = text[:-2].rstrip()
    return text


def parse_react(text: str, api_names: Sequence[str], *,
                rule: Literal["json", "study"] = "json") -> Parsed:
    """Parse one model reply; never raises. ``rule`` says how the Action Input is read."""
    text = text if isinstance(text, str) else str(text)
    thought = ""
    if _FINAL in text:
        before, _, after = text.partition(_FINAL)
        if _INPUT not in before:
            # the study keeps only what stands between the first and a second "Final Answer:"
            answer = after.split(_FINAL)[0] if rule == "study" else after
            return Final(thought=_thought(before), answer=answer.strip())
        text = before
    if _INPUT not in text:
        return Feedback(
            "no_action_input",
            'If you already know enough to answer, write "Final Answer:" and then the answer. '
            'Otherwise name the API after "Action:" and give its arguments after "Action Input:" '
            'as a JSON string; with no arguments, write "Action Input: {}". Do not begin your '
            'reply with "Observation:".',
        )
    if text.count(_INPUT) > 1:
        return Feedback("several_action_inputs", 'Write "Action Input:" only once per reply.')
    left, _, right = text.partition(_INPUT)
    left, right = _trim(left), _trim(right)
    if _ACTION not in left:
        return Feedback(
            "no_action",
            f'Name the API to call after "Action:". Call one API at a time, chosen from: '
            f'{", ".join(api_names)}. If you already have the answer, write "Final Answer:" '
            "and then the answer.",
        )
    if left.count(_ACTION) > 1:
        return Feedback("several_actions", 'Write "Action:" only once per reply.')
    thought_part, _, action = left.partition(_ACTION)
    thought, action = _thought(thought_part), _trim(action)
    if action not in api_names:
        return Feedback(
            "unknown_api",
            f"Use exactly one of these API names, and nothing else: {', '.join(api_names)}.",
        )
    start, end = right.find("{"), right.rfind("}")
    if start == -1:
        return Feedback("no_open_brace", 'The Action Input is a JSON string and must begin with "{".')
    if end == -1:
        return Feedback(
            "no_close_brace",
            'The Action Input is a JSON string and must end with "}". Write nothing after "}".',
        )
    if start >= end:
        return Feedback("bad_json", "The Action Input could not be read as JSON. Please try again.")
    raw = right[start : end + 1]
    if rule == "study":
        rewritten = study_action_input(raw)
        try:
            decoded = orjson.loads(rewritten)
        except orjson.JSONDecodeError:
            decoded = None
        return Call(thought=thought, action=action, action_input=rewritten,
                    args=decoded if isinstance(decoded, dict) else None)
    try:
        args = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Feedback(
            "bad_json",
            f"The Action Input is not valid JSON ({_json_problem(exc)}). Write one JSON object "
            'with double-quoted keys and strings, for example {"key": "value"}.',
        )
    # text from "{" to "}" that decodes is always an object
    return Call(thought=thought, action=action, action_input=raw, args=args)


def study_action_input(raw: str) -> str:
    """The study's rewriting of the text from the first ``{`` to the last ``}``: every brace
    at either end stripped and one of each put back, never decoded. (The study then refuses
    an input that begins with ``{{`` or ends with ``}}``; after this rewriting none can.)"""
    return ("{" + raw.strip("{}") + "}").strip()


def _thought(text: str) -> str:
    text = _trim(text)
    return text.removeprefix("Thought:").strip()


def _json_problem(exc: orjson.JSONDecodeError) -> str:
    return f"{exc.msg} at character {exc.pos}"


_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def read_reflection(text: str) -> bool | None:
    """The first standalone yes or no in ``text``; None when it has neither.

    Unlike the study's substring test, "Now", "Not" or "Nothing" do not count as a no.
    """
    m = _YES_NO.search(text)
    if m is None:
        return None
    return m.group(1).lower() == "yes"


def reference_reflection(text: str) -> bool:
    """The study's reading, kept so the two can be compared: any "No" substring is a no."""
    return "No" not in text
