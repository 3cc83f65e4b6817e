"""Scoring of tool-use predictions by the rules of the STE study (arXiv 2403.04746).

A prediction file maps each gold API to its test items; every item carries the model's raw
``model_output`` next to the gold ``action`` and ``action_input``. Each output is parsed as
one ReAct step exactly as the study's evaluation parsed it, quirks included (they move the
published figures), and then lands in one of three outcomes:

* ``no_call``: a final answer without a call;
* ``err``: the step cannot be parsed or its Action Input is not JSON;
* well-formed: the call is counted as ``api_match`` when its (possibly grounded) action is
  the gold API, and an API-matched call is judged ``args_correct`` by one of three judges:

  - ``stored``: the label the prediction file carries (what the published figures sum);
  - ``string``: the study's string rule, recomputed, for the string-match APIs; the stored
    label for the other APIs, or the string rule too where the file holds no label;
  - ``llm``: the string rule for the string-match APIs and a caller-supplied semantic label
    (an LLM judge, see :func:`items_needing_llm_judge`) for all others.

Totals follow the study: wellformed over all items, api match over well-formed items, correct
over all items, each as ``round(100 * x, 3)``. Everything here is pure and synchronous.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import msgspec

from ..distill.continual import load_batches  # re-exported: score --batches reads it
from ..errors import ScoreInputError

__all__ = (
    "JUDGES",
    "STRING_MATCH_APIS",
    "ItemOutcome",
    "Judge",
    "ParsedCall",
    "ScoreCounts",
    "ScoreInputError",
    "ScoreReport",
    "items_needing_llm_judge",
    "llm_verdict",
    "load_batches",
    "load_predictions",
    "parse_prediction",
    "score",
    "score_batches",
    "string_match",
    "unlabelled_calls",
    "validate_predictions",
)

Judge = Literal["stored", "string", "llm"]
#: The judges, in the order the command line lists them.
JUDGES: tuple[Judge, ...] = ("stored", "string", "llm")

#: The APIs whose arguments the study judged by string match rather than by an LLM.
STRING_MATCH_APIS: frozenset[str] = frozenset({
    "Global Email V4%%Global Email V4",
    "BART%%Advisory information",
    "JAK_API%%Ben 10",
    "colegiosantaana%%Disciplina-1",
    "MikuAPI%%getRandomImage",
    "Handball Data%%Daily Match List-Scheduled",
    "Token API%%generate",
    "Numbers Translator%%Numbers Translator",
    "Password Generator API%%Password of length 50",
    "Places%%Geographic coordinates by placename",
    "pizzaallapala%%Get Producto Promo",
    "Password Generator API%%Base",
    "JAK_API%%Brawl Stars",
    "siteDomain%%language list",
    "Fluximmo%%get_portail_api",
    "NumbersToLetters%%Convertir cantidad a letra Moneda MXN Ingles",
    "thailand%%thai4",
    "colegiosantaana%%Mensajes-1",
    "Soccer Data%%Tournament List",
    "Marvel Vs Capcom 2%%All Characters",
    "JAK_API%%Miraculous",
    "NumbersToLetters%%Convertir cantidad a letra Moneda MXN Español",
    "F1 Latest News%%GET recent F1 news from all sources",
    "get_today_date",
    "Numbers%%Get math fact",
    "forecast_weather",
    "Car database%%Makes",
    "colegiosantaana%%Evaluaciones-1",
    "JAK_API%%Genshin Impact",
    "Football Dolphin%%Head to head statistics",
    "add_date",
})

_FINAL = "Final Answer:"
_INPUT = "Action Input:"
_ACTION = "Action:"
_LITERAL_NEWLINE = "\\n"  # the two characters backslash and n, which models often emit
_REQUIRED_FIELDS = ("model_output", "action", "action_input")


class ParsedCall(msgspec.Struct, frozen=True, kw_only=True):
    """One model output read as a ReAct step: a call, a final answer, or a parse error."""

    kind: Literal["call", "final", "error"]
    action: str | None = None  # after <tool_ stripping and grounding; None if not parsed
    action_input: dict[str, Any] | None = None  # decoded; None unless kind == "call"
    grounded: bool = False  # the action was replaced by its closest API name
    raw_action: str | None = None  # the action as written, before grounding
    error: str | None = None


class ItemOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How one test item scored."""

    api: str
    index: int
    action: str | None
    no_call: bool = False
    err: bool = False
    api_match: bool = False
    args_correct: bool = False
    grounded: bool = False
    judged_by: Judge | None = None  # None unless api_match


class ScoreCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Raw counts over a set of items, with the study's three percentages."""

    total: int = 0
    no_call: int = 0
    err: int = 0
    wellformed: int = 0
    api_match: int = 0
    correct: int = 0
    grounded: int = 0

    # The expressions mirror the study's own, operation order included, so that float
    # rounding lands on the same third decimal; an empty denominator gives 0.0 where the
    # study would have divided by zero.
    @property
    def wellformed_pct(self) -> float:
        """Well-formed items as a percentage of all items."""
        return round(100 * (self.wellformed / self.total), 3) if self.total else 0.0

    @property
    def api_match_pct(self) -> float:
        """API-matched items as a percentage of well-formed items."""
        return round(100 * self.api_match / self.wellformed, 3) if self.wellformed else 0.0

    @property
    def correct_pct(self) -> float:
        """Items with correct arguments as a percentage of all items."""
        return round(100 * self.correct / self.total, 3) if self.total else 0.0


class ScoreReport(msgspec.Struct, frozen=True, kw_only=True):
    """The study's totals (percent) with their counts, per-API counts and item outcomes."""

    judge: Judge
    total: int
    wellformed: float
    api_match: float
    correct: float
    counts: ScoreCounts
    per_api: dict[str, ScoreCounts]
    items: list[ItemOutcome]
    judged_by: dict[str, int]  # how many API-matched items each judge decided


def _trim(text: str) -> str:
    """Strip whitespace, then trailing literal backslash-n pairs, then whitespace again."""
    text = text.strip()
    while text.endswith(_LITERAL_NEWLINE):
        text = text[: -len(_LITERAL_NEWLINE)]
    return text.strip()


def parse_prediction(output: str, api_names: Sequence[str]) -> ParsedCall:
    """Parse one model output the way the study did; ``api_names`` ground unknown actions."""
    text = output.strip()
    if _FINAL in text:
        # Only what precedes the first "Final Answer:" counts; a call there still wins.
        text = text.split(_FINAL, 1)[0].strip()
        if _INPUT not in text:
            return ParsedCall(kind="final")
    inputs = text.count(_INPUT)
    if inputs != 1:
        what = "no" if inputs == 0 else f"{inputs} times"
        return ParsedCall(kind="error", error=f"'{_INPUT}' found {what}; exactly one is needed")
    left, right = (_trim(part) for part in text.split(_INPUT))
    actions = left.count(_ACTION)
    if actions != 1:
        what = "no" if actions == 0 else f"{actions} times"
        return ParsedCall(kind="error", error=f"'{_ACTION}' found {what}; exactly one is needed")
    # Fine-tuned models write toolkens such as "<tool_add_date>"; the study unwrapped them.
    raw = _trim(left.split(_ACTION)[1]).replace("<tool_", "").strip("<>")
    action, grounded = raw, False
    if raw not in api_names:
        # The study snapped every unknown name to its nearest API, however far; only a name
        # sharing no character with any API finds nothing (where the study would crash).
        best = difflib.get_close_matches(raw, api_names, n=1, cutoff=0.001)
        if not best:
            return ParsedCall(kind="error", raw_action=raw,
                              error=f"action {raw!r} resembles no API name")
        action, grounded = best[0], True
    start, end = right.find("{"), right.rfind("}")
    if start == -1 or end == -1 or start >= end:
        # The study's parser rejects this step outright and hands back no action, so none
        # is reported as grounded either (that is how 97 of 750 come out grounded).
        return ParsedCall(kind="error", raw_action=raw,
                          error="the Action Input holds no {...} span")
    # Every brace at either end goes and exactly one of each comes back: a nested object at
    # the end thus loses a closing brace and fails to decode, as in the study.
    body = "{" + right[start : end + 1].strip("{}") + "}"
    try:
        decoded = json.loads(body)  # stdlib json: the study's decoder, NaN and all
    except (ValueError, RecursionError) as exc:
        return ParsedCall(kind="error", action=action, grounded=grounded, raw_action=raw,
                          error=f"the Action Input is not valid JSON: {exc}")
    if not isinstance(decoded, dict):  # unreachable for "{...}" text; kept for the type
        return ParsedCall(kind="error", action=action, grounded=grounded, raw_action=raw,
                          error="the Action Input is not a JSON object")
    return ParsedCall(kind="call", action=action, action_input=decoded, grounded=grounded,
                      raw_action=raw)


def string_match(gold_args: Mapping[str, Any], pred_args: Mapping[str, Any]) -> bool:
    """The study's string rule: every gold key present, values equal as trimmed lower text."""
    return all(
        key in pred_args and str(pred_args[key]).strip().lower() == str(value).strip().lower()
        for key, value in gold_args.items()
    )


def llm_verdict(reply: str) -> bool:
    """Read an LLM judge's reply as the study did: any "No." in it means wrong."""
    return "No." not in reply


