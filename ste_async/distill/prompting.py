"""The distillation prompts (text files in ``prompts/``), their renderers and their readers.

Three conversations are written here: the judge's review of one explored trial, and the
paraphrase conversation of one kept query (a first request, then "once more" as often as the
quota says). ``serve`` is the tool-use prompt that the training exports put before the
assistant's reply. The marker strings and the readers that give the parts of a rendered
prompt back (:func:`judge_fields`, :func:`paraphrase_source`) live in :mod:`ste_async.markers`,
shared with the scripted mock LLM; they are re-exported here for the engine's callers.

Judge replies are read twice, as the exploration's reflection is: :func:`read_verdicts`
finds the three numbered verdicts by word boundaries, :func:`reference_keep` keeps the study's
reading (the reply is rejected when it contains the substring ``"No."``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .._text import load_prompt
from ..markers import (
    PARAPHRASE_AGAIN_MARKER,
    PARAPHRASE_MARKER,
    STUDY_PARAPHRASE_AGAIN_MARKER,
    STUDY_PARAPHRASE_MARKER,
    judge_fields,
    paraphrase_source,
)
from ..markers import TRIAL_JUDGE_MARKER as JUDGE_MARKER
from ..parsing import read_reflection

__all__ = (
    "ASPECTS",
    "JUDGE_MARKER",
    "PARAPHRASE_AGAIN",
    "PARAPHRASE_AGAIN_MARKER",
    "PARAPHRASE_MARKER",
    "STUDY_PARAPHRASE_AGAIN",
    "clean_paraphrase",
    "judge_fields",
    "paraphrase_first",
    "paraphrase_first_study",
    "paraphrase_source",
    "read_verdicts",
    "reference_keep",
    "render_judge",
    "render_serve",
)


_HERE = "ste_async.distill"
_JUDGE = load_prompt(_HERE, "prompts", "judge.txt", marker=JUDGE_MARKER)
_PARAPHRASE_FIRST = load_prompt(_HERE, "prompts", "paraphrase_first.txt",
                                marker=PARAPHRASE_MARKER)
PARAPHRASE_AGAIN = load_prompt(_HERE, "prompts", "paraphrase_again.txt",
                               marker=PARAPHRASE_AGAIN_MARKER)
_SERVE = load_prompt(_HERE, "prompts", "serve.txt")
# the study's paraphrase wording, word for word (the ``paraphrase_cleanup = "study"`` rule)
_PARAPHRASE_FIRST_STUDY = load_prompt(_HERE, "prompts", "paraphrase_first_study.txt",
                                      marker=STUDY_PARAPHRASE_MARKER)
STUDY_PARAPHRASE_AGAIN = load_prompt(_HERE, "prompts", "paraphrase_again_study.txt",
                                     marker=STUDY_PARAPHRASE_AGAIN_MARKER)

ASPECTS = ("informative", "faithful", "appropriate")


def render_judge(*, api_descriptions: str, query: str, action: str, action_input: str,
                 observation: str, final_ans: str) -> str:
    """The judge's prompt for one trial: its query, its last call and its final answer."""
    return _JUDGE.format(api_descriptions=api_descriptions, query=query, action=action,
                         action_input=action_input, observation=observation,
                         final_ans=final_ans)


def paraphrase_first(query: str) -> str:
    """The first message of a paraphrase conversation."""
    return _PARAPHRASE_FIRST.format(query=query)


def paraphrase_first_study(query: str) -> str:
    """The first message of a paraphrase conversation in the study's own words."""
    return _PARAPHRASE_FIRST_STUDY.format(query=query)


def render_serve(api_descriptions: str, api_names: Sequence[str], query: str) -> str:
    """The tool-use prompt of a training example (what the tuned model will be shown)."""
    return _SERVE.format(api_descriptions=api_descriptions, api_names=", ".join(api_names),
                         query=query)


# "1) Yes. ...", "2. No, ...", "**3)** yes - ...": a number at the start of a line, then text
_NUMBERED = re.compile(r"^\W*([123])\s*[).:\]-]+\W*(.*)$", re.M)


def read_verdicts(text: str) -> list[bool | None]:
    """The three verdicts of a judge reply, in order; None where a point has no yes/no.

    A point is read from the first line that starts with its number, by the first standalone
    yes or no on that line ("Not" or "Nothing" do not count). A reply without numbered lines
    is read as the first three standalone yes/no words in order.
    """
    verdicts: list[bool | None] = [None, None, None]
    found = False
    for m in _NUMBERED.finditer(text):
        index = int(m.group(1)) - 1
        if verdicts[index] is None:
            verdicts[index] = read_reflection(m.group(2))
            found = True
    if not found:
        words = re.findall(r"\b(yes|no)\b", text, re.IGNORECASE)
        for i, word in enumerate(words[:3]):
            verdicts[i] = word.lower() == "yes"
    return verdicts


def reference_keep(text: str) -> bool:
    """The study's reading of a judge reply: kept unless it contains ``"No."`` anywhere."""
    return "No." not in text


_LEAD = re.compile(r"^(?:paraphrase|rewording|rewritten request|new version|version)\s*\d*\s*:\s*",
                   re.I)


def clean_paraphrase(text: str) -> str:
    """A paraphrase as a query: first paragraph, no label, no wrapping quotes."""
    text = text.strip().split("\n\n")[0].strip()
    text = _LEAD.sub("", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    if text.startswith("“") and text.endswith("”"):
        text = text[1:-1].strip()
    return text
