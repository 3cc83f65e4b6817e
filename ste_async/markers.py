"""The phrases that tell one kind of prompt from another, and the readers that undo a prompt.

Two sides depend on these strings. The engine writes its prompts from text templates; the
scripted LLM in ``tool_mocks`` reads a conversation and must decide, from the text alone,
which phase it is in (imagination, acting, reflection, the distillation judge and paraphrase,
the evaluation test prompt and LLM judge). Keeping the phrases here, in a module that imports
nothing from the engine, lets the mock depend on the phrases without depending on the engine,
and gives each template module one name to check its text against: every template module
asserts at import that its text still contains its marker, so a reworded template fails loudly
instead of silently sending the mock down the wrong branch.

The reflection prompt is recognised by its opening question, :data:`REFLECT_MARKER`, rather
than by the whole text of ``ste_async/prompts/reflect.txt``: the template stays the single
source of its wording, this module needs no file access (and so no import of the package that
holds the file), and the phrase occurs in no other template, so "the message opens with the
marker" singles the reflection out as reliably as comparing the whole text did.

The readers at the end (:func:`judge_fields`, :func:`paraphrase_source`) are pure functions of
a rendered prompt; they live beside the markers because they read the layout the markers
belong to, and both the engine's tests and the mock use them.
"""

from __future__ import annotations

import re

__all__ = (
    "CALL_JUDGE_MARKER",
    "DEMO_INTRO",
    "PARAPHRASE_AGAIN_MARKER",
    "PARAPHRASE_MARKER",
    "QUERY_MARKER",
    "REFLECT_MARKER",
    "STUDY_PARAPHRASE_AGAIN_MARKER",
    "STUDY_PARAPHRASE_MARKER",
    "TEST_PROMPT_MARKER",
    "TRIAL_JUDGE_MARKER",
    "judge_fields",
    "paraphrase_source",
)

# ---------------------------------------------------------------- exploration (ste_async.prompts)

#: The line an imagination prompt ends with; the model's reply is the invented user request.
QUERY_MARKER = "User Query:"
#: The opening question of the reflection prompt (``prompts/reflect.txt``), found nowhere else.
REFLECT_MARKER = "Looking back, did you manage to fulfil the user's request?"

# ---------------------------------------------------------------- distillation (distill/prompts)

#: In the judge's review of one explored trial (``judge.txt``) only.
TRIAL_JUDGE_MARKER = "Review the assistant's work on three points"
#: In the first message of a paraphrase conversation (``paraphrase_first.txt``) only.
PARAPHRASE_MARKER = "Your rewording of the request:"
#: In the "once more" follow-up of a paraphrase conversation (``paraphrase_again.txt``) only.
PARAPHRASE_AGAIN_MARKER = "Reword the request once more"

#: The study's own paraphrase wording, sent with ``paraphrase_cleanup = "study"``
#: (``paraphrase_first_study.txt``, ``paraphrase_again_study.txt``).
STUDY_PARAPHRASE_MARKER = "Your paraphrase of the query:"
STUDY_PARAPHRASE_AGAIN_MARKER = "Can you try to paraphrase it again in a new way?"

# ---------------------------------------------------------------- evaluation (test_prompts)

#: A line of the test prompt's format section (``test.txt``).
TEST_PROMPT_MARKER = "User Query: the request you have to serve"
#: The heading of the call under review in the LLM judge's question (``judge.txt``).
CALL_JUDGE_MARKER = "The call to check:"
#: The line that opens the demonstrations of an in-context test prompt (``demos.txt``).
DEMO_INTRO = "Here are a few examples:"


# ---------------------------------------------------------------- readers


def _tagged(text: str, tag: str) -> str | None:
    """The text between a ``[TAG]`` line and its ``[/TAG]`` line, or None when absent."""
    found = re.search(rf"\[{tag}\]\n(.*)\n\[/{tag}\]", text, re.S)
    return found.group(1) if found else None


def judge_fields(prompt: str) -> dict[str, str] | None:
    """The query, call, observation and final answer of a rendered trial-judge prompt.

    None when ``prompt`` is not a judge prompt. A call block that does not have the expected
    three lines is returned whole as the observation, so nothing the prompt showed is lost.
    """
    if TRIAL_JUDGE_MARKER not in prompt:
        return None
    call = _tagged(prompt, "CALL") or ""
    parts = re.search(r"^API name: (.*)\nArguments \(JSON\): (.*?)\nResult: (.*)\Z", call, re.S)
    return {
        "query": _tagged(prompt, "REQUEST") or "",
        "action": parts.group(1) if parts else "",
        "action_input": parts.group(2) if parts else "",
        "observation": parts.group(3) if parts else call,
        "final_ans": _tagged(prompt, "ANSWER") or "",
    }


def paraphrase_source(prompt: str) -> str | None:
    """The query that a first paraphrase message (either wording) asks to reword; None for
    any other text."""
    if PARAPHRASE_MARKER in prompt:
        return _tagged(prompt, "REQUEST")
    found = re.search(rf"The query is:\n\n(.*)\n\n{re.escape(STUDY_PARAPHRASE_MARKER)}\Z",
                      prompt, re.S)
    return found.group(1) if found else None