def validate_predictions(data: Any, *, source: str = "predictions") -> None:
    """Check the ``{api: [item, ...]}`` layout; raise :class:`ScoreInputError` naming the fault."""
    if not isinstance(data, Mapping):
        raise ScoreInputError(f"{source}: expected a JSON object {{api: [items]}}, "
                              f"got {type(data).__name__}")
    if not data:
        raise ScoreInputError(f"{source}: holds no APIs")
    for api, items in data.items():
        if not isinstance(api, str):
            raise ScoreInputError(f"{source}: API name {api!r} is not a string")
        if not isinstance(items, list):
            raise ScoreInputError(f"{source}: {api!r} should map to a list of items, "
                                  f"got {type(items).__name__}")
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise ScoreInputError(f"{source}: item {index} of {api!r} is not an object")
            for field in _REQUIRED_FIELDS:
                if not isinstance(item.get(field), str):
                    problem = "lacks" if field not in item else "has a non-string"
                    raise ScoreInputError(f"{source}: item {index} of {api!r} {problem} "
                                          f"'{field}'")


def _read_json(path: str | Path, what: str) -> Any:
    """Read a JSON file, turning every way it can fail into a one-line ScoreInputError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScoreInputError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ScoreInputError(f"{what} is a directory, not a file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScoreInputError(f"cannot read {what} {path}: {exc}") from None
    try:
        return json.loads(text)  # keeps key order, which grounding depends on
    except json.JSONDecodeError as exc:
        raise ScoreInputError(f"{what} {path} is not valid JSON (line {exc.lineno}, "
                              f"column {exc.colno}: {exc.msg})") from None


def load_predictions(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Load and check a prediction file; raise :class:`ScoreInputError` with a clear message."""
    data = _read_json(path, "prediction file")
    validate_predictions(data, source=str(path))
    return cast("dict[str, list[dict[str, Any]]]", data)  # the layout was just checked


def _stored_label(item: Mapping[str, Any], api: str, index: int) -> bool | None:
    """The file's ``args_correct`` (0/1, as number, bool or string), or None if absent."""
    value = item.get("args_correct")
    if value is None:
        return None
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return value.strip() == "1"
    if isinstance(value, bool | int | float) and value in (0, 1):
        return bool(value)
    raise ScoreInputError(f"item {index} of {api!r}: 'args_correct' should be 0 or 1, "
                          f"got {value!r}")


def _gold_args(item: Mapping[str, Any], api: str, index: int) -> dict[str, Any]:
    """Decode the gold ``action_input`` of an item."""
    try:
        gold = json.loads(item["action_input"])
    except ValueError as exc:
        raise ScoreInputError(f"item {index} of {api!r}: gold 'action_input' is not JSON: "
                              f"{exc}") from None
    if not isinstance(gold, dict):
        raise ScoreInputError(f"item {index} of {api!r}: gold 'action_input' is not an object")
    return gold


def _select(names: Sequence[str], apis: Collection[str] | None) -> list[str]:
    """The file's APIs restricted to ``apis``, in file order; unknown names are an error."""
    if apis is None:
        return list(names)
    missing = [api for api in apis if api not in names]
    if missing:
        raise ScoreInputError(f"API {missing[0]!r} is not in the prediction file"
                              + (f" (nor are {len(missing) - 1} others)" if len(missing) > 1
                                 else ""))
    wanted = set(apis)
    return [name for name in names if name in wanted]


def unlabelled_calls(data: Mapping[str, list[dict[str, Any]]]) -> int:
    """How many API-matched calls carry no stored ``args_correct`` label: the stored judge
    needs none missing (the study's files have them all; ``infer`` writes none)."""
    validate_predictions(data)
    names = list(data)
    missing = 0
    for api, items in data.items():
        for item in items:
            parsed = parse_prediction(item["model_output"], names)
            if parsed.kind == "call" and parsed.action == api and item.get("args_correct") is None:
                missing += 1
    return missing


def items_needing_llm_judge(
    data: Mapping[str, list[dict[str, Any]]], apis: Collection[str] | None = None
) -> list[tuple[str, int, dict[str, Any], ParsedCall]]:
    """The ``(api, index, item, parsed)`` of every API-matched call an LLM must judge."""
    validate_predictions(data)
    names = list(data)
    needed = []
    for api in _select(names, apis):
        if api in STRING_MATCH_APIS:
            continue
        for index, item in enumerate(data[api]):
            parsed = parse_prediction(item["model_output"], names)
            if parsed.kind == "call" and parsed.action == api:
                needed.append((api, index, item, parsed))
    return needed


