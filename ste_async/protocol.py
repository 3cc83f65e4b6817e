"""Where the product departs from the study's code, and the switch that takes each way back.

One :class:`Protocol` says, point by point, whose behaviour a run follows; explore, distill
and export all read it, and every run card records it. ``mode`` names the preset the points
started from (``study`` or ``improved``); a point given on its own overrides the preset.

=====================  ===============================  ====================================
point                  study                            improved (default)
=====================  ===============================  ====================================
``parse``              Action Input rewritten as        Action Input decoded as JSON; text
                       ``"{" + text.strip("{}") + "}"``  that does not decode is answered
                       and sent to the tool undecoded;  with the parser's feedback
                       the step counts as a call
``reflection_reading`` any ``No`` substring is a no,    the first standalone yes/no; neither
                       and that label feeds the memory  is ``pending``
``judge_rule``         rejected when ``No.`` appears    kept when all three numbered
                       anywhere in the judge's reply    verdicts read Yes
``paraphrase_cleanup`` the study's wording, replies     this project's wording, replies
                       kept raw, at least one asked     cleaned and de-duplicated
``replay``             10% of each earlier batch, one   ``ratio x new`` drawn from the
                       sample per batch seeded by its   pooled earlier batches
                       id (numpy's legacy generator)
``descriptions``       the description file's text,     re-rendered from the parsed spec
                       byte for byte
=====================  ===============================  ====================================
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = (
    "CHOICES",
    "IMPROVED",
    "POINTS",
    "STUDY",
    "CleanupRule",
    "DescriptionRule",
    "JudgeRule",
    "ParseRule",
    "Protocol",
    "ProtocolMode",
    "ReflectionRule",
    "ReplayRule",
    "resolve_protocol",
)

ProtocolMode = Literal["study", "improved"]

ParseRule = Literal["study", "json"]
ReflectionRule = Literal["study", "first-word"]
JudgeRule = Literal["study", "all-yes"]
CleanupRule = Literal["study", "clean"]
ReplayRule = Literal["study", "pooled"]
DescriptionRule = Literal["study", "rendered"]


class Protocol(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The resolved choice at every point where the study's code and this product differ."""

    mode: ProtocolMode = "improved"  # the preset the points started from
    parse: ParseRule = "json"
    reflection_reading: ReflectionRule = "first-word"
    judge_rule: JudgeRule = "all-yes"
    paraphrase_cleanup: CleanupRule = "clean"
    replay: ReplayRule = "pooled"
    descriptions: DescriptionRule = "rendered"

    def overrides(self) -> dict[str, str]:
        """The points that differ from the preset of ``mode``."""
        preset = STUDY if self.mode == "study" else IMPROVED
        return {p: getattr(self, p) for p in POINTS if getattr(self, p) != getattr(preset, p)}

    def describe(self) -> str:
        """One line for a terminal or a report: the mode and its overrides."""
        extra = ", ".join(f"{k}={v}" for k, v in self.overrides().items())
        return self.mode + (f" ({extra})" if extra else "")


POINTS = ("parse", "reflection_reading", "judge_rule", "paraphrase_cleanup", "replay",
          "descriptions")
IMPROVED = Protocol()
STUDY = Protocol(mode="study", parse="study", reflection_reading="study", judge_rule="study",
                 paraphrase_cleanup="study", replay="study", descriptions="study")

# the two values of each point, the study's first (the command line's choices)
CHOICES: dict[str, tuple[str, str]] = {
    p: (str(getattr(STUDY, p)), str(getattr(IMPROVED, p))) for p in POINTS}


def resolve_protocol(mode: str | None = None, *, base: Protocol | None = None,
                     **overrides: Any) -> Protocol:
    """The protocol of ``mode``'s preset (or ``base`` when no mode is given), with each
    non-None override applied. An unknown mode or value is a ValueError naming it."""
    if mode is not None:
        if mode not in ("study", "improved"):
            raise ValueError(f"protocol must be 'study' or 'improved', got {mode!r}")
        start = STUDY if mode == "study" else IMPROVED
    else:
        start = base if base is not None else IMPROVED
    changes: dict[str, str] = {}
    for point, value in overrides.items():
        if value is None:
            continue
        point = point.replace("-", "_")
        if point not in CHOICES:
            raise ValueError(f"unknown protocol point {point!r}; one of {', '.join(POINTS)}")
        if value not in CHOICES[point]:
            raise ValueError(f"{point} must be one of {' or '.join(CHOICES[point])}, "
                             f"got {value!r}")
        changes[point] = value
    return msgspec.structs.replace(start, **changes) if changes else start