def _judge_item(
    api: str, index: int, item: Mapping[str, Any], names: Sequence[str], judge: Judge,
    llm_labels: Mapping[tuple[str, int], bool] | None,
) -> ItemOutcome:
    """Parse one item and decide its outcome under the chosen judge."""
    parsed = parse_prediction(item["model_output"], names)
    if parsed.kind == "final":
        return ItemOutcome(api=api, index=index, action=None, no_call=True)
    if parsed.kind == "error":
        return ItemOutcome(api=api, index=index, action=parsed.action, err=True,
                           grounded=parsed.grounded)
    if parsed.action != api:
        return ItemOutcome(api=api, index=index, action=parsed.action, grounded=parsed.grounded)
    assert parsed.action_input is not None  # a "call" always carries its decoded input
    label: bool | None
    judged_by: Judge
    if judge == "stored":
        label, judged_by = _stored_label(item, api, index), "stored"
        if label is None:
            raise ScoreInputError(
                f"item {index} of {api!r} calls the gold API but has no stored 'args_correct' "
                "label; score this file with --judge string or --judge llm")
    elif api in STRING_MATCH_APIS:
        label = string_match(_gold_args(item, api, index), parsed.action_input)
        judged_by = "string"
    elif judge == "string":
        # Outside the string-match list the study asked an LLM; its stored verdict stands
        # where the file has one, and the string rule is the strict fallback where not.
        label, judged_by = _stored_label(item, api, index), "stored"
        if label is None:
            label = string_match(_gold_args(item, api, index), parsed.action_input)
            judged_by = "string"
    else:
        assert llm_labels is not None
        if (api, index) not in llm_labels:
            raise ScoreInputError(f"no LLM judgement for item {index} of {api!r}; "
                                  "see items_needing_llm_judge()")
        label, judged_by = bool(llm_labels[(api, index)]), "llm"
    return ItemOutcome(api=api, index=index, action=parsed.action, api_match=True,
                       args_correct=label, grounded=parsed.grounded, judged_by=judged_by)


def _count(outcomes: Sequence[ItemOutcome]) -> ScoreCounts:
    """Sum item outcomes into counts; well-formed means neither no_call nor err."""
    return ScoreCounts(
        total=len(outcomes),
        no_call=sum(o.no_call for o in outcomes),
        err=sum(o.err for o in outcomes),
        wellformed=sum(not (o.no_call or o.err) for o in outcomes),
        api_match=sum(o.api_match for o in outcomes),
        correct=sum(o.api_match and o.args_correct for o in outcomes),
        grounded=sum(o.grounded for o in outcomes),
    )


def score(
    data: Mapping[str, list[dict[str, Any]]],
    *,
    judge: Judge,
    llm_labels: Mapping[tuple[str, int], bool] | None = None,
    apis: Collection[str] | None = None,
) -> ScoreReport:
    """Score a prediction file by the study's rules, over all APIs or only ``apis``."""
    if judge not in JUDGES:
        raise ScoreInputError(f"unknown judge {judge!r}; choose one of {', '.join(JUDGES)}")
    if judge == "llm" and llm_labels is None:
        raise ScoreInputError("judge 'llm' needs llm_labels for the items that "
                              "items_needing_llm_judge() lists")
    validate_predictions(data)
    names = list(data)  # grounding targets: the file's own keys, in file order
    outcomes: list[ItemOutcome] = []
    per_api: dict[str, ScoreCounts] = {}
    for api in _select(names, apis):
        mine = [_judge_item(api, index, item, names, judge, llm_labels)
                for index, item in enumerate(data[api])]
        per_api[api] = _count(mine)
        outcomes.extend(mine)
    counts = _count(outcomes)
    judged_by = Counter(o.judged_by for o in outcomes if o.judged_by is not None)
    return ScoreReport(
        judge=judge, total=counts.total, wellformed=counts.wellformed_pct,
        api_match=counts.api_match_pct, correct=counts.correct_pct, counts=counts,
        per_api=per_api, items=outcomes, judged_by=dict(sorted(judged_by.items())),
    )


def score_batches(
    data: Mapping[str, list[dict[str, Any]]],
    batches: Sequence[Sequence[str]],
    *,
    judge: Judge = "stored",
    llm_labels: Mapping[tuple[str, int], bool] | None = None,
) -> list[ScoreReport]:
    """One report per continual-learning batch, each over that batch's APIs only."""
    reports = []
    for number, batch in enumerate(batches):
        try:
            reports.append(score(data, judge=judge, llm_labels=llm_labels, apis=batch))
        except ScoreInputError as exc:
            raise ScoreInputError(f"batch {number}: {exc}") from None
    return reports
